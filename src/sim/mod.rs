//! The deterministic simulator: virtual time, event-driven (DESIGN.md §1–3).
//!
//! - [`link`]: a sender's schedule and a link model as a stream of deliveries.
//! - [`merge`]: a monitor's links merged into one stream in arrival order.
//! - [`monitor`]: a monitoring node: its event loop over deliveries, pauses and crashes,
//!   its receive buffer, and a [`crate::analysis::link::LinkAnalysis`] per link.
//!
//! Every monitor is independent of the others, so monitors run on separate threads and
//! their results are gathered in a fixed order: the same experiment and seed give
//! byte-identical results on any number of threads. Detectors never see a clock; each
//! arrival is handed to a [`crate::analysis::DetectorBank`], which derives suspicions
//! exactly from `suspect_at`.

pub mod link;
mod merge;
pub mod monitor;
pub mod shard;
pub mod state;
pub mod workloads;

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender};

pub use crate::analysis::cluster::rules::RuleFactory;
use crate::analysis::cluster::run::{ClusterFacts, Configuration, cluster_views};
use crate::analysis::link::ArrivalStats;
use crate::analysis::output::{FaultTimeline, FaultView, RunOutput};
use crate::analysis::results::{Engine, ResultsBuilder};
use crate::experiment::{Experiment, ValidExperiment};
use crate::fault::Timeline;
use crate::fault::Window;
use crate::fault::delay::{DelaySampler, EmpiricalError};
use crate::fault::rng::stream;
use crate::time::Nanos;
use crate::trace::spill::{SpillWriter, TraceSpill};
use link::{Delivery, LinkStream, Sender};
use monitor::{IncomingLink, MonitorResult, MonitorSetup, SampleWindow, Source};

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error(transparent)]
    Empirical(#[from] EmpiricalError),
    #[error("recording the trace: {0}")]
    Trace(std::io::Error),
    #[error("refusing to run {0} (`--allow-large` runs it anyway)")]
    TooLarge(String),
    #[error("--replications: {0}")]
    Replications(String),
    #[error("--shard: {0}")]
    Shard(String),
}

/// How to run.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Overrides the experiment's seed.
    pub seed: Option<u64>,
    /// Resolves relative paths in the experiment (its directory).
    pub base_dir: PathBuf,
    /// Keep every delivered arrival for `--trace`.
    pub record_trace: bool,
    /// Where the trace is kept while the run goes on (the system's temporary directory if
    /// `None`); `fdlab run` puts it beside the output directory.
    pub scratch_dir: Option<PathBuf>,
    /// Worker threads (monitors run in parallel); 0 = the machine's cores.
    pub threads: usize,
    /// Run even what [`crate::experiment::Estimate::fits`] says does not fit.
    pub allow_large: bool,
    /// Leader rules of the user's own, evaluated after the built-in ones of `[cluster]`
    /// (not with `--shard`: a shard cannot store them).
    pub extra_rules: Vec<RuleFactory>,
    /// The mistakes per day that choose the setting per detector spec the timeline shows
    /// (`crate::analysis::sampling::chosen_labels`; default one a day).
    pub timeline_target_per_day: Option<f64>,
    /// Independent replications, seeded from the experiment's seed ([`crate::analysis::replications::seed_of`]);
    /// 0 is read as 1.
    pub replications: u32,
}

/// At most this many faults get a sampled timeline.
const MAX_FAULT_VIEWS: usize = 6;
/// Samples per timeline.
pub const SAMPLES_PER_VIEW: u64 = 600;

/// Chooses the faults to chart and the link and window of each (also for live runs).
pub fn fault_views(
    e: &Experiment,
    timeline: &Timeline,
    links: &[(usize, usize)],
) -> Vec<(FaultView, (usize, usize), Window)> {
    let ids = |i: usize| e.nodes[i].id.clone();
    // (kind, node, link, window, crash without recovery)
    type Candidate = (String, Option<usize>, (usize, usize), Window, bool);
    let mut candidates: Vec<Candidate> = Vec::new();
    for (n, f) in timeline.nodes.iter().enumerate() {
        let watched = links.iter().find(|l| l.1 == n).copied();
        let watching = links.iter().find(|l| l.0 == n).copied();
        if let Some(link) = watched {
            for c in &f.crashes {
                candidates.push((
                    "crash".into(),
                    Some(n),
                    link,
                    Window { from: c.from, to: c.to.unwrap_or(c.from) },
                    c.to.is_none(),
                ));
            }
            for w in &f.send_pauses {
                candidates.push(("pause".into(), Some(n), link, *w, false));
            }
            for (w, _) in &f.arbitrary {
                candidates.push(("arbitrary".into(), Some(n), link, *w, false));
            }
        }
        if let Some(link) = watching {
            for w in f.recv_pauses.iter().filter(|w| !f.send_pauses.contains(w)) {
                candidates.push(("monitor pause".into(), Some(n), link, *w, false));
            }
        }
    }
    for &(m, t) in links {
        // A delay change has no end: viewed from before it to 300 heartbeats after (Chen's
        // window of 1000 takes that long to follow a step), like a crash-stop.
        let span = Nanos(e.node(t).interval.0.saturating_mul(300));
        for (at, _) in &timeline.link(t, m).delay_changes {
            candidates.push((
                "delay change".into(),
                None,
                (m, t),
                Window { from: *at, to: at.saturating_add(span) },
                true,
            ));
        }
        for w in &timeline.link(t, m).cuts {
            if !candidates.iter().any(|c| c.0 == "partition" && c.3 == *w) {
                candidates.push(("partition".into(), None, (m, t), *w, false));
            }
        }
    }
    candidates.sort_by_key(|c| (c.3.from, c.2));
    candidates
        .into_iter()
        .take(MAX_FAULT_VIEWS)
        .enumerate()
        .map(|(id, (kind, node, link, w, forever))| {
            let length = w.to.saturating_sub(w.from);
            let pad =
                Nanos::from_secs(2).max(Nanos(length.0 / 2)).max(Nanos(e.node(link.1).interval.0.saturating_mul(20)));
            let view = Window {
                from: w.from.saturating_sub(pad),
                to: if forever { w.from.saturating_add(pad).saturating_add(pad) } else { w.to.saturating_add(pad) }
                    .min(e.duration),
            };
            let fv = FaultView {
                id,
                kind,
                node: node.map(ids),
                monitor: ids(link.0),
                target: ids(link.1),
                from_s: w.from.as_secs_f64(),
                to_s: (!forever).then(|| w.to.as_secs_f64()),
                view_from_s: view.from.as_secs_f64(),
                view_to_s: view.to.as_secs_f64(),
            };
            (fv, link, view)
        })
        .collect()
}

