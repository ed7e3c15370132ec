//! Classifying suspicion intervals against ground truth: Chen's QoS metrics as fdlab
//! defines them (REFERENCES.md §1).
//!
//! Each suspicion interval `[start, end)` (or open at the end of the run) is split by the
//! target's down windows:
//! - the part while the target is up is a **mistake**, begun by a false S-transition at
//!   its start, or at a recovery if the suspicion outlived the crash; a mistake open at a
//!   crash ends at the crash;
//! - a suspicion inside a down window that lasts until the window ends (the recovery, or for
//!   ever) is the crash's **detection**; its start (or the crash, if it began earlier) is the
//!   final S-transition, and T_D is measured from the crash;
//! - a mistake still open when the run ends is **censored**: not counted in the mistakes,
//!   reported apart with its length so far as a lower bound.
//!
//! λ_M is mistakes divided by the time the target was up and observed (from the first
//! heartbeat heard to the end of the run, down time removed). P_A is the share of that
//! time during which the detector was not wrongly suspecting (censored time included).
//!
//! A monitor that crashes stops observing (what it suspected then is censored there); when
//! it restarts, observation resumes at the first heartbeat it hears. A target crash that
//! begins while nobody observes cannot be detected and is reported as unobserved.

use serde::{Deserialize, Serialize};

use super::stats::{DurationStats, Summary, poisson_rate_ci95};
use super::truth::GroundTruth;
use crate::time::Nanos;

/// Why a mistake happened, as far as the engine knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// Delay or loss on the link (the only cause a replayed trace can name).
    Network,
    /// The link was cut by a partition.
    Partition,
    /// The target was paused (alive but silent).
    TargetPause,
    /// The monitor itself was paused.
    MonitorPause,
    /// The suspicion of a crashed target outlived its recovery.
    Recovery,
}

/// Mistakes listed one by one per configuration (for `mistakes.csv`); beyond this only the
/// counts and distributions are kept, so a flapping detector over a long run stays bounded.
pub const MAX_LISTED: usize = 100_000;

/// One false suspicion: `[start, end)` while the target was up (`censored`: still open at
/// the end of the run, `end` is the run's end).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mistake {
    pub start: Nanos,
    pub end: Nanos,
    pub cause: Cause,
    pub censored: bool,
}

impl Cause {
    pub fn name(self) -> &'static str {
        match self {
            Cause::Network => "network",
            Cause::Partition => "partition",
            Cause::TargetPause => "target_pause",
            Cause::MonitorPause => "monitor_pause",
            Cause::Recovery => "recovery",
        }
    }
}

/// The windows (half-open, `[from, to)`, in the monitor's clock) that a silence before a
/// suspicion may have met, from which an engine names a mistake's cause.
#[derive(Clone, Debug, Default)]
pub struct CauseWindows {
    pub monitor_pauses: Vec<(Nanos, Nanos)>,
    pub target_pauses: Vec<(Nanos, Nanos)>,
    /// The target's crashes with a recovery.
    pub target_down: Vec<(Nanos, Nanos)>,
    pub cuts: Vec<(Nanos, Nanos)>,
}

impl CauseWindows {
    /// The cause of a mistake whose silence ran from `silence_from` (the last arrival) to
    /// `start` (the suspicion), by the first kind of window it met in this order: the
    /// monitor's pause, the target's pause, a down window of the target (it crashed and
    /// recovered before the suspicion began: `recovery`), a partition, else the network.
    pub fn cause(&self, silence_from: Nanos, start: Nanos) -> Cause {
        let meets = |ws: &[(Nanos, Nanos)]| ws.iter().any(|&(from, to)| from <= start && to > silence_from);
        if meets(&self.monitor_pauses) {
            Cause::MonitorPause
        } else if meets(&self.target_pauses) {
            Cause::TargetPause
        } else if meets(&self.target_down) {
            Cause::Recovery
        } else if meets(&self.cuts) {
            Cause::Partition
        } else {
            Cause::Network
        }
    }

    pub fn into_cause_fn(self) -> super::bank::CauseFn {
        Box::new(move |silence_from, start| self.cause(silence_from, start))
    }
}

