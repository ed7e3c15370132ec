//! Statistics for reports: confidence intervals and distribution summaries. The Poisson
//! intervals live in [`super::poisson`] and are re-exported here.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

pub use super::poisson::{poisson_count_ci95, poisson_count_upper95, poisson_rate_ci95, poisson_rate_upper95};

/// Values counted in HdrHistogram's own bucket layout for 3 significant digits and a 1 ns
/// unit, in a plain array, and handed to a [`Histogram`] when read.
///
/// Why not `Histogram::record`: recording sits on the simulator's per-heartbeat path (the
/// one-way delay, the inter-arrival time and each detector's per-heartbeat detection
/// estimate), where `record`, an out-of-line call that also updates min, max and the total
/// on every value, took a fifth of a run (measured: a simulated month through one φ ran 25 %
/// faster without the three records). This computes the same bucket index inline with the
/// layout's constants folded in and does nothing else; hdrhistogram still does everything
/// a histogram is for (quantiles, mean, merging, the `.hgrm` output). [`to_histogram`]
/// records each bucket's count at the bucket's highest value, which gives a histogram equal
/// to one recorded value by value (same counts, min and max; the layout is tested bucket by
/// bucket against hdrhistogram's own `lowest_equivalent` and `highest_equivalent`), for any
/// value below the top bucket (2^64 − 2^53 ns, 584 years).
///
/// The layout (HdrHistogram's, for 3 digits): values below 2048 have a bucket each; above,
/// each power-of-two range [2^k, 2^(k+1)) is split into 1024 equal buckets. Only the span of
/// buckets that values fell in is kept (whole power-of-two ranges of 1024 buckets, 8 KB
/// each): a link's per-heartbeat estimates, all near one value, take a range or two rather
/// than every bucket from 0 up (160 KB at 300 ms), which matters with thousands of links
/// and configurations. Until a distribution has more than [`SPARSE_MAX`] distinct buckets or
/// [`DENSE_AFTER`] values, only its non-empty buckets are kept, in a sorted list: a link's
/// few mistakes, with recurrence times from seconds to a day, would otherwise hold 20 ranges
/// (160 KB) each, 1.6 GB over 9,900 links. What is read out does not depend on the form.
///
/// [`to_histogram`]: HdrCounts::to_histogram
#[derive(Clone, Debug, Default)]
pub struct HdrCounts {
    /// The counts of buckets `first..first + counts.len()`; empty while the counts are
    /// `sparse`.
    counts: Vec<u64>,
    first: usize,
    /// While `counts` is empty: (bucket, count) of the non-empty buckets, buckets rising.
    sparse: Vec<(u32, u64)>,
    /// Values recorded in `sparse` form (saturating).
    sparse_values: u32,
}

/// Distinct buckets kept as a list (8 KB) before the counts become an array. A link's
/// mistakes over a day, with recurrence times from a second to hours, take a hundred or so
/// buckets spread over 17 ranges: 136 KB as an array.
pub const SPARSE_MAX: usize = 512;
/// Values recorded in the list form before the counts become an array (so that a stream of
/// values near one another, such as per-heartbeat estimates, is soon counted inline).
pub const DENSE_AFTER: u32 = 1024;

/// log2 of half the sub-bucket count: 2 · 10^3 needs 2048 = 2^11 sub-buckets.
const HALF_MAGNITUDE: u32 = 10;
/// Buckets grow in whole power-of-two ranges of values (1024 buckets each).
const RANGE: usize = 1 << HALF_MAGNITUDE;
/// Values below 2048 sit in bucket 0 at their own index.
const SUB_BUCKET_MASK: u64 = (1 << (HALF_MAGNITUDE + 1)) - 1;
/// 64 − 11: the leading zeros of the mask.
const LEADING_ZERO_BASE: u32 = 64 - (HALF_MAGNITUDE + 1);

impl HdrCounts {
    /// The bucket of `value`: `(b << 10) + (value >> b)`, where b is how many doublings the
    /// value lies above [0, 2048) (hdrhistogram's `index_for`, simplified for a unit of 1).
    #[inline(always)]
    fn index(value: u64) -> usize {
        let b = LEADING_ZERO_BASE - (value | SUB_BUCKET_MASK).leading_zeros();
        ((b << HALF_MAGNITUDE) as usize) + (value >> b) as usize
    }

