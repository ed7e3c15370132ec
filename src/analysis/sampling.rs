//! Which detector configurations an engine samples levels of, for the suspicion timeline
//! charts (sampling is for pictures only; every metric is exact without it), and which of
//! them a timeline shows: per detector spec (a family, possibly a sweep) the setting chosen
//! for a mistake-rate target ([`chosen_labels`]), not merely the first of the sweep.

use std::collections::BTreeSet;

use super::results::TotalEntry;
use crate::detector::DetectorSpec;

/// What the choice needs of a detector spec: its points and its kind. A spec, or one spec's
/// points given one by one (as a stored experiment lists a sweep).
pub trait Spec {
    fn points(&self) -> Vec<crate::detector::spec::DetectorPoint>;
    fn kind(&self) -> &str;
}

impl Spec for DetectorSpec {
    fn points(&self) -> Vec<crate::detector::spec::DetectorPoint> {
        DetectorSpec::points(self)
    }
    fn kind(&self) -> &str {
        DetectorSpec::kind(self)
    }
}

impl Spec for Vec<DetectorSpec> {
    fn points(&self) -> Vec<crate::detector::spec::DetectorPoint> {
        self.iter().flat_map(DetectorSpec::points).collect()
    }
    fn kind(&self) -> &str {
        self.first().map_or("", DetectorSpec::kind)
    }
}

/// The default target of the chosen setting: one mistake a day.
pub const DEFAULT_TARGET_PER_DAY: f64 = 1.0;

/// At most this many configurations of one spec are sampled, before the choice.
pub const MAX_SAMPLED_PER_SPEC: usize = 32;

/// At most this many configurations of one sweep are sampled (and drawn).
pub const MAX_SAMPLED: usize = 6;

/// Keeps at most `max` of `items`, evenly spread over them.
pub fn thin<T>(items: Vec<T>, max: usize) -> Vec<T> {
    let n = items.len();
    if n <= max {
        return items;
    }
    items.into_iter().enumerate().filter(|(i, _)| i * max / n != (i + 1) * max / n).map(|(_, x)| x).collect()
}

/// The detector configurations whose levels are sampled: the first of each spec, or for a
/// single spec up to [`MAX_SAMPLED`] of its sweep.
pub fn timeline_labels(specs: &[DetectorSpec]) -> BTreeSet<String> {
    match specs {
        [only] => thin(only.points(), MAX_SAMPLED).into_iter().map(|p| p.label).collect(),
        _ => specs.iter().filter_map(|s| s.points().into_iter().next()).map(|p| p.label).collect(),
    }
}

/// Every configuration an engine that learns its results only at the end (the simulator)
/// samples, so that [`chosen_labels`] can pick among them afterwards: each spec's points,
/// thinned to [`MAX_SAMPLED_PER_SPEC`].
pub fn sampled_labels<S: Spec>(specs: &[S]) -> BTreeSet<String> {
    specs.iter().flat_map(|s| thin(s.points(), MAX_SAMPLED_PER_SPEC)).map(|p| p.label).collect()
}

