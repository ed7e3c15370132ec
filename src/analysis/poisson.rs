//! Exact (Garwood) Poisson confidence bounds, accurate for every `u64` count.
//!
//! For `k` events the two-sided 95 % interval on the mean, per unit exposure, is
//! `[χ²₀.₀₂₅(2k)/2, χ²₀.₉₇₅(2k+2)/2]` (lower bound 0 at `k = 0`) and the one-sided 95 % upper
//! bound is `χ²₀.₉₅(2k+2)/2`. Since `χ²_p(2a)/2` is the `λ` with `P(a, λ) = p`, each bound
//! is a root of the regularized incomplete gamma function: the lower bound solves
//! `P(k, λ) = 0.025`, the upper bounds `Q(k+1, λ) = 0.025` and `Q(k+1, λ) = 0.05`.
//!
//! Why not statrs: `ChiSquared::inverse_cdf` (statrs 0.18) breaks down for large degrees of
//! freedom (a lower bound of −∞ at `k = 277 029`; negative bounds, NaN or 3.8e47 at other
//! counts) and is off by up to 0.36 % at small counts. Here:
//!
//! - `P` and `Q` come from the power series (`x < a + 1`) or Legendre's continued fraction
//!   (`x ≥ a + 1`) for `a < 100`, and from Temme's uniform asymptotic expansion (DLMF 8.12)
//!   for `a ≥ 100` near the mean, which is where every quantile lies. Series and continued
//!   fraction need `O(√a)` terms near the mean (and a prefactor `xᵃe⁻ˣ/Γ(a+1)` whose naive
//!   logarithm cancels to `~a·ε`), so alone they are slow and inexact at `a = 10⁹`; Temme's
//!   expansion costs the same at any `a` and gets more accurate as `a` grows. Each branch
//!   computes the smaller of `P` and `Q` directly, to a few ulps (see the accuracy below).
//! - `erfc` and, for `a < 10`, `ln Γ` come from the `libm` crate (a port of musl/fdlibm,
//!   already in the dependency tree through num-traits): statrs 0.18's `erfc` is off by
//!   about 1e-10 relative at arguments from ½ to 3, which alone put 2e-12 into the bounds,
//!   and its `ln_gamma` by up to 5e-15 absolute; libm's are within an ulp or two (both
//!   measured against mpmath).
//! - Each bound is found by bisection, started from the Wilson–Hilferty approximation and
//!   widened until it brackets, and run to adjacent floats. Bisection needs only the sign,
//!   so it is immune to the slope; about 50 evaluations per bound, some 10–40 µs for all
//!   three bounds of a count.
//!
//! Accuracy: every bound within 1e-14 relative of the exact value (asserted against the
//! 50-digit mpmath table `tests/data/poisson_garwood.csv` from `scripts/poisson_table.py`,
//! counts 0 to 10¹²; the worst measured there is 4.6e-16, and 6.5e-16 over a denser run of
//! 98 counts from 0 to 10⁹, i.e. a few ulps). Above 10¹² the same Temme path only gets more
//! accurate; it is checked there for sanity, not against a table (mpmath needs minutes per
//! evaluation). Beyond 2⁵³ ≈ 9·10¹⁵ the count itself is rounded to the nearest `f64` (relative error
//! below 1.2e-16, so neighbouring counts can share bounds); the bounds stay finite, ordered
//! and nondecreasing in the count up to `u64::MAX`.

use super::distributions::{bisect, normal_quantile};
use libm::{erfc, lgamma};

/// The two-sided 95 % Garwood interval on the mean of a Poisson count, per unit exposure:
/// `[χ²₀.₀₂₅(2k)/2, χ²₀.₉₇₅(2k+2)/2]`, with a lower bound of exactly 0 at `count = 0`.
pub fn poisson_count_ci95(count: u64) -> [f64; 2] {
    let k = count as f64;
    let lower = if count == 0 { 0.0 } else { gamma_quantile(k, Tail::Lower, 0.025) };
    [lower, gamma_quantile(k + 1.0, Tail::Upper, 0.025)]
}

