//! What `replay` accepts as a trace and its declarations, through the binary: nonsense that
//! looks plausible is refused naming the line or flag; real-world oddities (reordering,
//! clocks that differ) are replayed and warned about on stderr, never on stdout; a BOM and
//! CRLF line ends are plain input.

use std::path::{Path, PathBuf};
use std::process::Output;

mod common;
use common::{TRACE, fdlab, stderr};

struct Case {
    dir: tempfile::TempDir,
}

impl Case {
    fn new() -> Case {
        Case { dir: tempfile::tempdir().unwrap() }
    }

    fn trace(&self, name: &str, text: &[u8]) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn out(&self) -> PathBuf {
        self.dir.path().join("out")
    }

    /// `fdlab replay TRACE -d fixed:timeout=300ms --out OUT EXTRA...`
    fn replay(&self, trace: &Path, extra: &[&str]) -> Output {
        let out = self.out();
        let mut args =
            vec!["replay", trace.to_str().unwrap(), "-d", "fixed:timeout=300ms", "--out", out.to_str().unwrap()];
        args.extend_from_slice(extra);
        fdlab(&args)
    }

    fn refused(&self, trace: &Path, extra: &[&str], needles: &[&str]) {
        let o = self.replay(trace, extra);
        let err = stderr(&o);
        assert!(!o.status.success(), "{extra:?} should be refused");
        for needle in needles {
            assert!(err.contains(needle), "stderr lacks `{needle}`: {err}");
        }
        assert!(!err.contains("panicked"), "{err}");
        assert!(!self.out().exists(), "output written for {extra:?}");
    }
}

#[test]
fn a_crash_declared_at_or_after_the_runs_end_is_refused() {
    let case = Case::new();
    let trace = case.trace("t.csv", TRACE.as_bytes());
    // The last arrival is at 1.001 s.
    case.refused(&trace, &["--crash", "b@1000s"], &["--crash b@1000s", "at or after the run's end", "t.csv: line 6"]);
    case.refused(&trace, &["--crash", "b@1001ms"], &["--crash b@1001ms", "at or after the run's end"]);
    case.refused(&trace, &["--crash", "b@2s..3s"], &["--crash b@2s..3s", "at or after the run's end"]);
    case.refused(&trace, &["--monitor-crash", "@5s"], &["--monitor-crash @5s", "at or after the run's end"]);
    case.refused(&trace, &["--end", "10s", "--crash", "b@10s"], &["--crash b@10s", "--end"]);
    // A pause as well: it would get an inverted view and no levels.
    case.refused(&trace, &["--pause", "b@700s..800s"], &["--pause b@700s..800s", "at or after the run's end"]);
    case.refused(&trace, &["--pause", "@1001ms..2s"], &["--pause @1001ms..2s", "at or after the run's end"]);
    // A node the trace does not have (this one's monitor is unnamed).
    case.refused(&trace, &["--pause", "a@500ms..600ms"], &["--pause a@500ms..600ms: node `a` does not appear in"]);
    // Before the end it is fine, also with a recovery after the end.
    assert!(case.replay(&trace, &["--crash", "b@500ms"]).status.success());
    std::fs::remove_dir_all(case.out()).unwrap();
    assert!(case.replay(&trace, &["--crash", "b@500ms..5s"]).status.success());
    std::fs::remove_dir_all(case.out()).unwrap();
    assert!(case.replay(&trace, &["--end", "10s", "--crash", "b@5s"]).status.success());
    std::fs::remove_dir_all(case.out()).unwrap();
    assert!(case.replay(&trace, &["--pause", "b@500ms..5s"]).status.success());
}

#[test]
fn a_detector_given_twice_is_refused_naming_both_flags() {
    let case = Case::new();
    let trace = case.trace("t.csv", TRACE.as_bytes());
    // The first `-d` is fixed:timeout=300ms; 0.3s is the same configuration.
    case.refused(
        &trace,
        &["-d", "fixed:timeout=0.3s"],
        &["`fixed:timeout=300ms` is the same configuration as --detector number 1"],
    );
    case.refused(&trace, &["-d", "phi:threshold=2|3|2.0"], &["the sweep gives `phi:threshold=2` twice"]);
    assert!(case.replay(&trace, &["-d", "fixed:timeout=301ms"]).status.success());
}

