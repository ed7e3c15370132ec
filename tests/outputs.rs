//! Results directories end to end, through the `fdlab` binary: fdlab replaces only what its
//! manifest says it wrote, checks before the work, writes whole directories with ordinary
//! permissions, and never writes levels over the trace or a user's file.

use std::path::Path;
use std::process::Command;

mod common;
use common::{TRACE, fdlab, stderr, write};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Every file below `dir`, as relative paths, sorted.
fn files(dir: &Path) -> Vec<String> {
    fn walk(dir: &Path, rel: &str, found: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = if rel.is_empty() { name } else { format!("{rel}/{name}") };
            if entry.file_type().unwrap().is_dir() {
                walk(&entry.path(), &path, found);
            } else {
                found.push(path);
            }
        }
    }
    let mut found = Vec::new();
    walk(dir, "", &mut found);
    found.sort();
    found
}

fn manifest(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join(".fdlab-manifest")).expect("a manifest")).unwrap()
}

#[test]
fn a_directory_holding_a_users_files_is_never_written_into() {
    // `replay --out /` wrote its results among the user's files: here a directory standing
    // for `/` or a home directory.
    let dir = tempfile::tempdir().unwrap();
    let trace = write(dir.path(), "t.csv", TRACE);
    let home = dir.path().join("home");
    std::fs::create_dir_all(home.join("docs")).unwrap();
    write(&home, "notes.txt", "mine");
    write(&home.join("docs"), "plan.txt", "mine too");
    for args in [
        vec!["replay", s(&trace), "-d", "fixed:timeout=300ms", "--out", s(&home)],
        vec!["replay", s(&trace), "-d", "fixed:timeout=300ms", "--out", s(&home), "--every", "100ms"],
        vec!["run", "--no-charts", "--out", s(&home)],
    ] {
        let o = fdlab(&args);
        assert!(!o.status.success(), "{args:?} should be refused");
        assert!(stderr(&o).contains("holds `docs`, which fdlab does not write"), "{}", stderr(&o));
        assert_eq!(files(&home), ["docs/plan.txt", "notes.txt"], "{args:?}");
        assert_eq!(std::fs::read_to_string(home.join("notes.txt")).unwrap(), "mine");
    }
    // Nothing was left beside it either.
    let mut beside: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    beside.sort();
    assert_eq!(beside, ["home", "t.csv"]);
}

#[test]
fn a_users_files_named_like_fdlabs_outputs_survive_a_run() {
    // `run --out DIR` deleted a user's own trace.csv or levels.csv in DIR.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("data");
    std::fs::create_dir(&out).unwrap();
    write(&out, "trace.csv", "target,received_ns\nb,1\n");
    write(&out, "levels.csv", "my levels\n");
    let o = fdlab(&["run", "--no-charts", "--out", s(&out)]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("no .fdlab-manifest"), "{}", stderr(&o));
    assert_eq!(files(&out), ["levels.csv", "trace.csv"]);
    assert_eq!(std::fs::read_to_string(out.join("levels.csv")).unwrap(), "my levels\n");
    let o = fdlab(&["replay", s(&out.join("trace.csv")), "-d", "fixed:timeout=1s", "--out", s(&out)]);
    assert!(!o.status.success());
    assert_eq!(files(&out), ["levels.csv", "trace.csv"]);
}

#[test]
fn an_older_fdlabs_results_directory_is_refused_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("q");
    std::fs::create_dir_all(out.join("detection-time")).unwrap();
    write(&out, "summary.json", "{}");
    write(&out.join("detection-time"), "phi.hgrm", "");
    let o = fdlab(&["run", "--no-charts", "--out", s(&out)]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(err.contains("has no .fdlab-manifest") && err.contains("older fdlab"), "{err}");
    assert!(err.contains(&format!("rm -r {}", out.display())), "{err}");
    assert_eq!(files(&out), ["detection-time/phi.hgrm", "summary.json"]);
}

