//! The deterministic simulator: virtual time, event-driven (DESIGN.md §1–3).
//!
//! - [`rng`]: named random streams derived from the seed.
//! - [`link`]: a sender's schedule and a link model as a stream of deliveries.
//! - [`monitor`]: a monitoring node, its links merged, its pauses, buffer and policy.
//!
//! Every monitor is independent of the others, so monitors run on separate threads and
//! their results are gathered in a fixed order: the same experiment and seed give
//! byte-identical results on any number of threads. Detectors never see a clock; each
//! arrival is handed to a [`crate::analysis::DetectorBank`], which derives suspicions
//! exactly from `suspect_at`.

pub mod link;
pub mod monitor;
pub mod rng;

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::analysis::stats::DurationStats;
use crate::detector::Arrival;
use crate::experiment::Experiment;
use crate::fault::Timeline;
use crate::fault::delay::{DelaySampler, EmpiricalError};
use crate::report::summary::{LinkEntry, ResultEntry, SummaryFile, totals};
use crate::time::Nanos;
use link::{LinkStream, Sender};
use monitor::{Clock, IncomingLink, MonitorResult, MonitorSetup};
use rng::stream;

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error(transparent)]
    Empirical(#[from] EmpiricalError),
}

/// How to run.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Overrides the experiment's seed.
    pub seed: Option<u64>,
    /// Resolves relative paths in the experiment (its directory).
    pub base_dir: PathBuf,
    /// Keep every delivered arrival for `--trace`.
    pub record_trace: bool,
    /// Worker threads (monitors run in parallel); 0 = the machine's cores.
    pub threads: usize,
}

/// Everything a run produces.
pub struct SimOutput {
    pub summary: SummaryFile,
    pub delay: DurationStats,
    pub interarrival: DurationStats,
    /// (monitor, target, arrival) in received order, when recorded.
    pub trace: Vec<(String, String, Arrival)>,
    pub deliveries: u64,
}

