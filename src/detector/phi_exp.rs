//! φ with an exponential distribution, as Apache Cassandra's `FailureDetector` and
//! `ArrivalWindow` compute it.
//!
//! φ = silence / mean(intervals); Cassandra convicts when PHI_FACTOR·φ exceeds
//! `phi_convict_threshold` (PHI_FACTOR = 1/ln 10). fdlab's level is PHI_FACTOR·φ, so the
//! threshold is Cassandra's number and suspicion begins at threshold·ln(10)·mean of silence
//! (about 18.4 × mean at 8). REFERENCES.md §2 lists the rules:
//!
//! - the first heartbeat records an initial interval (2 s, absolute, not tied to the
//!   heartbeat interval);
//! - later intervals longer than `max_interval` (2 s) are not recorded;
//! - the local pause guard: after the monitor itself stalled for more than `pause_guard`
//!   (5 s), nobody is convicted for the next `pause_guard`.
//!
//! Declares the kind `phi-exp` (`KIND`, listed in `catalog::KINDS`).

use super::kind::{KeyInfo, KindInfo, Params, positive_duration};
use super::window::Window;
use super::{Arrival, Detector, ceil_u64, refine_crossing_from};
use crate::time::Nanos;

/// `phi-exp:threshold=X`, with Cassandra's constants as keys; the defaults are
/// [`PhiExpConfig`]'s.
pub(crate) const KIND: KindInfo =
    KindInfo::new("phi-exp", "φ accrual, exponential distribution, as Apache Cassandra computes it", |p| {
        Box::new(PhiExp::new(config(p)))
    })
    .knob(KeyInfo::number("threshold", "8", "phi_convict_threshold"))
    .keys(&[
        KeyInfo::window("window", "1000", "intervals kept"),
        KeyInfo::duration("initial", "2s", "interval recorded at the first heartbeat").checked(positive_duration),
        KeyInfo::duration("max_interval", "2s", "longer intervals are not recorded"),
        KeyInfo::duration("pause_guard", "5s", "local pause guard (0 disables)"),
    ])
    .cost(5);

fn config(p: &Params<'_>) -> PhiExpConfig {
    PhiExpConfig {
        window: p.count("window"),
        initial: p.duration("initial"),
        max_interval: p.duration("max_interval"),
        pause_guard: p.duration("pause_guard"),
    }
}

/// 1/ln(10): converts Cassandra's φ (silence/mean) to −log10 of an exponential tail.
pub const PHI_FACTOR: f64 = 1.0 / std::f64::consts::LN_10;

/// Parameters of Cassandra's detector; defaults are Cassandra's.
#[derive(Clone, Debug, PartialEq)]
pub struct PhiExpConfig {
    /// Intervals kept (`SAMPLE_SIZE`, 1000).
    pub window: usize,
    /// The interval recorded at the first heartbeat (`INITIAL_VALUE_NANOS`, 2 s).
    pub initial: Nanos,
    /// Longer intervals are not recorded (`fd_max_interval_ms`, 2 s).
    pub max_interval: Nanos,
    /// The local pause guard (`MAX_LOCAL_PAUSE_IN_NANOS`, 5 s); zero disables it.
    pub pause_guard: Nanos,
}

impl Default for PhiExpConfig {
    fn default() -> PhiExpConfig {
        PhiExpConfig {
            window: 1000,
            initial: Nanos::from_secs(2),
            max_interval: Nanos::from_secs(2),
            pause_guard: Nanos::from_secs(5),
        }
    }
}

#[derive(Clone, Debug)]
pub struct PhiExp {
    config: PhiExpConfig,
    intervals: Window,
    last: Option<Nanos>,
    mean: f64,
    /// No conviction before this instant (the local pause guard).
    guard_until: Nanos,
}

impl PhiExp {
    pub fn new(config: PhiExpConfig) -> PhiExp {
        let intervals = Window::new(config.window);
        PhiExp { config, intervals, last: None, mean: 0.0, guard_until: Nanos::ZERO }
    }

    /// The mean recorded interval in ns.
    pub fn mean(&self) -> f64 {
        self.mean
    }

    fn raw_level(&self, last: Nanos, now: Nanos) -> f64 {
        PHI_FACTOR * now.saturating_sub(last).0 as f64 / self.mean
    }
}

