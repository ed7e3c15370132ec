//! The results of a run, as every engine reports them: one entry per detector configuration
//! and link, totals per configuration over every link, datagram counts per link. These are
//! the structs `summary.json` is written from (`crate::report::summary` renders them: the
//! JSON, `mistakes.csv`, the table) and read back into (the charts and `report.html`), so
//! one schema serves both ways. It is documented in `docs/summary.md`.
//! Conventions (DESIGN.md §5): durations in seconds as `f64` with names ending in `_s`,
//! rates with names ending in `_per_s`, and every file records fdlab's version, the
//! experiment name and the seed.
//!
//! Read back, a file gives what it holds: the integer accumulators and mistake lists that
//! the engines keep beside the figures (`#[serde(skip)]` below) come back empty.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::QosReport;
use super::qos::{Cause, DetectionBasis, Exact};
use super::stats::{HdrCounts, Summary};
use crate::time::Nanos;

/// The whole file.
#[derive(Debug, Serialize, Deserialize)]
pub struct SummaryFile {
    pub fdlab_version: String,
    pub experiment: String,
    /// The experiment's seed; `null` for a replayed trace, which has none.
    pub seed: Option<u64>,
    pub engine: Engine,
    pub run_end_s: f64,
    /// The experiment as it was run (simulations), for the record: kept as JSON, since the
    /// experiment file's schema is the experiment module's, not the results'.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub experiment_config: Option<serde_json::Value>,
    /// One object per detector configuration and link.
    pub results: Vec<ResultEntry>,
    /// Per detector configuration, every link together.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub totals: Vec<TotalEntry>,
    /// What happened to the datagrams on each link (simulations).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<LinkEntry>,
    /// Per detector configuration, cluster views under each leader rule: split brain,
    /// leaderless and disagreement time, wrongful downing (experiments with `[cluster]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cluster: Vec<super::cluster::ClusterEntry>,
    /// Message workloads (`[[workloads]]`): the seed's link layer, measured on the same links
    /// and faults (simulations).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub workloads: Vec<crate::workload::WorkloadReport>,
    /// The two generals at each depth beside the closed forms (`[two_generals]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub two_generals: Option<crate::workload::generals::GeneralsReport>,
    /// Rows of a replayed trace that are legal but worth knowing about (replays).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trace_warnings: Vec<TraceWarning>,
    /// How good the real timers were and what the orchestrator did (live runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live: Option<LiveReport>,
    /// Runs of several replications (`--replications`): their seeds and which interval is
    /// the headline; absent for one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replications: Option<super::replications::ReplicationsInfo>,
}

/// A distribution of lateness (how long after its deadline something happened), in µs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LatenessSummary {
    pub count: u64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub p999_us: f64,
    pub max_us: f64,
}

impl LatenessSummary {
    /// The summary of a histogram of ns; `None` when it is empty.
    pub fn of(h: &hdrhistogram::Histogram<u64>) -> Option<LatenessSummary> {
        let us = |ns: u64| ns as f64 / 1e3;
        (!h.is_empty()).then(|| LatenessSummary {
            count: h.len(),
            p50_us: us(h.value_at_quantile(0.5)),
            p99_us: us(h.value_at_quantile(0.99)),
            p999_us: us(h.value_at_quantile(0.999)),
            max_us: us(h.max()),
        })
    }
}

/// What a live run adds: the quality of its real timing, the datagrams its nodes rejected
/// and the orchestrator's record of what it did (the run's ground truth).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LiveReport {
    /// How late each heartbeat left after its slot's deadline.
    pub send_lateness: Option<LatenessSummary>,
    /// How late each suspicion's timer fired after the exact crossing (not counting
    /// crossings while the monitor was stopped, `checks_in_pauses`).
    pub check_lateness: Option<LatenessSummary>,
    /// Suspicions that fell due while their monitor was stopped: their timers fired at the
    /// resume.
    pub checks_in_pauses: u64,
    /// How late the relay released each datagram after the time its drawn delay gave.
    pub relay_lateness: Option<LatenessSummary>,
    /// Datagrams the nodes rejected, by reason (docs/live.md).
    pub rejected: BTreeMap<String, u64>,
    /// Heartbeat slots skipped because the sender was stopped past them.
    pub skipped_slots: u64,
    /// Whether heartbeats carried an HMAC-SHA256 tag (the receive policy is then at least
    /// `dedup`: the replay window drops repeats).
    pub authenticated: bool,
    /// The receive policy the nodes applied.
    pub receive_policy: String,
    /// Every signal sent and restart made, in order, in ns since the run's epoch.
    pub actions: Vec<LiveAction>,
}

