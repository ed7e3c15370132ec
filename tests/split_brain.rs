//! Split brain, measured (docs/split-brain.md): the known answers of the issue, worked out
//! in each test's comments, and properties that hold for any seed.
//!
//! Common setting: nodes a < b < c watching each other, heartbeats at whole seconds (η = 1 s,
//! no jitter), constant 10 ms delay, no loss, `fixed:timeout=3s`, checks before buffered
//! datagrams at a resume (`timers-first`), missed slots skipped after a pause.

use std::path::Path;

use fdlab::analysis::cluster::{ClusterEntry, ClusterFigures};
use fdlab::experiment::{Experiment, LeaderRule};

mod common;

/// The cluster entry of the common setting, with `seed`, `duration`, `top` (top-level
/// tables such as `[engine]`), `defaults` (more node defaults), `a` (more settings of node
/// a), `cluster` (more `[cluster]` settings; the rules default to all three, with a 2.5 s
/// lease and a 0.5 s margin) and `faults` added.
struct Setting<'a> {
    seed: u64,
    detectors: &'a str,
    duration: &'a str,
    top: &'a str,
    defaults: &'a str,
    a: &'a str,
    cluster: &'a str,
    faults: &'a str,
}

const COMMON: Setting<'static> = Setting {
    seed: 1,
    detectors: "\"fixed:timeout=3s\"",
    duration: "40s",
    top: "",
    defaults: "",
    a: "",
    cluster: "",
    faults: "",
};

impl Setting<'_> {
    fn experiment(&self) -> fdlab::experiment::ValidExperiment {
        let Setting { seed, detectors, duration, top, defaults, a, cluster, faults } = self;
        let cluster = if cluster.contains("rules") {
            cluster.to_string()
        } else {
            format!(
                "rules = [\"lowest-unsuspected\", \"majority\", \"lease\"]\nlease = \"2500ms\"\nlease_margin = \"500ms\"\n{cluster}"
            )
        };
        let text = format!(
            "name = \"sb\"\nseed = {seed}\nduration = \"{duration}\"\ndetectors = [{detectors}]\n{top}\
             [defaults]\ninterval = \"1s\"\n{defaults}\n[[nodes]]\nid = \"a\"\n{a}\n[[nodes]]\nid = \"b\"\n[[nodes]]\nid = \
             \"c\"\n[monitoring]\nmode = \"all\"\n[network]\ndelay = {{ dist = \"constant\", value = \"10ms\" }}\n\
             [cluster]\n{cluster}\n{faults}"
        );
        Experiment::from_toml(Path::new("sb.toml"), &text).unwrap_or_else(|e| panic!("{e}"))
    }

    fn entry(&self) -> ClusterEntry {
        let out = common::simulate(&self.experiment());
        assert_eq!(out.summary.cluster.len(), 1);
        out.summary.cluster[0].clone()
    }

    fn figures(&self) -> Vec<ClusterFigures> {
        self.entry().rules
    }
}

fn figures_of(seed: u64, top: &str, defaults: &str, faults: &str) -> Vec<ClusterFigures> {
    Setting { seed, top, defaults, faults, ..COMMON }.figures()
}

fn figures(top: &str, defaults: &str, faults: &str) -> Vec<ClusterFigures> {
    figures_of(1, top, defaults, faults)
}

fn rule(f: &[ClusterFigures], rule: LeaderRule) -> &ClusterFigures {
    f.iter().find(|f| f.rule == rule.name()).unwrap()
}

fn split(f: &[ClusterFigures], r: LeaderRule) -> f64 {
    rule(f, r).split_brain_s
}

const PAUSE: &str =
    "[[faults]]\nkind = \"pause\"\nnode = \"a\"\nwhat = \"node\"\nat = \"10500ms\"\nduration = \"5s\"\n";

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

