//! Properties of the cluster analysis over random inputs, in the library's tests so that
//! mutation testing of `cluster/mod.rs` runs them with `--lib`.
//!
//! - Issue #12's per-instant property: at every instant, every running node that believes it
//!   leads under `majority` also believes it leads under `lowest-unsuspected` (the same
//!   views). The analysis records every node's state under one rule (`analyze_recording`);
//!   the two records, merged, are checked between every pair of consecutive change instants,
//!   and each record's own split-brain time (two or more leaders at once) must be the figure
//!   the analysis reports.
//! - The sweep against a direct computation: every figure of the view rules, the longest
//!   episode and the record, computed from the state after every instant at which anything
//!   changes (the views, crashes, pauses, stalls), without the sweep's events.
//! - The lease reading the record against a lease that takes every heartbeat.
//!
//! Inputs are drawn from a fixed-seed generator (deterministic): 2 to 6 nodes whose ids
//! sort differently from their indices, random suspicion intervals (zero-length ones, ones
//! past the end, overlapping ones included), peers some nodes do not watch (gossip),
//! crashes, whole-node pauses, receive stalls, `stable_after`, `first_timeout` and the
//! keep-majority tie-break.

use super::heard::Heard;
use super::rules::{Belief, Cx, Lease, Rule, ViewRule};
use super::{
    ClusterFigures, ClusterInput, FirstHeard, Heartbeat, LinkSuspicions, NodeSet, NodeState, analyze_recording,
    built_in, views,
};
use crate::analysis::poisson::poisson_rate_ci95;
use crate::experiment::{ClusterSettings, LeaderRule};
use crate::time::{Clock, Nanos};

/// SplitMix64: a small deterministic generator.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `0..k`.
    fn below(&mut self, k: u64) -> u64 {
        self.next() % k
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    /// A window `[from, to)` in ms on a 20 s run: mostly short, sometimes zero-length or
    /// running past the end.
    fn window(&mut self) -> (Nanos, Nanos) {
        let from = self.below(21_000);
        let len = match self.below(10) {
            0 => 0,
            1 => self.below(30_000),
            _ => self.below(3_000),
        };
        (Nanos::from_millis(from), Nanos::from_millis(from + len))
    }
}

const END_MS: u64 = 20_000;

struct Input {
    ids: Vec<String>,
    clocks: Vec<Clock>,
    crashed: Vec<Vec<(Nanos, Nanos)>>,
    paused: Vec<Vec<(Nanos, Nanos)>>,
    stalled: Vec<Vec<(Nanos, Nanos)>>,
    suspicions: LinkSuspicions,
    first_heard: FirstHeard,
    first_timeout: Option<Nanos>,
    settings: ClusterSettings,
    heard: Heard,
    /// Every crash's and pause's start, and a few others: each cuts a failover short.
    fault_starts: Vec<Nanos>,
}

fn random_input(seed: u64) -> Input {
    let mut g = Gen(seed);
    let n = 2 + g.below(5) as usize;
    // Ids in a shuffled order: index 0 is not necessarily the lowest id.
    let mut names: Vec<String> = (0..n).map(|i| format!("n{i}")).collect();
    for i in (1..n).rev() {
        names.swap(i, g.below(i as u64 + 1) as usize);
    }
    let mut suspicions = LinkSuspicions::new();
    let mut first_heard = FirstHeard::new();
    for x in 0..n {
        for p in (0..n).filter(|&p| p != x) {
            // Now and then x does not watch p (then it learns from p's monitors).
            if g.chance(15) {
                continue;
            }
            let mut list: Vec<(Nanos, Nanos)> = (0..g.below(4)).map(|_| g.window()).collect();
            list.sort_unstable();
            suspicions.insert((x, p), list);
            let heard = g.chance(80).then(|| Nanos::from_millis(g.below(END_MS)));
            first_heard.insert((x, p), vec![(Nanos::ZERO, heard)]);
        }
    }
    let windows = |g: &mut Gen, percent: u64| -> Vec<Vec<(Nanos, Nanos)>> {
        (0..n).map(|_| if g.chance(percent) { vec![g.window()] } else { Vec::new() }).collect()
    };
    let crashed = windows(&mut g, 25);
    let paused = windows(&mut g, 25);
    let mut stalled = paused.clone();
    for s in &mut stalled {
        if g.chance(15) {
            s.push(g.window());
        }
    }
    let settings = ClusterSettings {
        rules: Some(vec![LeaderRule::LowestUnsuspected, LeaderRule::Majority]),
        gossip_delay: Nanos::from_millis(g.below(3) * 250),
        stable_after: Nanos::from_millis(if g.chance(30) { g.below(1_500) } else { 0 }),
        majority_tie_break: g.chance(50),
        ..ClusterSettings::default()
    };
    let first_timeout = g.chance(30).then(|| Nanos::from_millis(500 + g.below(5_000)));
    let mut fault_starts: Vec<Nanos> = crashed.iter().chain(&paused).flatten().map(|w| w.0).collect();
    fault_starts.extend((0..g.below(3)).map(|_| g.window().0));
    Input {
        ids: names,
        clocks: vec![Clock::EXACT; n],
        crashed,
        paused,
        stalled,
        suspicions,
        first_heard,
        first_timeout,
        settings,
        heard: Heard::default(),
        fault_starts,
    }
}