/// Runs an experiment. `progress` is told how much simulated time each monitor has covered
/// (for a progress bar); it may be called from several threads.
pub fn run(e: &Experiment, options: &RunOptions, progress: &(dyn Fn(Nanos) + Sync)) -> Result<SimOutput, SimError> {
    let seed = options.seed.unwrap_or(e.seed);
    let timeline = Timeline::build(e, seed, &options.base_dir)?;
    let nodes: Vec<_> = (0..e.nodes.len()).map(|i| e.node(i)).collect();
    let all_links = e.monitored_links();
    let monitors: Vec<usize> = {
        let mut m: Vec<usize> = all_links.iter().map(|&(m, _)| m).collect();
        m.dedup();
        m
    };
    // Samplers are built up front, so that a bad empirical trace fails before any work.
    let mut samplers = Vec::with_capacity(all_links.len());
    for &(m, t) in &all_links {
        let link = e.link(t, m);
        samplers.push(DelaySampler::new(&link.delay, link.correlation, &options.base_dir)?);
    }

    let threads = match options.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
    .max(1);
    // Work items: a monitor and a group of its detectors. With fewer monitors than threads,
    // a monitor's detectors are split into groups that run on separate threads; each group
    // regenerates the same arrivals from the same streams, and only the first keeps the
    // link-level outputs (counts, histograms, trace).
    let groups = detector_groups(&e.detectors, (threads / monitors.len().max(1)).max(1));
    let jobs: Vec<(usize, usize)> = monitors.iter().flat_map(|&m| (0..groups.len()).map(move |g| (m, g))).collect();

    let run_monitor = |m: usize, detectors: &[crate::detector::DetectorSpec], primary: bool| -> MonitorResult {
        let node = &nodes[m];
        let faults = &timeline.nodes[m];
        let end = faults.crashes.first().map_or(e.duration, |c| c.from.min(e.duration));
        let setup = MonitorSetup {
            clock: Clock { rate: node.clock_rate },
            pauses: &faults.recv_pauses,
            end,
            policy: e.receive,
            resume_order: e.engine.resume_order,
            buffer: e.engine.recv_buffer,
            record_trace: options.record_trace && primary,
        };
        let incoming = all_links
            .iter()
            .zip(&samplers)
            .filter(|((monitor, _), _)| *monitor == m)
            .map(|(&(_, t), sampler)| {
                let name = format!("link/{}->{}", nodes[t].id, node.id);
                let sender =
                    Sender::new(&nodes[t], &timeline.nodes[t], e.duration, stream(seed, &format!("{name}/sender")));
                let link = e.link(t, m);
                let faults = timeline.link(t, m);
                IncomingLink {
                    target: t,
                    stream: LinkStream::new(
                        sender,
                        &link,
                        sampler.clone(),
                        faults,
                        stream(seed, &format!("{name}/delay")),
                        stream(seed, &format!("{name}/loss")),
                    ),
                    target_crashes: &timeline.nodes[t].crashes,
                    target_pauses: &timeline.nodes[t].send_pauses,
                    cuts: &faults.cuts,
                }
            })
            .collect();
        let silent = |_: Nanos| {};
        monitor::run(setup, incoming, detectors, if primary { progress } else { &silent })
    };

    let results: Vec<Mutex<Option<MonitorResult>>> = jobs.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..threads.min(jobs.len()) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&(m, g)) = jobs.get(i) else { break };
                    let result = run_monitor(m, &groups[g], g == 0);
                    // Cannot fail: a slot is written once, by the thread that took its index.
                    *results[i].lock().expect("result slot") = Some(result);
                }
            });
        }
    });
    // Cannot fail: every index was taken by a worker, which wrote its slot.
    let mut results = results.into_iter().map(|slot| slot.into_inner().expect("result slot").expect("every job ran"));
    let results: Vec<MonitorResult> = monitors
        .iter()
        .map(|_| {
            let mut primary = results.next().expect("one result per job");
            for _ in 1..groups.len() {
                let other = results.next().expect("one result per job");
                for (link, extra) in primary.links.iter_mut().zip(other.links) {
                    link.reports.extend(extra.reports);
                }
            }
            primary
        })
        .collect();

    let mut entries = Vec::new();
    let mut link_entries = Vec::new();
    let mut delay = DurationStats::default();
    let mut interarrival = DurationStats::default();
    let mut traces = Vec::new();
    let mut deliveries = 0;
    for (result, &m) in results.into_iter().zip(&monitors) {
        delay.merge(&result.delay);
        interarrival.merge(&result.interarrival);
        deliveries += result.deliveries;
        traces.push((m, result.trace));
        for link in result.links {
            let (monitor, target) = (nodes[m].id.clone(), nodes[link.target].id.clone());
            link_entries.push(LinkEntry {
                monitor: monitor.clone(),
                target: target.clone(),
                sent: link.counts.sent,
                lost: link.counts.lost,
                cut: link.counts.cut,
                duplicated: link.counts.duplicated,
                delivered: link.delivered,
            });
            for (point, qos) in link.reports {
                entries.push(ResultEntry {
                    detector: point.label,
                    kind: point.kind,
                    threshold: point.threshold,
                    monitor: Some(monitor.clone()),
                    target: target.clone(),
                    qos,
                });
            }
        }
    }
    let trace = if options.record_trace { merge_traces(traces, &nodes) } else { Vec::new() };
    let mut summary = SummaryFile::new(e.name.clone(), Some(seed), "sim", e.duration, entries);
    summary.totals = totals(&summary.results);
    summary.links = link_entries;
    // Cannot fail: the experiment is plain data.
    summary.experiment_config = Some(serde_json::to_value(e).expect("experiment serializes"));
    Ok(SimOutput { summary, delay, interarrival, trace, deliveries })
}

/// Splits detector specs into at most `count` contiguous groups of about equal numbers of
/// configurations (contiguous, so that results keep the specs' order).
fn detector_groups(specs: &[crate::detector::DetectorSpec], count: usize) -> Vec<Vec<crate::detector::DetectorSpec>> {
    let count = count.min(specs.len()).max(1);
    let total: usize = specs.iter().map(|s| s.points().len()).sum();
    let mut groups: Vec<Vec<crate::detector::DetectorSpec>> = vec![Vec::new()];
    let mut filled = 0;
    for (i, spec) in specs.iter().enumerate() {
        let remaining_specs = specs.len() - i;
        let open_groups = count - groups.len();
        let due = filled * count >= total * groups.len();
        if !groups.last().expect("one group").is_empty() && open_groups > 0 && (due || remaining_specs <= open_groups) {
            groups.push(Vec::new());
        }
        filled += spec.points().len();
        groups.last_mut().expect("one group").push(spec.clone());
    }
    groups
}

/// Merges per-monitor traces into one in received order (ties: monitor order), as `replay`
/// requires.
fn merge_traces(
    traces: Vec<(usize, Vec<(usize, Arrival)>)>,
    nodes: &[crate::experiment::Node],
) -> Vec<(String, String, Arrival)> {
    let mut all: Vec<(Nanos, usize, usize, usize, Arrival)> = traces
        .into_iter()
        .flat_map(|(m, rows)| rows.into_iter().enumerate().map(move |(i, (t, a))| (a.at, m, i, t, a)))
        .collect();
    all.sort_by_key(|&(at, m, i, _, _)| (at, m, i));
    all.into_iter().map(|(_, m, _, t, a)| (nodes[m].id.clone(), nodes[t].id.clone(), a)).collect()
}
