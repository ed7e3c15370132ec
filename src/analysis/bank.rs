//! Every configured detector for one monitored link, fed by one arrival stream.
//!
//! A spec with a sweep becomes one *member* per threshold. Detectors whose state does not
//! depend on the threshold are built once per spec and shared by its members; the others
//! (Akka's φ) get one instance per member. Each member owns a [`SuspicionTracker`] and a
//! [`QosAccumulator`], so a whole sweep is evaluated in one pass over the arrivals
//! (DESIGN.md §2 point 3).

use super::qos::{Cause, QosAccumulator, QosReport};
use super::tracker::{SuspicionTracker, Transition};
use super::truth::GroundTruth;
use crate::detector::{Arrival, Detector, DetectorSpec, spec::DetectorPoint};
use crate::time::Nanos;

struct Member {
    point: DetectorPoint,
    detector: usize,
    tracker: SuspicionTracker,
    qos: QosAccumulator,
    /// The last arrival before the current suspicion began: the silence that caused it
    /// started there (for attributing a cause).
    silence_from: Nanos,
    /// Every suspicion interval so far, when recorded ([`DetectorBank::record_suspicions`]).
    suspicions: Option<Vec<(Nanos, Nanos)>>,
}

/// Names the cause of a mistake from the silence before it: `(silence_from, start)`.
pub type CauseFn = Box<dyn Fn(Nanos, Nanos) -> Cause + Send>;

/// The detectors of one monitored link.
pub struct DetectorBank {
    /// Kept to rebuild the detectors when the monitor restarts.
    specs: Vec<DetectorSpec>,
    detectors: Vec<Box<dyn Detector>>,
    /// For each detector, the threshold passed to `heartbeat` (its member's, when the state
    /// depends on it; for shared detectors it is ignored).
    detector_threshold: Vec<f64>,
    members: Vec<Member>,
    /// For each detector, its members (indices into `members`) and their thresholds.
    groups: Vec<(Vec<usize>, Vec<f64>)>,
    cause: CauseFn,
    /// The last arrival taken through the members.
    last_arrival: Option<Nanos>,
    /// Arrivals delivered and not yet taken through the detectors and members (at most
    /// [`BATCH`]): every other method takes them through first ([`Self::flush`]), so the
    /// batching is invisible to the bank's users.
    pending: Vec<Arrival>,
}

/// Arrivals taken through the detectors at a time: per detector, one call through the trait
/// object and a loop compiled for its kind, then per member a loop over the batch (the
/// members are independent of one another). 256 arrivals of 56 bytes (14 KiB) and their
/// crossings stay in the first-level cache while every detector and member goes over them.
/// Measured on 30 days of `experiments/bench/year.toml`, one thread, four interleaved
/// rounds: 64 a batch gained about 4 % on one arrival at a time, 256 about 11 %, 1024 less
/// than 256 (README, Performance). A simulator's monitor that finishes frees its banks, so a
/// cluster holds the batches of the monitors running at once only.
const BATCH: usize = 256;

