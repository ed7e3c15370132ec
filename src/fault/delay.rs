//! One-way delay distributions and their sampling.
//!
//! Independent delays are drawn directly. Autocorrelated delays (real paths are correlated;
//! independent delays overstate reordering) use a Gaussian copula: an AR(1) process
//! z_k = ρ·z_{k−1} + √(1−ρ²)·ε_k mapped through Φ and the distribution's inverse CDF, so
//! successive delays are correlated while each one keeps exactly the configured
//! distribution (netem's simple mixing would distort it).

use std::path::Path;

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::time::Nanos;

/// A delay (or duration) distribution, as written in experiment files.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(tag = "dist", rename_all = "kebab-case", deny_unknown_fields)]
pub enum DelayModel {
    Constant {
        value: Nanos,
    },
    Uniform {
        min: Nanos,
        max: Nanos,
    },
    /// Normal, truncated at 0 (conditioned on being ≥ 0, not clamped).
    Normal {
        mean: Nanos,
        sd: Nanos,
    },
    /// base + median·exp(σ·Z).
    Lognormal {
        median: Nanos,
        sigma: f64,
        #[serde(default)]
        base: Nanos,
    },
    /// base + Exp(mean).
    Exponential {
        mean: Nanos,
        #[serde(default)]
        base: Nanos,
    },
    /// base + Pareto(scale, shape): heavy-tailed.
    Pareto {
        scale: Nanos,
        shape: f64,
        #[serde(default)]
        base: Nanos,
    },
    /// The one-way delays (received_ns − sent_ns) of a trace, resampled. The path is
    /// relative to the experiment file.
    Empirical {
        trace: std::path::PathBuf,
    },
}

impl DelayModel {
    /// Checks the parameters; the message names the problem.
    pub fn validate(&self) -> Result<(), String> {
        let durations: &[(&str, Nanos)] = match *self {
            DelayModel::Constant { value } => &[("value", value)],
            DelayModel::Uniform { min, max } => &[("min", min), ("max", max)],
            DelayModel::Normal { mean, sd } => &[("mean", mean), ("sd", sd)],
            DelayModel::Lognormal { median, base, .. } => &[("median", median), ("base", base)],
            DelayModel::Exponential { mean, base } => &[("mean", mean), ("base", base)],
            DelayModel::Pareto { scale, base, .. } => &[("scale", scale), ("base", base)],
            DelayModel::Empirical { .. } => &[],
        };
        if let Some((field, _)) = durations.iter().find(|(_, d)| *d > Nanos::LIMIT) {
            return Err(format!("`{field}` must be at most 146 years (2^62 ns)"));
        }
        match self {
            DelayModel::Uniform { min, max } if min > max => Err("`min` is above `max`".into()),
            DelayModel::Lognormal { sigma, .. } if !(sigma.is_finite() && *sigma >= 0.0) => {
                Err(format!("`sigma` = {sigma}: it must be finite and ≥ 0"))
            }
            DelayModel::Pareto { shape, .. } if !(shape.is_finite() && *shape > 0.0) => {
                Err(format!("`shape` = {shape}: a Pareto's shape must be finite and > 0"))
            }
            DelayModel::Pareto { scale, .. } if *scale == Nanos::ZERO => {
                Err("`scale` = 0: a Pareto's scale must be greater than zero".into())
            }
            _ => Ok(()),
        }
    }
}

/// Draws delays from a [`DelayModel`].
#[derive(Clone, Debug)]
pub struct DelaySampler {
    shape: Shape,
    /// AR(1) coefficient; 0 for independent draws.
    rho: f64,
    z: f64,
}

#[derive(Clone, Debug)]
enum Shape {
    Constant(f64),
    Uniform { min: f64, width: f64 },
    Normal { mean: f64, sd: f64, p0: f64 },
    Lognormal { median: f64, sigma: f64, base: f64 },
    Exponential { mean: f64, base: f64 },
    Pareto { scale: f64, shape: f64, base: f64 },
    Empirical(Vec<u64>),
}

#[derive(Debug, thiserror::Error)]
#[error("empirical delay trace {path}: {message}")]
pub struct EmpiricalError {
    pub path: std::path::PathBuf,
    pub message: String,
}