/// Known answer 1: a paused over [10.5 s, 15.5 s): b and c suspect a at 13.01 (a's slot-10 heartbeat
/// arrived at 10.01, plus 3 s) and b leads. At 15.5 a's checks fire, its buffered
/// heartbeats restore its view and it leads at once (it is the lowest id), while b suspects
/// a until a's slot-16 heartbeat reaches it at 16.01: split brain [15.5, 16.01) = 0.51 s
/// under both rules (b's view {b, c} is a majority of 3). With `after_pause = "send-now"`
/// a sends at 15.5, heard at 15.51: 10 ms.
#[test]
fn a_paused_leader_and_its_successor_overlap_until_its_next_heartbeat() {
    let f = figures("", "", PAUSE);
    assert!(close(split(&f, LeaderRule::LowestUnsuspected), 0.51), "{f:?}");
    assert!(close(split(&f, LeaderRule::Majority), 0.51), "{f:?}");
    assert_eq!(f[0].split_brain_episodes, 1);
    let f = figures("", "after_pause = \"send-now\"", PAUSE);
    assert!(close(split(&f, LeaderRule::LowestUnsuspected), 0.01), "{f:?}");
    assert!(close(split(&f, LeaderRule::Majority), 0.01), "{f:?}");
}

/// Known answer 2: the same with `recv_buffer = 0`: a's buffered heartbeats are lost, so at 15.5 a
/// suspects b and c until their slot-16 heartbeats at 16.01. Under `lowest-unsuspected` a
/// still leads (it never suspects itself): 0.51 s. Under `majority` a's view is {a} until
/// 16.01, no majority: no split brain.
#[test]
fn without_a_receive_buffer_the_woken_leader_has_no_majority() {
    let f = figures("[engine]\nrecv_buffer = 0\n", "", PAUSE);
    assert!(close(split(&f, LeaderRule::LowestUnsuspected), 0.51), "{f:?}");
    assert_eq!(split(&f, LeaderRule::Majority), 0.0, "{f:?}");
}

/// Known answer 4: symmetric partition {a} | {b, c} over [10.5, 20.5): b and c suspect a from 13.01
/// until a's slot-21 heartbeat at 21.01 and b leads meanwhile, while a leads throughout:
/// 8.0 s under `lowest-unsuspected`. Under `majority` a, alone in its view from 13.01, has
/// no leader: 0.
#[test]
fn a_minority_side_of_a_partition_stops_leading_under_majority() {
    let cut =
        "[[faults]]\nkind = \"partition\"\nat = \"10500ms\"\nduration = \"10s\"\ngroups = [[\"a\"], [\"b\", \"c\"]]\n";
    let f = figures("", "", cut);
    assert!(close(split(&f, LeaderRule::LowestUnsuspected), 8.0), "{f:?}");
    assert_eq!(split(&f, LeaderRule::Majority), 0.0, "{f:?}");
    let lowest = &f[0];
    assert_eq!(lowest.split_brain_episodes, 1);
    assert!(close(lowest.split_brain_longest_s, 8.0));
}

/// Known answer 5: one-way cut a→b over [10.5, 20.5): b suspects a over [13.01, 21.01); a hears
/// everyone and c hears a. Both rules: a leads throughout and b leads over those 8 s (b's
/// view {b, c} is a majority): 8.0 s.
#[test]
fn a_one_way_cut_splits_the_brain_under_both_rules() {
    let cut = "[[faults]]\nkind = \"partition\"\nat = \"10500ms\"\nduration = \"10s\"\nfrom = [\"a\"]\nto = [\"b\"]\n";
    let f = figures("", "", cut);
    assert!(close(split(&f, LeaderRule::LowestUnsuspected), 8.0), "{f:?}");
    assert!(close(split(&f, LeaderRule::Majority), 8.0), "{f:?}");
}