impl Input {
    fn cluster(&self) -> ClusterInput<'_> {
        ClusterInput {
            ids: &self.ids,
            clocks: &self.clocks,
            crashed: &self.crashed,
            paused: &self.paused,
            stalled: &self.stalled,
            suspicions: &self.suspicions,
            first_heard: &self.first_heard,
            heard: &self.heard,
            fault_starts: &self.fault_starts,
            first_timeout: self.first_timeout,
            settings: &self.settings,
            end: Nanos::from_millis(END_MS),
        }
    }
}

/// Whether the state is a running node that believes it leads.
fn leads(s: Option<NodeState>) -> bool {
    matches!(s, Some(NodeState::Believes(Belief { leads: true, .. })))
}

#[test]
fn majority_leaders_lead_under_lowest_unsuspected_at_every_instant() {
    let end = Nanos::from_millis(END_MS);
    let (mut checked, mut majority_led, mut only_lowest, mut split) = (0u64, 0u64, 0u64, 0u64);
    for seed in 0..400u64 {
        let input = random_input(seed);
        let n = input.ids.len();
        let cx = input.cluster();
        // Rule 0: lowest-unsuspected; rule 1: majority (the order of `rules`).
        let record = |r: usize| analyze_recording(&cx, built_in(&input.settings, n), Some((r, end)));
        let (lowest, majority) = (record(0), record(1));
        assert_eq!(lowest.figures, majority.figures, "seed {seed}: recording changes no figure");
        assert_eq!(
            lowest.figures.iter().map(|f| f.rule.as_str()).collect::<Vec<_>>(),
            ["lowest-unsuspected", "majority"]
        );
        // Every instant at which some node's state changes under either rule.
        let mut instants: Vec<Nanos> =
            lowest.recorded.iter().chain(&majority.recorded).map(|r| r.0).chain([end]).collect();
        instants.sort_unstable();
        instants.dedup();
        assert!(instants[0] == Nanos::ZERO, "seed {seed}: every node's state is recorded from 0");
        let (mut state_l, mut state_m) = (vec![None; n], vec![None; n]);
        let (mut il, mut im) = (0, 0);
        let mut split_time = [Nanos::ZERO; 2];
        for w in instants.windows(2) {
            let (now, next) = (w[0], w[1]);
            while il < lowest.recorded.len() && lowest.recorded[il].0 == now {
                state_l[lowest.recorded[il].1] = Some(lowest.recorded[il].2);
                il += 1;
            }
            while im < majority.recorded.len() && majority.recorded[im].0 == now {
                state_m[majority.recorded[im].1] = Some(majority.recorded[im].2);
                im += 1;
            }
            let mut leaders = [0u32; 2];
            for x in 0..n {
                // Both records see the same node running or not.
                assert_eq!(
                    matches!(state_l[x], Some(NodeState::Believes(_))),
                    matches!(state_m[x], Some(NodeState::Believes(_))),
                    "seed {seed}: node {x} at {now:?}"
                );
                let (l, m) = (leads(state_l[x]), leads(state_m[x]));
                assert!(
                    !m || l,
                    "seed {seed}: {} leads under majority, not under lowest-unsuspected at {now:?}",
                    input.ids[x]
                );
                checked += 1;
                majority_led += u64::from(m);
                only_lowest += u64::from(l && !m);
                leaders[0] += u32::from(l);
                leaders[1] += u32::from(m);
            }
            for (time, leaders) in split_time.iter_mut().zip(leaders) {
                if leaders >= 2 {
                    *time = *time + (next - now);
                }
            }
        }
        assert_eq!((il, im), (lowest.recorded.len(), majority.recorded.len()), "seed {seed}");
        // The per-instant record and the tally agree: split brain is the time two or more
        // running nodes lead at once.
        for (figures, time) in lowest.figures.iter().zip(split_time) {
            assert_eq!(figures.split_brain_s, time.as_secs_f64(), "seed {seed} {}", figures.rule);
        }
        split += u64::from(split_time[0] > Nanos::ZERO);
    }
    // The property was exercised both ways.
    assert!(
        majority_led > 1_000 && only_lowest > 1_000 && split > 50,
        "{checked} {majority_led} {only_lowest} {split}"
    );
}

