//! Split brain, measured (docs/split-brain.md): the known answers of the issue, worked out
//! in each test's comments, and properties that hold for any seed.
//!
//! Common setting: nodes a < b < c watching each other, heartbeats at whole seconds (η = 1 s,
//! no jitter), constant 10 ms delay, no loss, `fixed:timeout=3s`, checks before buffered
//! datagrams at a resume (`timers-first`), missed slots skipped after a pause.

use std::path::Path;

use fdlab::analysis::cluster::ClusterFigures;
use fdlab::experiment::{Experiment, LeaderRule};

mod common;

/// The cluster figures of the common setting with `seed`, `top` (top-level tables such as
/// `[engine]`), `defaults` (more node defaults) and `faults` added.
fn figures_of(seed: u64, top: &str, defaults: &str, faults: &str) -> Vec<ClusterFigures> {
    let text = format!(
        "name = \"sb\"\nseed = {seed}\nduration = \"40s\"\ndetectors = [\"fixed:timeout=3s\"]\n{top}\
         [defaults]\ninterval = \"1s\"\n{defaults}\n[[nodes]]\nid = \"a\"\n[[nodes]]\nid = \"b\"\n[[nodes]]\nid = \
         \"c\"\n[monitoring]\nmode = \"all\"\n[network]\ndelay = {{ dist = \"constant\", value = \"10ms\" }}\n\
         [cluster]\nrules = [\"lowest-unsuspected\", \"majority\"]\n{faults}"
    );
    let e = Experiment::from_toml(Path::new("sb.toml"), &text).unwrap_or_else(|e| panic!("{e}"));
    let out = common::simulate(&e);
    assert_eq!(out.summary.cluster.len(), 1);
    out.summary.cluster[0].rules.clone()
}

fn figures(top: &str, defaults: &str, faults: &str) -> Vec<ClusterFigures> {
    figures_of(1, top, defaults, faults)
}

fn split(f: &[ClusterFigures], rule: LeaderRule) -> f64 {
    f.iter().find(|f| f.rule == rule).unwrap().split_brain_s
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
    // No loss, no faults: nobody is ever suspected.
    let f = figures("", "", "");
    assert!(f.iter().all(|f| f.split_brain_s == 0.0 && f.disagreement_s == 0.0 && f.leaderless_s == 0.0), "{f:?}");
}