/// One thing the orchestrator did: `kill` (SIGKILL, recorded once the kernel reported the
/// process dead), `restart`, `stop` (SIGSTOP), `continue` (SIGCONT).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveAction {
    pub node: String,
    pub action: String,
    pub at_ns: u64,
}

/// The engine that produced a results directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    /// `fdlab run`: the simulator.
    Sim,
    /// `fdlab replay`: a recorded trace.
    Replay,
    /// Live nodes (not yet built; named so that the schema does not change when it is).
    Live,
}

impl Engine {
    /// The name `summary.json` uses.
    pub fn name(self) -> &'static str {
        match self {
            Engine::Sim => "sim",
            Engine::Replay => "replay",
            Engine::Live => "live",
        }
    }
}

/// Rows of one kind in a replayed trace that fdlab accepts but a reader should know about.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TraceWarning {
    pub kind: TraceWarningKind,
    /// How many rows.
    pub rows: u64,
    /// The line of the first one.
    pub first_line: u64,
    /// The whole warning, as printed.
    pub message: String,
}

/// What a [`TraceWarning`] is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TraceWarningKind {
    /// `seq` lower than an earlier row's of the same monitor, target and incarnation
    /// (reordering within an incarnation).
    SeqDecreased,
    /// `received_ns` earlier than `sent_ns` (the hosts' clocks differ).
    ReceivedBeforeSent,
}

impl SummaryFile {
    pub fn new(
        experiment: String,
        seed: Option<u64>,
        engine: Engine,
        run_end: Nanos,
        results: Vec<ResultEntry>,
    ) -> SummaryFile {
        SummaryFile {
            fdlab_version: env!("CARGO_PKG_VERSION").to_string(),
            experiment,
            seed,
            engine,
            run_end_s: run_end.as_secs_f64(),
            experiment_config: None,
            live: None,
            results,
            totals: Vec::new(),
            links: Vec::new(),
            cluster: Vec::new(),
            workloads: Vec::new(),
            two_generals: None,
            trace_warnings: Vec::new(),
            replications: None,
        }
    }
}

/// One detector configuration on one link.
#[derive(Debug, Serialize, Deserialize)]
pub struct ResultEntry {
    /// The canonical label, e.g. `phi:threshold=8`.
    pub detector: String,
    pub kind: String,
    /// The name of the swept key (`threshold`, `timeout`, …), whose `key=value` comes first
    /// in the label; `None` for a detector without one (and in files written before fdlab
    /// recorded it).
    #[serde(default)]
    pub knob: Option<String>,
    /// The knob's value in the level's units (seconds for timeouts).
    pub threshold: f64,
    /// The monitoring node, when the trace or experiment has more than one.
    pub monitor: Option<String>,
    pub target: String,
    #[serde(flatten)]
    pub qos: QosReport,
    /// Each figure in every replication, with its spread (runs of several replications).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replications: Option<super::replications::Spread>,
}

/// Datagram counts of one link.
#[derive(Debug, Serialize, Deserialize)]
pub struct LinkEntry {
    pub monitor: String,
    pub target: String,
    pub sent: u64,
    pub lost: u64,
    /// Dropped by a partition.
    pub cut: u64,
    pub duplicated: u64,
    /// Handed to the detectors (after the receive policy).
    pub delivered: u64,
}

/// One detector configuration over every link.
#[derive(Debug, Serialize, Deserialize)]
pub struct TotalEntry {
    pub detector: String,
    pub kind: String,
    /// As in [`ResultEntry::knob`].
    #[serde(default)]
    pub knob: Option<String>,
    pub threshold: f64,
    pub links: usize,
    pub observed_up_s: f64,
    pub mistakes: u64,
    pub mistake_rate_per_s: Option<f64>,
    pub mistake_rate_per_s_ci95: Option<[f64; 2]>,
    pub mistakes_per_day: Option<f64>,
    pub mistakes_by_cause: BTreeMap<Cause, u64>,
    pub mistake_duration_s: Summary,
    pub query_accuracy: Option<f64>,
    pub detection_time_s: Summary,
    /// `crashes` (over the links that had crashes), or `per-heartbeat estimate` when no
    /// link had one (then over every link).
    pub detection_basis: DetectionBasis,
    pub crashes: usize,
    pub crashes_detected: usize,
    /// Written to `detection-time/<label>.hgrm`, not to `summary.json`: empty when read back.
    /// Kept as bucket counts (a few KiB) and made a histogram only to be written: a
    /// histogram of a second's range is 180 KiB, and `--replications` keeps the totals of
    /// every replication until they are pooled.
    #[serde(skip)]
    pub detection_histogram: HdrCounts,
    /// Written to `mistake-duration/<label>.hgrm`: empty when read back.
    #[serde(skip)]
    pub mistake_histogram: HdrCounts,
    /// As in [`ResultEntry::replications`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replications: Option<super::replications::Spread>,
}

