//! Parity with the reference implementations: Akka/Pekko's φ and Cassandra's φ-exp,
//! computed by hand from their algorithms (REFERENCES.md §2).

use std::collections::VecDeque;

use fdlab::detector::phi::{phi_logistic, y_star};
use fdlab::detector::phi_exp::PHI_FACTOR;
use fdlab::detector::{Arrival, Detector, DetectorSpec, Phi, PhiConfig, PhiExp, PhiExpConfig};
use fdlab::time::Nanos;

fn ms(x: u64) -> Nanos {
    Nanos::from_millis(x)
}

/// Akka's PhiAccrualFailureDetector transcribed in its own units (milliseconds, doubles for
/// the formula, exact sums), as an independent oracle.
struct AkkaPhi {
    threshold: f64,
    max_samples: usize,
    min_std_ms: f64,
    pause_ms: f64,
    intervals: VecDeque<u64>,
    last_ms: Option<u64>,
}

impl AkkaPhi {
    fn new(threshold: f64, max_samples: usize, min_std_ms: f64, pause_ms: f64, first_ms: u64) -> AkkaPhi {
        let mut intervals = VecDeque::new();
        // firstHeartbeat: mean = first, stdDeviation = first / 4 (Long division).
        intervals.push_back(first_ms - first_ms / 4);
        intervals.push_back(first_ms + first_ms / 4);
        AkkaPhi { threshold, max_samples, min_std_ms, pause_ms, intervals, last_ms: None }
    }

    fn phi(&self, now_ms: u64) -> f64 {
        let Some(last) = self.last_ms else { return 0.0 };
        let time_diff = (now_ms - last) as f64;
        let n = self.intervals.len() as f64;
        let sum: u64 = self.intervals.iter().sum();
        let sum_sq: u64 = self.intervals.iter().map(|x| x * x).sum();
        let mean = sum as f64 / n;
        let variance = sum_sq as f64 / n - mean * mean;
        let std = variance.sqrt().max(self.min_std_ms);
        let mean = mean + self.pause_ms;
        let y = (time_diff - mean) / std;
        let e = (-y * (1.5976 + 0.070566 * y * y)).exp();
        if time_diff > mean { -(e / (1.0 + e)).log10() } else { -(1.0 - 1.0 / (1.0 + e)).log10() }
    }

    fn heartbeat(&mut self, now_ms: u64) {
        if let Some(last) = self.last_ms
            && self.phi(now_ms) < self.threshold
        {
            self.intervals.push_back(now_ms - last);
            if self.intervals.len() > self.max_samples {
                self.intervals.pop_front();
            }
        }
        self.last_ms = Some(now_ms);
    }
}

#[test]
fn akka_test_suite_values() {
    // Akka's AccrualFailureDetectorSpec "return realistic phi values": mean 1000 ms, std 100 ms.
    for (time_diff, expected) in
        [(0, 0.0), (500, 0.1), (1000, 0.3), (1200, 1.6), (1400, 4.7), (1600, 10.8), (1700, 15.3)]
    {
        let phi = phi_logistic((time_diff as f64 - 1000.0) / 100.0);
        assert!((phi - expected).abs() <= 0.1, "timeDiff {time_diff}: {phi} vs {expected}");
    }
}

#[test]
fn bootstrap_values_by_hand() {
    // First heartbeat at 0 with first = 1 s: history [750, 1250] ms, mean 1000, std 250.
    let mut d = Phi::new(PhiConfig { pause: Nanos::ZERO, ..PhiConfig::default() });
    d.heartbeat(&Arrival::at(ms(0)), 8.0);
    // At the mean: y = 0, φ = log10(2).
    assert!((d.level(ms(1000)) - 2f64.log10()).abs() < 1e-12);
    // 500 ms past the mean: y = 2, e = exp(−2·(1.5976 + 0.070566·4)).
    let e = (-2.0f64 * (1.5976 + 0.070566 * 4.0)).exp();
    assert!((d.level(ms(1500)) - -(e / (1.0 + e)).log10()).abs() < 1e-12);
    // The acceptable pause shifts the mean only: with pause 3 s, y = 2 at 4.5 s.
    let mut d = Phi::new(PhiConfig::default());
    d.heartbeat(&Arrival::at(ms(0)), 8.0);
    assert!((d.level(ms(4500)) - -(e / (1.0 + e)).log10()).abs() < 1e-12);
}

#[test]
fn min_std_floors_the_deviation() {
    // Identical 1 s intervals: std 0, so σ' = min_std = 100 ms; at 1.2 s y = 2.
    let mut d = Phi::new(PhiConfig { pause: Nanos::ZERO, window: 10, ..PhiConfig::default() });
    for i in 0..20 {
        d.heartbeat(&Arrival::at(ms(1000 * i)), 8.0);
    }
    assert!(d.history().all(|x| x == 1_000_000_000));
    let e = (-2.0f64 * (1.5976 + 0.070566 * 4.0)).exp();
    assert!((d.level(ms(19_000 + 1200)) - -(e / (1.0 + e)).log10()).abs() < 1e-12);
}