pub const CAUSES: [Cause; 5] =
    [Cause::Network, Cause::Partition, Cause::TargetPause, Cause::MonitorPause, Cause::Recovery];

/// Accumulates the QoS of one detector configuration on one monitored link.
#[derive(Clone, Debug)]
pub struct QosAccumulator {
    truth: GroundTruth,
    /// Index of the first down window that may still matter (earlier ones ended before
    /// the latest suspicion began).
    cursor: usize,
    /// Detection instant (final S-transition) per down window.
    detected_at: Vec<Option<Nanos>>,
    /// Observation periods that have ended, and the start of the current one.
    observed: Vec<(Nanos, Nanos)>,
    observing_since: Option<Nanos>,
    mistakes: DurationStats,
    recurrence: DurationStats,
    last_mistake_start: Option<Nanos>,
    wrong_ns: u128,
    censored: Vec<(Nanos, Nanos)>,
    listed: Vec<Mistake>,
    by_cause: [u64; CAUSES.len()],
    per_heartbeat_detection: DurationStats,
    heartbeats: u64,
}

impl QosAccumulator {
    pub fn new(truth: GroundTruth) -> QosAccumulator {
        let windows = truth.down_windows().len();
        QosAccumulator {
            truth,
            cursor: 0,
            detected_at: vec![None; windows],
            observed: Vec::new(),
            observing_since: None,
            mistakes: DurationStats::default(),
            recurrence: DurationStats::default(),
            last_mistake_start: None,
            wrong_ns: 0,
            censored: Vec::new(),
            listed: Vec::new(),
            by_cause: [0; CAUSES.len()],
            per_heartbeat_detection: DurationStats::default(),
            heartbeats: 0,
        }
    }

    /// A heartbeat was delivered at `at`; `estimate` is how long after its sending (or its
    /// arrival, when the send time is unknown) the detector would suspect if it were the
    /// last one: the per-heartbeat detection-time estimate of the φ paper.
    pub fn on_heartbeat(&mut self, at: Nanos, estimate: Option<Nanos>) {
        self.observing_since.get_or_insert(at);
        self.heartbeats += 1;
        // Reported only when there is no crash to measure (see `report`).
        if let Some(e) = estimate
            && self.truth.down_windows().is_empty()
        {
            self.per_heartbeat_detection.record(e.0);
        }
    }

    /// A suspicion from `start` to `end` (`None`: still open when the run ended at `run_end`).
    /// Intervals come in time order. `cause` names the cause of a mistake starting at a
    /// given instant.
    pub fn on_suspicion(&mut self, start: Nanos, end: Option<Nanos>, run_end: Nanos, cause: impl Fn(Nanos) -> Cause) {
        self.suspicion(start, end, run_end, Nanos::MAX, cause);
    }

    /// The observer stopped at `at` (the monitor crashed) with a suspicion from `open` (or
    /// one due to begin then) not yet over: censored at `at`. A crash of the target that it
    /// covers was detected; crashes that begin later were not seen by this observer.
    /// Observation resumes at the next heartbeat.
    pub fn on_observer_stop(&mut self, open: Option<Nanos>, at: Nanos, cause: impl Fn(Nanos) -> Cause) {
        if let Some(start) = open.filter(|&start| start < at) {
            self.suspicion(start, None, at, at, cause);
        }
        if let Some(since) = self.observing_since.take() {
            self.observed.push((since, at.max(since)));
        }
        // Recurrence is measured between mistakes of one observation period.
        self.last_mistake_start = None;
    }

