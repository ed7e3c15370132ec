//! Push detectors composed as *arrival estimator × safety margin*, after Falai and
//! Bondavalli (DSN 2005), who compared such combinations on one WAN trace.
//!
//! Every estimator works on the offsets o_k = A_k − s_k·η of the fresh heartbeats (arrival
//! time minus sequence number times the interval; the same freshness and incarnation rules
//! as Chen's [`ExpectedArrival`](super::expected_arrival)) and predicts the offset ô of the
//! next one, so that the next heartbeat is expected at EA = (ℓ+1)·η + ô, ℓ the highest
//! sequence number received:
//!
//! | estimator | ô |
//! | --- | --- |
//! | `last` | the last offset: EA = last fresh arrival + η |
//! | `mean` | the mean of every offset since the start (or the incarnation) |
//! | `winmean` | the mean of the last `window` offsets: Chen's EA |
//! | `lpf` | a low-pass filter: ô ← ô + `gain`·(o − ô), starting at the first offset |
//! | `ar1` | an AR(1) prediction over the last `window` offsets: μ + ρ·(o_last − μ), with μ their mean and ρ their lag-1 autocorrelation (clamped to [−1, 1]; 0 below 3 offsets or without variance) |
//!
//! | margin | m |
//! | --- | --- |
//! | `const` | 0: the knob α alone, as in Chen's NFD-E |
//! | `ci` | `k`·s, s the standard deviation of the last `window` offsets (0 below 2): a confidence bound on the next arrival |
//! | `jacobson` | Bertier's: at each fresh heartbeat error = o − ô − delay, delay ← delay + γ·error, var ← var + γ·(\|error\| − var), m = β·delay + φ·var |
//!
//! The level is now − (EA + m) in seconds and α is the knob: suspected ⇔ now ≥ EA + m + α.
//! Chen's NFD-E is `estimator=winmean,margin=const` (to a nanosecond: Chen keeps EA as an
//! exact fraction, this kind as a floating-point offset); Bertier's detector is
//! `winmean` + `jacobson` with α → 0. The state does not depend on α: one instance serves a
//! sweep.
//!
//! Declares the kind `estimate` (`KIND`, listed in `catalog::KINDS`).

use std::collections::VecDeque;

use super::expected_arrival::{INTERVAL, i128_to_f64};
use super::kind::{KeyInfo, KindInfo, Params};
use super::{Arrival, Detector, refine_crossing};
use crate::time::Nanos;

const ESTIMATORS: &[&str] = &["last", "mean", "winmean", "lpf", "ar1"];
const MARGINS: &[&str] = &["const", "ci", "jacobson"];

fn unit_gain(v: super::value::Value) -> Result<(), &'static str> {
    if v.number() > 0.0 && v.number() <= 1.0 { Ok(()) } else { Err("must be in (0, 1]") }
}

/// `estimate:estimator=NAME,margin=NAME,alpha=DUR`: α is the knob.
pub(crate) const KIND: KindInfo = KindInfo::new(
    "estimate",
    "arrival estimator × safety margin (Falai & Bondavalli): level now − (EA + margin); needs seq",
    |p| Box::new(Estimate::new(config(p))),
)
.knob(KeyInfo::duration("alpha", "100ms", "constant safety margin α, added to the estimator's margin"))
.keys(&[
    INTERVAL,
    KeyInfo::choice("estimator", "winmean", ESTIMATORS, "arrival estimator: last, mean, winmean, lpf, ar1"),
    KeyInfo::choice("margin", "const", MARGINS, "adaptive margin: const (none), ci, jacobson"),
    KeyInfo::window("window", "1000", "offsets held by winmean, ar1 and ci"),
    KeyInfo::number("gain", "0.125", "lpf's gain, in (0, 1]").checked(unit_gain),
    KeyInfo::number("k", "2", "ci: standard deviations in the margin").checked(super::value::non_negative),
    KeyInfo::number("beta", "1", "jacobson: weight of the delay estimate").checked(super::value::non_negative),
    KeyInfo::number("phi", "4", "jacobson: weight of the variation estimate").checked(super::value::non_negative),
    KeyInfo::number("gamma", "0.1", "jacobson: gain of the estimators, in (0, 1]").checked(unit_gain),
])
.sequence_aware();

