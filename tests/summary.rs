//! `summary.json` is typed both ways: the structs that write it are the structs that read
//! it back (`SummaryFile::read`), and reading then writing gives the same bytes, for every
//! committed results directory and for fresh runs of each engine. `faults.json` reads into
//! the timeline's `FaultView`s. Older files and broken ones get a fallback or an error
//! naming the file and the field, never a panic.

use std::path::{Path, PathBuf};
use std::process::Command;

mod common;

use fdlab::analysis::output::FaultView;
use fdlab::experiment::{Experiment, QUICKSTART};
use fdlab::report::charts::timeline::faults;
use fdlab::report::charts::{plot, plot_and_report, tradeoff};
use fdlab::report::summary::{Engine, SummaryFile, TraceWarningKind};
use fdlab::report::{outputs, write_dir_atomic};
use fdlab::sim::{RunOptions, run};

/// Reads `text` as a summary and writes it again: the same bytes.
fn assert_round_trip(text: &[u8], what: &str) -> SummaryFile {
    let summary = SummaryFile::from_json(text).unwrap_or_else(|e| panic!("{what}: {e}"));
    let again = summary.to_json();
    let (old, new) = (String::from_utf8_lossy(text), again.as_str());
    if let Some((line, (a, b))) = old.lines().zip(new.lines()).enumerate().find(|(_, (a, b))| a != b) {
        panic!("{what}: read and written again, line {} differs: `{a}` became `{b}`", line + 1);
    }
    assert!(again.as_bytes() == text, "{what}: read and written again, its length differs");
    summary
}

fn committed() -> Vec<PathBuf> {
    common::committed_results()
}

