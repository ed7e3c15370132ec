//! Ground truth about a monitored target: when it was down.
//!
//! The engine knows what the detector cannot: when a target crashed and when it came back.
//! Pauses are not down time (a paused process is alive, and suspecting it is a mistake:
//! the classic split-brain cause); the simulator records them for attributing causes.

use crate::time::Nanos;

/// A time the target was crashed: from `from` until `to` (a recovery), or for ever.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DownWindow {
    pub from: Nanos,
    pub to: Option<Nanos>,
}

/// Down windows of one target, sorted and disjoint.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GroundTruth {
    down: Vec<DownWindow>,
}

impl GroundTruth {
    /// A target that is up throughout.
    pub fn always_up() -> GroundTruth {
        GroundTruth::default()
    }

    /// A target that crashes at `at` and never recovers (crash-stop).
    pub fn crash_stop(at: Nanos) -> GroundTruth {
        GroundTruth { down: vec![DownWindow { from: at, to: None }] }
    }

    /// Adds a down window after every window already added. Returns `false` (and adds
    /// nothing) if it would overlap or precede one, or follow a permanent crash.
    pub fn push_down(&mut self, window: DownWindow) -> bool {
        if let Some(last) = self.down.last() {
            match last.to {
                Some(to) if to <= window.from => {}
                _ => return false,
            }
        }
        if window.to.is_some_and(|to| to <= window.from) {
            return false;
        }
        self.down.push(window);
        true
    }

    pub fn down_windows(&self) -> &[DownWindow] {
        &self.down
    }

    /// Total down time within `[from, to)`.
    pub fn down_time_within(&self, from: Nanos, to: Nanos) -> Nanos {
        self.down
            .iter()
            .map(|w| {
                let start = w.from.max(from);
                let end = w.to.unwrap_or(Nanos::MAX).min(to);
                end.saturating_sub(start)
            })
            .fold(Nanos::ZERO, |a, b| a + b)
    }

    /// Whether the target is down at `t`.
    pub fn is_down(&self, t: Nanos) -> bool {
        self.down.iter().any(|w| w.from <= t && w.to.is_none_or(|to| t < to))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn down_windows_are_half_open_and_a_crash_stop_lasts_for_ever() {
        let mut truth = GroundTruth::always_up();
        assert!(!truth.is_down(Nanos(0)));
        assert!(truth.push_down(DownWindow { from: Nanos(10), to: Some(Nanos(20)) }));
        assert!(truth.push_down(DownWindow { from: Nanos(30), to: None }));
        let down: Vec<u64> =
            [0, 9, 10, 19, 20, 29, 30, u64::MAX].into_iter().filter(|&t| truth.is_down(Nanos(t))).collect();
        assert_eq!(down, [10, 19, 30, u64::MAX]);
        // Windows come in order, do not overlap, and nothing follows a crash-stop.
        assert!(!truth.push_down(DownWindow { from: Nanos(40), to: Some(Nanos(50)) }));
        let mut truth = GroundTruth::always_up();
        truth.push_down(DownWindow { from: Nanos(10), to: Some(Nanos(20)) });
        assert!(!truth.push_down(DownWindow { from: Nanos(15), to: Some(Nanos(25)) }));
        assert!(!truth.push_down(DownWindow { from: Nanos(25), to: Some(Nanos(25)) }));
        assert!(truth.push_down(DownWindow { from: Nanos(20), to: Some(Nanos(25)) }));
        assert_eq!(truth.down_time_within(Nanos(0), Nanos(100)), Nanos(15));
        assert_eq!(truth.down_time_within(Nanos(12), Nanos(22)), Nanos(10));
        assert_eq!(GroundTruth::crash_stop(Nanos(5)).down_time_within(Nanos(0), Nanos(8)), Nanos(3));
    }
}