fn config(p: &Params<'_>) -> EstimateConfig {
    let estimator = match p.choice("estimator") {
        "last" => Estimator::Last,
        "mean" => Estimator::Mean,
        "lpf" => Estimator::LowPass { gain: p.number("gain") },
        "ar1" => Estimator::Ar1,
        _ => Estimator::WindowMean,
    };
    let margin = match p.choice("margin") {
        "ci" => Margin::ConfidenceInterval { k: p.number("k") },
        "jacobson" => Margin::Jacobson { beta: p.number("beta"), phi: p.number("phi"), gamma: p.number("gamma") },
        _ => Margin::Constant,
    };
    EstimateConfig { interval: p.duration("interval"), window: p.count("window"), estimator, margin }
}

/// How the next offset is predicted.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Estimator {
    Last,
    Mean,
    WindowMean,
    LowPass { gain: f64 },
    Ar1,
}

/// The adaptive part of the safety margin.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Margin {
    Constant,
    ConfidenceInterval { k: f64 },
    Jacobson { beta: f64, phi: f64, gamma: f64 },
}

#[derive(Clone, Debug, PartialEq)]
pub struct EstimateConfig {
    pub interval: Nanos,
    pub window: usize,
    pub estimator: Estimator,
    pub margin: Margin,
}

#[derive(Clone, Debug)]
pub struct Estimate {
    config: EstimateConfig,
    incarnation: u64,
    highest_seq: Option<u64>,
    /// The first offset since the start or the incarnation: every offset is kept relative to
    /// it, so that the floating-point sums hold small numbers.
    reference: i128,
    /// Offsets relative to `reference`, the last `window` of them.
    recent: VecDeque<f64>,
    /// Σd, Σd² and Σ d_i·d_{i+1} over `recent`, refreshed from scratch every `window`
    /// heartbeats so that rounding cannot accumulate.
    sum: f64,
    sum_squares: f64,
    sum_lagged: f64,
    until_refresh: usize,
    /// Every offset since the reference, exactly (for `mean`).
    total: i128,
    count: u64,
    /// `lpf`'s state (relative offset).
    filtered: f64,
    /// Jacobson's estimators, in ns.
    delay: f64,
    var: f64,
    /// (ℓ+1)·η, exact.
    base: i128,
    /// ô + m, relative to nothing: the next heartbeat is expected at `base + expected`, and
    /// suspected `alpha` after it.
    expected: f64,
}

impl Estimate {
    pub fn new(config: EstimateConfig) -> Estimate {
        let window = config.window.max(1);
        Estimate {
            config: EstimateConfig { window, ..config },
            incarnation: 0,
            highest_seq: None,
            reference: 0,
            recent: VecDeque::with_capacity(window.min(1 << 16)),
            sum: 0.0,
            sum_squares: 0.0,
            sum_lagged: 0.0,
            until_refresh: window,
            total: 0,
            count: 0,
            filtered: 0.0,
            delay: 0.0,
            var: 0.0,
            base: 0,
            expected: 0.0,
        }
    }

    /// The predicted offset of the next heartbeat, relative to `reference` (ns).
    fn predicted(&self) -> f64 {
        let n = self.recent.len() as f64;
        match self.config.estimator {
            Estimator::Last => self.recent.back().copied().unwrap_or(0.0),
            Estimator::Mean => i128_to_f64(self.total) / self.count.max(1) as f64,
            Estimator::WindowMean => self.sum / n.max(1.0),
            Estimator::LowPass { .. } => self.filtered,
            Estimator::Ar1 => {
                let mean = self.sum / n.max(1.0);
                let last = self.recent.back().copied().unwrap_or(0.0);
                let centred = self.sum_squares - n * mean * mean;
                let rho = if self.recent.len() < 3 || centred <= 0.0 {
                    0.0
                } else {
                    // Σ (d_i − μ)(d_{i+1} − μ) over the n − 1 consecutive pairs.
                    let (first, last_d) = (self.recent[0], last);
                    let lagged = self.sum_lagged - mean * (2.0 * self.sum - first - last_d) + (n - 1.0) * mean * mean;
                    (lagged / centred).clamp(-1.0, 1.0)
                };
                mean + rho * (last - mean)
            }
        }
    }

    fn standard_deviation(&self) -> f64 {
        let n = self.recent.len() as f64;
        if self.recent.len() < 2 {
            return 0.0;
        }
        let mean = self.sum / n;
        ((self.sum_squares - n * mean * mean) / (n - 1.0)).max(0.0).sqrt()
    }

