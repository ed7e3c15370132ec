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

use std::cell::Cell;
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
    /// The last answer of [`level_floor`]: (threshold's bits, n, D*). A cache: it saves
    /// work, never changes an answer.
    floor: Cell<(u64, i128, Option<i128>)>,
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
            floor: Cell::new((0, 0, None)),
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

    /// `now − EA_{ℓ+1}` in seconds, with EA taken once; `None` before any heartbeat.
    /// [`Self::seconds_since_expected`] is this function, and so is [`Self::first_at_least`]'s
    /// crossing: the level of `D = n·now − numerator` (a whole number) is [`level_of`]`(D, n)`.
    fn since_expected(&self) -> Option<impl Fn(Nanos) -> f64> {
        let (numerator, n) = self.next_expected()?;
        Some(move |now: Nanos| level_of(n * now.0 as i128 - numerator, n))
    }

    /// The first whole nanosecond `t >= now` at which [`Self::seconds_since_expected`] is
    /// at least `threshold`, exactly; `None` before any heartbeat, or if it never is within
    /// `u64` time.
    ///
    /// The level at `t` is [`level_of`]`(D, n)` for the whole number `D = n·t − numerator`,
    /// and it never falls as `D` grows; so it reaches the threshold exactly where `D` reaches
    /// D*, the least whole number whose level does. D* depends only on `n` and the threshold
    /// (kept for the next question), and the crossing is then one exact quotient: no level is
    /// evaluated per question.
    pub fn first_at_least(&self, threshold: f64, now: Nanos) -> Option<Nanos> {
        let next = self.highest_seq? as i128 + 1;
        let n = self.offsets.len() as i128;
        let key = (threshold.to_bits(), n);
        // (Mutation testing: a guard that never matches only recomputes D*, equivalent.)
        let floor = match self.floor.get() {
            (bits, cached_n, floor) if (bits, cached_n) == key => floor,
            _ => {
                let floor = level_floor(n, threshold);
                self.floor.set((key.0, key.1, floor));
                floor
            }
        }?;
        // D at t is n·t − Σ − n·(ℓ+1)·η, so D ≥ D* exactly when
        // t − (ℓ+1)·η ≥ ⌈(D* + Σ)/n⌉: the crossing is t* = (ℓ+1)·η + ⌈(D* + Σ)/n⌉, and the
        // answer `now` if t* is not after it.
        let Some(a) = floor.checked_add(self.sum) else {
            // D* + Σ beyond i128 puts t* more than 2^127/n from (ℓ+1)·η: after u64 time if
            // positive (a window holds fewer than 2^63 heartbeats), and if negative, before
            // `now`, as n·(ℓ+1)·η (in EA's numerator) is below 2^127. (Mutation testing:
            // `<=` is equivalent, as 0 + Σ cannot leave i128.)
            return (floor < 0).then_some(now);
        };
        // D* + Σ is n times a delay of at most centuries, and fits u64 unless the threshold
        // is negative or huge. (Mutation testing: without the u64 arm the i128 division gives
        // the same quotient, equivalent.)
        let quotient = match (u64::try_from(a), u64::try_from(n)) {
            (Ok(a), Ok(n)) => div_ceil_u64(a, n) as i128,
            _ => div_ceil(a, n),
        };
        let crossing = next.saturating_mul(self.interval).saturating_add(quotient);
        if crossing <= now.0 as i128 { Some(now) } else { u64::try_from(crossing).ok().map(Nanos) }
    }

    /// The first whole nanosecond at or after EA_{ℓ+1} + `margin_ns` (exact).
    pub fn expected_plus(&self, margin_ns: i128) -> Option<Nanos> {
        let (numerator, n) = self.next_expected()?;
        let t = div_ceil(numerator + n * margin_ns, n);
        Some(Nanos(t.clamp(0, u64::MAX as i128) as u64))
    }
}

