//! φ accrual with a normal distribution, exactly as Akka/Pekko's
//! `PhiAccrualFailureDetector` computes it (Hayashibara et al., SRDS 2004; Hazelcast's φ
//! detector is the same algorithm). REFERENCES.md §2 lists every rule followed here:
//!
//! - y = (Δt − μ')/σ' with μ' = mean + acceptable pause, σ' = max(stddev, min std dev);
//! - φ from Akka's logistic approximation of the normal tail (or, with `exact`, from erfc);
//! - the history starts with two synthetic intervals first ± first/4;
//! - an interval is recorded only if φ < threshold when its heartbeat arrived, so the state
//!   depends on the threshold and a sweep keeps one instance per threshold.
//!
//! Because φ depends on the silence only through y, the crossing of a threshold is
//! t_last + μ' + σ'·y*, with y* solved once per threshold ([`y_star`]).
//!
//! Declares the kind `phi` (`KIND`, listed in `catalog::KINDS`).

use std::cell::Cell;

use super::kind::{KeyInfo, KindInfo, Params, positive_duration};
use super::window::Window;
use super::{Arrival, Detector, refine_crossing};
use crate::time::Nanos;

/// `phi:threshold=X`, with Akka's settings as keys; the defaults are [`PhiConfig`]'s.
pub(crate) const KIND: KindInfo =
    KindInfo::new("phi", "φ accrual, normal distribution, exactly as Akka/Pekko (and Hazelcast) compute it", |p| {
        Box::new(Phi::new(config(p)))
    })
    .knob(KeyInfo::number("threshold", "8", "φ threshold"))
    .keys(&[
        KeyInfo::window("window", "1000", "max-sample-size: intervals kept"),
        KeyInfo::duration("min_std", "100ms", "min-std-deviation").checked(positive_duration),
        KeyInfo::duration("pause", "3s", "acceptable-heartbeat-pause, added to the mean"),
        KeyInfo::duration("first", "1s", "first-heartbeat estimate seeding the history").checked(positive_duration),
        KeyInfo::bool("exact", "false", "exact normal tail (erfc) instead of Akka's logistic form"),
    ]);

fn config(p: &Params<'_>) -> PhiConfig {
    PhiConfig {
        window: p.count("window"),
        min_std: p.duration("min_std"),
        pause: p.duration("pause"),
        first: p.duration("first"),
        exact: p.bool("exact"),
    }
}

/// Parameters of the φ detector; defaults are Akka/Pekko cluster's `reference.conf`.
#[derive(Clone, Debug, PartialEq)]
pub struct PhiConfig {
    /// `max-sample-size`: intervals kept (default 1000).
    pub window: usize,
    /// `min-std-deviation` (default 100 ms).
    pub min_std: Nanos,
    /// `acceptable-heartbeat-pause`, added to the mean (default 3 s).
    pub pause: Nanos,
    /// The first-heartbeat estimate that seeds the history (default: the heartbeat
    /// interval, 1 s).
    pub first: Nanos,
    /// Use the exact normal tail (erfc) instead of Akka's logistic approximation.
    pub exact: bool,
}

impl Default for PhiConfig {
    fn default() -> PhiConfig {
        PhiConfig {
            window: 1000,
            min_std: Nanos::from_millis(100),
            pause: Nanos::from_secs(3),
            first: Nanos::from_secs(1),
            exact: false,
        }
    }
}

/// φ as a function of y = (Δt − μ')/σ', Akka's logistic form:
/// e = exp(−y·(1.5976 + 0.070566·y²)); φ = −log10(e/(1+e)) if y > 0, else −log10(1 − 1/(1+e)).
pub fn phi_logistic(y: f64) -> f64 {
    let e = libm::exp(-y * (1.5976 + 0.070566 * y * y));
    // `+ 0.0` turns the −0 of −log10(1) into 0. (At y = 0 both branches give log10 2, so
    // `y >= 0.0` would be an equivalent mutant.)
    let phi = if y > 0.0 { -libm::log10(e / (1.0 + e)) } else { -libm::log10(1.0 - 1.0 / (1.0 + e)) };
    phi + 0.0
}