    fn reset(&mut self, incarnation: u64) {
        *self = Estimate::new(self.config.clone());
        self.incarnation = incarnation;
    }

    fn push(&mut self, d: f64) {
        if self.recent.len() == self.config.window {
            // Cannot fail: the window is full, so not empty.
            let old = self.recent.pop_front().expect("full window");
            self.sum -= old;
            self.sum_squares -= old * old;
            if let Some(&next) = self.recent.front() {
                self.sum_lagged -= old * next;
            }
        }
        if let Some(&previous) = self.recent.back() {
            self.sum_lagged += previous * d;
        }
        self.recent.push_back(d);
        self.sum += d;
        self.sum_squares += d * d;
        // The refresh only bounds rounding: in exact arithmetic the running sums are the
        // recomputed ones, so refreshing never or at every heartbeat changes a prediction
        // only in its last bits (equivalent mutants of the countdown, for any test).
        self.until_refresh -= 1;
        if self.until_refresh == 0 {
            self.until_refresh = self.config.window;
            self.sum = self.recent.iter().sum();
            self.sum_squares = self.recent.iter().map(|x| x * x).sum();
            self.sum_lagged = self.recent.iter().zip(self.recent.iter().skip(1)).map(|(a, b)| a * b).sum();
        }
    }
}

impl Detector for Estimate {
    fn heartbeat(&mut self, arrival: &Arrival, _threshold: f64) {
        let Some(seq) = arrival.seq else { return };
        let incarnation = arrival.incarnation.unwrap_or(0);
        if incarnation < self.incarnation {
            return;
        }
        if incarnation > self.incarnation {
            self.reset(incarnation);
        }
        if self.highest_seq.is_some_and(|h| seq <= h) {
            return;
        }
        let interval = self.config.interval.0 as i128;
        let offset = arrival.at.0 as i128 - seq as i128 * interval;
        let first = self.highest_seq.is_none();
        if first {
            self.reference = offset;
        }
        let d = i128_to_f64(offset - self.reference);
        // Jacobson learns from the error of the prediction made before this heartbeat.
        if let (false, Margin::Jacobson { gamma, .. }) = (first, self.config.margin) {
            let error = d - self.predicted() - self.delay;
            self.delay += gamma * error;
            self.var += gamma * (error.abs() - self.var);
        }
        self.highest_seq = Some(seq);
        self.total += offset - self.reference;
        self.count += 1;
        // (The guard only states the rule: the first offset is the reference, so d = 0 and a
        // fresh filter of 0 would give 0 either way.)
        self.filtered = match self.config.estimator {
            Estimator::LowPass { gain } if !first => self.filtered + gain * (d - self.filtered),
            _ => d,
        };
        self.push(d);
        let margin = match self.config.margin {
            Margin::Constant => 0.0,
            Margin::ConfidenceInterval { k } => k * self.standard_deviation(),
            Margin::Jacobson { beta, phi, .. } => beta * self.delay + phi * self.var,
        };
        self.base = (seq as i128 + 1) * interval + self.reference;
        self.expected = self.predicted() + margin;
    }

    fn level(&self, now: Nanos) -> f64 {
        if self.highest_seq.is_none() {
            return 0.0;
        }
        (i128_to_f64(now.0 as i128 - self.base) - self.expected) / 1e9
    }

    fn suspect_at(&self, threshold: f64, now: Nanos) -> Option<Nanos> {
        self.highest_seq?;
        // (Only a guess: `refine_crossing` corrects any.)
        let guess = i128_to_f64(self.base) + self.expected + threshold * 1e9;
        refine_crossing(now, guess, |t| self.level(t) >= threshold)
    }