/// Φ, the standard normal CDF. Sampling uses `libm` (pure Rust), not the platform's libm
/// behind `f64::exp`/`ln`/`powf`, so that a draw is the same bits on every machine and shards
/// run on different hosts merge into what one run gives.
fn phi(z: f64) -> f64 {
    0.5 * libm::erfc(-z / std::f64::consts::SQRT_2)
}

/// Φ⁻¹.
fn phi_inverse(p: f64) -> f64 {
    -std::f64::consts::SQRT_2 * super::erfc_inv::erfc_inv(2.0 * p)
}

/// The largest delay drawn, in ns: the largest `f64` below 2^63.
const MAX_DELAY_NS: f64 = 9_223_372_036_854_774_784.0;

/// How many delays [`DelaySampler::sample_batch`] draws at once.
pub const BATCH: usize = 32;

/// A drawn delay in whole ns, rounded down. Capped below 2^63 ns (292 years), so that the
/// conversion goes through i64: one instruction where a u64 conversion takes several.
#[inline(always)]
fn to_nanos(x: f64) -> Nanos {
    Nanos(x.clamp(0.0, MAX_DELAY_NS) as i64 as u64)
}

impl DelaySampler {
    /// A sampler; `base_dir` resolves an empirical trace's path.
    pub fn new(model: &DelayModel, correlation: f64, base_dir: &Path) -> Result<DelaySampler, EmpiricalError> {
        let ns = |n: Nanos| n.0 as f64;
        let shape = match model {
            DelayModel::Constant { value } => Shape::Constant(ns(*value)),
            DelayModel::Uniform { min, max } => Shape::Uniform { min: ns(*min), width: ns(*max) - ns(*min) },
            DelayModel::Normal { mean, sd } => {
                let (mean, sd) = (ns(*mean), ns(*sd).max(1.0));
                Shape::Normal { mean, sd, p0: phi(-mean / sd) }
            }
            DelayModel::Lognormal { median, sigma, base } => {
                Shape::Lognormal { median: ns(*median), sigma: *sigma, base: ns(*base) }
            }
            DelayModel::Exponential { mean, base } => Shape::Exponential { mean: ns(*mean), base: ns(*base) },
            DelayModel::Pareto { scale, shape, base } => {
                Shape::Pareto { scale: ns(*scale), shape: *shape, base: ns(*base) }
            }
            DelayModel::Empirical { trace } => Shape::Empirical(load_delays(&base_dir.join(trace))?),
        };
        Ok(DelaySampler { shape, rho: correlation, z: 0.0 })
    }

    /// Draws from now on from `other`'s distribution and correlation, continuing this
    /// sampler's correlated state (a route change on a correlated path).
    pub fn replace_model(&mut self, other: DelaySampler) {
        let z = self.z;
        *self = other;
        self.z = z;
    }

    /// The next delay.
    #[inline(always)]
    pub fn sample(&mut self, rng: &mut impl Rng) -> Nanos {
        let x = if self.rho > 0.0 {
            let e: f64 = super::ziggurat::standard_normal(rng);
            // (Mutation testing, equivalent in law: `-` for `+`. ε and −ε have the same
            // distribution, so the process is the same AR(1); only which delays a seed gives
            // changes, and no test pins those.)
            self.z = self.rho * self.z + (1.0 - self.rho * self.rho).sqrt() * e;
            self.quantile_of_normal(self.z)
        } else {
            self.independent(rng)
        };
        to_nanos(x)
    }

    /// Fills `out` with the next [`BATCH`] delays: exactly what as many calls of
    /// [`Self::sample`] give, in order, from the same draws. A lognormal draws its normals
    /// first and takes their exponentials in a loop of their own: libm's `exp` is a chain of
    /// dependent multiplies and a division, which one at a time between draws costs about
    /// three times what it costs in a loop whose iterations do not wait on each other.
    pub fn sample_batch(&mut self, rng: &mut impl Rng, out: &mut [Nanos; BATCH]) {
        // (Mutation testing, equivalent: deleting the lognormal arm, or `rho >= 0.0` here
        // (a correlation is never negative, so the arm is never taken), sends a lognormal
        // through `Self::sample`: the same draws and the same formula one delay at a time,
        // slower.)
        match (&self.shape, self.rho > 0.0) {
            (&Shape::Lognormal { median, sigma, base }, false) => {
                let mut z = [0.0; BATCH];
                for z in &mut z {
                    *z = super::ziggurat::standard_normal(rng);
                }
                for (out, z) in out.iter_mut().zip(z) {
                    *out = to_nanos(base + median * libm::exp(sigma * z));
                }
            }
            _ => {
                for out in out.iter_mut() {
                    *out = self.sample(rng);
                }
            }
        }
    }

