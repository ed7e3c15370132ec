//! Charts and report.html, drawn from the files a run writes.

use std::path::Path;

mod common;
use std::process::Command;

use fdlab::experiment::{Experiment, QUICKSTART};
use fdlab::report::charts::{ChartError, layouts, plot, plot_and_report};
use fdlab::report::{outputs, write_dir_atomic};
use fdlab::sim::{RunOptions, run};

/// Simulates the quickstart into `dir` (no charts yet).
fn quickstart(dir: &Path) {
    let e = Experiment::from_toml(Path::new("quickstart.toml"), QUICKSTART).unwrap();
    let out = run(
        &e,
        &RunOptions {
            seed: None,
            base_dir: ".".into(),
            record_trace: false,
            scratch_dir: None,
            threads: 1,
            ..Default::default()
        },
        &|_| {},
    )
    .unwrap();
    write_dir_atomic(dir, &outputs(&out)).unwrap();
}

fn png_size(path: &Path) -> (u32, u32) {
    let decoder = png::Decoder::new(std::fs::File::open(path).unwrap());
    let mut reader = decoder.read_info().unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    // Not blank: more than one colour in the image.
    let first = &buf[..3];
    assert!(buf.chunks(3).any(|px| px != first), "{} is blank", path.display());
    (info.width, info.height)
}

fn assert_svg(path: &Path) {
    let text = std::fs::read_to_string(path).unwrap();
    let doc = roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    assert!(text.contains("<text"), "{} has no text", path.display());
}

#[test]
fn every_chart_renders_to_png_and_svg_of_the_expected_size() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("q");
    quickstart(&results);
    let (drawn, skipped) = plot(&results).unwrap();
    assert!(skipped.is_empty(), "{skipped:?}");
    let names: Vec<&str> = drawn.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["tradeoff", "timeline-0", "timeline-1", "latency", "detection"]);
    for d in &drawn {
        let expected = match d.name.as_str() {
            // A plot of 700 (640) px and, below it, the legend: one row of families and one
            // of notes (one row of families).
            "tradeoff" => (1200, 760),
            "latency" => (1200, 900),
            "detection" => (1200, 676),
            // Three detectors: three panels.
            _ => (1200, 120 + 190 * 3),
        };
        assert_eq!(png_size(&d.png), expected, "{}", d.name);
        assert_svg(&d.svg);
        assert!(!d.caption.is_empty());
    }
}

#[test]
fn without_crashes_the_detection_chart_says_it_shows_the_estimate() {
    let text = "name = \"t\"\nseed = 1\nduration = \"10m\"\ndetectors = [\"phi\", \"fixed:timeout=300ms\"]\n\
        [[nodes]]\nid = \"a\"\n[[nodes]]\nid = \"b\"\n[[nodes]]\nid = \"c\"\n[monitoring]\nmode = \"all\"\n";
    let e = Experiment::from_toml(Path::new("t.toml"), text).unwrap();
    let options = RunOptions {
        seed: None,
        base_dir: ".".into(),
        record_trace: false,
        scratch_dir: None,
        threads: 1,
        ..Default::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("t");
    write_dir_atomic(&results, &outputs(&run(&e, &options, &|_| {}).unwrap())).unwrap();
    let (drawn, _) = plot(&results).unwrap();
    let detection = drawn.iter().find(|d| d.name == "detection").expect("drawn from the estimates");
    assert!(detection.title.contains("estimate") && detection.caption.contains("No crash was injected"));
    assert!(std::fs::read_to_string(&detection.svg).unwrap().contains("share of heartbeats"));
    // With a crash, the same chart is about crashes.
    let quick = dir.path().join("q");
    quickstart(&quick);
    let (drawn, _) = plot(&quick).unwrap();
    let detection = drawn.iter().find(|d| d.name == "detection").unwrap();
    assert_eq!(detection.title, "Detection time after a crash");
}

#[test]
fn missing_data_is_a_clear_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    match plot(dir.path()) {
        Err(ChartError::MissingData { what, .. }) => assert!(what.contains("summary.json"), "{what}"),
        other => panic!("expected MissingData, got {other:?}"),
    }
    // With summary.json alone the trade-off chart is drawn, and the others say why not.
    let results = dir.path().join("r");
    quickstart(&results);
    for f in ["delay.hgrm", "faults.json"] {
        std::fs::remove_file(results.join(f)).unwrap();
    }
    std::fs::remove_dir_all(results.join("detection-time")).unwrap();
    let (drawn, skipped) = plot(&results).unwrap();
    assert_eq!(drawn.iter().map(|d| d.name.as_str()).collect::<Vec<_>>(), ["tradeoff"]);
    let reasons: Vec<String> = skipped.iter().map(ToString::to_string).collect();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert!(reasons.iter().any(|r| r.contains("faults.json")));
    assert!(reasons.iter().any(|r| r.contains("delay.hgrm")));
    assert!(reasons.iter().any(|r| r.contains("detected crashes")));
    // A garbled summary names the file.
    // A garbled summary names the file, and is the error itself: a chart that failed comes
    // before the charts that had nothing to draw (a full disk while writing PNGs, too).
    std::fs::write(results.join("summary.json"), "{ not json").unwrap();
    let e = plot(&results).unwrap_err();
    assert!(matches!(e, ChartError::BadData { .. }), "{e:?}");
    let e = e.to_string();
    assert!(e.contains("summary.json") && !e.contains("no data"), "{e}");
}

