//! Closed-form oracles (REFERENCES.md §1) through the whole replay pipeline: a trace is
//! generated here from a fixed seed, written as CSV, replayed, and the measured QoS compared
//! with theory within tolerances derived from the counts.

use std::path::Path;

use fdlab::analysis::qos::DetectionBasis;
use fdlab::detector::{Arrival, DetectorSpec};
use fdlab::replay::{CrashDecl, ReplayConfig, replay_from};
use fdlab::time::Nanos;
use fdlab::trace::{TraceReader, TraceWriter};
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;

/// Heartbeats every `eta`, constant `delay`, independent loss `p`, for `count` slots.
fn bernoulli_trace(seed: u64, count: u64, eta: u64, delay: u64, p: f64) -> Vec<u8> {
    let mut rng = Pcg64::seed_from_u64(seed);
    let mut w = TraceWriter::new(Vec::new(), false).unwrap();
    for seq in 0..count {
        if rng.random::<f64>() >= p {
            let sent = seq * eta;
            w.write(
                "",
                "b",
                &Arrival { at: Nanos(sent + delay), seq: Some(seq), incarnation: None, sent: Some(Nanos(sent)) },
            )
            .unwrap();
        }
    }
    w.into_inner()
}

fn run(trace: &[u8], detectors: &[&str], crashes: Vec<CrashDecl>) -> fdlab::report::summary::SummaryFile {
    let mut reader = TraceReader::new(Path::new("generated.csv"), trace).unwrap();
    let config = ReplayConfig {
        trace: "generated.csv".into(),
        detectors: detectors.iter().map(|d| DetectorSpec::parse(d).unwrap()).collect(),
        crashes,
        monitor_crashes: vec![],
        end: None,
        ..ReplayConfig::default()
    };
    replay_from(&mut reader, &config, None).unwrap().summary
}

#[test]
fn fixed_timeout_on_bernoulli_loss_matches_chen_closed_form() {
    let eta = 100_000_000u64; // 100 ms
    let p = 0.3;
    // Timeouts with k = 1, 2, 3 lost heartbeats needed (kη < T < (k+1)η).
    let timeouts = [(150, 1), (250, 2), (330, 3)];
    let trace = bernoulli_trace(7, 1_000_000, eta, 5_000_000, p);
    let specs: Vec<String> = timeouts.iter().map(|(ms, _)| format!("fixed:timeout={ms}ms")).collect();
    let specs: Vec<&str> = specs.iter().map(String::as_str).collect();
    let summary = run(&trace, &specs, vec![]);
    for (result, &(timeout_ms, k)) in summary.results.iter().zip(&timeouts) {
        let eta_s = eta as f64 / 1e9;
        let rate = (1.0 - p) * p.powi(k) / eta_s;
        let measured = result.qos.mistake_rate_per_s.unwrap();
        let count = result.qos.mistakes as f64;
        // Poisson-like count: 4 standard deviations of the count.
        assert!(
            (measured - rate).abs() <= 4.0 * count.sqrt() / result.qos.observed_up_s,
            "{}: λ_M {measured} vs {rate}",
            result.detector
        );
        let ci = result.qos.mistake_rate_per_s_ci95.unwrap();
        assert!(ci[0] <= rate && rate <= ci[1], "{}: {rate} outside {ci:?}", result.detector);
        // E(T_M) = η(k + 1 + p/(1−p)) − T; T_M − its offset is η × a geometric count with
        // standard deviation η·√p/(1−p).
        let expected_tm = eta_s * (k as f64 + 1.0 + p / (1.0 - p)) - timeout_ms as f64 / 1e3;
        let sd = eta_s * p.sqrt() / (1.0 - p);
        let mean_tm = result.qos.mistake_duration_s.mean.unwrap();
        assert!(
            (mean_tm - expected_tm).abs() <= 4.0 * sd / count.sqrt(),
            "{}: E(T_M) {mean_tm} vs {expected_tm}",
            result.detector
        );
    }
}

#[test]
fn detection_time_of_a_declared_crash_is_exact() {
    // No loss, 100 ms heartbeats, 5 ms delay; crash at 50.03 s: the last heartbeat sent at
    // 50.0 s arrives at 50.005 s, and a 250 ms timeout suspects at 50.255 s: T_D = 225 ms,
    // inside [d + T − η, d + T] = [155, 255] ms.
    let trace = bernoulli_trace(1, 1000, 100_000_000, 5_000_000, 0.0);
    let crash = CrashDecl::stop("b", Nanos(50_030_000_000));
    let summary = run(&trace, &["fixed:timeout=250ms"], vec![crash]);
    let r = &summary.results[0].qos;
    assert_eq!(r.detection_basis, DetectionBasis::Crashes);
    assert!((r.crashes[0].detection_time_s.unwrap() - 0.225).abs() < 1e-9);
    assert_eq!(r.mistakes, 0);
    assert!((r.observed_up_s - (50.03 - 0.005)).abs() < 1e-9);
}

#[test]
fn per_heartbeat_detection_estimate_without_crashes() {
    // Without a crash, T_D is estimated per heartbeat: suspect_at − sent = d + T exactly.
    let trace = bernoulli_trace(1, 1000, 100_000_000, 5_000_000, 0.0);
    let summary = run(&trace, &["fixed:timeout=250ms"], vec![]);
    let r = &summary.results[0].qos;
    assert_eq!(r.detection_basis, DetectionBasis::PerHeartbeatEstimate);
    assert_eq!(r.detection_time_s.count, 1000);
    assert!((r.detection_time_s.mean.unwrap() - 0.255).abs() < 1e-9);
    assert_eq!(r.mistakes, 0);
    assert_eq!(r.query_accuracy, Some(1.0));
}
