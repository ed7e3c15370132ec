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
}

/// The detectors of one monitored link.
pub struct DetectorBank {
    detectors: Vec<Box<dyn Detector>>,
    /// For each detector, the threshold passed to `heartbeat` (its member's, when the state
    /// depends on it; for shared detectors it is ignored).
    detector_threshold: Vec<f64>,
    members: Vec<Member>,
    cause: fn(Nanos) -> Cause,
}

impl DetectorBank {
    /// Builds the members of every spec, in the order given, for a target with `truth`.
    pub fn new(specs: &[DetectorSpec], truth: &GroundTruth) -> DetectorBank {
        let mut bank = DetectorBank {
            detectors: Vec::new(),
            detector_threshold: Vec::new(),
            members: Vec::new(),
            cause: |_| Cause::Network,
        };
        for spec in specs {
            let mut shared = None;
            for point in spec.points() {
                let detector = match shared {
                    Some(index) => index,
                    None => {
                        let d = spec.build();
                        let per_threshold = d.state_depends_on_threshold();
                        bank.detectors.push(d);
                        bank.detector_threshold.push(point.threshold);
                        let index = bank.detectors.len() - 1;
                        if !per_threshold {
                            shared = Some(index);
                        }
                        index
                    }
                };
                bank.members.push(Member {
                    tracker: SuspicionTracker::checking_every(point.check_every),
                    point,
                    detector,
                    qos: QosAccumulator::new(truth.clone()),
                });
            }
        }
        bank
    }

    /// Whether any detector needs sequence numbers.
    pub fn needs_seq(&self) -> bool {
        self.detectors.iter().any(|d| d.needs_seq())
    }

    /// Delivers one heartbeat to every detector.
    pub fn on_arrival(&mut self, arrival: &Arrival) {
        let t = arrival.at;
        for m in &mut self.members {
            // A suspicion that begins here is reported when it ends (or at finish).
            m.tracker.before_arrival(t);
        }
        for (d, &threshold) in self.detectors.iter_mut().zip(&self.detector_threshold) {
            d.heartbeat(arrival, threshold);
        }
        for m in &mut self.members {
            let detector = &self.detectors[m.detector];
            let crossing = detector.suspect_at(m.point.threshold, t);
            if let Some(Transition::Trust { since, at }) = m.tracker.after_arrival(t, crossing) {
                m.qos.on_suspicion(since, Some(at), Nanos::MAX, self.cause);
            }
            // When the system would notice the suspicion if this were the last heartbeat
            // (with periodic checking, the next tick after the crossing).
            let noticed = m.tracker.suspected_since().map(|_| t).or(m.tracker.next_crossing());
            let reference = arrival.sent.unwrap_or(t);
            m.qos.on_heartbeat(t, noticed.map(|c| c.saturating_sub(reference)));
        }
    }

    /// The monitor was stalled from `from` to `to`: detectors hear of it, and crossings that
    /// fell inside the stall take effect at `to`.
    pub fn on_local_stall(&mut self, from: Nanos, to: Nanos) {
        for d in &mut self.detectors {
            d.on_local_stall(from, to);
        }
        for m in &mut self.members {
            m.tracker.defer_crossing(from, to);
        }
    }

    /// The suspicion level of each member at `now` (for sampled charts), with whether the
    /// member is suspecting.
    pub fn levels(&self, now: Nanos) -> impl Iterator<Item = (&DetectorPoint, f64, bool)> + '_ {
        self.members.iter().map(move |m| {
            let level = self.detectors[m.detector].level(now);
            (&m.point, level, level >= m.point.threshold)
        })
    }

    /// Ends the run at `run_end` and reports every member, in spec order.
    pub fn finish(mut self, run_end: Nanos) -> Vec<(DetectorPoint, QosReport)> {
        let cause = self.cause;
        self.members
            .drain(..)
            .map(|mut m| {
                let open = m.tracker.suspected_since().or(m.tracker.next_crossing());
                if let Some(start) = open {
                    m.qos.on_suspicion(start, None, run_end, cause);
                }
                (m.point, m.qos.report(run_end))
            })
            .collect()
    }
}
