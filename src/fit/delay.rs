//! The delay distribution of one link: the candidates (constant, normal, lognormal with a
//! floor, Pareto, and the empirical distribution itself), their parameters with standard
//! errors, and the Kolmogorov–Smirnov distance of each to the sample.
//!
//! The choice: the parametric candidate with the smallest KS distance, if that distance is
//! below the 5 % critical value 1.358/√n_eff (n_eff shrinks n for autocorrelated delays);
//! otherwise no parametric model is good enough and the empirical distribution is
//! resampled. The parameters are estimated from the same sample, so the critical value is
//! conservative (Lilliefors): a candidate that fails it fits badly. The empirical
//! candidate's own in-sample distance is 0 by construction; its reported distance is the
//! two-sample distance between the first and second halves of the trace, a measure of how
//! stationary the delays are.
//!
//! `analysis::distributions` supplies the distributions' CDFs (pure-Rust maths, the same on
//! every machine); the KS distance itself is the supremum over the
//! sample's jumps, computed here exactly.

use crate::analysis::distributions::{lognormal_cdf, normal_cdf, normal_quantile, pareto_cdf};
use serde::{Deserialize, Serialize};

/// The 5 % critical value of the Kolmogorov distribution, √(−ln(0.025)/2).
pub const KS_CRITICAL_5: f64 = 1.358;

/// The quantiles the lognormal with a floor is matched at.
pub const LOGNORMAL_QUANTILES: [f64; 3] = [0.1, 0.5, 0.9];

/// A fitted candidate's parameters, durations in seconds (`_s`), with standard errors
/// (`_se`) where the estimator has one.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "dist", rename_all = "kebab-case", deny_unknown_fields)]
pub enum DelayParams {
    /// Every delay the same: the median.
    Constant { value_s: f64 },
    /// Maximum-likelihood mean and standard deviation.
    Normal { mean_s: f64, mean_se_s: f64, sd_s: f64, sd_se_s: f64 },
    /// base + median·exp(σ·Z), matched at the 10, 50 and 90 % quantiles; standard errors by
    /// the delta method from the quantiles' asymptotic covariance.
    Lognormal { base_s: f64, median_s: f64, sigma: f64, base_se_s: f64, median_se_s: f64, sigma_se: f64 },
    /// Pareto(scale, shape) by maximum likelihood (scale = the smallest delay).
    Pareto { scale_s: f64, shape: f64, shape_se: f64 },
    /// The sample itself, resampled.
    Empirical { n: usize },
}

impl DelayParams {
    pub fn name(&self) -> &'static str {
        match self {
            DelayParams::Constant { .. } => "constant",
            DelayParams::Normal { .. } => "normal",
            DelayParams::Lognormal { .. } => "lognormal",
            DelayParams::Pareto { .. } => "pareto",
            DelayParams::Empirical { .. } => "empirical",
        }
    }

    /// The parameters in a line, for the table.
    pub fn describe(&self) -> String {
        let d = |s: f64| human_s(s);
        match self {
            DelayParams::Constant { value_s } => d(*value_s),
            DelayParams::Normal { mean_s, sd_s, sd_se_s, .. } => {
                format!("mean {} sd {} ± {}", d(*mean_s), d(*sd_s), d(*sd_se_s))
            }
            DelayParams::Lognormal { base_s, median_s, sigma, sigma_se, .. } => {
                format!("base {} median {} σ {sigma:.4} ± {sigma_se:.4}", d(*base_s), d(*median_s))
            }
            DelayParams::Pareto { scale_s, shape, shape_se } => {
                format!("scale {} shape {shape:.3} ± {shape_se:.3}", d(*scale_s))
            }
            DelayParams::Empirical { n } => format!("{n} delays resampled"),
        }
    }
}

/// One candidate: its parameters (or why it does not apply) and its KS distance.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Candidate {
    pub dist: String,
    pub params: Option<DelayParams>,
    /// Sup |F_n − F|; for `empirical`, the two-sample distance between the trace's halves.
    pub ks_distance: Option<f64>,
    pub chosen: bool,
    /// Why the candidate does not apply, when it does not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_applicable: Option<String>,
}

