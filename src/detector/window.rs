//! A bounded FIFO of inter-arrival intervals with exact integer running sums.
//!
//! Shared by the windowed detectors (φ, φ-exp). Akka keeps its sums as exact `Long`s;
//! fdlab keeps them as `u128` over whole nanoseconds and converts to `f64` once, in
//! [`Window::mean`] and [`Window::variance`]. The variance is computed as
//! (n·Σx² − (Σx)²)/n², which is exact in integers; the float form Σx²/n − mean² can go
//! negative for identical samples (REFERENCES.md §2, §3).
//!
//! Bounds that make the integer arithmetic exact: an interval is clamped to
//! [`MAX_INTERVAL`] (2^48 ns, about 78 hours) and a window holds at most [`MAX_CAPACITY`]
//! intervals, so n·Σx² − (Σx)² < 2^126 and every sum fits in `u128`.

/// The longest interval recorded as itself (2^48 ns ≈ 78 h); longer ones are recorded as
/// this. No realistic heartbeat detector is sensitive to the difference.
pub const MAX_INTERVAL: u64 = 1 << 48;
/// The largest window size accepted.
pub const MAX_CAPACITY: usize = 1 << 16;

#[derive(Clone, Debug)]
pub struct Window {
    /// A ring: filled in order up to `capacity`, then overwritten oldest first.
    samples: Vec<u64>,
    /// Index of the oldest sample once the ring is full.
    head: usize,
    capacity: usize,
    sum: u128,
    sum_sq: u128,
}

impl Window {
    /// A window of at most `capacity` intervals (clamped to 1..=[`MAX_CAPACITY`]).
    pub fn new(capacity: usize) -> Window {
        let capacity = capacity.clamp(1, MAX_CAPACITY);
        Window { samples: Vec::with_capacity(capacity), head: 0, capacity, sum: 0, sum_sq: 0 }
    }

    /// Appends an interval in nanoseconds, evicting the oldest when full.
    pub fn push(&mut self, interval_ns: u64) {
        let x = interval_ns.min(MAX_INTERVAL);
        if self.samples.len() < self.capacity {
            self.samples.push(x);
        } else {
            let old = std::mem::replace(&mut self.samples[self.head], x);
            self.head += 1;
            if self.head == self.capacity {
                self.head = 0;
            }
            self.sum -= old as u128;
            self.sum_sq -= (old as u128) * (old as u128);
        }
        self.sum += x as u128;
        self.sum_sq += (x as u128) * (x as u128);
    }

    pub fn len(&self) -> usize {
        self.samples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Σx in nanoseconds, exact.
    pub fn sum(&self) -> u128 {
        self.sum
    }

    /// The mean interval in nanoseconds; 0 for an empty window.
    pub fn mean(&self) -> f64 {
        if self.samples.is_empty() {
            return 0.0;
        }
        u128_to_f64(self.sum) / small_to_f64(self.samples.len() as u64)
    }

    /// The population variance in ns², computed exactly in integers and converted once;
    /// never negative, 0 for fewer than two samples.
    pub fn variance(&self) -> f64 {
        let (numerator, n_squared) = self.variance_parts();
        numerator / n_squared
    }

    /// The variance as n·Σx² − (Σx)² (exact in integers, converted once) over n² (exact):
    /// callers that only compare the variance with a bound can often avoid the division.
    /// (0, 1) for fewer than two samples.
    pub fn variance_parts(&self) -> (f64, f64) {
        let n = self.samples.len() as u128;
        if n < 2 {
            return (0.0, 1.0);
        }
        // The true numerator is ≥ 0 (Cauchy–Schwarz) and at most n²·MAX_INTERVAL²/4 < 2^126,
        // but n·Σx² alone can reach 2^128. Wrapping arithmetic is exact modulo 2^128, so it
        // gives the true value whenever that value fits, which it does.
        let numerator = n.wrapping_mul(self.sum_sq).wrapping_sub(self.sum.wrapping_mul(self.sum));
        // n ≤ 2^16, so n² fits in u64 and converts in one step, exactly.
        (u128_to_f64(numerator), small_to_f64(n as u64 * n as u64))
    }

    pub fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        let (newer, older) = self.samples.split_at(self.head);
        older.iter().chain(newer).copied()
    }
}

/// `x as f64` for a count or a product of counts (below 2^63), in one instruction.
fn small_to_f64(x: u64) -> f64 {
    debug_assert!(x < 1 << 63);
    x as i64 as f64
}

