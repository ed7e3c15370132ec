//! Chen's estimate of the next heartbeat's arrival (NFD-E), shared by `chen`, `bertier` and
//! `2w`.
//!
//! Over the n most recently received heartbeats, with sequence numbers s_i and arrival
//! times A_i, and ℓ the highest sequence number received so far:
//! EA_{ℓ+1} = (1/n)·Σ (A_i − s_i·η) + (ℓ+1)·η. Summing over sequence numbers (not arrival
//! positions) keeps EA on the true schedule across losses (REFERENCES.md §2).
//!
//! EA is an absolute instant, so it is kept exactly: the window holds A_i − s_i·η as `i128`
//! with an exact running sum, and EA is the rational (Σ + n·(ℓ+1)·η)/n. Only differences
//! from EA become floating point.
//!
//! fdlab's choices: while fewer than n heartbeats are held, the mean is over those held; a
//! heartbeat whose seq is not above every seq seen before is ignored (it neither enters the
//! window nor restores trust); a heartbeat with a higher incarnation than seen before
//! starts afresh (a restarted sender numbers from 0 again).

use std::collections::VecDeque;

use super::Arrival;
use super::kind::{KeyInfo, positive_duration};
use crate::time::Nanos;

/// The key every kind built on this estimate takes: η, which the simulator knows and fills
/// in (a replay must be told).
pub(crate) const INTERVAL: KeyInfo =
    KeyInfo::duration("interval", "", "the sender's heartbeat interval η (sim: filled in)").checked(positive_duration);

#[derive(Clone, Debug)]
pub struct ExpectedArrival {
    interval: i128,
    capacity: usize,
    offsets: VecDeque<i128>,
    sum: i128,
    highest_seq: Option<u64>,
    incarnation: u64,
}

impl ExpectedArrival {
    /// `interval` is the sender's heartbeat interval η; `capacity` the window size n.
    pub fn new(interval: Nanos, capacity: usize) -> ExpectedArrival {
        let capacity = capacity.max(1);
        ExpectedArrival {
            interval: interval.0 as i128,
            capacity,
            offsets: VecDeque::with_capacity(capacity.min(1 << 16)),
            sum: 0,
            highest_seq: None,
            incarnation: 0,
        }
    }

    /// Records a heartbeat; returns `false` if it was ignored (no seq, stale seq, older
    /// incarnation).
    pub fn record(&mut self, arrival: &Arrival) -> bool {
        let Some(seq) = arrival.seq else { return false };
        let incarnation = arrival.incarnation.unwrap_or(0);
        if incarnation < self.incarnation {
            return false;
        }
        if incarnation > self.incarnation {
            *self = ExpectedArrival::new(Nanos(self.interval as u64), self.capacity);
            self.incarnation = incarnation;
        }
        if self.highest_seq.is_some_and(|h| seq <= h) {
            return false;
        }
        self.highest_seq = Some(seq);
        let offset = arrival.at.0 as i128 - seq as i128 * self.interval;
        if self.offsets.len() == self.capacity {
            // Cannot fail: the window is full, so not empty.
            self.sum -= self.offsets.pop_front().expect("full window");
        }
        self.offsets.push_back(offset);
        self.sum += offset;
        true
    }

    pub fn highest_seq(&self) -> Option<u64> {
        self.highest_seq
    }

    pub fn len(&self) -> usize {
        self.offsets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.offsets.is_empty()
    }

    /// EA_{ℓ+1} as the exact fraction `numerator / n` (in ns); `None` before any heartbeat.
    pub fn next_expected(&self) -> Option<(i128, i128)> {
        let next = self.highest_seq? as i128 + 1;
        let n = self.offsets.len() as i128;
        Some((self.sum + n * next * self.interval, n))
    }

    /// EA_{k} for sequence number `seq` (before recording it), exact fraction.
    pub fn expected_for(&self, seq: u64) -> Option<(i128, i128)> {
        self.highest_seq?;
        let n = self.offsets.len() as i128;
        Some((self.sum + n * seq as i128 * self.interval, n))
    }

    /// `now − EA_{ℓ+1}` in seconds; 0 before any heartbeat.
    pub fn seconds_since_expected(&self, now: Nanos) -> f64 {
        self.since_expected().map_or(0.0, |since| since(now))
    }

