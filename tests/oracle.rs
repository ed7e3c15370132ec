//! A brute-force oracle for the analysis: every detector's level sampled at every
//! nanosecond of small traces, against the suspicion intervals the bank derives from
//! `suspect_at` alone.
//!
//! Each trace spans 10^6 ns: heartbeats every 2 µs with random delay, losses, silences and
//! duplicates; detector parameters are scaled to that span. The oracle walks time one
//! nanosecond at a time with a fresh detector per configuration: after each arrival it is
//! told of the heartbeat, and a suspicion begins at the first nanosecond whose level reaches
//! the threshold and ends at the first arrival after which the level is below it (an
//! arrival at the crossing instant comes first, DESIGN.md §2). Nothing is assumed about a
//! level's shape, so an error in any `suspect_at`, in the tracker or in the bank shows up as
//! a different interval.

use fdlab::analysis::{DetectorBank, GroundTruth};
use fdlab::detector::{Arrival, DetectorSpec};
use fdlab::time::Nanos;
use rand::{Rng, SeedableRng};

const SPECS: &[&str] = &[
    "fixed:timeout=3us|5us|8us",
    "deadline:interval=2us,pause=3us",
    "phi:threshold=0.5..8..0.5,window=100,min_std=200ns,pause=0,first=2us",
    "phi:threshold=1|3|8,window=100,min_std=100ns,pause=1us,first=2us,exact=true",
    "phi-exp:threshold=1|2|4,window=100,initial=4us,max_interval=8us,pause_guard=20us",
    "chen:alpha=400ns|1us|2us,interval=2us,window=100",
    "2w:alpha=400ns|1us,interval=2us,small=1,large=100",
    "bertier:interval=2us",
    "estimate:alpha=400ns|1us,interval=2us,estimator=last,margin=ci,k=1",
    "estimate:alpha=100ns|1us,interval=2us,estimator=mean,margin=jacobson",
    "estimate:alpha=400ns|1us,interval=2us,estimator=lpf,gain=0.3,window=50",
    "estimate:alpha=400ns|2us,interval=2us,estimator=ar1,margin=ci,window=20",
    "empirical:threshold=0.5|0.9|0.99,window=100",
    "eventually-perfect:initial=3us,factor=2,step=0",
];

const SPAN: u64 = 1_000_000;
const ETA: u64 = 2_000;

/// Arrivals over [0, SPAN): slot k sent at k·η, delayed 0–1.5 µs, 15 % lost, silences of
/// up to 40 µs now and then, a few duplicates; in arrival order.
fn arrivals(seed: u64) -> Vec<Arrival> {
    let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(seed);
    let mut out = Vec::new();
    let mut slot = 0u64;
    while slot * ETA < SPAN - 50_000 {
        if rng.random_bool(0.01) {
            slot += rng.random_range(2..20);
            continue;
        }
        if !rng.random_bool(0.15) {
            let sent = slot * ETA;
            let copies = if rng.random_bool(0.03) { 2 } else { 1 };
            for _ in 0..copies {
                let at = Nanos(sent + rng.random_range(0..1_500));
                out.push(Arrival { at, seq: Some(slot), incarnation: Some(0), sent: Some(Nanos(sent)) });
            }
        }
        slot += 1;
    }
    out.sort_by_key(|a| a.at);
    out
}

/// The suspicion intervals of one configuration, found by asking the level at every
/// nanosecond up to `end`; an interval still open at `end` ends there (`true`: censored).
fn brute_force(spec: &DetectorSpec, threshold: f64, arrivals: &[Arrival], end: Nanos) -> Vec<(u64, u64, bool)> {
    let mut detector = spec.build();
    let mut intervals = Vec::new();
    let mut since: Option<u64> = None;
    for (i, a) in arrivals.iter().enumerate() {
        detector.heartbeat(a, threshold);
        let next = arrivals.get(i + 1).map_or(end.0, |n| n.at.0);
        // At the arrival's instant: the arrival first, then the level.
        let mut t = a.at.0;
        if let Some(start) = since
            && detector.level(a.at) < threshold
        {
            intervals.push((start, t, false));
            since = None;
        }
        while t < next {
            if since.is_none() && detector.level(Nanos(t)) >= threshold {
                since = Some(t);
            }
            t += 1;
        }
    }
    if let Some(start) = since {
        intervals.push((start, end.0, true));
    }
    intervals
}

