//! Cluster views, leader rules and split brain (docs/split-brain.md).
//!
//! Views never feed back into heartbeats, so they are computed after the run from what the
//! engine reported: every monitored link's suspicion intervals (real time) for each
//! detector configuration, and when each node was running. At every instant:
//!
//! - the **view** of node X is the set of peers X suspects: its own verdict on the peers it
//!   monitors, and for a peer it does not monitor the union of that peer's monitors'
//!   verdicts, `gossip_delay` late (Akka: unreachable if any observer says so);
//! - X's **leader** under a rule ([`LeaderRule`]) follows from its view;
//! - **split brain** is any time during which two or more running nodes each believe they
//!   lead. A node is running unless crashed or in a whole-node pause.
//!
//! The state at an instant is the state after all events of that instant (intervals are
//! half-open), so a zero-length suspicion changes no leader here.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::poisson::poisson_rate_ci95;
use crate::experiment::LeaderRule;
use crate::time::Nanos;

/// Suspicion intervals `[start, end)` per monitored link (monitor, target), by node index.
pub type LinkSuspicions = BTreeMap<(usize, usize), Vec<(Nanos, Nanos)>>;

/// What the analysis needs from the engine, for one detector configuration.
pub struct ClusterInput<'a> {
    /// Node names; a rule's "lowest id" is the lowest in this (string) order.
    pub ids: &'a [String],
    /// Per node, the windows `[from, to)` in which it was crashed, real time, in any order
    /// (`to` is the run's end for a crash-stop).
    pub crashed: &'a [Vec<(Nanos, Nanos)>],
    /// Per node, the windows in which the whole node was paused (alive, not running).
    pub paused: &'a [Vec<(Nanos, Nanos)>],
    /// Per monitored link (monitor, target) by node index, its suspicion intervals `[start,
    /// end)` in real time.
    pub suspicions: &'a LinkSuspicions,
    pub gossip_delay: Nanos,
    pub end: Nanos,
}

/// The figures of one detector configuration under one rule.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ClusterFigures {
    pub rule: LeaderRule,
    /// Time during which two or more running nodes each believed they led.
    pub split_brain_s: f64,
    pub split_brain_fraction: f64,
    /// Maximal intervals of split brain.
    pub split_brain_episodes: u64,
    pub split_brain_rate_per_s: f64,
    /// Exact (Garwood) 95 % interval of the episode rate.
    pub split_brain_rate_per_s_ci95: Option<[f64; 2]>,
    pub split_brain_longest_s: f64,
    /// Time with at least one running node and none that believed it led.
    pub leaderless_s: f64,
    /// Time during which running nodes named different leaders (or some none).
    pub disagreement_s: f64,
}

/// The wrongful downing of one detector configuration (independent of the rule): time
/// during which a node that had not crashed was suspected by at least one of its monitors
/// that had not crashed (Akka marks a node unreachable on one observer's word), summed over
/// nodes, and how many such intervals.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Downing {
    pub wrongful_downing_s: f64,
    pub wrongful_downing_episodes: u64,
}

/// The cluster figures of one detector configuration: one entry per rule, and downing.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ClusterEntry {
    pub detector: String,
    pub kind: String,
    #[serde(default)]
    pub knob: Option<String>,
    pub threshold: f64,
    #[serde(flatten)]
    pub downing: Downing,
    pub rules: Vec<ClusterFigures>,
}

/// Which nodes X suspects: for each ordered pair, how many intervals (own or gossiped)
/// currently say so.
struct Views {
    n: usize,
    count: Vec<u32>,
}

impl Views {
    fn suspects(&self, x: usize, p: usize) -> bool {
        self.count[x * self.n + p] > 0
    }
}

/// An event at an instant: a pair's suspicion count changes, or a node starts or stops
/// running.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Change {
    /// (viewer, peer, +1 or −1 as 1 or 0)
    Suspicion {
        x: usize,
        p: usize,
        up: bool,
    },
    Running {
        node: usize,
        up: bool,
        crash: bool,
    },
}

