//! Bertier, Marin and Sens (DSN 2002): Chen's estimated arrival with a safety margin
//! adapted like TCP's retransmission timeout (Jacobson).
//!
//! At each fresh heartbeat k, with EA_k estimated before it arrived:
//! error = A_k − EA_k − delay; delay ← delay + γ·error; var ← var + γ·(|error| − var);
//! α = β·delay + φ·var. The freshness point is EA_{ℓ+1} + α (rounded up to a whole ns).
//! No knob: the level is 0 or 1 (suspected), a single point on a trade-off chart.
//!
//! With β = 1, φ = 4, γ = 0.1, after a step of D in the delay the margin in force for the
//! k-th heartbeat is α ≈ 0, 0.5·D, 0.91·D, then 1.24·D: the first three heartbeats after
//! the step arrive after their freshness point, none after (`tests/adaptive.rs`).
//!
//! Declares the kind `bertier` (`KIND`, listed in `catalog::KINDS`).

use super::expected_arrival::{ExpectedArrival, INTERVAL, i128_to_f64};
use super::kind::{KeyInfo, KindInfo};
use super::{Arrival, Detector};
use crate::time::Nanos;

/// `bertier`: no knob; the paper's constants as keys.
pub(crate) const KIND: KindInfo = KindInfo::new(
    "bertier",
    "Bertier et al.: Chen's EA + Jacobson-style adaptive margin; 0/1 level, no knob; needs seq",
    |p| {
        Box::new(Bertier::new(BertierConfig {
            interval: p.duration("interval"),
            window: p.count("window"),
            beta: p.number("beta"),
            phi: p.number("phi"),
            gamma: p.number("gamma"),
        }))
    },
)
.keys(&[
    INTERVAL,
    KeyInfo::window("window", "1000", "heartbeats averaged for EA"),
    KeyInfo::number("beta", "1", "weight of the delay estimate in the margin").checked(super::value::non_negative),
    KeyInfo::number("phi", "4", "weight of the variation estimate in the margin").checked(super::value::non_negative),
    KeyInfo::number("gamma", "0.1", "gain of the estimators, in (0, 1]")
        .checked(|v| if v.number() > 0.0 && v.number() <= 1.0 { Ok(()) } else { Err("must be in (0, 1]") }),
])
.sequence_aware();

/// Parameters; defaults are the paper's (β = 1, φ = 4, γ = 0.1) and Chen's window.
#[derive(Clone, Debug, PartialEq)]
pub struct BertierConfig {
    pub interval: Nanos,
    pub window: usize,
    pub beta: f64,
    pub phi: f64,
    pub gamma: f64,
}

#[derive(Clone, Debug)]
pub struct Bertier {
    config: BertierConfig,
    estimate: ExpectedArrival,
    /// Jacobson's estimators, in ns.
    delay: f64,
    var: f64,
    margin_ns: i128,
}

impl Bertier {
    pub fn new(config: BertierConfig) -> Bertier {
        let estimate = ExpectedArrival::new(config.interval, config.window);
        Bertier { config, estimate, delay: 0.0, var: 0.0, margin_ns: 0 }
    }

    /// The current safety margin α in ns.
    pub fn margin_ns(&self) -> i128 {
        self.margin_ns
    }

    fn freshness_point(&self) -> Option<Nanos> {
        self.estimate.expected_plus(self.margin_ns)
    }
}

impl Detector for Bertier {
    fn heartbeat(&mut self, arrival: &Arrival, _threshold: f64) {
        let expected = arrival.seq.and_then(|seq| self.estimate.expected_for(seq));
        let fresh = self.estimate.record(arrival);
        // Learn only from a fresh heartbeat that had an estimate: not the first, and not
        // the first of a new incarnation (which resets the window to this one heartbeat).
        if let (true, Some((numerator, n))) = (fresh, expected)
            && self.estimate.len() > 1
        {
            let error = i128_to_f64(n * arrival.at.0 as i128 - numerator) / n as f64 - self.delay;
            let c = &self.config;
            self.delay += c.gamma * error;
            self.var += c.gamma * (error.abs() - self.var);
            self.margin_ns = (c.beta * self.delay + c.phi * self.var).ceil() as i128;
        }
    }

    fn level(&self, now: Nanos) -> f64 {
        match self.freshness_point() {
            Some(tau) if now >= tau => 1.0,
            _ => 0.0,
        }
    }

