//! Simulated heartbeat deliveries per second on one core (`threads = 1`), on the link of
//! `experiments/bench/year.toml` (100 ms heartbeats, lognormal delay, 1 % loss) shortened to
//! one day (about 855 000 deliveries per iteration): one φ detector with that delay and with
//! a constant one, one fixed timeout, and the 4 families × 16 thresholds of
//! `experiments/bench/sweep.toml`. Criterion reports deliveries per second (elem/s).
//!
//! cargo bench --bench simulator

use std::path::{Path, PathBuf};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use fdlab::detector::DetectorSpec;
use fdlab::experiment::Experiment;
use fdlab::fault::delay::DelayModel;
use fdlab::sim::{RunOptions, run};
use fdlab::time::Nanos;

fn load(name: &str) -> Experiment {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments/bench").join(name);
    let mut e = Experiment::load(&path).expect("bench experiment loads").into_inner();
    e.duration = Nanos::from_secs(86_400);
    e
}

fn simulator(c: &mut Criterion) {
    let options = RunOptions {
        seed: None,
        base_dir: PathBuf::new(),
        record_trace: false,
        scratch_dir: None,
        threads: 1,
        ..Default::default()
    };
    let year = load("year.toml");
    let one = |spec: &str, delay: Option<DelayModel>| {
        let mut e = year.clone();
        e.detectors = vec![DetectorSpec::parse(spec).expect("valid spec")];
        if delay.is_some() {
            e.network.model.delay = delay;
        }
        e.check(Path::new(spec)).expect("valid experiment")
    };
    let phi = "phi:threshold=8,pause=500ms,min_std=20ms,first=100ms";
    let constant = DelayModel::Constant { value: Nanos::from_millis(2) };
    let cases = [
        ("one phi, constant delay", one(phi, Some(constant))),
        ("one phi, lognormal delay", one(phi, None)),
        ("one fixed timeout, lognormal delay", one("fixed:timeout=500ms", None)),
        (
            "4 families x 16 thresholds, lognormal delay",
            load("sweep.toml").check(Path::new("sweep.toml")).expect("valid experiment"),
        ),
    ];
    let mut group = c.benchmark_group("simulate 1 day, 1 link, 1 thread");
    group.sample_size(10);
    for (name, e) in cases {
        let deliveries = run(&e, &options, &|_| {}).expect("runs").deliveries;
        group.throughput(Throughput::Elements(deliveries));
        group.bench_with_input(BenchmarkId::from_parameter(name), &e, |b, e| {
            b.iter(|| run(e, &options, &|_| {}).expect("runs").deliveries)
        });
    }
    group.finish();
}

criterion_group!(benches, simulator);
criterion_main!(benches);