/// Properties for any seed: no suspicion of a running node, no split brain; the leaders
/// under `majority` are among those under `lowest-unsuspected`, so its split brain is never
/// longer.
#[test]
fn split_brain_needs_a_suspected_running_node_and_majority_never_exceeds_lowest() {
    // Bursty loss on every link and random whole-node pauses of b.
    let faults = "[[faults]]\nkind = \"pause\"\nnode = \"b\"\nwhat = \"node\"\nevery = \"8s\"\n\
                  durations = { dist = \"exponential\", mean = \"2s\" }\n";
    let mut some = 0.0;
    for seed in 1..=8u64 {
        let f = figures_of(
            seed,
            "",
            "jitter = \"50ms\"",
            &format!("{faults}[network.loss]\nmodel = \"gilbert-elliott\"\np = 0.02\nr = 0.3\n"),
        );
        let (lowest, majority) = (split(&f, LeaderRule::LowestUnsuspected), split(&f, LeaderRule::Majority));
        assert!(majority <= lowest + 1e-9, "seed {seed}: {f:?}");
        some += lowest;
    }
    assert!(some > 0.0, "the property was exercised: some split brain under lowest-unsuspected");
    // No loss, no faults: nobody is ever suspected. No split brain or disagreement; no
    // leaderless time under the view rules, and under the lease only the first round: a
    // leads once b's slot 1 acknowledges a's slot 0, at 1.01.
    let f = figures("", "", "");
    assert!(f.iter().all(|f| f.split_brain_s == 0.0 && f.disagreement_s == 0.0), "{f:?}");
    let leaderless: Vec<f64> = f.iter().map(|f| f.leaderless_s).collect();
    assert_eq!(leaderless, [0.0, 0.0, 1.01], "{f:?}");
}

/// Property over seeds and crash scenarios: split-brain time is 0 (and no split-brain
/// instant) whenever no running node is ever suspected. One node crash-stops at a time set
/// by the seed; the network jitters by up to 200 ms and loses short bursts of heartbeats
/// (Gilbert–Elliott, p = 0.02, r = 0.9). A configuration with no wrongful
/// downing (`downing_quorum = any`: no node that had not crashed was suspected by any of
/// its monitors; no pauses, all-to-all, so no gossip, and every node hears every peer
/// within `first_timeout` of the start) suspected no running node: every rule then has no
/// split brain. `fixed:timeout=3s` suspects a live node only after three heartbeats in a
/// row are lost; with a 1.5 s timeout, after one (a 2 s gap; jitter alone stretches a gap to
/// 1.4 s at most): both sides of the condition occur.
#[test]
fn no_suspected_running_node_means_no_split_brain_over_seeds() {
    let (mut quiet, mut noisy) = (0, 0);
    for seed in 1..=12u64 {
        let node = ["a", "b", "c"][seed as usize % 3];
        let at = 5 + seed * 7 % 25;
        let faults = format!(
            "[[faults]]\nkind = \"crash\"\nnode = \"{node}\"\nat = \"{at}s\"\n\
             [network.loss]\nmodel = \"gilbert-elliott\"\np = 0.02\nr = 0.9\n"
        );
        let setting = Setting {
            seed,
            detectors: "\"fixed:timeout=3s\", \"fixed:timeout=1500ms\"",
            defaults: "jitter = \"200ms\"",
            faults: &faults,
            ..COMMON
        };
        let out = common::simulate(&setting.experiment());
        for entry in &out.summary.cluster {
            if entry.downing.wrongful_downing_s > 0.0 {
                noisy += 1;
                continue;
            }
            quiet += 1;
            assert_eq!(entry.rules.len(), 3);
            for f in &entry.rules {
                assert_eq!(
                    (f.split_brain_s, f.split_brain_episodes, f.split_brain_instants),
                    (0.0, 0, 0),
                    "seed {seed}, {node} crashes at {at} s, {}: {f:?}",
                    entry.detector
                );
            }
        }
    }
    assert!(quiet >= 12 && noisy >= 3, "both sides exercised: {quiet} quiet, {noisy} noisy configurations");
}

/// Known answer 3, under `lease` (2.5 s, margin 0.5 s), a paused over [10.5, 15.5): b and c
/// last heard a at 10.01 and both suspect it and switch at 13.01 (3 s of silence, lease +
/// margin), b to itself and c to b. b's slot 13 left before b followed itself, so the first
/// acknowledgement that counts is c's slot 15, acknowledging b's slot 14, at 15.01: b leads
/// from 15.01 (lease to 16.5). At 15.5 a's lease, last acknowledged for its slot 10 (b's
/// buffered slot 11), ended long ago (12.5): a does not lead. a's slot-16 heartbeat reaches
/// b at 16.01: a is b's candidate again and b, following itself, switches at once (and stops
/// leading). b's slot 17 says it follows a (c switches to a at 17.01) and acknowledges a's
/// slot 16: a leads from 17.01. No split brain; leaderless [0, 1.01) (a's first
/// acknowledgement, b's slot 1 of a's slot 0), [10.5, 15.01) (a paused, nobody else leads)
/// and [16.01, 17.01): 1.01 + 4.51 + 1.0 = 6.52 s.
#[test]
fn under_a_lease_the_woken_leader_waits_for_acknowledgements() {
    let f = figures("", "", PAUSE);
    let lease = rule(&f, LeaderRule::Lease);
    assert_eq!(lease.split_brain_s, 0.0, "{lease:?}");
    assert!(close(lease.leaderless_s, 6.52), "{lease:?}");
    // Under the view rules a was leaderless only while paused and unsuspected: [10.5, 13.01).
    assert!(close(rule(&f, LeaderRule::LowestUnsuspected).leaderless_s, 2.51), "{f:?}");
}

