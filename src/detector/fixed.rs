//! The fixed timeout, the simplest detector: suspect once the silence since the last
//! heartbeat reaches the timeout.
//!
//! Level = silence in seconds; the knob is the timeout. Akka/Pekko's
//! `DeadlineFailureDetector` ("available iff last + interval + acceptable pause > now") is
//! this detector with timeout = interval + pause, so `deadline` specs build it too.
//! Hazelcast's default (heartbeat every 5 s, suspect after 60 s) is a deadline as well.
//!
//! Declares two kinds, `FIXED` and `DEADLINE` (listed in `catalog::KINDS`).

use super::kind::{KeyInfo, KindInfo, positive_duration};
use super::{Arrival, Detector, refine_crossing};
use crate::time::Nanos;

/// `fixed:timeout=DUR`: the timeout is the knob.
pub(crate) const FIXED: KindInfo =
    KindInfo::new("fixed", "fixed timeout: suspect when the silence since the last heartbeat reaches it", |_| {
        Box::new(FixedTimeout::new())
    })
    .knob(KeyInfo::duration("timeout", "", "silence that triggers suspicion"))
    .cost(1);

/// `deadline:pause=DUR,interval=DUR`: Akka's parameters; the threshold is interval + pause.
pub(crate) const DEADLINE: KindInfo = KindInfo::new(
    "deadline",
    "Akka/Pekko DeadlineFailureDetector: suspect after interval + acceptable pause of silence",
    |_| Box::new(FixedTimeout::new()),
)
.knob(KeyInfo::duration("pause", "3s", "acceptable heartbeat pause"))
.keys(&[KeyInfo::duration("interval", "1s", "heartbeat interval").checked(positive_duration)])
.threshold_plus("interval")
.cost(1);

#[derive(Clone, Debug, Default)]
pub struct FixedTimeout {
    last: Option<Nanos>,
    /// The last (threshold, first silence in whole ns at which the level reaches it): the
    /// crossing depends only on the threshold, so it is derived once, not per heartbeat.
    crossing: std::cell::Cell<(u64, u64)>,
}

impl FixedTimeout {
    pub fn new() -> FixedTimeout {
        FixedTimeout::default()
    }
}

impl Detector for FixedTimeout {
    fn heartbeat(&mut self, arrival: &Arrival, _threshold: f64) {
        self.last = Some(arrival.at);
    }

    fn level(&self, now: Nanos) -> f64 {
        match self.last {
            None => 0.0,
            Some(last) => now.saturating_sub(last).as_secs_f64(),
        }
    }

    fn suspect_at(&self, threshold: f64, now: Nanos) -> Option<Nanos> {
        let last = self.last?;
        let (cached_threshold, cached_silence) = self.crossing.get();
        // (A cache: `> 0` only tells a filled entry from the empty one, whose threshold bits,
        // +0.0, no valid threshold has; the guess `threshold * 1e9` is refined exactly.
        // Mutants of either change speed only.)
        let silence = if cached_threshold == threshold.to_bits() && cached_silence > 0 {
            cached_silence
        } else {
            // The level is silence / 1e9 computed exactly as `level` does, on a silence
            // measured from 0.
            let silence = refine_crossing(Nanos::ZERO, threshold * 1e9, |s| s.as_secs_f64() >= threshold)?.0;
            self.crossing.set((threshold.to_bits(), silence));
            silence
        };
        Some(last.checked_add(Nanos(silence))?.max(now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suspects_exactly_at_last_plus_timeout() {
        let mut d = FixedTimeout::new();
        assert_eq!(d.level(Nanos(5)), 0.0);
        assert_eq!(d.suspect_at(0.3, Nanos(0)), None);
        d.heartbeat(&Arrival::at(Nanos(1_000)), 0.3);
        assert_eq!(d.suspect_at(0.3, Nanos(1_000)), Some(Nanos(300_001_000)));
        assert!(d.level(Nanos(300_001_000)) >= 0.3);
        assert!(d.level(Nanos(300_000_999)) < 0.3);
        // Asked after the crossing: now.
        assert_eq!(d.suspect_at(0.3, Nanos(400_000_000)), Some(Nanos(400_000_000)));
    }
}