/// What [`run`] takes for `replications` replications (at least 1) of `e`: every
/// configuration in each (see [`crate::experiment::Estimate::runs`]).
pub fn estimate(e: &ValidExperiment, replications: u32) -> crate::experiment::Estimate {
    let (count, estimate) = (replications.max(1), e.estimate());
    estimate.runs(count, estimate.configurations as u128 * count as u128)
}

/// Runs an experiment: its replications (`options.replications`, one by default) one after
/// the other, each on every thread, assembled as [`assemble`] does for merged shards.
/// `progress` is told how much simulated time each monitor has covered (for a progress bar);
/// it may be called from several threads.
pub fn run(
    e: &ValidExperiment,
    options: &RunOptions,
    progress: &(dyn Fn(Nanos) + Sync),
) -> Result<RunOutput, SimError> {
    if !options.allow_large {
        estimate(e, options.replications).fits().map_err(SimError::TooLarge)?;
    }
    let count = options.replications.max(1);
    crate::analysis::replications::check(e, count).map_err(SimError::Replications)?;
    let seed = options.seed.unwrap_or(e.seed);
    let mut reps = Vec::with_capacity(count as usize);
    for r in 0..count {
        let options = RunOptions { record_trace: options.record_trace && r == 0, ..options.clone() };
        reps.push(run_replication(
            e,
            &options,
            crate::analysis::replications::seed_of(seed, r),
            &e.detectors,
            progress,
        )?);
    }
    let facts = RunFacts {
        timeline_target_per_day: options
            .timeline_target_per_day
            .unwrap_or(crate::analysis::sampling::DEFAULT_TARGET_PER_DAY),
        ..RunFacts::of(e, seed)
    };
    let specs: Vec<Vec<crate::detector::DetectorSpec>> = e.detectors.iter().map(|s| vec![s.clone()]).collect();
    let mut output = assemble(&facts, reps, &specs);
    // The message workloads and the two generals run on streams of their own, under the
    // experiment's seed (one replication; with `--shard`, shard 0 runs them).
    for (report, latency) in workloads::run_all(e, seed, &options.base_dir)? {
        output.workload_latency.push((report.name.clone(), latency));
        output.summary.workloads.push(report);
    }
    output.summary.two_generals = e.two_generals.as_ref().map(|g| crate::workload::generals::simulate(g, seed));
    if options.record_trace && output.trace.is_none() {
        output.trace = Some(TraceSpill::new(e.nodes.iter().map(|n| n.id.clone()).collect(), Vec::new()));
    }
    Ok(output)
}

/// What assembling a run's output needs of its experiment (a merge reads it from the shards).
#[derive(Clone, Debug, PartialEq)]
pub struct RunFacts {
    pub name: String,
    /// The experiment's seed (replication 0's).
    pub seed: u64,
    pub duration: Nanos,
    /// Node ids, by index.
    pub nodes: Vec<String>,
    /// The experiment as run, for `summary.json`.
    pub experiment_config: serde_json::Value,
    /// The mistakes per day that choose the setting per spec the timeline shows.
    pub timeline_target_per_day: f64,
}

impl RunFacts {
    pub fn of(e: &ValidExperiment, seed: u64) -> RunFacts {
        RunFacts {
            name: e.name.clone(),
            seed,
            duration: e.duration,
            nodes: e.nodes.iter().map(|n| n.id.clone()).collect(),
            // Cannot fail: the experiment is plain data.
            experiment_config: serde_json::to_value(&**e).expect("experiment serializes"),
            timeline_target_per_day: crate::analysis::sampling::DEFAULT_TARGET_PER_DAY,
        }
    }
}

/// One replication (or one share of it: some of its detector specs) as the simulator
/// produced it, before assembly: per monitor, in monitor order, its links' reports (spec
/// order), arrival statistics, sampled levels and window arrivals; the cluster figures of
/// its specs; the faults chosen for the timeline.
pub struct Replication {
    pub seed: u64,
    /// (monitor node index, its result)
    pub monitors: Vec<(usize, MonitorResult)>,
    pub cluster: Vec<crate::analysis::cluster::ClusterEntry>,
    /// Every node's belief around the longest split-brain episode of its specs.
    pub leaders: Option<crate::analysis::cluster::timeline::LeaderTimeline>,
    pub faults: Vec<FaultView>,
}

