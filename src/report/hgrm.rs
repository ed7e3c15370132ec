//! HdrHistogram percentile distribution files (`.hgrm`), the format HdrHistogram's own
//! plotting tools read (the Java `outputPercentileDistribution` layout), values in
//! milliseconds.

use std::fmt::Write;

use hdrhistogram::Histogram;

/// The percentile distribution of `h` (values in ns), printed in milliseconds with 5
/// percentile ticks per half distance.
pub fn percentile_distribution(h: &Histogram<u64>) -> String {
    const MS: f64 = 1e6;
    let mut out = String::from("       Value     Percentile TotalCount 1/(1-Percentile)\n\n");
    if h.is_empty() {
        out.push_str("#[Mean    =          NaN, StdDeviation   =          NaN]\n");
        out.push_str("#[Max     =          NaN, Total count    =            0]\n");
        return out;
    }
    let mut total = 0u64;
    for v in h.iter_quantiles(5) {
        total += v.count_since_last_iteration();
        let q = v.quantile_iterated_to();
        let value = h.highest_equivalent(v.value_iterated_to()) as f64 / MS;
        if q < 1.0 {
            let _ = writeln!(out, "{value:12.3} {q:2.12} {total:10} {:14.2}", 1.0 / (1.0 - q));
        } else {
            let _ = writeln!(out, "{value:12.3} {q:2.12} {total:10}");
        }
    }
    let _ = writeln!(out, "#[Mean    = {:12.3}, StdDeviation   = {:12.3}]", h.mean() / MS, h.stdev() / MS);
    let _ = writeln!(out, "#[Max     = {:12.3}, Total count    = {:12}]", h.max() as f64 / MS, h.len());
    let _ = writeln!(out, "#[Buckets = {:12}, SubBuckets     = {:12}]", h.buckets(), h.distinct_values());
    out
}

/// Parses the rows of a `.hgrm` back into (value ms, quantile, total count): for charts and
/// tests.
pub fn parse_rows(text: &str) -> Vec<(f64, f64, u64)> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let mut fields = l.split_whitespace();
            let value = fields.next()?.parse().ok()?;
            let quantile = fields.next()?.parse().ok()?;
            let count = fields.next()?.parse().ok()?;
            Some((value, quantile, count))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_monotone_and_end_at_the_max() {
        let mut h = Histogram::<u64>::new(3).unwrap();
        for i in 1..=1000u64 {
            h.record(i * 1_000_000).unwrap();
        }
        let text = percentile_distribution(&h);
        let rows = parse_rows(&text);
        assert!(rows.len() > 20);
        assert!(rows.windows(2).all(|w| w[0].0 <= w[1].0 && w[0].1 <= w[1].1 && w[0].2 <= w[1].2));
        let last = rows.last().unwrap();
        assert_eq!(last.1, 1.0);
        assert_eq!(last.2, 1000);
        assert!((last.0 - 1000.0).abs() < 1.0);
        assert!(text.contains("#[Max     ="));
    }
}