/// The level, in seconds, of `d` = n·now − numerator (n times the ns since EA): how
/// [`ExpectedArrival::seconds_since_expected`] computes it, rounding included.
fn level_of(d: i128, n: i128) -> f64 {
    i128_to_f64(d) / n as f64 / 1e9
}

/// The least whole number `d` with [`level_of`]`(d, n) >= threshold`, or `None` if none is
/// (a threshold above every level, or NaN). [`level_of`] never falls as `d` grows, so the
/// search brackets the answer from a guess (by doubling steps) and bisects: exact, about
/// two evaluations when the guess is right, at most a few hundred when it is far off.
fn level_floor(n: i128, threshold: f64) -> Option<i128> {
    let reached = |d: i128| level_of(d, n) >= threshold;
    if !reached(i128::MAX) {
        return None;
    }
    if reached(i128::MIN) {
        return Some(i128::MIN);
    }
    // The saturating cast takes a guess beyond i128 to its end (and NaN, excluded above, to 0).
    // (Only a guess: the bracketing search below corrects any, so mutants of it change speed.)
    let guess = (threshold * 1e9 * n as f64).ceil() as i128;
    // `below` never reaches the threshold, `above` does.
    let (mut below, mut above);
    let mut step: i128 = 1;
    if reached(guess) {
        above = guess;
        below = guess.saturating_sub(1);
        while reached(below) {
            above = below;
            below = below.saturating_sub(step);
            step = step.saturating_mul(2);
        }
    } else {
        below = guess;
        above = guess.saturating_add(1);
        while !reached(above) {
            below = above;
            above = above.saturating_add(step);
            step = step.saturating_mul(2);
        }
    }
    // (The width in u128: `below` may have saturated at i128::MIN with `above` far above.)
    while above.abs_diff(below) > 1 {
        let mid = below + (above.abs_diff(below) / 2) as i128;
        if reached(mid) {
            above = mid;
        } else {
            below = mid;
        }
    }
    Some(above)
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

/// ⌈a / n⌉ for n > 0: below 2^51 through a float reciprocal and one product (a 64-bit
/// integer division takes several times as long, and the reciprocal does not wait for `a`).
/// Both convert exactly, and the two roundings of a·(1/n) err by less than a/n·2^-52·(1 +
/// 2^-53) < 1/(2n). So the product truncates to ⌊a/n⌋ (the next whole number is at least
/// 1/n above a/n), except that a whole a/n may come out just below itself and truncate to
/// one less: ⌈a/n⌉ is q when q·n = a, and q + 1 otherwise.
fn div_ceil_u64(a: u64, n: u64) -> u64 {
    // (Mutation testing, equivalent: a smaller bound, down to 0, only sends more quotients
    // to the integer division; `n < EXACT` for `n >= EXACT` sends the small divisors there,
    // and the large ones with a < 2^51 < n to the float path, where q = 0 and the product
    // decides between 0 and 1, exactly.)
    const EXACT: u64 = 1 << 51;
    if a >= EXACT || n >= EXACT {
        return a.div_ceil(n);
    }
    let q = (a as f64 * (1.0 / n as f64)) as u64;
    q + u64::from(q * n < a)
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

    /// The float quotient corrected by one product is ⌈a/n⌉: at whole quotients (among
    /// them ones whose product falls just below), one above and one below them, at the end
    /// of the float path (2^51), and for random sizes.
    #[test]
    fn the_float_quotient_is_the_exact_ceiling() {
        use rand::{Rng, SeedableRng};
        let check = |a: u64, n: u64| assert_eq!(div_ceil_u64(a, n), a.div_ceil(n), "⌈{a}/{n}⌉");
        for n in [1u64, 2, 3, 7, 1000, 999_999_937, (1 << 51) - 1, 1 << 51, (1 << 53) - 1, u64::MAX] {
            for q in [0u64, 1, 2, 1000, (1 << 51) / n, (1 << 53) / n, u64::MAX / n] {
                let a = q.saturating_mul(n);
                for a in [a.saturating_sub(1), a, a.saturating_add(1)] {
                    check(a, n);
                }
            }
        }
        // Whole quotients whose float product falls just below them (⌊a/n⌋ − 1 truncated).
        for (a, n) in [(1284001580289050, 49), (1262116998038316, 98), (598515262440998, 161)] {
            assert_eq!((a as f64 * (1.0 / n as f64)) as u64, a / n - 1, "{a}/{n}");
            check(a, n);
            check(a + 1, n);
        }
        // The largest quotients of the float path, with their largest fractions.
        for n in [2, 3, 7, 1000] {
            for a in ((1u64 << 51) - 3 * n..1 << 51).chain(1 << 51..(1 << 51) + 2) {
                check(a, n);
            }
        }
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(3);
        for _ in 0..200_000 {
            let bits = rng.random_range(1..=64);
            let a = rng.random::<u64>() >> (64 - bits);
            let n = (rng.random::<u64>() >> rng.random_range(0..64)).max(1);
            check(a, n);
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

    /// The integer crossing is the first nanosecond at which the level itself reaches the
    /// threshold, found by asking the level: for windows of 1 to 1000 with random
    /// arrivals, at thresholds from far below to far above (whole, fractional, at the
    /// nanosecond, negative, beyond u64 time, ±∞ and NaN), from instants before, at and
    /// long after EA, and at the end of time. The same estimate answers the thresholds in
    /// turn and again, so that a stale cached D* would show.
    #[test]
    fn the_crossing_is_where_the_level_reaches_the_threshold() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(11);
        let thresholds = [
            0.0,
            -0.0,
            1e-9,
            1.5e-9,
            0.2,
            0.2000000004,
            1.0 / 3.0,
            3.0,
            -0.05,
            -1e3,
            1e9,
            1.9e10,
            1e30,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            f64::MIN_POSITIVE,
        ];
        for case in 0..300 {
            let capacity = [1, 2, 3, 7, 1000][case % 5];
            let interval = rng.random_range(1..200_000_000u64);
            let mut ea = ExpectedArrival::new(Nanos(interval), capacity);
            let mut seq = rng.random_range(0..1_000_000u64);
            let base = if case % 7 == 0 { u64::MAX - 1_000 * interval - 10_000_000_000 } else { 0 };
            // Every third case, a sender whose numbers start high: its arrivals come before
            // seq·η, so Σ is negative (and D* + Σ leaves i128 for a threshold of −∞).
            let late_start = if case % 3 == 1 { seq.saturating_mul(interval) } else { 0 };
            for i in 0..rng.random_range(1..2_000) {
                seq += rng.random_range(1..4);
                let at = base
                    .saturating_add(seq.saturating_mul(interval) - late_start)
                    .saturating_add(rng.random_range(0..50_000_000));
                ea.record(&hb(at, seq));
                // While the window fills, n changes under one threshold: the kept D* must
                // follow it.
                if i < 40 {
                    let (threshold, now) = (0.2, Nanos(at.saturating_add(150_000_000)));
                    let truth = crate::detector::search_crossing(now, |t| ea.seconds_since_expected(t) >= threshold);
                    assert_eq!(ea.first_at_least(threshold, now), truth, "case {case}, heartbeat {i}");
                }
            }
            let expected = ea.expected_plus(0).unwrap().0;
            for round in 0..2 {
                for (i, &threshold) in thresholds.iter().enumerate() {
                    let now = match (i + round) % 4 {
                        0 => expected.saturating_sub(rng.random_range(0..1_000_000_000)),
                        1 => expected,
                        2 => expected.saturating_add(rng.random_range(0..u64::MAX / 4)),
                        _ => u64::MAX - rng.random_range(0..3),
                    };
                    let truth =
                        crate::detector::search_crossing(Nanos(now), |t| ea.seconds_since_expected(t) >= threshold);
                    assert_eq!(
                        ea.first_at_least(threshold, Nanos(now)),
                        truth,
                        "case {case}: window {capacity}, η {interval}, threshold {threshold}, now {now}"
                    );
                }
            }
        }
        assert_eq!(ExpectedArrival::new(Nanos(100), 10).first_at_least(0.0, Nanos(5)), None, "no heartbeat yet");
    }

    /// Where D* + Σ leaves i128 the crossing is beyond u64 time: a window of 1000
    /// heartbeats near the end of time (Σ about 1000·2^64) and a threshold whose D* is
    /// within 2^74 of i128::MAX; and, for a threshold of −∞ with Σ negative, `now`.
    #[test]
    fn a_crossing_beyond_i128_is_after_the_end_of_time_or_now() {
        let interval = 100_000_000u64;
        let mut late = ExpectedArrival::new(Nanos(interval), 1000);
        for seq in 0..1000u64 {
            late.record(&hb(u64::MAX - 200_000_000_000 + seq * interval, seq));
        }
        let threshold = level_of(i128::MAX, 1000);
        let floor = level_floor(1000, threshold).unwrap();
        assert!(floor.checked_add(late.sum).is_none(), "D* {floor} + Σ {} fits i128", late.sum);
        for now in [0, u64::MAX - 1] {
            let truth = crate::detector::search_crossing(Nanos(now), |t| late.seconds_since_expected(t) >= threshold);
            assert_eq!((late.first_at_least(threshold, Nanos(now)), truth), (None, None));
        }
        let mut early = ExpectedArrival::new(Nanos(interval), 3);
        for seq in 1_000_000..1_000_003u64 {
            early.record(&hb(seq - 1_000_000, seq));
        }
        assert!(early.sum < 0);
        assert_eq!(early.first_at_least(f64::NEG_INFINITY, Nanos(7)), Some(Nanos(7)));
    }

    /// D* is the least whole number whose level reaches the threshold: its level does and
    /// the one below's does not, for windows of 1 to 1000 and thresholds of every size and
    /// sign with mantissas that make `threshold·1e9·n` inexact, so that the guess lands
    /// off D* on both sides (by thousands above 2^53) and the search has to walk.
    #[test]
    fn level_floor_is_the_least_whole_number_that_reaches() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(5);
        let mut far = 0;
        for _ in 0..20_000 {
            let n: i128 = rng.random_range(1..=1000);
            let magnitude = 10f64.powi(rng.random_range(-12..=19));
            let threshold = magnitude * rng.random_range(-1.0..1.0f64);
            let floor = level_floor(n, threshold).expect("reachable");
            assert!(level_of(floor, n) >= threshold, "n {n}, threshold {threshold:e}: D* {floor}");
            assert!(level_of(floor - 1, n) < threshold, "n {n}, threshold {threshold:e}: D* {floor}");
            let guess = (threshold * 1e9 * n as f64).ceil() as i128;
            far += usize::from(guess.abs_diff(floor) > 1);
        }
        assert!(far > 1_000, "the guess was off by more than 1 only {far} times");
    }

    /// D* by hand: n = 4, threshold 1 ns (1e-9 s): d = 4 gives 4/4/1e9 = 1e-9, d = 3 less.
    /// Every level is at least −∞ (D* the least whole number); none reaches +∞ or NaN.
    #[test]
    fn level_floor_by_hand_and_at_the_ends() {
        assert_eq!(level_floor(4, 1e-9), Some(4));
        assert_eq!(level_floor(4, 0.0), Some(0));
        assert_eq!(level_floor(1, -2e-9), Some(-2));
        assert_eq!(level_floor(3, f64::NEG_INFINITY), Some(i128::MIN));
        assert_eq!(level_floor(3, f64::INFINITY), None);
        assert_eq!(level_floor(3, f64::NAN), None);
        // Beyond i128's levels (about 1.7e29 s for n = 1): none.
        assert_eq!(level_floor(1, 1e30), None);
    }
}
