//! What the integration tests share: running the binary, writing inputs, loading and
//! simulating the committed experiments. Each test binary uses part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use fdlab::analysis::output::RunOutput;
use fdlab::experiment::{Experiment, ValidExperiment};
use fdlab::sim::{RunOptions, run};

/// Heartbeats every 100 ms for a second, except a 700 ms gap (rows 3 to 9 are missing).
pub const TRACE: &str = "target,received_ns,seq,sent_ns\nb,1000000,0,0\nb,101000000,1,100000000\nb,201000000,2,200000000\nb,901000000,9,900000000\nb,1001000000,10,1000000000\n";

/// Runs the fdlab binary with `args`.
pub fn fdlab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fdlab")).args(args).output().expect("run fdlab")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Writes `text` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// A path as a command-line argument.
pub fn arg(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}

/// The committed experiments' directory.
pub fn experiments() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments")
}

/// A committed experiment by name, validated.
pub fn load(name: &str) -> ValidExperiment {
    Experiment::load(&experiments().join(format!("{name}.toml"))).unwrap_or_else(|e| panic!("{e}"))
}

/// Runs `e` as `fdlab run` would (relative paths from the experiments' directory), with
/// `options` otherwise default.
pub fn simulate_with(e: &ValidExperiment, options: RunOptions) -> RunOutput {
    let options = RunOptions { base_dir: experiments(), ..options };
    run(e, &options, &|_| {}).unwrap_or_else(|e| panic!("{e}"))
}

/// [`simulate_with`] the default options.
pub fn simulate(e: &ValidExperiment) -> RunOutput {
    simulate_with(e, RunOptions::default())
}

/// The committed results directories (those with a `summary.json`), by name.
pub fn committed_results() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("results");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|d| d.join("summary.json").is_file())
        .collect();
    dirs.sort();
    dirs
}

/// live-smoke's cluster figures, the same simulated (tests/experiments.rs) and live
/// (tests/live.rs): under `lowest-unsuspected` the partition {a} | {b, c} (4 s) splits the
/// brain for most of its length (b leads beside a once b suspects a); under `majority` only
/// while the two sides disagree on who is cut off (a keeps its majority with c until it
/// suspects c, b has one as soon as it suspects a: milliseconds); under the lease never.
pub fn assert_live_smoke_cluster(s: &fdlab::analysis::results::SummaryFile) {
    assert_eq!(s.cluster.len(), 3);
    for c in &s.cluster {
        let [lowest, majority, lease] = &c.rules[..] else { panic!("three rules: {c:?}") };
        assert!((2.5..4.0).contains(&lowest.split_brain_s), "{}: {lowest:?}", c.detector);
        assert!(majority.split_brain_s < 0.1, "{}: {majority:?}", c.detector);
        assert_eq!(lease.split_brain_s, 0.0, "{}: {lease:?}", c.detector);
        // The lease's price: the time from a's lapse to b's first acknowledgement, and back.
        assert!(lease.leaderless_s > 0.3, "{}: {lease:?}", c.detector);
    }
}
