//! Statistics for reports: confidence intervals and distribution summaries.

use hdrhistogram::Histogram;
use serde::Serialize;
use statrs::distribution::{ChiSquared, ContinuousCDF};

/// The exact (Garwood, chi-square) two-sided 95 % interval for a Poisson rate: `count`
/// events over `exposure_s` seconds. Assumes independent events; see REFERENCES.md §1 for
/// when that does not hold. `None` without exposure.
pub fn poisson_rate_ci95(count: u64, exposure_s: f64) -> Option<[f64; 2]> {
    if exposure_s.is_nan() || exposure_s <= 0.0 {
        return None;
    }
    let k = count as f64;
    let lower = if count == 0 { 0.0 } else { chi_square_quantile(2.0 * k, 0.025) / 2.0 };
    let upper = chi_square_quantile(2.0 * k + 2.0, 0.975) / 2.0;
    Some([lower / exposure_s, upper / exposure_s])
}

/// The one-sided 95 % upper bound on a Poisson rate (what `tune` compares against a budget).
pub fn poisson_rate_upper95(count: u64, exposure_s: f64) -> Option<f64> {
    (exposure_s > 0.0).then(|| chi_square_quantile(2.0 * count as f64 + 2.0, 0.95) / 2.0 / exposure_s)
}

fn chi_square_quantile(freedom: f64, p: f64) -> f64 {
    // Cannot fail: freedom is ≥ 2 at every call site.
    ChiSquared::new(freedom).expect("positive degrees of freedom").inverse_cdf(p)
}

/// A distribution of durations, kept exactly where cheap (count, sum, max) and in an
/// HdrHistogram (3 significant digits) for percentiles.
#[derive(Clone, Debug)]
pub struct DurationStats {
    histogram: Histogram<u64>,
    sum_ns: u128,
    min_ns: u64,
    max_ns: u64,
}

impl Default for DurationStats {
    fn default() -> DurationStats {
        DurationStats {
            // Cannot fail: 3 significant digits is in hdrhistogram's accepted range.
            histogram: Histogram::new(3).expect("3 significant digits"),
            sum_ns: 0,
            min_ns: u64::MAX,
            max_ns: 0,
        }
    }
}

impl DurationStats {
    pub fn record(&mut self, ns: u64) {
        // Cannot fail: the histogram auto-resizes to any u64.
        self.histogram.record(ns).expect("auto-resizing histogram");
        self.sum_ns += ns as u128;
        self.min_ns = self.min_ns.min(ns);
        self.max_ns = self.max_ns.max(ns);
    }

    pub fn count(&self) -> u64 {
        self.histogram.len()
    }

    pub fn histogram(&self) -> &Histogram<u64> {
        &self.histogram
    }

    pub fn into_histogram(self) -> Histogram<u64> {
        self.histogram
    }

    /// Mean in seconds, exact up to the final division.
    pub fn mean_s(&self) -> Option<f64> {
        (self.count() > 0).then(|| self.sum_ns as f64 / self.count() as f64 / 1e9)
    }

    pub fn summary(&self) -> Summary {
        // HdrHistogram answers with the top of a bucket; clamp to the exact extremes.
        let q = |p: f64| {
            (self.count() > 0).then(|| self.histogram.value_at_quantile(p).clamp(self.min_ns, self.max_ns) as f64 / 1e9)
        };
        Summary {
            count: self.count(),
            mean: self.mean_s(),
            p50: q(0.5),
            p99: q(0.99),
            max: (self.count() > 0).then(|| self.max_ns as f64 / 1e9),
        }
    }
}

/// A distribution summary in seconds; `null`s when empty.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Summary {
    pub count: u64,
    pub mean: Option<f64>,
    pub p50: Option<f64>,
    pub p99: Option<f64>,
    pub max: Option<f64>,
}

impl Summary {
    /// Several summaries as one: exact count, mean and max; percentiles from the merged
    /// histogram (clamped to the exact max).
    pub fn merge<'a>(parts: impl Iterator<Item = &'a Summary>, merged: &Histogram<u64>) -> Summary {
        let parts: Vec<&Summary> = parts.filter(|s| s.count > 0).collect();
        let count: u64 = parts.iter().map(|s| s.count).sum();
        if count == 0 {
            return Summary { count: 0, mean: None, p50: None, p99: None, max: None };
        }
        let mean = parts.iter().map(|s| s.mean.unwrap_or(0.0) * s.count as f64).sum::<f64>() / count as f64;
        let max = parts.iter().filter_map(|s| s.max).fold(f64::MIN, f64::max);
        let q = |p: f64| (merged.value_at_quantile(p) as f64 / 1e9).min(max);
        Summary { count, mean: Some(mean), p50: Some(q(0.5)), p99: Some(q(0.99)), max: Some(max) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poisson_interval_matches_tables() {
        // Garwood's table: k = 0 → [0, 3.689]; k = 10 → [4.795, 18.39].
        let [lo, hi] = poisson_rate_ci95(0, 1.0).unwrap();
        assert_eq!(lo, 0.0);
        assert!((hi - 3.689).abs() < 1e-3, "{hi}");
        let [lo, hi] = poisson_rate_ci95(10, 2.0).unwrap();
        assert!((lo - 4.795 / 2.0).abs() < 1e-3, "{lo}");
        assert!((hi - 18.39 / 2.0).abs() < 1e-2, "{hi}");
        assert!((poisson_rate_upper95(0, 1.0).unwrap() - 2.996).abs() < 1e-3);
        assert_eq!(poisson_rate_ci95(3, 0.0), None);
    }

    #[test]
    fn summary_is_exact_where_it_can_be() {
        let mut d = DurationStats::default();
        for ns in [1_000_000_000, 2_000_000_000, 6_000_000_000] {
            d.record(ns);
        }
        let s = d.summary();
        assert_eq!(s.count, 3);
        assert_eq!(s.mean, Some(3.0));
        assert_eq!(s.max, Some(6.0));
        assert!((s.p50.unwrap() - 2.0).abs() < 2e-3);
        assert_eq!(DurationStats::default().summary().mean, None);
    }
}
