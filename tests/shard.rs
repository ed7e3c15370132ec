//! Sharding and replications end to end (`fdlab run --shard I/N`, `fdlab merge`,
//! `--replications`): a run done whole and the same run done in N shards and merged write the
//! same files, byte for byte; a merge refuses shards of another run, a missing or doubled
//! shard, naming the directory; one replication is the plain run.

use std::path::{Path, PathBuf};

mod common;
use common::{arg, fdlab, stderr};

/// Five nodes each watched by two others, a sweep and two more specs (five units a
/// replication), lognormal delays, loss bursts, a one-way partition, Pareto pauses, random
/// crash-recovery and crash-stop of a monitor, with cluster views: every part of the state a
/// merge must carry.
const EXPERIMENT: &str = r#"
name = "shard-test"
description = "every kind of state a shard carries"
seed = 5
duration = "20m"
detectors = ["phi:threshold=2|6|10,min_std=20ms", "fixed:timeout=250ms", "chen:alpha=100ms", "deadline:interval=100ms,pause=500ms", "phi-exp:threshold=8"]

[defaults]
interval = "100ms"
jitter = "5ms"

[[nodes]]
id = "n0"
[[nodes]]
id = "n1"
[[nodes]]
id = "n2"
[[nodes]]
id = "n3"
[[nodes]]
id = "n4"

[monitoring]
mode = "ring"
k = 2

[network]
delay = { dist = "lognormal", median = "2ms", sigma = 0.8, base = "300us" }
loss = { model = "bursts", mean_good = "2m", mean_bad = "400ms", loss_bad = 0.9, loss_good = 0.002 }

[cluster]
rules = ["lowest-unsuspected", "majority"]

[[faults]]
kind = "partition"
at = "5m"
duration = "3s"
from = ["n2"]
to = ["n0", "n1", "n3", "n4"]

[[faults]]
kind = "pause"
node = "n1"
every = "3m"
durations = { dist = "pareto", scale = "200ms", shape = 1.5 }

[[faults]]
kind = "crash"
node = "n3"
mttf = "6m"
mttr = "20s"

[[faults]]
kind = "crash"
node = "n4"
at = "17m"
"#;

/// The same without `[cluster]` (replications pool no split-brain figures yet).
fn without_cluster() -> String {
    EXPERIMENT
        .replace("[cluster]\nrules = [\"lowest-unsuspected\", \"majority\"]\n", "")
        .replace("shard-test", "shard-test-r")
}

fn ok(args: &[&str]) {
    let o = fdlab(args);
    assert!(o.status.success(), "fdlab {}: {}", args.join(" "), stderr(&o));
}

/// Every file under `dir` (relative path → bytes).
fn files(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut std::collections::BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                out.insert(path.strip_prefix(root).unwrap().display().to_string(), std::fs::read(&path).unwrap());
            }
        }
    }
    let mut out = Default::default();
    walk(dir, dir, &mut out);
    out
}

/// Runs `exp` in `n` shards under `dir` (extra arguments `more`) and returns their
/// directories.
fn shards(exp: &str, dir: &Path, n: usize, more: &[&str]) -> Vec<PathBuf> {
    (0..n)
        .map(|i| {
            let out = dir.join(format!("shard-{n}-{i}"));
            let shard = format!("{i}/{n}");
            let mut args = vec!["run", exp, "--shard", &shard, "--out", arg(&out), "--threads", "1"];
            args.extend(more);
            ok(&args);
            out
        })
        .collect()
}

fn merge(dirs: &[PathBuf], out: &Path) -> std::process::Output {
    let mut args = vec!["merge", "--no-charts", "--out", arg(out)];
    args.extend(dirs.iter().map(|d| arg(d)));
    fdlab(&args)
}

fn assert_same_files(whole: &Path, merged: &Path, what: &str) {
    let (a, b) = (files(whole), files(merged));
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>(), "{what}: the same files");
    for (name, bytes) in &a {
        assert!(bytes == &b[name], "{what}: {name} differs between the whole run and the merge");
    }
    for name in ["summary.json", "mistakes.csv", "delay.hgrm", "interarrival.hgrm"] {
        assert!(a.contains_key(name), "{what}: {name} written");
    }
    assert!(a.keys().any(|k| k.starts_with("detection-time/")) && a.keys().any(|k| k.starts_with("mistake-duration/")));
}

