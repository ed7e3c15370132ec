//! Arbitrary (Byzantine) heartbeats (issue 16 item 6): `[[faults]] kind = "arbitrary"`
//! really changes the numbers the monitor receives, and the receive policy and the
//! sequence-aware detectors react as their rules say. `experiments/arbitrary.toml` (four live
//! servers lying from 10 to 15 minutes over a clean 1–3 ms link, 100 ms heartbeats; one of
//! them crashes for good at 20 minutes) is run under each receive policy.

use std::path::Path;

use fdlab::analysis::qos::Cause;
use fdlab::analysis::results::{ResultEntry, SummaryFile};
use fdlab::experiment::{Experiment, ReceivePolicy, ValidExperiment};

mod common;
use common::{experiments, load, simulate};

const PHI: &str = "phi:threshold=8,first=100ms,min_std=20ms,pause=500ms";
const CHEN: &str = "chen:alpha=100ms";
const FIXED: &str = "fixed:timeout=500ms";
/// The lying window, s.
const FROM: f64 = 600.0;
const TO: f64 = 900.0;
/// The clean link's one-way delay is 1 ms plus a lognormal of median 1 ms, σ 0.3: below
/// 10 ms in every draw of these runs (checked below through the arrivals' bounds).
const SLACK: f64 = 0.01;

/// The experiment under `policy`.
fn under(policy: ReceivePolicy) -> ValidExperiment {
    let mut e = load("arbitrary").into_inner();
    e.receive = policy;
    e.check(Path::new("arbitrary.toml")).unwrap()
}

fn entry<'a>(s: &'a SummaryFile, target: &str, detector: &str) -> &'a ResultEntry {
    s.results.iter().find(|r| r.target == target && r.detector == detector).unwrap()
}

/// Every listed false suspicion of `detector` watching `target`, as (start s, end s, censored).
fn mistakes(s: &SummaryFile, target: &str, detector: &str) -> Vec<(f64, f64, bool)> {
    let q = &entry(s, target, detector).qos;
    q.listed.iter().map(|m| (m.start.as_secs_f64(), m.end.as_secs_f64(), m.censored)).collect()
}

/// One mistake, `[from + wait, to]` within the link's delay.
fn one_mistake(s: &SummaryFile, target: &str, detector: &str, wait: f64) {
    let m = mistakes(s, target, detector);
    assert_eq!(m.len(), 1, "{target}, {detector}: {m:?}");
    let (start, end, censored) = m[0];
    assert!(!censored, "{target}, {detector}: {m:?}");
    assert!((FROM + wait..FROM + wait + SLACK).contains(&start), "{target}, {detector}: starts at {start}");
    assert!((TO..TO + SLACK).contains(&end), "{target}, {detector}: ends at {end}");
    assert!(
        entry(s, target, detector).qos.listed.iter().all(|m| m.cause == Cause::Network),
        "the cause analysis is not told of lies"
    );
}

/// The example: with `dedup`, a sender replaying old sequence numbers is suspected
/// once the timeout has run from its last honest heartbeat (sent at 599.9 s: replayed
/// numbers were all seen); a stuck counter's first repetition is still fresh (the window's
/// first heartbeat, at 600 s), so the suspicion starts a heartbeat later. Without dedup the
/// same senders are trusted throughout by the detectors that ignore numbers, and only Chen's
/// (which ignores any seq not above the highest) suspects them.
#[test]
fn dedup_suspects_a_replaying_or_stuck_sender_and_raw_trusts_it() {
    let dedup = simulate(&under(ReceivePolicy::Dedup)).summary;
    one_mistake(&dedup, "replay", FIXED, -0.1 + 0.5);
    one_mistake(&dedup, "frozen", FIXED, 0.5);
    for target in ["replay", "frozen"] {
        assert_eq!(mistakes(&dedup, target, PHI).len(), 1, "{target}");
        assert_eq!(mistakes(&dedup, target, CHEN).len(), 1, "{target}");
    }
    let drop_stale = simulate(&under(ReceivePolicy::DropStale)).summary;
    one_mistake(&drop_stale, "replay", FIXED, -0.1 + 0.5);
    one_mistake(&drop_stale, "frozen", FIXED, 0.5);
    let raw = simulate(&under(ReceivePolicy::Raw)).summary;
    for target in ["replay", "frozen"] {
        for detector in [PHI, FIXED] {
            assert!(mistakes(&raw, target, detector).is_empty(), "{target}, {detector}");
        }
        // Chen: the replayed numbers are below the highest, the frozen one equal to it.
        let wait = if target == "replay" { -0.1 + 0.2 } else { 0.2 };
        one_mistake(&raw, target, CHEN, wait);
    }
    // What the service saw meanwhile: nothing. Every operation applied once, promptly.
    for s in [&dedup, &raw] {
        for name in ["replay", "frozen", "reborn"] {
            let w = s.workloads.iter().find(|w| w.name == name).unwrap();
            assert_eq!((w.never_applied, w.extra_applications, w.retransmissions), (0, 0, 0), "{name}");
            assert!(w.latency.as_ref().unwrap().max_ms < 10.0, "{name}");
        }
    }
}

