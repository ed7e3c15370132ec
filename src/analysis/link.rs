//! One monitored link as every engine hands it to the analysis (DESIGN.md §1).
//!
//! An engine (the simulator, replay, live mode) knows the facts of a link: the datagrams
//! that reached the monitor, when the target was down, when the monitor was paused or
//! crashed, when the link was cut. It hands them to a [`LinkAnalysis`] in the monitor's
//! time line, in time order, and gets back the link's QoS reports at the end. The receive
//! policy, the monitor's crashes and restarts, the arrival statistics and the causes of
//! mistakes are all decided here, once, whatever the engine.

use super::bank::DetectorBank;
use super::qos::CauseWindows;
use super::stats::HdrCounts;
use super::truth::{DownWindow, GroundTruth};
use super::{QosReport, results::DatagramCounts};
use crate::detector::spec::DetectorPoint;
use crate::detector::{Arrival, DetectorSpec};
use crate::experiment::ReceivePolicy;
use crate::time::Nanos;
use std::collections::BTreeSet;

/// What an engine knows about one monitored link, in the monitor's time line. Windows are
/// `(from, to)`, ordered and disjoint within each list.
#[derive(Clone, Debug, Default)]
pub struct LinkFacts {
    /// When the target was crashed (ground truth).
    pub target_down: GroundTruth,
    /// The monitor's crashes: one with a recovery restarts its detectors fresh at the
    /// recovery; one without ends the link's observation where it begins.
    pub monitor_down: Vec<DownWindow>,
    /// The monitor's pauses, the target's sending pauses and the link's cuts: not down time,
    /// only the causes mistakes are attributed to.
    pub monitor_pauses: Vec<(Nanos, Nanos)>,
    pub target_pauses: Vec<(Nanos, Nanos)>,
    pub cuts: Vec<(Nanos, Nanos)>,
}

/// Counts over every datagram a monitor accepted: one-way delay and inter-arrival time (ns),
/// as bare bucket counts (a delivery is on the hot path), and how many.
#[derive(Clone, Debug, Default)]
pub struct ArrivalStats {
    pub delay: HdrCounts,
    pub interarrival: HdrCounts,
    pub deliveries: u64,
}

impl ArrivalStats {
    pub fn add(&mut self, other: &ArrivalStats) {
        self.delay.add(&other.delay);
        self.interarrival.add(&other.interarrival);
        self.deliveries += other.deliveries;
    }
}

/// A link's outcome: one report per detector configuration, in spec order, and how many
/// datagrams the detectors heard.
pub struct LinkOutcome {
    pub reports: Vec<(DetectorPoint, QosReport)>,
    pub delivered: u64,
    /// What happened to the datagrams on the way, when the engine knows (the simulator).
    pub counts: Option<DatagramCounts>,
}

/// The receive policy's memory of one link.
#[derive(Clone, Debug, Default)]
pub struct ReceiveState {
    incarnation: u64,
    highest: Option<u64>,
    seen: BTreeSet<(u64, u64)>,
}

/// How many (incarnation, seq) pairs `dedup` remembers; anything older counts as seen.
pub const DEDUP_HORIZON: usize = 65_536;

impl ReceiveState {
    /// Whether a datagram numbered `seq` of the sender's `incarnation` is handed to the
    /// detectors under `policy`.
    pub fn accept(&mut self, policy: ReceivePolicy, incarnation: u64, seq: u64) -> bool {
        match policy {
            ReceivePolicy::Raw => true,
            ReceivePolicy::Dedup => {
                // Remember a bounded horizon: anything older than it counts as seen. (Whether
                // the set holds 65,536 entries or one fewer changes no verdict, since what
                // falls out of it is older than its first entry: an equivalent mutant.)
                let fresh = self.seen.insert((incarnation, seq));
                if self.seen.len() > DEDUP_HORIZON {
                    self.seen.pop_first();
                }
                fresh && self.seen.first().is_some_and(|&first| (incarnation, seq) >= first)
            }
            ReceivePolicy::DropStale => {
                if incarnation > self.incarnation {
                    self.incarnation = incarnation;
                    self.highest = None;
                }
                let fresh = incarnation == self.incarnation && self.highest.is_none_or(|h| seq > h);
                if fresh {
                    self.highest = Some(seq);
                }
                fresh
            }
        }
    }
}