/// The one-sided 95 % upper bound on the mean of a Poisson count, per unit exposure:
/// `χ²₀.₉₅(2k+2)/2`.
pub fn poisson_count_upper95(count: u64) -> f64 {
    gamma_quantile(count as f64 + 1.0, Tail::Upper, 0.05)
}

/// The one-sided upper bound on the mean of a Poisson count at error probability `alpha`
/// (`χ²₁₋α(2k+2)/2`): what `tune` uses at `0.05/m` for a grid of `m` tests (Bonferroni).
/// `alpha = 0.05` gives [`poisson_count_upper95`]. `None` unless `0 < alpha < 1`.
pub fn poisson_count_upper(count: u64, alpha: f64) -> Option<f64> {
    (alpha > 0.0 && alpha < 1.0).then(|| gamma_quantile(count as f64 + 1.0, Tail::Upper, alpha))
}

/// The exact (Garwood, chi-square) two-sided 95 % interval for a Poisson rate: `count`
/// events over `exposure_s` seconds ([`poisson_count_ci95`] divided by the exposure).
/// Assumes independent events; see REFERENCES.md §1 for when that does not hold. `None`
/// unless the exposure is finite and positive. (An exposure below ~1e-290 s would
/// overflow the rate to infinity; no caller has one.)
pub fn poisson_rate_ci95(count: u64, exposure_s: f64) -> Option<[f64; 2]> {
    valid_exposure(exposure_s).then(|| poisson_count_ci95(count).map(|bound| bound / exposure_s))
}

/// The one-sided 95 % upper bound on a Poisson rate (what `tune` compares against a budget):
/// [`poisson_count_upper95`] divided by the exposure. `None` unless the exposure is finite
/// and positive.
pub fn poisson_rate_upper95(count: u64, exposure_s: f64) -> Option<f64> {
    valid_exposure(exposure_s).then(|| poisson_count_upper95(count) / exposure_s)
}

fn valid_exposure(exposure_s: f64) -> bool {
    exposure_s.is_finite() && exposure_s > 0.0
}

/// Which regularized incomplete gamma function a quantile inverts.
#[derive(Clone, Copy)]
enum Tail {
    /// `P(a, x) = ∫₀ˣ tᵃ⁻¹e⁻ᵗ dt / Γ(a)`.
    Lower,
    /// `Q(a, x) = 1 − P(a, x)`, computed on its own, not as a difference.
    Upper,
}

/// The `x` with `P(a, x) = p` (`Tail::Lower`) or `Q(a, x) = p` (`Tail::Upper`), for `a > 0`
/// and `0 < p < 1`.
///
/// The equation is solved in whichever tail the probability is given, so a small `p` is
/// matched to a small computed tail and never to `1 − p`. Bisection to adjacent floats: the
/// computed `P` has absolute error of a few ulps, so the root is as accurate as the slope
/// `xᵃ⁻¹e⁻ˣ/Γ(a)` allows, and no derivative or convergence test can go wrong.
fn gamma_quantile(a: f64, tail: Tail, p: f64) -> f64 {
    // Increasing in x, negative below the root and positive above it.
    let excess = |x: f64| {
        let (lower, upper) = regularized_gamma(a, x);
        match tail {
            Tail::Lower => lower - p,
            Tail::Upper => p - upper,
        }
    };
    // Everything from here to the bisection only places the first bracket: the bisection
    // below runs to adjacent doubles whatever the bracket, so mutants of the guess and of
    // the widening change how many steps it takes, not the quantile (equivalent; the table
    // test checks every bound to 1e-14).
    // Wilson–Hilferty: the cube root of a gamma variate is nearly normal, so
    // x ≈ a (1 − 1/(9a) + z/(3√a))³ with z the standard normal quantile of P(a, x).
    let z_of_p = normal_quantile(p);
    let z = match tail {
        Tail::Lower => z_of_p,
        Tail::Upper => -z_of_p,
    };
    let cube = 1.0 - 1.0 / (9.0 * a) + z / (3.0 * a.sqrt());
    let guess = if cube > 0.0 { a * (cube * cube * cube) } else { a * 1e-3 };
    // Wilson–Hilferty is within 0.2 % of these quantiles from a = 10 on (2e-5 at a = 100)
    // but 50 % off at a = 1: start at ±0.1 % and widen a side, 4 times as far each time,
    // until it brackets; a failed end becomes the other end. Ratios keep the bracket
    // positive.
    let (mut lo, mut hi) = (guess / 1.001, guess * 1.001);
    let mut widen = 1e-3;
    for _ in 0..64 {
        if excess(lo) <= 0.0 {
            break;
        }
        widen *= 4.0;
        (lo, hi) = (guess / (1.0 + widen), lo);
    }
    for _ in 0..64 {
        if excess(hi) > 0.0 {
            break;
        }
        widen *= 4.0;
        (lo, hi) = (hi, guess * (1.0 + widen));
    }
    // (Mutation testing, equivalent: `>=` here only decides which end keeps a point whose
    // computed excess is exactly 0, a root to the evaluation's rounding, and the search goes
    // on to adjacent doubles either way; `lo - 0.5 * (hi - lo)` below rounds to `lo` or the
    // double below it, moving the bound by an ulp at most. Both pass the 50-digit table's
    // 1e-14.)
    let (lo, hi) = bisect(lo, hi, |x| excess(x) > 0.0);
    lo + 0.5 * (hi - lo)
}