/// `x as f64`, fast: the compiler's u128 conversion is a slow library call, and these sums
/// nearly always fit in 64 bits. Exact (correctly rounded) below 2^64; above, within one
/// unit in the last place.
fn u128_to_f64(x: u128) -> f64 {
    match i64::try_from(x) {
        // Below 2^63 through i64: one instruction on x86-64, where u64 → f64 takes a
        // sequence of five (and these conversions head φ's per-heartbeat dependency chain).
        Ok(small) => small as f64,
        // hi·2^64 is exact (a power-of-two scaling), so this rounds once, like an FMA
        // would, without the library call an FMA costs on baseline x86-64.
        Err(_) => ((x >> 64) as u64 as f64) * 18_446_744_073_709_551_616.0 + (x as u64 as f64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_keeps_at_most_its_capacity() {
        let mut w = Window::new(3);
        assert!(w.is_empty() && w.capacity() == 3);
        for v in 1..=5 {
            w.push(v);
        }
        assert_eq!((w.len(), w.is_empty(), w.capacity()), (3, false, 3));
        assert_eq!(w.mean(), 4.0, "the last three: 3, 4, 5");
    }

    #[test]
    fn identical_large_samples_have_zero_variance() {
        // 200 ms in ns: the float form sum_sq/n - mean² is not reliably 0 here.
        let mut w = Window::new(1000);
        for _ in 0..1000 {
            w.push(200_000_000);
        }
        assert_eq!(w.variance(), 0.0);
        assert_eq!(w.mean(), 200_000_000.0);
    }

    #[test]
    fn evicts_oldest_and_keeps_exact_sums() {
        let mut w = Window::new(3);
        for x in [1, 2, 3, 4, 5] {
            w.push(x);
        }
        assert_eq!(w.iter().collect::<Vec<_>>(), vec![3, 4, 5]);
        assert_eq!(w.sum(), 12);
        assert_eq!(w.mean(), 4.0);
        assert!((w.variance() - 2.0 / 3.0).abs() < 1e-15);
    }

    #[test]
    fn ring_matches_a_plain_fifo_through_many_wraps() {
        let mut x = 12345u64;
        for capacity in [1, 2, 3, 7, 64] {
            let mut w = Window::new(capacity);
            let mut fifo = std::collections::VecDeque::new();
            for _ in 0..500 {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let v = (x >> 20) % 1_000_000_000;
                w.push(v);
                fifo.push_back(v);
                if fifo.len() > capacity {
                    fifo.pop_front();
                }
                assert_eq!(w.iter().collect::<Vec<_>>(), fifo.iter().copied().collect::<Vec<_>>());
                assert_eq!(w.sum(), fifo.iter().map(|&v| v as u128).sum::<u128>());
                assert_eq!(w.len(), fifo.len());
            }
        }
    }

    #[test]
    fn fast_conversion_is_within_an_ulp() {
        for x in [0u128, 1, u64::MAX as u128, (u64::MAX as u128) + 1, 3 << 100, u128::MAX / 7, (1 << 126) - 1] {
            let (fast, exact) = (u128_to_f64(x), x as f64);
            assert!((fast - exact).abs() <= exact * f64::EPSILON, "{x}: {fast} vs {exact}");
        }
    }

    #[test]
    fn extreme_intervals_do_not_overflow() {
        let mut w = Window::new(MAX_CAPACITY);
        for i in 0..MAX_CAPACITY as u64 {
            w.push(if i % 2 == 0 { u64::MAX } else { 0 });
        }
        let half = MAX_INTERVAL as f64 / 2.0;
        assert!((w.mean() - half).abs() / half < 1e-12);
        assert!((w.variance() - half * half).abs() / (half * half) < 1e-12);
        for _ in 0..MAX_CAPACITY {
            w.push(u64::MAX);
        }
        assert_eq!(w.variance(), 0.0);
        assert_eq!(w.mean(), MAX_INTERVAL as f64);
        let mut w = Window::new(MAX_CAPACITY);
        for i in 0..MAX_CAPACITY as u64 {
            w.push(if i % 2 == 0 { u64::MAX } else { 0 });
        }
        assert!((w.mean() - half).abs() / half < 1e-12);
        assert!((w.variance() - half * half).abs() / (half * half) < 1e-12);
    }
}