/// Computes the figures of `rules` and the downing for one detector configuration.
pub fn analyze(input: &ClusterInput<'_>, rules: &[LeaderRule]) -> (Downing, Vec<ClusterFigures>) {
    let n = input.ids.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| input.ids[a].cmp(&input.ids[b]));
    let monitors_of = |p: usize| input.suspicions.keys().filter(move |(_, t)| *t == p).map(|(m, _)| *m);
    let mut events: Vec<(Nanos, Change)> = Vec::new();
    let mut add = |from: Nanos, to: Nanos, x: usize, p: usize| {
        let (from, to) = (from.min(input.end), to.min(input.end));
        if from < to {
            events.push((from, Change::Suspicion { x, p, up: true }));
            events.push((to, Change::Suspicion { x, p, up: false }));
        }
    };
    for x in 0..n {
        for p in (0..n).filter(|&p| p != x) {
            match input.suspicions.get(&(x, p)) {
                Some(own) => own.iter().for_each(|&(s, e)| add(s, e, x, p)),
                None => {
                    for m in monitors_of(p).filter(|&m| m != x) {
                        for &(s, e) in &input.suspicions[&(m, p)] {
                            add(s.saturating_add(input.gossip_delay), e.saturating_add(input.gossip_delay), x, p);
                        }
                    }
                }
            }
        }
    }
    for (crash, lists) in [(true, input.crashed), (false, input.paused)] {
        for (node, windows) in lists.iter().enumerate() {
            for &(from, to) in windows {
                let (from, to) = (from.min(input.end), to.min(input.end));
                if from < to {
                    events.push((from, Change::Running { node, up: false, crash }));
                    events.push((to, Change::Running { node, up: true, crash }));
                }
            }
        }
    }
    events.sort();
    let mut views = Views { n, count: vec![0; n * n] };
    // How many crash and pause windows each node is in.
    let (mut crashed, mut paused) = (vec![0u32; n], vec![0u32; n]);
    let mut figures: Vec<Accumulator> = rules.iter().map(|_| Accumulator::default()).collect();
    let mut downing = Accumulator::default();
    let mut i = 0;
    let mut now = Nanos::ZERO;
    loop {
        while let Some(&(at, change)) = events.get(i).filter(|(at, _)| *at <= now) {
            debug_assert_eq!(at, now);
            match change {
                Change::Suspicion { x, p, up } => {
                    let c = &mut views.count[x * n + p];
                    *c = if up { *c + 1 } else { *c - 1 };
                }
                Change::Running { node, up, crash } => {
                    let c = if crash { &mut crashed[node] } else { &mut paused[node] };
                    *c = if up { *c - 1 } else { *c + 1 };
                }
            }
            i += 1;
        }
        let next = events.get(i).map_or(input.end, |e| e.0).min(input.end);
        if next > now {
            let running: Vec<usize> = order.iter().copied().filter(|&x| crashed[x] == 0 && paused[x] == 0).collect();
            for (rule, acc) in rules.iter().zip(&mut figures) {
                let leaders: Vec<Option<usize>> = running.iter().map(|&x| leader(*rule, x, &order, &views)).collect();
                let leading = running.iter().zip(&leaders).filter(|(x, l)| Some(**x) == **l).count();
                acc.split.step(leading >= 2, now, next);
                acc.leaderless.step(!running.is_empty() && leading == 0, now, next);
                acc.disagreement.step(leaders.windows(2).any(|w| w[0] != w[1]), now, next);
            }
            // Downing: a node not crashed (a paused one is alive) suspected by one of its
            // monitors that is not crashed.
            for p in 0..n {
                let suspected = input
                    .suspicions
                    .keys()
                    .filter(|(m, t)| *t == p && crashed[*m] == 0)
                    .any(|&(m, _)| views.suspects(m, p));
                downing.per_node.entry(p).or_default().step(suspected && crashed[p] == 0, now, next);
            }
        }
        if next >= input.end {
            break;
        }
        now = next;
    }
    let end_s = input.end.as_secs_f64();
    let downing = Downing {
        wrongful_downing_s: downing.per_node.values().map(|s| s.total.as_secs_f64()).sum(),
        wrongful_downing_episodes: downing.per_node.values().map(|s| s.episodes).sum(),
    };
    let figures = rules
        .iter()
        .zip(figures)
        .map(|(&rule, a)| ClusterFigures {
            rule,
            split_brain_s: a.split.total.as_secs_f64(),
            split_brain_fraction: if end_s > 0.0 { a.split.total.as_secs_f64() / end_s } else { 0.0 },
            split_brain_episodes: a.split.episodes,
            split_brain_rate_per_s: if end_s > 0.0 { a.split.episodes as f64 / end_s } else { 0.0 },
            split_brain_rate_per_s_ci95: poisson_rate_ci95(a.split.episodes, end_s),
            split_brain_longest_s: a.split.longest.as_secs_f64(),
            leaderless_s: a.leaderless.total.as_secs_f64(),
            disagreement_s: a.disagreement.total.as_secs_f64(),
        })
        .collect();
    (downing, figures)
}