/// From this `a` on, `P` and `Q` near the mean come from Temme's expansion.
const TEMME_MIN_A: f64 = 100.0;
/// Temme's expansion is used for `η²/2 ≤ ½`, i.e. `|η| ≤ 1` or `x/a` within about
/// [0.30, 2.36], where its Taylor polynomials below are accurate (their radius of
/// convergence is `2√π`). Farther out the series and the continued fraction converge in
/// tens of terms even for huge `a`.
const TEMME_MAX_PHI: f64 = 0.5;
/// Relative size of the last term kept in the series, the continued fraction and `log1pmx`.
const TOLERANCE: f64 = 1e-17;
/// A cap on series and continued-fraction terms; where they are used (`a < 100`, or far
/// from the mean) they converge in a few hundred.
const MAX_TERMS: usize = 100_000;

/// The regularized incomplete gamma functions `(P(a, x), Q(a, x))` for `a > 0`, `x ≥ 0`.
/// Temme's form gives both directly; the series gives `P` and the continued fraction `Q`,
/// with the other as `1 −` it, which for `a ≥ 1` is always the larger of the two (at least
/// `Q(1, 2) = e⁻²`), so no small value is ever a difference.
fn regularized_gamma(a: f64, x: f64) -> (f64, f64) {
    if x <= 0.0 {
        return (0.0, 1.0);
    }
    if x == f64::INFINITY {
        return (1.0, 0.0);
    }
    if a >= TEMME_MIN_A {
        let sigma = (x - a) / a; // exact numerator when x is near a (Sterbenz)
        let phi = -log1pmx(sigma); // λ − 1 − ln λ with λ = x/a, = η²/2
        if phi <= TEMME_MAX_PHI {
            return temme(a, sigma, phi);
        }
    }
    // (Mutation testing, equivalent: `x <= a + 1.0`, and `x < a * 1.0`, which hands
    // `[a, a + 1)` to the continued fraction: both branches are accurate there, and for
    // `a ≥ 1` (every count's) neither tail is small there: `P ≥ ½`, `Q ≥ Q(1, 2) = e⁻²`.)
    if x < a + 1.0 {
        let p = series_p(a, x);
        (p, 1.0 - p)
    } else {
        let q = continued_fraction_q(a, x);
        (1.0 - q, q)
    }
}