/// Known answer 5, under `lease`: a one-way cut a→b over [10.5, 20.5). b switches to itself
/// at 13.01, but c still hears a, keeps following it and acknowledges only a: b never holds
/// a majority, a keeps leading. No split brain (8.0 s under the view rules, above).
#[test]
fn a_one_way_cut_does_not_split_a_leased_brain() {
    let cut = "[[faults]]\nkind = \"partition\"\nat = \"10500ms\"\nduration = \"10s\"\nfrom = [\"a\"]\nto = [\"b\"]\n";
    let f = figures("", "", cut);
    let lease = rule(&f, LeaderRule::Lease);
    assert_eq!(lease.split_brain_s, 0.0, "{lease:?}");
    // a leads throughout after its first acknowledgement at 1.01.
    assert!(close(lease.leaderless_s, 1.01), "{lease:?}");
}

/// Known answer 6: drift under `lease` (lease 10 s, margin 1 s), partition {a} | {b, c}
/// over [10.5, 40.5). With a's clock exact, a's last acknowledged heartbeat is its slot 9
/// (b's slot 10 at 10.01; b's slot 11 is cut): its lease ends at 19.0. b and c switch after
/// 11 s of silence since 10.01, at 21.01; c acknowledges b's slot 22 at 23.01: b leads from
/// 23.01. No split brain. With a's clock at half rate a sends every 2 s of real time; its
/// last acknowledged heartbeat left at 8.0 real, 4.0 on its clock, so its lease ends at 14.0
/// on its clock, 28.0 real: split brain [23.01, 28.0) = 4.99 s. (After the partition b
/// follows a again at once, a keeps following itself: no further overlap.)
#[test]
fn a_slow_clock_stretches_the_old_leaders_lease_into_split_brain() {
    let cut =
        "[[faults]]\nkind = \"partition\"\nat = \"10500ms\"\nduration = \"30s\"\ngroups = [[\"a\"], [\"b\", \"c\"]]\n";
    let cluster = "rules = [\"lease\"]\nlease = \"10s\"\nlease_margin = \"1s\"\n";
    let exact = Setting { duration: "60s", cluster, faults: cut, ..COMMON }.figures();
    assert_eq!(exact[0].split_brain_s, 0.0, "{exact:?}");
    let slow = Setting { duration: "60s", cluster, faults: cut, a: "clock_rate = 0.5", ..COMMON }.figures();
    assert!(close(slow[0].split_brain_s, 4.99), "{slow:?}");
    assert_eq!(slow[0].split_brain_episodes, 1);
}

/// A zero-length self-belief: b paused over [10.5, 15.5) while a leads. At 15.5 b's checks
/// fire before its buffered heartbeats: for no time b suspects a and c, and under
/// `lowest-unsuspected` believes it leads while a does: one instant, no split-brain time.
/// Under `majority` b's momentary view {b} holds no majority: none.
#[test]
fn a_zero_length_self_belief_is_counted_apart() {
    let pause_b = PAUSE.replace("node = \"a\"", "node = \"b\"");
    let f = figures("", "", &pause_b);
    let lowest = rule(&f, LeaderRule::LowestUnsuspected);
    assert_eq!((lowest.split_brain_s, lowest.split_brain_instants), (0.0, 1), "{lowest:?}");
    assert_eq!(rule(&f, LeaderRule::Majority).split_brain_instants, 0, "{f:?}");
    // Without a receive buffer b suspects a and c until their slot-16 heartbeats at 16.01:
    // real split brain [15.5, 16.01) under `lowest-unsuspected`, not an instant.
    let f = figures("[engine]\nrecv_buffer = 0\n", "", &pause_b);
    let lowest = rule(&f, LeaderRule::LowestUnsuspected);
    assert!(close(lowest.split_brain_s, 0.51) && lowest.split_brain_instants == 0, "{lowest:?}");
}