/// The leader node `x` believes in under `rule`, with `order` the nodes by id.
fn leader(rule: LeaderRule, x: usize, order: &[usize], views: &Views) -> Option<usize> {
    let trusted = || order.iter().copied().filter(|&p| p == x || !views.suspects(x, p));
    let lowest = trusted().next();
    match rule {
        LeaderRule::LowestUnsuspected => lowest,
        LeaderRule::Majority => (trusted().count() > order.len() / 2).then_some(lowest).flatten(),
    }
}

/// Time, episodes and the longest episode of a condition over the run.
#[derive(Default)]
struct Span {
    total: Nanos,
    episodes: u64,
    longest: Nanos,
    current: Nanos,
    /// Where the condition last held until (an episode continues across adjacent steps).
    until: Option<Nanos>,
}

impl Span {
    fn step(&mut self, holds: bool, from: Nanos, to: Nanos) {
        if !holds {
            return;
        }
        if self.until != Some(from) {
            self.episodes += 1;
            self.current = Nanos::ZERO;
        }
        self.total = self.total + (to - from);
        self.current = self.current + (to - from);
        self.longest = self.longest.max(self.current);
        self.until = Some(to);
    }
}

#[derive(Default)]
struct Accumulator {
    split: Span,
    leaderless: Span,
    disagreement: Span,
    per_node: BTreeMap<usize, Span>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Nanos {
        Nanos::from_millis(v)
    }

    type Link = (usize, usize);

    fn ids() -> Vec<String> {
        ["a", "b", "c"].map(String::from).to_vec()
    }

    /// All-to-all over a, b, c with the given suspicion intervals (others none).
    fn run(
        intervals: &[(Link, (u64, u64))],
        paused: &[Vec<(Nanos, Nanos)>],
        gossip: bool,
    ) -> (Downing, Vec<ClusterFigures>) {
        let mut suspicions = LinkSuspicions::new();
        for x in 0..3 {
            for p in 0..3 {
                if x != p && (!gossip || x != 2 || p != 0) {
                    suspicions.insert((x, p), Vec::new());
                }
            }
        }
        for &(link, (s, e)) in intervals {
            suspicions.get_mut(&link).unwrap().push((ms(s), ms(e)));
        }
        let input = ClusterInput {
            ids: &ids(),
            crashed: &[vec![], vec![], vec![]],
            paused,
            suspicions: &suspicions,
            gossip_delay: ms(100),
            end: ms(100_000),
        };
        analyze(&input, &[LeaderRule::LowestUnsuspected, LeaderRule::Majority])
    }

    #[test]
    fn one_node_suspecting_the_lowest_makes_split_brain_under_lowest_unsuspected_only_with_its_majority() {
        // b suspects a over [13.01 s, 21.01 s): a (lowest) and b both lead.
        let (downing, f) = run(&[((1, 0), (13_010, 21_010))], &[vec![], vec![], vec![]], false);
        assert_eq!((f[0].split_brain_s, f[0].split_brain_episodes), (8.0, 1));
        assert_eq!(f[0].split_brain_longest_s, 8.0);
        // b's view holds b and c: a majority of 3, so b leads under `majority` too.
        assert_eq!(f[1].split_brain_s, 8.0);
        // b names b, a and c name a.
        assert_eq!(f[0].disagreement_s, 8.0);
        assert_eq!(f[0].leaderless_s, 0.0);
        assert_eq!((downing.wrongful_downing_s, downing.wrongful_downing_episodes), (8.0, 1));
    }