#[test]
fn replaying_twice_into_one_directory_leaves_only_the_second_replays_files() {
    let dir = tempfile::tempdir().unwrap();
    let trace = write(dir.path(), "t.csv", TRACE);
    let out = dir.path().join("r");
    let first = fdlab(&[
        "replay",
        s(&trace),
        "-d",
        "phi:threshold=8",
        "-d",
        "fixed:timeout=300ms",
        "--out",
        s(&out),
        "--every",
        "250ms",
    ]);
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(out.join("detection-time/phi_threshold=8.hgrm").exists() && out.join("levels.csv").exists());
    assert!(out.join("charts/timeline-0.png").exists() && out.join("report.html").exists());
    // The second without charts: the first's charts and report go with the rest.
    let second = fdlab(&["replay", s(&trace), "-d", "fixed:timeout=500ms", "--out", s(&out), "--no-charts"]);
    assert!(second.status.success(), "{}", stderr(&second));
    assert_eq!(
        files(&out),
        [
            ".fdlab-manifest",
            "delay.hgrm",
            "detection-time/fixed_timeout=500ms.hgrm",
            "faults.json",
            "interarrival.hgrm",
            "mistake-duration/fixed_timeout=500ms.hgrm",
            "mistakes.csv",
            "summary.json",
            "timeline/arrivals.csv",
            "timeline/levels.csv"
        ]
    );
    // The manifest lists every file with its size and SHA-256.
    let listed = manifest(&out)["files"].as_object().unwrap().clone();
    assert_eq!(listed.len(), 9);
    for (name, entry) in &listed {
        use sha2::Digest;
        let bytes = std::fs::read(out.join(name)).unwrap();
        let digest: String = sha2::Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(entry["bytes"].as_u64(), Some(bytes.len() as u64), "{name}");
        assert_eq!(entry["sha256"].as_str(), Some(digest.as_str()), "{name}");
    }
    // A file changed since fdlab wrote it is not fdlab's to delete, even when the edit keeps
    // its size (a digit changed in place).
    let summary = std::fs::read_to_string(out.join("summary.json")).unwrap();
    let edited = summary.replacen("\"fdlab_version\"", "\"fdlab_versiom\"", 1);
    assert_eq!((edited.len(), edited != summary), (summary.len(), true));
    write(&out, "summary.json", &edited);
    let o = fdlab(&["replay", s(&trace), "-d", "fixed:timeout=500ms", "--out", s(&out)]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("holds `summary.json`, changed since fdlab wrote it"), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(out.join("summary.json")).unwrap(), edited);
    write(&out, "summary.json", &summary);
    write(&out, "mistakes.csv", "edited by hand\n");
    let o = fdlab(&["replay", s(&trace), "-d", "fixed:timeout=500ms", "--out", s(&out)]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("holds `mistakes.csv`, changed since fdlab wrote it"), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(out.join("mistakes.csv")).unwrap(), "edited by hand\n");
}