/// Temme's uniform asymptotic expansion (DLMF 8.12.8–10; Temme 1979):
///
/// `Q(a, x) = ½·erfc(η·√(a/2)) + R`, `P(a, x) = ½·erfc(−η·√(a/2)) − R`,
/// `R = e^{−aη²/2}/√(2πa) · Σₖ cₖ(η)/aᵏ`, with `η²/2 = λ − 1 − ln λ`, `λ = x/a`,
/// `sign η = sign(λ − 1)`.
///
/// Kept: `c₀ … c₆`, so the truncation error is about `|c₇|/a⁷/√(2πa) ≈ 1e-19` at `a = 100`
/// and falls as `a^{-7.5}`; each `cₖ` as a Taylor polynomial with terms to spare for
/// `|η| ≤ 1` (measured against the exact series: below 1e-20 absolute, after the
/// `e^{−aη²/2}/aᵏ` factor). Coefficients: `scripts/temme_coefficients.py`. `η` comes from
/// `log1pmx(σ)` without cancellation, so this stays accurate up to `a = u64::MAX`.
fn temme(a: f64, sigma: f64, phi: f64) -> (f64, f64) {
    let eta = (2.0 * phi).sqrt().copysign(sigma);
    let sum = TEMME.iter().rev().fold(0.0, |acc, c| polynomial(c, eta) + acc / a);
    let r = libm::exp(-a * phi) / (std::f64::consts::TAU * a).sqrt() * sum;
    let u = eta * (0.5 * a).sqrt();
    (0.5 * erfc(-u) - r, 0.5 * erfc(u) + r)
}

fn polynomial(coefficients: &[f64], x: f64) -> f64 {
    coefficients.iter().rev().fold(0.0, |acc, &c| acc * x + c)
}

/// `P(a, x) = xᵃe⁻ˣ/Γ(a+1) · Σₙ xⁿ/((a+1)…(a+n))`, for `x < a + 1`, where the terms fall.
fn series_p(a: f64, x: f64) -> f64 {
    let (mut term, mut sum, mut n) = (1.0, 1.0, a);
    for _ in 0..MAX_TERMS {
        n += 1.0;
        term *= x / n;
        sum += term;
        // (Mutation testing, equivalent: `<=`, and `==`, which never stops before
        // `MAX_TERMS`: from here on every term is below half an ulp of the sum (and the terms
        // fall, `x < n`), so adding them leaves the sum as it is; only slower.)
        if term < sum * TOLERANCE {
            break;
        }
    }
    sum * libm::exp(ln_prefactor(a, x))
}

/// `Q(a, x) = xᵃe⁻ˣ/Γ(a) · 1/(x+1−a− 1·(1−a)/(x+3−a− 2·(2−a)/(x+5−a− …)))`, for `x ≥ a + 1`,
/// by the modified Lentz method (Numerical Recipes 3rd ed. §6.2).
fn continued_fraction_q(a: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let mut b = x + 1.0 - a;
    let mut c = 1.0 / TINY;
    let mut d = 1.0 / b;
    let mut h = d;
    for i in 1..MAX_TERMS {
        let i = i as f64;
        let an = -i * (i - a);
        b += 2.0;
        d = an * d + b;
        // (Mutation testing: `==` or `<=` in this guard and the next survive: they guard
        // against a denominator near 0, which does not occur for `x ≥ a + 1`; in a sweep of
        // `a` from 1 to 10⁴ and `x` from `a + 1` to `1001·a` none fell below 4.)
        if d.abs() < TINY {
            d = TINY;
        }
        c = b + an / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        let delta = d * c;
        h *= delta;
        // (Mutation testing: `<=` is equivalent: `|delta − 1|` is 0 or at least an ulp of 1,
        // never exactly `TOLERANCE`.)
        if (delta - 1.0).abs() < TOLERANCE {
            break;
        }
    }
    a * libm::exp(ln_prefactor(a, x)) * h
}

/// `ln(xᵃe⁻ˣ/Γ(a+1))`. Written naively, `a·ln x − x − ln Γ(a+1)` subtracts numbers of
/// size `a·ln a` and loses `~a·ε`; from `a = 10` on it is rewritten with Stirling's series as
/// `a·(ln(1+σ) − σ) − ½·ln(2πa) − S(a)`, `σ = (x−a)/a`, whose terms are all small near the mean.
fn ln_prefactor(a: f64, x: f64) -> f64 {
    // (Mutation testing: `a <= 10.0` is equivalent at double precision: at `a = 10` the naive
    // form loses only `~a·ε`, and every bound of the 50-digit table stays within 1e-14.)
    if a < 10.0 {
        a * libm::log(x) - x - lgamma(a + 1.0)
    } else {
        a * log1pmx((x - a) / a) - 0.5 * libm::log(std::f64::consts::TAU * a) - stirling_correction(a)
    }
}

