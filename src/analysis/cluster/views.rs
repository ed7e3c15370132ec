//! Every node's view over time: the peers it suspects, from its own detectors, from the
//! gossiped verdicts of the peers it does not watch, and from `first_timeout`; then the view
//! it acts on, once its suspected set has stayed unchanged for `stable_after`.

use super::{ClusterInput, NodeSet};
use crate::time::Nanos;

/// Node `node` acts on view `set` from `at` on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ViewChange {
    pub at: Nanos,
    pub node: usize,
    pub set: NodeSet,
}

/// A zero-length suspicion: at `at`, `node` suspected `peer` for no time (its checks fired
/// at a resume before its buffered datagrams cleared them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Flicker {
    pub at: Nanos,
    pub node: usize,
    pub peer: usize,
}

/// The views every node acts on, in time order (then node order), and the zero-length
/// suspicions (in the same order), which count only when nodes act at once.
pub fn acting_views(input: &ClusterInput<'_>) -> (Vec<ViewChange>, Vec<Flicker>) {
    let n = input.ids.len();
    let mut flips: Vec<(Nanos, usize, usize, bool)> = Vec::new();
    let mut flickers = Vec::new();
    let end = input.end;
    let add = |from: Nanos, to: Nanos, x: usize, p: usize, flips: &mut Vec<_>, flickers: &mut Vec<Flicker>| {
        let (from, to) = (from.min(end), to.min(end));
        if from < to {
            flips.push((from, x, p, true));
            flips.push((to, x, p, false));
        } else if from == to && from < end {
            // (Mutation testing: `from <= end` and `from == to || from < end` are equivalent
            // because the only flicker they add is at `end` (both ends clipped to it), which the
            // sweep never reaches: it stops before `end`, and a run lasts more than 0. An
            // interval with `from > to` does not occur.)
            flickers.push(Flicker { at: from, node: x, peer: p });
        }
    };
    // Who watches each peer.
    let mut monitors: Vec<Vec<usize>> = vec![Vec::new(); n];
    for &(m, t) in input.suspicions.keys() {
        monitors[t].push(m);
    }
    for (&(x, p), own) in input.suspicions {
        for &(s, e) in own {
            add(s, e, x, p, &mut flips, &mut flickers);
        }
        for (from, to) in first_timeout_suspicions(input, x, p) {
            add(from, to, x, p, &mut flips, &mut flickers);
        }
    }
    // A peer x does not watch: the union of its monitors' verdicts, `gossip_delay` late.
    let gossip = input.settings.gossip_delay;
    for (p, watchers) in monitors.iter().enumerate() {
        for x in (0..n).filter(|&x| x != p && !watchers.contains(&x)) {
            for &m in watchers {
                for &(s, e) in &input.suspicions[&(m, p)] {
                    add(s.saturating_add(gossip), e.saturating_add(gossip), x, p, &mut flips, &mut flickers);
                }
            }
        }
    }
    flips.sort_unstable();
    flickers.sort_unstable();
    flickers.dedup();

    // The raw view of each node after every instant at which it changed.
    let mut count = vec![0u32; n * n];
    let mut raw: Vec<Vec<(Nanos, NodeSet)>> = vec![Vec::new(); n];
    let mut current: Vec<NodeSet> = vec![NodeSet::new(n); n];
    let mut touched: Vec<usize> = Vec::new();
    let mut i = 0;
    while i < flips.len() {
        let at = flips[i].0;
        while let Some(&(t, x, p, up)) = flips.get(i).filter(|f| f.0 == at) {
            debug_assert_eq!(t, at);
            let c = &mut count[x * n + p];
            *c = if up { *c + 1 } else { *c - 1 };
            if (*c > 0) != current[x].contains(p) {
                current[x].set(p, *c > 0);
                touched.push(x);
            }
            i += 1;
        }
        touched.sort_unstable();
        touched.dedup();
        for x in touched.drain(..) {
            // (A suspicion that began and ended at this instant leaves the set unchanged. A
            // node's first change is never to the empty set: its first instant only starts
            // suspicions.)
            if raw[x].last().is_none_or(|(_, s)| *s != current[x]) {
                raw[x].push((at, current[x].clone()));
            }
        }
    }

    // Acting views: a raw view counts once it has held for `stable_after`.
    let stable = input.settings.stable_after;
    let mut changes = Vec::new();
    for (x, list) in raw.into_iter().enumerate() {
        let mut acting = NodeSet::new(n);
        for (k, (at, set)) in list.iter().enumerate() {
            let held_until = list.get(k + 1).map_or(Nanos::MAX, |next| next.0);
            let from = at.saturating_add(stable);
            // (Mutation testing: `from <= end` is equivalent because a view acted on from
            // `end` is never applied: the sweep stops before `end`.)
            if from <= held_until && from < end && *set != acting {
                acting = set.clone();
                changes.push(ViewChange { at: from, node: x, set: set.clone() });
            }
        }
    }
    changes.sort_by_key(|c| (c.at, c.node));
    if stable > Nanos::ZERO {
        // A node acting on a settled view ignores what flickers.
        flickers.clear();
    }
    (changes, flickers)
}

