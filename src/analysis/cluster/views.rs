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
            // (A suspicion that began and ended at this instant leaves the set unchanged.)
            if raw[x].last().map_or(!current[x].is_empty(), |(_, s)| *s != current[x]) {
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
            let stop = input.crashed[x].iter().map(|w| w.0).filter(|&c| c > start).min().unwrap_or(input.end);
            let to = heard.unwrap_or(stop).min(stop);
            (from < to).then_some((from, to))
        })
        .collect()
}