    #[test]
    fn a_node_alone_in_its_view_has_no_majority() {
        // Partition {a} | {b, c}: both sides suspect the other from 13.01 s to 21.01 s.
        let cut = (13_010, 21_010);
        let (downing, f) =
            run(&[((0, 1), cut), ((0, 2), cut), ((1, 0), cut), ((2, 0), cut)], &[vec![], vec![], vec![]], false);
        assert_eq!(f[0].split_brain_s, 8.0, "a and b both lead");
        assert_eq!(f[1].split_brain_s, 0.0, "a has no majority");
        assert_eq!(f[1].disagreement_s, 8.0, "a names none, b and c name b");
        assert_eq!(downing.wrongful_downing_s, 3.0 * 8.0, "a, b and c are each suspected by someone");
    }

    #[test]
    fn nodes_that_are_not_running_neither_lead_nor_count() {
        // b suspects a over [13.01, 16.01) while a is paused over [10.5, 15.5): split brain
        // only once a runs again.
        let paused = vec![vec![(ms(10_500), ms(15_500))], vec![], vec![]];
        let (downing, f) = run(&[((1, 0), (13_010, 16_010))], &paused, false);
        assert!((f[0].split_brain_s - 0.51).abs() < 1e-12, "{}", f[0].split_brain_s);
        // Leaderless while a is paused and before b suspects it: b and c both name a.
        assert!((f[0].leaderless_s - 2.51).abs() < 1e-12, "{}", f[0].leaderless_s);
        // A paused node is alive: suspecting it is wrongful downing.
        assert!((downing.wrongful_downing_s - 3.0).abs() < 1e-12);
    }

    #[test]
    fn a_peer_not_monitored_is_judged_by_its_monitors_after_the_gossip_delay() {
        // c does not monitor a; b suspects a over [10 s, 20 s): c learns it at 10.1 s.
        let (_, f) = run(&[((1, 0), (10_000, 20_000))], &[vec![], vec![], vec![]], true);
        // Split brain: a and b lead over [10, 20) (c never leads). Disagreement: b names
        // b over [10, 20), c names b over [10.1, 20.1) while a names a: [10, 20.1).
        assert_eq!((f[0].split_brain_s, f[0].split_brain_episodes), (10.0, 1));
        assert!((f[0].disagreement_s - 10.1).abs() < 1e-12, "{}", f[0].disagreement_s);
    }

    #[test]
    fn what_runs_past_the_end_is_cut_at_the_end() {
        // b suspects a from 99 s until after the run's end at 100 s; a is paused from 99.5 s
        // on, past the end: split brain [99, 99.5), downing [99, 100).
        let paused = vec![vec![(ms(99_500), ms(200_000))], vec![], vec![]];
        let (downing, f) = run(&[((1, 0), (99_000, 150_000))], &paused, false);
        assert!((f[0].split_brain_s - 0.5).abs() < 1e-12 && f[0].split_brain_episodes == 1, "{f:?}");
        assert!((downing.wrongful_downing_s - 1.0).abs() < 1e-12);
        assert!((f[0].split_brain_fraction - 0.5 / 100.0).abs() < 1e-15);
    }

    #[test]
    fn split_brain_is_zero_when_no_running_node_is_suspected() {
        let (downing, f) = run(&[], &[vec![(ms(1_000), ms(2_000))], vec![], vec![]], false);
        assert!(f.iter().all(|f| f.split_brain_s == 0.0 && f.split_brain_episodes == 0));
        assert_eq!(downing.wrongful_downing_episodes, 0);
        assert_eq!(f[0].split_brain_rate_per_s_ci95.unwrap()[0], 0.0);
    }
}
