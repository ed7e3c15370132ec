//! Choosing a configuration with 95 % confidence: the statistics of `tune`, on measured
//! figures alone (no engine, no files), so that each rule is tested by itself.
//!
//! - **A bound per configuration**: the exact one-sided Poisson upper bound on its mistake
//!   rate at error probability α ([`poisson_count_upper`]). Mistakes are not always
//!   Poisson: a bad hour of the network brings several at once. So the run is cut into
//!   [`BATCHES`] equal slices of time and the mistakes counted in each; when their
//!   dispersion index (Σ(bᵢ − b̄)²/b̄, χ² with 19 degrees of freedom under Poisson) exceeds
//!   its 95 % point, the mistakes cluster beyond Poisson and the bound is the larger of the
//!   Poisson bound and the batch-means bound b̄ + t₁₋α(19)·s/√20 (per slice, divided by a
//!   slice's length), and the output says so.
//! - **Along one knob** (a threshold, a timeout, α: counts fall as it rises, on the same
//!   arrivals) the values are tested as a fixed sequence, from the most cautious down, and
//!   the last value before the first failure is chosen. Fixed-sequence testing needs no
//!   correction for the number of values (each is tested only if every more cautious one
//!   passed), so the choice errs with probability ≤ α. Where counts do fall monotonically
//!   this is the smallest passing value.
//! - **Across a grid of other keys** (φ's acceptable pause × minimum deviation: each cell
//!   its own knob sequence, not nested in one another), each of the m cells is tested at
//!   α = 5 %/m (Bonferroni), and the fastest of the cells' choices is recommended: the
//!   recommendation errs with probability ≤ 5 % whichever cell it comes from.

use crate::analysis::poisson::poisson_count_upper;

/// Slices of the run for the batch-means check.
pub const BATCHES: usize = 20;

/// χ²₀.₉₅ with 19 degrees of freedom: the dispersion index of 20 Poisson batch counts
/// exceeds it with probability 5 %.
pub const DISPERSION_95: f64 = 30.143_527_205_646_16;

/// One configuration's figures, over the links it was measured on.
#[derive(Clone, Debug, PartialEq)]
pub struct Measured {
    /// The configuration's canonical label.
    pub label: String,
    /// Mistakes (censored ones excluded), summed over the links.
    pub mistakes: u64,
    /// The exposure the target is per (seconds): observed up time of the links, divided by
    /// links per node (`--per node`) or by the links (`--per cluster`).
    pub exposure_s: f64,
    /// The objective (p99 or mean detection time, seconds); `None`: nothing to measure it on.
    pub objective_s: Option<f64>,
    /// Mistakes per slice of the run ([`BATCHES`] slices of equal time); `None` when not every
    /// mistake was listed (over 100 000 on a link).
    pub batches: Option<Vec<u64>>,
}

/// How a bound was computed.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BoundMethod {
    /// Exact one-sided Poisson bound.
    Poisson,
    /// Mistakes clustered beyond Poisson (dispersion index over its 95 % point): the larger
    /// of the Poisson and the batch-means bound.
    BatchMeans,
}

/// An upper bound on a configuration's mistake rate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bound {
    pub upper_per_s: f64,
    pub method: BoundMethod,
    /// Σ(bᵢ − b̄)²/b̄ over the batches; `None` without batches or mistakes.
    pub dispersion: Option<f64>,
}

/// The dispersion index of batch counts (χ² with `n − 1` degrees of freedom under Poisson);
/// `None` with no mistakes.
pub fn dispersion_index(batches: &[u64]) -> Option<f64> {
    let total: u64 = batches.iter().sum();
    if total == 0 || batches.len() < 2 {
        return None;
    }
    let mean = total as f64 / batches.len() as f64;
    Some(batches.iter().map(|&b| (b as f64 - mean) * (b as f64 - mean)).sum::<f64>() / mean)
}

/// The one-sided `1 − alpha` quantile of Student's t with `df` degrees of freedom.
pub fn t_quantile(alpha: f64, df: f64) -> f64 {
    crate::analysis::distributions::t_quantile(alpha, df)
}