/// The configurations a timeline shows, given the run's totals: for each spec, among its
/// sampled points (`sampled`), the one with the most mistakes per day not above
/// `target_per_day` (ties: the faster mean detection, then the earlier in the sweep); if
/// none meets it, the kind's default setting when the sweep holds it, else the point with
/// the fewest mistakes. A lone spec also shows up to [`MAX_SAMPLED`] − 1 others of its
/// sweep, evenly spread, so its panels still show how the knob moves the level.
pub fn chosen_labels<S: Spec>(
    specs: &[S],
    totals: &[TotalEntry],
    target_per_day: f64,
    sampled: &BTreeSet<String>,
) -> BTreeSet<String> {
    let mut chosen = BTreeSet::new();
    for spec in specs {
        let points: Vec<(usize, &TotalEntry)> = spec
            .points()
            .iter()
            .filter(|p| sampled.contains(&p.label))
            .filter_map(|p| totals.iter().find(|t| t.detector == p.label))
            .enumerate()
            .collect();
        let per_day = |t: &TotalEntry| t.mistakes_per_day.unwrap_or(f64::INFINITY);
        let detection = |t: &TotalEntry| t.detection_time_s.mean.unwrap_or(f64::INFINITY);
        let meeting = points.iter().filter(|(_, t)| per_day(t) <= target_per_day).max_by(|a, b| {
            per_day(a.1).total_cmp(&per_day(b.1)).then(detection(b.1).total_cmp(&detection(a.1))).then(b.0.cmp(&a.0))
        });
        let default = || {
            let threshold = DetectorSpec::parse(spec.kind()).ok()?.points().first()?.threshold;
            points.iter().find(|(_, t)| t.threshold == threshold)
        };
        let fewest = || points.iter().min_by(|a, b| per_day(a.1).total_cmp(&per_day(b.1)).then(a.0.cmp(&b.0)));
        if let Some((_, t)) = meeting.or_else(default).or_else(fewest) {
            chosen.insert(t.detector.clone());
        }
        if let [_] = specs {
            let others: Vec<&TotalEntry> =
                points.iter().map(|(_, t)| *t).filter(|t| !chosen.contains(&t.detector)).collect();
            chosen.extend(thin(others, MAX_SAMPLED - 1).into_iter().map(|t| t.detector.clone()));
        }
    }
    chosen
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thinning_keeps_an_even_spread_and_the_last() {
        assert_eq!(thin((0..16).collect(), 6), vec![2, 5, 7, 10, 13, 15]);
        assert_eq!(thin((0..4).collect(), 6), vec![0, 1, 2, 3]);
        let one = DetectorSpec::parse("phi:threshold=1..16").unwrap();
        assert_eq!(timeline_labels(std::slice::from_ref(&one)).len(), MAX_SAMPLED);
        let two = [one, DetectorSpec::parse("fixed:timeout=1s|2s").unwrap()];
        let labels: Vec<String> = timeline_labels(&two).into_iter().collect();
        assert_eq!(labels, ["fixed:timeout=1s", "phi:threshold=1"]);
    }

    /// A total of `phi:threshold=T` with the given mistakes a day and mean detection time.
    fn total(threshold: u32, per_day: Option<f64>, detection: f64) -> TotalEntry {
        use crate::analysis::QosReport;
        use crate::analysis::qos::{DetectionBasis, Exact};
        use crate::analysis::results::{ResultEntry, totals};
        let qos = QosReport::from_exact(Exact::default(), None, Default::default(), DetectionBasis::Crashes);
        let entry = ResultEntry {
            detector: format!("phi:threshold={threshold}"),
            kind: "phi".into(),
            knob: Some("threshold".into()),
            threshold: f64::from(threshold),
            monitor: None,
            target: "b".into(),
            qos,
            replications: None,
        };
        // Cannot fail: one entry, one total.
        let mut t = totals(&[entry]).pop().expect("one total");
        (t.mistakes_per_day, t.detection_time_s.mean) = (per_day, Some(detection));
        t
    }

    fn chosen(specs: &[&str], totals: &[TotalEntry], sampled: Option<&[u32]>) -> Vec<String> {
        let specs: Vec<DetectorSpec> = specs.iter().map(|s| DetectorSpec::parse(s).unwrap()).collect();
        let sampled = match sampled {
            Some(ts) => ts.iter().map(|t| format!("phi:threshold={t}")).collect(),
            None => sampled_labels(&specs),
        };
        let labels = chosen_labels(&specs, totals, DEFAULT_TARGET_PER_DAY, &sampled);
        // The same choice from each spec's points given one by one, as a stored experiment
        // lists a sweep (a merge, a replay of a run's results).
        let split: Vec<Vec<DetectorSpec>> =
            specs.iter().map(|s| s.points().iter().map(|p| DetectorSpec::parse(&p.label).unwrap()).collect()).collect();
        assert_eq!(sampled_labels(&split), sampled_labels(&specs));
        assert_eq!(chosen_labels(&split, totals, DEFAULT_TARGET_PER_DAY, &sampled), labels);
        labels.into_iter().collect()
    }

    /// The setting a timeline shows, by each rule of `chosen_labels` in turn, with the
    /// lone spec's evenly spread others.
    #[test]
    fn the_chosen_setting_follows_each_rule_in_turn() {
        let label = |t: u32| format!("phi:threshold={t}");
        // Mistakes a day falling with the threshold: 5 and 6 are the most at or under one a
        // day (1.0), 6 detects faster; 7 on is under; 1 has no rate at all.
        let per_day = |t: u32| match t {
            1 => None,
            2..=4 => Some(f64::from(100 / t)),
            5 | 6 => Some(1.0),
            _ => Some(1.0 / f64::from(t)),
        };
        let falling: Vec<TotalEntry> = (1..=16).map(|t| total(t, per_day(t), if t == 6 { 1.0 } else { 2.0 })).collect();
        let two = ["phi:threshold=1..16", "fixed:timeout=1s"];
        assert_eq!(chosen(&two, &falling, None), [label(6)], "the most mistakes within the target, the faster");
        // Equal detection: the earlier of the sweep.
        let tied: Vec<TotalEntry> = (1..=16).map(|t| total(t, per_day(t), 2.0)).collect();
        assert_eq!(chosen(&two, &tied, None), [label(5)]);
        // 5 and 6 not sampled: the best of those that were.
        assert_eq!(chosen(&two, &tied, Some(&[1, 2, 3, 4, 7, 9])), [label(7)]);
        // None meets the target: the kind's default setting (8), not the fewest (3).
        let over: Vec<TotalEntry> = (1..=16).map(|t| total(t, Some(if t == 3 { 2.0 } else { 9.0 }), 1.0)).collect();
        assert_eq!(chosen(&two, &over, None), [label(8)]);
        // A sweep without the default: the fewest, the earlier of equals.
        assert_eq!(chosen(&["phi:threshold=1..4", "fixed:timeout=1s"], &over[..4], None), [label(3)]);
        let flat: Vec<TotalEntry> = (1..=4).map(|t| total(t, Some(9.0), 1.0)).collect();
        assert_eq!(chosen(&["phi:threshold=1..4", "fixed:timeout=1s"], &flat, None), [label(1)]);
        // A lone spec also shows five others, evenly spread over the rest of its sweep.
        let mut shown = chosen(&["phi:threshold=1..16"], &falling, None);
        shown.sort_by_key(|l| l[14..].parse::<u32>().unwrap());
        let expected: Vec<String> = [3, 6, 7, 10, 13, 16].into_iter().map(label).collect();
        assert_eq!(shown, expected, "6 chosen, then thin(1..16 without 6, 5)");
    }
}
