//! Standard normal and standard exponential draws, bit for bit on every machine.
//!
//! `rand_distr`'s `StandardNormal` and `Exp1` call the platform's `exp` and `ln` (through
//! `f64::exp`, `f64::ln`) in their ziggurat's wedge and tail, and a platform's libm may differ
//! from another's in the last bit, which can flip a rejection test, and then every later
//! draw of the stream. These are the same algorithm (rand_distr 0.5.1's `ziggurat`, its tables
//! copied in [`super::ziggurat_tables`]) with `exp` and `ln` from the `libm` crate, pure Rust:
//! the same draws from the same generator on any machine, so that shards run on different
//! hosts merge into what one run gives. Where the platform's and libm's results agree (all
//! but rare last-bit cases) the draws are rand_distr's (a test compares them).

use rand::Rng;
use rand::distr::Open01;

use super::ziggurat_tables as tables;

/// A standard normal draw (rand_distr's `StandardNormal`, through libm).
#[inline]
pub fn standard_normal<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    fn pdf(x: f64) -> f64 {
        libm::exp(-x * x / 2.0)
    }
    fn zero_case<R: Rng + ?Sized>(rng: &mut R, u: f64) -> f64 {
        // A draw from the tail, by hand (Marsaglia's method).
        let mut x = 1.0f64;
        let mut y = 0.0f64;
        while -2.0 * y < x * x {
            let x_: f64 = rng.sample(Open01);
            let y_: f64 = rng.sample(Open01);
            x = libm::log(x_) / tables::ZIG_NORM_R;
            y = libm::log(y_);
        }
        if u < 0.0 { x - tables::ZIG_NORM_R } else { tables::ZIG_NORM_R - x }
    }
    ziggurat(rng, true, &tables::ZIG_NORM_X, &tables::ZIG_NORM_F, pdf, zero_case)
}

/// A standard exponential draw, mean 1 (rand_distr's `Exp1`, through libm).
#[inline]
pub fn standard_exponential<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    fn pdf(x: f64) -> f64 {
        libm::exp(-x)
    }
    fn zero_case<R: Rng + ?Sized>(rng: &mut R, _u: f64) -> f64 {
        tables::ZIG_EXP_R - libm::log(rng.random::<f64>())
    }
    ziggurat(rng, false, &tables::ZIG_EXP_X, &tables::ZIG_EXP_F, pdf, zero_case)
}

/// `bits` (52 of them) as the fraction of a float in [2^exponent, 2^(exponent + 1)).
#[inline(always)]
fn with_exponent(bits: u64, exponent: i32) -> f64 {
    f64::from_bits(bits | (((1023 + exponent) as u64) << 52))
}

#[inline(always)]
fn ziggurat<R: Rng + ?Sized>(
    rng: &mut R,
    symmetric: bool,
    x_tab: tables::ZigTable,
    f_tab: tables::ZigTable,
    pdf: fn(f64) -> f64,
    zero_case: fn(&mut R, f64) -> f64,
) -> f64 {
    loop {
        // 8 of the 12 bits a 52-bit fraction leaves choose the layer.
        let bits = rng.next_u64();
        let i = bits as usize & 0xff;
        let u = if symmetric {
            // [2, 4) − 3: [−1, 1).
            with_exponent(bits >> 12, 1) - 3.0
        } else {
            // [1, 2) − (1 − ε/2): (0, 1).
            with_exponent(bits >> 12, 0) - (1.0 - f64::EPSILON / 2.0)
        };
        let x = u * x_tab[i];
        let test_x = if symmetric { x.abs() } else { x };
        if test_x < x_tab[i + 1] {
            return x;
        }
        if i == 0 {
            return zero_case(rng, u);
        }
        if f_tab[i + 1] + (f_tab[i] - f_tab[i + 1]) * rng.random::<f64>() < pdf(x) {
            return x;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_distr::{Distribution, Exp1, StandardNormal};

    /// How many representable f64 lie between `a` and `b` (same sign).
    fn ulps(a: f64, b: f64) -> u64 {
        (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs()
    }

    #[test]
    fn the_draws_are_rand_distrs_to_the_last_bits_of_a_tail_draw() {
        // The same algorithm and tables, the same generator consumed the same way: draw for
        // draw equal, except where this platform's `ln`/`exp` and libm's differ in the last bit
        // (seen here in a normal tail draw, 1 ulp: exactly the machine dependence removed).
        let mut differing = 0;
        for seed in 0..3 {
            let (mut a, mut b) = (crate::fault::rng::stream(seed, "n"), crate::fault::rng::stream(seed, "n"));
            for n in 0..1_000_000 {
                let theirs: f64 = StandardNormal.sample(&mut a);
                let ours = standard_normal(&mut b);
                assert!(ulps(ours, theirs) <= 4, "seed {seed} draw {n}: {ours} vs {theirs}");
                differing += usize::from(ours != theirs);
            }
            let (mut a, mut b) = (crate::fault::rng::stream(seed, "e"), crate::fault::rng::stream(seed, "e"));
            for n in 0..1_000_000 {
                let theirs: f64 = Exp1.sample(&mut a);
                let ours = standard_exponential(&mut b);
                assert!(ulps(ours, theirs) <= 4, "exp seed {seed} draw {n}: {ours} vs {theirs}");
                differing += usize::from(ours != theirs);
            }
        }
        assert!(differing < 100, "{differing} of 6 000 000 draws differ in their last bits");
    }

    #[test]
    fn draws_have_the_moments_of_their_distributions() {
        let mut rng = crate::fault::rng::stream(9, "moments");
        let n = 1_000_000.0;
        let (mut s1, mut s2) = (0.0, 0.0);
        for _ in 0..1_000_000 {
            let z = standard_normal(&mut rng);
            s1 += z;
            s2 += z * z;
        }
        // Mean 0 (sd of the mean 0.001), variance 1 (sd of the estimate ~0.0014): 5 sd.
        assert!((s1 / n).abs() < 0.005 && (s2 / n - 1.0).abs() < 0.007, "{} {}", s1 / n, s2 / n);
        let mean = (0..1_000_000).map(|_| standard_exponential(&mut rng)).sum::<f64>() / n;
        assert!((mean - 1.0).abs() < 0.005, "{mean}");
    }
}
