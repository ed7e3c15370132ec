//! Issue #12's per-instant property, over random cluster inputs: at every instant, every
//! running node that believes it leads under `majority` also believes it leads under
//! `lowest-unsuspected` (the same views). The analysis records every node's state under one
//! rule (`analyze_recording`); the two records, merged, are checked between every pair of
//! consecutive change instants, and each record's own split-brain time (two or more
//! leaders at once) must be the figure the analysis reports.
//!
//! Inputs are drawn from a fixed-seed generator (deterministic): 2 to 6 nodes whose ids
//! sort differently from their indices, random suspicion intervals (zero-length ones, ones
//! past the end, overlapping ones included), peers some nodes do not watch (gossip),
//! crashes, whole-node pauses, receive stalls, `stable_after`, `first_timeout` and the
//! keep-majority tie-break.

use fdlab::Nanos;
use fdlab::analysis::cluster::{
    ClusterInput, FirstHeard, LinkSuspicions, NodeState, analyze_recording, built_in, rules::Belief,
};
use fdlab::experiment::{ClusterSettings, LeaderRule};
use fdlab::time::Clock;

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
            heartbeats: &[],
            fault_starts: &[],
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
