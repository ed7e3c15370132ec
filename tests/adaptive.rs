//! The sequence-aware and adaptive detectors (chen, bertier, 2w, empirical, ◇P) and
//! periodic checking, against outcomes computed by hand or by brute force.

use std::path::Path;

use fdlab::detector::bertier::{Bertier, BertierConfig};
use fdlab::detector::chen::Chen;
use fdlab::detector::empirical::Empirical;
use fdlab::detector::eventually_perfect::{EventuallyPerfect, EventuallyPerfectConfig};
use fdlab::detector::{Arrival, Detector, DetectorSpec};
use fdlab::replay::{ReplayConfig, replay_from};
use fdlab::time::Nanos;
use fdlab::trace::{TraceReader, TraceWriter};
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;

const ETA: u64 = 100_000_000;

fn hb(at: u64, seq: u64) -> Arrival {
    Arrival { at: Nanos(at), seq: Some(seq), incarnation: None, sent: None }
}

#[test]
fn chen_stays_on_schedule_through_losses() {
    // Constant 7 ms delay, 30 % loss inside the window.
    let mut rng = Pcg64::seed_from_u64(11);
    let mut chen = Chen::new(Nanos(ETA), 1000);
    let (mut last_seq, mut losses) = (0, 0);
    for seq in 0..3000u64 {
        if seq > 0 && rng.random::<f64>() < 0.3 {
            losses += 1;
            continue;
        }
        chen.heartbeat(&hb(seq * ETA + 7_000_000, seq), 0.2);
        last_seq = seq;
    }
    assert!(losses > 500);
    // EA_{ℓ+1} = (ℓ+1)·η + d exactly: suspicion at EA + α, to the nanosecond. Summing over
    // arrival positions instead would put EA early by about η/2 per loss in the window.
    let alpha = 0.2;
    let expected = (last_seq + 1) * ETA + 7_000_000 + 200_000_000;
    assert_eq!(chen.suspect_at(alpha, Nanos(last_seq * ETA)), Some(Nanos(expected)));
}

#[test]
fn chen_constant_delay_no_loss_suspects_at_last_plus_eta_plus_alpha() {
    let mut chen = Chen::new(Nanos(ETA), 1000);
    for seq in 0..50u64 {
        chen.heartbeat(&hb(seq * ETA + 3_000_000, seq), 0.05);
    }
    let last = 49 * ETA + 3_000_000;
    assert_eq!(chen.suspect_at(0.05, Nanos(last)), Some(Nanos(last + ETA + 50_000_000)));
    // A stale heartbeat neither moves EA nor restores trust.
    let suspected_at = last + ETA + 60_000_000;
    chen.heartbeat(&hb(suspected_at, 40), 0.05);
    assert!(chen.level(Nanos(suspected_at)) >= 0.05);
}

#[test]
fn bertier_margin_vanishes_on_constant_delay_and_covers_a_step_within_three_heartbeats() {
    let config = BertierConfig { interval: Nanos(ETA), window: 1000, beta: 1.0, phi: 4.0, gamma: 0.1 };
    let mut b = Bertier::new(config);
    let delay = 5_000_000u64;
    for seq in 0..300u64 {
        b.heartbeat(&hb(seq * ETA + delay, seq), 1.0);
    }
    // Every error is zero: the margin converges to nothing.
    assert!(b.margin_ns().abs() <= 1, "margin {}", b.margin_ns());
    // The delay steps up by D = 30 ms. Count heartbeats that arrive after their freshness point.
    let step = 30_000_000u64;
    let mut late = vec![];
    for seq in 300..400u64 {
        let at = seq * ETA + delay + step;
        if b.suspect_at(1.0, Nanos((seq - 1) * ETA)).unwrap() < Nanos(at) {
            late.push(seq - 300);
        }
        b.heartbeat(&hb(at, seq), 1.0);
    }
    // The margin in force for the k-th heartbeat after the step: α ≈ 0, 0.5·D, 0.91·D, 1.24·D
    // (by hand from the update rule, ignoring EA's drift of D/1000 per heartbeat): three
    // late heartbeats, then none.
    assert_eq!(late, vec![0, 1, 2], "late heartbeats after the step");
}

