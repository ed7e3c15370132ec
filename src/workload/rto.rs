//! Retransmission timeouts: a fixed RTO and RFC 6298's adaptive one.
//!
//! A retransmission timeout is a failure detector for one message: it waits, then decides the
//! message (or its ACK) was lost. Waiting too little retransmits copies that were only slow
//! (a spurious retransmission, the analogue of a false suspicion); waiting too long delays
//! delivery after a real loss. [`Rto`] is what the workload engine (`super::engine`) asks
//! for the timeout of each transmission and tells about ACKs and timeouts. All durations are
//! [`Nanos`]; no clock is read: the engine hands in the measured RTTs.
//!
//! RFC 6298 (REFERENCES.md §7): the first sample R sets SRTT = R, RTTVAR = R/2; later samples
//! R' set RTTVAR = (1−β)·RTTVAR + β·|SRTT − R'| (with the old SRTT), then
//! SRTT = (1−α)·SRTT + α·R', with α = 1/8, β = 1/4; RTO = SRTT + max(G, K·RTTVAR), K = 4,
//! clamped to [min_rto, max_rto]. Before any sample the RTO is `initial` (1 s). A timeout
//! doubles the RTO (capped at max_rto). Karn's rule: an ACK of a message that was
//! retransmitted gives no sample (it cannot say which copy it acknowledges), and the
//! backed-off RTO stays until a message sent once yields a sample.

use serde::{Deserialize, Serialize};

use crate::time::Nanos;

/// An RTO policy as experiment files write it: `rto = { policy = "fixed", timeout = "300ms" }`
/// or `rto = { policy = "rfc6298", min_rto = "200ms" }`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(tag = "policy", rename_all = "kebab-case", deny_unknown_fields)]
pub enum RtoSpec {
    /// The same timeout for every transmission, never backed off.
    Fixed { timeout: Nanos },
    /// RFC 6298; every parameter has the RFC's default.
    Rfc6298 {
        /// Lower bound of the RTO (RFC: 1 s; Linux: 200 ms).
        #[serde(default = "default_min_rto")]
        min_rto: Nanos,
        /// Upper bound, also of the backed-off RTO (RFC: at least 60 s).
        #[serde(default = "default_max_rto")]
        max_rto: Nanos,
        /// Clock granularity G.
        #[serde(default = "default_granularity")]
        granularity: Nanos,
        /// The RTO before the first sample.
        #[serde(default = "default_initial")]
        initial: Nanos,
    },
}

fn default_min_rto() -> Nanos {
    Nanos::from_secs(1)
}
fn default_max_rto() -> Nanos {
    Nanos::from_secs(60)
}
fn default_granularity() -> Nanos {
    Nanos::from_millis(1)
}
fn default_initial() -> Nanos {
    Nanos::from_secs(1)
}

impl RtoSpec {
    /// RFC 6298 with its defaults (min_rto 1 s, max_rto 60 s, G = 1 ms, initial 1 s).
    pub fn rfc6298() -> RtoSpec {
        RtoSpec::Rfc6298 {
            min_rto: default_min_rto(),
            max_rto: default_max_rto(),
            granularity: default_granularity(),
            initial: default_initial(),
        }
    }

    /// Checks the parameters; the message names the field.
    pub fn validate(&self) -> Result<(), String> {
        match *self {
            RtoSpec::Fixed { timeout } if timeout == Nanos::ZERO => Err("`timeout` must be greater than zero".into()),
            RtoSpec::Rfc6298 { min_rto, .. } if min_rto == Nanos::ZERO => {
                Err("`min_rto` must be greater than zero".into())
            }
            RtoSpec::Rfc6298 { min_rto, max_rto, .. } if max_rto < min_rto => {
                Err(format!("`max_rto` ({max_rto}) is below `min_rto` ({min_rto})"))
            }
            RtoSpec::Rfc6298 { initial, min_rto, max_rto, .. } if initial < min_rto || initial > max_rto => {
                Err(format!("`initial` ({initial}) must lie in [min_rto, max_rto] = [{min_rto}, {max_rto}]"))
            }
            _ => Ok(()),
        }
    }