#[test]
fn charts_drawn_later_join_the_manifest_so_the_next_run_replaces_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("q");
    assert!(fdlab(&["run", "--no-charts", "--out", s(&out)]).status.success());
    assert!(manifest(&out)["files"].get("report.html").is_none());
    // A chart the user put where fdlab would draw one: refused by name, kept, nothing drawn.
    std::fs::create_dir_all(out.join("charts")).unwrap();
    write(&out.join("charts"), "latency.png", "my own chart\n");
    let o = fdlab(&["plot", s(&out)]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("charts/latency.png is not a file fdlab wrote"), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(out.join("charts/latency.png")).unwrap(), "my own chart\n");
    assert!(!out.join("report.html").exists() && files(&out.join("charts")).len() == 1, "nothing drawn");
    std::fs::remove_file(out.join("charts/latency.png")).unwrap();
    let o = fdlab(&["plot", s(&out)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let listed = manifest(&out)["files"].as_object().unwrap().clone();
    for name in ["report.html", "charts/tradeoff.png", "charts/tradeoff.svg", "charts/timeline-0.png"] {
        let size = std::fs::metadata(out.join(name)).unwrap().len();
        assert_eq!(listed.get(name).and_then(|v| v["bytes"].as_u64()), Some(size), "{name}");
    }
    // Drawn again over what it drew: fine. Over a report or a chart the user wrote or
    // changed: refused by name before anything is drawn, and the user's file kept.
    let o = fdlab(&["plot", s(&out)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let charts_before = files(&out.join("charts"));
    write(&out, "report.html", "<p>my notes</p>\n");
    let o = fdlab(&["plot", s(&out)]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("report.html changed since fdlab wrote it"), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(out.join("report.html")).unwrap(), "<p>my notes</p>\n");
    assert_eq!(files(&out.join("charts")), charts_before, "nothing drawn");
    std::fs::remove_file(out.join("report.html")).unwrap();
    write(&out.join("charts"), "tradeoff.svg", "my own chart\n");
    let o = fdlab(&["plot", s(&out)]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("charts/tradeoff.svg changed since fdlab wrote it"), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(out.join("charts/tradeoff.svg")).unwrap(), "my own chart\n");
    std::fs::remove_file(out.join("charts/tradeoff.svg")).unwrap();
    assert!(!out.join("report.html").exists(), "nothing written while refused");
    let o = fdlab(&["plot", s(&out)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = fdlab(&["run", "--no-charts", "--out", s(&out)]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!out.join("report.html").exists() && !out.join("charts").exists());
}

#[test]
fn replay_refuses_an_out_that_holds_its_trace() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("q");
    assert!(fdlab(&["run", "--no-charts", "--trace", "--out", s(&out)]).status.success());
    let before = files(&out);
    let o = fdlab(&["replay", s(&out.join("trace.csv")), "-d", "fixed:timeout=500ms", "--out", s(&out)]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("holds the input trace"), "{}", stderr(&o));
    assert_eq!(files(&out), before);
}

#[test]
fn levels_never_overwrite_the_trace_or_a_file_fdlab_did_not_write() {
    let dir = tempfile::tempdir().unwrap();
    let trace = write(dir.path(), "t.csv", TRACE);
    let out = dir.path().join("r");
    let replay = |levels: &Path| {
        fdlab(&[
            "replay",
            s(&trace),
            "-d",
            "fixed:timeout=300ms",
            "--out",
            s(&out),
            "--levels",
            s(levels),
            "--every",
            "250ms",
        ])
    };
    // Onto the trace itself (also spelled differently).
    for levels in [trace.clone(), dir.path().join("r/../t.csv")] {
        let o = replay(&levels);
        assert!(!o.status.success());
        assert!(stderr(&o).contains("is the input trace"), "{}", stderr(&o));
        assert_eq!(std::fs::read_to_string(&trace).unwrap(), TRACE);
        assert!(!out.exists(), "no results for a refused replay");
    }
    // Onto a user's file.
    let mine = write(dir.path(), "mine.csv", "mine\n");
    let o = replay(&mine);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("exists; fdlab writes only new files"), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&mine).unwrap(), "mine\n");
    // Onto the results' own files.
    let o = replay(&out.join("summary.json"));
    assert!(!o.status.success());
    assert!(stderr(&o).contains("where fdlab writes other results"), "{}", stderr(&o));
    // A new file elsewhere is written; inside the results directory, it is one of its files.
    let new = dir.path().join("levels/new.csv");
    assert!(replay(&new).status.success());
    assert!(
        std::fs::read_to_string(&new)
            .unwrap()
            .starts_with("fault,time_ns,monitor,target,detector,level,threshold,suspected\n")
    );
    let o = replay(&new);
    assert!(!o.status.success(), "a second replay does not replace it");
    let inside = out.join("sampled.csv");
    assert!(replay(&inside).status.success());
    assert!(manifest(&out)["files"].get("sampled.csv").is_some());
    assert!(replay(&inside).status.success(), "replaced with its directory");
    let mut beside: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    beside.sort();
    assert_eq!(beside, ["levels", "mine.csv", "r", "t.csv"], "nothing half-written left");
    // A replay that fails (at a bad last row) after creating the new directories of
    // `--levels` and `--out` removes them again.
    let bad = write(dir.path(), "bad.csv", &format!("{TRACE}b,oops,11,1100000000\n"));
    // Replays `bad.csv` into `out` with `--levels levels` (both under the test's directory),
    // which fails at line 7.
    let fails = |out: &str, levels: &str| {
        let (out, levels) = (dir.path().join(out), dir.path().join(levels));
        let o = fdlab(&[
            "replay",
            s(&bad),
            "-d",
            "fixed:timeout=300ms",
            "--out",
            s(&out),
            "--levels",
            s(&levels),
            "--every",
            "250ms",
        ]);
        assert!(!o.status.success() && stderr(&o).contains("line 7"), "{}", stderr(&o));
    };
    fails("new/r", "gone/deeper/l.csv");
    assert!(!dir.path().join("gone").exists() && !dir.path().join("new").exists());
    // Through `..`, only what fdlab created is removed: never the user's empty directory.
    for name in ["keep", "keep-levels"] {
        std::fs::create_dir(dir.path().join(name)).unwrap();
    }
    fails("new/../keep/r", "new2/../keep-levels/l.csv");
    assert!(dir.path().join("keep").is_dir() && dir.path().join("keep-levels").is_dir(), "a user's directory removed");
    assert!(!dir.path().join("new").exists() && !dir.path().join("new2").exists());
}

#[cfg(unix)]
#[test]
fn every_output_has_the_permissions_of_a_file_created_by_hand() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let by_hand = write(dir.path(), "by-hand", "");
    std::fs::create_dir(dir.path().join("by-hand-dir")).unwrap();
    let (file_mode, dir_mode) = (mode(&by_hand), mode(&dir.path().join("by-hand-dir")));
    // Under the usual umask 022: 0644 and 0755.
    assert_eq!((file_mode, dir_mode), (0o644, 0o755), "the test expects umask 022");
    let trace = write(dir.path(), "t.csv", TRACE);
    let run = dir.path().join("q");
    assert!(fdlab(&["run", "--out", s(&run)]).status.success());
    let replay = dir.path().join("r");
    let outside = dir.path().join("levels.csv");
    let o = fdlab(&[
        "replay",
        s(&trace),
        "-d",
        "fixed:timeout=300ms",
        "--out",
        s(&replay),
        "--levels",
        s(&outside),
        "--every",
        "250ms",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(mode(&outside), file_mode, "levels.csv");
    for out in [&run, &replay] {
        assert_eq!(mode(out), dir_mode, "{}", out.display());
        for name in files(out) {
            let path = out.join(&name);
            assert_eq!(mode(&path), file_mode, "{}", path.display());
            assert_eq!(mode(path.parent().unwrap()), dir_mode, "{}", path.display());
        }
    }
    assert!(run.join("report.html").exists() && replay.join("summary.json").exists());
}

#[test]
fn an_unwritable_out_is_found_before_the_simulation() {
    // /proc takes no new directories, even from root. A simulated year takes about 40 s:
    // the refusal must come long before it would end.
    let mut child = Command::new(env!("CARGO_BIN_EXE_fdlab"))
        .args(["run", "experiments/bench/year.toml", "--no-charts", "--out", "/proc/fdlab-test/out"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > std::time::Duration::from_secs(20) {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("still running after 20 s: the output was not checked before the simulation");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert!(!status.success());
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(err.contains("/proc/fdlab-test"), "{err}");
    // And for a replay.
    let dir = tempfile::tempdir().unwrap();
    let trace = write(dir.path(), "t.csv", TRACE);
    let o = fdlab(&["replay", s(&trace), "-d", "fixed:timeout=300ms", "--out", "/proc/fdlab-test/out"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("/proc/fdlab-test"), "{}", stderr(&o));
}

#[test]
fn levels_estimated_above_2_gb_are_refused_before_the_replay() {
    let dir = tempfile::tempdir().unwrap();
    // 200 s of heartbeats: every microsecond, 2 × 10^8 samples of about 45 bytes.
    let mut text = String::from("target,received_ns\n");
    for i in 0..=2000u64 {
        text.push_str(&format!("b,{}\n", i * 100_000_000));
    }
    let trace = write(dir.path(), "t.csv", &text);
    let out = dir.path().join("r");
    let o = fdlab(&["replay", s(&trace), "-d", "fixed:timeout=300ms", "--out", s(&out), "--every", "1us"]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(err.contains("--every 1us: the sampled levels would be about"), "{err}");
    assert!(err.contains("GB") && err.contains("200000001 samples") && err.contains("--allow-large"), "{err}");
    assert!(!out.exists());
    let mut beside: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    beside.sort();
    assert_eq!(beside, ["t.csv"]);
    // The override is there, and said in --help.
    let help = String::from_utf8_lossy(&fdlab(&["replay", "--help"]).stdout).into_owned();
    assert!(help.contains("--allow-large") && help.contains("2 GB"), "{help}");
    let o =
        fdlab(&["replay", s(&trace), "-d", "fixed:timeout=300ms", "--out", s(&out), "--every", "1s", "--allow-large"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(out.join("levels.csv")).unwrap().lines().count(), 1 + 201);
    // An --end beyond what fdlab accepts is refused as such first, not with a suggestion.
    let o = fdlab(&[
        "replay",
        s(&trace),
        "-d",
        "fixed:timeout=300ms",
        "--out",
        s(&out),
        "--every",
        "1us",
        "--end",
        "18446744073709551615ns",
    ]);
    let end_err = stderr(&o);
    assert!(!o.status.success() && end_err.contains("--end 18446744073709551615ns: beyond 2^62 ns"), "{end_err}");
    assert!(!end_err.contains("sample less often"), "{end_err}");
    // The --every the refusal suggests is accepted, also for a trace reaching 2^62 ns (whose
    // size at 1 ns is beyond 2^64 bytes: it used to saturate, and its suggestion was refused).
    let suggested =
        |err: &str| err.split("sample less often: --every ").nth(1).unwrap().split(' ').next().unwrap().to_string();
    let every = suggested(&err);
    std::fs::remove_dir_all(&out).unwrap();
    let o = fdlab(&["replay", s(&trace), "-d", "fixed:timeout=300ms", "--out", s(&out), "--every", &every]);
    assert!(o.status.success(), "--every {every}: {}", stderr(&o));
    std::fs::remove_dir_all(&out).unwrap();
    let far = write(dir.path(), "far.csv", "target,received_ns\nb,0\nb,4611686018427387904\n");
    let o = fdlab(&["replay", s(&far), "-d", "fixed:timeout=300ms", "--out", s(&out), "--every", "1ns"]);
    let err = stderr(&o);
    assert!(!o.status.success() && err.contains("4611686018427387905 samples"), "{err}");
    assert!(err.contains("about 3.4e8 TB"), "saturated: {err}");
    // Its suggestion (about 500 MB of levels over 146 years) is a valid --every: tried on the
    // short trace, not written for the long one.
    let every = suggested(&err);
    let o = fdlab(&["replay", s(&trace), "-d", "fixed:timeout=300ms", "--out", s(&out), "--every", &every]);
    assert!(o.status.success(), "--every {every}: {}", stderr(&o));
}

#[cfg(unix)]
#[test]
fn a_trace_from_a_pipe_replays_whole_with_levels() {
    // The size estimate reads a trace's start a second time: never a pipe's.
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r");
    let mut child = Command::new(env!("CARGO_BIN_EXE_fdlab"))
        .args(["replay", "/dev/stdin", "-d", "fixed:timeout=300ms", "--out", s(&out), "--every", "250ms"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(TRACE.as_bytes()).unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["results"][0]["heartbeats"], 5);
    assert_eq!(std::fs::read_to_string(out.join("levels.csv")).unwrap().lines().count(), 1 + 4);
}