    /// Splits a suspicion by the target's down windows, ignoring windows that begin at or
    /// after `horizon` (the end of what the observer saw).
    fn suspicion(
        &mut self,
        start: Nanos,
        end: Option<Nanos>,
        run_end: Nanos,
        horizon: Nanos,
        cause: impl Fn(Nanos) -> Cause,
    ) {
        if end == Some(start) {
            // Suspected and trusted again at one instant (a check that fired before the
            // datagrams buffered during a stall were drained): the system acted on it, so
            // while the target is up it is a mistake, of zero duration.
            if !self.truth.is_down(start) {
                self.mistake(start, start, cause(start));
            }
            return;
        }
        let stop = end.unwrap_or(Nanos::MAX);
        let mut cur = start;
        let mut cur_cause = None;
        while let Some(&w) = self.truth.down_windows().get(self.cursor) {
            if w.to.is_some_and(|to| to <= cur) {
                self.cursor += 1;
                continue;
            }
            if w.from >= stop || w.from >= horizon {
                break;
            }
            if cur < w.from {
                // Up until the crash: a mistake, ended by the crash.
                let c = cur_cause.unwrap_or_else(|| cause(cur));
                self.mistake(cur, w.from, c);
            }
            let inside = cur.max(w.from);
            match w.to {
                Some(recovery) if stop <= recovery => {
                    // Trust came back while still down (in-flight heartbeats): not final.
                    cur = stop;
                    break;
                }
                Some(recovery) => {
                    // Outlived the recovery: detected; a mistake from the recovery on (the
                    // loop's first step then moves past this window).
                    self.detected_at[self.cursor] = Some(inside);
                    cur = recovery;
                    cur_cause = Some(Cause::Recovery);
                }
                None => {
                    if end.is_none() {
                        self.detected_at[self.cursor] = Some(inside);
                    }
                    cur = stop;
                    break;
                }
            }
        }
        if cur >= stop {
            return;
        }
        let c = cur_cause.unwrap_or_else(|| cause(cur));
        match end {
            Some(end) => self.mistake(cur, end, c),
            None if cur < run_end => {
                self.censored.push((cur, run_end - cur));
                self.wrong_ns += (run_end - cur).0 as u128;
                if self.listed.len() < MAX_LISTED {
                    self.listed.push(Mistake { start: cur, end: run_end, cause: c, censored: true });
                }
            }
            None => {}
        }
    }

    fn mistake(&mut self, start: Nanos, end: Nanos, cause: Cause) {
        self.mistakes.record((end - start).0);
        self.wrong_ns += (end - start).0 as u128;
        if let Some(previous) = self.last_mistake_start {
            self.recurrence.record((start - previous).0);
        }
        self.last_mistake_start = Some(start);
        if self.listed.len() < MAX_LISTED {
            self.listed.push(Mistake { start, end, cause, censored: false });
        }
        // Cannot fail: every Cause is in CAUSES.
        let slot = CAUSES.iter().position(|&c| c == cause).expect("listed cause");
        self.by_cause[slot] += 1;
    }

    /// The metrics, for a run that ended at `run_end` (consumes the accumulator: its lists
    /// and histograms move into the report rather than being copied).
    pub fn report(self, run_end: Nanos) -> QosReport {
        let periods: Vec<(Nanos, Nanos)> = self
            .observed
            .iter()
            .copied()
            .chain(self.observing_since.map(|since| (since, run_end)))
            .map(|(from, to)| (from.min(run_end), to.min(run_end)))
            .collect();
        let up = periods
            .iter()
            .map(|&(from, to)| (to - from).saturating_sub(self.truth.down_time_within(from, to)))
            .fold(Nanos::ZERO, |a, b| a + b);
        let count = self.mistakes.count();
        let mut detection = DurationStats::default();
        let mut crashes = Vec::new();
        for (w, detected) in self.truth.down_windows().iter().zip(&self.detected_at) {
            if let Some(at) = detected {
                detection.record((*at - w.from).0);
            }
            crashes.push(CrashOutcome {
                observed: periods.iter().any(|&(from, to)| from <= w.from && w.from < to),
                at_s: w.from.as_secs_f64(),
                recovered_at_s: w.to.map(Nanos::as_secs_f64),
                detection_time_s: detected.map(|at| (at - w.from).as_secs_f64()),
            });
        }
        let (detection_basis, detection) = if self.truth.down_windows().is_empty() {
            (DetectionBasis::PerHeartbeatEstimate, self.per_heartbeat_detection)
        } else {
            (DetectionBasis::Crashes, detection)
        };
        let exact = Exact { up, wrong_ns: self.wrong_ns, mistakes: self.mistakes, detection };
        let recurrence_summary = (count >= 2).then(|| self.recurrence.summary());
        QosReport {
            recurrence: self.recurrence,
            heartbeats: self.heartbeats,
            censored: Censored {
                count: self.censored.len() as u64,
                durations_so_far_s: self.censored.iter().map(|(_, d)| d.as_secs_f64()).collect(),
            },
            crashes,
            mistakes_listed: self.listed.len(),
            listed: self.listed,
            ..QosReport::from_exact(
                exact,
                recurrence_summary,
                CAUSES.iter().zip(self.by_cause).filter(|(_, n)| *n > 0).map(|(c, n)| (*c, n)).collect(),
                detection_basis,
            )
        }
    }
}