    /// `now ↦ now − EA_{ℓ+1}` in seconds, with EA taken once (for searches that evaluate it
    /// at several instants); `None` before any heartbeat. [`Self::seconds_since_expected`]
    /// is this function, so a crossing found with it agrees with the level.
    pub fn since_expected(&self) -> Option<impl Fn(Nanos) -> f64> {
        let (numerator, n) = self.next_expected()?;
        let count = n as f64;
        Some(move |now: Nanos| i128_to_f64(n * now.0 as i128 - numerator) / count / 1e9)
    }

    /// The first whole nanosecond at or after EA_{ℓ+1} + `margin_ns` (exact).
    pub fn expected_plus(&self, margin_ns: i128) -> Option<Nanos> {
        let (numerator, n) = self.next_expected()?;
        let t = div_ceil(numerator + n * margin_ns, n);
        Some(Nanos(t.clamp(0, u64::MAX as i128) as u64))
    }
}

/// `x as f64`, fast: the compiler's i128 conversion is a library call, and these
/// differences nearly always fit in 64 bits (correctly rounded there, within an ulp beyond).
pub fn i128_to_f64(x: i128) -> f64 {
    match i64::try_from(x) {
        Ok(small) => small as f64,
        // hi·2^64 is exact, so this rounds once, without a library FMA call.
        Err(_) => ((x >> 64) as i64 as f64) * 18_446_744_073_709_551_616.0 + (x as u64 as f64),
    }
}

/// ⌈a / b⌉ for b > 0.
pub fn div_ceil(a: i128, b: i128) -> i128 {
    let q = a.div_euclid(b);
    if a.rem_euclid(b) == 0 { q } else { q + 1 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hb(at: u64, seq: u64) -> Arrival {
        Arrival { at: Nanos(at), seq: Some(seq), incarnation: None, sent: None }
    }

    #[test]
    fn it_knows_the_highest_seq_and_whether_it_has_heard_anything() {
        let mut ea = ExpectedArrival::new(Nanos(100), 1000);
        assert!(ea.is_empty() && ea.highest_seq().is_none());
        for seq in [3, 7, 5] {
            ea.record(&hb(seq * 100, seq));
        }
        // Seq 5 after 7 is stale: not recorded.
        assert_eq!((ea.highest_seq(), ea.len(), ea.is_empty()), (Some(7), 2, false));
    }

    #[test]
    fn losses_do_not_shift_the_estimate() {
        // η = 100, delay 7: seq 0, 1, (2, 3 lost), 4 → EA_5 = 507 exactly.
        let mut ea = ExpectedArrival::new(Nanos(100), 1000);
        for seq in [0, 1, 4] {
            assert!(ea.record(&hb(seq * 100 + 7, seq)));
        }
        assert_eq!(ea.expected_plus(0), Some(Nanos(507)));
        assert_eq!(ea.seconds_since_expected(Nanos(517)), 10e-9);
        // Stale and duplicate seqs are ignored.
        assert!(!ea.record(&hb(600, 3)));
        assert!(!ea.record(&hb(600, 4)));
        // A new incarnation starts afresh from seq 0.
        assert!(ea.record(&Arrival { at: Nanos(1000), seq: Some(0), incarnation: Some(1), sent: None }));
        assert_eq!(ea.expected_plus(0), Some(Nanos(1100)));
    }

    #[test]
    fn fast_conversion_is_within_an_ulp() {
        for x in [0i128, -1, 7, i64::MAX as i128 + 1, -(i64::MAX as i128) - 5, 3 << 100, -(5 << 90)] {
            let (fast, exact) = (i128_to_f64(x), x as f64);
            assert!((fast - exact).abs() <= exact.abs() * f64::EPSILON, "{x}: {fast} vs {exact}");
        }
    }

    #[test]
    fn rounds_up_to_whole_nanoseconds() {
        let mut ea = ExpectedArrival::new(Nanos(100), 3);
        ea.record(&hb(0, 0));
        ea.record(&hb(101, 1));
        // Offsets 0 and 1: mean 0.5 → EA_2 = 200.5 → first whole ns at 201.
        assert_eq!(ea.expected_plus(0), Some(Nanos(201)));
        assert_eq!(div_ceil(-3, 2), -1);
        assert_eq!(div_ceil(4, 2), 2);
    }
}