    /// The highest value in bucket `index`.
    fn highest_value(index: usize) -> u64 {
        let (lowest, width) = HdrCounts::bucket(index);
        lowest + (width - 1)
    }

    /// The lowest value in bucket `index` and how many values the bucket holds.
    fn bucket(index: usize) -> (u64, u64) {
        if index <= SUB_BUCKET_MASK as usize {
            return (index as u64, 1);
        }
        let b = (index >> HALF_MAGNITUDE) as u32 - 1;
        let lowest = ((index - ((b as usize) << HALF_MAGNITUDE)) as u64) << b;
        (lowest, 1 << b)
    }

    #[inline(always)]
    pub fn record(&mut self, value: u64) {
        let index = HdrCounts::index(value);
        // Below `first`, the subtraction wraps to far beyond the end.
        match self.counts.get_mut(index.wrapping_sub(self.first)) {
            Some(count) => *count += 1,
            None => self.record_outside(index),
        }
    }

    /// Records a value outside the array: in the list while the counts are sparse, or
    /// after growing the array.
    #[cold]
    #[inline(never)]
    fn record_outside(&mut self, index: usize) {
        if !self.counts.is_empty() {
            self.cover(index, index + 1);
            self.counts[index - self.first] += 1;
            return;
        }
        // Cannot truncate: bucket indices end below 2^16.
        let key = index as u32;
        match self.sparse.binary_search_by_key(&key, |e| e.0) {
            Ok(i) => self.sparse[i].1 += 1,
            Err(i) => self.sparse.insert(i, (key, 1)),
        }
        self.sparse_values = self.sparse_values.saturating_add(1);
        if self.sparse.len() > SPARSE_MAX || self.sparse_values >= DENSE_AFTER {
            self.densify();
        }
    }

    /// Turns the list into the array (a no-op for counts already in an array, or empty).
    fn densify(&mut self) {
        let (Some(lo), Some(hi)) = (self.sparse.first(), self.sparse.last()) else { return };
        self.cover(lo.0 as usize, hi.0 as usize + 1);
        for (i, c) in std::mem::take(&mut self.sparse) {
            self.counts[i as usize - self.first] += c;
        }
        self.sparse_values = 0;
    }