/// `stable_after = 1s`, answer 1's pause: b's view {a} (from 13.01) is acted on at 14.01 and
/// its return to {} (16.01) at 17.01, while a leads again from 15.5: split brain [15.5,
/// 17.01) = 1.51 s under `lowest-unsuspected`. Stability delays the healing as much as the
/// suspicion.
#[test]
fn stable_after_delays_acting_on_a_view_both_ways() {
    let f = Setting { cluster: "stable_after = \"1s\"", faults: PAUSE, ..COMMON }.figures();
    assert!(close(split(&f, LeaderRule::LowestUnsuspected), 1.51), "{f:?}");
}

/// Failover after a crash-stop of the leader a at 10.5: b and c suspect a at 13.01 (its
/// slot-10 heartbeat at 10.01 plus 3 s). Under the view rules both name b at once: 2.51 s,
/// the detection time. Under `lease` they switch at 13.01 and b leads once c acknowledges
/// its slot 14, at 15.01: 4.51 s. With `stable_after = 1s`, the view rules take 1 s more.
#[test]
fn failover_after_the_leader_crashes_is_detection_plus_what_the_rule_waits() {
    let crash = "[[faults]]\nkind = \"crash\"\nnode = \"a\"\nat = \"10500ms\"\n";
    let f = Setting { faults: crash, ..COMMON }.figures();
    for (r, expected) in
        [(LeaderRule::LowestUnsuspected, 2.51), (LeaderRule::Majority, 2.51), (LeaderRule::Lease, 4.51)]
    {
        let g = rule(&f, r);
        assert_eq!((g.failovers, g.failovers_censored), (1, 0), "{g:?}");
        assert!(close(g.failover_mean_s.unwrap(), expected) && close(g.failover_max_s.unwrap(), expected), "{g:?}");
    }
    let f = Setting { cluster: "stable_after = \"1s\"", faults: crash, ..COMMON }.figures();
    assert!(close(rule(&f, LeaderRule::Majority).failover_mean_s.unwrap(), 3.51), "{f:?}");
    // A second fault before the cluster settles censors the failover: a pause of b at 12 s.
    let both = format!("{crash}{}", PAUSE.replace("node = \"a\"", "node = \"b\"").replace("10500ms", "12s"));
    let f = Setting { faults: &both, ..COMMON }.figures();
    let g = rule(&f, LeaderRule::Majority);
    assert_eq!((g.failovers, g.failovers_censored, g.failover_mean_s), (0, 1, None), "{g:?}");
}

/// A stalled node does not act on silence until it resumes. Under `lease` with a 2.5 s
/// margin (silence after 5 s), a crash-stops at 10.5: b and c suspect it at 13.01 (name b)
/// and may switch at 15.01 (a's slot 10 at 10.01, plus 5 s). Alone, both switch at 15.01; c
/// acknowledges b's slot 16 with its slot 17, heard at 17.01: b leads from 17.01,
/// leaderless [0, 1.01) and [10.5, 17.01) = 7.52 s. With b's monitor stalled over [14, 18),
/// c still switches at 15.01, but b switches only at its resume, 18.0, when c's buffered
/// heartbeats (acknowledging b's slots 15 and 16, sent while b followed a) count for
/// nothing; c acknowledges b's slot 18 with its slot 19, heard at 19.01: leaderless
/// [10.5, 19.01), 9.52 s in all. (A stall that the lease ignored would switch b at 15.01
/// and lead at 18.0, when c's slot 17 is delivered: 8.51 s.)
#[test]
fn a_stalled_node_switches_for_silence_only_when_it_resumes() {
    let crash = "[[faults]]\nkind = \"crash\"\nnode = \"a\"\nat = \"10500ms\"\n";
    let cluster = "rules = [\"lease\"]\nlease = \"2500ms\"\nlease_margin = \"2500ms\"\n";
    let f = Setting { cluster, faults: crash, ..COMMON }.figures();
    assert!(close(rule(&f, LeaderRule::Lease).leaderless_s, 7.52), "{f:?}");
    let stall = format!(
        "{crash}[[faults]]\nkind = \"pause\"\nnode = \"b\"\nwhat = \"monitor\"\nat = \"14s\"\nduration = \"4s\"\n"
    );
    let f = Setting { cluster, faults: &stall, ..COMMON }.figures();
    let g = rule(&f, LeaderRule::Lease);
    assert!(close(g.leaderless_s, 9.52), "{g:?}");
    assert_eq!(g.split_brain_s, 0.0, "{g:?}");
}

