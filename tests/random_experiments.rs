//! Random experiment files: whatever `validate` accepts, `run` finishes (or refuses with an
//! error, never a panic), within the memory it estimated before it started.
//!
//! The files are drawn from a seeded generator: faults at random times (inside the run, at
//! its end, past it, overlapping), extreme lengths and rates, tiny and huge intervals, clock
//! rates at and beyond their bounds. fdlab is built with overflow checks in the test and
//! release profiles alike (Cargo.toml), so an arithmetic overflow anywhere in a run is a
//! panic here. A counting allocator measures each
//! run's peak memory; this file holds one test so that nothing else allocates meanwhile.

use std::path::Path;

use fdlab::experiment::Experiment;
use fdlab::sim::{RunOptions, SimError, run};
use rand::{Rng, SeedableRng};

#[path = "common/counting.rs"]
mod counting;

#[global_allocator]
static ALLOCATOR: counting::Counting = counting::Counting;

fn pick<'a, R: Rng>(rng: &mut R, from: &[&'a str]) -> &'a str {
    from[rng.random_range(0..from.len())]
}

/// One random experiment file (it may or may not be valid).
fn random_file(rng: &mut impl Rng) -> String {
    const DURATIONS: &[&str] = &["1ms", "700ms", "5s", "1m", "10m"];
    const INSTANTS: &[&str] = &["0", "1ns", "3ms", "2s", "30s", "59s", "1m", "10m", "11m", "1h", "40000d"];
    const LENGTHS: &[&str] = &["0", "1ns", "1us", "250ms", "3s", "1m", "2h", "100000d", "200000d"];
    const INTERVALS: &[&str] = &["1ns", "1us", "1ms", "10ms", "100ms", "1s", "1h", "30000d"];
    const RATES: &[&str] = &["0.5", "1", "1.001", "0.999999999", "2", "2.5", "0"];
    const DETECTORS: &[&str] = &[
        "\"fixed:timeout=300ms\"",
        "\"phi:threshold=1..4,pause=0\"",
        "\"phi-exp:threshold=8\"",
        "\"chen:alpha=50ms\"",
        "\"eventually-perfect\"",
        "\"fixed:timeout=1ns|1h\"",
        "\"empirical:threshold=0.9..0.99..0.09\"",
        "\"akka-cluster\"",
        "\"deadline:interval=1s,pause=0\"",
    ];
    let nodes = rng.random_range(2..=4);
    let ids: Vec<String> = (0..nodes).map(|i| format!("n{i}")).collect();
    let node = |rng: &mut dyn rand::RngCore| ids[rng.next_u32() as usize % ids.len()].clone();
    let mut text = format!(
        "name = \"r\"\nseed = {}\nduration = \"{}\"\ndetectors = [{}]\nreceive = \"{}\"\n",
        rng.random::<u32>(),
        pick(rng, DURATIONS),
        (0..rng.random_range(1..=3)).map(|_| pick(rng, DETECTORS)).collect::<Vec<_>>().join(", "),
        pick(rng, &["raw", "dedup", "drop-stale"]),
    );
    text.push_str(&format!(
        "[defaults]\ninterval = \"{}\"\nafter_pause = \"{}\"\nseq_after_restart = \"{}\"\n",
        pick(rng, INTERVALS),
        pick(rng, &["skip", "send-now"]),
        pick(rng, &["reset", "continue"]),
    ));
    if rng.random_bool(0.3) {
        text.push_str(&format!("clock_rate = {}\n", pick(rng, RATES)));
    }
    if rng.random_bool(0.2) {
        text.push_str(&format!("jitter = \"{}\"\n", pick(rng, &["0", "1ns", "5ms", "2s"])));
    }
    text.push_str(&format!(
        "[network]\ndelay = {}\nloss = {}\nduplicate = {}\nfifo = {}\n",
        pick(
            rng,
            &[
                "{ dist = \"constant\", value = \"2ms\" }",
                "{ dist = \"lognormal\", median = \"3ms\", sigma = 0.8 }",
                "{ dist = \"pareto\", scale = \"1ms\", shape = 1.1 }",
                "{ dist = \"uniform\", min = \"0\", max = \"1h\" }",
                "{ dist = \"exponential\", mean = \"40000d\" }",
            ]
        ),
        pick(
            rng,
            &[
                "{ model = \"none\" }",
                "{ model = \"bernoulli\", p = 0.3 }",
                "{ model = \"bernoulli\", p = 1 }",
                "{ model = \"gilbert-elliott\", p = 0.01, r = 0.3 }",
            ]
        ),
        pick(rng, &["0", "0.1", "1"]),
        rng.random_bool(0.5),
    ));
    text.push_str(&format!(
        "[monitoring]\nmode = \"{}\"\nk = {}\n",
        pick(rng, &["all", "ring"]),
        rng.random_range(1..=3)
    ));
    for id in &ids {
        text.push_str(&format!("[[nodes]]\nid = \"{id}\"\n"));
    }
    for _ in 0..rng.random_range(0..=4) {
        let fault = match rng.random_range(0..10) {
            0 => format!("kind = \"crash\"\nnode = \"{}\"\nat = \"{}\"\n", node(rng), pick(rng, INSTANTS)),
            1 => format!(
                "kind = \"crash\"\nnode = \"{}\"\nat = \"{}\"\ndown = \"{}\"\nnew_incarnation = {}\n",
                node(rng),
                pick(rng, INSTANTS),
                pick(rng, LENGTHS),
                rng.random_bool(0.5)
            ),
            2 => format!(
                "kind = \"crash\"\nnode = \"{}\"\nmttf = \"{}\"\nmttr = \"{}\"\n",
                node(rng),
                pick(rng, LENGTHS),
                pick(rng, LENGTHS)
            ),
            3 => format!(
                "kind = \"pause\"\nnode = \"{}\"\nwhat = \"{}\"\nat = \"{}\"\nduration = \"{}\"\n",
                node(rng),
                pick(rng, &["node", "sender", "monitor"]),
                pick(rng, INSTANTS),
                pick(rng, LENGTHS)
            ),
            4 => format!(
                "kind = \"pause\"\nnode = \"{}\"\nevery = \"{}\"\ndurations = {{ dist = \"exponential\", mean = \"{}\" }}\n",
                node(rng),
                pick(rng, LENGTHS),
                pick(rng, &["1ms", "1s", "1h"])
            ),
            5 => format!(
                "kind = \"partition\"\nat = \"{}\"\nduration = \"{}\"\ngroups = [[\"{}\"], [\"{}\"]]\n",
                pick(rng, INSTANTS),
                pick(rng, LENGTHS),
                node(rng),
                node(rng)
            ),
            6 => format!(
                "kind = \"omission\"\nnode = \"{}\"\np = {}\nat = \"{}\"\n",
                node(rng),
                pick(rng, &["0", "0.5", "1", "1.5"]),
                pick(rng, INSTANTS)
            ),
            7 => format!(
                "kind = \"delay-spike\"\nat = \"{}\"\nduration = \"{}\"\nextra = \"{}\"\n",
                pick(rng, INSTANTS),
                pick(rng, LENGTHS),
                pick(rng, LENGTHS)
            ),
            8 => format!(
                "kind = \"loss-burst\"\nat = \"{}\"\nduration = \"{}\"\np = {}\n",
                pick(rng, INSTANTS),
                pick(rng, LENGTHS),
                pick(rng, &["0.5", "1"])
            ),
            _ => format!(
                "kind = \"delay-change\"\nat = \"{}\"\ndelay = {}\n",
                pick(rng, INSTANTS),
                pick(
                    rng,
                    &[
                        "{ dist = \"constant\", value = \"0\" }",
                        "{ dist = \"pareto\", scale = \"1ms\", shape = 0.5 }",
                        "{ dist = \"uniform\", min = \"2ms\", max = \"1ms\" }",
                        "{ dist = \"lognormal\", median = \"40000d\", sigma = 3 }",
                    ]
                )
            ),
        };
        text.push_str("[[faults]]\n");
        text.push_str(&fault);
    }
    text
}