#[test]
fn matches_akka_on_a_sequence_and_diverges_by_threshold_as_akka_does() {
    // Steady 1 s heartbeats, one 1.8 s gap, jitter; threshold 1 suspects during the gap (so the
    // 1.8 s interval is not recorded), threshold 8 does not (so it is).
    let arrivals: Vec<u64> = {
        let mut t = 0;
        let mut v = vec![];
        for i in 0..40u64 {
            t += if i == 20 { 1800 } else { 900 + (i * 37) % 200 };
            v.push(t);
        }
        v
    };
    let mut finals = vec![];
    for threshold in [1.0, 8.0] {
        let mut akka = AkkaPhi::new(threshold, 30, 100.0, 500.0, 1000);
        let config = PhiConfig { window: 30, pause: ms(500), ..PhiConfig::default() };
        let mut ours = Phi::new(config);
        for &a in &arrivals {
            akka.heartbeat(a);
            ours.heartbeat(&Arrival::at(ms(a)), threshold);
            for probe in [0, 250, 900, 1100, 1500, 2500, 4000] {
                let (x, y) = (akka.phi(a + probe), ours.level(ms(a + probe)));
                assert!(
                    x == y || (x - y).abs() <= 1e-9 * x.abs().max(1.0),
                    "th {threshold} at {}: akka {x} fdlab {y}",
                    a + probe
                );
            }
        }
        let history: Vec<u64> = ours.history().map(|x| x / 1_000_000).collect();
        assert_eq!(history, akka.intervals.iter().copied().collect::<Vec<_>>());
        finals.push((history.contains(&1800), ours.level(ms(arrivals[39] + 1500))));
    }
    assert!(!finals[0].0, "threshold 1 must not record the interval ending its suspicion");
    assert!(finals[1].0, "threshold 8 records it");
    assert!(finals[0].1 != finals[1].1);
    // And the bank keeps one φ instance per threshold: check through a spec.
    let spec = DetectorSpec::parse("phi:threshold=1|8").unwrap();
    assert!(spec.build().state_depends_on_threshold());
}

#[test]
fn constant_delay_crosses_at_eta_plus_pause_plus_min_std_times_y_star() {
    // Akka cluster defaults, 1 s heartbeats, constant delay: after the window is all 1 s,
    // σ = 0 → σ' = min_std.
    let mut d = Phi::new(PhiConfig::default());
    let mut last = Nanos(0);
    for i in 0..1500u64 {
        last = Nanos(5_000_000 + i * 1_000_000_000);
        d.heartbeat(&Arrival::at(last), 8.0);
    }
    for threshold in [1.0, 3.0, 8.0, 12.0, 16.0] {
        let y = y_star(phi_logistic, threshold).unwrap();
        let expected = last.0 as f64 + 1e9 + 3e9 + 1e8 * y;
        let got = d.suspect_at(threshold, last).unwrap();
        assert!((got.0 as f64 - expected).abs() <= 1.0, "threshold {threshold}: {} vs {expected}", got.0);
    }
    // REFERENCES.md: with the cluster defaults φ crosses 8 about 4.5 s after the last heartbeat.
    let after = (d.suspect_at(8.0, last).unwrap() - last).as_secs_f64();
    assert!((after - 4.5).abs() < 0.05, "{after}");
}

#[test]
fn cassandra_convicts_at_threshold_ln10_mean() {
    let mut d = PhiExp::new(PhiExpConfig::default());
    // The first heartbeat records the 2 s initial interval.
    d.heartbeat(&Arrival::at(ms(0)), 8.0);
    assert_eq!(d.mean(), 2e9);
    let expected = 8.0 * std::f64::consts::LN_10 * 2e9;
    assert!((d.suspect_at(8.0, ms(0)).unwrap().0 as f64 - expected).abs() <= 1.0);
    // 1000 heartbeats 500 ms apart evict it: mean 500 ms, conviction at 8·ln10·0.5 s ≈ 9.21 s.
    let mut t = 0;
    for _ in 0..1000 {
        t += 500;
        d.heartbeat(&Arrival::at(ms(t)), 8.0);
    }
    assert_eq!(d.mean(), 5e8);
    let got = d.suspect_at(8.0, ms(t)).unwrap() - ms(t);
    assert!((got.0 as f64 - 8.0 * std::f64::consts::LN_10 * 5e8).abs() <= 1.0);
    // The level is PHI_FACTOR · silence / mean, compared with the threshold.
    assert!((d.level(ms(t + 1000)) - PHI_FACTOR * 2.0).abs() < 1e-12);
    // An interval above max_interval (2 s) is not recorded: the mean stays 500 ms.
    t += 2500;
    d.heartbeat(&Arrival::at(ms(t)), 8.0);
    assert_eq!(d.mean(), 5e8);
    // One of exactly 2 s is recorded.
    t += 2000;
    d.heartbeat(&Arrival::at(ms(t)), 8.0);
    assert_eq!(d.mean(), (999.0 * 5e8 + 2e9) / 1000.0);
}
