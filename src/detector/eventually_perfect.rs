//! ◇P by increasing timeouts (Chandra and Toueg): a timeout that grows each time a
//! suspicion proves false, i.e. each time a suspected process is heard from again.
//!
//! In a partially synchronous system (delays bounded after some time) the timeout
//! eventually exceeds every gap and mistakes stop; in an asynchronous one (heavy-tailed
//! delays) it keeps growing. The textbook answer to FLP, made measurable. The level is 0 or
//! 1 (suspected); no knob.
//!
//! Declares the kind `eventually-perfect` (`KIND`, listed in `catalog::KINDS`).

use super::kind::{KeyInfo, KindInfo, positive_duration};
use super::{Arrival, Detector};
use crate::time::Nanos;

/// `eventually-perfect`: no knob; the growth rule as keys.
pub(crate) const KIND: KindInfo = KindInfo::new(
    "eventually-perfect",
    "◇P: a timeout that grows each time a suspicion proves false; 0/1 level, no knob",
    |p| {
        Box::new(EventuallyPerfect::new(EventuallyPerfectConfig {
            initial: p.duration("initial"),
            factor: p.number("factor"),
            step: p.duration("step"),
        }))
    },
)
.keys(&[
    KeyInfo::duration("initial", "1s", "first timeout").checked(positive_duration),
    KeyInfo::number("factor", "2", "after a false suspicion: timeout × factor + step (factor ≥ 1)")
        .checked(|v| if v.number() >= 1.0 { Ok(()) } else { Err("must be ≥ 1 (the timeout never shrinks)") }),
    KeyInfo::duration("step", "0", "added after a false suspicion"),
]);

#[derive(Clone, Debug, PartialEq)]
pub struct EventuallyPerfectConfig {
    /// The first timeout.
    pub initial: Nanos,
    /// After a false suspicion: timeout ← timeout · factor + step.
    pub factor: f64,
    pub step: Nanos,
}

#[derive(Clone, Debug)]
pub struct EventuallyPerfect {
    config: EventuallyPerfectConfig,
    timeout: Nanos,
    last: Option<Nanos>,
    false_suspicions: u64,
}

impl EventuallyPerfect {
    pub fn new(config: EventuallyPerfectConfig) -> EventuallyPerfect {
        EventuallyPerfect { timeout: config.initial, config, last: None, false_suspicions: 0 }
    }

    /// The current timeout.
    pub fn timeout(&self) -> Nanos {
        self.timeout
    }

    /// How many times the timeout grew.
    pub fn false_suspicions(&self) -> u64 {
        self.false_suspicions
    }
}

impl Detector for EventuallyPerfect {
    fn heartbeat(&mut self, arrival: &Arrival, _threshold: f64) {
        if let Some(last) = self.last
            && arrival.at.saturating_sub(last) >= self.timeout
        {
            // Suspected, and heard from again: the suspicion was false.
            let grown = Nanos::from_secs_f64(self.timeout.as_secs_f64() * self.config.factor);
            self.timeout = grown.saturating_add(self.config.step).max(self.timeout);
            self.false_suspicions += 1;
        }
        self.last = Some(arrival.at);
    }

    fn level(&self, now: Nanos) -> f64 {
        match self.last {
            Some(last) if now.saturating_sub(last) >= self.timeout => 1.0,
            _ => 0.0,
        }
    }

    fn suspect_at(&self, threshold: f64, now: Nanos) -> Option<Nanos> {
        if threshold > 1.0 {
            return None;
        }
        Some(self.last?.checked_add(self.timeout)?.max(now))
    }
}
