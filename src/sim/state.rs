//! A replication's exact state as a shard stores it (`fdlab run --shard`), and back.
//!
//! What is stored is what the simulator hands [`super::assemble`], before any figure is
//! computed: per monitor and link, every configuration's integer accumulators (up time and
//! wrongly suspected time in ns, mistake, detection and recurrence histograms as bucket
//! counts with exact counts, sums and extremes), its listed mistakes and crashes, the link's
//! datagram counts and arrival histograms, the sampled levels; and the replication's cluster
//! figures and chosen faults. A merge reads these back into the very values a whole run
//! holds, so its output is byte for byte the whole run's. Floats that may be infinite
//! (levels, thresholds) are stored as their bits; the others are finite and JSON carries
//! them exactly (serde_json's `float_roundtrip`).

use serde::{Deserialize, Serialize};

use super::Replication;
use super::monitor::{LinkResult, MonitorResult};
use crate::analysis::QosReport;
use crate::analysis::cluster::ClusterEntry;
use crate::analysis::cluster::timeline::LeaderTimeline;
use crate::analysis::link::{ArrivalStats, LinkOutcome};
use crate::analysis::output::{FaultView, LevelSample};
use crate::analysis::qos::{Cause, Exact, Mistake};
use crate::analysis::results::DatagramCounts;
use crate::analysis::stats::{DurationStats, DurationStatsState, HdrCounts, HdrCountsState};
use crate::detector::spec::DetectorPoint;
use crate::time::Nanos;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplicationState {
    pub seed: u64,
    pub monitors: Vec<MonitorState>,
    pub cluster: Vec<ClusterEntry>,
    /// The leader timeline of the longest split-brain episode of this share's specs.
    pub leaders: Option<LeaderTimeline>,
    pub faults: Vec<FaultView>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonitorState {
    pub monitor: usize,
    pub links: Vec<LinkState>,
    pub delay: HdrCountsState,
    pub interarrival: HdrCountsState,
    pub deliveries: u64,
    pub levels: Vec<LevelState>,
    /// (fault view, real arrival time in ns)
    pub window_arrivals: Vec<(usize, u64)>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkState {
    pub target: usize,
    pub delivered: u64,
    /// sent, lost, cut, duplicated
    pub counts: Option<[u64; 4]>,
    pub reports: Vec<ReportState>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportState {
    pub label: String,
    pub kind: String,
    pub knob: Option<String>,
    pub threshold_bits: u64,
    pub check_every_ns: Option<u64>,
    /// The figures as `summary.json` has them (its accumulators below).
    pub qos: QosReport,
    pub up_ns: u64,
    pub wrong_ns: String,
    pub mistakes: DurationStatsState,
    pub detection: DurationStatsState,
    pub recurrence: DurationStatsState,
    /// (start ns, end ns, cause, censored)
    pub listed: Vec<(u64, u64, Cause, bool)>,
}

impl PartialEq for ReportState {
    /// Equal when the state is: the figures follow from it.
    fn eq(&self, other: &ReportState) -> bool {
        (&self.label, self.threshold_bits, self.up_ns, &self.wrong_ns, &self.mistakes, &self.detection, &self.listed)
            == (
                &other.label,
                other.threshold_bits,
                other.up_ns,
                &other.wrong_ns,
                &other.mistakes,
                &other.detection,
                &other.listed,
            )
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LevelState {
    pub fault: Option<usize>,
    pub at: u64,
    pub monitor: String,
    pub target: String,
    pub detector: String,
    pub level_bits: u64,
    pub threshold_bits: u64,
    pub suspected: bool,
}

impl ReplicationState {
    /// The state of a replication as the simulator produced it (its trace, if any, is not
    /// part of it).
    pub fn of(rep: &Replication) -> ReplicationState {
        ReplicationState {
            seed: rep.seed,
            monitors: rep.monitors.iter().map(|(m, r)| monitor_state(*m, r)).collect(),
            cluster: rep.cluster.clone(),
            leaders: rep.leaders.clone(),
            faults: rep.faults.clone(),
        }
    }

    /// The replication a state describes, or what is wrong with it.
    pub fn restore(self) -> Result<Replication, String> {
        let monitors = self
            .monitors
            .into_iter()
            .map(|m| Ok((m.monitor, restore_monitor(m)?)))
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Replication { seed: self.seed, monitors, cluster: self.cluster, leaders: self.leaders, faults: self.faults })
    }
}

fn monitor_state(monitor: usize, r: &MonitorResult) -> MonitorState {
    MonitorState {
        monitor,
        links: r
            .links
            .iter()
            .map(|l| LinkState {
                target: l.target,
                delivered: l.outcome.delivered,
                counts: l.outcome.counts.map(|c| [c.sent, c.lost, c.cut, c.duplicated]),
                reports: l.outcome.reports.iter().map(|(p, q)| report_state(p, q)).collect(),
            })
            .collect(),
        delay: r.stats.delay.to_state(),
        interarrival: r.stats.interarrival.to_state(),
        deliveries: r.stats.deliveries,
        levels: r
            .levels
            .iter()
            .map(|l| LevelState {
                fault: l.fault,
                at: l.at.0,
                monitor: l.monitor.clone(),
                target: l.target.clone(),
                detector: l.detector.clone(),
                level_bits: l.level.to_bits(),
                threshold_bits: l.threshold.to_bits(),
                suspected: l.suspected,
            })
            .collect(),
        window_arrivals: r.window_arrivals.iter().map(|(w, at)| (*w, at.0)).collect(),
    }
}

fn report_state(p: &DetectorPoint, q: &QosReport) -> ReportState {
    let mut figures = q.clone();
    figures.listed = Vec::new();
    figures.exact = Exact::default();
    figures.suspicions = Vec::new();
    figures.recurrence = DurationStats::default();
    ReportState {
        label: p.label.clone(),
        kind: p.kind.clone(),
        knob: p.knob.clone(),
        threshold_bits: p.threshold.to_bits(),
        check_every_ns: p.check_every.map(|n| n.0),
        qos: figures,
        up_ns: q.exact.up.0,
        wrong_ns: q.exact.wrong_ns.to_string(),
        mistakes: q.exact.mistakes.to_state(),
        detection: q.exact.detection.to_state(),
        recurrence: q.recurrence.to_state(),
        listed: q.listed.iter().map(|m| (m.start.0, m.end.0, m.cause, m.censored)).collect(),
    }
}

fn restore_monitor(m: MonitorState) -> Result<MonitorResult, String> {
    let links = m
        .links
        .into_iter()
        .map(|l| {
            let reports = l.reports.into_iter().map(restore_report).collect::<Result<Vec<_>, String>>()?;
            Ok(LinkResult {
                target: l.target,
                outcome: LinkOutcome {
                    reports,
                    delivered: l.delivered,
                    counts: l.counts.map(|[sent, lost, cut, duplicated]| DatagramCounts {
                        sent,
                        lost,
                        cut,
                        duplicated,
                    }),
                },
                // (Cluster views took these before the state was kept.)
                first_heard: Vec::new(),
                heard: Default::default(),
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let stats = ArrivalStats {
        delay: HdrCounts::from_state(&m.delay).map_err(|e| format!("delay: {e}"))?,
        interarrival: HdrCounts::from_state(&m.interarrival).map_err(|e| format!("interarrival: {e}"))?,
        deliveries: m.deliveries,
    };
    let levels = m
        .levels
        .into_iter()
        .map(|l| LevelSample {
            fault: l.fault,
            at: Nanos(l.at),
            monitor: l.monitor,
            target: l.target,
            detector: l.detector,
            level: f64::from_bits(l.level_bits),
            threshold: f64::from_bits(l.threshold_bits),
            suspected: l.suspected,
        })
        .collect();
    Ok(MonitorResult {
        links,
        stats,
        trace: Ok(None),
        levels,
        window_arrivals: m.window_arrivals.into_iter().map(|(w, at)| (w, Nanos(at))).collect(),
    })
}

fn restore_report(r: ReportState) -> Result<(DetectorPoint, QosReport), String> {
    let what = |e: String| format!("`{}`: {e}", r.label);
    let mut qos = r.qos;
    qos.exact = Exact {
        up: Nanos(r.up_ns),
        wrong_ns: r.wrong_ns.parse().map_err(|_| what(format!("wrong_ns `{}` is not an integer", r.wrong_ns)))?,
        mistakes: DurationStats::from_state(&r.mistakes).map_err(|e| what(format!("mistakes: {e}")))?,
        detection: DurationStats::from_state(&r.detection).map_err(|e| what(format!("detection: {e}")))?,
    };
    qos.recurrence = DurationStats::from_state(&r.recurrence).map_err(|e| what(format!("recurrence: {e}")))?;
    if qos.exact.mistakes.count() != qos.mistakes || r.listed.len() != qos.mistakes_listed {
        return Err(what("its mistake counts disagree with its accumulators".into()));
    }
    qos.listed = r
        .listed
        .into_iter()
        .map(|(start, end, cause, censored)| Mistake { start: Nanos(start), end: Nanos(end), cause, censored })
        .collect();
    let point = DetectorPoint {
        label: r.label,
        kind: r.kind,
        knob: r.knob,
        threshold: f64::from_bits(r.threshold_bits),
        check_every: r.check_every_ns.map(Nanos),
    };
    Ok((point, qos))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::Experiment;
    use crate::sim::{RunOptions, run_replication};

    /// A replication of three nodes with delays, loss, pauses and a crash that recovers, whose
    /// reports have mistakes of several causes, crashes, detection times and sampled levels.
    fn replication() -> Replication {
        let head = "name = \"state\"\nseed = 3\nduration = \"10m\"\n\
                    detectors = [\"phi:threshold=1|8\", \"fixed:timeout=1500ms,check_every=100ms\"]\n";
        let crash = "[[faults]]\nkind = \"crash\"\nnode = \"c\"\nat = \"4m\"\ndown = \"30s\"\n";
        let text = format!("{head}{}{crash}", crate::experiment::THREE_LOSSY_NODES);
        let e = Experiment::from_toml(std::path::Path::new("state.toml"), &text).unwrap();
        let options = RunOptions { threads: 1, ..RunOptions::default() };
        run_replication(&e, &options, 3, &e.detectors, &|_| {}).unwrap()
    }

    fn reports(state: &mut ReplicationState) -> impl Iterator<Item = &mut ReportState> {
        state.monitors.iter_mut().flat_map(|m| m.links.iter_mut()).flat_map(|l| l.reports.iter_mut())
    }

    /// Stored as JSON, read back and restored, a replication gives the same state, byte for
    /// byte: every accumulator, listed mistake, crash, level and point survives.
    #[test]
    fn a_replication_comes_back_from_its_state_through_json() {
        let mut state = ReplicationState::of(&replication());
        let all: Vec<&mut ReportState> = reports(&mut state).collect();
        assert!(all.iter().any(|r| !r.listed.is_empty() && r.qos.crashes.iter().any(|c| c.detection_time_s.is_some())));
        assert!(all.iter().any(|r| r.check_every_ns == Some(100_000_000)));
        assert!(state.monitors.iter().any(|m| !m.levels.is_empty() && m.deliveries > 0));
        let json = serde_json::to_string(&state).unwrap();
        let back: ReplicationState = serde_json::from_str(&json).unwrap();
        // (`assert!`, not `assert_eq!`: a state's Debug is megabytes.)
        assert!(back == state, "read back: another state");
        let again = ReplicationState::of(&back.restore().unwrap());
        assert!(again == state, "restored: another state");
        assert!(serde_json::to_string(&again).unwrap() == json, "restored: other JSON");
    }

    /// A state whose counts disagree with its accumulators, or whose wrongly suspected time
    /// is not an integer, is refused naming the configuration; and such states are unequal.
    #[test]
    fn a_state_that_disagrees_with_itself_is_refused_naming_the_configuration() {
        let state = ReplicationState::of(&replication());
        let tampered = |change: fn(&mut ReportState)| {
            let mut s = state.clone();
            // Cannot fail: the first report with a listed mistake (asserted above).
            let r = reports(&mut s).find(|r| !r.listed.is_empty()).expect("a report with mistakes");
            let label = r.label.clone();
            change(r);
            (label, s.clone().restore().map(|_| ()).unwrap_err(), s == state)
        };
        // Equality is the state's (the accumulators and listed mistakes), not the figures
        // computed from it.
        for (change, equal) in [
            ((|r: &mut ReportState| r.qos.mistakes += 1) as fn(&mut ReportState), true),
            (|r| r.qos.mistakes_listed += 1, true),
            (|r| r.listed.push((0, 1, Cause::Network, false)), false),
        ] {
            let (label, e, same) = tampered(change);
            assert_eq!(e, format!("`{label}`: its mistake counts disagree with its accumulators"));
            assert_eq!(same, equal, "{e}");
        }
        let (label, e, same) = tampered(|r| r.wrong_ns = "1e9".into());
        assert_eq!((e, same), (format!("`{label}`: wrong_ns `1e9` is not an integer"), false));
    }
}