    /// A fresh estimator in this policy.
    pub fn build(&self) -> Rto {
        match *self {
            RtoSpec::Fixed { timeout } => Rto::Fixed(timeout),
            RtoSpec::Rfc6298 { min_rto, max_rto, granularity, initial } => Rto::Rfc6298(Rfc6298 {
                min_rto: min_rto.0 as f64,
                max_rto: max_rto.0 as f64,
                granularity: granularity.0 as f64,
                srtt: None,
                rttvar: 0.0,
                rto: initial.0 as f64,
            }),
        }
    }
}

/// A running RTO policy (one per connection).
#[derive(Clone, Debug, PartialEq)]
pub enum Rto {
    Fixed(Nanos),
    Rfc6298(Rfc6298),
}

impl Rto {
    /// The timeout for a transmission made now.
    pub fn rto(&self) -> Nanos {
        match self {
            Rto::Fixed(t) => *t,
            Rto::Rfc6298(r) => r.rto(),
        }
    }

    /// An ACK arrived for a message `rtt` after its first transmission; `retransmitted` says
    /// whether more than one copy had been sent (Karn: then no sample).
    pub fn on_ack(&mut self, rtt: Nanos, retransmitted: bool) {
        if let Rto::Rfc6298(r) = self
            && !retransmitted
        {
            r.sample(rtt);
        }
    }

    /// A retransmission timer expired.
    pub fn on_timeout(&mut self) {
        if let Rto::Rfc6298(r) = self {
            r.back_off();
        }
    }
}

/// RFC 6298's estimator. Arithmetic is in `f64` nanoseconds: exact for the RFC's powers of
/// two on any RTT below 2^53 ns (104 days) whose low bits allow it, and within rounding
/// otherwise; the RTO handed out is rounded up to a whole nanosecond.
#[derive(Clone, Debug, PartialEq)]
pub struct Rfc6298 {
    min_rto: f64,
    max_rto: f64,
    granularity: f64,
    /// `None` before the first sample.
    srtt: Option<f64>,
    rttvar: f64,
    /// The current RTO, backed off or not.
    rto: f64,
}

const ALPHA: f64 = 1.0 / 8.0;
const BETA: f64 = 1.0 / 4.0;
const K: f64 = 4.0;

impl Rfc6298 {
    pub fn rto(&self) -> Nanos {
        Nanos(self.rto.ceil() as u64)
    }
    /// SRTT in ns, once a sample has been taken.
    pub fn srtt(&self) -> Option<f64> {
        self.srtt
    }
    /// RTTVAR in ns (0 before the first sample).
    pub fn rttvar(&self) -> f64 {
        self.rttvar
    }

    fn sample(&mut self, rtt: Nanos) {
        let r = rtt.0 as f64;
        match self.srtt {
            None => {
                self.srtt = Some(r);
                self.rttvar = r / 2.0;
            }
            Some(srtt) => {
                self.rttvar = (1.0 - BETA) * self.rttvar + BETA * (srtt - r).abs();
                self.srtt = Some((1.0 - ALPHA) * srtt + ALPHA * r);
            }
        }
        // The sample just set SRTT, so the `unwrap_or` never applies.
        let srtt = self.srtt.unwrap_or(r);
        self.rto = (srtt + self.granularity.max(K * self.rttvar)).clamp(self.min_rto, self.max_rto);
    }

