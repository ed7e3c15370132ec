//! Properties every detector must have, over random arrival sequences (STYLE.md rule 7):
//! the level never falls while no heartbeat arrives, and `suspect_at` is exactly where the
//! level reaches the threshold, to the nanosecond.

use fdlab::detector::{Arrival, Detector, DetectorSpec};
use fdlab::time::Nanos;
use proptest::prelude::*;

/// Gaps between arrivals in ns: mostly around a second, some zero, some very long.
fn gaps() -> impl Strategy<Value = Vec<u64>> {
    let gap = prop_oneof![
        8 => 1u64..3_000_000_000,
        1 => Just(0u64),
        1 => 3_000_000_000u64..2_000_000_000_000,
    ];
    prop::collection::vec(gap, 1..40)
}

fn duration(lo_ms: u64, hi_ms: u64) -> impl Strategy<Value = String> {
    (lo_ms..hi_ms).prop_map(|ms| format!("{ms}ms"))
}

/// Random specs of every kind, with small windows so that eviction happens.
fn specs() -> impl Strategy<Value = (String, Vec<f64>)> {
    let phi = (1usize..30, duration(1, 1000), duration(0, 5000), duration(10, 3000), any::<bool>()).prop_map(
        |(w, min_std, pause, first, exact)| {
            format!("phi:window={w},min_std={min_std},pause={pause},first={first},exact={exact}")
        },
    );
    let phi_exp = (1usize..30, duration(1, 3000), duration(1, 3000))
        .prop_map(|(w, initial, max)| format!("phi-exp:window={w},initial={initial},max_interval={max}"));
    prop_oneof![Just("fixed:timeout=1s".to_string()), Just("deadline".to_string()), phi, phi_exp,]
        .prop_flat_map(|spec| (Just(spec), prop::collection::vec(0.01f64..40.0, 1..5)))
}

fn check_crossing(d: &dyn Detector, threshold: f64, now: Nanos) -> Result<(), TestCaseError> {
    let s = d.suspect_at(threshold, now);
    let s = match s {
        Some(s) => s,
        None => {
            // Never: the level must stay below the threshold however long the silence.
            prop_assert!(d.level(Nanos(now.0.saturating_add(1 << 60))) < threshold);
            return Ok(());
        }
    };
    prop_assert!(s >= now);
    prop_assert!(d.level(s) >= threshold, "level {} at suspect_at {:?} < threshold {}", d.level(s), s, threshold);
    if s > now {
        prop_assert!(
            d.level(Nanos(s.0 - 1)) < threshold,
            "level {} one ns before suspect_at {:?} ≥ threshold {}",
            d.level(Nanos(s.0 - 1)),
            s,
            threshold
        );
        // Asked again half-way, the answer is the same.
        let mid = Nanos(now.0 + (s.0 - now.0) / 2);
        prop_assert_eq!(d.suspect_at(threshold, mid), Some(s));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn level_is_monotone_and_suspect_at_is_exact((spec, thresholds) in specs(), gaps in gaps(), own_threshold in 0.5f64..20.0) {
        let spec = DetectorSpec::parse(&spec).unwrap();
        let mut d = spec.build();
        let mut t = Nanos(0);
        for (i, gap) in gaps.iter().enumerate() {
            t = Nanos(t.0 + gap);
            d.heartbeat(&Arrival { at: t, seq: Some(i as u64), incarnation: None, sent: None }, own_threshold);
            // Monotone while silent: probe a geometric ladder of silences.
            let mut previous = d.level(t);
            prop_assert!(!previous.is_nan());
            for k in 0..50 {
                let probe = Nanos(t.0.saturating_add(1u64 << k));
                let level = d.level(probe);
                prop_assert!(!level.is_nan());
                prop_assert!(level >= previous, "level fell from {} to {} at silence 2^{} ns", previous, level, k);
                previous = level;
            }
            for &th in &thresholds {
                check_crossing(d.as_ref(), th, t)?;
                check_crossing(d.as_ref(), th, Nanos(t.0 + 700_000_000))?;
            }
        }
    }

    #[test]
    fn nothing_is_suspected_before_the_first_heartbeat((spec, thresholds) in specs(), now in any::<u64>()) {
        let d = DetectorSpec::parse(&spec).unwrap().build();
        prop_assert_eq!(d.level(Nanos(now)), 0.0);
        for th in thresholds {
            prop_assert_eq!(d.suspect_at(th, Nanos(now)), None);
        }
    }
}