/// Charts go only into the results' own `charts` directory: one that is a link to another
/// directory (or a file) is refused before anything is drawn, and the other directory is
/// left as it was.
#[cfg(unix)]
#[test]
fn charts_are_never_drawn_through_a_link() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("r");
    quickstart(&results);
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, results.join("charts")).unwrap();
    for e in [plot(&results).unwrap_err().to_string(), plot_and_report(&results).unwrap_err().to_string()] {
        assert!(e.contains("charts") && e.contains("not a directory"), "{e}");
    }
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0, "nothing drawn through the link");
    std::fs::remove_file(results.join("charts")).unwrap();
    std::fs::write(results.join("charts"), "mine").unwrap();
    assert!(plot(&results).unwrap_err().to_string().contains("not a directory"));
    assert_eq!(std::fs::read_to_string(results.join("charts")).unwrap(), "mine");
}

#[test]
fn rendering_needs_no_system_fonts() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("q");
    quickstart(&results);
    let conf = dir.path().join("empty-fonts.conf");
    std::fs::write(&conf, "<?xml version=\"1.0\"?>\n<fontconfig></fontconfig>\n").unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_fdlab"))
        .args(["plot", results.to_str().unwrap()])
        .env("FONTCONFIG_FILE", &conf)
        .env("FONTCONFIG_PATH", dir.path())
        .env("XDG_DATA_HOME", dir.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(png_size(&results.join("charts/tradeoff.png")), (1200, 760));
    assert_svg(&results.join("charts/latency.svg"));
}