#[test]
fn a_trace_whose_links_would_not_fit_in_memory_is_refused_at_the_link_that_overflows() {
    // Two sweeps of 10,000 configurations each and the fixed timeout: 20,001 on every link,
    // estimated at 80 KiB each (1.5 GiB a link). Enough links that 80 % of this machine's
    // memory is passed.
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap();
    let kib: u128 = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let (usable, per_link) = (kib * 1024 / 5 * 4, (40u128 << 10) + 20_001 * (80 << 10));
    // The first link count whose estimate passes the limit.
    let over = (1..).find(|&n: &u128| (96 << 20) + n * per_link > usable).unwrap();
    let mut text = String::from("monitor,target,received_ns\n");
    for l in 0..over + 3 {
        text.push_str(&format!("m{l},t,{}\n", 1000 * (l + 1)));
    }
    let case = Case::new();
    let trace = case.trace("many.csv", text.as_bytes());
    let sweeps = ["-d", "phi:threshold=0.001..10..0.001", "-d", "phi-exp:threshold=0.001..10..0.001", "--no-charts"];
    // The link that overflows is named with its line (its row is the header's + over).
    case.refused(
        &trace,
        &sweeps,
        &[
            &format!("many.csv: line {}: refusing to replay the link m{}←t: with it, {over} monitored links × 20001 detector configurations", over + 1, over - 1),
            &format!("more than 80 % of this machine's {} MiB", kib / 1024),
            "`--allow-large` replays it anyway",
        ],
    );
    // `--allow-large` is no longer only for `--every`: a small replay runs with it.
    let small = case.trace("t.csv", TRACE.as_bytes());
    assert!(case.replay(&small, &["--allow-large", "--no-charts"]).status.success());
}

#[test]
fn an_end_before_the_last_arrival_is_refused() {
    let case = Case::new();
    let trace = case.trace("t.csv", TRACE.as_bytes());
    case.refused(&trace, &["--end", "500ms"], &["--end 500ms", "before the last arrival", "t.csv: line 6"]);
    case.refused(&trace, &["--end", "200000d"], &["--end 200000d", "2^62"]);
    assert!(case.replay(&trace, &["--end", "1001ms"]).status.success());
}

#[test]
fn timestamps_beyond_2_62_ns_are_refused_naming_the_line() {
    let case = Case::new();
    let huge = "target,received_ns\nb,100\nb,18446744073709551000\nb,18446744073709551500\n";
    let trace = case.trace("huge.csv", huge.as_bytes());
    case.refused(&trace, &[], &["huge.csv: line 3", "received_ns", "2^62"]);
    let sent = "target,received_ns,sent_ns\nb,100,50\nb,200,4611686018427387905\n";
    let trace = case.trace("sent.csv", sent.as_bytes());
    case.refused(&trace, &[], &["sent.csv: line 3", "sent_ns", "2^62"]);
    // 2^62 itself is accepted.
    let edge = "target,received_ns\nb,4611686018427387904\n";
    assert!(case.replay(&case.trace("edge.csv", edge.as_bytes()), &[]).status.success());
}

#[test]
fn reordering_and_clock_skew_are_replayed_and_warned_about_on_stderr_only() {
    let case = Case::new();
    // Line 4: seq 1 after seq 2 (same incarnation): reordering. Line 6: a new incarnation
    // numbering from 0 is not. Lines 5 and 7: received before sent (the sender's clock runs
    // ahead).
    let text = "target,received_ns,seq,sent_ns,incarnation\n\
        b,100000000,0,99000000,1\n\
        b,200000000,2,199000000,1\n\
        b,210000000,1,99500000,1\n\
        b,300000000,3,300500000,1\n\
        b,400000000,0,399000000,2\n\
        b,500000000,1,500100000,2\n";
    let trace = case.trace("t.csv", text.as_bytes());
    let plain = case.replay(&case.trace("plain.csv", TRACE.as_bytes()), &[]);
    assert!(plain.status.success());
    std::fs::remove_dir_all(case.out()).unwrap();
    let o = case.replay(&trace, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("warning: ") && err.contains("1 row where `seq` is lower than") && err.contains("line 4"),
        "{err}"
    );
    assert!(err.contains("2 rows where `received_ns` is earlier than `sent_ns`, the first at line 5"), "{err}");
    // stdout is the table only, as without warnings.
    let table = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(!table.contains("warning") && table.starts_with("detector"), "{table}");
    assert!(String::from_utf8_lossy(&plain.stdout).starts_with("detector"));
    // And summary.json keeps them.
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(case.out().join("summary.json")).unwrap()).unwrap();
    let warnings = summary["trace_warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 2);
    assert_eq!((warnings[0]["kind"].as_str(), warnings[0]["rows"].as_u64()), (Some("seq_decreased"), Some(1)));
    assert_eq!(warnings[1]["first_line"].as_u64(), Some(5));
    // The hosts' clocks differ, so one-way delays are written above the link's smallest
    // received − sent (−0.5 ms, line 5): 1.5, 1.5, 111, 0, 1.5 and 0.4 ms, and the warning
    // says so; inter-arrival times are in the monitor's clock alone (5 gaps).
    let delays = std::fs::read_to_string(case.out().join("delay.hgrm")).unwrap();
    assert!(delays.contains("Total count    =            6"), "{delays}");
    assert!(delays.contains("Max     =      111.0"), "{delays}"); // 111 ms, to 3 digits
    assert!(err.contains("above each link's smallest"), "{err}");
    let gaps = std::fs::read_to_string(case.out().join("interarrival.hgrm")).unwrap();
    assert!(gaps.contains("Total count    =            5"), "{gaps}");
}

