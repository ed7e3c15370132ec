//! The `fdlab` binary end to end: outputs on success; on bad input a message naming the
//! file, line or field, a non-zero exit, and no partial output.

use std::path::Path;

mod common;
use common::{TRACE as GOOD, fdlab, stderr};

fn write(dir: &Path, name: &str, text: &str) -> String {
    common::arg(&common::write(dir, name, text)).to_string()
}

#[test]
fn replay_writes_summary_and_levels() {
    let dir = tempfile::tempdir().unwrap();
    let trace = write(dir.path(), "t.csv", GOOD);
    let out = dir.path().join("out");
    let levels = dir.path().join("levels.csv");
    let o = fdlab(&[
        "replay",
        &trace,
        "--detector",
        "phi:threshold=8",
        "--detector",
        "fixed:timeout=300ms",
        "--out",
        out.to_str().unwrap(),
        "--levels",
        levels.to_str().unwrap(),
        "--every",
        "250ms",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["fdlab_version"], env!("CARGO_PKG_VERSION"));
    assert!(summary["seed"].is_null());
    let results = summary["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    let fixed = &results[1];
    assert_eq!(fixed["detector"], "fixed:timeout=300ms");
    assert_eq!(fixed["target"], "b");
    // The 700 ms gap after 0.201 s: suspected from 0.501 s to 0.901 s, one mistake of 0.4 s.
    assert_eq!(fixed["mistakes"], 1);
    assert!((fixed["mistake_duration_s"]["mean"].as_f64().unwrap() - 0.4).abs() < 1e-9);
    // Exactly which mistake: listed with its times and cause.
    let mistakes = std::fs::read_to_string(out.join("mistakes.csv")).unwrap();
    assert_eq!(
        mistakes.lines().collect::<Vec<_>>(),
        [
            "monitor,target,detector,start_s,end_s,duration_s,cause,censored",
            ",b,fixed:timeout=300ms,0.501,0.901,0.4,network,false"
        ]
    );
    assert_eq!(fixed["mistakes_listed"], 1);
    for field in ["mistake_rate_per_s", "query_accuracy"] {
        assert!(fixed[field].is_number(), "{field}");
    }
    assert_eq!(fixed["mistake_rate_per_s_ci95"].as_array().unwrap().len(), 2);
    for field in ["mean", "p50", "p99", "max"] {
        assert!(fixed["detection_time_s"][field].is_number(), "{field}");
        assert!(fixed["mistake_duration_s"][field].is_number(), "{field}");
    }
    // Totals and percentile files as a simulation writes them: the fixed timeout's one
    // mistake, and its per-heartbeat detection estimate of 300 ms after each of 5 heartbeats.
    let totals = summary["totals"].as_array().unwrap();
    assert_eq!(
        (totals[1]["mistakes"].as_u64(), totals[1]["detection_basis"].as_str()),
        (Some(1), Some("per-heartbeat estimate"))
    );
    let hgrm = std::fs::read_to_string(out.join("detection-time/fixed_timeout=300ms.hgrm")).unwrap();
    assert!(hgrm.contains("Total count    =            5"), "{hgrm}");
    assert!(out.join("mistake-duration/phi_threshold=8.hgrm").exists());
    let text = std::fs::read_to_string(&levels).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "fault,time_ns,monitor,target,detector,level,threshold,suspected");
    // Samples at 250 ms, …, 1 s (the last arrival): 4 times × 2 detectors. At t = 0 the link
    // has not been heard from yet, so it has no rows.
    assert_eq!(lines.len(), 1 + 4 * 2);
    // At 750 ms the fixed timeout has been silent 549 ms since 201 ms: suspected.
    assert!(lines.contains(&",750000000,,b,fixed:timeout=300ms,0.549,0.3,true"), "{text}");
    // At 1 s the heartbeat received at 1.001 s is not yet in.
    assert!(lines.contains(&",1000000000,,b,fixed:timeout=300ms,0.099,0.3,false"), "{text}");
    // The trace has `sent_ns`, and no row was received before it was sent: its one-way
    // delays are written, beside its inter-arrival times.
    let delay = std::fs::read_to_string(out.join("delay.hgrm")).unwrap();
    assert!(delay.contains("Total count    =            5"), "{delay}");
    assert!(out.join("interarrival.hgrm").exists());
    // A label with commas is quoted, so the file stays eight columns. Without --levels, the
    // levels go into the results directory (which the second replay replaces).
    let o = fdlab(&[
        "replay",
        &trace,
        "-d",
        "phi:threshold=8,pause=2s",
        "--out",
        out.to_str().unwrap(),
        "--every",
        "500ms",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(out.join("levels.csv")).unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    for row in reader.records() {
        let row = row.unwrap();
        assert_eq!(row.len(), 8);
        assert_eq!(&row[4], "phi:threshold=8,pause=2s");
    }
}

fn assert_fails_cleanly(args: &[&str], out: &Path, needles: &[&str]) {
    let o = fdlab(args);
    assert!(!o.status.success(), "should fail: {args:?}");
    let err = stderr(&o);
    for needle in needles {
        assert!(err.contains(needle), "stderr lacks `{needle}`: {err}");
    }
    assert!(!err.contains("panicked"), "{err}");
    assert!(!out.join("summary.json").exists(), "partial output left for {args:?}");
}

#[test]
fn bad_input_names_the_line_or_field_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = out.to_str().unwrap();
    let good = write(dir.path(), "good.csv", GOOD);
    let garbled = write(dir.path(), "garbled.csv", "target,received_ns\nb,100\nb,2x00\n");
    let short = write(dir.path(), "short.csv", "target,received_ns\nb,100\nb\n");
    let nocol = write(dir.path(), "nocol.csv", "node,received_ns\nb,100\n");
    let levels = dir.path().join("levels.csv");
    let l = levels.to_str().unwrap();

    assert_fails_cleanly(
        &["replay", &garbled, "-d", "phi", "--out", o],
        &out,
        &["garbled.csv", "line 3", "received_ns", "2x00"],
    );
    assert_fails_cleanly(
        &["replay", &short, "-d", "phi", "--out", o, "--levels", l, "--every", "1s"],
        &out,
        &["short.csv", "line 3"],
    );
    assert!(!levels.exists(), "partial levels file left behind");
    assert_fails_cleanly(&["replay", &nocol, "-d", "phi", "--out", o], &out, &["nocol.csv", "`target`"]);
    assert_fails_cleanly(
        &["replay", &good, "-d", "phy:threshold=8", "--out", o],
        &out,
        &["unknown detector kind `phy`"],
    );
    assert_fails_cleanly(&["replay", &good, "-d", "phi:thresold=8", "--out", o], &out, &["no key `thresold`"]);
    assert_fails_cleanly(
        &["replay", &good, "-d", "fixed:timeout=-300ms", "--out", o],
        &out,
        &["timeout=-300ms", "negative"],
    );
    assert_fails_cleanly(
        &["replay", &good, "-d", "fixed:timeout=3 furlongs", "--out", o],
        &out,
        &["timeout=3 furlongs"],
    );
    assert_fails_cleanly(
        &["replay", &good, "-d", "phi", "--out", o, "--levels", l, "--every", "soon"],
        &out,
        &["--every", "soon"],
    );
    assert_fails_cleanly(
        &["replay", &good, "-d", "phi", "--out", o, "--crash", "zed@10s"],
        &out,
        &["`zed` does not appear"],
    );
    assert_fails_cleanly(
        &["replay", &good, "-d", "phi", "--out", o, "--crash", "b@-1s"],
        &out,
        &["--crash", "negative"],
    );
    let missing = dir.path().join("missing.csv");
    assert_fails_cleanly(&["replay", missing.to_str().unwrap(), "-d", "phi", "--out", o], &out, &["missing.csv"]);
}

#[test]
fn detectors_lists_every_kind_with_defaults() {
    let o = fdlab(&["detectors"]);
    assert!(o.status.success());
    let text = String::from_utf8_lossy(&o.stdout);
    for needle in [
        "fixed",
        "deadline",
        "phi",
        "phi-exp",
        "chen",
        "bertier",
        "2w",
        "empirical",
        "eventually-perfect",
        "min_std",
        "100ms",
        "pause_guard",
        "check_every",
        "akka-cluster",
        "akka-remote-watch",
        "akka-deadline",
        "cassandra",
        "hazelcast-deadline",
        "hazelcast-phi",
    ] {
        assert!(text.contains(needle), "{needle}");
    }
}

#[test]
fn run_without_a_file_runs_the_quickstart_and_writes_every_output() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("q");
    let o = fdlab(&["run", "--out", out.to_str().unwrap(), "--trace"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(table.contains("phi:threshold=8") && table.contains("fixed:timeout=500ms"), "{table}");
    let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["seed"], 42);
    assert_eq!(summary["engine"], "sim");
    assert_eq!(summary["experiment"], "quickstart");
    assert!(summary["experiment_config"]["faults"].is_array());
    for r in summary["results"].as_array().unwrap() {
        // The 2 s pause is the target's; the crash at 9 m is detected.
        assert_eq!(r["crashes"][0]["at_s"], 540.0);
        assert!(r["crashes"][0]["detection_time_s"].is_number());
    }
    for file in ["delay.hgrm", "interarrival.hgrm", "trace.csv", "detection-time/fixed_timeout=500ms.hgrm"] {
        assert!(out.join(file).is_file(), "{file}");
    }
    // The recorded trace replays.
    let replay_out = dir.path().join("r");
    let trace = out.join("trace.csv");
    let o =
        fdlab(&["replay", trace.to_str().unwrap(), "-d", "fixed:timeout=500ms", "--out", replay_out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    // Same seed, same bytes.
    let again = dir.path().join("q2");
    assert!(fdlab(&["run", "--out", again.to_str().unwrap()]).status.success());
    assert_eq!(std::fs::read(out.join("summary.json")).unwrap(), std::fs::read(again.join("summary.json")).unwrap());
}

#[test]
fn run_never_replaces_a_directory_it_did_not_write() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = out.to_str().unwrap();
    // A directory with a user's file is refused before anything runs, and left alone.
    std::fs::create_dir_all(out.join("notes")).unwrap();
    std::fs::write(out.join("notes/plan.txt"), "mine").unwrap();
    let refused = fdlab(&["run", "--no-charts", "--out", o]);
    assert!(!refused.status.success());
    assert!(stderr(&refused).contains("holds `notes`, which fdlab does not write"), "{}", stderr(&refused));
    assert_eq!(std::fs::read_to_string(out.join("notes/plan.txt")).unwrap(), "mine");
    assert!(!out.join("summary.json").exists());
    // A results directory is replaced by the next run, the charts `run` drew included...
    std::fs::remove_dir_all(out.join("notes")).unwrap();
    assert!(fdlab(&["run", "--out", o]).status.success());
    assert!(out.join("charts/tradeoff.png").exists() && out.join("report.html").exists());
    assert!(fdlab(&["run", "--no-charts", "--trace", "--out", o]).status.success());
    assert!(out.join("trace.csv").exists() && !out.join("charts").exists() && !out.join("report.html").exists());
    // ...but not once a user's file sits among the results, even one named as fdlab names
    // its outputs (fdlab replaces only what its manifest lists).
    std::fs::write(out.join("levels.csv"), "time_ns\n").unwrap();
    let refused = fdlab(&["run", "--no-charts", "--out", o]);
    assert!(stderr(&refused).contains("holds `levels.csv`, which fdlab did not write"), "{}", stderr(&refused));
    assert_eq!(std::fs::read_to_string(out.join("levels.csv")).unwrap(), "time_ns\n");
    std::fs::remove_file(out.join("levels.csv")).unwrap();
    std::fs::write(out.join("timeline/mine.txt"), "mine").unwrap();
    let refused = fdlab(&["run", "--no-charts", "--out", o]);
    assert!(stderr(&refused).contains("holds `timeline/mine.txt`"), "{}", stderr(&refused));
    assert!(out.join("timeline/mine.txt").exists() && out.join("trace.csv").exists());
    // A file where the directory should be.
    let file = dir.path().join("file");
    std::fs::write(&file, "mine").unwrap();
    let refused = fdlab(&["run", "--no-charts", "--out", file.to_str().unwrap()]);
    assert!(stderr(&refused).contains("exists and is not a directory"), "{}", stderr(&refused));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "mine");
    // Nothing but the directories written is left beside them (no spill, no temporary).
    let mut names: Vec<String> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    assert_eq!(names, ["file", "out"]);
}

#[test]
fn validate_checks_files_without_running_them() {
    let dir = tempfile::tempdir().unwrap();
    let bad = write(
        dir.path(),
        "bad.toml",
        "name = \"x\"\nseed = 1\nduration = \"1m\"\ndetectors = [\"phi\"]\n[[nodes]]\nid = \"a\"\n[[nodes]]\nid = \"b\"\n[[faults]]\nkind = \"crash\"\nnode = \"c\"\nat = \"1s\"\n",
    );
    let o = fdlab(&["validate", "experiments/quickstart.toml"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("ok: experiments/quickstart.toml"));
    let o = fdlab(&["validate", "experiments/quickstart.toml", &bad]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("bad.toml") && stderr(&o).contains("faults[0].node"), "{}", stderr(&o));
    let o = fdlab(&["run", &bad, "--out", dir.path().join("o").to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(!dir.path().join("o").exists(), "no partial results directory");
}

#[test]
fn errors_say_each_cause_once() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.csv");
    let o = fdlab(&["replay", missing.to_str().unwrap(), "-d", "fixed:timeout=1s"]);
    let err = stderr(&o);
    assert!(!o.status.success());
    assert_eq!(err.matches("No such file").count(), 1, "{err}");
    assert_eq!(err.matches("nope.csv").count(), 1, "{err}");
    let trace = write(dir.path(), "t.csv", "target,received_ns\nb,0\nb,100000000\n");
    let o = fdlab(&["replay", &trace, "-d", "chen:alpha=1s", "--out", dir.path().join("out").to_str().unwrap()]);
    let err = stderr(&o);
    assert_eq!(err.matches("needs `interval`").count(), 1, "{err}");
    let o = fdlab(&["replay", &trace, "-d", "fixed:timeout=0"]);
    assert!(stderr(&o).contains("the timeout must be greater than zero"), "{}", stderr(&o));
}

#[test]
fn a_trace_larger_than_the_free_disk_is_refused_before_the_run() {
    // 10 ns heartbeats for 1000 s on two links: 2 · 10^11 deliveries (within the work
    // limit with one detector), a trace of about 9.6 TB: more than any disk here has free.
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "t.toml",
        "name = \"t\"\nseed = 1\nduration = \"1000s\"\ndetectors = [\"fixed:timeout=1s\"]\n\
         [defaults]\ninterval = \"10ns\"\n[[nodes]]\nid = \"a\"\n[[nodes]]\nid = \"b\"\n",
    );
    let out = dir.path().join("out");
    let o = fdlab(&["run", &file, "--trace", "--out", out.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("refusing to run with --trace") && stderr(&o).contains("MiB free"), "{}", stderr(&o));
    assert!(!out.exists());
}

/// Replications repeat the work: a year of four detectors is 1.26 · 10^9
/// configuration-heartbeats, a thousand of them more than the limit, refused before anything
/// is written, with the estimate.
#[test]
fn replications_beyond_the_work_limit_are_refused_before_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let year = common::experiments().join("bench/year.toml");
    let o = fdlab(&["run", year.to_str().unwrap(), "--replications", "1000", "--out", out.to_str().unwrap()]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains("refusing to run") && err.contains("run as 4000 configuration runs over 1000 replications"),
        "{err}"
    );
    assert!(err.contains("configuration-heartbeats would take hours"), "{err}");
    assert!(!out.exists());
}

/// Each message of issue #17's list, exactly: the cause once, the path or field named, the
/// right word for the value.
#[test]
fn messages_say_the_right_thing_once() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let out = dir.path().join("out");
    let o = out.to_str().unwrap();
    let missing = dir.path().join("nope.csv");
    let e = stderr(&fdlab(&["replay", missing.to_str().unwrap(), "-d", "phi", "--out", o]));
    assert_eq!(e, format!("error: {d}/nope.csv: cannot read: No such file or directory (os error 2)\n"));
    let e = stderr(&fdlab(&["replay", d, "-d", "phi", "--out", o]));
    assert_eq!(e, format!("error: {d}: cannot read: is a directory\n"));
    let e = stderr(&fdlab(&["run", "--out", "/proc/fdlab-x"]));
    assert_eq!(e, "error: cannot write the results in /proc: No such file or directory (os error 2)\n");

    let node = |extra: &str| {
        format!(
            "name = \"t\"\nseed = 1\nduration = \"10s\"\ndetectors = [\"fixed:timeout=1s\"]\n[[nodes]]\nid = \"a\"\n\
             [[nodes]]\nid = \"b\"\n{extra}"
        )
    };
    let inf = write(
        dir.path(),
        "inf.toml",
        &node("[network]\ndelay = { dist = \"lognormal\", median = \"1ms\", sigma = inf }\n"),
    );
    let e = stderr(&fdlab(&["validate", &inf]));
    assert_eq!(
        e,
        format!(
            "error: {inf}: `network.delay`: `sigma` = inf: it must be finite and ≥ 0\nerror: 1 of 1 experiment file is \
             invalid\n"
        )
    );
    let from = "[[faults]]\nkind = \"partition\"\nfrom = [\"zz\"]\nto = [\"a\"]\nat = \"1s\"\nduration = \"1s\"\n";
    let from = write(dir.path(), "from.toml", &node(from));
    let one = write(dir.path(), "one.toml", &node(""));
    let o2 = fdlab(&["validate", &from, &one]);
    assert_eq!(
        stderr(&o2),
        format!(
            "error: {from}: `faults[0].from`: no node `zz`; nodes are: a, b\nerror: 1 of 2 experiment files is invalid\n"
        )
    );
    let ok = String::from_utf8_lossy(&o2.stdout).into_owned();
    assert!(
        ok.starts_with(&format!("ok: {one} (t: 2 nodes, 0 faults; 2 monitored links × 1 detector configuration,")),
        "{ok}"
    );

    let trace = write(dir.path(), "t.csv", GOOD);
    let e = stderr(&fdlab(&["replay", &trace, "-d", "fixed:timeout=0", "--out", o]));
    assert!(e.starts_with("error: invalid value 'fixed:timeout=0' for '--detector <SPEC>': `timeout=0`: the timeout must be greater than zero\n"), "{e}");
    let help = String::from_utf8_lossy(&fdlab(&["run", "--help"]).stdout).into_owned();
    let threads = help.lines().find(|l| l.contains("--threads")).unwrap();
    assert_eq!(threads.matches("default").count(), 1, "{threads}");
}

/// `--time-unit` and the inferred interval, from the command line.
#[test]
fn decimal_timestamps_and_an_inferred_interval() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = out.to_str().unwrap();
    // GOOD in seconds, with a byte-order mark and a header in capitals.
    let secs = "\u{feff}TARGET,Received_NS,SEQ,SENT_NS\nb,0.001,0,0\nb,0.101,1,0.1\nb,0.201,2,0.2\nb,0.901,9,0.9\nb,1.001,10,1.0\n";
    let secs = write(dir.path(), "secs.csv", secs);
    let ns = write(dir.path(), "ns.csv", GOOD);
    let run = |trace: &str, extra: &[&str]| {
        let mut args = vec!["replay", trace, "-d", "chen:alpha=50ms", "-d", "fixed:timeout=300ms", "--out", o];
        args.extend_from_slice(extra);
        let r = fdlab(&args);
        assert!(r.status.success(), "{}", stderr(&r));
        (String::from_utf8_lossy(&r.stdout).into_owned(), stderr(&r))
    };
    let (table_s, err) = run(&secs, &["--time-unit", "s"]);
    assert!(err.starts_with(
        "interval of chen inferred from the trace: 100ms (the median of Δsent_ns/Δseq over 4 pairs of rows of one link \
         and incarnation, rounded to 1 µs; give `interval=` to set it)\n"
    ), "{err}");
    let (table_ns, _) = run(&ns, &[]);
    assert_eq!(table_s, table_ns);
    let (_, err) = run(&ns, &["-d", "bertier:interval=100ms"]);
    assert!(err.starts_with("interval of chen inferred"), "{err}");
    let bad = write(dir.path(), "bad.csv", "target,received_ns\nb,0.5\nb,0.5000001\n");
    let bad_out = dir.path().join("bad-out");
    let e = stderr(&fdlab(&["replay", &bad, "-d", "phi", "--time-unit", "ms", "--out", bad_out.to_str().unwrap()]));
    assert_eq!(
        e,
        format!(
            "error: {bad}: line 3: column `received_ns`: `0.5000001` has 7 digits after the point; --time-unit ms allows \
             at most 6 (whole nanoseconds)\n"
        )
    );
    assert!(!bad_out.exists());
}

/// `validate` reads the empirical delay traces an experiment names, as `run` would before
/// it starts: a missing one, a directory or one without `sent_ns` is an error naming the
/// trace once; a good one validates.
#[test]
fn validate_reads_the_empirical_delay_traces() {
    let dir = tempfile::tempdir().unwrap();
    let exp = |trace: &str| {
        write(
            dir.path(),
            "emp.toml",
            &format!(
                "name = \"emp\"\nseed = 1\nduration = \"1m\"\ndetectors = [\"fixed:timeout=1s\"]\n\
                 [[nodes]]\nid = \"a\"\n[[nodes]]\nid = \"b\"\n\
                 [network]\ndelay = {{ dist = \"empirical\", trace = \"{trace}\" }}\n"
            ),
        )
    };
    std::fs::create_dir(dir.path().join("adir")).unwrap();
    write(dir.path(), "nosent.csv", "target,received_ns\na,5\n");
    write(dir.path(), "good.csv", "target,received_ns,sent_ns\na,5,2\na,9,7\n");
    // A named pipe with no writer: opening it would wait for ever.
    let fifo = dir.path().join("fifo.csv");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    for (trace, says) in [
        ("missing.csv", "cannot read"),
        ("adir", "cannot read"),
        ("nosent.csv", "needs a `sent_ns` column"),
        ("fifo.csv", "is not a regular file"),
    ] {
        let file = exp(trace);
        let out = dir.path().join("out");
        let full = dir.path().join(trace).display().to_string();
        for args in [vec!["validate", &file], vec!["run", &file, "--no-charts", "--out", common::arg(&out)]] {
            let o = fdlab(&args);
            let e = stderr(&o);
            assert!(!o.status.success(), "{args:?}");
            assert!(e.contains(&format!("empirical delay trace {full}: ")), "{e}");
            assert!(e.contains(says) && e.matches(&full).count() == 1, "{args:?}: {e}");
            assert!(!out.exists());
        }
    }
    let o = fdlab(&["validate", &exp("good.csv")]);
    assert!(o.status.success(), "{}", stderr(&o));
}

/// The table's "+" (a suspicion still open at the end, censored) shows on a totals row as on
/// a link's: a→c falls silent at 30 s of 60, so its 300 ms timeout suspects to the end.
#[test]
fn the_totals_row_marks_a_suspicion_still_open_at_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("monitor,target,received_ns,seq,sent_ns\n");
    for i in 0..600u64 {
        let s = i * 100_000_000;
        text.push_str(&format!("a,b,{},{i},{s}\n", s + 1_000_000));
        if i <= 300 {
            text.push_str(&format!("a,c,{},{i},{s}\n", s + 2_000_000));
        }
    }
    let trace = write(dir.path(), "two.csv", &text);
    let table = |detector: &str, out: &str| {
        let out = dir.path().join(out);
        let o = fdlab(&["replay", &trace, "-d", detector, "--no-charts", "--out", common::arg(&out)]);
        assert!(o.status.success(), "{}", stderr(&o));
        String::from_utf8(o.stdout).unwrap()
    };
    let t = table("fixed:timeout=300ms", "r1");
    let row = t.lines().find(|l| l.starts_with("fixed:timeout=300ms")).unwrap_or_else(|| panic!("{t}"));
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(&cells[1..4], ["2", "links", "0+"], "{t}");
    // Without an open suspicion at the end, no mark: a timeout longer than the run's rest.
    let t = table("fixed:timeout=40s", "r2");
    let row = t.lines().find(|l| l.starts_with("fixed:timeout=40s")).unwrap_or_else(|| panic!("{t}"));
    assert_eq!(&row.split_whitespace().collect::<Vec<_>>()[1..4], ["2", "links", "0"], "{t}");
}