/// `first_timeout`: a crash-stops at 10.5; c is down over [5 s, 20 s) and restarts with
/// fresh detectors that never hear a. With the default first timeout (the detector's own:
/// 3 s) c counts a as suspected from 23.0 and names b like b does: disagreement [20, 23) =
/// 3 s. With a first timeout longer than the run, c names the dead a to the end: 20 s.
#[test]
fn a_restarted_node_gives_up_on_a_peer_it_never_hears() {
    let faults = "[[faults]]\nkind = \"crash\"\nnode = \"a\"\nat = \"10500ms\"\n\
                  [[faults]]\nkind = \"crash\"\nnode = \"c\"\nat = \"5s\"\ndown = \"15s\"\n";
    let cluster = "rules = [\"lowest-unsuspected\"]";
    let f = Setting { cluster, faults, ..COMMON }.figures();
    assert!(close(f[0].disagreement_s, 3.0), "{f:?}");
    let cluster = "rules = [\"lowest-unsuspected\"]\nfirst_timeout = \"100s\"";
    let f = Setting { cluster, faults, ..COMMON }.figures();
    assert!(close(f[0].disagreement_s, 20.0), "{f:?}");
}

/// `downing_quorum` in the partition {a} | {b, c} over [10.5, 20.5): everyone is suspected
/// over [13.01, 21.01) by whoever is across the cut. a by both of its monitors, b and c by
/// one of their two (a). `any`: 3 × 8 s; `majority` (2 of 2): only a, 8 s; 3 monitors: none.
#[test]
fn the_downing_quorum_decides_who_is_wrongly_downed() {
    let cut =
        "[[faults]]\nkind = \"partition\"\nat = \"10500ms\"\nduration = \"10s\"\ngroups = [[\"a\"], [\"b\", \"c\"]]\n";
    for (quorum, expected) in [("\"any\"", 24.0), ("\"majority\"", 8.0), ("2", 8.0), ("3", 0.0)] {
        let cluster = format!("rules = []\ndowning_quorum = {quorum}");
        let entry = Setting { cluster: &cluster, faults: cut, ..COMMON }.entry();
        assert!(close(entry.downing.wrongful_downing_s, expected), "{quorum}: {entry:?}");
        assert!(entry.rules.is_empty());
    }
}

/// Properties for any seed, on a lossy, jittery network where the leader a crash-stops at
/// 20 s: a completed failover never comes before the first of a's monitors detects the
/// crash (plus `stable_after`: nobody acts on a view sooner); the figures are the same on
/// one thread and on many (the detectors then run in groups on separate threads, and the
/// lease's analysis beside the view rules').
#[test]
fn failover_never_beats_detection_and_threads_change_nothing() {
    let faults = "[[faults]]\nkind = \"crash\"\nnode = \"a\"\nat = \"20s\"\n\
                  [network.loss]\nmodel = \"gilbert-elliott\"\np = 0.05\nr = 0.3\n";
    let mut completed = 0;
    for seed in 1..=6u64 {
        for stable in [0u64, 700] {
            let cluster = format!("stable_after = \"{stable}ms\"");
            let setting = Setting {
                seed,
                detectors: "\"fixed:timeout=2s\", \"phi:threshold=3\"",
                defaults: "jitter = \"200ms\"",
                cluster: &cluster,
                faults,
                ..COMMON
            };
            let e = setting.experiment();
            let one = common::simulate_with(&e, fdlab::sim::RunOptions { threads: 1, ..Default::default() });
            let many = common::simulate_with(&e, fdlab::sim::RunOptions { threads: 8, ..Default::default() });
            assert_eq!(one.summary.cluster, many.summary.cluster, "seed {seed}");
            for entry in &one.summary.cluster {
                let detected = one
                    .summary
                    .results
                    .iter()
                    .filter(|r| r.detector == entry.detector && r.target == "a")
                    .filter_map(|r| r.qos.crashes.first()?.detection_time_s)
                    .fold(f64::INFINITY, f64::min);
                for f in &entry.rules {
                    if let Some(failover) = f.failover_max_s {
                        completed += 1;
                        let floor = detected + stable as f64 / 1000.0;
                        assert!(
                            failover >= floor - 1e-9,
                            "seed {seed} {}: {failover} < {floor}: {f:?}",
                            entry.detector
                        );
                    }
                }
            }
        }
    }
    assert!(completed >= 30, "the property was exercised: {completed} failovers completed");
}