impl Detector for PhiExp {
    fn heartbeat(&mut self, arrival: &Arrival, _threshold: f64) {
        match self.last {
            None => self.intervals.push(self.config.initial.0),
            Some(last) => {
                let interval = arrival.at.saturating_sub(last);
                if interval <= self.config.max_interval {
                    self.intervals.push(interval.0);
                }
            }
        }
        // Cannot be zero unless every recorded interval is 0 ns (heartbeats at one instant
        // with a zero initial interval); the level is then +∞ for any silence, NaN-free.
        self.mean = self.intervals.mean();
        self.last = Some(arrival.at);
    }

    fn level(&self, now: Nanos) -> f64 {
        match self.last {
            None => 0.0,
            Some(_) if now < self.guard_until => 0.0,
            Some(last) if now <= last => 0.0,
            Some(last) => self.raw_level(last, now),
        }
    }

    fn suspect_at(&self, threshold: f64, now: Nanos) -> Option<Nanos> {
        let last = self.last?;
        let from = now.max(self.guard_until);
        // (A guess: `refine_crossing` corrects any, so mutants of it change speed only.)
        // Taken from `last` in whole nanoseconds, so that it stays exact late in a long run.
        // (×ln 10 for ÷PHI_FACTOR: a multiplication where a division would wait ~15 cycles.)
        let guess = last.0.saturating_add(ceil_u64(threshold * self.mean * std::f64::consts::LN_10));
        refine_crossing_from(from, Nanos(guess), |t| self.level(t) >= threshold)
    }

    fn on_local_stall(&mut self, from: Nanos, to: Nanos) {
        let guard = self.config.pause_guard;
        if guard > Nanos::ZERO && to.saturating_sub(from) > guard {
            self.guard_until = to.saturating_add(guard);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kinds_defaults_are_the_configs_defaults() {
        let values = KIND.defaults();
        assert_eq!(config(&Params { head: "phi-exp", values: &values }), PhiExpConfig::default());
    }

    #[test]
    fn pause_guard_holds_conviction_for_five_seconds_after_a_long_stall() {
        let mut d = PhiExp::new(PhiExpConfig::default());
        d.heartbeat(&Arrival::at(Nanos(0)), 8.0);
        // Silence of 36.8 s would convict at threshold 8 with a 2 s mean.
        let plain = d.suspect_at(8.0, Nanos(0)).unwrap();
        assert!((plain.as_secs_f64() - 8.0 * std::f64::consts::LN_10 * 2.0).abs() < 1e-6);
        d.on_local_stall(Nanos::from_secs(30), Nanos::from_secs(40));
        assert_eq!(d.level(Nanos::from_secs(44)), 0.0);
        assert_eq!(d.suspect_at(8.0, Nanos::from_secs(40)), Some(Nanos::from_secs(45)));
        // A short stall changes nothing.
        let mut d = PhiExp::new(PhiExpConfig::default());
        d.heartbeat(&Arrival::at(Nanos(0)), 8.0);
        d.on_local_stall(Nanos::from_secs(1), Nanos::from_secs(5));
        assert_eq!(d.suspect_at(8.0, Nanos(0)), Some(plain));
    }

    #[test]
    fn the_guard_needs_a_stall_longer_than_it_and_zero_disables_it() {
        // Threshold 1 with a 2 s mean: the crossing comes 2·ln 10 = 4.6 s after the
        // heartbeat, inside the 5 s a guard would hold after any of these stalls.
        let crossing = |guard: Nanos, stall: (u64, u64)| {
            let mut d = PhiExp::new(PhiExpConfig { pause_guard: guard, ..PhiExpConfig::default() });
            d.heartbeat(&Arrival::at(Nanos(0)), 1.0);
            d.on_local_stall(Nanos::from_millis(stall.0), Nanos::from_millis(stall.1));
            d.suspect_at(1.0, Nanos(0)).unwrap().as_secs_f64()
        };
        let plain = 2.0 * std::f64::consts::LN_10;
        let five = Nanos::from_secs(5);
        // Cassandra guards only after a pause longer than the limit (`diff > MAX_LOCAL_PAUSE`).
        assert!((crossing(five, (1_000, 5_000)) - plain).abs() < 1e-6, "a 4 s stall");
        assert!((crossing(five, (500, 5_500)) - plain).abs() < 1e-6, "a stall of exactly 5 s");
        assert_eq!(crossing(five, (500, 5_501)), 10.501, "longer: held 5 s after it");
        assert!((crossing(Nanos::ZERO, (1_000, 11_000)) - plain).abs() < 1e-6, "no guard");
    }
}