#[test]
fn a_run_in_1_2_3_or_7_shards_merges_to_the_whole_run_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let exp = common::write(dir.path(), "shard-test.toml", EXPERIMENT);
    let whole = dir.path().join("whole");
    // Two threads: the whole run splits each monitor's specs between threads its own way.
    ok(&["run", arg(&exp), "--out", arg(&whole), "--no-charts", "--threads", "2"]);
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(whole.join("summary.json")).unwrap()).unwrap();
    // The experiment exercises what it should: cluster views, crashes, several causes.
    assert_eq!(summary["cluster"].as_array().unwrap().len(), 7, "one per configuration");
    assert!(summary["totals"].as_array().unwrap().iter().any(|t| t["crashes"].as_u64().unwrap() > 0));
    assert!(std::fs::read_to_string(whole.join("mistakes.csv")).unwrap().lines().count() > 10);
    for n in [1, 2, 3, 7] {
        let parts = shards(arg(&exp), dir.path(), n, &[]);
        // 5 specs, 7 configurations (φ sweeps 3 thresholds): in 7 shards, each configuration
        // is a unit of its own, one per shard, so the sweep spreads too.
        for part in &parts {
            let shard: serde_json::Value =
                serde_json::from_slice(&std::fs::read(part.join("shard.json")).unwrap()).unwrap();
            assert_eq!(shard["by_configuration"], n == 7, "{n} shards");
            let units = shard["units"].as_array().unwrap().len();
            assert_eq!(units, if n == 7 { 1 } else { (5 + n - 1 - shard["shard"].as_u64().unwrap() as usize) / n });
        }
        if n == 7 {
            // What the shard says it ran: one configuration of the 7.
            let o =
                fdlab(&["run", arg(&exp), "--shard", "6/7", "--out", arg(&dir.path().join("again")), "--threads", "1"]);
            assert!(
                stderr(&o).contains("(shard 6/7: 1 of 7 work units, each a detector configuration;"),
                "{}",
                stderr(&o)
            );
        }
        let merged = dir.path().join(format!("merged-{n}"));
        let o = merge(&parts, &merged);
        assert!(o.status.success(), "merge of {n}: {}", stderr(&o));
        assert_same_files(&whole, &merged, &format!("{n} shards"));
    }
}