/// The leader timeline of answer 1's episode ([15.5, 16.01), the longest of the run, under
/// `lowest-unsuspected`), padded by 2 s each side: a paused until 15.5 then leading; b
/// leading from before the window until 16.01, then naming a; split brain exactly the
/// episode.
#[test]
fn the_leader_timeline_shows_the_longest_episode() {
    let out = common::simulate(&Setting { faults: PAUSE, ..COMMON }.experiment());
    let t = out.leaders.expect("a run with split brain has a leader timeline");
    assert_eq!((t.rule.as_str(), t.episode_s), ("lowest-unsuspected", [15.5, 16.01]));
    assert_eq!((t.from_s, t.to_s), (13.5, 18.01));
    assert_eq!(t.split_s, vec![[15.5, 16.01]]);
    let spans = |node: &str| -> Vec<(f64, f64, String, bool)> {
        t.spans.iter().filter(|s| s.node == node).map(|s| (s.from_s, s.to_s, s.state.clone(), s.leads)).collect()
    };
    assert_eq!(spans("a"), [(13.5, 15.5, "paused".into(), false), (15.5, 18.01, "a".into(), true)]);
    assert_eq!(spans("b"), [(13.5, 16.01, "b".into(), true), (16.01, 18.01, "a".into(), false)]);
    // No split brain, no timeline.
    assert!(common::simulate(&COMMON.experiment()).leaders.is_none());
}

/// The timeline shows the longest episode of any configuration, not the first, and pads
/// one longer than 4 s by half its length. Answer 5's one-way cut a→b over [10.5, 20.5) under
/// `fixed:timeout=3s` then `fixed:timeout=2s`: b suspects a from 13.01 (10.01 + 3 s) or
/// from 12.01 (10.01 + 2 s) until a's slot-21 heartbeat reaches it at 21.01, so the episodes
/// are [13.01, 21.01) (8 s, under both view rules) and then [12.01, 21.01) (9 s). The
/// longest is the second configuration's, first under `lowest-unsuspected`; padded by
/// 4.5 s: the window is [7.51, 25.51).
#[test]
fn the_leader_timeline_shows_a_later_longer_episode_padded_by_half_its_length() {
    let cut = "[[faults]]\nkind = \"partition\"\nat = \"10500ms\"\nduration = \"10s\"\nfrom = [\"a\"]\nto = [\"b\"]\n";
    let setting = Setting { detectors: "\"fixed:timeout=3s\", \"fixed:timeout=2s\"", faults: cut, ..COMMON };
    let out = common::simulate(&setting.experiment());
    let splits: Vec<Vec<f64>> =
        out.summary.cluster.iter().map(|c| c.rules.iter().map(|f| f.split_brain_s).collect()).collect();
    assert_eq!(splits.len(), 2);
    assert!(close(splits[0][0], 8.0) && close(splits[0][1], 8.0), "{splits:?}");
    assert!(close(splits[1][0], 9.0) && close(splits[1][1], 9.0), "{splits:?}");
    let t = out.leaders.expect("a run with split brain has a leader timeline");
    assert_eq!(
        (t.detector.as_str(), t.rule.as_str(), t.episode_ns),
        ("fixed:timeout=2s", "lowest-unsuspected", [12_010_000_000, 21_010_000_000])
    );
    assert_eq!((t.from_s, t.to_s), (7.51, 25.51));
    assert_eq!(t.split_s, vec![[12.01, 21.01]]);
}