/// Episodes of a condition: maximal runs of adjacent intervals `[from, to)` in which it
/// held, merged from the intervals in time order.
fn episodes(held: &[(Nanos, Nanos)]) -> Vec<(Nanos, Nanos)> {
    let mut out: Vec<(Nanos, Nanos)> = Vec::new();
    for &(from, to) in held {
        match out.last_mut() {
            Some(last) if last.1 == from => last.1 = to,
            _ => out.push((from, to)),
        }
    }
    out
}

/// The view rules' figures, each one's longest split-brain episode, and rule 0's record.
type Direct = (Vec<ClusterFigures>, Vec<Option<(Nanos, Nanos)>>, Vec<(Nanos, usize, NodeState)>);

/// The view rules' figures, the longest episode of each and the record of rule 0, computed
/// directly: at every instant at which a view, a crash, a pause or a stall begins or ends,
/// each node's state is worked out from scratch (its view, whether it is crashed or paused)
/// and held until the next such instant. Failovers open at the crash of a node that led
/// just before; each is done at the first instant everyone running names one running
/// leader that leads, unless the next fault's start or the end comes first (at an instant
/// at or after it, before that instant's crashes: censored).
fn direct(input: &Input) -> Direct {
    let cx_in = input.cluster();
    let (n, end) = (input.ids.len(), cx_in.end);
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| input.ids[a].cmp(&input.ids[b]));
    let (changes, flickers) = views::acting_views(&cx_in);
    let live = |w: &&(Nanos, Nanos)| w.0 < w.1 && w.0 < end;
    let mut instants: Vec<Nanos> = vec![Nanos::ZERO];
    instants.extend(changes.iter().map(|c| c.at));
    for lists in [&input.crashed, &input.paused] {
        for w in lists.iter().flatten().filter(live) {
            instants.push(w.0);
            instants.extend([w.1].into_iter().filter(|&t| t < end));
        }
    }
    for w in input.stalled.iter().flatten().filter(live) {
        instants.extend([w.0, w.1.min(end)]);
    }
    instants.retain(|&t| t < end);
    instants.sort_unstable();
    instants.dedup();
    let within =
        |lists: &[Vec<(Nanos, Nanos)>], x: usize, t: Nanos| lists[x].iter().filter(live).any(|w| w.0 <= t && t < w.1);
    let mut starts = input.fault_starts.clone();
    starts.sort_unstable();
    let mut rules = [
        ViewRule { majority: false, tie_break: false },
        ViewRule { majority: true, tie_break: input.settings.majority_tie_break },
    ];
    // Per rule: the intervals of split brain, leaderless and disagreement; failovers done
    // and censored; zero-length leads.
    let mut held: [[Vec<(Nanos, Nanos)>; 3]; 2] = Default::default();
    let mut done: [Vec<Nanos>; 2] = Default::default();
    let (mut censored, mut instants_counted) = ([0u64; 2], [0u64; 2]);
    let mut open: [Option<(Nanos, Nanos)>; 2] = [None; 2];
    let mut before: [Vec<Option<Belief>>; 2] = [vec![None; n], vec![None; n]];
    let mut recorded = Vec::new();
    let mut last: Vec<Option<NodeState>> = vec![None; n];
    let stalled = vec![0u32; n];
    for (k, &now) in instants.iter().enumerate() {
        let next = instants.get(k + 1).copied().unwrap_or(end);
        let mut view = vec![NodeSet::new(n); n];
        for c in changes.iter().filter(|c| c.at <= now) {
            view[c.node] = c.set.clone();
        }
        let cx = Cx { n, order: &order, clocks: &input.clocks, now, views: &view, stalled: &stalled, heard: None };
        let crashed: Vec<bool> = (0..n).map(|x| within(&input.crashed, x, now)).collect();
        let paused: Vec<bool> = (0..n).map(|x| within(&input.paused, x, now)).collect();
        let running: Vec<bool> = (0..n).map(|x| !crashed[x] && !paused[x]).collect();
        for (r, rule) in rules.iter_mut().enumerate() {
            // The next fault's start, passed, cuts the failover under way short.
            if open[r].is_some_and(|(_, censor)| now >= censor) {
                censored[r] += 1;
                open[r] = None;
            }
            // A crash now of a node that led until now opens a failover.
            let crashing = (0..n).filter(|&x| input.crashed[x].iter().filter(live).any(|w| w.0 == now));
            if open[r].is_none() && crashing.into_iter().any(|x| before[r][x].is_some_and(|b| b.leads)) {
                open[r] = Some((now, starts.iter().copied().find(|&s| s > now).unwrap_or(end)));
            }
            let beliefs: Vec<Option<Belief>> = (0..n).map(|x| running[x].then(|| rule.belief(&cx, x, now))).collect();
            let leading = beliefs.iter().flatten().filter(|b| b.leads).count();
            let mut named: Vec<Option<usize>> = beliefs.iter().flatten().map(|b| b.names).collect();
            named.sort_unstable();
            named.dedup();
            if let Some((from, _)) = open[r]
                && matches!(named[..], [Some(l)] if beliefs[l].is_some_and(|b| b.leads))
            {
                done[r].push(now - from);
                open[r] = None;
            }
            let any_running = running.iter().any(|&r| r);
            for (c, holds) in [leading >= 2, any_running && leading == 0, named.len() > 1].into_iter().enumerate() {
                if holds {
                    held[r][c].push((now, next));
                }
            }
            // Zero-length suspicions now: a node that does not lead, while another does,
            // would have led for no time.
            let mut xs: Vec<usize> = flickers.iter().filter(|f| f.at == now).map(|f| f.node).collect();
            xs.dedup();
            for x in xs.into_iter().filter(|&x| running[x]) {
                let mut extra = NodeSet::new(n);
                flickers.iter().filter(|f| f.at == now && f.node == x).for_each(|f| extra.set(f.peer, true));
                let leads = beliefs[x].is_some_and(|b| b.leads);
                if !leads && leading > 0 && rule.flicker(&cx, x, &extra).is_some_and(|b| b.leads) {
                    instants_counted[r] += 1;
                }
            }
            if r == 0 {
                for x in 0..n {
                    let state = if crashed[x] {
                        NodeState::Crashed
                    } else if paused[x] {
                        NodeState::Paused
                    } else {
                        NodeState::Believes(beliefs[x].expect("running"))
                    };
                    if last[x] != Some(state) {
                        last[x] = Some(state);
                        recorded.push((now, x, state));
                    }
                }
            }
            before[r] = beliefs;
        }
    }
    let end_s = end.as_secs_f64();
    let total = |e: &[(Nanos, Nanos)]| e.iter().fold(Nanos::ZERO, |a, w| a + (w.1 - w.0));
    let mut longest = Vec::new();
    let figures = (0..2)
        .map(|r| {
            let [split, leaderless, disagreement] = held[r].clone().map(|h| episodes(&h));
            // The first of the longest episodes.
            let mut best: Option<(Nanos, Nanos)> = None;
            for &e in &split {
                if best.is_none_or(|b| e.1 - e.0 > b.1 - b.0) {
                    best = Some(e);
                }
            }
            longest.push(best);
            let count = split.len() as u64;
            let d = &done[r];
            ClusterFigures {
                rule: rules[r].name(),
                split_brain_s: total(&split).as_secs_f64(),
                split_brain_fraction: total(&split).as_secs_f64() / end_s,
                split_brain_episodes: count,
                split_brain_rate_per_s: count as f64 / end_s,
                split_brain_rate_per_s_ci95: poisson_rate_ci95(count, end_s),
                split_brain_longest_s: best.map_or(0.0, |b| (b.1 - b.0).as_secs_f64()),
                split_brain_instants: instants_counted[r],
                leaderless_s: total(&leaderless).as_secs_f64(),
                disagreement_s: total(&disagreement).as_secs_f64(),
                failovers: d.len() as u64,
                failovers_censored: censored[r] + u64::from(open[r].is_some()),
                failover_mean_s: (!d.is_empty()).then(|| total_of(d).as_secs_f64() / d.len() as f64),
                failover_max_s: d.iter().max().map(|m| m.as_secs_f64()),
            }
        })
        .collect();
    (figures, longest, recorded)
}

