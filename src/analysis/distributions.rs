//! The distribution functions `fit` and `tune` need, in pure-Rust maths (`libm`), so that
//! their answers are the same bits on every machine (statrs, which they used before, calls
//! the platform's `exp` and `ln`): the normal, log-normal and Pareto CDFs, the normal
//! quantile, χ²(1)'s survival function and Student's t quantile.
//!
//! The formulas are statrs 0.18's, with `libm` for the platform's functions. The unit tests
//! check each against values computed with mpmath at 40 digits, and against statrs to its
//! own (lesser) accuracy. [`bisect`] is the root search this and the Poisson quantiles share.

use crate::fault::erfc_inv::erfc_inv;
use std::f64::consts::SQRT_2;

/// P(X ≤ x) for X normal with `mean` and standard deviation `sd` (> 0).
pub fn normal_cdf(x: f64, mean: f64, sd: f64) -> f64 {
    0.5 * libm::erfc((mean - x) / (sd * SQRT_2))
}

/// The `p` quantile of the standard normal (−∞ at 0, +∞ at 1).
pub fn normal_quantile(p: f64) -> f64 {
    -SQRT_2 * erfc_inv(2.0 * p)
}

/// P(X ≤ x) for ln X normal with `mu` and `sigma` (> 0).
pub fn lognormal_cdf(x: f64, mu: f64, sigma: f64) -> f64 {
    if x <= 0.0 {
        0.0
    } else if x == f64::INFINITY {
        1.0
    } else {
        0.5 * libm::erfc((mu - libm::log(x)) / (sigma * SQRT_2))
    }
}

/// P(X ≤ x) for X Pareto with `scale` (the least value, > 0) and `shape` (> 0).
pub fn pareto_cdf(x: f64, scale: f64, shape: f64) -> f64 {
    // (`x <= scale` is an equivalent mutant: at the scale the formula gives 0 too.)
    if x < scale { 0.0 } else { 1.0 - libm::pow(scale / x, shape) }
}

/// P(X > x) for X χ² with one degree of freedom: erfc(√(x/2)).
pub fn chi2_1_sf(x: f64) -> f64 {
    if x <= 0.0 { 1.0 } else { libm::erfc((x / 2.0).sqrt()) }
}

/// The regularized incomplete beta function I_x(a, b), given x and y = 1 − x (each exact,
/// so that near either end the one that is small keeps its digits), by its continued fraction
/// (modified Lentz) taken on the side where it converges fast: relative error about 1e-15
/// for moderate a and b, about 1e-12 where ln B(a, b) is large (a or b in the thousands).
fn incomplete_beta(x: f64, y: f64, a: f64, b: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if y <= 0.0 {
        return 1.0;
    }
    // (At x = ½ both forms are exact to the ulp, so `<=` for `<` in these two is equivalent.)
    let ln_x = if x < 0.5 { libm::log(x) } else { libm::log1p(-y) };
    let ln_y = if y < 0.5 { libm::log(y) } else { libm::log1p(-x) };
    let front = libm::exp(a * ln_x + b * ln_y - ln_beta(a, b));
    // Either side gives I_x(a, b); this picks the one whose fraction converges fast, so
    // moving the switch (`<=`, or `(a * 1.0)` for `(a + 1.0)`, as mutants do) changes the
    // number of terms, not the answer.
    if x < (a + 1.0) / (a + b + 2.0) {
        front * beta_fraction(x, a, b) / a
    } else {
        1.0 - front * beta_fraction(y, b, a) / b
    }
}

fn ln_beta(a: f64, b: f64) -> f64 {
    libm::lgamma(a) + libm::lgamma(b) - libm::lgamma(a + b)
}

/// The continued fraction of I_x(a, b) (Numerical Recipes' `betacf`), to machine precision.
fn beta_fraction(x: f64, a: f64, b: f64) -> f64 {
    const TINY: f64 = 1e-300;
    // Keeps a denominator away from 0 (Lentz's method). (No denominator comes within 1e-300
    // of 0 for the t distribution's a and b, so `<=` or `==` for `<` are equivalent.)
    let away = |v: f64| if v.abs() < TINY { TINY } else { v };
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 / away(1.0 - qab * x / qap);
    let mut h = d;
    // One term `aa` of the fraction: the factor it multiplies the value by.
    let mut step = |aa: f64| {
        d = 1.0 / away(1.0 + aa * d);
        c = away(1.0 + aa / c);
        d * c
    };
    for m in 1..=10_000 {
        let m = m as f64;
        let m2 = 2.0 * m;
        h *= step(m * (b - m) * x / ((qam + m2) * (a + m2)));
        let delta = step(-(a + m) * (qab + m) * x / ((a + m2) * (qap + m2)));
        h *= delta;
        // (Equivalent mutant: `<=`. A double's distance from 1 is a multiple of 2^-53
        // (1.1e-16) below it and of 2^-52 above it, never exactly 1e-16: both stop only
        // at delta = 1.)
        if (delta - 1.0).abs() < 1e-16 {
            break;
        }
    }
    h
}

