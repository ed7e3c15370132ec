//! Chen, Toueg and Aguilera's NFD-E: estimated arrival plus a safety margin α.
//!
//! The freshness point for the next heartbeat is τ_{ℓ+1} = EA_{ℓ+1} + α, with EA from
//! [`ExpectedArrival`] (sequence numbers, not arrival positions). fdlab's level is
//! now − EA_{ℓ+1} in seconds, so α is the threshold and can be swept (DESIGN.md §2 point 4).
//! A late heartbeat can arrive after its own freshness point; a stale one (seq not above
//! every seq seen) leaves the level, and so the suspicion, as it was.
//!
//! Declares the kind `chen` (`KIND`, listed in `catalog::KINDS`).

use super::expected_arrival::{ExpectedArrival, INTERVAL};
use super::kind::{KeyInfo, KindInfo};
use super::{Arrival, Detector};
use crate::time::Nanos;

/// `chen:alpha=DUR`: α is the knob.
pub(crate) const KIND: KindInfo =
    KindInfo::new("chen", "Chen's NFD-E: estimated arrival (by sequence number) + safety margin α; needs seq", |p| {
        Box::new(Chen::new(p.duration("interval"), p.count("window")))
    })
    .knob(KeyInfo::duration("alpha", "200ms", "safety margin α (level: now − EA)"))
    .keys(&[INTERVAL, KeyInfo::window("window", "1000", "heartbeats averaged for EA")])
    .sequence_aware();

#[derive(Clone, Debug)]
pub struct Chen {
    estimate: ExpectedArrival,
}

impl Chen {
    /// `interval`: the sender's heartbeat interval η; `window`: heartbeats averaged (Chen: 1000).
    pub fn new(interval: Nanos, window: usize) -> Chen {
        Chen { estimate: ExpectedArrival::new(interval, window) }
    }

    /// The first whole nanosecond with `level >= threshold`, from `now` on.
    pub(crate) fn crossing(estimate: &ExpectedArrival, threshold: f64, now: Nanos) -> Option<Nanos> {
        estimate.first_at_least(threshold, now)
    }
}

impl Detector for Chen {
    fn heartbeat(&mut self, arrival: &Arrival, _threshold: f64) {
        self.estimate.record(arrival);
    }

    fn level(&self, now: Nanos) -> f64 {
        self.estimate.seconds_since_expected(now)
    }

    fn suspect_at(&self, threshold: f64, now: Nanos) -> Option<Nanos> {
        Chen::crossing(&self.estimate, threshold, now)
    }

    fn needs_seq(&self) -> bool {
        true
    }
}
