//! The committed `results/` are exactly what this build produces: the README shows them,
//! so a change that alters any number, file or chart must regenerate them
//! (`scripts/run-experiments.sh`) and say so in its commit. A file too large to commit (the
//! sweep's `mistakes.csv`, in `.gitignore`) is checked against the size and SHA-256 its
//! directory's `.fdlab-manifest` records.

use std::path::Path;

mod common;

fn check(name: &str) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let committed = root.join("results").join(name);
    let out = common::simulate(&common::load(name));
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().join(name);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(committed.join(".fdlab-manifest")).unwrap()).unwrap();
    for (file, bytes) in fdlab::report::outputs(&out) {
        let path = committed.join(&file);
        match std::fs::read(&path) {
            Ok(old) => {
                assert!(
                    old == bytes,
                    "{} differs from what this build writes: run scripts/run-experiments.sh",
                    path.display()
                )
            }
            Err(_) => {
                use sha2::Digest;
                let key = file.to_str().unwrap();
                let listed = &manifest["files"][key];
                assert!(listed.is_object(), "{key} not committed nor listed");
                let digest: String = sha2::Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
                assert_eq!(
                    (listed["bytes"].as_u64(), listed["sha256"].as_str()),
                    (Some(bytes.len() as u64), Some(digest.as_str())),
                    "{} differs from what this build writes: run scripts/run-experiments.sh",
                    path.display()
                );
            }
        }
        std::fs::create_dir_all(dir.join(&file).parent().unwrap()).unwrap();
        std::fs::write(dir.join(&file), &bytes).unwrap();
    }
    // The charts and the report, drawn from those files.
    fdlab::report::charts::plot_and_report(&dir).unwrap();
    for sub in ["charts", ""] {
        for entry in std::fs::read_dir(dir.join(sub)).unwrap() {
            let path = entry.unwrap().path();
            let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
            if !["png", "svg", "html"].contains(&ext) {
                continue;
            }
            let rel = path.strip_prefix(&dir).unwrap();
            let old = std::fs::read(committed.join(rel)).unwrap_or_else(|e| panic!("{}: {e}", rel.display()));
            assert!(
                old == std::fs::read(&path).unwrap(),
                "results/{name}/{} differs: run scripts/run-experiments.sh",
                rel.display()
            );
        }
    }
}

#[test]
fn the_committed_quickstart_is_what_this_build_writes() {
    check("quickstart");
}

#[test]
fn the_committed_sweep_is_what_this_build_writes() {
    check("sweep");
}

#[test]
fn the_committed_results_of_the_rest_of_the_suite_are_what_this_build_writes() {
    for name in [
        "asymmetric-partition",
        "bursty-loss",
        "cluster",
        "cluster-scale",
        "crash-recovery",
        "gc-pause",
        "split-brain-gc",
        "wan-phi-vs-chen",
        "heartbeat-rate",
        "cloud-defaults",
        "regime-change",
        "synchrony",
        "estimators",
        "live-smoke",
        "tune-demo",
        "two-generals",
        "retransmission",
        "exactly-once",
        "gray-failure",
    ] {
        check(name);
    }
}

/// `results/index.html` lists every experiment of the suite with its question and answer.
#[test]
fn the_committed_index_is_what_this_build_writes() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let entries = fdlab::report::index::entries(&root.join("experiments"), &root.join("results")).unwrap();
    assert!(entries.iter().all(|e| e.report.is_some()), "every experiment has its results committed");
    let committed = std::fs::read_to_string(root.join("results/index.html")).unwrap();
    assert!(
        committed == fdlab::report::index::page(&entries),
        "results/index.html differs: run scripts/run-experiments.sh"
    );
}