/// Random 32-bit numbers: fresh to `dedup` and `raw`, so the detectors that ignore numbers
/// trust the server and detect its crash at 20 min within a timeout; Chen's estimate follows
/// the highest number received, ~2^32 heartbeats ahead, and would notice the crash years
/// later. Under `drop-stale` each record-breaking number raises the bar: the honest numbers
/// after the window are all dropped, and the live server is suspected until its crash.
#[test]
fn random_numbers_blind_chen_and_poison_drop_stale() {
    const CRASH: f64 = 1200.0;
    for policy in [ReceivePolicy::Raw, ReceivePolicy::Dedup] {
        let s = simulate(&under(policy)).summary;
        for detector in [PHI, FIXED] {
            assert!(mistakes(&s, "garbled", detector).is_empty(), "{policy:?} {detector}");
            let detection = entry(&s, "garbled", detector).qos.detection_time_s.mean.unwrap();
            assert!(detection < 1.0, "{policy:?} {detector}: {detection}");
        }
        let chen = entry(&s, "garbled", CHEN).qos.detection_time_s.mean.unwrap();
        // At least a tenth of 2^32 heartbeats of 100 ms: over a year.
        assert!(chen > 0.1 * 2f64.powi(32) * 0.1, "{policy:?}: Chen detects after {chen} s");
        // The workload sees the crash: every operation issued after it is lost.
        let w = s.workloads.iter().find(|w| w.name == "garbled").unwrap();
        assert_eq!(w.never_applied, ((29.0 * 60.0 - CRASH) / 0.2) as u64);
    }
    let s = simulate(&under(ReceivePolicy::DropStale)).summary;
    for detector in [PHI, FIXED] {
        let m = mistakes(&s, "garbled", detector);
        let last = m.last().unwrap();
        assert!(last.0 < TO && last.1 == CRASH && !last.2, "{detector}: {m:?}");
        assert!(m.iter().all(|&(start, _, _)| start > FROM), "{detector}: {m:?}");
    }
}

/// A claimed restart (incarnation + 1): `dedup` and `raw` accept both incarnations, so only
/// Chen, which ignores an incarnation below the highest seen, suspects the server from the
/// window's end to the end of the run; `drop-stale` does the same for every detector.
#[test]
fn a_claimed_restart_outlives_the_lie() {
    let end = 1800.0;
    for (policy, fooled) in [
        (ReceivePolicy::Raw, &[CHEN][..]),
        (ReceivePolicy::Dedup, &[CHEN][..]),
        (ReceivePolicy::DropStale, &[PHI, CHEN, FIXED][..]),
    ] {
        let s = simulate(&under(policy)).summary;
        for detector in [PHI, CHEN, FIXED] {
            let m = mistakes(&s, "reborn", detector);
            if fooled.contains(&detector) {
                assert_eq!(m.len(), 1, "{policy:?} {detector}: {m:?}");
                let (start, stop, censored) = m[0];
                assert!((TO..TO + 1.0).contains(&start) && stop == end && censored, "{policy:?} {detector}: {m:?}");
            } else {
                assert!(m.is_empty(), "{policy:?} {detector}: {m:?}");
            }
        }
    }
}

/// The same seed gives the same lies: byte-identical summaries.
#[test]
fn lies_are_deterministic() {
    let e = under(ReceivePolicy::DropStale);
    assert_eq!(simulate(&e).summary.to_json(), simulate(&e).summary.to_json());
}

/// Bad declarations are refused naming the field.
#[test]
fn bad_arbitrary_faults_name_the_field() {
    let base = std::fs::read_to_string(experiments().join("arbitrary.toml")).unwrap();
    for (extra, field, needle) in [
        ("[[faults]]\nkind = \"arbitrary\"\nnode = \"client\"\n", "faults[5].seq", "lies about nothing"),
        ("[[faults]]\nkind = \"arbitrary\"\nnode = \"nobody\"\nseq = \"frozen\"\n", "faults[5].node", "no node"),
        ("[[faults]]\nkind = \"arbitrary\"\nnode = \"frozen\"\nat = \"12m\"\nseq = \"random\"\n", "faults", "overlap"),
        (
            "[[faults]]\nkind = \"arbitrary\"\nnode = \"client\"\nat = \"31m\"\nseq = \"random\"\n",
            "faults[5].at",
            "end",
        ),
    ] {
        // The new fault goes after the file's five (before its workloads).
        let text = base.replacen("[[workloads]]", &format!("{extra}\n[[workloads]]"), 1);
        let error = Experiment::from_toml(Path::new("arbitrary.toml"), &text).unwrap_err().to_string();
        assert!(error.contains(field) && error.contains(needle), "{extra}: {error}");
    }
    let text = base.replacen("seq = \"frozen\"", "seq = \"backwards\"", 1);
    let error = Experiment::from_toml(Path::new("arbitrary.toml"), &text).unwrap_err().to_string();
    assert!(error.contains("backwards"), "{error}");
}