fn total_of(d: &[Nanos]) -> Nanos {
    d.iter().fold(Nanos::ZERO, |a, &b| a + b)
}

#[test]
fn the_sweep_gives_what_the_state_at_every_instant_gives() {
    let end = Nanos::from_millis(END_MS);
    let mut seen = [0u64; 6];
    for seed in 0..400u64 {
        let mut input = random_input(seed);
        let n = input.ids.len();
        if seed % 2 == 1 {
            // Zero-length suspicions where they occur, at the resume of a pause (checks that
            // fire before the buffered heartbeats clear them), and at other nodes' resumes.
            let mut g = Gen(seed ^ 0xf11c);
            let resumes: Vec<Nanos> = input.paused.iter().flatten().map(|w| w.1).collect();
            for (_, list) in input.suspicions.iter_mut() {
                for &at in &resumes {
                    if g.chance(40) {
                        list.push((at, at));
                    }
                }
                list.sort_unstable();
            }
        }
        let cx = input.cluster();
        // Recorded until a random instant: the record stops there, the figures do not.
        let until = if seed % 3 == 0 { Nanos::from_millis(seed * 37 % END_MS) } else { end };
        let a = analyze_recording(&cx, built_in(&input.settings, n), Some((0, until)));
        let (figures, longest, recorded) = direct(&input);
        assert_eq!(a.figures, figures, "seed {seed}");
        assert_eq!(a.longest, longest, "seed {seed}: the longest episode");
        let mut sweep = a.recorded.clone();
        sweep.sort_by_key(|r| (r.0, r.1));
        let direct: Vec<_> = recorded.into_iter().filter(|r| r.0 <= until).collect();
        assert_eq!(sweep, direct, "seed {seed}: the record up to {until:?}");
        for f in &figures {
            seen[0] += f.split_brain_episodes;
            seen[1] += u64::from(f.leaderless_s > 0.0);
            seen[2] += u64::from(f.disagreement_s > 0.0);
            seen[3] += f.failovers;
            seen[4] += f.failovers_censored;
            seen[5] += f.split_brain_instants;
        }
    }
    // Every figure was exercised: episodes, leaderless and disagreeing time, failovers done
    // and censored, zero-length leads.
    assert!(seen.iter().all(|&c| c >= 20), "{seen:?}");
}