/// The analysis of one monitored link.
pub struct LinkAnalysis {
    bank: DetectorBank,
    policy: ReceivePolicy,
    receive: ReceiveState,
    monitor_down: Vec<DownWindow>,
    /// How many of `monitor_down` the link has been through.
    applied: usize,
    /// The monitor's crash-stop, once passed: observation ended there.
    stopped_at: Option<Nanos>,
    delivered: u64,
    last_arrival: Option<Nanos>,
}

impl LinkAnalysis {
    /// A link watched by `detectors`, with what the engine knows of it; datagrams pass
    /// `policy` before the detectors hear them.
    pub fn new(detectors: &[DetectorSpec], facts: LinkFacts, policy: ReceivePolicy) -> LinkAnalysis {
        let mut bank = DetectorBank::new(detectors, &facts.target_down);
        let target_down = facts.target_down.down_windows().iter().filter_map(|w| Some((w.from, w.to?))).collect();
        bank.set_cause(
            CauseWindows {
                monitor_pauses: facts.monitor_pauses,
                target_pauses: facts.target_pauses,
                target_down,
                cuts: facts.cuts,
            }
            .into_cause_fn(),
        );
        LinkAnalysis {
            bank,
            policy,
            receive: ReceiveState::default(),
            monitor_down: facts.monitor_down,
            applied: 0,
            stopped_at: None,
            delivered: 0,
            last_arrival: None,
        }
    }

    /// A datagram reached the monitor at `arrival.at`, `delay` after it was sent (when
    /// known). Returns whether the receive policy handed it to the detectors; if it did, it
    /// is counted in `stats` (when given: an engine that runs a link's detectors in several
    /// groups counts its arrivals in one). The caller has taken the link through the
    /// monitor's crashes up to `arrival.at` ([`Self::catch_up`]).
    #[inline(always)]
    pub fn receive(&mut self, arrival: &Arrival, delay: Option<Nanos>, stats: Option<&mut ArrivalStats>) -> bool {
        if self.policy != ReceivePolicy::Raw
            && let Some(seq) = arrival.seq
            && !self.receive.accept(self.policy, arrival.incarnation.unwrap_or(0), seq)
        {
            return false;
        }
        self.bank.on_arrival(arrival);
        self.delivered += 1;
        if let Some(stats) = stats {
            if let Some(previous) = self.last_arrival {
                stats.interarrival.record((arrival.at - previous).0);
            }
            if let Some(delay) = delay {
                stats.delay.record(delay.0);
            }
            stats.deliveries += 1;
        }
        self.last_arrival = Some(arrival.at);
        true
    }

    /// Keeps every suspicion interval (for cluster views; see
    /// [`DetectorBank::record_suspicions`]).
    pub fn record_suspicions(&mut self) {
        self.bank.record_suspicions();
    }

    /// Takes the link through the monitor's crashes that are `due` (by start time), in
    /// order: one with a recovery censors what the detectors suspected, forgets what the
    /// receive policy and the arrival statistics remembered and restarts the detectors
    /// fresh; a crash-stop ends the link's observation.
    pub fn catch_up(&mut self, due: impl Fn(Nanos) -> bool) {
        while let Some(w) = self.monitor_down.get(self.applied).filter(|w| due(w.from)) {
            match w.to {
                Some(_) => {
                    self.bank.on_monitor_crash(w.from);
                    self.receive = ReceiveState::default();
                    self.last_arrival = None;
                }
                None => self.stopped_at = Some(w.from),
            }
            self.applied += 1;
        }
    }

    /// The monitor's crash covering `t`, if it was down then. After [`Self::catch_up`] to
    /// `t`, only the last crash taken can (the windows are ordered and disjoint).
    pub fn monitor_down_at(&self, t: Nanos) -> Option<DownWindow> {
        self.monitor_down[..self.applied].last().copied().filter(|w| w.from <= t && w.to.is_none_or(|to| t < to))
    }