proptest! {
    #[test]
    fn empirical_crossing_is_the_order_statistic(
        gaps in prop::collection::vec(1u64..5_000_000_000, 2..80),
        window in 1usize..50,
        threshold in 0.001f64..=1.0,
    ) {
        let mut d = Empirical::new(window);
        let mut t = 0;
        let mut intervals = vec![];
        for g in &gaps {
            t += g;
            d.heartbeat(&Arrival::at(Nanos(t)), threshold);
            intervals.push(*g);
        }
        // Brute force: the window holds the last `window` intervals (the first arrival has none).
        let mut held: Vec<u64> = intervals[1..].iter().rev().take(window).copied().collect();
        held.sort();
        let n = held.len();
        let j = (1..=n).find(|&j| j as f64 / n as f64 >= threshold).unwrap();
        prop_assert_eq!(d.suspect_at(threshold, Nanos(t)), Some(Nanos(t + held[j - 1])));
    }
}

#[test]
fn eventually_perfect_stops_on_bounded_delay_and_keeps_growing_on_heavy_tails() {
    let config = EventuallyPerfectConfig { initial: Nanos(50_000_000), factor: 2.0, step: Nanos::ZERO };
    // Bounded: gaps in [50, 150] ms. The timeout doubles past 150 ms after a few mistakes.
    let mut rng = Pcg64::seed_from_u64(3);
    let mut d = EventuallyPerfect::new(config.clone());
    let mut t = 0;
    let mut growth_at = vec![];
    for i in 0..100_000u64 {
        t += 50_000_000 + rng.random_range(0..=100_000_000);
        let before = d.false_suspicions();
        d.heartbeat(&Arrival::at(Nanos(t)), 1.0);
        if d.false_suspicions() > before {
            growth_at.push(i);
        }
    }
    assert!(!growth_at.is_empty() && growth_at.len() <= 3, "{growth_at:?}");
    assert!(*growth_at.last().unwrap() < 1000, "mistakes must stop early: {growth_at:?}");
    // Heavy-tailed: Pareto gaps (shape 1.1). Mistakes keep coming and the timeout keeps growing.
    let mut d = EventuallyPerfect::new(config);
    let mut t = 0u64;
    let mut half_way = (0, Nanos::ZERO);
    for i in 0..200_000u64 {
        let u: f64 = rng.random_range(f64::EPSILON..1.0);
        t += (50_000_000.0 * u.powf(-1.0 / 1.1)).min(1e15) as u64;
        d.heartbeat(&Arrival::at(Nanos(t)), 1.0);
        if i == 100_000 {
            half_way = (d.false_suspicions(), d.timeout());
        }
    }
    assert!(d.false_suspicions() > half_way.0, "no mistakes in the second half");
    assert!(d.timeout() > half_way.1);
}

/// Replays a generated trace with `detectors` and returns the per-heartbeat detection
/// estimates' summaries.
fn detection_means(detectors: &[&str]) -> Vec<(f64, f64, f64)> {
    let mut rng = Pcg64::seed_from_u64(5);
    let mut w = TraceWriter::new(Vec::new(), false).unwrap();
    let mut at = 0;
    for seq in 0..20_000u64 {
        at = at.max(seq * ETA + 2_000_000 + rng.random_range(0..20_000_000));
        if rng.random::<f64>() < 0.05 {
            continue;
        }
        w.write("", "b", &hb(at, seq)).unwrap();
    }
    let trace = w.into_inner();
    let mut reader = TraceReader::new(Path::new("t.csv"), trace.as_slice()).unwrap();
    let config = ReplayConfig {
        trace: "t.csv".into(),
        detectors: detectors.iter().map(|d| DetectorSpec::parse(d).unwrap()).collect(),
        crashes: vec![],
        monitor_crashes: vec![],
        end: None,
        ..ReplayConfig::default()
    };
    let summary = replay_from(&mut reader, &config, None).unwrap().summary;
    summary
        .results
        .iter()
        .map(|r| {
            let d = &r.qos.detection_time_s;
            (d.mean.unwrap(), d.max.unwrap(), r.qos.mistake_duration_s.count as f64)
        })
        .collect()
}