/// The lease as it was first written: a rule that takes every heartbeat as an event
/// ([`Rule::reads_heartbeats`]), keeping per node the last arrival and the newest heartbeat
/// from every peer, and what each heartbeat carried from its send. The built-in lease reads
/// the same from the record only when it matters; both must give the same beliefs.
struct EveryHeartbeat {
    lease: Nanos,
    margin: Nanos,
    nodes: Vec<Node>,
    carried: Vec<Option<(usize, Option<Nanos>)>>,
    /// Per node, its receive stalls, read here from the input rather than from the sweep's
    /// count of them.
    stalls: Vec<Vec<(Nanos, Nanos)>>,
}

#[derive(Clone)]
struct Node {
    follows: usize,
    since: Nanos,
    last_arrival: Vec<Option<Nanos>>,
    newest: Vec<Option<(Nanos, usize)>>,
    acks: Vec<Option<Nanos>>,
}

impl Node {
    fn new(x: usize, n: usize, at: Nanos) -> Node {
        Node { follows: x, since: at, last_arrival: vec![None; n], newest: vec![None; n], acks: vec![None; n] }
    }
}

fn real_at(clock: Clock, local: Nanos) -> Nanos {
    let mut t = clock.real(local);
    while clock.local(t) < local && t < Nanos::MAX {
        t = t.saturating_add(Nanos(1));
    }
    t
}

impl EveryHeartbeat {
    /// Whether `x`'s receiving is stalled at `now` (after the instant's events).
    fn stalled(&self, x: usize, now: Nanos) -> bool {
        self.stalls[x].iter().any(|w| w.0 <= now && now < w.1)
    }