    /// The non-empty buckets, rising: (bucket, count).
    fn buckets(&self) -> impl Iterator<Item = (usize, u64)> + '_ {
        let first = self.first;
        let dense = self.counts.iter().enumerate().filter(|(_, c)| **c > 0).map(move |(i, c)| (first + i, *c));
        dense.chain(self.sparse.iter().map(|&(i, c)| (i as usize, c)))
    }

    /// The span of whole ranges the counts cover: the array's, or the one the list's
    /// buckets would take as an array (`(0, 0)` when empty).
    fn span(&self) -> (usize, usize) {
        match (self.sparse.first(), self.sparse.last()) {
            (Some(lo), Some(hi)) => {
                let first = lo.0 as usize & !(RANGE - 1);
                (first, (hi.0 as usize | (RANGE - 1)) + 1 - first)
            }
            _ => (self.first, self.counts.len()),
        }
    }

    /// Extends the kept span to include buckets `start..end`, in whole ranges. (It may keep
    /// more than needed: a wider span only costs memory, so mutants that widen it or skip
    /// the early return are equivalent.)
    fn cover(&mut self, start: usize, end: usize) {
        let (start, end) = (start & !(RANGE - 1), (end - 1) | (RANGE - 1));
        let (first, last) = if self.counts.is_empty() {
            (start, end)
        } else {
            (self.first.min(start), (self.first + self.counts.len() - 1).max(end))
        };
        if (first, last + 1 - first) == (self.first, self.counts.len()) {
            return;
        }
        let mut counts = vec![0; last + 1 - first];
        counts[self.first.saturating_sub(first)..][..self.counts.len()].copy_from_slice(&self.counts);
        (self.counts, self.first) = (counts, first);
    }

    /// Adds `other`'s counts.
    pub fn add(&mut self, other: &HdrCounts) {
        if other.counts.is_empty() && other.sparse.is_empty() {
            return;
        }
        if self.counts.is_empty() && other.counts.is_empty() {
            // Both lists (or empty): the merged list.
            let mut merged = Vec::with_capacity(self.sparse.len() + other.sparse.len());
            let (mut a, mut b) = (self.sparse.iter().peekable(), other.sparse.iter().peekable());
            loop {
                let next = match (a.peek(), b.peek()) {
                    (Some(x), Some(y)) if x.0 == y.0 => (x.0, x.1 + y.1),
                    (Some(x), Some(y)) if x.0 < y.0 => **x,
                    (Some(x), None) => **x,
                    (_, Some(y)) => **y,
                    (None, None) => break,
                };
                if a.peek().is_some_and(|x| x.0 == next.0) {
                    a.next();
                }
                if b.peek().is_some_and(|y| y.0 == next.0) {
                    b.next();
                }
                merged.push(next);
            }
            self.sparse = merged;
            self.sparse_values = self.sparse_values.saturating_add(other.sparse_values);
            if self.sparse.len() > SPARSE_MAX || self.sparse_values >= DENSE_AFTER {
                self.densify();
            }
            return;
        }
        self.densify();
        let (start, len) = other.span();
        self.cover(start, start + len);
        if other.counts.is_empty() {
            for &(i, c) in &other.sparse {
                self.counts[i as usize - self.first] += c;
            }
        } else {
            let offset = other.first - self.first;
            self.counts[offset..][..other.counts.len()].iter_mut().zip(&other.counts).for_each(|(a, b)| *a += b);
        }
    }

    /// The counts as an HdrHistogram (3 significant digits, auto-resizing).
    pub fn to_histogram(&self) -> Histogram<u64> {
        // Cannot fail: 3 significant digits is in hdrhistogram's accepted range.
        let mut h = Histogram::new(3).expect("3 significant digits");
        for (i, count) in self.buckets() {
            // Cannot fail: the histogram auto-resizes to any u64.
            h.record_n(HdrCounts::highest_value(i), count).expect("auto-resizing histogram");
        }
        h
    }

    /// What `to_histogram().value_at_quantile(q)` answers, without building the histogram:
    /// the highest value of the bucket in which the count reaches ⌈q · total⌉ (at least 1),
    /// or the lowest value of the first bucket for q = 0; 0 when empty.
    pub fn value_at_quantile(&self, q: f64) -> u64 {
        let q = q.min(1.0);
        let target = ((q * self.total() as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, count) in self.buckets() {
            seen += count;
            if seen >= target {
                let (lowest, width) = HdrCounts::bucket(i);
                return if q == 0.0 { lowest } else { lowest + (width - 1) };
            }
        }
        0
    }
}

/// A distribution of durations, kept exactly where cheap (count, sum, min, max) and in
/// HdrHistogram buckets (3 significant digits) for percentiles.
#[derive(Clone, Debug)]
pub struct DurationStats {
    counts: HdrCounts,
    count: u64,
    sum_ns: u128,
    min_ns: u64,
    max_ns: u64,
}

impl Default for DurationStats {
    fn default() -> DurationStats {
        DurationStats { counts: HdrCounts::default(), count: 0, sum_ns: 0, min_ns: u64::MAX, max_ns: 0 }
    }
}

