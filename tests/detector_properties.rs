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
    let chen =
        (duration(10, 2000), 1usize..30).prop_map(|(interval, w)| format!("chen:interval={interval},window={w}"));
    let two_w = (duration(10, 2000), 1usize..5, 5usize..30)
        .prop_map(|(interval, small, large)| format!("2w:interval={interval},small={small},large={large}"));
    let bertier = (duration(10, 2000), 1usize..30, 0.01f64..1.0, 0.0f64..5.0, 0.0f64..8.0).prop_map(
        |(interval, w, gamma, beta, phi)| {
            format!("bertier:interval={interval},window={w},gamma={gamma},beta={beta},phi={phi}")
        },
    );
    let estimate = (
        duration(10, 2000),
        prop::sample::select(vec!["last", "mean", "winmean", "lpf", "ar1"]),
        prop::sample::select(vec!["const", "ci", "jacobson"]),
        1usize..30,
        0.01f64..=1.0,
        0.0f64..4.0,
    )
        .prop_map(|(interval, estimator, margin, w, gain, k)| {
            format!("estimate:interval={interval},estimator={estimator},margin={margin},window={w},gain={gain},k={k}")
        });
    let empirical = (1usize..30).prop_map(|w| format!("empirical:window={w}"));
    let eventually = (duration(1, 3000), 1.0f64..3.0, duration(0, 500)).prop_map(|(initial, factor, step)| {
        format!("eventually-perfect:initial={initial},factor={factor},step={step}")
    });
    prop_oneof![
        Just("fixed:timeout=1s".to_string()),
        Just("deadline".to_string()),
        phi,
        phi_exp,
        chen,
        two_w,
        bertier,
        estimate,
        empirical,
        eventually,
    ]
    .prop_flat_map(|spec| {
        // Thresholds in each level's range: fractions for empirical, up to 1 for 0/1 detectors.
        let thresholds = if spec.starts_with("empirical") {
            prop::collection::vec(0.001f64..=1.0, 1..5).boxed()
        } else if spec.starts_with("bertier") || spec.starts_with("eventually") {
            prop::collection::vec(0.01f64..=1.0, 1..3).boxed()
        } else {
            prop::collection::vec(0.01f64..40.0, 1..5).boxed()
        };
        (Just(spec), thresholds)
    })
}

/// Sequence-number steps: mostly +1, sometimes losses (+2, +3), duplicates and stale (0).
fn seq_steps() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop_oneof![6 => Just(1u8), 1 => Just(2u8), 1 => Just(3u8), 1 => Just(0u8)], 40)
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
    fn level_is_monotone_and_suspect_at_is_exact(
        (spec, thresholds) in specs(),
        gaps in gaps(),
        steps in seq_steps(),
        own_threshold in 0.5f64..20.0,
    ) {
        let spec = DetectorSpec::parse(&spec).unwrap();
        let mut d = spec.build();
        let mut t = Nanos(0);
        let mut seq = 0u64;
        for (gap, step) in gaps.iter().zip(&steps) {
            t = Nanos(t.0 + gap);
            // A stale step repeats an older number.
            seq = if *step == 0 { seq.saturating_sub(1) } else { seq + *step as u64 };
            d.heartbeat(&Arrival { at: t, seq: Some(seq), incarnation: None, sent: None }, own_threshold);
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