pub use crate::fault::channel::DatagramCounts;

/// Gathers every link's outcome, in the order the engine hands them, into one
/// [`SummaryFile`]: the entries per configuration and link, the totals, the datagram counts.
/// Every engine assembles its results here.
#[derive(Default)]
pub struct ResultsBuilder {
    results: Vec<ResultEntry>,
    links: Vec<LinkEntry>,
}

impl ResultsBuilder {
    /// Adds one link's outcome; `monitor` is `None` where the trace names none.
    pub fn add_link(&mut self, monitor: Option<&str>, target: &str, outcome: super::link::LinkOutcome) {
        if let (Some(c), Some(monitor)) = (outcome.counts, monitor) {
            self.links.push(LinkEntry {
                monitor: monitor.to_string(),
                target: target.to_string(),
                sent: c.sent,
                lost: c.lost,
                cut: c.cut,
                duplicated: c.duplicated,
                delivered: outcome.delivered,
            });
        }
        for (point, qos) in outcome.reports {
            self.results.push(ResultEntry {
                detector: point.label,
                kind: point.kind,
                knob: point.knob,
                threshold: point.threshold,
                monitor: monitor.map(str::to_string),
                target: target.to_string(),
                qos,
                replications: None,
            });
        }
    }

    /// The summary of a run of `engine` that ended at `run_end`, with its totals.
    pub fn finish(self, experiment: String, seed: Option<u64>, engine: Engine, run_end: Nanos) -> SummaryFile {
        let mut summary = SummaryFile::new(experiment, seed, engine, run_end, self.results);
        summary.totals = totals(&summary.results);
        summary.links = self.links;
        summary
    }
}

