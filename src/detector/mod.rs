//! Failure detectors: the [`Detector`] trait and one file per algorithm.
//!
//! A detector turns heartbeat arrivals into a *suspicion level* for one monitored process.
//! It never reads a clock: every method takes the instant it is asked about, so the same
//! code runs in the simulator's virtual time, on a replayed trace and in live mode
//! (DESIGN.md §2). Suspected ⇔ `level(now) >= threshold`.
//!
//! Instead of being polled, a detector answers [`Detector::suspect_at`]: the first whole
//! nanosecond at which the level will reach a threshold if nothing more arrives. The
//! analysis (`crate::analysis`) derives every suspicion interval from that answer exactly,
//! with O(1) work per heartbeat.
//!
//! Each detector file also declares its kind (name, keys with types, defaults and docs,
//! whether it needs sequence numbers, how to build it: a [`kind::KindInfo`]);
//! [`catalog`] lists those declarations and the presets; [`spec`] parses
//! `KIND[:key=value,...]` against the catalogue into a [`DetectorSpec`] that labels and
//! builds detectors. [`window`] and [`expected_arrival`] are the estimators several
//! detectors share.
//!
//! A new detector is one new file (the algorithm and its `KIND`), its `mod` line here and
//! one line in [`catalog::KINDS`].

pub mod bertier;
pub mod catalog;
pub mod chen;
pub mod empirical;
pub mod estimate;
pub mod eventually_perfect;
pub mod expected_arrival;
pub mod fixed;
pub mod kind;
pub mod phi;
pub mod phi_exp;
pub mod spec;
pub mod two_windows;
mod value;
pub mod window;

pub use fixed::FixedTimeout;
pub use phi::{Phi, PhiConfig};
pub use phi_exp::{PhiExp, PhiExpConfig};
pub use spec::{DetectorSpec, Repeated, SpecError, find_repeat};

use crate::time::Nanos;

/// One heartbeat as the monitor received it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arrival {
    /// When the monitor received it (monitor's time line).
    pub at: Nanos,
    /// The sender's sequence number (its send slot), when known.
    pub seq: Option<u64>,
    /// The sender's incarnation (bumped on restart), when known.
    pub incarnation: Option<u64>,
    /// When it was sent, in the sender's clock, when known.
    pub sent: Option<Nanos>,
}

impl Arrival {
    /// An arrival with nothing known but its time.
    pub fn at(at: Nanos) -> Arrival {
        Arrival { at, seq: None, incarnation: None, sent: None }
    }
}

/// A failure detector for one monitored process.
///
/// # Contract
/// - **Time.** All instants are [`Nanos`] on the monitor's time line. Calls to
///   [`heartbeat`](Detector::heartbeat) come in non-decreasing order of `arrival.at`;
///   `level` and `suspect_at` may be asked about any `now` at or after the latest arrival.
///   Implementations must not panic on an earlier `now` (treat the silence as zero).
/// - **Level.** A unitless or unit-bearing `f64` (see DESIGN.md §2 point 4), `0.0` before the
///   first heartbeat (a process never heard from is not suspected), never NaN. While no
///   heartbeat arrives it never decreases as `now` grows. It may be `+∞` (e.g. φ after a
///   very long silence).
/// - **Suspicion.** Suspected ⇔ `level(now) >= threshold`. Thresholds are finite and > 0.
/// - **`suspect_at(threshold, now)`** returns the earliest whole nanosecond `t >= now` with
///   `level(t) >= threshold`, assuming no further heartbeat, or `None` if that never happens
///   (nothing heard yet, or beyond `u64` time). It agrees with `level` to the nanosecond: if
///   `t > now` then `level(t - 1ns) < threshold`.
/// - **Threshold-dependent state.** Some detectors change their state depending on whether
///   they were suspecting when a heartbeat arrived (Akka's φ does not record the interval of
///   the first heartbeat after a suspicion). Such detectors return `true` from
///   [`state_depends_on_threshold`](Detector::state_depends_on_threshold) and need one
///   instance per threshold; `heartbeat` receives the threshold the instance is evaluated
///   against. Others ignore that argument and one instance serves every threshold.
/// - **Local stalls.** [`on_local_stall`](Detector::on_local_stall) tells the detector that
///   the monitor itself was stalled (GC pause, SIGSTOP) from `from` to `to`; it is called at
///   `to`, before any heartbeat buffered during the stall is delivered.
pub trait Detector: Send {
    /// Records a heartbeat. `threshold` is the one this instance is evaluated against (see
    /// the trait docs); detectors whose state does not depend on it ignore it.
    fn heartbeat(&mut self, arrival: &Arrival, threshold: f64);

