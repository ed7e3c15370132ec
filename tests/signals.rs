//! A run stopped while it writes its results leaves nothing behind: on SIGTERM and SIGINT
//! its handler removes the staging directory and exits with 143 or 130; after SIGKILL the
//! next run writing into the same directory removes it.
#![cfg(unix)]

use nix::sys::signal::Signal;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Two simulated days of one link with `--trace`: about 80 MB of trace.csv, written for
/// half a second or more, long enough to be caught in the act.
const LONG: &str = "name = \"long\"\nseed = 1\nduration = \"2d\"\ndetectors = [\"fixed:timeout=500ms\"]\n\
    [defaults]\ninterval = \"100ms\"\n[[nodes]]\nid = \"a\"\n[[nodes]]\nid = \"b\"\n\
    [monitoring]\nmode = \"pairs\"\npairs = [[\"b\", \"a\"]]\n";

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

/// Starts `fdlab run --trace` of [`LONG`] into `dir/out` and returns once it is writing its
/// results: a staging directory beside `out` (`.fdlab-stage-…`; any `.fdlab-` name, so that
/// the test also catches older fdlab versions in the act) holds `trace.csv`.
fn run_until_writing(dir: &Path) -> (Child, PathBuf) {
    run_until_writing_into(dir, "")
}

/// As [`run_until_writing`], into `dir/NESTED/out`.
fn run_until_writing_into(top: &Path, nested: &str) -> (Child, PathBuf) {
    let experiment = top.join("long.toml");
    std::fs::write(&experiment, LONG).unwrap();
    let dir = &top.join(nested);
    let out = dir.join("out");
    let mut child = Command::new(env!("CARGO_BIN_EXE_fdlab"))
        .args(["run", experiment.to_str().unwrap(), "--trace", "--no-charts", "--out", out.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        let staging = if dir.exists() { names(dir) } else { Vec::new() }.into_iter().find(|n| n.starts_with(".fdlab-"));
        if let Some(staging) = staging.map(|n| dir.join(n))
            && staging.join("trace.csv").exists()
        {
            return (child, staging);
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("fdlab ended ({status}) before it was caught writing");
        }
        assert!(start.elapsed() < Duration::from_secs(8), "no staging directory with trace.csv appeared");
        std::thread::sleep(Duration::from_micros(500));
    }
}

fn signal(child: &Child, signal: Signal) {
    // The child this test started and has not reaped.
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), signal).expect("signal sent");
}

fn stopped_while_writing_leaves_nothing(sig: Signal, code: i32, nested: &str) {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, staging) = run_until_writing_into(dir.path(), nested);
    signal(&child, sig);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(code), "exit status {status}");
    assert!(!staging.exists());
    assert_eq!(names(dir.path()), ["long.toml"], "nothing left beside the output");
}

#[test]
fn sigterm_while_writing_leaves_nothing_and_exits_143() {
    stopped_while_writing_leaves_nothing(Signal::SIGTERM, 143, "");
}

#[test]
fn sigint_while_writing_leaves_nothing_and_exits_130() {
    stopped_while_writing_leaves_nothing(Signal::SIGINT, 130, "");
}

#[test]
fn a_stopped_run_into_new_nested_directories_removes_the_ones_it_created() {
    // `new/deeper` did not exist: the run created them for `new/deeper/out`.
    stopped_while_writing_leaves_nothing(Signal::SIGTERM, 143, "new/deeper");
}

#[test]
fn after_sigkill_the_next_run_removes_what_was_left() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, staging) = run_until_writing(dir.path());
    signal(&child, Signal::SIGKILL);
    child.wait().unwrap();
    assert!(staging.join("trace.csv").exists(), "SIGKILL leaves the staging directory");
    // The next run writing beside it (a short one) removes it, and only it.
    std::fs::write(dir.path().join("mine.txt"), "mine").unwrap();
    let out = dir.path().join("q");
    let o = Command::new(env!("CARGO_BIN_EXE_fdlab"))
        .args(["run", "--no-charts", "--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!staging.exists());
    assert_eq!(names(dir.path()), ["long.toml", "mine.txt", "q"]);
}

#[test]
fn a_running_fdlabs_staging_directory_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, staging) = run_until_writing(dir.path());
    // Another run writing beside it while it writes.
    let out = dir.path().join("q");
    let o = Command::new(env!("CARGO_BIN_EXE_fdlab"))
        .args(["run", "--no-charts", "--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let status = child.wait().unwrap();
    assert!(status.success(), "the first run, whose staging directory {} was removed, failed", staging.display());
    assert_eq!(names(dir.path()), ["long.toml", "out", "q"]);
}