/// Sums the results of each detector configuration over its links, in first-seen order.
pub fn totals(results: &[ResultEntry]) -> Vec<TotalEntry> {
    let mut order: Vec<&str> = Vec::new();
    let mut groups: BTreeMap<&str, Vec<&ResultEntry>> = BTreeMap::new();
    for r in results {
        if !groups.contains_key(r.detector.as_str()) {
            order.push(&r.detector);
        }
        groups.entry(&r.detector).or_default().push(r);
    }
    order
        .into_iter()
        .map(|label| {
            let rs = &groups[label];
            let mut by_cause: BTreeMap<Cause, u64> = BTreeMap::new();
            for r in rs {
                for (c, n) in &r.qos.mistakes_by_cause {
                    *by_cause.entry(*c).or_default() += n;
                }
            }
            // Detection times over the crashes, where any link had one; otherwise every
            // link's per-heartbeat estimate (as each link reports it).
            let crash_basis = rs.iter().any(|r| r.qos.detection_basis == DetectionBasis::Crashes);
            let detection_basis =
                if crash_basis { DetectionBasis::Crashes } else { DetectionBasis::PerHeartbeatEstimate };
            let mut exact = Exact::default();
            for r in rs {
                exact.add(&r.qos.exact, r.qos.detection_basis == detection_basis);
            }
            let (detection_histogram, mistake_histogram) =
                (exact.detection.counts().clone(), exact.mistakes.counts().clone());
            let all = QosReport::from_exact(exact, None, by_cause, detection_basis);
            TotalEntry {
                detector: label.to_string(),
                kind: rs[0].kind.clone(),
                knob: rs[0].knob.clone(),
                threshold: rs[0].threshold,
                links: rs.len(),
                observed_up_s: all.observed_up_s,
                mistakes: all.mistakes,
                mistake_rate_per_s: all.mistake_rate_per_s,
                mistake_rate_per_s_ci95: all.mistake_rate_per_s_ci95,
                mistakes_per_day: all.mistakes_per_day,
                mistakes_by_cause: all.mistakes_by_cause,
                mistake_duration_s: all.mistake_duration_s,
                query_accuracy: all.query_accuracy,
                detection_time_s: all.detection_time_s,
                detection_basis,
                crashes: rs.iter().flat_map(|r| &r.qos.crashes).filter(|c| c.observed).count(),
                crashes_detected: rs
                    .iter()
                    .flat_map(|r| &r.qos.crashes)
                    .filter(|c| c.detection_time_s.is_some())
                    .count(),
                detection_histogram,
                mistake_histogram,
                replications: None,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Totals against the links' own entries, with a crash of `c` and without: mistakes and
    /// causes add; the detection basis is the crashes' where any link of the configuration
    /// had one, and the detection times come from those links only; else every link's
    /// per-heartbeat estimate.
    #[test]
    fn totals_add_the_links_and_take_detection_times_from_one_basis() {
        use crate::experiment::{Experiment, THREE_LOSSY_NODES};
        let head = "name = \"t\"\nseed = 5\nduration = \"10m\"\ndetectors = [\"phi:threshold=1|8\", \"fixed:timeout=1500ms\"]\n";
        let crash = "[[faults]]\nkind = \"crash\"\nnode = \"c\"\nat = \"4m\"\ndown = \"30s\"\n";
        for with_crash in [true, false] {
            let text = format!("{head}{THREE_LOSSY_NODES}{}", if with_crash { crash } else { "" });
            let e = Experiment::from_toml(std::path::Path::new("t.toml"), &text).unwrap();
            let options = crate::sim::RunOptions { threads: 1, ..Default::default() };
            let s = crate::sim::run(&e, &options, &|_| {}).unwrap().summary;
            assert!(s.totals.iter().any(|t| t.mistakes > 0));
            for t in &s.totals {
                let links: Vec<&QosReport> =
                    s.results.iter().filter(|r| r.detector == t.detector).map(|r| &r.qos).collect();
                assert_eq!((t.links, t.mistakes), (6, links.iter().map(|q| q.mistakes).sum::<u64>()));
                let mut causes: BTreeMap<Cause, u64> = BTreeMap::new();
                for (c, n) in links.iter().flat_map(|q| &q.mistakes_by_cause) {
                    *causes.entry(*c).or_default() += n;
                }
                assert_eq!(t.mistakes_by_cause, causes, "{}", t.detector);
                let crashed: Vec<&&QosReport> =
                    links.iter().filter(|q| q.detection_basis == DetectionBasis::Crashes).collect();
                assert_eq!(crashed.len(), if with_crash { 2 } else { 0 }, "the two links watching `c`");
                let (basis, of_basis) = if with_crash {
                    (DetectionBasis::Crashes, crashed.iter().map(|q| q.detection_time_s.count).sum::<u64>())
                } else {
                    (DetectionBasis::PerHeartbeatEstimate, links.iter().map(|q| q.detection_time_s.count).sum())
                };
                assert_eq!((t.detection_basis, t.detection_time_s.count), (basis, of_basis), "{}", t.detector);
            }
        }
    }

    #[test]
    fn an_engines_name_is_its_name_in_summary_json() {
        for (engine, name) in [(Engine::Sim, "sim"), (Engine::Replay, "replay"), (Engine::Live, "live")] {
            assert_eq!(engine.name(), name);
            assert_eq!(serde_json::to_string(&engine).unwrap(), format!("\"{name}\""));
        }
    }

    #[test]
    fn lateness_summaries_at_the_extremes() {
        let mut h = hdrhistogram::Histogram::<u64>::new(3).unwrap();
        assert_eq!(LatenessSummary::of(&h), None, "no events: no summary");
        h.record(0).unwrap();
        let one = LatenessSummary::of(&h).unwrap();
        assert_eq!((one.count, one.p50_us, one.p99_us, one.max_us), (1, 0.0, 0.0, 0.0));
        // A stopped process's hours of lateness, beside a million 50 µs ones.
        h.record_n(50_000, 1_000_000).unwrap();
        h.record(3_600_000_000_000).unwrap();
        let s = LatenessSummary::of(&h).unwrap();
        assert_eq!(s.count, 1_000_002);
        assert!((s.p50_us - 50.0).abs() < 0.05 && (s.p99_us - 50.0).abs() < 0.05, "{s:?}");
        assert!((s.max_us / 3.6e9 - 1.0).abs() < 1e-3, "{}", s.max_us);
    }
}