/// `S(a) = ln Γ(a+1) − (a+½)·ln a + a − ½·ln(2π) = 1/(12a) − 1/(360a³) + …`, through the
/// `a⁻¹³` term: the first term left out is below 3e-17 for `a ≥ 10`.
fn stirling_correction(a: f64) -> f64 {
    const TERMS: [f64; 7] =
        [1.0 / 12.0, -1.0 / 360.0, 1.0 / 1260.0, -1.0 / 1680.0, 1.0 / 1188.0, -691.0 / 360_360.0, 1.0 / 156.0];
    polynomial(&TERMS, 1.0 / (a * a)) / a
}

/// `ln(1 + d) − d`, accurate to a few ulps relative, also for small `d` where the difference
/// would cancel. For `|d| ≤ ½`, with `u = d/(2+d)` so that `ln(1+d) = 2·atanh u`:
/// `ln(1+d) − d = 2u·(u²/3 + u⁴/5 + …) − d²/(2+d)`, and `|u| ≤ ⅓`.
fn log1pmx(d: f64) -> f64 {
    // (Mutation testing: `>=` is equivalent: at `|d| = ½` exactly both forms are accurate
    // to a few ulps, `ln(1 + d) − d` cancelling under 3 bits there.)
    if d.abs() > 0.5 {
        return libm::log1p(d) - d;
    }
    let u = d / (2.0 + d);
    let u2 = u * u;
    let (mut power, mut sum) = (u2, 0.0);
    for j in 1..64 {
        let term = power / (2 * j + 1) as f64;
        sum += term;
        if term <= sum * TOLERANCE {
            break;
        }
        power *= u2;
    }
    2.0 * u * sum - d * d / (2.0 + d)
}

/// Taylor coefficients in η of Temme's c_0 … c_6 (scripts/temme_coefficients.py).
///
/// (Mutation testing: of the 50 mutants that drop a coefficient's minus sign, the 21 that
/// survive the far-tail table test (c₁[13], c₂[11, 14], c₃[5, 9, 10, 12], c₄[3, 5, 8,
/// 10], c₅[0, 1, 3, 6, 8, 9], c₆[1, 4, 6, 7]) move P or Q by at most 1.0e-12 relative anywhere
/// in |η| ≤ 1, a tail of 1e-23 or less, no more than the expansion's own rounding there
/// (5.0e-13): equivalent at double precision. Measured by emulating `temme` against 40-digit
/// mpmath for each sign flip.)
#[rustfmt::skip]
const TEMME: [&[f64]; 7] = [
    // c_0
    &[
        -0.3333333333333333,
        0.08333333333333333,
        -0.014814814814814815,
        0.0011574074074074073,
        0.0003527336860670194,
        -0.0001787551440329218,
        3.919263178522438e-05,
        -2.185448510679992e-06,
        -1.85406221071516e-06,
        8.296711340953087e-07,
        -1.7665952736826078e-07,
        6.707853543401498e-09,
        1.0261809784240309e-08,
        -4.382036018453353e-09,
        9.14769958223679e-10,
        -2.5514193994946248e-11,
        -5.830772132550426e-11,
        2.4361948020667415e-11,
        -5.0276692801141755e-12,
        1.1004392031956135e-13,
    ],
    // c_1
    &[
        -0.001851851851851852,
        -0.003472222222222222,
        0.0026455026455026454,
        -0.0009902263374485596,
        0.00020576131687242798,
        -4.018775720164609e-07,
        -1.8098550334489977e-05,
        7.64916091608111e-06,
        -1.6120900894563446e-06,
        4.647127802807434e-09,
        1.378633446915721e-07,
        -5.752545603517705e-08,
        1.1951628599778148e-08,
        -1.7543241719747647e-11,
        -1.0091543710600413e-09,
        4.162792991842583e-10,
        -8.56390702649298e-11,
        6.067215101604758e-14,
    ],
    // c_2
    &[
        0.004133597883597883,
        -0.0026813271604938273,
        0.0007716049382716049,
        2.0093878600823047e-06,
        -0.0001073665322636516,
        5.2923448829120125e-05,
        -1.2760635188618728e-05,
        3.423578734096138e-08,
        1.3721957309062934e-06,
        -6.298992138380055e-07,
        1.4280614206064242e-07,
        -2.0477098421990866e-10,
        -1.409252991086752e-08,
        6.228974084922022e-09,
        -1.3670488396617114e-09,
        9.428356159014678e-13,
    ],
    // c_3
    &[
        0.0006494341563786008,
        0.00022947209362139917,
        -0.0004691894943952557,
        0.00026772063206283885,
        -7.561801671883977e-05,
        -2.396505113867297e-07,
        1.1082654115347302e-05,
        -5.6749528269915965e-06,
        1.4230900732435883e-06,
        -2.7861080291528143e-11,
        -1.6958404091930278e-07,
        8.099464905388083e-08,
        -1.9111168485973655e-08,
        2.3928620439808118e-12,
    ],
    // c_4
    &[
        -0.0008618882909167117,
        0.0007840392217200666,
        -0.0002990724803031902,
        -1.4638452578843418e-06,
        6.641498215465122e-05,
        -3.968365047179435e-05,
        1.1375726970678419e-05,
        2.507497226237533e-10,
        -1.6954149536558305e-06,
        8.907507532205309e-07,
        -2.292934834000805e-07,
        2.956794137544049e-11,
    ],
    // c_5
    &[
        -0.00033679855336635813,
        -6.972813758365857e-05,
        0.0002772753244959392,
        -0.00019932570516188847,
        6.797780477937208e-05,
        1.419062920643967e-07,
        -1.3594048189768693e-05,
        8.018470256334202e-06,
        -2.291481176508095e-06,
        -3.252473551298454e-10,
    ],
    // c_6
    &[
        0.0005313079364639922,
        -0.0005921664373536939,
        0.0002708782096718045,
        7.902353232660328e-07,
        -8.153969367561969e-05,
        5.61168275310625e-05,
        -1.8329116582843375e-05,
        -3.0796134506033047e-09,
    ],
];