    /// The suspicion level at `now`, given the heartbeats recorded so far.
    fn level(&self, now: Nanos) -> f64;

    /// The earliest whole nanosecond `t >= now` at which `level(t) >= threshold` if no
    /// further heartbeat arrives, or `None` if never.
    ///
    /// The default searches `level` itself ([`search_crossing`]: at most 129 calls, exact
    /// under the contract that the level never falls while silent), so a detector needs only
    /// `heartbeat` and `level`; the built-in detectors override it with their closed forms,
    /// which are faster.
    fn suspect_at(&self, threshold: f64, now: Nanos) -> Option<Nanos> {
        search_crossing(now, |t| self.level(t) >= threshold)
    }

    /// Whether the state after a heartbeat depends on the threshold (see the trait docs).
    /// (`true` for a detector whose state does not is only slower: the bank then builds one
    /// instance per threshold, each computing the same. An equivalent mutant.)
    fn state_depends_on_threshold(&self) -> bool {
        false
    }

    /// Whether the detector needs sequence numbers (`Arrival::seq`) to work.
    fn needs_seq(&self) -> bool {
        false
    }

    /// The monitor itself was stalled from `from` to `to` (called at `to`).
    fn on_local_stall(&mut self, _from: Nanos, _to: Nanos) {}

    /// Records each of `arrivals` in order and, after each, appends to `crossings` its
    /// `suspect_at(t, arrival.at)` for each `t` of `thresholds`: what the bank asks of a
    /// detector, for a batch of arrivals at once (`threshold` is passed to `heartbeat`).
    /// Not meant to be overridden: as a default method it is compiled for each detector with
    /// direct calls, so the bank calls through the trait object once per batch rather than
    /// twice per arrival, and the detector's state stays in registers across the batch.
    fn crossings(
        &mut self,
        arrivals: &[Arrival],
        threshold: f64,
        thresholds: &[f64],
        crossings: &mut Vec<Option<Nanos>>,
    ) {
        if let [only] = *thresholds {
            for a in arrivals {
                self.heartbeat(a, threshold);
                crossings.push(self.suspect_at(only, a.at));
            }
        } else {
            for a in arrivals {
                self.heartbeat(a, threshold);
                crossings.extend(thresholds.iter().map(|&t| self.suspect_at(t, a.at)));
            }
        }
    }
}

/// Finds the first whole nanosecond `t >= now` with `reached(t)`, starting from an
/// analytic estimate `guess` of the crossing, for a predicate that is monotone in `t`
/// (false, then true for ever). Floating-point formulas put the analytic answer within a
/// few nanoseconds of the truth; this walks the last steps by evaluating the detector's own
/// predicate, so `suspect_at` agrees exactly with `level`. Returns `None` if the crossing
/// lies beyond `u64` time.
pub fn refine_crossing(now: Nanos, guess: f64, reached: impl Fn(Nanos) -> bool) -> Option<Nanos> {
    // A guess beyond time (or none at all) leaves the search to `search_crossing`, which
    // is exact on its own.
    if guess.is_nan() || guess >= u64::MAX as f64 {
        return search_crossing(now, reached);
    }
    refine_crossing_from(now, Nanos(ceil_u64(guess)), reached)
}