#[test]
fn check_every_adds_between_zero_and_one_period() {
    for spec in ["fixed:timeout=250ms", "phi:threshold=3,pause=0", "chen:alpha=120ms,interval=100ms"] {
        let periodic = format!("{spec},check_every=1s");
        let r = detection_means(&[spec, &periodic]);
        let (plain, checked) = (r[0], r[1]);
        // Per heartbeat, the noticed suspicion is the crossing rounded up to the next tick.
        assert!(checked.0 >= plain.0 && checked.0 <= plain.0 + 1.0, "{spec}: {plain:?} vs {checked:?}");
        assert!(checked.1 <= plain.1 + 1.0);
        // On average about half a period later (crossings fall uniformly between ticks).
        assert!((checked.0 - plain.0 - 0.5).abs() < 0.05, "{spec}: mean added {}", checked.0 - plain.0);
        // Never more mistakes: a heartbeat before the tick can prevent one.
        assert!(checked.2 <= plain.2);
    }
}

#[test]
fn presets_carry_their_systems_defaults() {
    let labels = |s: &str| DetectorSpec::parse(s).unwrap().points().into_iter().map(|p| p.label).collect::<Vec<_>>();
    assert_eq!(labels("akka-cluster"), ["akka-cluster:threshold=8"]);
    assert_eq!(labels("akka-cluster:threshold=12"), ["akka-cluster:threshold=12"]);
    let cassandra = DetectorSpec::parse("cassandra").unwrap().points().remove(0);
    assert_eq!(cassandra.check_every, Some(Nanos::from_secs(1)));
    let hz = DetectorSpec::parse("hazelcast-deadline").unwrap().points().remove(0);
    assert_eq!((hz.threshold, hz.check_every), (60.0, Some(Nanos::from_secs(5))));
    let deadline = DetectorSpec::parse("akka-deadline").unwrap().points().remove(0);
    assert_eq!(deadline.threshold, 13.0);
    assert_eq!(labels("akka-cluster:check_every=0"), ["akka-cluster:threshold=8,check_every=0"]);
    // The preset's φ parameters: Akka cluster crosses 8 about 4.5 s after steady 1 s heartbeats.
    let mut d = DetectorSpec::parse("akka-cluster").unwrap().build();
    for i in 0..1100 {
        d.heartbeat(&Arrival::at(Nanos::from_secs(i)), 8.0);
    }
    let after = (d.suspect_at(8.0, Nanos::from_secs(1099)).unwrap() - Nanos::from_secs(1099)).as_secs_f64();
    assert!((after - 4.52).abs() < 0.01, "{after}");
}

#[test]
fn sequence_aware_detectors_reject_a_trace_without_seq() {
    let trace = b"target,received_ns\nb,100\n";
    let mut reader = TraceReader::new(Path::new("noseq.csv"), &trace[..]).unwrap();
    let config = ReplayConfig {
        trace: "noseq.csv".into(),
        detectors: vec![DetectorSpec::parse("chen:interval=100ms").unwrap()],
        crashes: vec![],
        monitor_crashes: vec![],
        end: None,
        ..ReplayConfig::default()
    };
    let e = replay_from(&mut reader, &config, None).map(|o| o.summary).unwrap_err().to_string();
    assert!(e.contains("noseq.csv") && e.contains("seq") && e.contains("chen"), "{e}");
    // And chen without its interval says so.
    let mut reader = TraceReader::new(Path::new("t.csv"), &b"target,received_ns,seq\nb,1,0\n"[..]).unwrap();
    let config = ReplayConfig {
        trace: "t.csv".into(),
        detectors: vec![DetectorSpec::parse("chen").unwrap()],
        crashes: vec![],
        monitor_crashes: vec![],
        end: None,
        ..ReplayConfig::default()
    };
    let e = replay_from(&mut reader, &config, None).map(|o| o.summary).unwrap_err().to_string();
    assert!(e.contains("`interval`"), "{e}");
}
