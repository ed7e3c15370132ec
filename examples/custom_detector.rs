//! Plugging your own failure detector into fdlab.
//!
//! Implement `fdlab::Detector` for your type: `heartbeat` and `level` are all it needs (the
//! contract is on the trait: no clock, a level that never falls while silent). Wrap it in
//! `DetectorSpec::custom`, and every engine runs it next to the built-in detectors with the
//! same exact metrics. This one suspects when the silence reaches `k` times an
//! exponentially weighted moving average of the inter-arrival times.
//!
//! It runs twice: replaying a trace, then inside the built-in quickstart simulation.
//!
//! cargo run --release --example custom_detector [TRACE.csv]

use std::path::PathBuf;

use fdlab::detector::{Arrival, Detector, DetectorSpec};
use fdlab::experiment::{Experiment, QUICKSTART};
use fdlab::replay::{ReplayConfig, replay};
use fdlab::sim::{RunOptions, run};
use fdlab::time::Nanos;

/// Level = silence / EWMA(interval); threshold k: suspect after k average intervals.
struct EwmaTimeout {
    weight: f64,
    average_ns: f64,
    last: Option<Nanos>,
}

impl EwmaTimeout {
    fn new(weight: f64, first_guess: Nanos) -> EwmaTimeout {
        EwmaTimeout { weight, average_ns: first_guess.0 as f64, last: None }
    }
}

impl Detector for EwmaTimeout {
    fn heartbeat(&mut self, arrival: &Arrival, _threshold: f64) {
        if let Some(last) = self.last {
            let interval = arrival.at.saturating_sub(last).0 as f64;
            self.average_ns += self.weight * (interval - self.average_ns);
        }
        self.last = Some(arrival.at);
    }

    fn level(&self, now: Nanos) -> f64 {
        match self.last {
            None => 0.0,
            Some(last) => now.saturating_sub(last).0 as f64 / self.average_ns,
        }
    }

    // `suspect_at` is left to the trait's default, a search of `level` (exact, at most 129
    // calls). For speed, override it with the closed form, last + threshold · average,
    // corrected to the nanosecond with `fdlab::detector::refine_crossing`.
}

fn ewma() -> DetectorSpec {
    DetectorSpec::custom("ewma", "k", &[2.0, 3.0, 5.0], || Box::new(EwmaTimeout::new(0.1, Nanos::from_millis(100))))
        .expect("a name, a knob and positive thresholds")
}

fn main() -> anyhow::Result<()> {
    // 1. Replay a trace with it, next to built-in detectors.
    let trace = std::env::args().nth(1).map_or_else(|| PathBuf::from("experiments/traces/demo.csv"), PathBuf::from);
    let config = ReplayConfig {
        trace,
        detectors: vec![ewma(), DetectorSpec::parse("phi:threshold=8")?, DetectorSpec::parse("fixed:timeout=300ms")?],
        crashes: vec![],
        monitor_crashes: vec![],
        end: None,
        ..ReplayConfig::default()
    };
    println!("Replayed trace:");
    print!("{}", replay(&config, None)?.summary.table());

    // 2. Simulate an experiment with it: add the spec to the experiment's detectors.
    let quickstart = std::path::Path::new("quickstart (built in)");
    let mut experiment = Experiment::from_toml(quickstart, QUICKSTART)?.into_inner();
    experiment.detectors.push(ewma());
    let experiment = experiment.check(quickstart)?;
    let options = RunOptions {
        seed: None,
        base_dir: PathBuf::new(),
        record_trace: false,
        scratch_dir: None,
        threads: 0,
        ..Default::default()
    };
    let output = run(&experiment, &options, &|_| {})?;
    println!("\nSimulated quickstart (a 2 s pause, then a crash):");
    print!("{}", output.summary.table());
    Ok(())
}