    fn back_off(&mut self) {
        self.rto = (self.rto * 2.0).min(self.max_rto);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(x: u64) -> Nanos {
        Nanos::from_millis(x)
    }

    fn linux() -> Rto {
        RtoSpec::Rfc6298 {
            min_rto: ms(200),
            max_rto: Nanos::from_secs(60),
            granularity: ms(1),
            initial: Nanos::from_secs(1),
        }
        .build()
    }

    fn state(r: &Rto) -> (f64, f64, Nanos) {
        match r {
            Rto::Rfc6298(e) => (e.srtt().unwrap_or(f64::NAN) / 1e6, e.rttvar() / 1e6, e.rto()),
            Rto::Fixed(_) => unreachable!(),
        }
    }

    #[test]
    fn a_scripted_sequence_matches_the_hand_computed_values() {
        let mut r = linux();
        // Before any sample: the initial 1 s.
        assert_eq!(r.rto(), ms(1000));
        // 1. R = 100 ms: SRTT = 100, RTTVAR = 50, RTO = 100 + max(1, 4·50) = 300 ms.
        r.on_ack(ms(100), false);
        assert_eq!(state(&r), (100.0, 50.0, ms(300)));
        // 2. R = 200 ms: RTTVAR = 3/4·50 + 1/4·|100 − 200| = 37.5 + 25 = 62.5;
        //    SRTT = 7/8·100 + 1/8·200 = 87.5 + 25 = 112.5; RTO = 112.5 + 4·62.5 = 362.5 ms.
        r.on_ack(ms(200), false);
        assert_eq!(state(&r), (112.5, 62.5, Nanos(362_500_000)));
        // 3. R = 112.5 ms exactly (|SRTT − R| = 0): RTTVAR = 3/4·62.5 = 46.875;
        //    SRTT stays 112.5; RTO = 112.5 + 187.5 = 300 ms.
        r.on_ack(Nanos(112_500_000), false);
        assert_eq!(state(&r), (112.5, 46.875, ms(300)));
        // 4. A timeout: RTO doubles to 600 ms; a second one: 1200 ms.
        r.on_timeout();
        assert_eq!(r.rto(), ms(600));
        r.on_timeout();
        assert_eq!(r.rto(), ms(1200));
        // 5. Karn: the ACK of that retransmitted message (RTT 900 ms measured from the first
        //    copy) gives no sample: SRTT, RTTVAR and the backed-off 1200 ms all stay.
        r.on_ack(ms(900), true);
        assert_eq!(state(&r), (112.5, 46.875, ms(1200)));
        // 6. A message sent once, R = 80 ms: RTTVAR = 3/4·46.875 + 1/4·32.5 = 35.15625 + 8.125
        //    = 43.28125; SRTT = 7/8·112.5 + 1/8·80 = 98.4375 + 10 = 108.4375;
        //    RTO = 108.4375 + 4·43.28125 = 108.4375 + 173.125 = 281.5625 ms: the back-off is gone.
        r.on_ack(ms(80), false);
        assert_eq!(state(&r), (108.4375, 43.28125, Nanos(281_562_500)));
        // 7. Steady 10 ms samples shrink RTTVAR until the 200 ms floor holds the RTO.
        for _ in 0..100 {
            r.on_ack(ms(10), false);
        }
        assert_eq!(r.rto(), ms(200));
    }

    #[test]
    fn the_rfc_floor_granularity_and_cap_hold() {
        // min_rto 1 s (the RFC's default): R = 100 ms gives 300 ms, raised to 1 s.
        let mut r = RtoSpec::rfc6298().build();
        r.on_ack(ms(100), false);
        assert_eq!(r.rto(), ms(1000));
        // Back-off doubles up to the 60 s cap and stays there.
        for _ in 0..10 {
            r.on_timeout();
        }
        assert_eq!(r.rto(), ms(60_000));
        // G dominates when RTTVAR is tiny: constant 2 s samples drive RTTVAR to 0 and the RTO
        // to SRTT + G = 2 s + 100 ms.
        let mut r =
            RtoSpec::Rfc6298 { min_rto: ms(1), max_rto: ms(60_000), granularity: ms(100), initial: ms(1000) }.build();
        for _ in 0..200 {
            r.on_ack(ms(2000), false);
        }
        assert_eq!(r.rto(), ms(2100));
    }

    #[test]
    fn a_fixed_rto_ignores_samples_and_timeouts() {
        let mut r = RtoSpec::Fixed { timeout: ms(250) }.build();
        r.on_ack(ms(5000), false);
        r.on_timeout();
        assert_eq!(r.rto(), ms(250));
    }

    #[test]
    fn bad_parameters_name_the_field() {
        let e = RtoSpec::Fixed { timeout: Nanos::ZERO }.validate().unwrap_err();
        assert!(e.contains("`timeout`"), "{e}");
        let e = RtoSpec::Rfc6298 { min_rto: ms(500), max_rto: ms(100), granularity: ms(1), initial: ms(500) }
            .validate()
            .unwrap_err();
        assert!(e.contains("`max_rto`"), "{e}");
        let e = RtoSpec::Rfc6298 { min_rto: ms(200), max_rto: ms(1000), granularity: ms(1), initial: ms(5000) }
            .validate()
            .unwrap_err();
        assert!(e.contains("`initial`"), "{e}");
    }
}