/// The delay fit of one link.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DelayFit {
    pub n: usize,
    /// Effective sample size for the KS critical value: n·(1 − ρ)/(1 + ρ) with ρ the lag-1
    /// autocorrelation of the normal scores (n when ρ ≤ 0).
    pub n_effective: f64,
    pub p50_s: f64,
    pub p90_s: f64,
    pub p99_s: f64,
    pub min_s: f64,
    pub max_s: f64,
    /// 1.358/√n_eff: a parametric candidate farther than this from the sample is rejected.
    pub ks_critical: f64,
    pub candidates: Vec<Candidate>,
    /// The chosen candidate's name.
    pub chosen: String,
}

/// A duration in seconds, readably.
pub fn human_s(s: f64) -> String {
    let a = s.abs();
    if a == 0.0 {
        "0".into()
    } else if a >= 1.0 {
        format!("{s:.3}s")
    } else if a >= 1e-3 {
        format!("{:.3}ms", s * 1e3)
    } else if a >= 1e-6 {
        format!("{:.3}us", s * 1e6)
    } else {
        format!("{:.0}ns", s * 1e9)
    }
}

/// The p-quantile of sorted data (linear interpolation between order statistics, "type 7").
pub fn quantile(sorted: &[f64], p: f64) -> f64 {
    let h = p * (sorted.len() - 1) as f64;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

/// The KS distance between the sorted sample and a distribution with CDF `cdf` and left
/// limit `cdf_left` (equal to `cdf` for a continuous distribution). The supremum of
/// |F_n − F| is reached at a jump of F_n: at each distinct value v, with `lo` the share of
/// the sample below v and `hi` the share at or below it, it is the larger of
/// |F(v⁻) − lo| and |F(v) − hi| (between jumps F_n is flat and F monotone).
pub fn ks_distance(sorted: &[f64], cdf: impl Fn(f64) -> f64, cdf_left: impl Fn(f64) -> f64) -> f64 {
    let n = sorted.len() as f64;
    let mut d: f64 = 0.0;
    let mut i = 0;
    while i < sorted.len() {
        let v = sorted[i];
        let mut j = i;
        while j < sorted.len() && sorted[j] == v {
            j += 1;
        }
        let (lo, hi) = (i as f64 / n, j as f64 / n);
        d = d.max((cdf_left(v) - lo).abs()).max((cdf(v) - hi).abs());
        i = j;
    }
    d
}

/// The two-sample KS distance sup |F_a − F_b| between two sorted samples.
pub fn ks_two_sample(a: &[f64], b: &[f64]) -> f64 {
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let (mut i, mut j, mut d) = (0, 0, 0.0f64);
    while i < a.len() && j < b.len() {
        let v = a[i].min(b[j]);
        while i < a.len() && a[i] == v {
            i += 1;
        }
        while j < b.len() && b[j] == v {
            j += 1;
        }
        d = d.max((i as f64 / na - j as f64 / nb).abs());
    }
    d
}

/// base, median and σ of base + median·exp(σZ) with the given 10, 50 and 90 % quantiles:
/// (q₁ − b)(q₉ − b) = (q₅ − b)² gives b; b is kept in [0, q₁) (a left-skewed or symmetric
/// sample gets b = 0). σ = ln((q₉ − b)/(q₁ − b))/(2·z₀.₉).
pub fn three_quantile_lognormal(q: [f64; 3]) -> (f64, f64, f64) {
    let [q1, q5, q9] = q;
    let denominator = q1 + q9 - 2.0 * q5;
    let mut base = if denominator > 0.0 { (q1 * q9 - q5 * q5) / denominator } else { 0.0 };
    if !(base.is_finite() && base > 0.0) {
        base = 0.0;
    }
    if base >= q1 {
        base = 0.0;
    }
    let z = z_90();
    let sigma = libm::log((q9 - base) / (q1 - base)) / (2.0 * z);
    (base, q5 - base, sigma)
}

/// Φ⁻¹(0.9).
fn z_90() -> f64 {
    normal_quantile(LOGNORMAL_QUANTILES[2])
}

/// Standard errors of [`three_quantile_lognormal`]'s (base, median, σ) by the delta method:
/// the sample quantiles at p_i have asymptotic covariance p_i(1 − p_j)/(n f(q_i) f(q_j))
/// (p_i ≤ p_j), with f the fitted density, and the gradient is taken numerically.
pub fn lognormal_standard_errors(base: f64, median: f64, sigma: f64, n: f64) -> [f64; 3] {
    let z: Vec<f64> = LOGNORMAL_QUANTILES.iter().map(|&p| normal_quantile(p)).collect();
    let q: Vec<f64> = z.iter().map(|z| base + median * libm::exp(sigma * z)).collect();
    // f(q) = φ(z)/(σ·(q − base)).
    let f: Vec<f64> = (0..3)
        .map(|i| libm::exp(-z[i] * z[i] / 2.0) / (2.0 * std::f64::consts::PI).sqrt() / (sigma * (q[i] - base)))
        .collect();
    let mut cov = [[0.0; 3]; 3];
    for i in 0..3 {
        for j in 0..3 {
            let (a, b) = (i.min(j), i.max(j));
            cov[i][j] = LOGNORMAL_QUANTILES[a] * (1.0 - LOGNORMAL_QUANTILES[b]) / (n * f[i] * f[j]);
        }
    }
    let estimate = |q: [f64; 3]| {
        let (b, m, s) = three_quantile_lognormal(q);
        [b, m, s]
    };
    let mut gradient = [[0.0; 3]; 3]; // gradient[parameter][quantile]
    for k in 0..3 {
        let h = 1e-6 * q[k].abs().max(1.0);
        let (mut up, mut down) = ([q[0], q[1], q[2]], [q[0], q[1], q[2]]);
        up[k] += h;
        down[k] -= h;
        let (eu, ed) = (estimate(up), estimate(down));
        for p in 0..3 {
            gradient[p][k] = (eu[p] - ed[p]) / (2.0 * h);
        }
    }
    let mut se = [0.0; 3];
    for p in 0..3 {
        let mut v = 0.0;
        for i in 0..3 {
            for j in 0..3 {
                v += gradient[p][i] * cov[i][j] * gradient[p][j];
            }
        }
        se[p] = v.max(0.0).sqrt();
    }
    se
}

/// Fits every candidate to `delays` (ns, in send order) and chooses one. `rho` is the
/// normal-score lag-1 autocorrelation (for n_eff).
pub fn fit_delays(delays: &[f64], rho: f64) -> DelayFit {
    let n = delays.len();
    let mut sorted = delays.to_vec();
    sorted.sort_by(f64::total_cmp);
    let nf = n as f64;
    let n_effective = if rho > 0.0 { (nf * (1.0 - rho) / (1.0 + rho)).max(1.0) } else { nf };
    let ks_critical = KS_CRITICAL_5 / n_effective.sqrt();
    let s = |ns: f64| ns * 1e-9;
    let mut candidates = Vec::new();
    let missing = |dist: &str, why: &str| Candidate {
        dist: dist.into(),
        params: None,
        ks_distance: None,
        chosen: false,
        not_applicable: Some(why.into()),
    };
    let found = |params: DelayParams, ks: f64| Candidate {
        dist: params.name().into(),
        params: Some(params),
        ks_distance: Some(ks),
        chosen: false,
        not_applicable: None,
    };

    let median = quantile(&sorted, 0.5);
    let constant_ks = ks_distance(&sorted, |x| f64::from(x >= median), |x| f64::from(x > median));
    candidates.push(found(DelayParams::Constant { value_s: s(median) }, constant_ks));

    let mean = delays.iter().sum::<f64>() / nf;
    let sd = (delays.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / nf).sqrt();
    // (The parameters statrs's `Normal::new` accepted, with sd > 0.)
    match (mean.is_finite() && sd.is_finite() && sd > 0.0).then_some((mean, sd)) {
        Some((mean, sd)) => {
            let ks = ks_distance(&sorted, |x| normal_cdf(x, mean, sd), |x| normal_cdf(x, mean, sd));
            // SE of the mean σ/√n; of the MLE sd σ/√(2n).
            let params = DelayParams::Normal {
                mean_s: s(mean),
                mean_se_s: s(sd / nf.sqrt()),
                sd_s: s(sd),
                sd_se_s: s(sd / (2.0 * nf).sqrt()),
            };
            candidates.push(found(params, ks));
        }
        None => candidates.push(missing("normal", "every delay is the same (sd = 0)")),
    }

    let q = LOGNORMAL_QUANTILES.map(|p| quantile(&sorted, p));
    let (base, lmedian, sigma) = three_quantile_lognormal(q);
    let mu = libm::log(lmedian);
    match (mu.is_finite() && sigma.is_finite() && sigma > 0.0 && lmedian > 0.0).then_some((mu, sigma)) {
        Some((mu, sigma)) => {
            let cdf = |x: f64| if x > base { lognormal_cdf(x - base, mu, sigma) } else { 0.0 };
            let ks = ks_distance(&sorted, cdf, cdf);
            let [base_se, median_se, sigma_se] = lognormal_standard_errors(base, lmedian, sigma, n_effective);
            let params = DelayParams::Lognormal {
                base_s: s(base),
                median_s: s(lmedian),
                sigma,
                base_se_s: s(base_se),
                median_se_s: s(median_se),
                sigma_se,
            };
            candidates.push(found(params, ks));
        }
        None => candidates.push(missing(
            "lognormal",
            "the 10, 50 and 90 % quantiles give no lognormal (a quantile at the floor, or σ = 0)",
        )),
    }

    let scale = sorted[0];
    let log_sum: f64 = sorted.iter().map(|x| libm::log(x / scale)).sum();
    let shape = nf / log_sum;
    match (scale.is_finite() && scale > 0.0 && log_sum > 0.0 && shape.is_finite()).then_some((scale, shape)) {
        Some((scale, shape)) => {
            let ks = ks_distance(&sorted, |x| pareto_cdf(x, scale, shape), |x| pareto_cdf(x, scale, shape));
            candidates.push(found(DelayParams::Pareto { scale_s: s(scale), shape, shape_se: shape / nf.sqrt() }, ks));
        }
        None if scale <= 0.0 => {
            candidates.push(missing("pareto", "the smallest delay is 0 (a Pareto's scale must be > 0)"))
        }
        None => candidates.push(missing("pareto", "every delay is the same")),
    }

    let half = n / 2;
    let halves_ks = if half >= 1 {
        let (mut a, mut b) = (delays[..half].to_vec(), delays[half..].to_vec());
        a.sort_by(f64::total_cmp);
        b.sort_by(f64::total_cmp);
        Some(ks_two_sample(&a, &b))
    } else {
        None
    };
    candidates.push(Candidate {
        dist: "empirical".into(),
        params: Some(DelayParams::Empirical { n }),
        ks_distance: halves_ks,
        chosen: false,
        not_applicable: None,
    });

    // The best parametric candidate (the first of equals: fewer parameters first), if good
    // enough; else the sample itself.
    let best = (0..candidates.len() - 1)
        .filter(|&i| candidates[i].ks_distance.is_some())
        .min_by(|&a, &b| candidates[a].ks_distance.unwrap().total_cmp(&candidates[b].ks_distance.unwrap()))
        .filter(|&i| candidates[i].ks_distance.unwrap() <= ks_critical);
    let chosen = best.unwrap_or(candidates.len() - 1);
    candidates[chosen].chosen = true;
    DelayFit {
        n,
        n_effective,
        p50_s: s(median),
        p90_s: s(quantile(&sorted, 0.9)),
        p99_s: s(quantile(&sorted, 0.99)),
        min_s: s(sorted[0]),
        max_s: s(sorted[n - 1]),
        ks_critical,
        chosen: candidates[chosen].dist.clone(),
        candidates,
    }
}

/// Lag-1 autocorrelation of `xs` (Pearson), 0 when undefined.
pub fn lag1(xs: &[f64]) -> f64 {
    if xs.len() < 3 {
        return 0.0;
    }
    let mean = xs.iter().sum::<f64>() / xs.len() as f64;
    let var: f64 = xs.iter().map(|x| (x - mean) * (x - mean)).sum();
    if var == 0.0 {
        return 0.0;
    }
    xs.windows(2).map(|w| (w[0] - mean) * (w[1] - mean)).sum::<f64>() / var
}

/// The normal scores of `xs`: Φ⁻¹((rank − ½)/n), ties sharing their mean rank. The simulator
/// correlates delays through a Gaussian copula (an AR(1) on these scores), so the lag-1
/// correlation of the scores estimates its `correlation` whatever the marginal.
pub fn normal_scores(xs: &[f64]) -> Vec<f64> {
    let n = xs.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| xs[a].total_cmp(&xs[b]));
    let mut scores = vec![0.0; n];
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j < n && xs[order[j]] == xs[order[i]] {
            j += 1;
        }
        // Ranks i+1..=j share their mean (i + j + 1)/2.
        let rank = (i + j + 1) as f64 / 2.0;
        let score = normal_quantile((rank - 0.5) / n as f64);
        for &k in &order[i..j] {
            scores[k] = score;
        }
        i = j;
    }
    scores
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ks_distance_of_a_point_mass_and_of_a_uniform() {
        let same = [5.0; 4];
        assert_eq!(ks_distance(&same, |x| f64::from(x >= 5.0), |x| f64::from(x > 5.0)), 0.0);
        // Half below the point: D = 1/2.
        let split = [4.0, 4.0, 5.0, 5.0];
        assert_eq!(ks_distance(&split, |x| f64::from(x >= 5.0), |x| f64::from(x > 5.0)), 0.5);
        // Uniform on [0, 1] against the sample {0.5}: F_n jumps 0 → 1 at 0.5, D = 1/2.
        assert_eq!(ks_distance(&[0.5], |x| x, |x| x), 0.5);
        // {0.25, 0.75}: at 0.25, F = 0.25 against 0 and 1/2; at 0.75, 0.75 against 1/2 and 1.
        assert_eq!(ks_distance(&[0.25, 0.75], |x| x, |x| x), 0.25);
    }

    #[test]
    fn two_sample_ks_distance() {
        assert_eq!(ks_two_sample(&[1.0, 2.0], &[1.0, 2.0]), 0.0);
        assert_eq!(ks_two_sample(&[1.0, 2.0], &[3.0, 4.0]), 1.0);
        assert_eq!(ks_two_sample(&[1.0, 3.0], &[2.0, 4.0]), 0.5);
    }

    #[test]
    fn three_quantiles_recover_a_lognormal_with_a_floor() {
        let (b, m, s) = (500_000.0, 2_000_000.0, 0.5);
        let z = z_90();
        let q = [b + m * (-s * z).exp(), b + m, b + m * (s * z).exp()];
        let (b2, m2, s2) = three_quantile_lognormal(q);
        assert!((b2 - b).abs() < 1e-3 && (m2 - m).abs() < 1e-3 && (s2 - s).abs() < 1e-12, "{b2} {m2} {s2}");
        // Symmetric quantiles: no floor.
        assert_eq!(three_quantile_lognormal([1.0, 2.0, 3.0]).0, 0.0);
    }

    #[test]
    fn the_delta_method_standard_errors_match_repeated_samples() {
        use rand::SeedableRng;
        use rand_distr::{Distribution, StandardNormal};
        let (b, m, s, n, reps) = (500_000.0, 2_000_000.0, 0.5, 5000, 400);
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(3);
        let mut estimates = Vec::new();
        for _ in 0..reps {
            let mut x: Vec<f64> = (0..n)
                .map(|_| {
                    let z: f64 = StandardNormal.sample(&mut rng);
                    b + m * (s * z).exp()
                })
                .collect();
            x.sort_by(f64::total_cmp);
            let (b2, m2, s2) = three_quantile_lognormal(LOGNORMAL_QUANTILES.map(|p| quantile(&x, p)));
            estimates.push([b2, m2, s2]);
        }
        let se = lognormal_standard_errors(b, m, s, n as f64);
        for k in 0..3 {
            let mean = estimates.iter().map(|e| e[k]).sum::<f64>() / reps as f64;
            let sd = (estimates.iter().map(|e| (e[k] - mean).powi(2)).sum::<f64>() / (reps - 1) as f64).sqrt();
            // The standard deviation of 400 draws has a relative standard error of
            // 1/√(2·400) = 3.5 %: 15 % is four of them (plus the delta method's O(1/n) error).
            assert!((sd / se[k] - 1.0).abs() < 0.15, "parameter {k}: {sd} against {}", se[k]);
        }
    }

    #[test]
    fn quantiles_interpolate() {
        assert_eq!(quantile(&[1.0, 2.0, 3.0, 4.0], 0.5), 2.5);
        assert_eq!(quantile(&[1.0, 2.0, 3.0, 4.0], 1.0), 4.0);
        assert_eq!(quantile(&[7.0], 0.9), 7.0);
    }

    #[test]
    fn normal_scores_share_tied_ranks_and_lag1_of_an_alternation_is_negative() {
        let s = normal_scores(&[3.0, 1.0, 3.0, 2.0]);
        assert_eq!(s[0], s[2]);
        assert!(s[1] < s[3] && s[3] < s[0]);
        assert!(lag1(&[1.0, -1.0, 1.0, -1.0, 1.0, -1.0]) < -0.8);
        assert_eq!(lag1(&[2.0; 5]), 0.0);
    }

    #[test]
    fn a_constant_sample_chooses_constant_and_the_rest_do_not_apply() {
        let fit = fit_delays(&[2e6; 50], 0.0);
        assert_eq!(fit.chosen, "constant");
        let normal = fit.candidates.iter().find(|c| c.dist == "normal").unwrap();
        assert!(normal.not_applicable.is_some() && normal.ks_distance.is_none());
    }
}