thread_local! {
    /// A detector's crossings over (part of) a batch, arrival-major, then member: scratch
    /// shared by the banks of a thread, so that a bank keeps only its pending arrivals.
    static CROSSINGS: std::cell::RefCell<Vec<Option<Nanos>>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl DetectorBank {
    /// Builds the members of every spec, in the order given, for a target with `truth`.
    pub fn new(specs: &[DetectorSpec], truth: &GroundTruth) -> DetectorBank {
        let (detectors, detector_threshold, assigned) = build(specs);
        let members: Vec<Member> = specs
            .iter()
            .flat_map(|spec| spec.points())
            .zip(assigned)
            .map(|(point, detector)| Member {
                tracker: SuspicionTracker::checking_every(point.check_every),
                point,
                detector,
                qos: QosAccumulator::new(truth.clone()),
                silence_from: Nanos::ZERO,
                suspicions: None,
            })
            .collect();
        let groups = groups(detectors.len(), &members);
        DetectorBank {
            specs: specs.to_vec(),
            detectors,
            detector_threshold,
            members,
            groups,
            cause: Box::new(|_, _| Cause::Network),
            last_arrival: None,
            pending: Vec::new(),
        }
    }

    /// Sets how mistakes are attributed to causes (the default says `network` always).
    pub fn set_cause(&mut self, cause: CauseFn) {
        self.cause = cause;
    }

    /// Keeps every suspicion interval of every member (for cluster views), reported in
    /// [`QosReport::suspicions`].
    pub fn record_suspicions(&mut self) {
        self.flush();
        for m in &mut self.members {
            m.suspicions.get_or_insert_with(Vec::new);
        }
    }

    /// Delivers one heartbeat to every detector: it is kept with the others of its batch,
    /// which go through the detectors together (see [`BATCH`]; every other method takes the
    /// batch through first).
    #[inline]
    pub fn on_arrival(&mut self, arrival: &Arrival) {
        self.pending.push(*arrival);
        // (Mutation testing, equivalent: `<` flushes after every arrival but the 256th, a
        // batch of one: slower, the same results.)
        if self.pending.len() >= BATCH {
            self.flush();
        }
    }

    /// As [`Self::on_arrival`], at once, telling `note` every transition of every member (by
    /// its index, in spec order) as it is found: a suspicion whose crossing came before this
    /// arrival, then what the arrival changed (live nodes log them as they happen).
    pub fn on_arrival_noting(&mut self, arrival: &Arrival, mut note: impl FnMut(usize, Transition)) {
        self.flush();
        let t = arrival.at;
        let before = self.last_arrival.unwrap_or(t);
        for (d, &threshold) in self.detectors.iter_mut().zip(&self.detector_threshold) {
            d.heartbeat(arrival, threshold);
        }
        let reference = arrival.sent.unwrap_or(t);
        for (i, m) in self.members.iter_mut().enumerate() {
            let crossing = self.detectors[m.detector].suspect_at(m.point.threshold, t);
            m.step(t, before, reference, crossing, &self.cause, |transition| note(i, transition));
        }
        self.last_arrival = Some(t);
    }

    /// Takes the pending arrivals through every detector and member: per detector, its
    /// crossings after each arrival for each of its members' thresholds, then per member its
    /// steps over the batch. The same steps, in each member's order, as
    /// [`Self::on_arrival_noting`] one arrival at a time: detectors and members are
    /// independent of one another (a test compares the two on random arrivals).
    fn flush(&mut self) {
        let Some(last) = self.pending.last().map(|a| a.at) else { return };
        CROSSINGS.with_borrow_mut(|crossings| {
            for ((d, &threshold), (members, thresholds)) in
                self.detectors.iter_mut().zip(&self.detector_threshold).zip(&self.groups)
            {
                // A detector with many members (a sweep) takes the batch in parts, so that
                // its crossings stay at most `BATCH` (for up to `BATCH` members).
                let n = members.len();
                let part = (BATCH / n.max(1)).max(1);
                let mut before = self.last_arrival;
                for arrivals in self.pending.chunks(part) {
                    crossings.clear();
                    d.crossings(arrivals, threshold, thresholds, crossings);
                    for (k, &i) in members.iter().enumerate() {
                        let m = &mut self.members[i];
                        let mut before = before;
                        for (a, crossing) in arrivals.iter().zip(crossings[k..].iter().step_by(n)) {
                            let t = a.at;
                            m.step(t, before.unwrap_or(t), a.sent.unwrap_or(t), *crossing, &self.cause, |_| {});
                            before = Some(t);
                        }
                    }
                    before = arrivals.last().map(|a| a.at);
                }
            }
        });
        self.last_arrival = Some(last);
        self.pending.clear();
    }

    /// The monitor was stalled from `from` to `to` and resumes at `to`, before any datagram
    /// buffered meanwhile is delivered. Suspicions whose crossing came before the stall
    /// began then; detectors hear of the stall (Cassandra's guard); with `timers_first`,
    /// checks that fell due during the stall fire at `to` (DESIGN.md §3), otherwise the
    /// buffered datagrams delivered at `to` come first.
    pub fn on_resume(&mut self, from: Nanos, to: Nanos, timers_first: bool) {
        self.flush();
        let before = self.last_arrival.unwrap_or(from);
        for m in &mut self.members {
            if m.tracker.before_arrival(from).is_some() {
                m.silence_from = before;
            }
        }
        for d in &mut self.detectors {
            d.on_local_stall(from, to);
        }
        for m in &mut self.members {
            let crossing = self.detectors[m.detector].suspect_at(m.point.threshold, to);
            if m.tracker.recheck(to, crossing, timers_first).is_some() {
                m.silence_from = before;
            }
        }
    }

    /// The configurations, one per member, in spec order.
    pub fn points(&self) -> impl Iterator<Item = &DetectorPoint> + '_ {
        self.members.iter().map(|m| &m.point)
    }

    /// Each member that is not suspecting and will begin to at a known instant if nothing
    /// more arrives: `(member, instant)` (with periodic checking, the tick that notices it).
    pub fn pending(&mut self) -> impl Iterator<Item = (usize, Nanos)> + '_ {
        self.flush();
        self.members.iter().enumerate().filter_map(|(i, m)| Some((i, m.tracker.next_crossing()?)))
    }

    /// The suspicion level of each member at `now` (for sampled charts), with whether the
    /// member is suspecting.
    pub fn levels(&mut self, now: Nanos) -> impl Iterator<Item = (&DetectorPoint, f64, bool)> + '_ {
        self.flush();
        let detectors = &self.detectors;
        self.members.iter().map(move |m| {
            let level = detectors[m.detector].level(now);
            (&m.point, level, level >= m.point.threshold)
        })
    }

    /// The monitor crashed at `at`: what each member suspected then (or would have begun to
    /// suspect before) is censored there, observation stops, and the process that restarts
    /// has fresh detectors that have heard nothing.
    pub fn on_monitor_crash(&mut self, at: Nanos) {
        self.flush();
        for m in &mut self.members {
            let open = m.open_suspicion(self.last_arrival);
            let silence_from = open.map_or(Nanos::ZERO, |o| o.1);
            m.qos.on_observer_stop(open.map(|o| o.0), at, |s| (self.cause)(silence_from, s));
            if let (Some(list), Some((start, _))) = (&mut m.suspicions, open.filter(|o| o.0 < at)) {
                list.push((start, at));
            }
            m.tracker = SuspicionTracker::checking_every(m.point.check_every);
            m.silence_from = Nanos::ZERO;
        }
        (self.detectors, self.detector_threshold, _) = build(&self.specs);
        self.last_arrival = None;
    }

    /// Ends the run at `run_end` and reports every member, in spec order.
    pub fn finish(mut self, run_end: Nanos) -> Vec<(DetectorPoint, QosReport)> {
        self.flush();
        let DetectorBank { members, cause, last_arrival, .. } = self;
        members
            .into_iter()
            .map(|mut m| {
                if let Some((start, silence_from)) = m.open_suspicion(last_arrival) {
                    m.qos.on_suspicion(start, None, run_end, |s| cause(silence_from, s));
                    if let Some(list) = m.suspicions.as_mut().filter(|_| start < run_end) {
                        list.push((start, run_end));
                    }
                }
                let mut report = m.qos.report(run_end);
                report.suspicions = m.suspicions.unwrap_or_default();
                (m.point, report)
            })
            .collect()
    }
}