    fn lease_end(&self, cx: &Cx<'_>, x: usize) -> Option<Nanos> {
        let node = &self.nodes[x];
        let others = cx.n / 2;
        if node.follows != x || others == 0 {
            return None;
        }
        let mut acked: Vec<Nanos> = node.acks.iter().flatten().copied().collect();
        acked.sort_unstable_by(|a, b| b.cmp(a));
        acked.get(others - 1).map(|&s| cx.clocks[x].local(s).saturating_add(self.lease))
    }

    fn silence_end(&self, cx: &Cx<'_>, x: usize) -> Nanos {
        let node = &self.nodes[x];
        let from = node.last_arrival[node.follows].map_or(node.since, |a| a.max(node.since));
        cx.clocks[x].local(from).saturating_add(self.lease).saturating_add(self.margin)
    }

    fn switch(&mut self, x: usize, to: usize, at: Nanos) {
        let node = &mut self.nodes[x];
        (node.follows, node.since) = (to, at);
        node.acks.iter_mut().for_each(|a| *a = None);
    }
}

impl Rule for EveryHeartbeat {
    fn name(&self) -> String {
        "every-heartbeat".into()
    }
    fn reads_heartbeats(&self) -> bool {
        true
    }
    fn start(&mut self, cx: &Cx<'_>, x: usize, at: Nanos) {
        self.nodes[x] = Node::new(x, cx.n, at);
    }
    fn send(&mut self, _cx: &Cx<'_>, id: usize, hb: &Heartbeat) -> bool {
        let node = &self.nodes[hb.from];
        if self.carried.len() <= id {
            self.carried.resize(id + 1, None);
        }
        self.carried[id] = Some((node.follows, node.newest[node.follows].map(|(sent, _)| sent)));
        false
    }
    fn deliver(&mut self, _cx: &Cx<'_>, id: usize, hb: &Heartbeat) -> bool {
        let (follows, acked) = self.carried[id].expect("sent before delivered");
        let node = &mut self.nodes[hb.to];
        node.last_arrival[hb.from] = Some(hb.at);
        if node.newest[hb.from].is_none_or(|(sent, _)| sent <= hb.sent) {
            node.newest[hb.from] = Some((hb.sent, follows));
        }
        if follows == hb.to
            && node.follows == hb.to
            && let Some(s) = acked.filter(|&s| s >= node.since)
        {
            let a = &mut node.acks[hb.from];
            *a = Some(a.map_or(s, |a| a.max(s)));
            return true;
        }
        hb.from == node.follows
    }
    fn belief(&mut self, cx: &Cx<'_>, x: usize, at: Nanos) -> Belief {
        let candidate = cx.candidate(x);
        if !self.stalled(x, at) {
            let f = self.nodes[x].follows;
            if f == x {
                if candidate != x {
                    self.switch(x, candidate, at);
                }
            } else if candidate != f {
                let silent = cx.clocks[x].local(at) >= self.silence_end(cx, x);
                let disowned = self.nodes[x].newest[f].is_some_and(|(_, g)| g != f);
                if silent || disowned {
                    self.switch(x, candidate, at);
                }
            }
        }
        let leads = self.lease_end(cx, x).is_some_and(|end| cx.clocks[x].local(at) < end);
        Belief { names: Some(self.nodes[x].follows), leads }
    }
    fn deadline(&self, cx: &Cx<'_>, x: usize) -> Option<Nanos> {
        let node = &self.nodes[x];
        if node.follows == x {
            self.lease_end(cx, x).map(|end| real_at(cx.clocks[x], end))
        } else if cx.candidate(x) != node.follows && !self.stalled(x, cx.now) {
            Some(real_at(cx.clocks[x], self.silence_end(cx, x)))
        } else {
            None
        }
    }
}

