//! Runs an experiment's `[[workloads]]` (`crate::workload`) over its links and faults.
//!
//! Each workload gets its own two channels (client → server for data, server → client for
//! ACKs) with the experiment's link settings for those directions, and the fault timeline of
//! the run, built with the workload's links among the monitored ones (so a delay spike or
//! loss burst declared without links touches them as it touches heartbeat links). Their
//! random streams are named `workload/{name}/data` and `workload/{name}/ack`: adding a
//! workload never changes a heartbeat, nor another workload.

use std::path::Path;

use hdrhistogram::Histogram;

use crate::experiment::ValidExperiment;
use crate::fault::Timeline;
use crate::fault::channel::Channel;
use crate::fault::delay::{DelaySampler, EmpiricalError};
use crate::fault::rng::stream;
use crate::time::Nanos;
use crate::workload::WorkloadReport;
use crate::workload::engine::{Faults, Outcome, run};

/// The fault starts a workload's retransmission series keeps for its chart, at most.
const MAX_MARKED_FAULTS: usize = 32;

/// Every workload's report and delivery latency histogram (ns), in file order.
pub fn run_all(
    e: &ValidExperiment,
    seed: u64,
    base_dir: &Path,
) -> Result<Vec<(WorkloadReport, Histogram<u64>)>, EmpiricalError> {
    if e.workloads.is_empty() {
        return Ok(Vec::new());
    }
    let timeline = timeline(e, seed, base_dir)?;
    (0..e.workloads.len()).map(|i| run_one_on(e, i, seed, base_dir, &timeline).map(|o| (o.report, o.latency))).collect()
}

/// Workload `index`, with its ground truth per operation.
pub fn run_one(e: &ValidExperiment, index: usize, seed: u64, base_dir: &Path) -> Result<Outcome, EmpiricalError> {
    let timeline = timeline(e, seed, base_dir)?;
    run_one_on(e, index, seed, base_dir, &timeline)
}

fn timeline(e: &ValidExperiment, seed: u64, base_dir: &Path) -> Result<Timeline, EmpiricalError> {
    let mut links = e.monitored_links();
    for w in &e.workloads {
        // Validated: both ids name nodes.
        let (c, s) = (e.index_of(&w.client).unwrap_or(0), e.index_of(&w.server).unwrap_or(0));
        // (monitor, target): a datagram travels from the target to the monitor.
        links.extend([(s, c), (c, s)]);
    }
    links.sort();
    links.dedup();
    Timeline::build(e.faults(), e.nodes.len(), e.duration, &links, seed, base_dir)
}

fn run_one_on(
    e: &ValidExperiment,
    index: usize,
    seed: u64,
    base_dir: &Path,
    timeline: &Timeline,
) -> Result<Outcome, EmpiricalError> {
    let w = &e.workloads[index];
    let (c, s) = (e.index_of(&w.client).unwrap_or(0), e.index_of(&w.server).unwrap_or(0));
    let channel = |from: usize, to: usize, dir: &str| -> Result<Channel<'_>, EmpiricalError> {
        let link = e.link(from, to);
        let faults = timeline.link(from, to);
        let changes = faults
            .delay_changes
            .iter()
            .map(|(at, model)| Ok((*at, DelaySampler::new(model, link.correlation, base_dir)?)))
            .collect::<Result<Vec<(Nanos, DelaySampler)>, EmpiricalError>>()?;
        let delay = DelaySampler::new(&link.delay, link.correlation, base_dir)?;
        let name = format!("workload/{}/{dir}", w.name);
        let (delay_rng, loss_rng) = (stream(seed, &format!("{name}/delay")), stream(seed, &format!("{name}/loss")));
        Ok(Channel::new(&link.loss, link.duplicate, link.fifo, delay, changes, faults, delay_rng, loss_rng))
    };
    let data = channel(c, s, "data")?;
    let acks = channel(s, c, "ack")?;
    let faults = Faults {
        client: &timeline.nodes[c],
        server: &timeline.nodes[s],
        data_cuts: &timeline.link(c, s).cuts,
        ack_cuts: &timeline.link(s, c).cuts,
    };
    let mut outcome = run(w, e.duration, data, acks, &faults);
    if let Some(series) = &mut outcome.report.retransmissions_over_time {
        let mut starts: Vec<Nanos> = Vec::new();
        for n in [c, s] {
            let f = &timeline.nodes[n];
            starts.extend(f.crashes.iter().map(|c| c.from));
            starts.extend(f.send_pauses.iter().chain(&f.recv_pauses).map(|w| w.from));
        }
        for l in [timeline.link(c, s), timeline.link(s, c)] {
            starts.extend(l.cuts.iter().map(|w| w.from));
            starts.extend(l.spikes.iter().map(|(w, _)| w.from));
            starts.extend(l.bursts.iter().map(|(w, _)| w.from));
            starts.extend(l.delay_changes.iter().map(|(at, _)| *at));
        }
        starts.extend(w.service_outages.iter().map(|o| o.at));
        starts.sort();
        starts.dedup();
        // A random fault process may begin thousands of times: the chart marks the first few.
        starts.truncate(MAX_MARKED_FAULTS);
        series.fault_starts_s = starts.iter().map(|t| t.as_secs_f64()).collect();
    }
    Ok(outcome)
}