/// [`refine_crossing`] with the guess already a whole nanosecond (detectors that can
/// compute it exactly avoid the rounding of a large `f64` instant).
pub fn refine_crossing_from(now: Nanos, guess: Nanos, reached: impl Fn(Nanos) -> bool) -> Option<Nanos> {
    // The walk starts at the guess (not before `now`) and asks about `now` only if it gets
    // there: a good guess costs two calls, `reached` at the crossing and just before it.
    // Everything up to the final search only saves calls: a guess that is wrong (or a walk
    // that goes astray, as mutants of this loop make it) ends in `search_crossing`, which is
    // exact on its own. Mutants here change speed, never an answer.
    let mut t = guess.max(now);
    // The guess and the nanosecond before it are asked together: the two calls do not wait
    // on each other (a CPU overlaps their divisions), and a right guess is then one step.
    // Otherwise the walk goes on from what they answered.
    if t > now {
        let (at, before) = (reached(t), reached(Nanos(t.0 - 1)));
        match (at, before) {
            (true, false) => return Some(t),
            (true, true) => t = Nanos(t.0 - 1),
            (false, _) => t = Nanos(t.0.checked_add(1)?),
        }
    }
    // A wrong guess by more than a few steps would mean a broken formula; fall back to an
    // exponential search rather than stepping one nanosecond at a time.
    for _ in 0..8 {
        if !reached(t) {
            match t.0.checked_add(1) {
                Some(next) => t = Nanos(next),
                None => return None,
            }
        } else if t > now && reached(Nanos(t.0 - 1)) {
            t = Nanos(t.0 - 1);
        } else {
            return Some(t);
        }
    }
    search_crossing(now, reached)
}

/// ⌈x⌉ as a whole number, saturating at `u64::MAX` (0 for a negative `x` or NaN). The same
/// as `x.ceil() as u64`, without the library call `f64::ceil` is on baseline x86-64.
pub(crate) fn ceil_u64(x: f64) -> u64 {
    let whole = x as u64;
    if (whole as f64) < x { whole.saturating_add(1) } else { whole }
}

/// The first whole nanosecond `t >= now` with `reached(t)`, for a predicate that is monotone
/// in `t` (false, then true for ever), without a guess: `reached` at `now`, then at
/// `now + 2^k` for k = 0, 1, … until it holds (or time ends: `None`), then bisection between
/// the last two. At most 129 calls over the whole `u64` time line.
pub fn search_crossing(now: Nanos, reached: impl Fn(Nanos) -> bool) -> Option<Nanos> {
    if reached(now) {
        return Some(now);
    }
    let mut below = now.0;
    for k in 0..=64 {
        let probe = now.0.saturating_add(1u64.checked_shl(k).unwrap_or(u64::MAX));
        if reached(Nanos(probe)) {
            return Some(bisect(below, probe, &reached));
        }
        if probe == u64::MAX {
            return None;
        }
        below = probe;
    }
    None
}