/// φ from the exact normal tail: −log10(P(Z > y)) = −log10(erfc(y/√2)/2).
pub fn phi_exact(y: f64) -> f64 {
    let tail = 0.5 * libm::erfc(y / std::f64::consts::SQRT_2);
    -libm::log10(tail) + 0.0
}

/// The smallest `f64` y with `phi(y) >= threshold`: bisection over the ordered bit patterns
/// of doubles in [−64, 64]. `None` if the threshold is above φ(64) (which is +∞ for both
/// forms, so only for a non-finite threshold).
pub fn y_star(phi: fn(f64) -> f64, threshold: f64) -> Option<f64> {
    // Maps a double to an integer with the same order, and back.
    fn key(x: f64) -> u64 {
        let b = x.to_bits();
        // (For a sign bit of 0, `|` and `^` agree: an equivalent mutant.)
        if b >> 63 == 0 { b | (1 << 63) } else { !b }
    }
    fn unkey(k: u64) -> f64 {
        f64::from_bits(if k >> 63 == 1 { k & !(1 << 63) } else { !k })
    }
    let (mut lo, mut hi) = (key(-64.0), key(64.0));
    if phi(unkey(lo)) >= threshold {
        return Some(unkey(lo));
    }
    if phi(unkey(hi)) < threshold {
        return None;
    }
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if phi(unkey(mid)) >= threshold {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Some(unkey(hi))
}

#[derive(Clone, Debug)]
pub struct Phi {
    config: PhiConfig,
    history: Window,
    last: Option<Nanos>,
    /// μ', σ' and 1/σ' in ns for the current history, updated on every heartbeat.
    mean_plus_pause: f64,
    std: f64,
    inv_std: f64,
    /// The acceptable pause in ns, converted once.
    pause_ns: f64,
    /// The floor of σ' (min std dev, at least 1 ns), its square and its inverse.
    floor_std: f64,
    floor_var: f64,
    /// fl(floor²) · (1 − 2^-50): see `update_moments`.
    clearly_below_floor_var: f64,
    inv_floor_std: f64,
    /// Intervals that reached 2/3 of the acceptable pause (Akka logs a warning for each).
    long_interval_warnings: u64,
    /// The last (threshold, y*) asked for: an instance is nearly always asked about one
    /// threshold, and the bisection costs ~64 evaluations of φ.
    y_star_cache: Cell<(f64, Option<f64>)>,
    /// For the threshold passed to the latest `heartbeat`: the first whole silence (ns) at
    /// which φ reaches it with the current history. Computed once per heartbeat, it answers
    /// both that threshold's `suspect_at` and the next heartbeat's availability check.
    own_crossing: (f64, Option<u64>),
}

impl Phi {
    pub fn new(config: PhiConfig) -> Phi {
        let history = Window::new(config.window);
        // At least 1 ns, so that y stays finite even for a hand-built config with min_std = 0.
        let floor_std = config.min_std.0.max(1) as f64;
        Phi {
            floor_std,
            floor_var: floor_std * floor_std,
            clearly_below_floor_var: floor_std * floor_std * (1.0 - 4.0 * f64::EPSILON),
            inv_floor_std: 1.0 / floor_std,
            pause_ns: config.pause.0 as f64,
            config,
            history,
            last: None,
            mean_plus_pause: 0.0,
            std: 0.0,
            inv_std: 0.0,
            long_interval_warnings: 0,
            y_star_cache: Cell::new((f64::NAN, None)),
            own_crossing: (f64::NAN, None),
        }
    }

    pub fn config(&self) -> &PhiConfig {
        &self.config
    }

    /// The intervals in the history, oldest first (ns).
    pub fn history(&self) -> impl Iterator<Item = u64> + '_ {
        self.history.iter()
    }

    /// How many recorded intervals reached 2/3 of the acceptable pause (Akka's warning).
    pub fn long_interval_warnings(&self) -> u64 {
        self.long_interval_warnings
    }

    fn phi_of_y(&self) -> fn(f64) -> f64 {
        if self.config.exact { phi_exact } else { phi_logistic }
    }

    fn update_moments(&mut self) {
        self.mean_plus_pause = self.history.mean() + self.pause_ns;
        // σ' = max(√variance, floor). When the variance is at most floor² (the usual case:
        // the min std dev dominates), √variance ≤ √fl(floor²) = floor exactly (IEEE square
        // root is monotone and √(x·x) = |x|), so σ' is the floor and the square root and
        // division are skipped with bit-identical results.
        //
        // The variance is numerator/n² (n² exact). If numerator ≤ fl(n²·c) with
        // c = fl(fl(floor²)·(1 − 2^-50)), the exact quotient is below fl(floor²)·(1 − 2^-51)
        // (two roundings of at most 2^-53 each), more than an ulp below fl(floor²), so the
        // rounded quotient is at most fl(floor²) too: the division is skipped as well. Only
        // near the boundary is the quotient computed and compared as written.
        // (Both tests only decide whether σ' is the floor; a mutant that loosens the first
        // or reverses the second computes √variance for a variance within 2^-50 of floor²,
        // which equals the floor to the last bit or an ulp from it: no crossing moves in any
        // test, and none could but at the last nanosecond of a crossing.)
        let (numerator, n_squared) = self.history.variance_parts();
        if numerator <= n_squared * self.clearly_below_floor_var || numerator / n_squared <= self.floor_var {
            self.std = self.floor_std;
            self.inv_std = self.inv_floor_std;
        } else {
            self.set_std_above_floor(numerator / n_squared);
        }
    }

    /// Out of line, so that the compiler keeps the branch rather than computing the square
    /// root and division on every heartbeat and selecting.
    #[cold]
    #[inline(never)]
    fn set_std_above_floor(&mut self, variance: f64) {
        self.std = variance.sqrt();
        self.inv_std = 1.0 / self.std;
    }

    /// y for a silence of `silence` ns; shared by `level` and `suspect_at` so that both make
    /// exactly the same floating-point decisions. Multiplying by 1/σ' (computed once per
    /// heartbeat) instead of dividing keeps the per-heartbeat cost low; the difference from
    /// Akka's division is within an ulp.
    fn y(&self, silence: u64) -> f64 {
        // Silences beyond 2^63 ns (292 years) saturate, which changes no decision.
        self.y_of_signed(silence.min(i64::MAX as u64) as i64)
    }

    /// `y` for a silence known to be below 2^63 ns. Through i64: one instruction on x86-64
    /// where u64 → f64 takes several, and no saturation step in the crossing's chain.
    #[inline(always)]
    fn y_of_signed(&self, silence: i64) -> f64 {
        (silence as f64 - self.mean_plus_pause) * self.inv_std
    }

    /// The first whole silence at which φ ≥ `threshold` with the current history (cached
    /// for the threshold of the latest heartbeat).
    fn crossing_silence(&self, threshold: f64) -> Option<u64> {
        if self.own_crossing.0.to_bits() == threshold.to_bits() {
            return self.own_crossing.1;
        }
        self.compute_crossing_silence(threshold)
    }

    #[inline]
    fn compute_crossing_silence(&self, threshold: f64) -> Option<u64> {
        let y_star = self.y_star_for(threshold)?;
        // φ is increasing in y, so φ(silence) ≥ threshold ⇔ y(silence) ≥ y*. Testing y
        // avoids evaluating exp/log on every step of the refinement.
        let reached = |s: u64| self.y(s) >= y_star;
        let guess = self.mean_plus_pause + self.std * y_star;
        // The usual case, checked inline: the analytic crossing (truncated) or the next
        // nanosecond is exact. Anything else goes through the general refinement. (The
        // guess is within a nanosecond of the crossing below 2^53 ns, so mutants of the
        // guess or of these two checks change speed, or an answer only for silences beyond
        // 104 days; `refine_crossing` corrects any other guess.)
        if guess >= 1.0 && guess < i64::MAX as f64 {
            // 1 ≤ g < 2^63 − 1: the same decisions as `reached`, without its saturation.
            let g = guess as i64;
            let reached_signed = |s: i64| self.y_of_signed(s) >= y_star;
            if reached_signed(g) && !reached_signed(g - 1) {
                return Some(g as u64);
            }
            if !reached_signed(g) && reached_signed(g + 1) {
                return Some(g as u64 + 1);
            }
        }
        refine_crossing(Nanos::ZERO, guess, |s| reached(s.0)).map(|s| s.0)
    }

    fn y_star_for(&self, threshold: f64) -> Option<f64> {
        let (cached_threshold, cached) = self.y_star_cache.get();
        if cached_threshold.to_bits() == threshold.to_bits() {
            return cached;
        }
        let y = y_star(self.phi_of_y(), threshold);
        self.y_star_cache.set((threshold, y));
        y
    }
}