/// How many files, and the most configuration-heartbeats a drawn run may take to be run here
/// (larger valid ones are only validated and estimated, to keep the test to seconds).
const FILES: u64 = 20_000;
const MAX_WORK_RUN: u128 = 400_000;

#[test]
fn whatever_validates_runs_within_its_estimate_or_is_refused_and_nothing_panics() {
    let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(2026);
    let (mut valid, mut ran, mut refused) = (0, 0, 0);
    for n in 0..FILES {
        let text = random_file(&mut rng);
        let Ok(e) = Experiment::from_toml(Path::new("random.toml"), &text) else { continue };
        valid += 1;
        let estimate = e.estimate();
        if estimate.work() > MAX_WORK_RUN {
            if estimate.fits().is_err() {
                // Refused up front, before any allocation for it.
                let err = run(&e, &RunOptions { threads: 1, ..RunOptions::default() }, &|_| {}).err();
                assert!(matches!(err, Some(SimError::TooLarge(_))), "file {n}:\n{text}");
                refused += 1;
            }
            continue;
        }
        let (result, peak) =
            counting::peak_of(|| run(&e, &RunOptions { threads: 1, ..RunOptions::default() }, &|_| {}));
        match result {
            Ok(out) => {
                assert!(
                    peak as u128 <= estimate.memory_bytes,
                    "file {n}: peak {peak} B above the estimate {}:\n{text}",
                    estimate.memory_bytes
                );
                assert!(
                    out.deliveries as u128 <= estimate.deliveries,
                    "file {n}: more deliveries than estimated:\n{text}"
                );
                ran += 1;
            }
            Err(err) => panic!("file {n}: a valid experiment failed to run: {err}\n{text}"),
        }
    }
    eprintln!("{FILES} files: {valid} valid, {ran} run, {refused} refused as too large");
    // The generator must exercise every branch, not just produce garbage.
    assert!(valid > FILES / 20, "{valid} valid files");
    assert!(ran > FILES / 40, "{ran} runs");
    assert!(refused > 0, "no file was large enough to be refused");

    // Replications: what each further one keeps until they are pooled stays within what the
    // estimate adds for it (each configuration's results on each link). Per configuration
    // run this was 224 KiB against 80 KiB counted, when each replication's totals held two
    // whole HdrHistograms; it is now their bucket counts.
    let sweep = Experiment::from_toml(
        Path::new("sweep.toml"),
        "name = \"s\"\nseed = 1\nduration = \"30s\"\n\
         detectors = [\"phi:threshold=1..16\", \"fixed:timeout=100ms|300ms|1s\"]\n\
         [[nodes]]\nid = \"a\"\n[[nodes]]\nid = \"b\"\n[monitoring]\nmode = \"pairs\"\npairs = [[\"b\", \"a\"]]\n\
         [network]\ndelay = { dist = \"lognormal\", median = \"2ms\", sigma = 0.5 }\n\
         loss = { model = \"bernoulli\", p = 0.01 }\n",
    )
    .unwrap();
    let peak = |replications: u32| {
        let options = RunOptions { threads: 1, replications, ..RunOptions::default() };
        let (out, peak) = counting::peak_of(|| run(&sweep, &options, &|_| {}));
        assert_eq!(out.unwrap().summary.totals.len(), 19);
        (peak as u128, fdlab::sim::estimate(&sweep, replications).memory_bytes)
    };
    let ((few, few_estimate), (many, many_estimate)) = (peak(10), peak(110));
    let (added, counted) = (many.saturating_sub(few), many_estimate - few_estimate);
    eprintln!("100 more replications of 19 configurations: {added} B more at the peak, {counted} B estimated");
    assert!(added > 0 && added <= counted, "{added} B more at the peak, {counted} B estimated");
    assert!(many <= many_estimate, "{many} B at the peak, {many_estimate} B estimated");
}
