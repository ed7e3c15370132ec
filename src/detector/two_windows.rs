//! 2W-FD (Tomsic, Sens, Garcia, Arantes, Sopena, IPDPS 2015): two Chen estimators, one
//! over a small window that reacts fast and one over a large window that is stable; the
//! freshness point is τ = max(EA_small, EA_large) + α, built for sudden changes in the
//! network.
//!
//! Level = now − max(EA_small, EA_large) = min of the two Chen levels, so the crossing of α
//! is the later of the two Chen crossings, exactly.
//!
//! Declares the kind `2w` (`KIND`, listed in `catalog::KINDS`).

use super::chen::Chen;
use super::expected_arrival::{ExpectedArrival, INTERVAL};
use super::kind::{KeyInfo, KindInfo};
use super::{Arrival, Detector};
use crate::time::Nanos;

/// `2w:alpha=DUR`: α is the knob, as for Chen.
pub(crate) const KIND: KindInfo =
    KindInfo::new("2w", "2W-FD: τ = max(EA over a small window, EA over a large window) + α; needs seq", |p| {
        Box::new(TwoWindows::new(p.duration("interval"), p.count("small"), p.count("large")))
    })
    .knob(KeyInfo::duration("alpha", "200ms", "safety margin α (level: now − max EA)"))
    .keys(&[
        INTERVAL,
        KeyInfo::window("small", "1", "small window (reacts fast)"),
        KeyInfo::window("large", "1000", "large window (stable)"),
    ])
    .sequence_aware();

#[derive(Clone, Debug)]
pub struct TwoWindows {
    small: ExpectedArrival,
    large: ExpectedArrival,
}

impl TwoWindows {
    pub fn new(interval: Nanos, small: usize, large: usize) -> TwoWindows {
        TwoWindows { small: ExpectedArrival::new(interval, small), large: ExpectedArrival::new(interval, large) }
    }
}

impl Detector for TwoWindows {
    fn heartbeat(&mut self, arrival: &Arrival, _threshold: f64) {
        self.small.record(arrival);
        self.large.record(arrival);
    }

    fn level(&self, now: Nanos) -> f64 {
        self.small.seconds_since_expected(now).min(self.large.seconds_since_expected(now))
    }

    fn suspect_at(&self, threshold: f64, now: Nanos) -> Option<Nanos> {
        let small = Chen::crossing(&self.small, threshold, now)?;
        let large = Chen::crossing(&self.large, threshold, now)?;
        Some(small.max(large))
    }

    fn needs_seq(&self) -> bool {
        true
    }
}