    #[inline(always)]
    fn independent(&self, rng: &mut impl Rng) -> f64 {
        // (Mutation testing, equivalent: deleting the constant's arm (the quantile then
        // gives the same value, from a uniform drawn on the link's own delay stream and used
        // for nothing else); equivalent in law: deleting the normal's arm (drawn then by its
        // inverse CDF, truncated the same way, which `the_inverse_cdf_of_each_shape` tests)
        // and `mean - sd * z` (z and −z have the same distribution).)
        match &self.shape {
            Shape::Constant(v) => *v,
            Shape::Normal { mean, sd, .. } => loop {
                let z: f64 = super::ziggurat::standard_normal(rng);
                let x = mean + sd * z;
                if x >= 0.0 {
                    break x;
                }
            },
            Shape::Lognormal { median, sigma, base } => {
                let z: f64 = super::ziggurat::standard_normal(rng);
                base + median * libm::exp(sigma * z)
            }
            _ => self.quantile(rng.random::<f64>()),
        }
    }

    /// The inverse CDF at u ∈ [0, 1). (Mutation testing, equivalent: `1.0 + 1e-16` or `1.0 /
    /// 1e-16` for the normal's upper clamp `1.0 - 1e-16`, which binds only for the largest
    /// few u below 1, drawn with probability about 2^-53; `len + 1` or `len / 1` for the
    /// empirical index's cap `len - 1`, which never binds: u·len, u below 1, never rounds up
    /// to len.)
    fn quantile(&self, u: f64) -> f64 {
        match &self.shape {
            Shape::Constant(v) => *v,
            Shape::Uniform { min, width } => min + u * width,
            Shape::Normal { mean, sd, p0 } => mean + sd * phi_inverse((p0 + u * (1.0 - p0)).clamp(1e-300, 1.0 - 1e-16)),
            Shape::Lognormal { median, sigma, base } => base + median * libm::exp(sigma * phi_inverse(u.max(1e-300))),
            Shape::Exponential { mean, base } => base - mean * libm::log(1.0 - u),
            Shape::Pareto { scale, shape, base } => base + scale * libm::pow(1.0 - u, -1.0 / shape),
            Shape::Empirical(sorted) => sorted[((u * sorted.len() as f64) as usize).min(sorted.len() - 1)] as f64,
        }
    }

    fn quantile_of_normal(&self, z: f64) -> f64 {
        // (Mutation testing, equivalent: deleting the lognormal's arm (its quantile of Φ(z)
        // is the same value, through a round trip Φ⁻¹∘Φ that this arm saves); `median /
        // exp(σz)` in law (z and −z have the same distribution); `1.0 + 1e-16` or `1.0 /
        // 1e-16` in the cap, which then lets Φ(z) = 1 through, only for z above 8, with
        // probability below 10^-15.)
        match &self.shape {
            Shape::Lognormal { median, sigma, base } => base + median * libm::exp(sigma * z),
            _ => self.quantile(phi(z).min(1.0 - 1e-16)),
        }
    }
}