/// The first `t` in `(below, above]` with `reached(t)`, given `reached(above)` and not
/// `reached(below)`.
fn bisect(below: u64, above: u64, reached: &impl Fn(Nanos) -> bool) -> Nanos {
    let (mut lo, mut hi) = (below, above);
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if reached(Nanos(mid)) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Nanos(hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_search_finds_every_crossing_in_at_most_129_calls() {
        use std::cell::Cell;
        let calls = Cell::new(0);
        for now in [0u64, 1, 17, 1 << 40, u64::MAX - 3] {
            for crossing in
                [now, now + 1, now + 2, now + 3, now.saturating_add(1000), now.saturating_add(1 << 50), u64::MAX]
            {
                if crossing < now {
                    continue;
                }
                calls.set(0);
                let reached = |t: Nanos| {
                    calls.set(calls.get() + 1);
                    t.0 >= crossing
                };
                assert_eq!(
                    search_crossing(Nanos(now), reached),
                    Some(Nanos(crossing)),
                    "now {now}, crossing {crossing}"
                );
                assert!(calls.get() <= 129, "{} calls", calls.get());
            }
            calls.set(0);
            let never = |_: Nanos| {
                calls.set(calls.get() + 1);
                false
            };
            assert_eq!(search_crossing(Nanos(now), never), None);
            assert!(calls.get() <= 129, "{} calls", calls.get());
        }
        // A detector with only `heartbeat` and `level` gets an exact `suspect_at`.
        struct Silence(Option<Nanos>);
        impl Detector for Silence {
            fn heartbeat(&mut self, a: &Arrival, _: f64) {
                self.0 = Some(a.at);
            }
            fn level(&self, now: Nanos) -> f64 {
                self.0.map_or(0.0, |last| (now - last).as_secs_f64())
            }
        }
        let mut d = Silence(None);
        assert_eq!(d.suspect_at(0.3, Nanos(5)), None, "nothing heard");
        d.heartbeat(&Arrival::at(Nanos(1_000)), 0.3);
        let fixed = {
            let mut f = FixedTimeout::new();
            f.heartbeat(&Arrival::at(Nanos(1_000)), 0.3);
            f
        };
        for now in [1_000, 5_000, 300_000_999, 300_001_000, 300_001_001] {
            assert_eq!(d.suspect_at(0.3, Nanos(now)), fixed.suspect_at(0.3, Nanos(now)), "now {now}");
        }
    }

    #[test]
    fn refine_finds_exact_crossing_from_rough_guesses() {
        let crossing = 1_000_003u64;
        let reached = |t: Nanos| t.0 >= crossing;
        for guess in [1_000_000.0, 1_000_003.0, 1_000_005.2, 999_990.0, 5e9, 0.0] {
            assert_eq!(refine_crossing(Nanos(10), guess, reached), Some(Nanos(crossing)));
        }
        assert_eq!(refine_crossing(Nanos(2_000_000), 0.0, reached), Some(Nanos(2_000_000)));
        assert_eq!(refine_crossing(Nanos(0), f64::INFINITY, |_| false), None);
        // At the end of time: no overflow, in either direction.
        assert_eq!(refine_crossing(Nanos::MAX, 0.0, |_| false), None);
        assert_eq!(refine_crossing(Nanos::MAX, 0.0, |t| t == Nanos::MAX), Some(Nanos::MAX));
        assert_eq!(refine_crossing(Nanos(u64::MAX - 1), 1e30, |t| t == Nanos::MAX), Some(Nanos::MAX));
        assert_eq!(refine_crossing(Nanos(u64::MAX - 1), f64::NAN, |_| false), None);
        // A whole-nanosecond guess at the end of time that has not crossed: none ever will.
        assert_eq!(refine_crossing_from(Nanos(5), Nanos::MAX, |_| false), None);
        assert_eq!(refine_crossing_from(Nanos(5), Nanos::MAX, |t| t.0 >= 9), Some(Nanos(9)));
    }

    /// A right guess costs two calls (at the crossing and just before it, asked together),
    /// a crossing at `now` one, and `now` is asked about only when the walk reaches it.
    #[test]
    fn refine_asks_about_now_only_when_the_walk_reaches_it() {
        let asked = std::cell::RefCell::new(Vec::new());
        let reached = |crossing: u64| {
            let asked = &asked;
            move |t: Nanos| {
                asked.borrow_mut().push(t.0);
                t.0 >= crossing
            }
        };
        assert_eq!(refine_crossing_from(Nanos(10), Nanos(50), reached(50)), Some(Nanos(50)));
        assert_eq!(asked.take(), [50, 49]);
        assert_eq!(refine_crossing_from(Nanos(10), Nanos(10), reached(5)), Some(Nanos(10)));
        assert_eq!(asked.take(), [10]);
        assert_eq!(refine_crossing_from(Nanos(10), Nanos(12), reached(5)), Some(Nanos(10)));
        assert_eq!(asked.take(), [12, 11, 11, 10, 10]);
        assert_eq!(refine_crossing_from(Nanos(10), Nanos(3), reached(11)), Some(Nanos(11)));
        assert_eq!(asked.take(), [10, 11, 10]);
        assert_eq!(refine_crossing_from(Nanos(10), Nanos(20), reached(22)), Some(Nanos(22)));
        assert_eq!(asked.take(), [20, 19, 21, 22, 21]);
    }

    #[test]
    fn ceil_u64_is_ceil_then_a_saturating_cast() {
        let two_53 = 9_007_199_254_740_992.0;
        for x in [
            0.0,
            -0.0,
            -0.5,
            -1e300,
            0.25,
            1.0,
            1.000_000_1,
            2.5,
            1e9 - 0.5,
            two_53 - 1.0,
            two_53,
            two_53 * 2.0 + 2.0,
            u64::MAX as f64,
            1e30,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
        ] {
            assert_eq!(ceil_u64(x), x.ceil() as u64, "{x}");
        }
        assert_eq!((ceil_u64(0.25), ceil_u64(2.0), ceil_u64(1e30)), (1, 2, u64::MAX));
    }
}
