//! Satzger et al. (SAC 2007): empirical accrual, no distribution assumed.
//!
//! The level is the empirical CDF of the inter-arrival times at the current silence: the
//! fraction of the window's intervals that are ≤ the silence. The crossing of threshold th
//! is the j-th smallest interval after the last arrival, j the smallest integer with
//! j/n ≥ th as the level computes it (so ⌈0.07·100⌉ is 7, not floating point's 8). The
//! window therefore answers order statistics: it keeps its intervals sorted (binary search,
//! then a memmove of at most n words per heartbeat) beside a FIFO for eviction.
//!
//! Declares the kind `empirical` (`KIND`, listed in `catalog::KINDS`).

use std::collections::VecDeque;

use super::kind::{KeyInfo, KindInfo};
use super::{Arrival, Detector};
use crate::time::Nanos;

/// `empirical:threshold=X`, X a fraction in (0, 1].
pub(crate) const KIND: KindInfo = KindInfo::new(
    "empirical",
    "Satzger et al.: empirical CDF of the inter-arrival times at the current silence",
    |p| Box::new(Empirical::new(p.count("window"))),
)
.knob(KeyInfo::number("threshold", "0.99", "level in (0, 1]"))
.keys(&[KeyInfo::window("window", "1000", "intervals kept")])
.threshold_at_most(1.0, "the empirical level is a fraction: at most 1");

#[derive(Clone, Debug)]
pub struct Empirical {
    capacity: usize,
    fifo: VecDeque<u64>,
    sorted: Vec<u64>,
    last: Option<Nanos>,
}

impl Empirical {
    pub fn new(window: usize) -> Empirical {
        let capacity = window.max(1);
        Empirical {
            capacity,
            fifo: VecDeque::with_capacity(capacity),
            sorted: Vec::with_capacity(capacity),
            last: None,
        }
    }

    fn fraction(&self, count: usize) -> f64 {
        count as f64 / self.sorted.len() as f64
    }

    /// The smallest j with j/n ≥ threshold, computed with the level's own arithmetic.
    fn rank(&self, threshold: f64) -> Option<usize> {
        let n = self.sorted.len();
        // The guess, then two walks that each end at the smallest j with j/n ≥ threshold
        // whatever the guess: mutants of the guess or of the first walk's test are corrected
        // by the second walk (equivalent); the second walk runs only when the float product
        // rounds the guess below the rank, which no test reaches.
        let mut j = ((threshold * n as f64).ceil().max(1.0) as usize).min(n + 1);
        while j > 1 && self.fraction(j - 1) >= threshold {
            j -= 1;
        }
        while j <= n && self.fraction(j) < threshold {
            j += 1;
        }
        (j <= n).then_some(j)
    }
}

impl Detector for Empirical {
    fn heartbeat(&mut self, arrival: &Arrival, _threshold: f64) {
        if let Some(last) = self.last {
            let interval = arrival.at.saturating_sub(last).0;
            if self.fifo.len() == self.capacity {
                // Cannot fail: full, so not empty; and every FIFO entry is in `sorted`.
                let old = self.fifo.pop_front().expect("full window");
                let at = self.sorted.binary_search(&old).expect("evicted interval is held");
                self.sorted.remove(at);
            }
            self.fifo.push_back(interval);
            let at = self.sorted.partition_point(|&x| x <= interval);
            self.sorted.insert(at, interval);
        }
        self.last = Some(arrival.at);
    }

    fn level(&self, now: Nanos) -> f64 {
        match self.last {
            Some(last) if !self.sorted.is_empty() => {
                let silence = now.saturating_sub(last).0;
                self.fraction(self.sorted.partition_point(|&x| x <= silence))
            }
            _ => 0.0,
        }
    }

    fn suspect_at(&self, threshold: f64, now: Nanos) -> Option<Nanos> {
        let last = self.last?;
        if self.sorted.is_empty() {
            return None;
        }
        let j = self.rank(threshold)?;
        let crossing = last.checked_add(Nanos(self.sorted[j - 1]))?;
        Some(crossing.max(now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rank_is_exact_where_floating_point_ceil_is_not() {
        assert_eq!((0.07f64 * 100.0).ceil(), 8.0);
        let mut d = Empirical::new(100);
        for i in 0..=100u64 {
            d.heartbeat(&Arrival::at(Nanos(i * 1000 + i * i)), 0.07);
        }
        assert_eq!(d.rank(0.07), Some(7));
        assert_eq!(d.rank(1.0), Some(100));
    }
}