/// Simulates one replication under `seed` with the detector specs `specs` (all of the
/// experiment's, or a shard's share).
pub fn run_replication(
    e: &ValidExperiment,
    options: &RunOptions,
    seed: u64,
    specs: &[crate::detector::DetectorSpec],
    progress: &(dyn Fn(Nanos) + Sync),
) -> Result<Replication, SimError> {
    let all_links = e.monitored_links();
    let timeline = Timeline::build(e.faults(), e.nodes.len(), e.duration, &all_links, seed, &options.base_dir)?;
    let nodes: Vec<_> = (0..e.nodes.len()).map(|i| e.node(i)).collect();
    let monitors: Vec<usize> = {
        let mut m: Vec<usize> = all_links.iter().map(|&(m, _)| m).collect();
        m.dedup();
        m
    };
    // Samplers are built up front, so that a bad empirical trace fails before any work.
    let mut samplers = Vec::with_capacity(all_links.len());
    for &(m, t) in &all_links {
        let link = e.link(t, m);
        let changes = timeline
            .link(t, m)
            .delay_changes
            .iter()
            .map(|(at, model)| Ok((*at, DelaySampler::new(model, link.correlation, &options.base_dir)?)))
            .collect::<Result<Vec<_>, EmpiricalError>>()?;
        samplers.push((DelaySampler::new(&link.delay, link.correlation, &options.base_dir)?, changes));
    }

    let threads = match options.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
    .max(1);
    // Work items: a monitor and a group of its detectors. With fewer monitors than threads,
    // a monitor's detectors are split into groups that run on separate threads at once
    // (jobs ≤ threads); the first group generates the arrivals and hands them to the others
    // a chunk at a time (`Source`), and only the first keeps the link-level outputs (counts,
    // histograms, trace).
    // (Mutation testing, equivalent: `*` or `%` for `/` here changes only how the work is
    // split among threads, and results are the same on any number of threads.)
    let groups = detector_groups(specs, (threads / monitors.len().max(1)).max(1));
    let jobs: Vec<(usize, usize)> = monitors.iter().flat_map(|&m| (0..groups.len()).map(move |g| (m, g))).collect();
    // Per monitored link: the channels its chunks go through to the later groups (8 chunks
    // of slack each: 5 KB to 80 KB a chunk, `monitor::chunk`); the first group takes the
    // sending ends, each later group its receiving end.
    let mut copies: Vec<Mutex<Vec<SyncSender<Vec<Delivery>>>>> = Vec::new();
    type Batches = Receiver<Vec<Delivery>>;
    let mut shared: Vec<Vec<Mutex<Option<Batches>>>> = Vec::new();
    for _ in &all_links {
        let (senders, receivers): (Vec<_>, Vec<_>) =
            (1..groups.len()).map(|_| std::sync::mpsc::sync_channel(8)).map(|(s, r)| (s, Mutex::new(Some(r)))).unzip();
        copies.push(Mutex::new(senders));
        shared.push(receivers);
    }

    let views = fault_views(e, &timeline, &all_links);
    // The timeline's detectors are chosen from the whole experiment's, so that a shard
    // samples what the whole run samples.
    let sampled_labels = crate::analysis::sampling::sampled_labels(&e.detectors);
    let writers: Vec<Mutex<Option<SpillWriter>>> = (0..nodes.len())
        .map(|m| {
            if options.record_trace && monitors.contains(&m) {
                SpillWriter::new(options.scratch_dir.as_deref()).map(Some)
            } else {
                Ok(None)
            }
        })
        .map(|w| w.map(Mutex::new))
        .collect::<Result<_, _>>()
        .map_err(SimError::Trace)?;

    let reads_heartbeats =
        e.cluster.as_ref().is_some_and(|c| c.rules().contains(&crate::experiment::LeaderRule::Lease))
            || options.extra_rules.iter().map(|f| (f.0)(nodes.len())).any(|r| r.reads_heartbeats() || r.reads_heard());
    let run_monitor = |m: usize, group: usize| -> MonitorResult {
        let (detectors, primary) = (&groups[group][..], group == 0);
        let incoming_targets: Vec<usize> = all_links.iter().filter(|l| l.0 == m).map(|l| l.1).collect();
        let chunk = monitor::chunk(incoming_targets.len());
        let samples = views
            .iter()
            .filter(|(_, link, _)| link.0 == m)
            .map(|(fv, link, view)| SampleWindow {
                id: fv.id,
                // Cannot fail: the view's link is one of this monitor's links.
                link: incoming_targets.iter().position(|&t| t == link.1).expect("monitored link"),
                from: view.from,
                to: view.to,
                step: Nanos((view.to - view.from).0 / SAMPLES_PER_VIEW),
                monitor: fv.monitor.clone(),
                target: fv.target.clone(),
            })
            .collect();
        let node = &nodes[m];
        let faults = &timeline.nodes[m];
        // Observation ends at the monitor's crash-stop. Its links are generated up to then
        // only: what is sent later cannot arrive earlier, so no result changes, and the
        // link counts are those of the observed time. Crashes with a recovery restart it.
        let end = faults.crashes.iter().find(|c| c.to.is_none()).map_or(e.duration, |c| c.from.min(e.duration));
        let crashes = faults
            .crashes
            .iter()
            .filter_map(|c| Some(Window { from: c.from, to: c.to? }))
            // (Mutation testing, equivalent: `<=`. Every crash starts before the run's end,
            // and a node's crashes never overlap (validation), so none with a recovery starts
            // at or after the monitor's crash-stop: this filter keeps all.)
            .filter(|w| w.from < end)
            .collect();
        let setup = MonitorSetup {
            clock: node.clock,
            pauses: &faults.recv_pauses,
            crashes,
            end,
            policy: e.receive,
            resume_order: e.engine.resume_order,
            buffer: e.engine.recv_buffer,
            // Cannot fail: each monitor's writer is taken once, by its primary job.
            trace: if primary { writers[m].lock().expect("trace writer").take() } else { None },
            arrival_order: options.record_trace,
            samples,
            sampled_labels: &sampled_labels,
            record_suspicions: e.cluster.is_some(),
            // (Mutation testing, equivalent: `||`. The other groups' heartbeats would be
            // kept and dropped: only the first group's links reach the cluster facts.)
            record_heartbeats: primary && reads_heartbeats,
            link_stats: primary,
        };
        let incoming = all_links
            .iter()
            .zip(&samplers)
            .zip(copies.iter().zip(&shared))
            .filter(|(((monitor, _), _), _)| *monitor == m)
            .map(|((&(_, t), (sampler, changes)), (copies, shared))| {
                if !primary {
                    // Cannot fail: each receiving end is taken once, by its group's job.
                    let batches = shared[group - 1].lock().expect("channel").take().expect("one job per group");
                    return IncomingLink {
                        target: t,
                        interval: nodes[t].interval,
                        stream: Source::Shared(batches),
                        target_crashes: &timeline.nodes[t].crashes,
                        target_pauses: &timeline.nodes[t].send_pauses,
                        cuts: &timeline.link(t, m).cuts,
                    };
                }
                let copies = std::mem::take(&mut *copies.lock().expect("channel"));
                let name = format!("link/{}->{}", nodes[t].id, node.id);
                let sender = Sender::new(
                    &nodes[t],
                    &timeline.nodes[t],
                    end,
                    stream(seed, &format!("{name}/sender")),
                    stream(seed, &format!("{name}/arbitrary")),
                );
                let link = e.link(t, m);
                let faults = timeline.link(t, m);
                IncomingLink {
                    target: t,
                    interval: nodes[t].interval,
                    stream: Source::Own {
                        stream: Box::new(LinkStream::new(
                            sender,
                            &link,
                            sampler.clone(),
                            changes.clone(),
                            faults,
                            stream(seed, &format!("{name}/delay")),
                            stream(seed, &format!("{name}/loss")),
                        )),
                        copies,
                        chunk,
                    },
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
                    let result = run_monitor(m, g);
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
                    link.outcome.reports.extend(extra.outcome.reports);
                }
                primary.levels.extend(other.levels);
            }
            primary
        })
        .collect();

    let mut results: Vec<(usize, MonitorResult)> = monitors.into_iter().zip(results).collect();
    for (_, result) in &mut results {
        let trace = std::mem::replace(&mut result.trace, Ok(None));
        result.trace = Ok(trace.map_err(SimError::Trace)?);
    }
    let (cluster, leaders) = match &e.cluster {
        Some(settings) => {
            let (facts, configurations) = cluster_facts(e, &timeline, &mut results);
            cluster_views(&facts, settings, specs, &options.extra_rules, configurations, threads)
        }
        None => (Vec::new(), None),
    };
    let faults = views.into_iter().map(|(fv, _, _)| fv).collect();
    Ok(Replication { seed, monitors: results, cluster, leaders, faults })
}