#[cfg(test)]
mod tests {
    use super::*;

    /// `count, lower, upper, one-sided upper` from 50-digit mpmath (scripts/poisson_table.py).
    const TABLE: &str = include_str!("../../tests/data/poisson_garwood.csv");
    /// The relative accuracy the module documentation states (measured: 4.6e-16; the
    /// requirement was 1e-9).
    const ACHIEVED: f64 = 1e-14;

    fn table() -> Vec<(u64, [f64; 3])> {
        let mut lines = TABLE.lines();
        assert_eq!(lines.next(), Some("count,lower_2.5,upper_97.5,upper_95_one_sided"));
        lines
            .map(|line| {
                let fields: Vec<&str> = line.split(',').collect();
                let number = |i: usize| fields[i].parse::<f64>().unwrap();
                (fields[0].parse().unwrap(), [number(1), number(2), number(3)])
            })
            .collect()
    }

    fn relative_error(got: f64, want: f64) -> f64 {
        ((got - want) / want).abs()
    }

    #[test]
    fn the_upper_bound_at_any_alpha() {
        // Zero events: P(0 | λ) = e^-λ = α, so the bound is −ln α exactly.
        for alpha in [0.05, 0.05 / 24.0, 1e-6, 0.5] {
            let bound = poisson_count_upper(0, alpha).unwrap();
            assert!(relative_error(bound, -alpha.ln()) < 1e-13, "{alpha}: {bound}");
        }
        // One event: (1 + λ)e^-λ = α; at α = 0.05, λ = 4.743864518...
        assert!(relative_error(poisson_count_upper(1, 0.05).unwrap(), 4.743_864_518_2) < 1e-9);
        for k in [0, 3, 1000] {
            assert_eq!(poisson_count_upper(k, 0.05), Some(poisson_count_upper95(k)));
            assert!(poisson_count_upper(k, 0.01).unwrap() > poisson_count_upper95(k));
        }
        for alpha in [0.0, 1.0, -0.1, f64::NAN] {
            assert_eq!(poisson_count_upper(2, alpha), None, "{alpha}");
        }
    }