/// One-way delays from a trace with `sent_ns` (received − sent), sorted.
fn load_delays(path: &Path) -> Result<Vec<u64>, EmpiricalError> {
    let fail = |message: String| EmpiricalError { path: path.to_path_buf(), message };
    // The reader's errors begin with the path, which this error names already.
    let read_error = |e: crate::trace::TraceError| {
        let text = e.to_string();
        let prefix = format!("{}: ", path.display());
        fail(text.strip_prefix(&prefix).map_or(text.clone(), str::to_string))
    };
    // Read more than once (by `validate` and by every sampler built on it): a pipe could
    // be read once, and opening one waits for a writer.
    if std::fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir()) {
        return Err(fail(
            "is not a regular file (a pipe or a device); fdlab reads an empirical delay trace more than once".into(),
        ));
    }
    let mut reader = crate::trace::TraceReader::open(path).map_err(read_error)?;
    if !reader.has_sent() {
        return Err(fail("an empirical delay trace needs a `sent_ns` column".into()));
    }
    let mut delays = Vec::new();
    while let Some(row) = reader.next_row().map_err(read_error)? {
        // Cannot fail: has_sent() was checked and an empty field is rejected per row below.
        let sent = row.arrival.sent.ok_or_else(|| fail(format!("line {}: empty `sent_ns`", row.line)))?;
        delays.push(row.arrival.at.saturating_sub(sent).0);
    }
    if delays.is_empty() {
        return Err(fail("no rows".into()));
    }
    delays.sort_unstable();
    Ok(delays)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn mean_of(model: DelayModel, rho: f64) -> (f64, f64) {
        let mut s = DelaySampler::new(&model, rho, Path::new(".")).unwrap();
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(1);
        let xs: Vec<f64> = (0..200_000).map(|_| s.sample(&mut rng).0 as f64).collect();
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        let lag1 = xs.windows(2).map(|w| (w[0] - mean) * (w[1] - mean)).sum::<f64>()
            / xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>();
        (mean, lag1)
    }

    #[test]
    fn means_match_the_distributions_with_and_without_correlation() {
        let ms = 1e6;
        for rho in [0.0, 0.9] {
            let (m, _) =
                mean_of(DelayModel::Exponential { mean: Nanos::from_millis(5), base: Nanos::from_millis(1) }, rho);
            assert!((m / ms - 6.0).abs() < 0.15, "exp rho {rho}: {m}");
            let (m, _) = mean_of(DelayModel::Uniform { min: Nanos::from_millis(2), max: Nanos::from_millis(4) }, rho);
            assert!((m / ms - 3.0).abs() < 0.05, "uniform rho {rho}: {m}");
            // Lognormal mean = median·exp(σ²/2).
            let (m, _) =
                mean_of(DelayModel::Lognormal { median: Nanos::from_millis(2), sigma: 0.5, base: Nanos::ZERO }, rho);
            assert!((m / ms - 2.0 * (0.125f64).exp()).abs() < 0.05, "lognormal rho {rho}: {m}");
            // Truncated normal with mean far above 0 keeps its mean.
            let (m, _) = mean_of(DelayModel::Normal { mean: Nanos::from_millis(10), sd: Nanos::from_millis(1) }, rho);
            assert!((m / ms - 10.0).abs() < 0.05, "normal rho {rho}: {m}");
        }
        let (_, independent) = mean_of(DelayModel::Exponential { mean: Nanos::from_millis(5), base: Nanos::ZERO }, 0.0);
        let (_, correlated) = mean_of(DelayModel::Exponential { mean: Nanos::from_millis(5), base: Nanos::ZERO }, 0.9);
        assert!(independent.abs() < 0.02, "{independent}");
        assert!(correlated > 0.7, "{correlated}");
    }

    /// Heavy tails and truncation keep their closed-form means, independent and correlated
    /// (200,000 draws; tolerances of about 4 standard errors of the correlated mean): a
    /// Pareto of scale 1 ms and shape 3 has mean 1.5 ms; a normal of mean 1 ms and sd 2 ms
    /// conditioned on ≥ 0 has mean μ + σ·φ(α)/(1 − Φ(α)) with α = −½: 2.01834 ms.
    #[test]
    fn a_pareto_and_a_truncated_normal_keep_their_means() {
        let ms = 1e6;
        for rho in [0.0, 0.9] {
            let pareto = DelayModel::Pareto { scale: Nanos::from_millis(1), shape: 3.0, base: Nanos::from_millis(2) };
            let (m, _) = mean_of(pareto, rho);
            assert!((m / ms - 3.5).abs() < 0.05, "pareto rho {rho}: {}", m / ms);
            let (m, _) = mean_of(DelayModel::Normal { mean: Nanos::from_millis(1), sd: Nanos::from_millis(2) }, rho);
            assert!((m / ms - 2.01834).abs() < 0.06, "truncated normal rho {rho}: {}", m / ms);
        }
    }

    /// The inverse CDF of every shape at points with closed forms (in ns; the normal's
    /// reference from Python's `statistics.NormalDist`): the sampler takes it for the
    /// correlated draws and for the shapes it does not draw directly, and its lognormal arm
    /// is the inverse of the lognormal drawn directly.
    #[test]
    fn the_inverse_cdf_of_each_shape() {
        let ms = Nanos::from_millis;
        let q = |model: DelayModel, u: f64| DelaySampler::new(&model, 0.0, Path::new(".")).unwrap().quantile(u);
        let close = |got: f64, want: f64| assert!((got - want).abs() <= 1e-9 * want.abs(), "{got} vs {want}");
        close(q(DelayModel::Constant { value: ms(3) }, 0.7), 3e6);
        close(q(DelayModel::Uniform { min: ms(2), max: ms(4) }, 0.25), 2.5e6);
        // Truncated at 0: the quantile at 0 is 0; at ½, μ + σ·Φ⁻¹(p0 + ½(1 − p0)), p0 = Φ(−½).
        let normal = || DelayModel::Normal { mean: ms(1), sd: ms(2) };
        assert!(q(normal(), 0.0).abs() < 1.0, "{}", q(normal(), 0.0));
        close(q(normal(), 0.5), 1.7937423501790886e6);
        let lognormal = DelayModel::Lognormal { median: ms(2), sigma: 0.5, base: Nanos::from_micros(500) };
        // At Φ(2): base + median·e^(σ·2).
        close(q(lognormal, 0.9772498680518208), 5.93656365691809e6);
        close(q(DelayModel::Exponential { mean: ms(5), base: ms(1) }, 1.0 - (-1.0f64).exp()), 6e6);
        close(q(DelayModel::Pareto { scale: ms(1), shape: 2.0, base: ms(1) }, 0.75), 3e6);
        close(phi(0.0), 0.5);
        close(phi_inverse(0.975), 1.959963984540054);
    }

    /// An empirical delay is one of the trace's one-way delays, each as likely as any other.
    #[test]
    fn an_empirical_delay_resamples_the_traces_delays() {
        let dir = tempfile::tempdir().unwrap();
        // One-way delays 1 to 10 ms, in no order.
        let mut text = String::from("target,received_ns,sent_ns\n");
        for (i, d) in [7u64, 3, 10, 1, 5, 9, 2, 8, 4, 6].into_iter().enumerate() {
            let sent = i as u64 * 100_000_000;
            text.push_str(&format!("a,{},{sent}\n", sent + d * 1_000_000));
        }
        std::fs::write(dir.path().join("d.csv"), text).unwrap();
        let model = DelayModel::Empirical { trace: "d.csv".into() };
        let mut s = DelaySampler::new(&model, 0.0, dir.path()).unwrap();
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(2);
        let mut counts = [0u32; 11];
        for _ in 0..100_000 {
            let d = s.sample(&mut rng);
            assert_eq!(d.0 % 1_000_000, 0, "{d:?}");
            counts[(d.0 / 1_000_000) as usize] += 1;
        }
        // 10,000 each, within 4 binomial sd (95).
        assert_eq!(counts[0], 0);
        assert!(counts[1..].iter().all(|&c| c.abs_diff(10_000) < 380), "{counts:?}");
        let error = |text: &str| {
            std::fs::write(dir.path().join("e.csv"), text).unwrap();
            DelaySampler::new(&DelayModel::Empirical { trace: "e.csv".into() }, 0.0, dir.path())
                .unwrap_err()
                .to_string()
        };
        let named = |e: String, message: &str| {
            let path = dir.path().join("e.csv").display().to_string();
            assert!(e.starts_with(&format!("empirical delay trace {path}: ")) && e.ends_with(message), "{e}");
            // The path once: the reader's own prefix is not repeated.
            assert_eq!(e.matches(&path).count(), 1, "{e}");
        };
        named(error("target,received_ns\na,5\n"), "an empirical delay trace needs a `sent_ns` column");
        named(error("target,received_ns,sent_ns\n"), "no rows");
        named(error("target,received_ns,sent_ns\na,5,\n"), "line 2: empty `sent_ns`");
        named(
            error("target,received_ns,sent_ns\na,5,x\n"),
            "line 2: column `sent_ns`: `x` is not a whole number of nanoseconds ≥ 0",
        );
    }

    #[test]
    fn each_models_parameters_are_checked() {
        let ms = Nanos::from_millis;
        let ok = |m: DelayModel| assert_eq!(m.validate(), Ok(()), "{m:?}");
        let refused = |m: DelayModel, message: &str| assert_eq!(m.validate().unwrap_err(), message, "{m:?}");
        ok(DelayModel::Uniform { min: ms(2), max: ms(2) });
        refused(DelayModel::Uniform { min: ms(3), max: ms(2) }, "`min` is above `max`");
        let lognormal = |sigma| DelayModel::Lognormal { median: ms(1), sigma, base: Nanos::ZERO };
        ok(lognormal(0.0));
        for sigma in [-0.5, f64::NAN, f64::INFINITY] {
            refused(lognormal(sigma), &format!("`sigma` = {sigma}: it must be finite and ≥ 0"));
        }
        let pareto = |scale, shape| DelayModel::Pareto { scale, shape, base: Nanos::ZERO };
        ok(pareto(Nanos(1), 1e-9));
        for shape in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            refused(pareto(ms(1), shape), &format!("`shape` = {shape}: a Pareto's shape must be finite and > 0"));
        }
        refused(pareto(Nanos::ZERO, 1.5), "`scale` = 0: a Pareto's scale must be greater than zero");
        // Every duration within the time rule's bound (2^62 ns, inclusive), each named.
        let (limit, over) = (Nanos::LIMIT, Nanos(Nanos::LIMIT.0 + 1));
        let at_most = |field: &str| format!("`{field}` must be at most 146 years (2^62 ns)");
        ok(DelayModel::Constant { value: limit });
        refused(DelayModel::Constant { value: over }, &at_most("value"));
        refused(DelayModel::Uniform { min: ms(1), max: over }, &at_most("max"));
        refused(DelayModel::Uniform { min: over, max: over }, &at_most("min"));
        refused(DelayModel::Normal { mean: over, sd: ms(1) }, &at_most("mean"));
        refused(DelayModel::Normal { mean: ms(1), sd: over }, &at_most("sd"));
        refused(DelayModel::Lognormal { median: over, sigma: 1.0, base: Nanos::ZERO }, &at_most("median"));
        refused(DelayModel::Lognormal { median: ms(1), sigma: 1.0, base: over }, &at_most("base"));
        refused(DelayModel::Exponential { mean: over, base: Nanos::ZERO }, &at_most("mean"));
        refused(DelayModel::Exponential { mean: ms(1), base: over }, &at_most("base"));
        refused(DelayModel::Pareto { scale: over, shape: 1.0, base: Nanos::ZERO }, &at_most("scale"));
        refused(DelayModel::Pareto { scale: ms(1), shape: 1.0, base: over }, &at_most("base"));
    }

    /// A batch is exactly the delays drawn one at a time, in order, for every shape with and
    /// without correlation, and leaves the stream where they would: the draw after it is the
    /// same too. Two batches in a row check that the correlated state carries over.
    #[test]
    fn a_batch_is_the_delays_drawn_one_at_a_time() {
        let ms = Nanos::from_millis;
        let models = [
            DelayModel::Constant { value: ms(3) },
            DelayModel::Uniform { min: ms(2), max: ms(4) },
            DelayModel::Normal { mean: ms(1), sd: ms(2) },
            DelayModel::Lognormal { median: ms(2), sigma: 0.5, base: Nanos::from_micros(500) },
            // Far tails: the ziggurat's rare paths and the cap at 2^63 ns.
            DelayModel::Lognormal { median: ms(2), sigma: 40.0, base: Nanos::ZERO },
            DelayModel::Exponential { mean: ms(5), base: ms(1) },
            DelayModel::Pareto { scale: ms(1), shape: 1.5, base: Nanos::ZERO },
        ];
        for model in &models {
            for rho in [0.0, 0.9] {
                let mut one = DelaySampler::new(model, rho, Path::new(".")).unwrap();
                let mut batched = one.clone();
                let (mut rng_one, mut rng_batched) =
                    (rand_pcg::Pcg64Mcg::seed_from_u64(7), rand_pcg::Pcg64Mcg::seed_from_u64(7));
                let expected: Vec<Nanos> = (0..3 * BATCH).map(|_| one.sample(&mut rng_one)).collect();
                let mut got = Vec::new();
                let mut batch = [Nanos::ZERO; BATCH];
                for _ in 0..2 {
                    batched.sample_batch(&mut rng_batched, &mut batch);
                    got.extend_from_slice(&batch);
                }
                got.extend((0..BATCH).map(|_| batched.sample(&mut rng_batched)));
                assert_eq!(got, expected, "{model:?}, rho {rho}");
                assert!(expected.windows(2).any(|w| w[0] != w[1]) || matches!(model, DelayModel::Constant { .. }));
            }
        }
    }
}