/// A run's output from its replications, each whole (a merge has put its shares together):
/// with one, its results as they are; with more, every figure pooled over the replications
/// (integer accumulators added, rates and intervals computed from the sums) with its spread
/// across them ([`crate::analysis::replications`]). The timeline is replication 0's.
/// `specs`: the experiment's detector specs, each as one spec or as its points one by one.
pub fn assemble(facts: &RunFacts, reps: Vec<Replication>, specs: &[Vec<crate::detector::DetectorSpec>]) -> RunOutput {
    let mut summaries = Vec::with_capacity(reps.len());
    let mut stats = ArrivalStats::default();
    let mut trace_parts = Vec::new();
    let mut timeline = None;
    let mut leaders = None;
    let mut seeds = Vec::new();
    for (r, rep) in reps.into_iter().enumerate() {
        seeds.push(rep.seed);
        let mut builder = ResultsBuilder::default();
        let mut levels = Vec::new();
        let mut arrivals = Vec::new();
        for (m, result) in rep.monitors {
            levels.extend(result.levels);
            arrivals.extend(result.window_arrivals);
            stats.add(&result.stats);
            if let Ok(Some(file)) = result.trace {
                trace_parts.push((m, file));
            }
            for link in result.links {
                builder.add_link(Some(&facts.nodes[m]), &facts.nodes[link.target], link.outcome);
            }
        }
        let mut summary = builder.finish(facts.name.clone(), Some(facts.seed), Engine::Sim, facts.duration);
        summary.cluster = rep.cluster;
        summary.experiment_config = Some(facts.experiment_config.clone());
        summaries.push(summary);
        if r == 0 {
            // A fixed order, whatever thread produced what.
            levels.sort_by_key(|l| (l.fault, l.at));
            arrivals.sort();
            timeline = Some(FaultTimeline { faults: rep.faults, levels, arrivals });
            leaders = rep.leaders;
        }
    }
    let summary = crate::analysis::replications::pool(summaries, seeds);
    // The timeline shows the setting chosen per spec, known only from the whole run's totals.
    if let Some(t) = &mut timeline {
        let sampled = crate::analysis::sampling::sampled_labels(specs);
        let shown =
            crate::analysis::sampling::chosen_labels(specs, &summary.totals, facts.timeline_target_per_day, &sampled);
        t.levels.retain(|l| shown.contains(&l.detector));
    }
    let trace = (!trace_parts.is_empty()).then(|| TraceSpill::new(facts.nodes.clone(), trace_parts));
    RunOutput {
        summary,
        delay: Some(stats.delay.to_histogram()),
        interarrival: Some(stats.interarrival.to_histogram()),
        trace,
        deliveries: stats.deliveries,
        timeline,
        leaders,
        workload_latency: Vec::new(),
    }
}

