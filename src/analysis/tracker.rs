//! Exact suspicion intervals from `suspect_at`.
//!
//! After each arrival the detector says when it would begin to suspect if nothing more
//! came. At the next arrival at time t that answer is checked: a crossing strictly before t
//! began a suspicion (a heartbeat exactly at the crossing prevents it: arrivals first). After
//! the arrival is recorded, the level at t decides whether a suspicion ends (level below the
//! threshold) or begins (already at or above it, which happens when a late or stale
//! heartbeat does not restore trust). REFERENCES.md §1 states these rules.
//!
//! With periodic checking (`check_every=P`, as real systems check: Akka's reaper every 1 s,
//! Cassandra once per gossip round), a suspicion begins only at the first tick k·P at or
//! after the crossing, provided no heartbeat before that tick brought the level back below
//! the threshold. Trust returns when such a heartbeat arrives, as Cassandra marks a node
//! alive on receipt (Akka's reaper also restores reachability only at its next tick; fdlab
//! does not model that delay).

use crate::time::Nanos;

/// A change of the detector's output for one threshold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transition {
    /// Suspicion (S-transition) began at this instant.
    Suspect(Nanos),
    /// Trust (T-transition) returned at this instant; the suspicion had begun at `since`.
    Trust { since: Nanos, at: Nanos },
}

/// The suspicion state of one detector at one threshold.
#[derive(Clone, Debug, Default)]
pub struct SuspicionTracker {
    /// The checking period, if the system checks periodically.
    check_every: Option<Nanos>,
    /// Start of the current suspicion.
    since: Option<Nanos>,
    /// When the current silence will turn into suspicion (if not suspected).
    next_crossing: Option<Nanos>,
}

impl SuspicionTracker {
    pub fn new() -> SuspicionTracker {
        SuspicionTracker::default()
    }

    /// A tracker that notices suspicion only at multiples of `period` (from time 0).
    pub fn checking_every(period: Option<Nanos>) -> SuspicionTracker {
        SuspicionTracker { check_every: period.filter(|p| *p > Nanos::ZERO), ..SuspicionTracker::default() }
    }

    /// The first check tick at or after `t` (`t` itself without periodic checking).
    fn tick_at_or_after(&self, t: Nanos) -> Option<Nanos> {
        match self.check_every {
            None => Some(t),
            Some(p) => t.0.div_ceil(p.0).checked_mul(p.0).map(Nanos),
        }
    }

    /// Whether the tracker is suspecting, and since when.
    pub fn suspected_since(&self) -> Option<Nanos> {
        self.since
    }

    /// When a suspicion would begin if nothing more arrives (`None` if already suspected or
    /// never).
    pub fn next_crossing(&self) -> Option<Nanos> {
        self.next_crossing
    }

    /// Called before an arrival at `t` is recorded: a crossing strictly before `t` has
    /// begun a suspicion.
    pub fn before_arrival(&mut self, t: Nanos) -> Option<Transition> {
        match (self.since, self.next_crossing) {
            (None, Some(crossing)) if crossing < t => {
                self.since = Some(crossing);
                self.next_crossing = None;
                Some(Transition::Suspect(crossing))
            }
            _ => None,
        }
    }

    /// Called after the arrival at `t` is recorded, with the detector's
    /// `suspect_at(threshold, t)`.
    pub fn after_arrival(&mut self, t: Nanos, crossing: Option<Nanos>) -> Option<Transition> {
        let level_reached = crossing == Some(t);
        let noticed = crossing.and_then(|c| self.tick_at_or_after(c));
        let transition = match (self.since, level_reached) {
            (Some(since), false) => {
                self.since = None;
                Some(Transition::Trust { since, at: t })
            }
            (None, true) if noticed == Some(t) => {
                self.since = Some(t);
                Some(Transition::Suspect(t))
            }
            _ => None,
        };
        self.next_crossing = if self.since.is_some() { None } else { noticed };
        transition
    }

    /// The common case of an arrival, in one step: the tracker was not suspecting, checks
    /// continuously, its crossing (if any) is not before `t`, and the detector's crossing
    /// after the arrival, `crossing`, is after `t`. Then nothing begins or ends, and the
    /// new crossing is kept: exactly what [`Self::before_arrival`] and
    /// [`Self::after_arrival`] do in that case. Returns `false`, changing nothing, in
    /// every other case, which those two then handle.
    #[inline(always)]
    pub fn quiet_arrival(&mut self, t: Nanos, crossing: Option<Nanos>) -> bool {
        let quiet = self.since.is_none()
            && self.check_every.is_none()
            && self.next_crossing.is_none_or(|c| c >= t)
            && crossing.is_some_and(|c| c > t);
        if quiet {
            self.next_crossing = crossing;
        }
        quiet
    }