/// The batch-means upper bound on the count per batch: b̄ + t₁₋α(n−1)·s/√n.
pub fn batch_means_upper(batches: &[u64], alpha: f64) -> f64 {
    let n = batches.len() as f64;
    let mean = batches.iter().sum::<u64>() as f64 / n;
    let variance = batches.iter().map(|&b| (b as f64 - mean) * (b as f64 - mean)).sum::<f64>() / (n - 1.0);
    mean + t_quantile(alpha, n - 1.0) * (variance / n).sqrt()
}

/// The upper bound on `m`'s mistake rate at error probability `alpha`; `None` without
/// exposure.
pub fn bound(m: &Measured, alpha: f64) -> Option<Bound> {
    if !(m.exposure_s.is_finite() && m.exposure_s > 0.0) {
        return None;
    }
    let poisson = poisson_count_upper(m.mistakes, alpha)? / m.exposure_s;
    let dispersion = m.batches.as_deref().filter(|b| b.len() >= 2).and_then(dispersion_index);
    // `>` against `>=` is an equivalent mutant: an index of integer counts never equals the
    // irrational-looking χ² point exactly.
    if let (Some(d), Some(batches)) = (dispersion, m.batches.as_deref())
        && d > DISPERSION_95
    {
        let per_batch = batch_means_upper(batches, alpha);
        let upper = per_batch * batches.len() as f64 / m.exposure_s;
        return Some(Bound { upper_per_s: upper.max(poisson), method: BoundMethod::BatchMeans, dispersion });
    }
    Some(Bound { upper_per_s: poisson, method: BoundMethod::Poisson, dispersion })
}

/// Fixed-sequence choice along one knob: `points` in increasing knob order (the last the
/// most cautious). Tests from the last down and returns the index of the last value that
/// passed before the first failure (with its bound), or `None` if the most cautious fails.
pub fn choose_along_knob(points: &[Measured], alpha: f64, target_per_s: f64) -> Option<(usize, Bound)> {
    let mut chosen = None;
    for (i, m) in points.iter().enumerate().rev() {
        match bound(m, alpha) {
            Some(b) if b.upper_per_s <= target_per_s => chosen = Some((i, b)),
            _ => break,
        }
    }
    chosen
}

/// A choice in a grid: the cell and the point in it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GridChoice {
    pub cell: usize,
    pub point: usize,
    pub bound: Bound,
}

/// The fastest of the cells' fixed-sequence choices, each cell tested at `0.05 / m`
/// (m = the number of cells). Ties in the objective go to the lower bound, then to the
/// earlier cell. Points without an objective are never chosen.
pub fn choose_in_grid(cells: &[Vec<Measured>], target_per_s: f64) -> Option<GridChoice> {
    let alpha = cell_alpha(cells.len());
    let mut best: Option<(GridChoice, f64)> = None;
    for (c, points) in cells.iter().enumerate() {
        let Some((p, _)) = choose_along_knob(points, alpha, target_per_s) else { continue };
        // The cautious end passes; walk back up to the first value that has an objective
        // (a point without detection data cannot be recommended).
        let Some((p, b)) = (p..points.len())
            .find(|&i| points[i].objective_s.is_some())
            .and_then(|i| bound(&points[i], alpha).map(|b| (i, b)))
        else {
            continue;
        };
        let objective = points[p].objective_s.unwrap_or(f64::INFINITY);
        let better = match &best {
            None => true,
            Some((g, o)) => objective < *o || (objective == *o && b.upper_per_s < g.bound.upper_per_s),
        };
        if better {
            best = Some((GridChoice { cell: c, point: p, bound: b }, objective));
        }
    }
    best.map(|(g, _)| g)
}

/// The error probability each of `cells` cells is tested at: 5 %/m.
pub fn cell_alpha(cells: usize) -> f64 {
    0.05 / cells.max(1) as f64
}

