//! Which detector configurations an engine samples levels of, for the suspicion timeline
//! charts (sampling is for pictures only; every metric is exact without it).

use std::collections::BTreeSet;

use crate::detector::DetectorSpec;

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
}