    /// Re-reads the crossing at `t` without an arrival (the detector's state changed, e.g. the
    /// monitor resumed from a stall). With `act_now`, a crossing at or before `t` begins a
    /// suspicion at `t` (a check that fell due during the stall fires at the resume);
    /// otherwise it waits like any crossing, and arrivals at `t` come first.
    pub fn recheck(&mut self, t: Nanos, crossing: Option<Nanos>, act_now: bool) -> Option<Transition> {
        if self.since.is_some() {
            return None;
        }
        let noticed = crossing.and_then(|c| self.tick_at_or_after(c));
        if act_now && noticed.is_some_and(|c| c <= t) {
            self.since = Some(t);
            self.next_crossing = None;
            return Some(Transition::Suspect(t));
        }
        self.next_crossing = noticed;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrival_exactly_at_crossing_prevents_suspicion() {
        let mut t = SuspicionTracker::new();
        assert_eq!(t.after_arrival(Nanos(0), Some(Nanos(10))), None);
        assert_eq!(t.before_arrival(Nanos(10)), None);
        assert_eq!(t.after_arrival(Nanos(10), Some(Nanos(20))), None);
        assert_eq!(t.before_arrival(Nanos(21)), Some(Transition::Suspect(Nanos(20))));
        assert_eq!(
            t.after_arrival(Nanos(21), Some(Nanos(30))),
            Some(Transition::Trust { since: Nanos(20), at: Nanos(21) })
        );
    }

    #[test]
    fn periodic_checks_notice_at_the_next_tick() {
        let mut t = SuspicionTracker::checking_every(Some(Nanos(100)));
        // Crossing at 250: noticed at 300, unless a heartbeat comes first.
        assert_eq!(t.after_arrival(Nanos(0), Some(Nanos(250))), None);
        assert_eq!(t.next_crossing(), Some(Nanos(300)));
        assert_eq!(t.before_arrival(Nanos(300)), None);
        assert_eq!(t.after_arrival(Nanos(300), Some(Nanos(550))), None);
        assert_eq!(t.before_arrival(Nanos(601)), Some(Transition::Suspect(Nanos(600))));
        // Level already high at an arrival off the tick: noticed at the next tick.
        let mut t = SuspicionTracker::checking_every(Some(Nanos(100)));
        assert_eq!(t.after_arrival(Nanos(150), Some(Nanos(150))), None);
        assert_eq!(t.next_crossing(), Some(Nanos(200)));
    }

    /// `quiet_arrival` either does what `before_arrival` and `after_arrival` do together,
    /// when neither reports a transition and the new crossing is after the arrival, or
    /// refuses and changes nothing: on random arrivals and crossings, with and without
    /// periodic checking.
    #[test]
    fn a_quiet_arrival_is_the_two_steps_when_nothing_changes() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move |n: u64| {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) % n
        };
        let (mut quiet, mut refused) = (0, 0);
        for period in [None, Some(Nanos(7))] {
            let mut reference = SuspicionTracker::checking_every(period);
            let mut fast = reference.clone();
            let mut t = 0;
            for _ in 0..20_000 {
                t += next(10);
                let crossing = match next(5) {
                    0 => None,
                    1 => Some(Nanos(t)),
                    _ => Some(Nanos(t + next(12))),
                };
                let before = reference.before_arrival(Nanos(t));
                let after = reference.after_arrival(Nanos(t), crossing);
                let untouched = fast.clone();
                if fast.quiet_arrival(Nanos(t), crossing) {
                    quiet += 1;
                    assert_eq!((before, after), (None, None), "at {t}");
                    assert!(crossing.is_some_and(|c| c.0 > t));
                } else {
                    refused += 1;
                    assert_eq!(
                        (fast.since, fast.next_crossing, fast.check_every),
                        (untouched.since, untouched.next_crossing, untouched.check_every)
                    );
                    assert_eq!(fast.before_arrival(Nanos(t)), before, "at {t}");
                    assert_eq!(fast.after_arrival(Nanos(t), crossing), after, "at {t}");
                    // Without periodic checks, a refusal means something could change.
                    if period.is_none() && before.is_none() && after.is_none() {
                        assert!(reference.since.is_some() || crossing.is_none_or(|c| c.0 == t));
                    }
                }
                assert_eq!((fast.since, fast.next_crossing), (reference.since, reference.next_crossing), "at {t}");
            }
        }
        // Both paths were taken often.
        assert!(quiet > 5_000 && refused > 5_000, "{quiet} quiet, {refused} refused");
    }

    #[test]
    fn a_zero_period_means_no_periodic_checking() {
        let mut t = SuspicionTracker::checking_every(Some(Nanos::ZERO));
        t.after_arrival(Nanos(0), Some(Nanos(250)));
        assert_eq!(t.next_crossing(), Some(Nanos(250)));
        assert_eq!(t.before_arrival(Nanos(260)), Some(Transition::Suspect(Nanos(250))));
    }

    #[test]
    fn an_arrival_that_leaves_the_level_high_keeps_or_starts_suspicion() {
        let mut t = SuspicionTracker::new();
        assert_eq!(t.after_arrival(Nanos(5), Some(Nanos(5))), Some(Transition::Suspect(Nanos(5))));
        assert_eq!(t.before_arrival(Nanos(9)), None);
        assert_eq!(t.after_arrival(Nanos(9), Some(Nanos(9))), None);
        assert_eq!(t.suspected_since(), Some(Nanos(5)));
    }
}