#[test]
fn every_detectors_suspicions_are_where_its_level_says_at_every_nanosecond() {
    let specs: Vec<DetectorSpec> = SPECS.iter().map(|s| DetectorSpec::parse(s).unwrap()).collect();
    let mut compared = 0;
    for seed in 1..=3 {
        let arrivals = arrivals(seed);
        let end = Nanos(SPAN);
        let mut bank = DetectorBank::new(&specs, &GroundTruth::always_up());
        for a in &arrivals {
            bank.on_arrival(a);
        }
        let reports = bank.finish(end);
        let points: Vec<(&DetectorSpec, f64)> =
            specs.iter().flat_map(|s| s.points().into_iter().map(move |p| (s, p.threshold))).collect();
        assert_eq!(points.len(), reports.len());
        for ((spec, threshold), (point, report)) in points.into_iter().zip(&reports) {
            let banked: Vec<(u64, u64, bool)> =
                report.listed.iter().map(|m| (m.start.0, m.end.0, m.censored)).collect();
            let expected = brute_force(spec, threshold, &arrivals, end);
            assert_eq!(banked, expected, "seed {seed}, {}", point.label);
            compared += expected.len();
        }
    }
    // The traces must make every kind of detector suspect, or the comparison proves little.
    assert!(compared > 1000, "{compared} suspicions compared");
}

#[test]
fn every_kind_suspects_at_least_once_on_the_oracles_traces() {
    let arrivals = arrivals(1);
    for text in SPECS {
        let spec = DetectorSpec::parse(text).unwrap();
        let point = spec.points().into_iter().next().unwrap();
        let found = brute_force(&spec, point.threshold, &arrivals, Nanos(SPAN));
        assert!(!found.is_empty(), "{text} never suspects");
    }
}

/// What a bank's report says, in full: the summary fields, every mistake and every
/// suspicion interval.
fn full_report(reports: &[(fdlab::detector::spec::DetectorPoint, fdlab::analysis::qos::QosReport)]) -> Vec<String> {
    reports
        .iter()
        .map(|(p, r)| {
            let listed: Vec<_> = r.listed.iter().map(|m| (m.start, m.end, m.censored)).collect();
            format!("{}: {} {listed:?} {:?}", p.label, serde_json::to_string(r).unwrap(), r.suspicions)
        })
        .collect()
}

#[test]
fn batched_arrivals_give_what_arrivals_one_at_a_time_give() {
    // `on_arrival` keeps arrivals in batches, which go through every detector and then every
    // member together; `on_arrival_noting` takes each at once. Between arrivals, at random,
    // the levels and the pending crossings are asked (which take a batch through early), a
    // monitor pause resumes and the monitor crashes and restarts.
    let specs: Vec<DetectorSpec> = SPECS.iter().map(|s| DetectorSpec::parse(s).unwrap()).collect();
    for seed in 1..=3 {
        let arrivals = arrivals(seed);
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(seed + 100);
        let mut batched = DetectorBank::new(&specs, &GroundTruth::always_up());
        let mut single = DetectorBank::new(&specs, &GroundTruth::always_up());
        for b in [&mut batched, &mut single] {
            b.record_suspicions();
            // The cause names how long the silence before the mistake was, so that where
            // each member's silence began is compared too.
            b.set_cause(Box::new(|from, start| {
                if start.0.saturating_sub(from.0) > 6_000 {
                    fdlab::analysis::qos::Cause::Network
                } else {
                    fdlab::analysis::qos::Cause::Recovery
                }
            }));
        }
        let mut last = Nanos::ZERO;
        let mut notes = 0;
        for a in &arrivals {
            if a.at > last {
                match rng.random_range(0..400) {
                    0..=3 => {
                        let t = Nanos(rng.random_range(last.0..a.at.0));
                        let levels = |b: &mut DetectorBank| {
                            b.levels(t).map(|(p, l, s)| (p.label.clone(), l, s)).collect::<Vec<_>>()
                        };
                        assert_eq!(levels(&mut batched), levels(&mut single), "seed {seed}, levels at {t:?}");
                        let pending: Vec<_> = batched.pending().collect();
                        assert_eq!(pending, single.pending().collect::<Vec<_>>(), "seed {seed}");
                    }
                    4 => {
                        let from = Nanos(rng.random_range(last.0..a.at.0));
                        for b in [&mut batched, &mut single] {
                            b.on_resume(from, a.at, true);
                        }
                    }
                    5 => {
                        for b in [&mut batched, &mut single] {
                            b.on_monitor_crash(last);
                        }
                    }
                    _ => {}
                }
            }
            batched.on_arrival(a);
            single.on_arrival_noting(a, |_, _| notes += 1);
            last = a.at;
        }
        assert!(notes > 1000, "{notes} transitions: the members must suspect often");
        let end = Nanos(SPAN);
        assert_eq!(full_report(&batched.finish(end)), full_report(&single.finish(end)), "seed {seed}");
    }
}