#[test]
fn every_committed_summary_reads_into_the_schema_and_writes_back_identically() {
    let dirs = committed();
    assert!(dirs.len() >= 2, "{dirs:?}");
    for dir in dirs {
        let path = dir.join("summary.json");
        let summary = SummaryFile::read(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_round_trip(&std::fs::read(&path).unwrap(), &path.display().to_string());
        // Simulations, and one live run kept as an example (`<experiment>-live`).
        let live = dir.file_name().unwrap().to_string_lossy().ends_with("-live");
        assert_eq!(summary.engine, if live { Engine::Live } else { Engine::Sim }, "{}", dir.display());
        assert_eq!(summary.live.is_some(), live);
        // Every configuration with a knob says which key it is, and its label starts with it.
        for r in &summary.results {
            if let Some(knob) = &r.knob {
                let (family, value) = tradeoff::split_label(&r.detector, Some(knob));
                assert!(!value.is_empty() && family != r.detector, "{}", r.detector);
            }
        }
        // faults.json reads as the timeline reads it, one record per entry.
        let records = faults(&dir).unwrap();
        let raw: Vec<serde_json::Value> =
            serde_json::from_slice(&std::fs::read(dir.join("faults.json")).unwrap()).unwrap();
        assert_eq!(records.len(), raw.len());
        assert!(records.iter().enumerate().all(|(i, f)| f.id == i));
    }
}

fn quickstart() -> fdlab::analysis::output::RunOutput {
    let e = Experiment::from_toml(Path::new("quickstart.toml"), QUICKSTART).unwrap();
    run(&e, &RunOptions { threads: 1, ..Default::default() }, &|_| {}).unwrap()
}

#[test]
fn a_simulations_files_round_trip_byte_for_byte() {
    let out = quickstart();
    let written = out.summary.to_json();
    let read = assert_round_trip(written.as_bytes(), "quickstart");
    assert_eq!(read.results.len(), out.summary.results.len());
    let knobs: Vec<(&str, Option<&str>)> = read.totals.iter().map(|t| (t.kind.as_str(), t.knob.as_deref())).collect();
    assert!(knobs.iter().all(|(kind, knob)| match *kind {
        "phi" | "phi-exp" | "empirical" => *knob == Some("threshold"),
        "fixed" => *knob == Some("timeout"),
        "bertier" | "eventually-perfect" => knob.is_none(),
        _ => knob.is_some(),
    }));
    // What the simulator writes as faults.json is what the timeline reads.
    let text = serde_json::to_string(&out.timeline.as_ref().unwrap().faults).unwrap();
    let records: Vec<FaultView> = serde_json::from_str(&text).unwrap();
    assert_eq!(records.len(), out.timeline.as_ref().unwrap().faults.len());
    assert_eq!(
        serde_json::to_value(&out.timeline.as_ref().unwrap().faults).unwrap().as_array().unwrap()[0]
            .as_object()
            .unwrap()
            .len(),
        9
    );
}

#[test]
fn a_replays_summary_round_trips_byte_for_byte() {
    // Reordered and received before sent: both kinds of warning; one knob-less detector.
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("t.csv");
    std::fs::write(
        &trace,
        "target,received_ns,seq,sent_ns\nb,1000000,0,0\nb,101000000,2,100000000\nb,151000000,1,200000000\n\
         b,301000000,3,300000000\nb,1001000000,10,1000000000\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let o = Command::new(env!("CARGO_BIN_EXE_fdlab"))
        .args(["replay", trace.to_str().unwrap(), "-d", "fixed:timeout=300ms|600ms", "-d", "bertier:interval=100ms"])
        .args(["--crash", "b@950ms", "--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let summary = assert_round_trip(&std::fs::read(out.join("summary.json")).unwrap(), "replay");
    assert_eq!((summary.engine, summary.seed), (Engine::Replay, None));
    let kinds: Vec<TraceWarningKind> = summary.trace_warnings.iter().map(|w| w.kind).collect();
    assert_eq!(kinds, [TraceWarningKind::SeqDecreased, TraceWarningKind::ReceivedBeforeSent]);
    let knobs: Vec<Option<&str>> = summary.totals.iter().map(|t| t.knob.as_deref()).collect();
    assert_eq!(knobs, [Some("timeout"), Some("timeout"), None]);
}

/// The quickstart's files in `dir`, with `summary.json` edited by `edit`.
fn quickstart_with(dir: &Path, edit: impl Fn(&str) -> String) {
    write_dir_atomic(dir, &outputs(&quickstart())).unwrap();
    let path = dir.join("summary.json");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, edit(&text)).unwrap();
}

#[test]
fn an_older_summary_without_knob_still_draws() {
    let dir = tempfile::tempdir().unwrap();
    let (now, older) = (dir.path().join("now"), dir.path().join("older"));
    quickstart_with(&now, str::to_string);
    let without_knob =
        |text: &str| text.lines().filter(|l| !l.contains("\"knob\":")).map(|l| format!("{l}\n")).collect();
    quickstart_with(&older, without_knob);
    let summary = SummaryFile::read(&older.join("summary.json")).unwrap();
    assert!(summary.results.iter().all(|r| r.knob.is_none()));
    assert!(summary.totals.iter().all(|t| t.knob.is_none()));
    // Every chart is drawn; the trade-off chart makes each configuration a curve of its own.
    let (drawn, skipped) = plot_and_report(&older).unwrap();
    assert!(skipped.is_empty(), "{skipped:?}");
    let (now_drawn, _) = plot(&now).unwrap();
    assert_eq!(drawn.len(), now_drawn.len());
    let knob_values = |d: &Path| {
        let t = tradeoff::load(d).unwrap();
        t.families.iter().flat_map(|(_, points)| points).filter(|p| !p.knob.is_empty()).count()
    };
    assert_eq!(knob_values(&older), 0);
    assert!(knob_values(&now) > 0);
}

#[test]
fn a_summary_missing_a_field_is_an_error_naming_the_file_and_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("q");
    quickstart_with(&results, |text| {
        text.lines().filter(|l| !l.contains("\"detection_basis\":")).map(|l| format!("{l}\n")).collect()
    });
    let e = SummaryFile::read(&results.join("summary.json")).unwrap_err().to_string();
    assert!(e.contains("summary.json") && e.contains("`detection_basis`"), "{e}");
    // The charts that need it say so; the ones that do not are still drawn.
    let (drawn, skipped) = plot(&results).unwrap();
    assert!(drawn.iter().any(|d| d.name == "latency"));
    let reasons: Vec<String> = skipped.iter().map(ToString::to_string).collect();
    assert!(reasons.iter().any(|r| r.contains("summary.json") && r.contains("`detection_basis`")), "{reasons:?}");
    // An engine fdlab does not know is refused by name too.
    let results = dir.path().join("warp");
    quickstart_with(&results, |text| text.replacen("\"engine\": \"sim\"", "\"engine\": \"warp\"", 1));
    let e = SummaryFile::read(&results.join("summary.json")).unwrap_err().to_string();
    assert!(e.contains("summary.json") && e.contains("warp"), "{e}");
}