    #[test]
    fn bounds_match_the_50_digit_table() {
        let rows = table();
        assert!(rows.len() >= 10);
        let mut worst = 0.0_f64;
        for (k, want) in rows {
            let [lower, upper] = poisson_count_ci95(k);
            let got = [lower, upper, poisson_count_upper95(k)];
            if k == 0 {
                assert_eq!(want[0], 0.0);
                assert_eq!(lower.to_bits(), 0.0_f64.to_bits(), "lower bound at k = 0 is exactly +0");
            }
            for (i, (got, want)) in got.into_iter().zip(want).enumerate() {
                if want == 0.0 {
                    continue;
                }
                let error = relative_error(got, want);
                assert!(error <= ACHIEVED, "k = {k}, bound {i}: {got} vs {want}, relative error {error:e}");
                worst = worst.max(error);
            }
        }
        eprintln!("worst relative error against the table: {worst:e}");
    }

    #[test]
    fn rates_divide_by_a_finite_positive_exposure() {
        let [lower, upper] = poisson_count_ci95(10);
        assert_eq!(poisson_rate_ci95(10, 2.0), Some([lower / 2.0, upper / 2.0]));
        assert_eq!(poisson_rate_upper95(10, 4.0), Some(poisson_count_upper95(10) / 4.0));
        for exposure in [0.0, -0.0, -1.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert_eq!(poisson_rate_ci95(3, exposure), None, "{exposure}");
            assert_eq!(poisson_rate_upper95(3, exposure), None, "{exposure}");
        }
    }

    #[test]
    fn extreme_counts_stay_finite_and_ordered() {
        for k in [10_u64.pow(12), 10_u64.pow(15), 1 << 53, (1 << 53) + 1, 10_u64.pow(18), u64::MAX - 1, u64::MAX] {
            let [lower, upper] = poisson_count_ci95(k);
            let one_sided = poisson_count_upper95(k);
            let (kf, sd) = (k as f64, (k as f64).sqrt());
            assert!(lower.is_finite() && upper.is_finite() && one_sided.is_finite(), "{k}");
            assert!(0.0 < lower && lower < kf && kf < one_sided && one_sided < upper, "{k}");
            // Nearly normal this far out: the bounds sit 1.96 and 1.645 deviations out.
            assert!(((kf - lower) / sd - 1.959964).abs() < 1e-3, "{k}: {lower}");
            assert!(((upper - kf) / sd - 1.959964).abs() < 1e-3, "{k}: {upper}");
            assert!(((one_sided - kf) / sd - 1.644854).abs() < 1e-3, "{k}: {one_sided}");
        }
    }

    #[test]
    fn bounds_are_monotone_in_the_count() {
        let mut counts: Vec<u64> = (0..=2000).collect();
        for start in [277_000, 999_999_990, 10_u64.pow(12), (1 << 53) - 5] {
            counts.extend(start..start + 10);
        }
        let mut k = 2000.0_f64;
        while k < u64::MAX as f64 {
            counts.push(k as u64);
            k *= 1.07;
        }
        counts.push(u64::MAX);
        counts.sort_unstable();
        counts.dedup();
        let bounds: Vec<[f64; 3]> = counts
            .iter()
            .map(|&k| {
                let [lower, upper] = poisson_count_ci95(k);
                [lower, upper, poisson_count_upper95(k)]
            })
            .collect();
        for (ks, pair) in counts.windows(2).zip(bounds.windows(2)) {
            let (k, next) = (ks[0], ks[1]);
            for (i, (&before, &after)) in pair[0].iter().zip(&pair[1]).enumerate() {
                assert!(before <= after, "bound {i}: k = {k} → {before}, k = {next} → {after}");
                // Consecutive counts move the bounds by about 1, which shows while the
                // bounds' ulp is well below 1 (and the count itself is exact, below 2⁵³).
                if next < 10_u64.pow(13) {
                    assert!(before < after, "bound {i}: {before} at both k = {k} and k = {next}");
                }
            }
        }
    }