/// Random heartbeats on every link a node watches (and a few it does not): a sender's
/// slots 150–650 ms apart, up to two cuts a link (nothing sent then arrives), delays of
/// 0–250 ms with now and then seconds (reordering), duplicates, and heartbeats sent and handled whatever the nodes' crashes and pauses (the
/// rules must agree on any record).
fn random_heard(g: &mut Gen, n: usize, watched: &LinkSuspicions, grid: u64) -> Heard {
    let on_grid = |ms: u64| Nanos::from_millis(ms / grid * grid);
    let mut heard = Heard::default();
    for to in 0..n {
        for from in (0..n).filter(|&f| f != to) {
            if !watched.contains_key(&(to, from)) && !g.chance(20) {
                continue;
            }
            // Now and then the link is cut for a while: silence.
            let cuts: Vec<(Nanos, Nanos)> = (0..g.below(3)).map(|_| g.window()).collect();
            let mut sent = g.below(400);
            while sent < END_MS {
                if cuts.iter().any(|c| c.0 <= Nanos::from_millis(sent) && Nanos::from_millis(sent) < c.1) {
                    sent += 150 + g.below(500);
                    continue;
                }
                let delay = if g.chance(5) { g.below(4_000) } else { g.below(250) };
                let copies = if g.chance(4) { 2 } else { 1 };
                for _ in 0..copies {
                    let extra = g.below(3);
                    let sent = on_grid(sent);
                    heard.push(from, to, sent, sent.max(on_grid(sent.0 / 1_000_000 + delay + extra)));
                }
                sent += 150 + g.below(500);
            }
        }
    }
    heard
}

#[test]
fn the_lease_reading_the_record_believes_what_it_believes_taking_every_heartbeat() {
    let end = Nanos::from_millis(END_MS);
    let (mut led, mut states) = (0usize, 0usize);
    for seed in 0..300u64 {
        let mut input = random_input(seed);
        let n = input.ids.len();
        let mut g = Gen(seed ^ 0x5eed);
        // Half the inputs on a 100 ms grid: events of one instant coincide (a heartbeat sent
        // as its sender switches, handled as its receiver restarts or switches, or with no
        // delay at all), where the order of an instant's events decides.
        let grid = if g.chance(50) { 100 } else { 1 };
        if grid > 1 {
            let coarse = |w: &mut (Nanos, Nanos)| {
                let round = |t: Nanos| Nanos(t.0 / 100_000_000 * 100_000_000);
                *w = (round(w.0), round(w.1));
            };
            for lists in [&mut input.crashed, &mut input.paused, &mut input.stalled] {
                lists.iter_mut().flatten().for_each(coarse);
            }
            input.suspicions.values_mut().flatten().for_each(coarse);
        }
        input.heard = random_heard(&mut g, n, &input.suspicions, grid);
        if g.chance(50) {
            // Rates from 0.5 to 1.5: a slow leader's lease outlasts a fast follower's patience.
            input.clocks = (0..n).map(|_| Clock::from_rate(0.5 + g.below(1_000) as f64 / 1_000.0).unwrap()).collect();
        }
        let lease = Nanos::from_millis(if g.chance(50) { 100 + g.below(500) } else { 200 + g.below(2_500) });
        let margin = Nanos::from_millis(if g.chance(50) { 0 } else { g.below(800) });
        let cx = input.cluster();
        let rules = || -> Vec<Box<dyn Rule>> {
            vec![
                Box::new(Lease::new(n, lease, margin)),
                Box::new(EveryHeartbeat {
                    lease,
                    margin,
                    nodes: vec![Node::new(0, n, Nanos::ZERO); n],
                    carried: Vec::new(),
                    stalls: input.stalled.clone(),
                }),
            ]
        };
        let (record, reference) =
            (analyze_recording(&cx, rules(), Some((0, end))), analyze_recording(&cx, rules(), Some((1, end))));
        let mut figures = record.figures.clone();
        figures[1].rule = "lease".into();
        assert_eq!(figures[0], figures[1], "seed {seed}: the figures");
        assert_eq!(record.recorded, reference.recorded, "seed {seed}: every node's state at every instant");
        assert_eq!(record.figures, reference.figures, "seed {seed}: recording changes no figure");
        // The experiment's `lease` and `lease_margin` make the same rule, in the order the
        // rules are listed.
        let settings = ClusterSettings {
            rules: Some(vec![LeaderRule::Lease, LeaderRule::Majority]),
            lease: Some(lease),
            lease_margin: margin,
            ..input.settings.clone()
        };
        let built = analyze_recording(&cx, built_in(&settings, n), None).figures;
        assert_eq!(built[0], record.figures[0], "seed {seed}: the lease from the settings");
        assert_eq!(built[1].rule, "majority");
        led +=
            record.recorded.iter().filter(|r| matches!(r.2, NodeState::Believes(Belief { leads: true, .. }))).count();
        states += record.recorded.len();
    }
    // The comparison covered many leaders and changes of state. (Split brain under the
    // lease needs a drifting clock and a quorum that moves inside one lease; the known
    // answers of tests/split_brain.rs cover it.)
    assert!(led > 1_500 && states > 6_000, "{led} {states}");
}