/// A multi-monitor trace replays to the same cluster figures: the simulator's trace of each
/// scenario (a pause of the leader, a crash-stop of the leader, a one-way cut, b's
/// crash-recovery), replayed with the same faults declared (`--pause`, `--crash` and
/// `--monitor-crash`, `--end`), gives every rule's figures, the downing and the leader
/// timeline exactly as the simulation did.
#[test]
fn a_multi_monitor_trace_replays_to_the_same_cluster_figures() {
    use fdlab::replay::{CrashDecl, ReplayConfig, replay_from};
    use fdlab::trace::{TraceReader, TraceWriter};
    let scenarios: [(&str, &[&str], &[&str]); 3] = [
        (PAUSE, &[], &["a@10500ms..15500ms"]),
        ("[[faults]]\nkind = \"crash\"\nnode = \"a\"\nat = \"10500ms\"\n", &["a@10500ms"], &[]),
        ("[[faults]]\nkind = \"crash\"\nnode = \"b\"\nat = \"12s\"\ndown = \"6s\"\n", &["b@12s..18s"], &[]),
    ];
    for (faults, crashes, pauses) in scenarios {
        let e = Setting { faults, ..COMMON }.experiment();
        let out = common::simulate_with(&e, fdlab::sim::RunOptions { record_trace: true, ..Default::default() });
        let mut w = TraceWriter::new(Vec::new(), true).unwrap();
        for row in out.trace.as_ref().unwrap().rows().unwrap() {
            let (m, t, a) = row.unwrap();
            w.write(m, t, &a).unwrap();
        }
        let bytes = w.into_inner();
        let mut reader = TraceReader::new(Path::new("sb.csv"), bytes.as_slice()).unwrap();
        let decl = |d: &&str| -> CrashDecl { d.parse().unwrap() };
        let config = ReplayConfig {
            trace: "sb.csv".into(),
            detectors: e.detectors.clone(),
            crashes: crashes.iter().map(decl).collect(),
            monitor_crashes: crashes.iter().map(decl).collect(),
            pauses: pauses.iter().map(decl).collect(),
            end: Some(e.duration),
            cluster: e.cluster.clone(),
            ..ReplayConfig::default()
        };
        let replayed = replay_from(&mut reader, &config, None).unwrap_or_else(|e| panic!("{faults}: {e}"));
        // Node order differs (the trace's order of appearance), names do not.
        assert_eq!(replayed.summary.cluster, out.summary.cluster, "{faults}");
        assert_eq!(replayed.leaders, out.leaders, "{faults}");
    }
}

/// b crash-recovers over [0 s, 5 s) (or twice back to back, over [5 s, 10 s) and [10 s,
/// 15 s)). a and c, which never heard b, suspect it from `first_timeout` (3 s) until its
/// slot-5 (slot-15) heartbeat; a is the lowest id and leads throughout. b, back at 5 s
/// (15 s), hears a and c 10 ms later, well within its own `first_timeout`: it suspects
/// no one, names a and never leads. No split brain under any rule.
///
/// A bug found by mutation testing (`views.rs` had `c > start` for `c >= start`):
/// `first_timeout_suspicions` ended the suspicion of b's start at 0 s (at 10 s) at b's first
/// crash *after* it, so a crash at the very instant of the start was skipped; that start is
/// never "heard" (hearing goes to the newest start), and b suspected a and c from 3 s
/// (13 s) to the run's end: 35 s (25 s) of split brain under `lowest-unsuspected`. Now 0.
#[test]
fn a_crash_at_the_instant_of_a_start_ends_its_first_timeout_suspicion() {
    let crash = |at: &str| format!("[[faults]]\nkind = \"crash\"\nnode = \"b\"\nat = \"{at}\"\ndown = \"5s\"\n");
    for faults in [crash("0s"), crash("5s") + &crash("10s")] {
        let f = figures("", "", &faults);
        assert_eq!(split(&f, LeaderRule::LowestUnsuspected), 0.0, "{faults}: {f:?}");
        assert_eq!(split(&f, LeaderRule::Majority), 0.0, "{faults}: {f:?}");
    }
}