/// The cluster facts of a simulated replication (nodes, clocks and ground truth from the
/// fault timeline; what the monitors heard), and each detector configuration's suspicion
/// intervals, taken from the monitors' results (where they are dropped).
fn cluster_facts(
    e: &Experiment,
    timeline: &Timeline,
    results: &mut [(usize, MonitorResult)],
) -> (ClusterFacts, Vec<Configuration>) {
    let mut facts = ClusterFacts {
        ids: e.nodes.iter().map(|n| n.id.clone()).collect(),
        clocks: (0..e.nodes.len()).map(|i| e.node(i).clock).collect(),
        crashed: timeline
            .nodes
            .iter()
            .map(|f| f.crashes.iter().map(|c| (c.from, c.to.unwrap_or(e.duration))).collect())
            .collect(),
        // A whole-node pause stops both sending and receiving: the windows in both lists.
        paused: timeline
            .nodes
            .iter()
            .map(|f| f.send_pauses.iter().filter(|w| f.recv_pauses.contains(w)).map(|w| (w.from, w.to)).collect())
            .collect(),
        stalled: timeline.nodes.iter().map(|f| f.recv_pauses.iter().map(|w| (w.from, w.to)).collect()).collect(),
        fault_starts: timeline.starts(),
        end: e.duration,
        ..ClusterFacts::default()
    };
    let mut configurations: Vec<Configuration> = Vec::new();
    for (m, result) in results.iter_mut() {
        let m = *m;
        for link in &mut result.links {
            facts.first_heard.insert((m, link.target), std::mem::take(&mut link.first_heard));
            facts.heard.insert(link.target, m, std::mem::take(&mut link.heard));
            for (point, qos) in &mut link.outcome.reports {
                let suspicions = std::mem::take(&mut qos.suspicions);
                match configurations.iter_mut().find(|c| c.detector == point.label) {
                    Some(c) => {
                        c.suspicions.insert((m, link.target), suspicions);
                    }
                    None => configurations.push(Configuration {
                        detector: point.label.clone(),
                        kind: point.kind.clone(),
                        knob: point.knob.clone(),
                        threshold: point.threshold,
                        suspicions: std::collections::BTreeMap::from([((m, link.target), suspicions)]),
                    }),
                }
            }
        }
    }
    (facts, configurations)
}

/// What generating a link's arrivals and handing them to the other groups costs, in
/// quarters of a φ configuration's cost (measured on `experiments/bench/year.toml`:
/// drawing a link's delays, losses and jitter took about 1.2 times what one φ
/// configuration took per heartbeat, and copying each chunk for the other groups adds to
/// it; with 5, perf showed the generating thread of the year's 2 busy 57 % of the time).
const GENERATION_QUARTERS: usize = 6;