impl DurationStats {
    #[inline]
    pub fn record(&mut self, ns: u64) {
        self.counts.record(ns);
        self.count += 1;
        self.sum_ns += ns as u128;
        self.min_ns = self.min_ns.min(ns);
        self.max_ns = self.max_ns.max(ns);
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    /// Adds another distribution's values (exactly: counts, sums and extremes are integers).
    pub fn add(&mut self, other: &DurationStats) {
        self.counts.add(&other.counts);
        self.count += other.count;
        self.sum_ns += other.sum_ns;
        self.min_ns = self.min_ns.min(other.min_ns);
        self.max_ns = self.max_ns.max(other.max_ns);
    }

    /// The values as an HdrHistogram (for percentile files).
    pub fn to_histogram(&self) -> Histogram<u64> {
        self.counts.to_histogram()
    }

    /// The values' bucket counts.
    pub fn counts(&self) -> &HdrCounts {
        &self.counts
    }

    /// Mean in seconds, exact up to the final division.
    pub fn mean_s(&self) -> Option<f64> {
        (self.count() > 0).then(|| self.sum_ns as f64 / self.count() as f64 / 1e9)
    }

    pub fn summary(&self) -> Summary {
        // HdrHistogram answers with the top of a bucket; clamp to the exact extremes.
        let q = |p: f64| {
            (self.count() > 0).then(|| self.counts.value_at_quantile(p).clamp(self.min_ns, self.max_ns) as f64 / 1e9)
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

/// [`HdrCounts`] as a shard stores it (`fdlab run --shard`): the kept span and its non-zero
/// buckets, so that what is read back is the same counts, bucket by bucket.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HdrCountsState {
    pub first: usize,
    pub len: usize,
    /// (bucket offset from `first`, count), offsets rising, counts above 0.
    pub nonzero: Vec<(usize, u64)>,
}

/// The highest bucket index + 1 of the layout (values up to 2^64 − 1).
const BUCKETS: usize = ((64 - HALF_MAGNITUDE as usize) << HALF_MAGNITUDE) + 2 * RANGE;

impl HdrCounts {
    /// The state, the same whether the counts are a list or an array.
    pub fn to_state(&self) -> HdrCountsState {
        let (first, len) = self.span();
        HdrCountsState { first, len, nonzero: self.buckets().map(|(i, c)| (i - first, c)).collect() }
    }

    /// The counts a state describes, or what is wrong with it.
    pub fn from_state(s: &HdrCountsState) -> Result<HdrCounts, String> {
        if !s.first.is_multiple_of(RANGE) || !s.len.is_multiple_of(RANGE) || s.first.saturating_add(s.len) > BUCKETS {
            return Err(format!(
                "histogram span {}+{} is not whole ranges of {RANGE} buckets in the layout",
                s.first, s.len
            ));
        }
        let mut last = None;
        for &(i, c) in &s.nonzero {
            if i >= s.len || last.is_some_and(|l| l >= i) || c == 0 {
                return Err(format!("histogram bucket {i} (count {c}) is out of order, outside the span or empty"));
            }
            last = Some(i);
        }
        // Read back as a list, then as an array when it is large: the span must be the one
        // its buckets take (as `to_state` writes it).
        let mut counts = HdrCounts {
            sparse: s.nonzero.iter().map(|&(i, c)| ((s.first + i) as u32, c)).collect(),
            ..HdrCounts::default()
        };
        if counts.span() != (s.first, s.len) && !(s.nonzero.is_empty() && s.len == 0) {
            return Err(format!(
                "histogram span {}+{} is not the span of its buckets {:?}",
                s.first,
                s.len,
                counts.span()
            ));
        }
        if counts.sparse.len() > SPARSE_MAX {
            counts.densify();
        }
        Ok(counts)
    }

    /// The number of values counted.
    pub fn total(&self) -> u64 {
        self.buckets().map(|(_, c)| c).sum()
    }
}

/// [`DurationStats`] as a shard stores it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DurationStatsState {
    pub counts: HdrCountsState,
    pub count: u64,
    /// As a decimal string: JSON readers other than fdlab's lose integers above 2^53.
    pub sum_ns: String,
    pub min_ns: u64,
    pub max_ns: u64,
}

impl DurationStats {
    pub fn to_state(&self) -> DurationStatsState {
        DurationStatsState {
            counts: self.counts.to_state(),
            count: self.count,
            sum_ns: self.sum_ns.to_string(),
            min_ns: self.min_ns,
            max_ns: self.max_ns,
        }
    }

    /// The distribution a state describes, or what is wrong with it.
    pub fn from_state(s: &DurationStatsState) -> Result<DurationStats, String> {
        let counts = HdrCounts::from_state(&s.counts)?;
        if counts.total() != s.count {
            return Err(format!("{} values counted in buckets, but count is {}", counts.total(), s.count));
        }
        let sum_ns: u128 = s.sum_ns.parse().map_err(|_| format!("sum_ns `{}` is not an integer", s.sum_ns))?;
        if s.count > 0 && s.min_ns > s.max_ns {
            return Err(format!("min_ns {} is above max_ns {}", s.min_ns, s.max_ns));
        }
        Ok(DurationStats { counts, count: s.count, sum_ns, min_ns: s.min_ns, max_ns: s.max_ns })
    }
}

/// A distribution summary in seconds; `null`s when empty.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Summary {
    pub count: u64,
    pub mean: Option<f64>,
    pub p50: Option<f64>,
    pub p99: Option<f64>,
    pub max: Option<f64>,
}

#[cfg(test)]
mod tests {