impl Detector for Phi {
    fn heartbeat(&mut self, arrival: &Arrival, threshold: f64) {
        match self.last {
            None => {
                let first = self.config.first.0;
                let quarter = first / 4;
                self.history.push(first - quarter);
                self.history.push(first + quarter);
            }
            Some(last) => {
                let interval = arrival.at.saturating_sub(last).0;
                // Akka's isAvailable (φ < threshold), with the state before this heartbeat:
                // exactly "the silence has not reached the crossing".
                let available = self.crossing_silence(threshold).is_none_or(|crossing| interval < crossing);
                if available {
                    if interval >= self.config.pause.0 / 3 * 2 {
                        self.long_interval_warnings += 1;
                    }
                    self.history.push(interval);
                }
            }
        }
        self.update_moments();
        self.own_crossing = (threshold, self.compute_crossing_silence(threshold));
        self.last = Some(arrival.at);
    }

    fn level(&self, now: Nanos) -> f64 {
        match self.last {
            None => 0.0,
            Some(last) => (self.phi_of_y())(self.y(now.saturating_sub(last).0)),
        }
    }

    fn suspect_at(&self, threshold: f64, now: Nanos) -> Option<Nanos> {
        let last = self.last?;
        let crossing = last.checked_add(Nanos(self.crossing_silence(threshold)?))?;
        Some(crossing.max(now))
    }