/// The integer accumulators behind a report's figures, kept so that figures over several
/// links are computed from sums of integers, never from each link's rounded figures.
#[derive(Clone, Debug, Default)]
pub struct Exact {
    /// Time the target was up and observed.
    pub up: Nanos,
    /// Time spent wrongly suspecting it (censored suspicions included).
    pub wrong_ns: u128,
    /// Mistake durations (ns).
    pub mistakes: DurationStats,
    /// Detection times (ns): over crashes, or the per-heartbeat estimate without crashes.
    pub detection: DurationStats,
}

impl Exact {
    /// Adds another link's accumulators; its detection times only `with_detection` (totals
    /// take them from the links of one detection basis).
    pub fn add(&mut self, other: &Exact, with_detection: bool) {
        self.up = self.up + other.up;
        self.wrong_ns += other.wrong_ns;
        self.mistakes.add(&other.mistakes);
        if with_detection {
            self.detection.add(&other.detection);
        }
    }
}

impl QosReport {
    /// The figures that follow from the accumulators alone (the rest is left empty).
    pub fn from_exact(
        exact: Exact,
        mistake_recurrence_s: Option<Summary>,
        mistakes_by_cause: std::collections::BTreeMap<Cause, u64>,
        detection_basis: DetectionBasis,
    ) -> QosReport {
        let up_s = exact.up.as_secs_f64();
        let count = exact.mistakes.count();
        let rate = (up_s > 0.0).then(|| count as f64 / up_s);
        QosReport {
            heartbeats: 0,
            observed_up_s: up_s,
            mistakes: count,
            mistake_rate_per_s: rate,
            mistake_rate_per_s_ci95: poisson_rate_ci95(count, up_s),
            mistake_rate_ci_method: RateInterval::ExactPoisson,
            mistakes_per_day: rate.map(|r| r * 86_400.0),
            mistake_duration_s: exact.mistakes.summary(),
            mistake_recurrence_s,
            // 1 − wrong/up, the ratio taken in integers first (exact to the last bit of f64).
            query_accuracy: (exact.up > Nanos::ZERO)
                .then(|| (exact.up.0 as u128).saturating_sub(exact.wrong_ns) as f64 / exact.up.0 as f64),
            mistakes_by_cause,
            censored: Censored { count: 0, durations_so_far_s: Vec::new() },
            detection_time_s: exact.detection.summary(),
            detection_basis,
            crashes: Vec::new(),
            mistakes_listed: 0,
            listed: Vec::new(),
            exact,
            suspicions: Vec::new(),
            recurrence: DurationStats::default(),
        }
    }
}

/// A crash and whether (and how fast) it was detected.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct CrashOutcome {
    /// Whether the crash began while the monitor was observing (after its first heartbeat,
    /// outside its own down time); an unobserved crash cannot be detected.
    pub observed: bool,
    pub at_s: f64,
    pub recovered_at_s: Option<f64>,
    /// `null`: not detected before the target recovered (or ever).
    pub detection_time_s: Option<f64>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Censored {
    pub count: u64,
    pub durations_so_far_s: Vec<f64>,
}

/// What a detection time (`detection_time_s`) was measured over.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DetectionBasis {
    /// The crashes of the target (injected or declared): T_D as measured.
    #[serde(rename = "crashes")]
    Crashes,
    /// There was no crash: for each heartbeat, how long after it the detector would have
    /// suspected had the target crashed right then (the φ paper's estimate).
    #[serde(rename = "per-heartbeat estimate")]
    PerHeartbeatEstimate,
}