/// P(T > t) for T Student's t with `df` degrees of freedom, for t ≥ 0.
fn t_upper_tail(t: f64, df: f64) -> f64 {
    let t2 = t * t;
    0.5 * incomplete_beta(df / (df + t2), t2 / (df + t2), df / 2.0, 0.5)
}

/// The one-sided `1 − alpha` quantile of Student's t with `df` (> 0) degrees of freedom, for
/// 0 < alpha < ½: the t with P(T > t) = alpha, found by bisection to adjacent doubles. (Tested
/// down to alpha = 1e-100 at one degree of freedom, t = 3.2e99; where t² would overflow, beyond
/// t ≈ 1e154, the answer is not exact.)
pub fn t_quantile(alpha: f64, df: f64) -> f64 {
    if alpha.is_nan() || df.is_nan() || alpha >= 0.5 {
        return if alpha == 0.5 { 0.0 } else { f64::NAN };
    }
    if alpha <= 0.0 {
        return f64::INFINITY;
    }
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    while t_upper_tail(hi, df) > alpha {
        lo = hi;
        hi *= 2.0;
        if hi.is_infinite() {
            return f64::INFINITY;
        }
    }
    bisect(lo, hi, |t| t_upper_tail(t, df) <= alpha).1
}

/// Bisection to adjacent doubles: from a bracket with `above(lo)` false and `above(hi)` true,
/// for an `above` that is false below a root and true above it, the bracket narrowed until no
/// double lies strictly between its ends. No derivative or convergence test can go wrong, and
/// the answer does not depend on where the bracket started. (Mutation testing, equivalent:
/// which end keeps a point where `above` is exactly on the edge only decides a double either
/// way; the searches' tables check every answer.)
pub(crate) fn bisect(mut lo: f64, mut hi: f64, above: impl Fn(f64) -> bool) -> (f64, f64) {
    // Enough halvings for any bracket of finite doubles (2^1024 down to 2^-1074).
    for _ in 0..2200 {
        let mid = lo + 0.5 * (hi - lo);
        if mid <= lo || mid >= hi {
            break;
        }
        if above(mid) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    (lo, hi)
}

#[cfg(test)]
// The reference values keep the digits mpmath printed.
#[allow(clippy::excessive_precision)]
mod tests {
    use super::*;
    use statrs::distribution::{ChiSquared, ContinuousCDF, LogNormal, Normal, Pareto, StudentsT};

    fn relative(a: f64, b: f64) -> f64 {
        if a == b { 0.0 } else { (a - b).abs() / a.abs().max(b.abs()) }
    }

    /// Against 40-digit arithmetic (mpmath), from far tails (10^-23) to the body: within a
    /// few ulps.
    #[test]
    fn the_cdfs_match_forty_digit_arithmetic() {
        let normal = [
            (-20.0, 1.789_748_812_014_040_79e-20),
            (-5.0, 0.000_687_137_937_915_848_455_12),
            (0.0, 0.115_069_670_221_708_268_02),
            (3.0, 0.5),
            (8.0, 0.977_249_868_051_820_792_8),
            (15.0, 0.999_999_206_671_848_024_41),
        ];
        for (x, exact) in normal {
            assert!(relative(normal_cdf(x, 3.0, 2.5), exact) < 1e-14, "normal {x}");
        }
        let lognormal = [
            (0.01, 8.120_080_341_165_793_427_5e-23),
            (0.2, 0.011_495_180_771_927_187_123),
            (0.5, 0.506_834_364_212_460_279_33),
            (1.5, 0.997_142_171_149_978_776_65),
            (4.0, 0.999_999_908_455_559_124_93),
        ];
        for (x, exact) in lognormal {
            assert!(relative(lognormal_cdf(x, -0.7, 0.4), exact) < 1e-13, "lognormal {x}");
        }
        let chi2 = [
            (0.5, 0.479_500_122_186_953_462_32),
            (3.841_458_820_694_124, 0.050_000_000_000_000_058_397),
            (20.0, 7.744_216_431_044_083_637_7e-6),
            (60.0, 9.485_737_571_073_848_388_5e-15),
        ];
        for (x, exact) in chi2 {
            assert!(relative(chi2_1_sf(x), exact) < 1e-13, "chi2 {x}");
        }
        assert_eq!(
            (lognormal_cdf(0.0, 0.0, 1.0), lognormal_cdf(-1.0, 0.0, 1.0), lognormal_cdf(f64::INFINITY, 0.0, 1.0)),
            (0.0, 0.0, 1.0)
        );
        assert_eq!((pareto_cdf(1.9, 2.0, 1.0), pareto_cdf(2.0, 2.0, 1.0), pareto_cdf(4.0, 2.0, 1.0)), (0.0, 0.0, 0.5));
        assert!(relative(pareto_cdf(8.0, 2.0, 1.5), 0.875) < 1e-15);
        assert_eq!((chi2_1_sf(0.0), chi2_1_sf(-1.0)), (1.0, 1.0));
    }

    /// The same formulas as statrs 0.18 (which fit used), where its `erfc` is accurate.
    #[test]
    fn the_cdfs_are_statrs_formulas() {
        let normal = Normal::new(3.0, 2.5).unwrap();
        let lognormal = LogNormal::new(-0.7, 0.4).unwrap();
        let pareto = Pareto::new(2.0, 1.7).unwrap();
        let chi2 = ChiSquared::new(1.0).unwrap();
        // (statrs's `erfc` is the less exact: at x = 0 it gives 0.11506967022716584 where
        // mpmath gives 0.11506967022170826802 (4.7e-11 off) and ours 0.11506967022170828; the
        // exact values are checked against mpmath above.)
        for i in 0..=400 {
            let x = i as f64 / 20.0;
            assert!(relative(normal_cdf(x, 3.0, 2.5), normal.cdf(x)) < 1e-9, "normal {x}");
            assert!(relative(lognormal_cdf(x.abs(), -0.7, 0.4), lognormal.cdf(x.abs())) < 1e-9, "lognormal {x}");
            assert!(relative(pareto_cdf(x.abs(), 2.0, 1.7), pareto.cdf(x.abs())) < 1e-14, "pareto {x}");
            assert!(relative(chi2_1_sf(x.abs()), chi2.sf(x.abs())) < 1e-9, "chi2 {x}");
        }
    }

    #[test]
    fn the_normal_quantile_inverts_the_cdf() {
        let standard = Normal::new(0.0, 1.0).unwrap();
        for p in [1e-300, 1e-12, 0.001, 0.025, 0.1, 0.3, 0.5, 0.7, 0.975, 0.999, 1.0 - 1e-12] {
            assert!(relative(normal_quantile(p), standard.inverse_cdf(p)) < 1e-14, "{p}");
        }
        assert_eq!(normal_quantile(0.5), 0.0);
        assert!(relative(normal_quantile(0.975), 1.959_963_984_540_054) < 1e-15);
    }

    /// Against mpmath to the last bit: t₀.₉₇₅(ν) for ν = 1..30 (the table replications use),
    /// and statrs at other levels and degrees of freedom.
    #[test]
    fn t_quantiles_match_forty_digit_arithmetic_and_statrs() {
        for nu in 1..=30u64 {
            let exact = crate::analysis::replications::t_975(nu);
            assert!(relative(t_quantile(0.025, nu as f64), exact) < 1e-13, "ν = {nu}");
        }
        // Closed forms: Cauchy (ν = 1) t = 1/tan(πα); ν = 2: t = (1 − 2α)/√(2α(1 − α)).
        for alpha in [0.4, 0.1, 0.05, 1e-3, 1e-6, 1e-9, 1e-12, 1e-50, 1e-100] {
            let cauchy = 1.0 / libm::tan(std::f64::consts::PI * alpha);
            assert!(relative(t_quantile(alpha, 1.0), cauchy) < 1e-12, "ν = 1, alpha {alpha}");
            let two = (1.0 - 2.0 * alpha) / (2.0 * alpha * (1.0 - alpha)).sqrt();
            assert!(relative(t_quantile(alpha, 2.0), two) < 1e-12, "ν = 2, alpha {alpha}");
        }
        // Other levels and degrees of freedom, by mpmath (`betainc`, bisection at 40 digits);
        // ν in the thousands loses a few digits to ln B(ν/2, ½).
        let table = [
            (0.1, 1e4, 1.281_636_229_730_477_544, 2e-12),
            (0.4, 1e4, 0.253_353_843_445_726_851_55, 2e-12),
            (1e-6, 1e4, 4.756_229_685_056_779_008_1, 2e-12),
            (1e-6, 3.5, 61.045_121_207_720_623_803, 1e-13),
            (0.05, 99.0, 1.660_391_156_016_990_903_9, 1e-13),
            (1e-9, 19.0, 10.613_521_312_506_377_729, 1e-13),
            (1e-3, 9.0, 4.296_805_662_729_918_486_1, 1e-13),
        ];
        for (alpha, df, exact, tolerance) in table {
            assert!(relative(t_quantile(alpha, df), exact) < tolerance, "df {df}, alpha {alpha}");
        }
        // statrs (which `tune` used) agrees to its own accuracy, about 1e-8; its far tails
        // are off (at ν = 1 and α = 1e-9 it answers 6.7e7 for 3.2e8).
        for df in [1.0, 2.0, 3.5, 9.0, 19.0, 99.0, 1e4] {
            let t = StudentsT::new(0.0, 1.0, df).unwrap();
            for alpha in [0.4, 0.1, 0.05, 1e-3, 1e-6] {
                let (ours, theirs) = (t_quantile(alpha, df), t.inverse_cdf(1.0 - alpha));
                assert!(relative(ours, theirs) < 1e-7, "df {df}, alpha {alpha}: {ours} vs {theirs}");
            }
        }
        assert_eq!(t_quantile(0.5, 4.0), 0.0);
        assert_eq!(t_quantile(0.0, 4.0), f64::INFINITY);
        assert!(t_quantile(0.7, 4.0).is_nan() && t_quantile(f64::NAN, 4.0).is_nan());
    }

    /// The quantile is the least double whose tail is at most `alpha`, also where the tail is
    /// met exactly at an end of the search's first bracket (the powers of two it tries).
    #[test]
    fn a_quantile_is_the_least_double_whose_tail_is_at_most_alpha() {
        for df in [1.0, 3.0, 7.5, 40.0] {
            for t in [0.75, 1.0, 1.5, 2.0, 4.0, 8.0, 10.0, 64.0] {
                let alpha = t_upper_tail(t, df);
                let q = t_quantile(alpha, df);
                assert!(q <= t, "df {df}, t {t}: {q}");
                assert!(t_upper_tail(q, df) <= alpha && t_upper_tail(q.next_down(), df) > alpha, "df {df}, t {t}: {q}");
            }
        }
    }

    #[test]
    fn bisection_ends_at_adjacent_doubles_around_the_root() {
        let (lo, hi) = bisect(1.0, 1e300, |x| x * x >= 2.0);
        assert_eq!((lo.next_up(), lo * lo < 2.0, hi * hi >= 2.0), (hi, true, true));
        assert!(lo == std::f64::consts::SQRT_2 || hi == std::f64::consts::SQRT_2);
        // A bracket already tight is left as it is.
        assert_eq!(bisect(1.0, 1.0f64.next_up(), |_| unreachable!()), (1.0, 1.0f64.next_up()));
    }

    #[test]
    fn the_incomplete_beta_has_its_closed_forms() {
        // I_x(1, 1) = x; I_x(a, 1) = x^a; I_x(1, b) = 1 − (1 − x)^b; symmetry.
        for i in 1..100 {
            let x = i as f64 / 100.0;
            let y = (100 - i) as f64 / 100.0;
            assert!(relative(incomplete_beta(x, y, 1.0, 1.0), x) < 1e-14, "{x}");
            assert!(relative(incomplete_beta(x, y, 3.0, 1.0), x * x * x) < 1e-14, "{x}");
            assert!(relative(incomplete_beta(x, y, 1.0, 2.5), 1.0 - libm::pow(y, 2.5)) < 1e-14, "{x}");
            let (p, q) = (incomplete_beta(x, y, 4.5, 0.5), incomplete_beta(y, x, 0.5, 4.5));
            assert!((p + q - 1.0).abs() < 1e-14, "{x}");
        }
        assert_eq!((incomplete_beta(0.0, 1.0, 2.0, 3.0), incomplete_beta(1.0, 0.0, 2.0, 3.0)), (0.0, 1.0));
        // The two forms of ln x agree at x = ½ (so where the switch falls there is moot).
        assert_eq!(libm::log(0.5).to_bits(), libm::log1p(-0.5).to_bits());
    }
}