#[test]
fn replications_in_shards_merge_to_the_whole_run_and_one_replication_is_the_plain_run() {
    let dir = tempfile::tempdir().unwrap();
    let exp = common::write(dir.path(), "shard-test-r.toml", &without_cluster());
    let plain = dir.path().join("plain");
    ok(&["run", arg(&exp), "--out", arg(&plain), "--no-charts"]);
    let one = dir.path().join("one");
    ok(&["run", arg(&exp), "--out", arg(&one), "--no-charts", "--replications", "1"]);
    assert_same_files(&plain, &one, "--replications 1");

    let whole = dir.path().join("whole");
    ok(&["run", arg(&exp), "--out", arg(&whole), "--no-charts", "--replications", "3"]);
    for n in [2, 4] {
        let parts = shards(arg(&exp), dir.path(), n, &["--replications", "3"]);
        let merged = dir.path().join(format!("merged-{n}"));
        let o = merge(&parts, &merged);
        assert!(o.status.success(), "merge of {n}: {}", stderr(&o));
        assert_same_files(&whole, &merged, &format!("3 replications in {n} shards"));
    }

    // The pooled figures are the sums over the replications, each replication its own run.
    let s: serde_json::Value = serde_json::from_slice(&std::fs::read(whole.join("summary.json")).unwrap()).unwrap();
    let p: serde_json::Value = serde_json::from_slice(&std::fs::read(plain.join("summary.json")).unwrap()).unwrap();
    assert_eq!(s["replications"]["count"], 3);
    let seeds: Vec<u64> = s["replications"]["seeds"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
    assert_eq!(seeds[0], 5, "replication 0 runs under the experiment's seed");
    assert_eq!(seeds, (0..3).map(|r| fdlab::analysis::replications::seed_of(5, r)).collect::<Vec<_>>());
    for (t, plain_total) in s["totals"].as_array().unwrap().iter().zip(p["totals"].as_array().unwrap()) {
        let spread = &t["replications"];
        let per_rep: Vec<u64> = spread["mistakes"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
        assert_eq!(per_rep.len(), 3);
        assert_eq!(per_rep[0], plain_total["mistakes"].as_u64().unwrap(), "replication 0 is the plain run");
        assert_eq!(spread["mistake_rate_per_s"]["values"][0], plain_total["mistake_rate_per_s"]);
        assert_eq!(t["mistakes"].as_u64().unwrap(), per_rep.iter().sum::<u64>(), "{}", t["detector"]);
        let up: f64 = spread["observed_up_s"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).sum();
        assert!((t["observed_up_s"].as_f64().unwrap() - up).abs() < 1e-6);
        // Both intervals, each containing its own point estimate.
        let rate = t["mistake_rate_per_s"].as_f64().unwrap();
        let [lo, hi] = [0, 1].map(|i| t["mistake_rate_per_s_ci95"][i].as_f64().unwrap());
        assert!(lo <= rate && rate <= hi);
        let mean = spread["mistake_rate_per_s"]["mean"].as_f64().unwrap();
        let [tlo, thi] = [0, 1].map(|i| spread["mistake_rate_per_s"]["ci95_t"][i].as_f64().unwrap());
        assert!(tlo <= mean && mean <= thi);
    }
    let csv = std::fs::read_to_string(whole.join("mistakes.csv")).unwrap();
    assert!(csv.starts_with("monitor,target,detector,start_s,end_s,duration_s,cause,censored,replication\n"));
    for r in ["0", "1", "2"] {
        assert!(csv.lines().skip(1).any(|l| l.ends_with(&format!(",{r}"))), "rows of replication {r}");
    }
}

#[test]
fn a_merge_refuses_mismatched_missing_and_doubled_shards_naming_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    let exp = common::write(dir.path(), "shard-test-r.toml", &without_cluster());
    let parts = shards(arg(&exp), dir.path(), 3, &[]);
    let out = dir.path().join("out");
    let refused = |dirs: &[PathBuf], expect: &[&str]| {
        let o = merge(dirs, &out);
        assert!(!o.status.success(), "merged {dirs:?}");
        let e = stderr(&o);
        for s in expect {
            assert!(e.contains(s), "`{s}` in: {e}");
        }
        assert!(!out.exists(), "nothing written");
    };
    refused(&parts[..2], &["shard 2/3 is missing"]);
    refused(
        &[parts[0].clone(), parts[1].clone(), parts[1].clone(), parts[2].clone()],
        &[arg(&parts[1]), "both shard 1/3"],
    );
    // Another seed, another shard count, another experiment.
    let other_seed = dir.path().join("other-seed");
    ok(&["run", arg(&exp), "--shard", "2/3", "--seed", "6", "--out", arg(&other_seed)]);
    refused(&[parts[0].clone(), parts[1].clone(), other_seed.clone()], &[arg(&other_seed), "seed is 6", "seed is 5"]);
    let other_count = dir.path().join("other-count");
    ok(&["run", arg(&exp), "--shard", "2/4", "--out", arg(&other_count)]);
    refused(&[parts[0].clone(), parts[1].clone(), other_count.clone()], &[arg(&other_count), "shard count"]);
    let edited = common::write(
        dir.path(),
        "edited.toml",
        &std::fs::read_to_string(&exp).unwrap().replace("jitter = \"5ms\"", "jitter = \"6ms\""),
    );
    let other_exp = dir.path().join("other-exp");
    ok(&["run", arg(&edited), "--shard", "2/3", "--out", arg(&other_exp)]);
    refused(&[parts[0].clone(), parts[1].clone(), other_exp.clone()], &[arg(&other_exp), "experiment digest"]);
    // Another build, another version: the header says so.
    for (field, value, says) in
        [("build_id", "0.1.0+src.0000000000000000", "build"), ("fdlab_version", "0.0.1", "fdlab version")]
    {
        let forged = dir.path().join(format!("forged-{field}"));
        std::fs::create_dir_all(&forged).unwrap();
        let mut state: serde_json::Value =
            serde_json::from_slice(&std::fs::read(parts[2].join("shard.json")).unwrap()).unwrap();
        state[field] = value.into();
        std::fs::write(forged.join("shard.json"), serde_json::to_vec(&state).unwrap()).unwrap();
        refused(&[parts[0].clone(), parts[1].clone(), forged.clone()], &[arg(&forged), says, value]);
    }
    // Not a shard, a damaged shard, a shard whose units were moved.
    let results = dir.path().join("plain");
    ok(&["run", arg(&exp), "--out", arg(&results), "--no-charts"]);
    refused(&[parts[0].clone(), parts[1].clone(), results.clone()], &[arg(&results), "not a shard directory"]);
    let nowhere = dir.path().join("nowhere");
    refused(&[parts[0].clone(), parts[1].clone(), nowhere.clone()], &[arg(&nowhere), "does not exist"]);
    let damaged = dir.path().join("damaged");
    std::fs::create_dir_all(&damaged).unwrap();
    let text = std::fs::read(parts[2].join("shard.json")).unwrap();
    std::fs::write(damaged.join("shard.json"), &text[..text.len() / 2]).unwrap();
    refused(
        &[parts[0].clone(), parts[1].clone(), damaged.clone()],
        &[arg(&damaged), "shard.json is not a shard's state"],
    );
    let moved = dir.path().join("moved");
    std::fs::create_dir_all(&moved).unwrap();
    let mut state: serde_json::Value = serde_json::from_slice(&text).unwrap();
    state["units"][0]["spec"] = 0.into();
    std::fs::write(moved.join("shard.json"), serde_json::to_vec(&state).unwrap()).unwrap();
    refused(&[parts[0].clone(), parts[1].clone(), moved.clone()], &[arg(&moved), "holds units"]);
    // Nor into a shard's own directory (or one holding it), which replacing would delete.
    let kept = files(&parts[0]);
    for into in [parts[0].clone(), dir.path().to_path_buf()] {
        let o = merge(&parts, &into);
        assert!(!o.status.success() && stderr(&o).contains("holds the shard"), "{}", stderr(&o));
    }
    assert_eq!(files(&parts[0]), kept, "the shard is as it was");
    // And the three right ones merge.
    let o = merge(&parts, &out);
    assert!(o.status.success(), "{}", stderr(&o));
    // A bad --shard is refused by name.
    let o = fdlab(&["run", arg(&exp), "--shard", "3/3", "--out", arg(&dir.path().join("x"))]);
    assert!(!o.status.success() && stderr(&o).contains("--shard"), "{}", stderr(&o));
}

#[test]
fn a_thousand_tiny_shards_merge() {
    let dir = tempfile::tempdir().unwrap();
    // One second of two nodes, 1000 replications of one spec: a unit per shard, each tiny.
    let exp = common::write(
        dir.path(),
        "tiny.toml",
        "name = \"tiny\"\ndescription = \"d\"\nseed = 1\nduration = \"1s\"\ndetectors = [\"fixed:timeout=250ms\"]\n\
         [network]\nloss = { model = \"bernoulli\", p = 0.3 }\n[[nodes]]\nid = \"a\"\n[[nodes]]\nid = \"b\"\n",
    );
    let e = fdlab::experiment::Experiment::load(&exp).unwrap();
    let options = fdlab::sim::RunOptions { replications: 1000, threads: 1, ..Default::default() };
    let mut dirs = Vec::new();
    for i in 0..1000 {
        let shard = fdlab::sim::shard::ShardSpec { index: i, count: 1000 };
        let state = fdlab::sim::shard::run_shard(&e, &options, shard, &|_| {}).unwrap();
        let out = dir.path().join(format!("s{i}"));
        fdlab::report::write_dir_atomic(&out, &[("shard.json".into(), state.to_json())]).unwrap();
        dirs.push(out);
    }
    let started = std::time::Instant::now();
    let merged = dir.path().join("merged");
    let o = merge(&dirs, &merged);
    assert!(o.status.success(), "{}", stderr(&o));
    eprintln!("merge of 1000 shards: {:.2?} (not asserted)", started.elapsed());
    let whole = fdlab::sim::run(&e, &options, &|_| {}).unwrap();
    let merged = std::fs::read(merged.join("summary.json")).unwrap();
    assert!(merged == whole.summary.to_json().into_bytes(), "1000 shards merge to the whole run");
    assert_eq!(whole.summary.replications.as_ref().unwrap().count, 1000);
}

#[test]
fn the_local_script_runs_shards_in_parallel_and_merges_them() {
    let dir = tempfile::tempdir().unwrap();
    let exp = common::experiments().join("quickstart.toml");
    let whole = dir.path().join("whole");
    ok(&["run", arg(&exp), "--out", arg(&whole), "--no-charts"]);
    let out = dir.path().join("sharded");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/shard/local.sh");
    let o = std::process::Command::new("bash")
        .args([arg(&script), arg(&exp), "3", "2", arg(&out)])
        .env("FDLAB", env!("CARGO_BIN_EXE_fdlab"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_same_files(&whole, &out, "scripts/shard/local.sh, 3 shards");
    assert!(out.with_extension("shards").join("2-of-3").join("shard.json").exists());
}

/// Issue 16: message workloads and the two generals in shards. Shard 0 runs them once under
/// the run's seed, as the whole run does, and the merge writes their reports, latency
/// `.hgrm` files and two-generals table byte for byte as the whole run does.
#[test]
fn workloads_and_the_two_generals_in_shards_merge_to_the_whole_run() {
    let dir = tempfile::tempdir().unwrap();
    let gray = std::fs::read_to_string(common::experiments().join("gray-failure.toml")).unwrap();
    let generals = "\n[two_generals]\np = 0.1\nmax_depth = 4\ntrials = 1000\n";
    // Both, workloads alone, the two generals alone: shard 0 runs whichever there are.
    // (Their results are top-level fields of summary.json; the experiment's own are nested.)
    const WORKLOADS: &str = "\n  \"workloads\": [";
    const GENERALS: &str = "\n  \"two_generals\": {";
    let two_generals_alone = "name = \"g\"\nseed = 2\nduration = \"1m\"\ndetectors = [\"fixed:timeout=1s\"]\n\
                              [[nodes]]\nid = \"a\"\n[[nodes]]\nid = \"b\"\n"
        .to_string()
        + generals;
    for (name, text, counts, expect) in [
        ("both", gray.clone() + generals, &[1, 3][..], &[WORKLOADS, GENERALS][..]),
        ("workloads", gray.clone(), &[2], &[WORKLOADS]),
        ("generals", two_generals_alone, &[2], &[GENERALS]),
    ] {
        let exp = common::write(dir.path(), &format!("{name}.toml"), &text);
        let whole = dir.path().join(format!("whole-{name}"));
        ok(&["run", arg(&exp), "--out", arg(&whole), "--no-charts"]);
        let summary = std::fs::read_to_string(whole.join("summary.json")).unwrap();
        for field in expect {
            assert!(summary.contains(field), "{name}: {field:?} in summary.json");
        }
        for &n in counts {
            std::fs::create_dir_all(dir.path().join(name)).unwrap();
            let parts = shards(arg(&exp), &dir.path().join(name), n, &[]);
            let merged = dir.path().join(format!("merged-{name}-{n}"));
            let o = merge(&parts, &merged);
            assert!(o.status.success(), "merge of {n}: {}", stderr(&o));
            assert_same_files(&whole, &merged, &format!("{n} shards with {name}"));
        }
    }
}