    fn suspect_at(&self, threshold: f64, now: Nanos) -> Option<Nanos> {
        if threshold > 1.0 {
            return None;
        }
        self.freshness_point().map(|tau| tau.max(now))
    }

    fn needs_seq(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detector::DetectorSpec;

    /// The paper's parameters (β = 1, φ = 4, γ = 0.1) for 100 ms heartbeats.
    fn paper() -> Bertier {
        Bertier::new(BertierConfig { interval: Nanos::from_millis(100), window: 1000, beta: 1.0, phi: 4.0, gamma: 0.1 })
    }

    /// Bertier's estimators worked by hand (β = 1, φ = 4, γ = 0.1, η = 100 ms) for
    /// heartbeats 0–3 arriving 10, 20, 10 and 30 ms after their slots:
    /// - heartbeat 1 at 120 ms, expected at 110 ms (EA from heartbeat 0): error 10 ms,
    ///   delay 1 ms, var 1 ms, margin 1 + 4·1 = 5 ms;
    /// - heartbeat 2 at 210 ms, expected at 215 ms: error −5 − 1 = −6 ms, delay 0.4 ms,
    ///   var 1 + 0.1·(6 − 1) = 1.5 ms, margin 0.4 + 6 = 6.4 ms;
    /// - heartbeat 3 at 330 ms, expected at 313.33 ms: error 16.2667 ms, delay 2.0267 ms,
    ///   var 2.9767 ms, margin ⌈13,933,333.3⌉ ns.
    ///
    /// The freshness point is EA of the next heartbeat plus the margin.
    #[test]
    fn the_margin_follows_jacobsons_estimators() {
        let mut b = paper();
        let expected =
            [(0, 110_000_000), (5_000_000, 220_000_000), (6_400_000, 319_733_334), (13_933_334, 431_433_334)];
        for (k, (delay_ms, (margin, tau))) in [10u64, 20, 10, 30].into_iter().zip(expected).enumerate() {
            let at = Nanos(k as u64 * 100_000_000 + delay_ms * 1_000_000);
            b.heartbeat(&Arrival { at, seq: Some(k as u64), incarnation: Some(0), sent: None }, 1.0);
            assert_eq!(b.margin_ns(), margin, "after heartbeat {k}");
            assert_eq!(b.suspect_at(1.0, at), Some(Nanos(tau)), "after heartbeat {k}");
            assert_eq!((b.level(Nanos(tau - 1)), b.level(Nanos(tau))), (0.0, 1.0));
        }
    }

    #[test]
    fn a_new_incarnation_teaches_nothing_until_its_second_heartbeat() {
        let mut b = paper();
        let hb = |at_ms: u64, seq: u64, incarnation: u64| Arrival {
            at: Nanos::from_millis(at_ms),
            seq: Some(seq),
            incarnation: Some(incarnation),
            sent: None,
        };
        b.heartbeat(&hb(10, 0, 0), 1.0);
        b.heartbeat(&hb(120, 1, 0), 1.0);
        assert_eq!(b.margin_ns(), 5_000_000);
        // A restart: its first heartbeat, 5 s late by the old estimate, resets the window and
        // is no error sample; the margin stays.
        b.heartbeat(&hb(5_000, 0, 1), 1.0);
        assert_eq!(b.margin_ns(), 5_000_000);
    }

    #[test]
    fn the_margins_weights_are_not_negative() {
        assert!(DetectorSpec::parse("bertier:interval=1s,beta=0,phi=0").is_ok());
        for key in ["beta", "phi"] {
            let e = DetectorSpec::parse(&format!("bertier:interval=1s,{key}=-1")).unwrap_err().to_string();
            assert_eq!(e, format!("`{key}=-1`: must be ≥ 0 (a weight in the safety margin)"));
        }
    }

    #[test]
    fn gamma_must_be_in_the_unit_interval() {
        assert!(DetectorSpec::parse("bertier:interval=1s,gamma=1").is_ok());
        for bad in ["0", "1.5", "-0.1"] {
            let e = DetectorSpec::parse(&format!("bertier:interval=1s,gamma={bad}")).unwrap_err().to_string();
            assert!(e.contains("gamma") && e.contains("(0, 1]"), "{e}");
        }
    }
}