    #[test]
    fn states_read_back_to_the_same_counts_and_bad_ones_are_refused() {
        let mut d = DurationStats::default();
        for v in [0, 1, 2047, 2048, 123_456_789, 3_000_000_000, u64::MAX / 3] {
            d.record(v);
            d.record(v);
        }
        let state = d.to_state();
        let back = DurationStats::from_state(&state).unwrap();
        assert_eq!(back.to_state(), state);
        assert_eq!(back.summary(), d.summary());
        assert_eq!(back.to_histogram(), d.to_histogram());
        let text = serde_json::to_string(&state).unwrap();
        assert_eq!(serde_json::from_str::<DurationStatsState>(&text).unwrap(), state);
        let empty = DurationStats::default().to_state();
        assert_eq!(DurationStats::from_state(&empty).unwrap().summary(), DurationStats::default().summary());

        let mut bad = state.clone();
        bad.count += 1;
        assert!(DurationStats::from_state(&bad).unwrap_err().contains("count"));
        let mut bad = state.clone();
        bad.sum_ns = "x".into();
        assert!(DurationStats::from_state(&bad).is_err());
        for (first, len, nonzero) in
            [(1, RANGE, vec![]), (0, RANGE + 1, vec![]), (BUCKETS, RANGE, vec![]), (0, RANGE, vec![(RANGE, 1)])]
        {
            assert!(HdrCounts::from_state(&HdrCountsState { first, len, nonzero }).is_err());
        }
        for nonzero in [vec![(3, 1), (2, 1)], vec![(2, 0)], vec![(2, 1), (2, 1)]] {
            assert!(HdrCounts::from_state(&HdrCountsState { first: 0, len: RANGE, nonzero }).is_err());
        }
    }
    use super::*;

    #[test]
    fn duration_stats_add_exactly_and_an_empty_one_summarizes_to_nulls() {
        let empty = DurationStats::default().summary();
        assert_eq!((empty.count, empty.mean, empty.p50, empty.max), (0, None, None, None));
        let (mut a, mut b) = (DurationStats::default(), DurationStats::default());
        [3u64, 5].iter().for_each(|&v| a.record(v));
        [7u64, 1, 9].iter().for_each(|&v| b.record(v));
        a.add(&b);
        let s = a.summary();
        assert_eq!((s.count, s.max), (5, Some(9e-9)));
        assert_eq!(a.mean_s(), Some(25.0 / 5.0 / 1e9));
        assert_eq!(a.to_histogram().len(), 5);
        assert_eq!((a.to_histogram().min(), s.p50), (1, Some(5e-9)));
    }

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
    fn counts_use_hdrhistograms_own_buckets() {
        // Every bucket, checked against hdrhistogram's own equivalence ranges: its lowest
        // value is the crate's lowest equivalent, the crate's highest equivalent still maps
        // to it, and the next value opens the next bucket. Together: the same partition of
        // the u64 range, bucket for bucket, in the same order.
        let h = Histogram::<u64>::new(3).unwrap();
        let last = HdrCounts::index(u64::MAX);
        assert_eq!(last, 53 * 1024 + 2047);
        let mut next_low = 0;
        for i in 0..=last {
            let high = HdrCounts::highest_value(i);
            assert_eq!(h.lowest_equivalent(high), next_low, "bucket {i}");
            assert_eq!(HdrCounts::index(next_low), i, "bucket {i}");
            assert_eq!(HdrCounts::index(high), i, "bucket {i}");
            if i < last {
                assert_eq!(h.highest_equivalent(next_low), high, "bucket {i}");
                next_low = high + 1;
            }
        }
        // The crate caps its top bucket's highest equivalent one below u64::MAX.
        assert_eq!(HdrCounts::highest_value(last), u64::MAX);
    }