#[test]
fn report_references_only_local_files_that_decode() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("q");
    quickstart(&results);
    plot_and_report(&results).unwrap();
    let html = std::fs::read_to_string(results.join("report.html")).unwrap();
    assert!(html.contains("<table>") && html.contains("quickstart"));
    let lower = html.to_lowercase();
    for remote in ["http://", "https://", "src=\"//", "href=\"//", "@import", "url("] {
        assert!(!lower.contains(remote), "report.html fetches from the network: {remote}");
    }
    // Each chart's PNG embedded (so the one file can be mailed), its SVG linked beside it.
    let mut references = 0;
    for (attribute, embedded) in [("src=\"", true), ("href=\"", false)] {
        for piece in html.split(attribute).skip(1) {
            let target = &piece[..piece.find('"').unwrap()];
            if embedded {
                let data = target
                    .strip_prefix("data:image/png;base64,")
                    .unwrap_or_else(|| panic!("not embedded: {target:.80}"));
                let file = dir.path().join(format!("embedded-{references}.png"));
                std::fs::write(&file, decode_base64(data)).unwrap();
                png_size(&file);
            } else {
                let path = results.join(target);
                assert!(path.is_file(), "report.html references missing {target}");
                assert_eq!(path.extension().and_then(|e| e.to_str()), Some("svg"), "{target}");
                assert_svg(&path);
            }
            references += 1;
        }
    }
    // Five charts, each as an embedded PNG and an SVG link.
    assert_eq!(references, 10);
    // Each chart's title is drawn in the image, not repeated above it.
    assert!(!html.contains("<h2>"), "a heading repeats a chart's title");
    // The quickstart's totals are over one link each: the column names it.
    assert!(!html.contains("1 link<") && html.contains("<td>b→a</td>"), "link column");
    // The definitions the table needs are on the page, not behind a link.
    assert!(!html.contains("docs/summary.md") && html.contains("<dt>T<sub>D</sub></dt>"));
}

/// Standard base64 with padding, decoded (a test's own oracle for the page's encoder).
fn decode_base64(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    let mut out = Vec::new();
    for chunk in text.as_bytes().chunks(4) {
        let digits: Vec<u8> = chunk.iter().filter(|c| **c != b'=').map(|c| value(*c)).collect();
        let n = digits.iter().enumerate().fold(0u32, |n, (i, d)| n | (u32::from(*d) << (18 - 6 * i)));
        out.extend(n.to_be_bytes()[1..digits.len()].iter());
    }
    out
}

/// Issue 17 item 5: in every chart drawn for the committed results, no two text boxes
/// overlap and no text leaves the image, measured from the layout (the font's extents).
#[test]
fn no_text_overlaps_or_leaves_the_image_in_any_committed_chart() {
    let dirs = common::committed_results();
    let names: Vec<String> = dirs.iter().map(|d| d.file_name().unwrap().to_string_lossy().into_owned()).collect();
    for expected in ["quickstart", "sweep", "cluster", "gc-pause", "bursty-loss", "crash-recovery"] {
        assert!(names.iter().any(|n| n == expected), "results/{expected} is missing: {names:?}");
    }
    let mut problems = Vec::new();
    let mut measured = 0;
    for dir in &dirs {
        let layouts = layouts(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        // Every chart committed for this directory was measured.
        let mut committed: Vec<String> = std::fs::read_dir(dir.join("charts"))
            .unwrap()
            .filter_map(|e| e.unwrap().file_name().to_string_lossy().strip_suffix(".png").map(str::to_string))
            .collect();
        committed.sort();
        let mut names: Vec<String> = layouts.iter().map(|(n, _)| n.clone()).collect();
        names.sort();
        assert_eq!(names, committed, "{}", dir.display());
        for (name, layout) in &layouts {
            assert!(layout.texts.len() > 5, "{}/{name}: only {} strings measured", dir.display(), layout.texts.len());
            measured += 1;
            for p in layout.problems() {
                problems.push(format!("{}/{name}: {p}", dir.file_name().unwrap().to_string_lossy()));
            }
        }
    }
    assert!(measured >= 20, "only {measured} charts measured");
    assert!(problems.is_empty(), "{} problems:\n{}", problems.len(), problems.join("\n"));
}

/// A replay draws what a simulation draws when its trace allows: the trade-off, the
/// suspicion timeline around each declared fault (or, without one, the longest silence),
/// the latency chart from `sent_ns` and the detection chart, each with text that fits.
#[test]
fn a_replay_draws_every_chart_its_trace_allows() {
    use fdlab::replay::ReplayConfig;
    use fdlab::report::replay_dir::replay_to_dir;
    let dir = tempfile::tempdir().unwrap();
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments/traces/demo.csv");
    let config = |crashes: &[&str]| ReplayConfig {
        trace: demo.clone(),
        detectors: ["phi:threshold=8", "fixed:timeout=300ms"].iter().map(|d| d.parse().unwrap()).collect(),
        crashes: crashes.iter().map(|c| c.parse().unwrap()).collect(),
        ..ReplayConfig::default()
    };
    for (name, crashes, kind) in [("crash", &["node-b@300s..310s"][..], "crash"), ("plain", &[][..], "longest silence")]
    {
        let out = dir.path().join(name);
        replay_to_dir(&config(crashes), &out, None).unwrap();
        let (drawn, _) = plot_and_report(&out).unwrap();
        let names: Vec<&str> = drawn.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["tradeoff", "timeline-0", "latency", "detection"], "{name}");
        let faults: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("faults.json")).unwrap()).unwrap();
        assert_eq!(faults[0]["kind"], kind);
        assert_eq!(faults.as_array().unwrap().len(), 1);
        // Both detectors sampled, 600 times over the view (and its last instant).
        let levels = std::fs::read_to_string(out.join("timeline/levels.csv")).unwrap();
        assert_eq!(levels.lines().count(), 1 + 2 * 601, "{name}");
        assert_eq!(
            drawn[1].title,
            format!(
                "{kind}{} at {}: its monitor watching node-b",
                if kind == "crash" { " of node-b" } else { "" },
                if kind == "crash" { "300.0 s" } else { "299.9 s" }
            )
        );
        for (chart, layout) in layouts(&out).unwrap() {
            assert!(layout.problems().is_empty(), "{name}/{chart}: {:?}", layout.problems());
        }
    }
    // Levels at the crash: the timeout suspects 300 ms after the last heartbeat before it
    // and keeps suspecting until node-b is heard again after 310 s.
    let levels = std::fs::read_to_string(dir.path().join("crash/timeline/levels.csv")).unwrap();
    let suspected_at = |t: f64| {
        levels.lines().skip(1).map(|l| l.split(',').collect::<Vec<_>>()).any(|r| {
            r[4] == "fixed:timeout=300ms" && r[7] == "true" && (r[1].parse::<f64>().unwrap() / 1e9 - t).abs() < 0.02
        })
    };
    assert!(suspected_at(305.0) && !suspected_at(299.0));
}