/// Mistakes per slice: `starts` (seconds from 0) of the mistakes, over `[from, to)` cut in
/// `n` equal slices (a start at `to` counts in the last).
pub fn batch_counts(starts: impl IntoIterator<Item = f64>, from: f64, to: f64, n: usize) -> Vec<u64> {
    let mut counts = vec![0u64; n];
    let width = (to - from) / n as f64;
    for s in starts {
        let i = if width > 0.0 { ((s - from) / width).floor() } else { 0.0 };
        counts[(i.max(0.0) as usize).min(n - 1)] += 1;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(mistakes: u64, exposure_s: f64, objective_s: f64) -> Measured {
        Measured {
            label: format!("{mistakes}@{objective_s}"),
            mistakes,
            exposure_s,
            objective_s: Some(objective_s),
            batches: None,
        }
    }

    #[test]
    fn the_t_quantile_and_the_dispersion_point() {
        assert!((t_quantile(0.05, 19.0) - 1.729_132_811_521_367).abs() < 1e-9);
        assert!((t_quantile(0.025, 19.0) - 2.093_024_054_408_263).abs() < 1e-9);
        // χ²₀.₉₅(19) = 30.1435 (tables); statrs agrees to its stated accuracy.
        use statrs::distribution::ContinuousCDF;
        let chi2 = statrs::distribution::ChiSquared::new(19.0).unwrap().inverse_cdf(0.95);
        assert!((chi2 - DISPERSION_95).abs() < 1e-3 * DISPERSION_95, "{chi2}");
        assert_eq!(dispersion_index(&[0; 20]), None);
        assert_eq!(dispersion_index(&[1; 20]), Some(0.0));
        // Two mistakes in one slice: Σ = 1.9² + 19 × 0.1² = 3.8 over a mean of 0.1.
        let mut two = vec![0u64; 20];
        two[3] = 2;
        assert!((dispersion_index(&two).unwrap() - 38.0).abs() < 1e-12);
        // Two slices are enough; one is not.
        assert_eq!(dispersion_index(&[1, 3]), Some(1.0));
        assert_eq!(dispersion_index(&[5]), None);
    }

    #[test]
    fn the_batch_means_bound_by_hand() {
        // Four mistakes in the first of 20 slices: mean 0.2, s² = (3.8² + 19 × 0.2²)/19 = 0.8,
        // s/√20 = 0.2.
        let mut batches = vec![0u64; 20];
        batches[0] = 4;
        let expected = 0.2 + t_quantile(0.05, 19.0) * 0.2;
        assert!((batch_means_upper(&batches, 0.05) - expected).abs() < 1e-12, "{}", batch_means_upper(&batches, 0.05));
        assert!(batch_means_upper(&batches, 0.01) > batch_means_upper(&batches, 0.05));
        assert_eq!(batch_means_upper(&[3; 20], 0.05), 3.0, "no spread: the mean");
    }

    #[test]
    fn poisson_bounds_unless_mistakes_cluster() {
        let day = 86_400.0;
        let mut m = point(0, 10.0 * day, 1.0);
        let b = bound(&m, 0.05).unwrap();
        assert_eq!(b.method, BoundMethod::Poisson);
        assert!((b.upper_per_s * 10.0 * day - 0.05f64.ln().abs()).abs() < 1e-12);
        // Evenly spread: Poisson.
        m.mistakes = 20;
        m.batches = Some(vec![1; 20]);
        let even = bound(&m, 0.05).unwrap();
        assert_eq!((even.method, even.dispersion), (BoundMethod::Poisson, Some(0.0)));
        // All in one slice: batch means, and larger than the Poisson bound.
        let mut clustered = vec![0; 20];
        clustered[7] = 20;
        m.batches = Some(clustered.clone());
        let b = bound(&m, 0.05).unwrap();
        assert_eq!(b.method, BoundMethod::BatchMeans);
        let per_batch = 1.0 + t_quantile(0.05, 19.0) * (20.0f64 / 20.0).sqrt();
        assert!((b.upper_per_s - per_batch * 20.0 / (10.0 * day)).abs() < 1e-15);
        assert!(b.upper_per_s > even.upper_per_s);
        assert_eq!(bound(&Measured { exposure_s: 0.0, ..m }, 0.05), None);
    }

    #[test]
    fn the_knob_is_tested_from_the_cautious_end_and_stops_at_the_first_failure() {
        let day = 86_400.0;
        let target = 1.0 / day;
        // Counts over 10 days for knob values 1..=6: bounds ≤ 1/day need ≤ 4 mistakes
        // (upper95(4) = 9.15, upper95(5) = 10.51).
        let points: Vec<Measured> =
            [30, 4, 12, 4, 2, 0].iter().enumerate().map(|(i, &k)| point(k, 10.0 * day, i as f64)).collect();
        // From the top: 0 ✓, 2 ✓, 4 ✓, 12 ✗: stops there although value 1 (4) would pass.
        assert_eq!(choose_along_knob(&points, 0.05, target).map(|c| c.0), Some(3));
        let all_fail: Vec<Measured> = [9, 8].iter().map(|&k| point(k, 10.0 * day, 1.0)).collect();
        assert_eq!(choose_along_knob(&all_fail, 0.05, target), None);
    }

    #[test]
    fn a_grid_takes_the_fastest_cell_at_bonferroni_alpha() {
        let day = 86_400.0;
        let target = 1.0 / day;
        // 4 mistakes in 10 days: upper(4, 0.05) = 9.15 ≤ 10 passes alone; with two cells each
        // is tested at 2.5 %, where upper(4, 0.025) = 10.24 > 10 fails.
        let cell = |k: u64, fast: f64| vec![point(k, 10.0 * day, fast), point(0, 10.0 * day, fast + 10.0)];
        let one = choose_in_grid(&[cell(4, 1.0)], target).unwrap();
        assert_eq!((one.cell, one.point), (0, 0));
        let two = choose_in_grid(&[cell(4, 1.0), cell(0, 5.0)], target).unwrap();
        assert_eq!((two.cell, two.point), (1, 0), "4 mistakes fail at 2.5 %: the other cell's fast point");
        let three = choose_in_grid(&[cell(4, 1.0), cell(0, 5.0), cell(0, 3.0)], target).unwrap();
        assert_eq!((three.cell, three.point), (2, 0), "the fastest passing cell");
        // Ties in the objective go to the lower bound.
        let tie = choose_in_grid(&[cell(1, 2.0), cell(0, 2.0)], target).unwrap();
        assert_eq!(tie.cell, 1);
        // Faster wins even with more mistakes: the bound only breaks ties.
        assert_eq!(choose_in_grid(&[cell(2, 1.0), cell(0, 2.0)], target).unwrap().cell, 0);
        // A full tie goes to the earlier cell.
        assert_eq!(choose_in_grid(&[cell(0, 2.0), cell(0, 2.0)], target).unwrap().cell, 0);
        // A passing value without a detection time is passed over for the next one up.
        let mut blind = cell(0, 1.0);
        blind[0].objective_s = None;
        let g = choose_in_grid(&[blind], target).unwrap();
        assert_eq!((g.cell, g.point), (0, 1));
        assert_eq!(choose_in_grid(&[vec![point(50, 10.0 * day, 1.0)]], target), None);
        assert!((cell_alpha(4) - 0.0125).abs() < 1e-18);
    }

    #[test]
    fn slices_of_the_run() {
        let counts = batch_counts([0.0, 0.5, 9.99, 10.0, 100.0, 199.0, 200.0], 0.0, 200.0, 20);
        assert_eq!(counts[0], 3);
        assert_eq!(counts[1], 1);
        assert_eq!(counts[10], 1);
        assert_eq!(counts[19], 2);
        assert_eq!(counts.iter().sum::<u64>(), 7);
        // A run that does not start at 0; and one of no length, where every start is in the first.
        assert_eq!(batch_counts([10.0, 15.0, 19.9], 10.0, 20.0, 2), [1, 2]);
        assert_eq!(batch_counts([5.0, 6.0], 5.0, 5.0, 3), [2, 0, 0]);
    }
}