#[test]
fn a_bom_and_crlf_line_ends_replay_as_the_plain_trace_does() {
    let case = Case::new();
    let plain = case.trace("plain.csv", TRACE.as_bytes());
    let mut windows = b"\xEF\xBB\xBF".to_vec();
    windows.extend_from_slice(TRACE.replace('\n', "\r\n").as_bytes());
    let windows = case.trace("windows.csv", &windows);
    let summary = |trace: &Path| {
        let o = case.replay(trace, &["--crash", "b@950ms"]);
        assert!(o.status.success(), "{}", stderr(&o));
        let mut s: serde_json::Value =
            serde_json::from_slice(&std::fs::read(case.out().join("summary.json")).unwrap()).unwrap();
        std::fs::remove_dir_all(case.out()).unwrap();
        // The experiment's name is the file's.
        s["experiment"] = serde_json::Value::Null;
        (s, String::from_utf8_lossy(&o.stdout).into_owned())
    };
    let (a, table_a) = summary(&plain);
    let (b, table_b) = summary(&windows);
    assert_eq!(a, b);
    assert_eq!(table_a, table_b);
    // The heartbeat sent at 1 s, after the crash, is dropped.
    assert_eq!(a["results"][0]["heartbeats"], 4);
}

/// Hosts whose clocks differ: a's sender runs 1 s ahead of the monitor (every row "received
/// before sent"), b's 2 s behind. Each link's delays are reported above its own smallest:
/// a's 5, 7, 6, 9 ms become 0, 2, 1, 4 ms; b's 3, 4 ms become 0, 1 ms.
#[test]
fn delays_in_differing_clocks_are_reported_above_each_links_smallest() {
    use fdlab::replay::{ReplayConfig, replay};
    let case = Case::new();
    let ms = |x: u64| x * 1_000_000;
    let mut text = String::from("target,received_ns,seq,sent_ns\n");
    let mut rows = Vec::new();
    for (i, d) in [5, 7, 6, 9].into_iter().enumerate() {
        let send = ms(1000 + 100 * i as u64);
        rows.push((send + ms(d), format!("a,{},{i},{}\n", send + ms(d), send + ms(1000))));
    }
    for (i, d) in [3, 4].into_iter().enumerate() {
        let send = ms(1050 + 100 * i as u64);
        rows.push((send + ms(d), format!("b,{},{i},{}\n", send + ms(d), send - ms(1000))));
    }
    rows.sort();
    text.extend(rows.into_iter().map(|r| r.1));
    let trace = case.trace("clocks.csv", text.as_bytes());
    let config =
        ReplayConfig { trace, detectors: vec!["fixed:timeout=1s".parse().unwrap()], ..ReplayConfig::default() };
    let out = replay(&config, None).unwrap();
    let delay = out.delay.expect("delays above each link's smallest");
    assert_eq!((delay.len(), delay.min()), (6, 0));
    let values: Vec<u64> = delay.iter_recorded().map(|v| v.value_iterated_to()).collect();
    for (expected, count) in [(ms(0), 2), (ms(1), 2), (ms(2), 1), (ms(4), 1)] {
        let got = delay.count_between(expected, expected);
        assert_eq!(got, count, "{expected} ns in {values:?}");
    }
    let w = &out.summary.trace_warnings[0];
    assert_eq!(w.rows, 4);
    assert!(w.message.contains("above each link's smallest"), "{}", w.message);
}