    fn needs_seq(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detector::DetectorSpec;
    use crate::detector::chen::Chen;

    fn hb(at_ms: f64, seq: u64) -> Arrival {
        Arrival { at: Nanos((at_ms * 1e6) as u64), seq: Some(seq), incarnation: Some(0), sent: None }
    }

    fn build(spec: &str) -> Box<dyn Detector> {
        let spec = DetectorSpec::parse(spec).unwrap();
        spec.require_complete().unwrap();
        spec.build()
    }

    /// Asserts that `estimate:interval=100ms,{spec}`, having heard `heard`, has level 0 (to
    /// 2 ns) at `expected_ms`: where the expected arrival plus margin lies.
    fn assert_zero_at(spec: &str, heard: &[Arrival], expected_ms: f64) {
        let mut d = build(&format!("estimate:interval=100ms,{spec}"));
        for a in heard {
            d.heartbeat(a, 0.1);
        }
        let level = d.level(Nanos((expected_ms * 1e6) as u64));
        assert!(level.abs() < 2e-9, "{spec} after {}: level {level} s at {expected_ms} ms", heard.len());
    }

    /// Expected arrival + margin after heartbeats 0–3 arriving 10, 20, 10, 30 ms after their
    /// 100 ms slots (offsets 10, 20, 10, 30 ms), worked by hand: the instant (ms) at which
    /// the level is 0.
    #[test]
    fn each_estimator_and_margin_worked_by_hand() {
        let arrivals = [hb(10.0, 0), hb(120.0, 1), hb(210.0, 2), hb(330.0, 3)];
        // Offsets relative to the first: 0, 10, 0, 20 ms; the next slot is 400 ms.
        // A low-pass filter of gain 0.5 from 0: 10 → 5, 0 → 2.5, 20 → 11.25.
        let lpf = 11.25;
        // AR(1) over 0, 10, 0, 20: μ = 7.5, Σ(d−μ)² = 56.25 + 6.25 + 56.25 + 156.25 = 275,
        // lagged Σ = (−7.5)(2.5) + (2.5)(−7.5) + (−7.5)(12.5) = −131.25: ρ = −0.477…,
        // ô = 7.5 + ρ·12.5.
        let rho = -131.25 / 275.0;
        // Sample standard deviation of 0, 10, 0, 20: √(275 / 3).
        let s = (275.0f64 / 3.0).sqrt();
        for (spec, expected_ms) in [
            ("estimator=last", 400.0 + 10.0 + 20.0),
            ("estimator=mean", 410.0 + 7.5),
            ("estimator=winmean", 410.0 + 7.5),
            ("estimator=winmean,window=2", 410.0 + 10.0),
            ("estimator=mean,window=2", 410.0 + 7.5),
            ("estimator=lpf,gain=0.5", 410.0 + lpf),
            ("estimator=ar1", 410.0 + 7.5 + rho * 12.5),
            ("estimator=winmean,margin=ci,k=2", 410.0 + 7.5 + 2.0 * s),
        ] {
            assert_zero_at(spec, &arrivals, expected_ms);
        }
    }

    /// AR(1) at its edges, worked by hand from the same arrivals (offsets relative to the
    /// first: 0, 10, 0, 20 ms): ρ is 0 below three offsets (after two: the mean, 5 ms); at
    /// exactly three (0, 10, 0: μ = 10/3, Σ(d−μ)² = 200/3, lagged Σ = −400/9, ρ = −2/3,
    /// ô = 10/3 + (2/3)(10/3) = 50/9 ms); over a window of 3 that has slid past the first
    /// (10, 0, 20: μ = 10, Σ(d−μ)² = 200, lagged Σ = −100, ρ = −½, ô = 5 ms); and 0 without
    /// variance (four on time: ô = 0, not 0/0).
    #[test]
    fn ar1_at_two_and_three_offsets_after_a_slide_and_without_variance() {
        let arrivals = [hb(10.0, 0), hb(120.0, 1), hb(210.0, 2), hb(330.0, 3)];
        let steady = [hb(10.0, 0), hb(110.0, 1), hb(210.0, 2), hb(310.0, 3)];
        for (spec, heard, expected_ms) in [
            ("estimator=ar1", &arrivals[..2], 210.0 + 5.0),
            ("estimator=ar1", &arrivals[..3], 310.0 + 50.0 / 9.0),
            ("estimator=ar1,window=3", &arrivals[..], 410.0 + 5.0),
            ("estimator=ar1", &steady[..], 410.0),
        ] {
            assert_zero_at(spec, heard, expected_ms);
        }
    }

    /// The confidence-interval margin from its first two offsets (0 and 10 ms: mean 5 ms,
    /// sample standard deviation √50 ms), and none from one (a single offset has no spread).
    #[test]
    fn ci_margin_from_one_and_two_heartbeats() {
        let arrivals = [hb(10.0, 0), hb(120.0, 1)];
        for (heard, expected_ms) in [(&arrivals[..1], 110.0), (&arrivals[..], 210.0 + 5.0 + 2.0 * 50f64.sqrt())] {
            assert_zero_at("estimator=winmean,margin=ci,k=2", heard, expected_ms);
        }
    }

    /// The running sums (Σd, Σd², Σ d_i·d_{i+1}) and AR(1)'s prediction equal the window's
    /// own, recomputed from scratch, after every heartbeat: through slides, losses and the
    /// periodic refresh, for windows of 1, 2, 3 and 7. Offsets of up to 50 ms in ns make Σd²
    /// about 1e15, so the bounds are relative to that scale; a wrong term of one pair is off
    /// by far more.
    #[test]
    fn running_sums_equal_the_window_recomputed() {
        for window in [1, 2, 3, 7] {
            let config = EstimateConfig {
                interval: Nanos::from_millis(100),
                window,
                estimator: Estimator::Ar1,
                margin: Margin::Constant,
            };
            let mut d = Estimate::new(config);
            let mut offsets: Vec<f64> = Vec::new();
            let (mut x, mut seq, mut first) = (99u64, 0u64, None);
            for k in 0..300 {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                seq += 1 + u64::from(x >> 61 == 0);
                let delay = ((x >> 30) % 50_000_000) as i64;
                let at = Nanos(seq * 100_000_000 + delay as u64);
                d.heartbeat(&Arrival { at, seq: Some(seq), incarnation: None, sent: None }, 0.1);
                let first = *first.get_or_insert(delay);
                offsets.push((delay - first) as f64);
                let w = &offsets[offsets.len().saturating_sub(window)..];
                let (n, last) = (w.len() as f64, w[w.len() - 1]);
                let sum: f64 = w.iter().sum();
                let squares: f64 = w.iter().map(|v| v * v).sum();
                let lagged: f64 = w.windows(2).map(|p| p[0] * p[1]).sum();
                let scale = 2.5e15 * n;
                assert!(
                    (d.sum - sum).abs() <= 1e-6
                        && (d.sum_squares - squares).abs() <= 1e-12 * scale
                        && (d.sum_lagged - lagged).abs() <= 1e-12 * scale,
                    "window {window}, heartbeat {k}: {:?} against {:?}",
                    (d.sum, d.sum_squares, d.sum_lagged),
                    (sum, squares, lagged)
                );
                let mean = sum / n;
                let centred: f64 = w.iter().map(|v| (v - mean) * (v - mean)).sum();
                let rho = if w.len() < 3 || centred <= 0.0 {
                    0.0
                } else {
                    let pairs: f64 = w.windows(2).map(|p| (p[0] - mean) * (p[1] - mean)).sum();
                    (pairs / centred).clamp(-1.0, 1.0)
                };
                let expected = mean + rho * (last - mean);
                assert!(
                    (d.predicted() - expected).abs() <= 1e-3,
                    "window {window}, heartbeat {k}: {} against {expected}",
                    d.predicted()
                );
            }
        }
    }

    /// Jacobson's margin is Bertier's: the same hand-worked numbers as `bertier.rs`.
    #[test]
    fn jacobson_is_bertiers_margin() {
        let mut d = build("estimate:interval=100ms,margin=jacobson");
        // Bertier's freshness points after heartbeats 0–3 (ns), from bertier.rs's own test.
        let taus = [110_000_000u64, 220_000_000, 319_733_334, 431_433_334];
        for (k, (delay_ms, tau)) in [10.0, 20.0, 10.0, 30.0].into_iter().zip(taus).enumerate() {
            d.heartbeat(&hb(k as f64 * 100.0 + delay_ms, k as u64), 0.1);
            let level = d.level(Nanos(tau));
            assert!(level.abs() < 2e-9, "after heartbeat {k}: level {level} at {tau}");
        }
    }

    /// Jacobson's margin is β·delay + φ·var: zero weights give the constant margin, each
    /// weight scales its own estimator, and doubling both doubles the margin (Bertier's
    /// weights are 1 and 4, which alone cannot tell β·delay from β + delay).
    #[test]
    fn jacobsons_weights_scale_its_two_estimators() {
        let specs = ["margin=const", "margin=jacobson,beta=0,phi=0", "margin=jacobson,beta=1,phi=0"];
        let more = ["margin=jacobson,beta=0,phi=4", "margin=jacobson", "margin=jacobson,beta=2,phi=8"];
        let mut ds: Vec<_> =
            specs.iter().chain(&more).map(|s| build(&format!("estimate:interval=100ms,{s}"))).collect();
        for (k, delay_ms) in [10.0, 20.0, 10.0, 30.0, 5.0].into_iter().enumerate() {
            let a = hb(k as f64 * 100.0 + delay_ms, k as u64);
            // Where each level is 0, in ns.
            let zero: Vec<f64> = ds
                .iter_mut()
                .map(|d| {
                    d.heartbeat(&a, 0.1);
                    a.at.0 as f64 - d.level(a.at) * 1e9
                })
                .collect();
            let m: Vec<f64> = zero.iter().map(|z| z - zero[0]).collect();
            let close = |x: f64, y: f64| (x - y).abs() < 2.0;
            assert!(
                close(m[1], 0.0) && close(m[2] + m[3], m[4]) && close(m[5], 2.0 * m[4]),
                "heartbeat {k}: margins {m:?}"
            );
            assert!(k < 2 || m[2].abs() > 1e5 && m[3] > 1e5, "heartbeat {k}: both estimators move: {m:?}");
        }
    }

    #[test]
    fn winmean_with_a_constant_margin_is_chen() {
        let mut mine = build("estimate:interval=100ms,estimator=winmean,margin=const,window=5");
        let mut chen = Chen::new(Nanos::from_millis(100), 5);
        let mut x = 12345u64;
        let mut seq = 0;
        for _ in 0..200 {
            // A pseudo-random delay of 0–50 ms and an occasional loss.
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            seq += 1 + u64::from(x >> 60 == 0);
            let a = Arrival {
                at: Nanos(seq * 100_000_000 + (x >> 40) % 50_000_000),
                seq: Some(seq),
                incarnation: Some(0),
                sent: None,
            };
            mine.heartbeat(&a, 0.05);
            chen.heartbeat(&a, 0.05);
            for alpha in [0.001, 0.05, 0.3] {
                let (m, c) = (mine.suspect_at(alpha, a.at).unwrap(), chen.suspect_at(alpha, a.at).unwrap());
                assert!(m.0.abs_diff(c.0) <= 1, "seq {seq}, α {alpha}: {m:?} against Chen's {c:?}");
            }
        }
    }

    #[test]
    fn stale_seqs_and_incarnations_follow_chens_rules() {
        let mut d = build("estimate:interval=100ms,estimator=last");
        d.heartbeat(&hb(10.0, 0), 0.1);
        d.heartbeat(&hb(115.0, 1), 0.1);
        let at = d.suspect_at(0.1, Nanos(115_000_000));
        // A stale seq changes nothing.
        d.heartbeat(&hb(150.0, 0), 0.1);
        assert_eq!(d.suspect_at(0.1, Nanos(150_000_000)), at);
        // A new incarnation starts afresh: expected one interval after its first heartbeat.
        d.heartbeat(&Arrival { at: Nanos(5_000_000_000), seq: Some(0), incarnation: Some(1), sent: None }, 0.1);
        assert_eq!(d.suspect_at(0.1, Nanos(5_000_000_000)), Some(Nanos(5_200_000_000)));
        // Nothing heard, nothing suspected.
        let fresh = build("estimate:interval=100ms");
        assert_eq!((fresh.level(Nanos(1 << 40)), fresh.suspect_at(0.1, Nanos(0))), (0.0, None));
    }

    #[test]
    fn choices_are_checked_and_named_in_labels() {
        let e = DetectorSpec::parse("estimate:estimator=median").unwrap_err().to_string();
        assert!(e.contains("estimator") && e.contains("last, mean, winmean, lpf, ar1"), "{e}");
        let e = DetectorSpec::parse("estimate:gain=0").unwrap_err().to_string();
        assert!(e.contains("gain") && e.contains("(0, 1]"), "{e}");
        for key in ["k", "beta", "phi"] {
            let e = DetectorSpec::parse(&format!("estimate:{key}=-0.5")).unwrap_err().to_string();
            assert_eq!(e, format!("`{key}=-0.5`: must be ≥ 0 (a weight in the safety margin)"));
            assert!(DetectorSpec::parse(&format!("estimate:{key}=0")).is_ok());
        }
        let spec = DetectorSpec::parse("estimate:estimator=lpf,margin=ci,alpha=10ms|20ms").unwrap();
        let labels: Vec<String> = spec.points().into_iter().map(|p| p.label).collect();
        assert_eq!(
            labels,
            ["estimate:alpha=10ms,estimator=lpf,margin=ci", "estimate:alpha=20ms,estimator=lpf,margin=ci"]
        );
    }
}