/// The suspicions `first_timeout` adds on the monitored link (x, p): after each (re)start
/// of x, from `first_timeout` later until x first hears p (or x stops).
fn first_timeout_suspicions(input: &ClusterInput<'_>, x: usize, p: usize) -> Vec<(Nanos, Nanos)> {
    let Some(timeout) = input.first_timeout else { return Vec::new() };
    let Some(starts) = input.first_heard.get(&(x, p)) else { return Vec::new() };
    starts
        .iter()
        .filter_map(|&(start, heard)| {
            let from = start.saturating_add(timeout);
            let stop = input.crashed[x].iter().map(|w| w.0).filter(|&c| c >= start).min().unwrap_or(input.end);
            let to = heard.unwrap_or(stop).min(stop);
            (from < to).then_some((from, to))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::cluster::{ClusterFigures, FirstHeard, LinkSuspicions, analyze, built_in};
    use crate::experiment::{ClusterSettings, LeaderRule};
    use crate::time::Clock;

    fn ms(v: u64) -> Nanos {
        Nanos::from_millis(v)
    }

    /// Nodes a and b (0 and 1) watching each other over a 10 s run, under
    /// `lowest-unsuspected` alone.
    struct Two {
        crashed: [Vec<(Nanos, Nanos)>; 2],
        paused: [Vec<(Nanos, Nanos)>; 2],
        suspicions: LinkSuspicions,
        first_heard: FirstHeard,
        first_timeout: Option<Nanos>,
        settings: ClusterSettings,
    }

    impl Two {
        fn new(a_suspects_b: &[(u64, u64)], b_suspects_a: &[(u64, u64)], stable_after: Nanos) -> Two {
            let list = |l: &[(u64, u64)]| l.iter().map(|&(s, e)| (ms(s), ms(e))).collect::<Vec<_>>();
            Two {
                crashed: [vec![], vec![]],
                paused: [vec![], vec![]],
                suspicions: LinkSuspicions::from([((0, 1), list(a_suspects_b)), ((1, 0), list(b_suspects_a))]),
                first_heard: FirstHeard::new(),
                first_timeout: None,
                settings: ClusterSettings {
                    stable_after,
                    rules: Some(vec![LeaderRule::LowestUnsuspected]),
                    ..ClusterSettings::default()
                },
            }
        }

        fn with<T>(&self, f: impl FnOnce(&ClusterInput<'_>) -> T) -> T {
            let ids: Vec<String> = ["a", "b"].map(String::from).to_vec();
            let input = ClusterInput {
                ids: &ids,
                clocks: &[Clock::EXACT; 2],
                crashed: &self.crashed,
                paused: &self.paused,
                stalled: &self.paused,
                suspicions: &self.suspicions,
                first_heard: &self.first_heard,
                heard: &Default::default(),
                fault_starts: &[],
                first_timeout: self.first_timeout,
                settings: &self.settings,
                end: ms(10_000),
            };
            f(&input)
        }

        fn views(&self) -> (Vec<ViewChange>, Vec<Flicker>) {
            self.with(acting_views)
        }

        fn lowest_unsuspected(&self) -> ClusterFigures {
            self.with(|input| analyze(input, built_in(&self.settings, 2)).1.remove(0))
        }
    }

    fn change(at_ms: u64, node: usize, suspected: &[usize]) -> ViewChange {
        let mut set = NodeSet::new(2);
        suspected.iter().for_each(|&p| set.set(p, true));
        ViewChange { at: ms(at_ms), node, set }
    }

    /// `first_timeout` 1 s. b never hears a before it crashes at 2 s; it restarts at 5 s and
    /// hears a at 5.5 s, within 1 s of its restart. a first hears b at 1 s, the very instant
    /// its first timeout ends: the state at an instant is the one after all its events, so
    /// a does not suspect b then, not even for no time (no flicker). a suspects the crashed b
    /// over [3 s, 5.01 s). b's first-timeout suspicion of a runs from 1 s until its crash at
    /// 2 s (it would stop at b's first hearing of a, which never came before the crash) and
    /// none follows the restart. So b acts on {a} over [1 s, 2 s) and leads there while a
    /// (the lowest) leads: split brain 1 s, one episode. Letting the suspicion run past the
    /// crash would make b lead again from its restart to the end (6 s more).
    #[test]
    fn a_first_timeout_suspicion_stops_at_the_monitors_crash() {
        let mut two = Two::new(&[(3_000, 5_010)], &[], Nanos::ZERO);
        two.crashed[1] = vec![(ms(2_000), ms(5_000))];
        two.first_heard = FirstHeard::from([
            ((0, 1), vec![(Nanos::ZERO, Some(ms(1_000)))]),
            ((1, 0), vec![(Nanos::ZERO, None), (ms(5_000), Some(ms(5_500)))]),
        ]);
        two.first_timeout = Some(ms(1_000));
        let (changes, flickers) = two.views();
        assert_eq!(
            changes,
            [change(1_000, 1, &[0]), change(2_000, 1, &[]), change(3_000, 0, &[1]), change(5_010, 0, &[])]
        );
        assert_eq!(flickers, Vec::<Flicker>::new());
        let f = two.lowest_unsuspected();
        assert_eq!((f.split_brain_s, f.split_brain_episodes), (1.0, 1));
    }

    /// `stable_after` 1 s. b suspects a over [2 s, 2.5 s), too short to act on (it would
    /// act from 3 s, but the view changed back at 2.5 s), and over [4 s, 7 s): b acts on {a}
    /// from 5 s and on {} from 8 s. Under `lowest-unsuspected` b leads over [5 s, 8 s) while
    /// a leads: split brain 3 s, one episode.
    #[test]
    fn a_view_shorter_than_stable_after_is_not_acted_on() {
        let two = Two::new(&[], &[(2_000, 2_500), (4_000, 7_000)], ms(1_000));
        let (changes, flickers) = two.views();
        assert_eq!(changes, [change(5_000, 1, &[0]), change(8_000, 1, &[])]);
        assert_eq!(flickers, Vec::<Flicker>::new());
        let f = two.lowest_unsuspected();
        assert_eq!((f.split_brain_s, f.split_brain_episodes), (3.0, 1));
    }

    /// b is paused over [1 s, 3 s) and, at its resume, suspects a for no time (its check
    /// fires before a's buffered heartbeat clears it). With `stable_after` 0 it is a flicker,
    /// and b (not leading, with a leading) would have led for no time: one split-brain
    /// instant. With `stable_after` 1 s b acts on settled views only and ignores it: none.
    #[test]
    fn flickers_count_only_without_stable_after() {
        let mut two = Two::new(&[], &[(3_000, 3_000)], Nanos::ZERO);
        two.paused[1] = vec![(ms(1_000), ms(3_000))];
        assert_eq!(two.views(), (vec![], vec![Flicker { at: ms(3_000), node: 1, peer: 0 }]));
        assert_eq!(two.lowest_unsuspected().split_brain_instants, 1);
        two.settings.stable_after = ms(1_000);
        assert_eq!(two.views(), (vec![], vec![]));
        let f = two.lowest_unsuspected();
        assert_eq!((f.split_brain_instants, f.split_brain_s), (0, 0.0));
    }
}