    #[test]
    fn counts_give_the_histogram_that_recording_each_value_gives() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(7);
        // Up to 2^63 + 1, beyond any duration fdlab records. (Not in the top bucket, from
        // 2^64 − 2^53: there the crate's `max()` depends on the exact value recorded, since it
        // caps that bucket's highest equivalent at u64::MAX − 1 but not u64::MAX itself.)
        let mut edges = vec![0, 1, 2, 1023, 1024, 2047, 2048, 2049, 4095, 4096];
        edges.extend((11..64).flat_map(|k| [(1u64 << k) - 1, 1 << k, (1 << k) + 1]));
        let mut parts: [_; 2] = std::array::from_fn(|_| (HdrCounts::default(), Histogram::<u64>::new(3).unwrap()));
        for (n, v) in
            edges.into_iter().chain((0..200_000).map(|_| rng.random::<u64>() >> rng.random_range(1..64))).enumerate()
        {
            let (counts, direct) = &mut parts[n % 2];
            counts.record(v);
            direct.record(v).unwrap();
        }
        for (counts, direct) in &parts {
            let h = counts.to_histogram();
            assert_eq!(
                (h.len(), h.min(), h.max(), h.min_nz()),
                (direct.len(), direct.min(), direct.max(), direct.min_nz())
            );
            assert_eq!(h.mean().to_bits(), direct.mean().to_bits());
            assert_eq!(
                crate::report::hgrm::percentile_distribution(&h),
                crate::report::hgrm::percentile_distribution(direct)
            );
            assert_eq!(h.distinct_values(), direct.distinct_values());
            assert!(h == *direct);
        }
        // Merged counts are the merged histogram.
        let [(mut a, mut ha), (b, hb)] = parts;
        a.add(&b);
        ha.add(&hb).unwrap();
        assert!(a.to_histogram() == ha);
    }

    #[test]
    fn counts_keep_only_the_span_values_fell_in_and_grow_either_way() {
        // Per-heartbeat estimates near 300 ms: one range of 1024 buckets, not 20 of them.
        let mut near = HdrCounts::default();
        for v in 300_000_000..300_002_000 {
            near.record(v);
        }
        assert_eq!(near.counts.len(), RANGE);
        assert!(near.sparse.is_empty());
        // Descending values grow the span downwards; merges of spans below, above, apart
        // and inside each other give what direct recording gives.
        let values: Vec<u64> = (0..60).rev().map(|k| (1u64 << k) + 12_345 % (1u64 << k).max(1)).collect();
        let (mut down, mut direct) = (HdrCounts::default(), Histogram::<u64>::new(3).unwrap());
        for &v in &values {
            down.record(v);
            direct.record(v).unwrap();
        }
        assert!(down.to_histogram() == direct);
        let part = |range: std::ops::Range<usize>| {
            let mut c = HdrCounts::default();
            values[range].iter().for_each(|&v| c.record(v));
            c
        };
        for (a, b) in [(0..10, 30..40), (30..40, 0..10), (0..60, 20..25), (20..25, 0..60), (5..6, 5..6)] {
            let (mut merged, mut expected) = (part(a.clone()), Histogram::<u64>::new(3).unwrap());
            merged.add(&part(b.clone()));
            for &v in values[a].iter().chain(&values[b]) {
                expected.record(v).unwrap();
            }
            assert!(merged.to_histogram() == expected);
        }
        let mut empty = HdrCounts::default();
        empty.add(&HdrCounts::default());
        assert_eq!(empty.to_histogram().len(), 0);
    }