impl Member {
    /// One arrival at `t`, after which its detector's crossing is `crossing`; `before` is
    /// the previous arrival (or `t`), `reference` the arrival's send time (or `t`). `note`
    /// is told each transition as it is found.
    #[inline(always)]
    fn step(
        &mut self,
        t: Nanos,
        before: Nanos,
        reference: Nanos,
        crossing: Option<Nanos>,
        cause: &CauseFn,
        mut note: impl FnMut(Transition),
    ) {
        // (The tracker holds the crossing from before the heartbeat, so asking the detector
        // first changes nothing.)
        if self.tracker.quiet_arrival(t, crossing) {
            // Neither trust nor suspicion changed: the estimate is the new crossing's.
            self.qos.on_heartbeat(t, crossing.map(|c| c.saturating_sub(reference)));
            return;
        }
        // A crossing before this arrival began a suspicion (the tracker holds the crossing
        // from before the heartbeat, so asking after it is the same); it is reported when it
        // ends (or at finish).
        if let Some(began) = self.tracker.before_arrival(t) {
            self.silence_from = before;
            note(began);
        }
        let transition = self.tracker.after_arrival(t, crossing);
        if let Some(transition) = transition {
            note(transition);
        }
        match transition {
            Some(Transition::Trust { since, at }) => {
                let silence_from = self.silence_from;
                self.qos.on_suspicion(since, Some(at), Nanos::MAX, |s| cause(silence_from, s));
                if let Some(list) = &mut self.suspicions {
                    list.push((since, at));
                }
            }
            Some(Transition::Suspect(_)) => self.silence_from = before,
            None => {}
        }
        // When the system would notice the suspicion if this were the last heartbeat (with
        // periodic checking, the next tick after the crossing).
        let noticed = self.tracker.suspected_since().map(|_| t).or(self.tracker.next_crossing());
        self.qos.on_heartbeat(t, noticed.map(|c| c.saturating_sub(reference)));
    }

    /// The suspicion in progress, or the one due to begin if nothing more arrives, with the
    /// start of the silence behind it: `(start, silence_from)`.
    fn open_suspicion(&self, last_arrival: Option<Nanos>) -> Option<(Nanos, Nanos)> {
        let silence_from = match self.tracker.suspected_since() {
            Some(_) => self.silence_from,
            None => last_arrival.unwrap_or(Nanos::ZERO),
        };
        let start = self.tracker.suspected_since().or(self.tracker.next_crossing())?;
        Some((start, silence_from))
    }
}

/// For each of `detectors` detectors, its members' indices and thresholds.
fn groups(detectors: usize, members: &[Member]) -> Vec<(Vec<usize>, Vec<f64>)> {
    let mut groups = vec![(Vec::new(), Vec::new()); detectors];
    for (i, m) in members.iter().enumerate() {
        groups[m.detector].0.push(i);
        groups[m.detector].1.push(m.point.threshold);
    }
    groups
}

/// The detectors for `specs`: one per spec, or one per threshold where the state depends on
/// it, with the threshold each is fed, and for every member (in order) its detector's index.
fn build(specs: &[DetectorSpec]) -> (Vec<Box<dyn Detector>>, Vec<f64>, Vec<usize>) {
    let (mut detectors, mut thresholds, mut assigned) = (Vec::new(), Vec::new(), Vec::new());
    for spec in specs {
        let mut shared = None;
        for point in spec.points() {
            let index = match shared {
                Some(index) => index,
                None => {
                    let d = spec.build();
                    let per_threshold = d.state_depends_on_threshold();
                    detectors.push(d);
                    thresholds.push(point.threshold);
                    let index = detectors.len() - 1;
                    if !per_threshold {
                        shared = Some(index);
                    }
                    index
                }
            };
            assigned.push(index);
        }
    }
    (detectors, thresholds, assigned)
}