    /// Where the monitor's crash-stop ended observation, once the link has passed it.
    pub fn stopped_at(&self) -> Option<Nanos> {
        self.stopped_at
    }

    /// The monitor was paused from `from` to `to` and resumes at `to` (see
    /// [`DetectorBank::on_resume`]).
    pub fn on_resume(&mut self, from: Nanos, to: Nanos, timers_first: bool) {
        self.bank.on_resume(from, to, timers_first);
    }

    /// Every configuration's level at `t`, with whether it suspects.
    pub fn levels(&mut self, t: Nanos) -> impl Iterator<Item = (&DetectorPoint, f64, bool)> + '_ {
        self.bank.levels(t)
    }

    /// Ends the link at `end` (or at the monitor's crash-stop, if it came first).
    pub fn finish(self, end: Nanos, counts: Option<DatagramCounts>) -> LinkOutcome {
        LinkOutcome { reports: self.bank.finish(self.stopped_at.unwrap_or(end)), delivered: self.delivered, counts }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(s: &str) -> Vec<DetectorSpec> {
        vec![DetectorSpec::parse(s).unwrap()]
    }

    fn arrival(at: u64, incarnation: u64, seq: u64) -> Arrival {
        Arrival { at: Nanos(at), seq: Some(seq), incarnation: Some(incarnation), sent: None }
    }

    #[test]
    fn dedup_drops_a_pair_seen_before_and_anything_older_than_its_horizon() {
        let mut r = ReceiveState::default();
        assert!(r.accept(ReceivePolicy::Dedup, 0, 5));
        assert!(!r.accept(ReceivePolicy::Dedup, 0, 5));
        assert!(r.accept(ReceivePolicy::Dedup, 0, 3), "older but unseen: accepted");
        assert!(r.accept(ReceivePolicy::Dedup, 1, 5), "same seq, new incarnation");
        for seq in 10..10 + DEDUP_HORIZON as u64 {
            assert!(r.accept(ReceivePolicy::Dedup, 1, seq));
        }
        assert_eq!(r.seen.len(), DEDUP_HORIZON);
        // (1, 9) is older than everything remembered: treated as seen.
        assert!(!r.accept(ReceivePolicy::Dedup, 1, 9));
        assert!(!r.accept(ReceivePolicy::Dedup, 0, 4));
    }

    #[test]
    fn drop_stale_keeps_only_rising_seqs_of_the_newest_incarnation() {
        let mut r = ReceiveState::default();
        assert!(r.accept(ReceivePolicy::DropStale, 0, 5));
        assert!(!r.accept(ReceivePolicy::DropStale, 0, 5));
        assert!(!r.accept(ReceivePolicy::DropStale, 0, 4));
        assert!(r.accept(ReceivePolicy::DropStale, 0, 6));
        assert!(r.accept(ReceivePolicy::DropStale, 2, 0), "a restart begins again at 0");
        assert!(!r.accept(ReceivePolicy::DropStale, 1, 100), "an older incarnation");
        assert!(r.accept(ReceivePolicy::DropStale, 2, 1));
        let mut raw = ReceiveState::default();
        assert!((0..3).all(|_| raw.accept(ReceivePolicy::Raw, 0, 1)));
    }

    #[test]
    fn the_policy_filters_what_the_detectors_and_the_statistics_see() {
        let mut link = LinkAnalysis::new(&spec("fixed:timeout=10ns"), LinkFacts::default(), ReceivePolicy::Dedup);
        let mut stats = ArrivalStats::default();
        assert!(link.receive(&arrival(100, 0, 1), Some(Nanos(7)), Some(&mut stats)));
        assert!(!link.receive(&arrival(105, 0, 1), Some(Nanos(12)), Some(&mut stats)), "a duplicate");
        assert!(link.receive(&arrival(108, 0, 2), None, Some(&mut stats)));
        assert_eq!(stats.deliveries, 2);
        let (delay, gaps) = (stats.delay.to_histogram(), stats.interarrival.to_histogram());
        assert_eq!((delay.len(), delay.max()), (1, 7));
        assert_eq!((gaps.len(), gaps.min(), gaps.max()), (1, 8, 8));
        let outcome = link.finish(Nanos(200), None);
        assert_eq!(outcome.delivered, 2);
        // Silent from 108 to 200: suspected from 118 on, one suspicion still open (the
        // target never crashed: a mistake censored by the run's end).
        let q = &outcome.reports[0].1;
        assert_eq!((q.heartbeats, q.mistakes, q.censored.count), (2, 0, 1));
    }

    #[test]
    fn a_monitor_crash_restarts_detectors_and_forgets_the_last_arrival() {
        let facts = LinkFacts {
            monitor_down: vec![
                DownWindow { from: Nanos(50), to: Some(Nanos(60)) },
                DownWindow { from: Nanos(90), to: None },
            ],
            ..LinkFacts::default()
        };
        let mut link = LinkAnalysis::new(&spec("fixed:timeout=20ns"), facts, ReceivePolicy::DropStale);
        let mut stats = ArrivalStats::default();
        assert!(link.receive(&arrival(10, 0, 7), None, Some(&mut stats)));
        link.catch_up(|from| from <= Nanos(49));
        assert_eq!((link.monitor_down_at(Nanos(49)), link.stopped_at()), (None, None));
        link.catch_up(|from| from <= Nanos(55));
        assert_eq!(link.monitor_down_at(Nanos(55)), Some(DownWindow { from: Nanos(50), to: Some(Nanos(60)) }));
        assert_eq!(link.monitor_down_at(Nanos(60)), None);
        // The restarted process accepts seq 7 again (its policy's memory is gone), and the
        // gap across the crash is no inter-arrival time.
        assert!(link.receive(&arrival(70, 0, 7), None, Some(&mut stats)));
        assert_eq!(stats.interarrival.to_histogram().len(), 0);
        link.catch_up(|from| from <= Nanos(95));
        assert_eq!(link.stopped_at(), Some(Nanos(90)));
        let outcome = link.finish(Nanos(1_000), None);
        let q = &outcome.reports[0].1;
        // Suspected from 30 (censored by the crash at 50) and from 90 (the crash-stop ends
        // observation: nothing open at the end).
        assert_eq!((q.mistakes, q.censored.count), (0, 1));
        // Observed from the first heartbeat each process heard to its crash: [10, 50) and
        // [70, 90).
        assert!((q.observed_up_s - 60e-9).abs() < 1e-15, "{}", q.observed_up_s);
    }

    #[test]
    fn causes_come_from_the_facts() {
        use crate::analysis::qos::Cause;
        let mut target_down = GroundTruth::always_up();
        target_down.push_down(DownWindow { from: Nanos(300), to: Some(Nanos(310)) });
        let facts = LinkFacts {
            target_down,
            monitor_pauses: vec![(Nanos(100), Nanos(150))],
            target_pauses: vec![(Nanos(500), Nanos(550))],
            cuts: vec![(Nanos(700), Nanos(750))],
            ..LinkFacts::default()
        };
        let mut link = LinkAnalysis::new(&spec("fixed:timeout=20ns"), facts, ReceivePolicy::Raw);
        let mut stats = ArrivalStats::default();
        // Heartbeats every 10 ns but in five silences, each longer than the timeout and
        // meeting one kind of window (the last one none).
        let silences = [(90, 160), (290, 320), (490, 560), (690, 760), (890, 930)];
        for at in (0..=93).map(|i| i * 10).filter(|&t| !silences.iter().any(|&(a, b)| a < t && t < b)) {
            link.receive(&Arrival::at(Nanos(at)), None, Some(&mut stats));
        }
        let q = &link.finish(Nanos(930), None).reports[0].1;
        let by = |c: Cause| q.mistakes_by_cause.get(&c).copied().unwrap_or(0);
        assert_eq!(
            [by(Cause::MonitorPause), by(Cause::Recovery), by(Cause::TargetPause), by(Cause::Partition)],
            [1, 1, 1, 1]
        );
        assert_eq!(by(Cause::Network), 1, "{:?}", q.mistakes_by_cause);
    }
}