/// How `mistake_rate_per_s_ci95` was computed (the file says it in words).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RateInterval {
    /// Garwood's exact interval from the chi-square distribution (`super::poisson`).
    #[serde(rename = "exact Poisson (chi-square), assumes independent mistakes")]
    ExactPoisson,
}

/// The QoS metrics of one detector configuration on one link. Written into `summary.json`
/// (flattened into each `results[]` entry) and read back from it by the charts and the report;
/// the fields skipped there (`listed`, `exact`) are empty in a report read from a file.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct QosReport {
    pub heartbeats: u64,
    pub observed_up_s: f64,
    pub mistakes: u64,
    pub mistake_rate_per_s: Option<f64>,
    pub mistake_rate_per_s_ci95: Option<[f64; 2]>,
    pub mistake_rate_ci_method: RateInterval,
    pub mistakes_per_day: Option<f64>,
    pub mistake_duration_s: Summary,
    /// T_MR, only with at least two mistakes.
    pub mistake_recurrence_s: Option<Summary>,
    pub query_accuracy: Option<f64>,
    pub mistakes_by_cause: std::collections::BTreeMap<Cause, u64>,
    pub censored: Censored,
    pub detection_time_s: Summary,
    /// `crashes` (measured T_D) or `per-heartbeat estimate` (no crash declared).
    pub detection_basis: DetectionBasis,
    pub crashes: Vec<CrashOutcome>,
    /// How many mistakes (censored ones included) `mistakes.csv` lists: all of them, up to
    /// [`MAX_LISTED`].
    pub mistakes_listed: usize,
    #[serde(skip)]
    pub listed: Vec<Mistake>,
    /// The integer accumulators, for exact figures over several links.
    #[serde(skip)]
    pub exact: Exact,
    /// Every suspicion interval `[start, end)`, zero-length ones included, when the engine
    /// asked for them (cluster views, [`crate::analysis::cluster`]); the monitor's time line
    /// until the engine converts it.
    #[serde(skip)]
    pub suspicions: Vec<(Nanos, Nanos)>,
    /// The times between consecutive mistakes behind `mistake_recurrence_s`, to pool
    /// replications exactly.
    #[serde(skip)]
    pub recurrence: DurationStats,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::truth::DownWindow;

    fn s(x: u64) -> Nanos {
        Nanos::from_secs(x)
    }
    fn net(_: Nanos) -> Cause {
        Cause::Network
    }

    #[test]
    fn causes_are_read_from_the_windows_the_silence_met_in_their_order() {
        let w = |a: u64, b: u64| vec![(s(a), s(b))];
        let all = CauseWindows {
            monitor_pauses: w(10, 11),
            target_pauses: w(20, 21),
            target_down: w(30, 31),
            cuts: w(40, 41),
        };
        // A silence from `from` to `to` meets a window [a, b) when a ≤ to and b > from.
        assert_eq!(all.cause(s(9), s(10)), Cause::MonitorPause);
        assert_eq!(all.cause(s(11), s(15)), Cause::Network, "a window that ended as the silence began");
        assert_eq!(all.cause(s(5), s(9)), Cause::Network, "a window that begins after the suspicion");
        assert_eq!(all.cause(s(19), s(20)), Cause::TargetPause);
        assert_eq!(all.cause(s(29), s(35)), Cause::Recovery);
        assert_eq!(all.cause(s(31), s(35)), Cause::Network);
        assert_eq!(all.cause(s(39), s(45)), Cause::Partition);
        // Several met: monitor pause > target pause > recovery > partition.
        assert_eq!(all.cause(s(0), s(50)), Cause::MonitorPause);
        assert_eq!(all.cause(s(15), s(50)), Cause::TargetPause);
        assert_eq!(all.cause(s(25), s(50)), Cause::Recovery);
        let f = all.into_cause_fn();
        assert_eq!(f(s(35), s(40)), Cause::Partition);
    }

    #[test]
    fn instants_shared_by_a_suspicion_and_a_crash_or_the_end() {
        let mut truth = GroundTruth::always_up();
        truth.push_down(DownWindow { from: s(10), to: Some(s(20)) });
        // A suspicion that begins exactly at the crash: no zero-length mistake before it.
        let mut q = QosAccumulator::new(truth.clone());
        q.on_heartbeat(s(0), None);
        q.on_suspicion(s(10), Some(s(25)), s(100), net);
        let r = q.report(s(100));
        assert_eq!(r.crashes[0].detection_time_s, Some(0.0));
        assert_eq!((r.mistakes, r.mistake_duration_s.max), (1, Some(5.0)), "only the 5 s after the recovery");
        // A suspicion due exactly when the monitor stops did not begin before it: it neither
        // detects the crash under way nor is censored.
        let mut q = QosAccumulator::new(truth);
        q.on_heartbeat(s(0), None);
        q.on_observer_stop(Some(s(15)), s(15), net);
        let r = q.report(s(100));
        assert_eq!((r.crashes[0].detection_time_s, r.censored.count), (None, 0));
        // A crash at the very instant the observer stops was not observed.
        let mut q = QosAccumulator::new(GroundTruth::crash_stop(s(20)));
        q.on_heartbeat(s(0), None);
        q.on_observer_stop(None, s(20), net);
        assert!(!q.report(s(100)).crashes[0].observed);
        let mut q = QosAccumulator::new(GroundTruth::crash_stop(s(20)));
        q.on_heartbeat(s(0), None);
        q.on_observer_stop(None, s(21), net);
        assert!(q.report(s(100)).crashes[0].observed);
        // A suspicion due exactly at the end of the run is not censored (nothing of it was seen).
        let mut q = QosAccumulator::new(GroundTruth::always_up());
        q.on_heartbeat(s(0), None);
        q.on_suspicion(s(100), None, s(100), net);
        let r = q.report(s(100));
        assert_eq!((r.censored.count, r.mistakes, r.listed.len()), (0, 0, 0));
        assert_eq!(r.query_accuracy, Some(1.0));
    }

    #[test]
    fn nothing_observed_gives_no_rate_and_no_accuracy() {
        let r = QosAccumulator::new(GroundTruth::always_up()).report(s(100));
        assert_eq!((r.observed_up_s, r.mistakes), (0.0, 0));
        assert_eq!((r.mistake_rate_per_s, r.mistakes_per_day, r.query_accuracy), (None, None, None));
        assert_eq!(r.mistake_rate_per_s_ci95, None);
        // One nanosecond observed is enough.
        let mut q = QosAccumulator::new(GroundTruth::always_up());
        q.on_heartbeat(Nanos(99), None);
        let r = q.report(Nanos(100));
        assert_eq!((r.query_accuracy, r.mistake_rate_per_s), (Some(1.0), Some(0.0)));
    }

    #[test]
    fn mistakes_are_listed_up_to_the_cap_and_counted_beyond_it() {
        let mut q = QosAccumulator::new(GroundTruth::always_up());
        q.on_heartbeat(Nanos(0), None);
        let n = MAX_LISTED as u64 + 5;
        for i in 0..n {
            q.on_suspicion(Nanos(10 * i + 1), Some(Nanos(10 * i + 3)), Nanos(10 * n), net);
        }
        let r = q.report(Nanos(10 * n));
        assert_eq!((r.mistakes, r.listed.len(), r.mistakes_listed), (n, MAX_LISTED, MAX_LISTED));
        assert_eq!(r.mistake_duration_s.mean, Some(2e-9));
        // Censored suspicions (one per observation period) are capped in the same list.
        let mut q = QosAccumulator::new(GroundTruth::always_up());
        for i in 0..MAX_LISTED as u64 + 3 {
            q.on_heartbeat(Nanos(10 * i), None);
            q.on_observer_stop(Some(Nanos(10 * i + 1)), Nanos(10 * i + 4), net);
        }
        let r = q.report(Nanos(u64::MAX / 2));
        assert_eq!((r.censored.count, r.listed.len()), (MAX_LISTED as u64 + 3, MAX_LISTED));
        assert!(r.listed.iter().all(|m| m.censored && m.end - m.start == Nanos(3)));
    }

    #[test]
    fn causes_have_the_names_the_files_use() {
        let names: Vec<&str> = CAUSES.iter().map(|c| c.name()).collect();
        assert_eq!(names, ["network", "partition", "target_pause", "monitor_pause", "recovery"]);
        // The JSON keys of `mistakes_by_cause` are the same names.
        for c in CAUSES {
            assert_eq!(serde_json::to_string(&c).unwrap(), format!("\"{}\"", c.name()));
        }
    }

    #[test]
    fn mistakes_rate_and_accuracy_without_crashes() {
        let mut q = QosAccumulator::new(GroundTruth::always_up());
        q.on_heartbeat(s(0), None);
        q.on_suspicion(s(10), Some(s(12)), s(100), net);
        q.on_suspicion(s(50), Some(s(51)), s(100), net);
        q.on_suspicion(s(90), None, s(100), net);
        let r = q.report(s(100));
        assert_eq!(r.mistakes, 2);
        assert_eq!(r.mistake_rate_per_s, Some(0.02));
        assert_eq!(r.mistake_duration_s.mean, Some(1.5));
        assert_eq!(r.mistake_recurrence_s.unwrap().mean, Some(40.0));
        assert_eq!(r.censored.count, 1);
        assert_eq!(r.censored.durations_so_far_s, vec![10.0]);
        let listed: Vec<(u64, u64, bool)> =
            r.listed.iter().map(|m| (m.start.0 / 1_000_000_000, m.end.0 / 1_000_000_000, m.censored)).collect();
        assert_eq!(listed, vec![(10, 12, false), (50, 51, false), (90, 100, true)]);
        assert!((r.query_accuracy.unwrap() - (1.0 - 13.0 / 100.0)).abs() < 1e-12);
    }

    #[test]
    fn a_zero_length_suspicion_while_up_is_a_mistake() {
        let mut q = QosAccumulator::new(GroundTruth::crash_stop(s(50)));
        q.on_heartbeat(s(0), None);
        q.on_suspicion(s(10), Some(s(10)), s(100), net);
        q.on_suspicion(s(60), Some(s(60)), s(100), net);
        let r = q.report(s(100));
        assert_eq!(r.mistakes, 1);
        assert_eq!(r.mistake_duration_s.max, Some(0.0));
        // At the edges of a down window [10 s, 20 s): down at its start, up at its end.
        let mut truth = GroundTruth::always_up();
        truth.push_down(DownWindow { from: s(10), to: Some(s(20)) });
        let mut q = QosAccumulator::new(truth);
        q.on_heartbeat(s(0), None);
        q.on_suspicion(s(10), Some(s(10)), s(100), net);
        q.on_suspicion(s(20), Some(s(20)), s(100), net);
        let r = q.report(s(100));
        assert_eq!(r.listed.iter().map(|m| m.start).collect::<Vec<_>>(), [s(20)]);
    }

    #[test]
    fn suspicion_open_at_crash_is_a_mistake_ended_by_it_and_detects_at_once() {
        let mut q = QosAccumulator::new(GroundTruth::crash_stop(s(20)));
        q.on_heartbeat(s(0), None);
        q.on_suspicion(s(15), None, s(30), net);
        let r = q.report(s(30));
        assert_eq!(r.mistakes, 1);
        assert_eq!(r.mistake_duration_s.mean, Some(5.0));
        assert_eq!(r.crashes[0].detection_time_s, Some(0.0));
        assert_eq!(r.observed_up_s, 20.0);
        assert_eq!(r.censored.count, 0);
    }

    #[test]
    fn only_the_final_suspicion_detects_a_crash() {
        let mut q = QosAccumulator::new(GroundTruth::crash_stop(s(20)));
        q.on_heartbeat(s(0), None);
        // Suspected after the crash, then an in-flight heartbeat restored trust.
        q.on_suspicion(s(21), Some(s(22)), s(30), net);
        q.on_suspicion(s(25), None, s(30), net);
        let r = q.report(s(30));
        assert_eq!(r.mistakes, 0);
        assert_eq!(r.crashes[0].detection_time_s, Some(5.0));
        // Detection is known even when it falls after the run's end.
        let mut q = QosAccumulator::new(GroundTruth::crash_stop(s(20)));
        q.on_heartbeat(s(0), None);
        q.on_suspicion(s(40), None, s(30), net);
        assert_eq!(q.report(s(30)).crashes[0].detection_time_s, Some(20.0));
    }

    #[test]
    fn an_observer_that_stops_censors_and_observes_again_from_its_next_heartbeat() {
        let mut q = QosAccumulator::new(GroundTruth::crash_stop(s(50)));
        q.on_heartbeat(s(0), None);
        q.on_observer_stop(Some(s(10)), s(20), net);
        // A crossing due after the stop never began (and stopping twice changes nothing).
        q.on_observer_stop(Some(s(25)), s(20), net);
        q.on_heartbeat(s(30), None);
        q.on_suspicion(s(40), Some(s(45)), s(100), net);
        let r = q.report(s(100));
        assert_eq!((r.censored.count, r.censored.durations_so_far_s.clone()), (1, vec![10.0]));
        assert_eq!(r.mistakes, 1);
        // Up and observed: [0, 20) and [30, 50).
        assert_eq!(r.observed_up_s, 40.0);
        assert!((r.query_accuracy.unwrap() - (1.0 - 15.0 / 40.0)).abs() < 1e-12);
        assert!(r.crashes[0].observed);
        assert_eq!(r.crashes[0].detection_time_s, None);

        // A crash after the observer stopped (and never came back) is not seen, even though
        // the suspicion it held would have covered it.
        let mut q = QosAccumulator::new(GroundTruth::crash_stop(s(25)));
        q.on_heartbeat(s(0), None);
        q.on_observer_stop(Some(s(10)), s(20), net);
        let r = q.report(s(100));
        assert_eq!((r.crashes[0].observed, r.crashes[0].detection_time_s), (false, None));
        assert_eq!((r.mistakes, r.censored.count, r.observed_up_s), (0, 1, 20.0));

        // A suspicion the observer still held when it stopped detects a crash it covered.
        let mut q = QosAccumulator::new(GroundTruth::crash_stop(s(15)));
        q.on_heartbeat(s(0), None);
        q.on_observer_stop(Some(s(12)), s(20), net);
        let r = q.report(s(100));
        assert_eq!((r.crashes[0].observed, r.crashes[0].detection_time_s), (true, Some(0.0)));
        assert_eq!((r.mistakes, r.censored.count), (1, 0));
        assert_eq!(r.mistake_duration_s.max, Some(3.0));
    }

    #[test]
    fn suspicion_outliving_a_recovery_is_a_mistake_from_the_recovery() {
        let mut truth = GroundTruth::always_up();
        assert!(truth.push_down(DownWindow { from: s(10), to: Some(s(20)) }));
        let mut q = QosAccumulator::new(truth);
        q.on_heartbeat(s(0), None);
        q.on_suspicion(s(13), Some(s(21)), s(100), net);
        // A second crash-free mistake later.
        q.on_suspicion(s(50), Some(s(52)), s(100), net);
        let r = q.report(s(100));
        assert_eq!(r.crashes[0].detection_time_s, Some(3.0));
        assert_eq!(r.mistakes, 2);
        assert_eq!(r.mistakes_by_cause[&Cause::Recovery], 1);
        assert_eq!(r.mistake_duration_s.max, Some(2.0));
        assert_eq!(r.observed_up_s, 90.0);
        // Not detected at all: trust returned inside the window and nothing followed.
        let mut truth = GroundTruth::always_up();
        truth.push_down(DownWindow { from: s(10), to: Some(s(20)) });
        let mut q = QosAccumulator::new(truth);
        q.on_heartbeat(s(0), None);
        q.on_suspicion(s(12), Some(s(13)), s(100), net);
        assert_eq!(q.report(s(100)).crashes[0].detection_time_s, None);
    }
}