/// In a sweep the timeline shows, per spec, the setting with the most mistakes a day within
/// the target (ties: the faster detection), not the sweep's first.
#[test]
fn a_sweeps_timeline_shows_the_setting_chosen_for_the_target() {
    use fdlab::replay::ReplayConfig;
    use fdlab::report::replay_dir::replay_to_dir;
    let dir = tempfile::tempdir().unwrap();
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments/traces/demo.csv");
    let shown = |target: Option<f64>| {
        let out = dir.path().join(format!("{target:?}"));
        let config = ReplayConfig {
            trace: demo.clone(),
            detectors: ["fixed:timeout=150ms|200ms|300ms|1s|2s", "phi:threshold=1|8|16"]
                .iter()
                .map(|d| d.parse().unwrap())
                .collect(),
            timeline_target_per_day: target,
            ..ReplayConfig::default()
        };
        replay_to_dir(&config, &out, None).unwrap();
        let levels = std::fs::read_to_string(out.join("timeline/levels.csv")).unwrap();
        let labels: std::collections::BTreeSet<String> =
            levels.lines().skip(1).map(|l| l.split(',').nth(4).unwrap().to_string()).collect();
        labels.into_iter().collect::<Vec<_>>()
    };
    // Ten minutes: one mistake is 144 a day. At 1/day only 2 s errs never among the timeouts;
    // every φ errs never, and threshold 1 detects first.
    assert_eq!(shown(None), ["fixed:timeout=2s", "phi:threshold=1"]);
    // At 200/day the 300 ms timeout (144 a day) is the most aggressive within it (1 s errs
    // as often, but detects later).
    assert_eq!(shown(Some(200.0)), ["fixed:timeout=300ms", "phi:threshold=1"]);
}