    fn state_depends_on_threshold(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The exact tail against 40-digit arithmetic (mpmath: `-log10(erfc(y/sqrt(2))/2)`), from
    /// the body of the normal to its far tail (10^-198): within a few ulps.
    #[test]
    #[allow(clippy::excessive_precision)] // mpmath's digits, as printed
    fn the_exact_tail_matches_forty_digit_arithmetic() {
        let table = [
            (-3.0, 0.000_586_649_313_790_066_691_02),
            (-0.5, 0.160_231_392_277_849_017_33),
            (0.0, std::f64::consts::LOG10_2), // −log10(½)
            (1.0, 0.799_545_541_491_970_500_03),
            (2.5, 2.206_931_805_795_301_076_3),
            (5.0, 6.542_645_672_390_654_496_3),
            (8.25, 16.101_289_826_250_692_697),
            (12.0, 32.750_439_161_191_860_631),
            (20.0, 88.560_095_343_075_591_92),
            (30.0, 197.309_209_261_660_949_39),
        ];
        for (y, expected) in table {
            let relative = (phi_exact(y) - expected).abs() / expected;
            assert!(relative < 1e-14, "y = {y}: {} against {expected} ({relative:e})", phi_exact(y));
        }
    }

    #[test]
    fn logistic_overstates_the_far_tail_as_documented() {
        // REFERENCES.md §2: y = 5 gives 7.30 (logistic) vs 6.54 (exact normal).
        assert!((phi_logistic(5.0) - 7.30).abs() < 0.01, "{}", phi_logistic(5.0));
        assert!((phi_exact(5.0) - 6.54).abs() < 0.01, "{}", phi_exact(5.0));
        assert!((phi_logistic(6.0) - 10.78).abs() < 0.01);
        assert!((phi_exact(6.0) - 9.01).abs() < 0.01);
        assert!((phi_logistic(0.0) - 2f64.log10()).abs() < 1e-15);
    }

    #[test]
    fn crossings_off_the_fast_path_agree_with_the_level() {
        // A threshold reached at once (the analytic crossing is below 1 ns: the refinement
        // answers) and a pause beyond 2^53 ns (the guess is no longer within a nanosecond):
        // `suspect_at` equals the exact search on `level`.
        let cases = [
            (
                PhiConfig {
                    min_std: Nanos::from_secs(1),
                    pause: Nanos::ZERO,
                    first: Nanos::from_millis(100),
                    ..PhiConfig::default()
                },
                0.01,
            ),
            (PhiConfig { pause: Nanos::from_secs(200 * 86_400), ..PhiConfig::default() }, 8.0),
        ];
        for (config, threshold) in cases {
            let mut phi = Phi::new(config.clone());
            let at = Nanos::from_secs(7);
            phi.heartbeat(&Arrival::at(at), threshold);
            let exact = crate::detector::search_crossing(at, |t| phi.level(t) >= threshold);
            assert!(exact.is_some());
            assert_eq!(phi.suspect_at(threshold, at), exact, "{config:?}");
        }
    }

    #[test]
    fn a_heartbeat_at_the_crossing_itself_is_not_recorded() {
        // Akka records an interval only while φ < threshold: a heartbeat arriving at the
        // first nanosecond with φ ≥ threshold is not recorded; one a nanosecond earlier is.
        let recorded = |early: u64| {
            let mut phi = Phi::new(PhiConfig::default());
            phi.heartbeat(&Arrival::at(Nanos::ZERO), 8.0);
            let crossing = phi.suspect_at(8.0, Nanos::ZERO).unwrap();
            phi.heartbeat(&Arrival::at(Nanos(crossing.0 - early)), 8.0);
            phi.history().count()
        };
        assert_eq!((recorded(1), recorded(0)), (3, 2));
    }

    #[test]
    fn phi_is_never_negative_zero() {
        // Far below the mean φ is −log10(1) = −0 before the `+ 0.0`: levels print as 0.
        for phi in [phi_logistic as fn(f64) -> f64, phi_exact] {
            let low = phi(-40.0);
            assert!(low == 0.0 && low.is_sign_positive(), "{low:?}");
        }
    }

    #[test]
    fn y_star_of_an_infinite_threshold_is_where_phi_becomes_infinite() {
        for phi in [phi_logistic as fn(f64) -> f64, phi_exact] {
            let y = y_star(phi, f64::INFINITY).expect("φ(64) is +∞");
            assert!(phi(y).is_infinite() && phi(y.next_down()).is_finite(), "{y}");
        }
    }

    #[test]
    fn intervals_of_two_thirds_of_the_pause_are_warned_about_as_akka_does() {
        // Pause 3 s: intervals of 2 s or more (and φ below its threshold) are counted.
        let mut phi = Phi::new(PhiConfig { pause: Nanos::from_secs(3), ..PhiConfig::default() });
        let mut at = Nanos::ZERO;
        for gap_ms in [0u64, 1_000, 1_999, 2_000, 2_500, 1_000] {
            at = at + Nanos::from_millis(gap_ms);
            phi.heartbeat(&Arrival::at(at), 8.0);
        }
        assert_eq!(phi.long_interval_warnings(), 2);
    }

    #[test]
    fn y_star_is_the_exact_boundary() {
        for th in [0.1, 0.5, 1.0, 3.0, 8.0, 12.0, 16.0, 100.0] {
            for phi in [phi_logistic as fn(f64) -> f64, phi_exact] {
                let y = y_star(phi, th).unwrap();
                assert!(phi(y) >= th);
                assert!(phi(y.next_down()) < th, "th {th}");
            }
        }
    }

    #[test]
    fn std_floor_shortcut_is_bit_identical_to_the_max() {
        // Histories whose variance lies below, at and above min_std², including the boundary
        // itself (intervals ±floor around a mean have variance exactly floor²).
        // Odd floors above 2^26.5 ns have squares that round, so the variance and fl(floor²)
        // can be an ulp apart: the band near the boundary where the division is needed.
        for min_std in [1u64, 3, 1_000, 20_000_000, 100_000_000, 100_000_001, 123_456_789, 987_654_321] {
            for spread in [0, min_std / 2, min_std.saturating_sub(1), min_std, min_std + 1, 3 * min_std] {
                // 10 s intervals seeded by `first`, and a long acceptable pause so that every
                // interval is recorded.
                let base = 10_000_000_000u64;
                let config = PhiConfig {
                    min_std: Nanos(min_std),
                    window: 4,
                    first: Nanos(base),
                    pause: Nanos::from_secs(1000),
                    ..PhiConfig::default()
                };
                let mut d = Phi::new(config);
                for (i, at) in
                    [0, base - spread, 2 * base, 3 * base - spread, 4 * base, 5 * base - spread].into_iter().enumerate()
                {
                    d.heartbeat(&Arrival::at(Nanos(at + i as u64 * spread)), 8.0);
                    assert_eq!(d.history.len(), (i + 2).min(4));
                    let expected = d.history.variance().sqrt().max(min_std as f64);
                    assert_eq!(d.std.to_bits(), expected.to_bits(), "min_std {min_std} spread {spread}");
                    assert_eq!(d.inv_std.to_bits(), (1.0 / expected).to_bits());
                }
            }
        }
    }

    #[test]
    fn the_division_free_test_never_accepts_a_variance_above_the_floor() {
        // Numerators within a few ulps of n²·floor², where the guard must hand over to the
        // division: whenever it accepts, the rounded quotient is at most fl(floor²).
        let mut accepted_at_boundary = 0;
        for min_std in [1u64, 7, 1_000, 20_000_000, 100_000_001, 123_456_789, 987_654_321, 1 << 40] {
            let d = Phi::new(PhiConfig { min_std: Nanos(min_std), ..PhiConfig::default() });
            for n in [2u64, 3, 10, 999, 1000, 65_536] {
                let n_squared = (n * n) as f64;
                let mut numerator = n_squared * d.floor_var;
                for _ in 0..8 {
                    numerator = numerator.next_down();
                }
                for _ in 0..16 {
                    if numerator <= n_squared * d.clearly_below_floor_var {
                        assert!(numerator / n_squared <= d.floor_var, "min_std {min_std} n {n} num {numerator}");
                    } else if numerator / n_squared <= d.floor_var {
                        accepted_at_boundary += 1;
                    }
                    numerator = numerator.next_up();
                }
            }
        }
        // The band exists: some numerators there are decided by the division.
        assert!(accepted_at_boundary > 0);
    }

    #[test]
    fn the_kinds_defaults_are_the_configs_defaults() {
        let values = KIND.defaults();
        assert_eq!(config(&Params { head: "phi", values: &values }), PhiConfig::default());
        // And a value other than the default reaches the config (the only bool key of any kind).
        let mut values = values;
        values.insert("exact", crate::detector::value::Value::Bool(true));
        assert!(config(&Params { head: "phi", values: &values }).exact);
    }

    #[test]
    fn bootstrap_history_is_first_plus_minus_a_quarter() {
        let mut d = Phi::new(PhiConfig::default());
        assert_eq!(d.level(Nanos(123)), 0.0);
        d.heartbeat(&Arrival::at(Nanos(0)), 8.0);
        assert_eq!(d.history().collect::<Vec<_>>(), vec![750_000_000, 1_250_000_000]);
    }
}