/// Splits detector specs into at most `count` contiguous groups (contiguous, so that results
/// keep the specs' order) of about equal cost: each configuration costs its kind's declared
/// cost (`KindInfo::cost`), and the first group, which also generates the arrivals the
/// others read, carries that too. A group ends where taking the next spec would overshoot
/// its share by more than stopping falls short of it.
fn detector_groups(specs: &[crate::detector::DetectorSpec], count: usize) -> Vec<Vec<crate::detector::DetectorSpec>> {
    let count = count.min(specs.len()).max(1);
    let weight = |s: &crate::detector::DetectorSpec| s.cost() * s.points().len();
    // (Mutation testing: `count >= 1` here is equivalent: `count` is at least 1, and a single
    // group holds every spec whatever it carries.)
    let generation = if count > 1 { GENERATION_QUARTERS } else { 0 };
    let total: usize = generation + specs.iter().map(weight).sum::<usize>();
    let mut groups: Vec<Vec<crate::detector::DetectorSpec>> = vec![Vec::new()];
    let mut filled = generation;
    for (i, spec) in specs.iter().enumerate() {
        let remaining_specs = specs.len() - i;
        let open_groups = count - groups.len();
        // The current group's share ends at total·groups/count; compared times `count`.
        let (end, at, next) = (total * groups.len(), filled * count, (filled + weight(spec)) * count);
        // (Mutation testing, equivalent: `next >= end`, since at `next == end` the overshoot
        // is 0 and cannot exceed the shortfall `end − at` > 0; `open_groups >= 0`, since the
        // last group is never full (`filled` stays below `total` while a spec is left, so
        // `at < end` and `next <= end`) and `remaining_specs` is at least 1.)
        let full = at >= end || (next > end && next - end > end - at);
        if !groups.last().expect("one group").is_empty() && open_groups > 0 && (full || remaining_specs <= open_groups)
        {
            groups.push(Vec::new());
        }
        filled += weight(spec);
        groups.last_mut().expect("one group").push(spec.clone());
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detector::DetectorSpec;
    use std::collections::BTreeSet;

    fn sizes(specs: &[&str], count: usize) -> Vec<usize> {
        let specs: Vec<DetectorSpec> = specs.iter().map(|s| DetectorSpec::parse(s).unwrap()).collect();
        let groups = detector_groups(&specs, count);
        // Contiguous, in order, every spec once.
        assert_eq!(format!("{:?}", groups.concat()), format!("{specs:?}"));
        groups.iter().map(Vec::len).collect()
    }

    /// Shares in quarters of a φ configuration: generation 6 in the first group, φ 4, a
    /// fixed timeout 1, phi-exp 5, Chen 4 (the kinds' declared costs). The year's four on
    /// two threads: total 20, a share of 10; the first group holds generation and φ (10):
    /// full. On three: shares end at 6⅔, 13⅓ and 20: the first is full with φ (10); the
    /// second takes the timeout (11), and phi-exp would make it 16, 2⅔ over against 2⅓
    /// short: the last two go to the third. On one thread, no generation is handed over:
    /// one group.
    #[test]
    fn the_group_that_generates_the_arrivals_takes_fewer_detectors() {
        let year = ["phi", "fixed:timeout=500ms", "phi-exp", "chen:alpha=300ms"];
        assert_eq!(sizes(&year, 1), [4]);
        assert_eq!(sizes(&year, 2), [1, 3]);
        assert_eq!(sizes(&year, 3), [1, 1, 2]);
        assert_eq!(sizes(&year, 4), [1, 1, 1, 1]);
        assert_eq!(sizes(&year, 9), [1, 1, 1, 1], "never more groups than specs");
        // Two specs: the first group holds generation and φ (10 of 11); the last spec
        // needs a group of its own.
        assert_eq!(sizes(&year[..2], 2), [1, 1]);
        // A sweep of 3 points weighs 3 configurations (12 for φ): with it first, the first
        // group is full at once (18 of 23 ≥ 11.5), and the last two fall to the second.
        assert_eq!(sizes(&["phi:threshold=1..3..1", "fixed:timeout=1s", "chen"], 2), [1, 2]);
        // Eight timeouts on two threads: 14 in all, a share of 7; generation and one
        // timeout fill the first.
        let eight = ["fixed:timeout=1s"; 8];
        assert_eq!(sizes(&eight, 2), [1, 7]);
        // Eight φ on two threads: 38, a share of 19; the first stops at three (18; a
        // fourth would make 22, 3 over against 1 short).
        assert_eq!(sizes(&["phi"; 8], 2), [3, 5]);
    }

    type Views = Vec<(FaultView, (usize, usize), Window)>;

    /// An experiment's monitored links and the fault views chosen for them.
    fn views_of(text: &str) -> (Vec<(usize, usize)>, Views) {
        let e = crate::experiment::Experiment::from_toml(std::path::Path::new("t.toml"), text).expect("valid");
        let links = e.monitored_links();
        let timeline =
            Timeline::build(e.faults(), e.nodes.len(), e.duration, &links, e.seed, std::path::Path::new(".")).unwrap();
        let views = fault_views(&e, &timeline, &links);
        (links, views)
    }

    /// The faults charted: of seven candidates the first six by start (then link), each
    /// viewed from `pad` before to `pad` after, `pad` the largest of 2 s, half the fault's
    /// length and 20 of the target's intervals; a fault without an end (a crash-stop, a
    /// delay change) from `pad` before to `2·pad` after; never past the run's end. A pause
    /// of a node that is only a monitor, where it cannot miss a heartbeat it sends to
    /// nobody, has no view; a partition that cuts two monitored links, one.
    #[test]
    fn fault_views_take_the_first_six_faults_each_with_its_margin() {
        let text = r#"
            name = "views"
            seed = 1
            duration = "400s"
            detectors = ["fixed:timeout=1s"]
            [defaults]
            interval = "50ms"
            [[nodes]]
            id = "a"
            [[nodes]]
            id = "b"
            [[nodes]]
            id = "c"
            interval = "1s"
            [monitoring]
            mode = "pairs"
            pairs = [["b", "a"], ["a", "c"]]
            [[faults]]
            kind = "crash"
            node = "a"
            at = "240s"
            [[faults]]
            kind = "pause"
            node = "a"
            what = "sender"
            at = "10s"
            duration = "1s"
            [[faults]]
            kind = "pause"
            node = "a"
            what = "monitor"
            at = "50s"
            duration = "60s"
            [[faults]]
            kind = "crash"
            node = "c"
            at = "100s"
            down = "30s"
            [[faults]]
            kind = "pause"
            node = "b"
            what = "node"
            at = "200s"
            duration = "4s"
            [[faults]]
            kind = "partition"
            at = "150s"
            duration = "4s"
            groups = [["a"], ["b", "c"]]
            [[faults]]
            kind = "delay-change"
            at = "250s"
            delay = { dist = "constant", value = "5ms" }
        "#;
        let (links, views) = views_of(text);
        assert_eq!(links, [(0, 2), (1, 0)]);
        type Row<'a> = (usize, &'a str, Option<&'a str>, (usize, usize), f64, Option<f64>, f64, f64);
        fn row((fv, link, view): &(FaultView, (usize, usize), Window)) -> Row<'_> {
            assert_eq!((fv.view_from_s, fv.view_to_s), (view.from.as_secs_f64(), view.to.as_secs_f64()));
            assert_eq!((fv.monitor.as_str(), fv.target.as_str()), (["a", "b", "c"][link.0], ["a", "b", "c"][link.1]));
            (fv.id, fv.kind.as_str(), fv.node.as_deref(), *link, fv.from_s, fv.to_s, fv.view_from_s, fv.view_to_s)
        }
        let got: Vec<_> = views.iter().map(row).collect();
        assert_eq!(
            got,
            [
                // 1 s long, a's interval 50 ms: pad 2 s.
                (0, "pause", Some("a"), (1, 0), 10.0, Some(11.0), 8.0, 13.0),
                // 60 s long: pad 30 s (more than c's 20 intervals, 20 s).
                (1, "monitor pause", Some("a"), (0, 2), 50.0, Some(110.0), 20.0, 140.0),
                // 30 s: pad 20 s, c's 20 intervals.
                (2, "crash", Some("c"), (0, 2), 100.0, Some(130.0), 80.0, 150.0),
                // Cuts c → a and a → b: viewed once, on the first link.
                (3, "partition", None, (0, 2), 150.0, Some(154.0), 130.0, 174.0),
                // A crash-stop: pad 2 s, viewed to 2 pads after.
                (4, "crash", Some("a"), (1, 0), 240.0, None, 238.0, 244.0),
                // A delay change on c → a spans 300 of c's intervals (300 s): pad 150 s, to
                // 550 s, cut at the run's end. Its twin on a → b (the 7th) is not charted.
                (5, "delay change", None, (0, 2), 250.0, None, 100.0, 400.0),
            ]
        );
        // Two partitions of one link are two views, and a partition is not taken for a
        // pause with the same window.
        let text = r#"
            name = "partitions"
            seed = 1
            duration = "60s"
            detectors = ["fixed:timeout=1s"]
            [[nodes]]
            id = "a"
            [[nodes]]
            id = "b"
            [monitoring]
            mode = "pairs"
            pairs = [["b", "a"]]
            [[faults]]
            kind = "pause"
            node = "a"
            what = "sender"
            at = "10s"
            duration = "2s"
            [[faults]]
            kind = "partition"
            at = "10s"
            duration = "2s"
            from = ["a"]
            to = ["b"]
            [[faults]]
            kind = "partition"
            at = "20s"
            duration = "2s"
            from = ["a"]
            to = ["b"]
        "#;
        let (_, views) = views_of(text);
        let kinds: Vec<(&str, f64)> = views.iter().map(|(fv, _, _)| (fv.kind.as_str(), fv.from_s)).collect();
        assert_eq!(kinds, [("pause", 10.0), ("partition", 10.0), ("partition", 20.0)]);
    }

    /// With replications, the trace is the first one's (as the timeline is), not all of them
    /// run together; the timeline shows per spec the setting chosen for the target the
    /// options give. Heartbeats every 100 ms with 10 % loss: a lost one makes a 200 ms gap,
    /// which the 110 ms and 160 ms timeouts take for a crash (hundreds of mistakes in 10
    /// minutes), the 210 ms one only after two losses in a row. None meets the default
    /// target of one a day, and the sweep does not hold the kind's default setting: the
    /// fewest, 210 ms, is shown; under a target of 10^12 a day, one of the two others.
    #[test]
    fn replications_trace_the_first_and_the_timeline_follows_the_target() {
        let text = r#"
            name = "reps"
            seed = 7
            duration = "10m"
            detectors = ["fixed:timeout=110ms|160ms|210ms", "phi"]
            [defaults]
            interval = "100ms"
            [[nodes]]
            id = "a"
            [[nodes]]
            id = "b"
            [monitoring]
            mode = "pairs"
            pairs = [["b", "a"]]
            [network]
            delay = { dist = "constant", value = "5ms" }
            loss = { model = "bernoulli", p = 0.1 }
            [[faults]]
            kind = "pause"
            node = "a"
            what = "sender"
            at = "5m"
            duration = "3s"
        "#;
        let e = crate::experiment::Experiment::from_toml(std::path::Path::new("t.toml"), text).expect("valid");
        let shown = |target: Option<f64>, replications: u32| {
            let options = RunOptions {
                record_trace: true,
                timeline_target_per_day: target,
                replications,
                ..RunOptions::default()
            };
            let out = run(&e, &options, &|_| {}).unwrap();
            let rows = out.trace.as_ref().unwrap().row_count().unwrap();
            let levels = out.timeline.unwrap().levels;
            let samples = levels.iter().filter(|l| l.detector == "fixed:timeout=210ms").count();
            let fixed: BTreeSet<String> =
                levels.iter().map(|l| l.detector.clone()).filter(|d| d.starts_with("fixed")).collect();
            (rows, fixed.into_iter().collect::<Vec<_>>(), samples)
        };
        let (rows, default, samples) = shown(None, 1);
        assert_eq!(samples, 601);
        // The pause's view, [298 s, 305 s] (pad 2 s), sampled 600 times over: 601 samples
        // with its ends.
        assert!(rows > 5000, "{rows}");
        assert_eq!(default, ["fixed:timeout=210ms"]);
        let (rows_of_two, lenient, _) = shown(Some(1e12), 2);
        assert_eq!(rows_of_two, rows);
        assert_eq!(lenient.len(), 1);
        assert_ne!(lenient, default);
    }

    /// A rule of the user's own that reads what each monitor heard gets it, as the built-in
    /// lease does: a lease handed in as an extra rule gives the built-in one's figures. And
    /// what does not fit is refused before any work.
    #[test]
    fn an_extra_rule_hears_what_the_built_in_one_hears_and_large_runs_are_refused() {
        let text = |rules: &str| {
            format!(
                r#"
                name = "lease"
                seed = 3
                duration = "2m"
                detectors = ["fixed:timeout=500ms"]
                [defaults]
                interval = "100ms"
                [[nodes]]
                id = "n0"
                [[nodes]]
                id = "n1"
                [[nodes]]
                id = "n2"
                [monitoring]
                mode = "all"
                [cluster]
                rules = [{rules}]
                lease = "2s"
                lease_margin = "500ms"
                [[faults]]
                kind = "pause"
                node = "n0"
                what = "node"
                at = "30s"
                duration = "10s"
                "#
            )
        };
        let path = std::path::Path::new("t.toml");
        let built_in = crate::experiment::Experiment::from_toml(path, &text(r#""majority", "lease""#)).unwrap();
        let built_in = run(&built_in, &RunOptions::default(), &|_| {}).unwrap().summary.cluster;
        let e = crate::experiment::Experiment::from_toml(path, &text(r#""majority""#)).unwrap();
        let lease = RuleFactory(std::sync::Arc::new(|n| {
            Box::new(crate::analysis::cluster::rules::Lease::new(n, Nanos::from_secs(2), Nanos::from_millis(500)))
        }));
        let extra = run(&e, &RunOptions { extra_rules: vec![lease], ..RunOptions::default() }, &|_| {}).unwrap();
        let extra = extra.summary.cluster;
        assert_eq!(built_in[0].rules.len(), 2);
        assert_eq!(built_in[0].rules[1].rule, "lease");
        assert_eq!(extra[0].rules.len(), 2);
        assert_eq!(
            serde_json::to_value(&extra[0].rules[1]).unwrap(),
            serde_json::to_value(&built_in[0].rules[1]).unwrap()
        );
        // A heartbeat every nanosecond for a year does not fit.
        let huge = crate::experiment::Experiment::from_toml(
            path,
            "name = \"huge\"\nseed = 1\nduration = \"365d\"\ndetectors = [\"phi\"]\n[defaults]\ninterval = \"1ns\"\n\
             [[nodes]]\nid = \"a\"\n[[nodes]]\nid = \"b\"\n",
        )
        .unwrap();
        let Err(SimError::TooLarge(why)) = run(&huge, &RunOptions::default(), &|_| {}) else { panic!("refused") };
        assert!(why.contains("heartbeats"), "{why}");
    }

    /// Sweeps weigh their kind's cost a point (φ: 4), ties keep taking, and the last specs
    /// get a group each. Shares in quarters again, generation 6 in the first group.
    #[test]
    fn groups_weigh_sweeps_by_their_points_and_end_at_their_share() {
        let (one, two, three, six) = ("phi", "phi:threshold=1..2..1", "phi:threshold=1..3..1", "phi:threshold=1..6..1");
        let timeout = "fixed:timeout=1s";
        // Weights 4, 4, 12 on two: 26, a share of 13; the first holds 10, the second spec
        // makes 14 (1 over against 3 short: taken), then it is full: the sweep goes alone.
        assert_eq!(sizes(&[one, one, three], 2), [2, 1]);
        // 4, 8, 12: 30, a share of 15; 10, then 18 (3 over against 5 short: taken).
        assert_eq!(sizes(&[one, two, three], 2), [2, 1]);
        // A 3-point sweep first, then four plain specs: 34 in all, a share of 17; the
        // sweep alone fills the first (18).
        assert_eq!(sizes(&[three, one, one, one, one], 2), [1, 4]);
        // 4, 4, 4, 8 on three: 26, shares ending at 8⅔, 17⅓ and 26. The first is full at
        // 10; the second takes two (14, then 18: ⅔ over against 3⅓ short), and is full.
        assert_eq!(sizes(&[one, one, one, two], 3), [1, 2, 1]);
        // 4, 4, 8, 1, 1 on two: 24, a share of 12. The first at 10 takes the second spec
        // at a tie (14: 2 over, 2 short), then is full.
        assert_eq!(sizes(&[one, one, two, timeout, timeout], 2), [2, 3]);
        // 4, 4, 24 on three: 38, the first share ends at 12⅔. The second spec would fit
        // the first group (14: 1⅓ over against 2⅔ short), but two specs are left for two
        // groups: each gets its own.
        assert_eq!(sizes(&[one, one, six], 3), [1, 1, 1]);
    }
}