    /// Below `a = 100` each branch computes the smaller tail directly (the series `P` below
    /// `a + 1`, the continued fraction `Q` above), never as 1 − the larger: small tails on
    /// both sides of the mean against 50-digit mpmath (`gammainc(a, 0, x, regularized=True)`,
    /// `gammainc(a, x, inf, regularized=True)`). Taken as a difference, `P(1, 10⁻⁶)` would be
    /// off by about 1e-10 relative and `Q(1, 40) = e⁻⁴⁰` lost entirely.
    #[test]
    fn small_tails_are_computed_directly() {
        let cases = [
            (1.0, 1e-6, "P", 9.999_995_000_001_667e-7),
            (10.0, 1.0, "P", 1.114_254_783_387_206_7e-7),
            (50.0, 20.0, "P", 1.245_892_607_971_938e-8),
            (1.0, 40.0, "Q", 4.248_354_255_291_589e-18),
            (3.0, 30.0, "Q", 4.501_016_648_012_124e-11),
            (50.0, 100.0, "Q", 1.178_450_072_097_942_2e-8),
        ];
        for (a, x, tail, want) in cases {
            let (p, q) = regularized_gamma(a, x);
            let got = if tail == "P" { p } else { q };
            let error = relative_error(got, want);
            assert!(error < 1e-13, "{tail}({a}, {x}) = {got:e}, want {want:e} ({error:e})");
        }
    }

    #[test]
    fn temme_agrees_with_the_series_and_continued_fraction() {
        // Two independent evaluations where both are valid: Temme's expansion against the
        // series (x < a + 1) or the continued fraction, around the mean.
        for a in [100.0, 101.0, 250.0, 1000.0] {
            for t in [-4.0, -2.0, -1.0, -0.3, 0.0, 0.3, 1.0, 2.0, 4.0] {
                let x = a + t * f64::sqrt(a);
                let sigma = (x - a) / a;
                let (p, q) = temme(a, sigma, -log1pmx(sigma));
                let (p_ref, q_ref) = if x < a + 1.0 {
                    let p = series_p(a, x);
                    (p, 1.0 - p)
                } else {
                    let q = continued_fraction_q(a, x);
                    (1.0 - q, q)
                };
                assert!(
                    (p - p_ref).abs() < 1e-14 && (q - q_ref).abs() < 1e-14,
                    "a = {a}, x = {x}: P {p} vs {p_ref}, Q {q} vs {q_ref}"
                );
            }
        }
    }

    /// Relative accuracy of the smaller tail across Temme's domain (`|η| ≤ 1`, where the
    /// tails reach 1e-24 at a = 100 and 1e-217 at a = 1000): measured 5.0e-13 (the
    /// cancellation in `½·erfc(|u|) − R` far below the mean), allowed twice that.
    const TEMME_TAILS: f64 = 1e-12;

    #[test]
    fn far_tails_in_temmes_domain_match_the_40_digit_table() {
        // `a, x, tail, value` from 40-digit mpmath (scripts/temme_tails.py): P(a, x) below
        // the mean and Q(a, x) above it, at x/a = λ with λ − 1 − ln λ = η²/2 for η from
        // −0.999 to 0.999. A wrong sign on any coefficient of c₀ … c₄ that weighs more than
        // the expansion's own rounding there moves these by more than the tolerance.
        let table = include_str!("../../tests/data/temme_tails.csv");
        let mut lines = table.lines();
        assert_eq!(lines.next(), Some("a,x,tail,value"));
        let (mut worst, mut rows) = (0.0_f64, 0);
        for line in lines {
            let f: Vec<&str> = line.split(',').collect();
            let (a, x, want): (f64, f64, f64) = (f[0].parse().unwrap(), f[1].parse().unwrap(), f[3].parse().unwrap());
            let sigma = (x - a) / a;
            assert!(a >= TEMME_MIN_A && -log1pmx(sigma) <= TEMME_MAX_PHI, "{line}: in Temme's domain");
            let (p, q) = regularized_gamma(a, x);
            let got = if f[2] == "P" { p } else { q };
            let error = relative_error(got, want);
            assert!(error <= TEMME_TAILS, "a = {a}, x = {x}: {} = {got:e}, want {want:e} ({error:e})", f[2]);
            worst = worst.max(error);
            rows += 1;
        }
        assert_eq!(rows, 96);
        eprintln!("worst relative error of a far tail: {worst:e}");
    }
}