    #[test]
    fn quantiles_are_hdrhistograms_own_without_building_it() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(11);
        let qs = [0.0, 1e-12, 0.001, 0.25, 0.5, 0.9, 0.99, 0.999, 0.999_999, 1.0, 1.5];
        // Empty, one value, a few (the list), many (the array), and a huge count in one bucket.
        for n in [0usize, 1, 2, 3, 10, 64, 65, 1000, 100_000] {
            let mut counts = HdrCounts::default();
            for _ in 0..n {
                counts.record(rng.random::<u64>() >> rng.random_range(1..64));
            }
            let h = counts.to_histogram();
            for q in qs {
                assert_eq!(counts.value_at_quantile(q), h.value_at_quantile(q), "n = {n}, q = {q}");
            }
        }
        let mut huge = HdrCounts::default();
        huge.record(5_000);
        huge.add(
            &HdrCounts::from_state(&HdrCountsState { first: 4096, len: 1024, nonzero: vec![(1023, 1 << 40)] }).unwrap(),
        );
        let h = huge.to_histogram();
        for q in qs {
            assert_eq!(huge.value_at_quantile(q), h.value_at_quantile(q), "q = {q}");
        }
        assert_eq!(huge.value_at_quantile(1e-13), HdrCounts::highest_value(HdrCounts::index(5_000)));
    }

    /// The same values counted as a list and as an array.
    fn both_forms(values: &[u64]) -> (HdrCounts, HdrCounts) {
        let mut list = HdrCounts::default();
        let mut array = HdrCounts::default();
        for (k, &v) in values.iter().enumerate() {
            list.record(v);
            array.record(v);
            if k == 0 {
                array.densify();
            }
        }
        (list, array)
    }

    #[test]
    fn a_list_becomes_an_array_past_its_limits_and_both_read_out_the_same() {
        // SPARSE_MAX distinct buckets stay a list; one more makes it an array.
        let distinct: Vec<u64> = (0..=SPARSE_MAX as u64).map(|k| 1_000_000 * (k + 1)).collect();
        let (mut list, array) = both_forms(&distinct[..SPARSE_MAX]);
        assert_eq!((list.sparse.len(), list.counts.len()), (SPARSE_MAX, 0));
        assert!(array.sparse.is_empty() && !array.counts.is_empty());
        assert_eq!(list.to_state(), array.to_state());
        assert!(list.to_histogram() == array.to_histogram());
        list.record(distinct[SPARSE_MAX]);
        assert!(list.sparse.is_empty() && !list.counts.is_empty());
        assert_eq!(list.total(), SPARSE_MAX as u64 + 1);
        // DENSE_AFTER values in one bucket: an array from the last of them.
        let mut same = HdrCounts::default();
        for k in 0..DENSE_AFTER {
            assert!(same.counts.is_empty(), "a list before value {k}");
            same.record(7);
        }
        assert!(same.sparse.is_empty() && same.counts.len() == RANGE);
        assert_eq!(same.total(), DENSE_AFTER as u64);
        // Merges in every combination of forms give what recording every value gives.
        let a: Vec<u64> = vec![3, 3_000, 3_000_000_000, 2_999, 1 << 50];
        let b: Vec<u64> = vec![3_000, 17, 1 << 40, 3];
        let mut direct = Histogram::<u64>::new(3).unwrap();
        a.iter().chain(&b).for_each(|&v| direct.record(v).unwrap());
        let (al, aa) = both_forms(&a);
        let (bl, ba) = both_forms(&b);
        let mut states = Vec::new();
        for (x, y) in [(&al, &bl), (&al, &ba), (&aa, &bl), (&aa, &ba)] {
            let mut m = x.clone();
            m.add(y);
            assert!(m.to_histogram() == direct);
            assert_eq!(m.total(), 9);
            states.push(m.to_state());
            // Adding nothing changes nothing, in either form.
            m.add(&HdrCounts::default());
            assert_eq!(m.to_state(), *states.last().unwrap());
        }
        assert!(states.windows(2).all(|w| w[0] == w[1]), "{states:?}");
        let mut empty = HdrCounts::default();
        empty.add(&al);
        assert_eq!(empty.to_state(), al.to_state());
    }

    #[test]
    fn a_state_whose_span_is_not_its_buckets_is_refused() {
        let mut c = HdrCounts::default();
        c.record(5_000);
        let good = c.to_state();
        // 5,000 lies in [4096, 8192): buckets of 4 from 2048 + 1024 = 3072 on.
        assert_eq!((good.first, good.len), (3072, 1024));
        assert_eq!(HdrCounts::from_state(&good).unwrap().to_state(), good);
        let wider = HdrCountsState { len: 2048, ..good.clone() };
        assert!(HdrCounts::from_state(&wider).unwrap_err().contains("not the span of its buckets"));
        let empty = HdrCountsState { first: 0, len: 0, nonzero: Vec::new() };
        assert_eq!(HdrCounts::from_state(&empty).unwrap().total(), 0);
        let hollow = HdrCountsState { first: 0, len: 1024, nonzero: Vec::new() };
        assert!(HdrCounts::from_state(&hollow).is_err());
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
