//! What `tune` searches: per detector family (a kind or a preset), a grid of cells over the
//! keys that matter, each cell a sweep of the family's knob evaluated in one pass.
//!
//! `--detector` takes a spec as everywhere else, except that any key may list alternatives
//! (`phi:pause=0|1s|3s,min_std=100ms`): a key given once is held, a key given with `|` is a
//! dimension of the grid, the knob given as a sweep (`threshold=4..12`) replaces the default
//! sweep. Keys not given take the family's default grid ([`default_grid`]).
//!
//! The heartbeat interval is not searched: it changes the arrivals, which a trace cannot.
//! It is part of the model where a system derives something from it: Akka and Hazelcast
//! seed φ's history with it (`first`), Hazelcast checks once per heartbeat (`check_every`),
//! and Chen's estimate needs it (`interval`).

use crate::detector::DetectorSpec;
use crate::detector::catalog;
use crate::time::Nanos;

/// Why a family could not be set up.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GridError {
    #[error("--detector `{text}`: {reason}")]
    Bad { text: String, reason: String },
}

/// One cell of a family's grid: the values of the other keys, and the knob's sweep.
#[derive(Clone, Debug)]
pub struct Cell {
    /// The non-knob keys set for this cell (given, from the grid or filled in), in order.
    pub fixed: Vec<(String, String)>,
    /// The knob's values in increasing order, as written in labels.
    pub knob_values: Vec<String>,
    pub spec: DetectorSpec,
}

/// A detector family to tune.
#[derive(Clone, Debug)]
pub struct Family {
    /// The spec's head: a kind (`phi`) or a preset (`akka-cluster`).
    pub name: String,
    pub kind: String,
    pub knob: String,
    pub cells: Vec<Cell>,
}

impl Family {
    pub fn configurations(&self) -> usize {
        self.cells.iter().map(|c| c.knob_values.len()).sum()
    }
}

/// `1, 1.5, 2, …, 16`: φ thresholds.
fn steps(from: f64, to: f64, step: f64) -> String {
    let n = ((to - from) / step).round() as usize;
    (0..=n).map(|i| format!("{}", ((from + step * i as f64) * 1e6).round() / 1e6)).collect::<Vec<_>>().join("|")
}

/// Durations from 10 ms to 120 s, 9 to a decade (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8): the
/// default sweep of a timeout or a margin.
fn nice_durations() -> String {
    let mut v = Vec::new();
    for decade in [10u64, 100, 1_000, 10_000] {
        for m in [10u64, 15, 20, 25, 30, 40, 50, 60, 80] {
            v.push(Nanos::from_millis(decade * m / 10).to_string());
        }
    }
    v.extend(["100s".to_string(), "120s".to_string()]);
    v.join("|")
}

/// Whole seconds, 1 s to 120 s: Hazelcast's timeouts.
fn whole_seconds() -> String {
    [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 15, 20, 25, 30, 40, 50, 60, 80, 100, 120]
        .iter()
        .map(|s| format!("{s}s"))
        .collect::<Vec<_>>()
        .join("|")
}

/// `d` rounded up to whole seconds, at least 1 s.
pub fn whole_seconds_at_least_one(d: Nanos) -> Nanos {
    Nanos::from_secs(d.0.div_ceil(1_000_000_000).max(1))
}

/// A heartbeat interval as Hazelcast can set it: the nearest whole number of seconds, at
/// least 1 s (a trace's median interval is a little off the sender's setting).
pub fn hazelcast_interval(interval: Nanos) -> Nanos {
    Nanos::from_secs(((interval.0 + 500_000_000) / 1_000_000_000).max(1))
}

/// The default grid of a family (`name`, a kind or preset, of kind `kind`), given the
/// heartbeat interval: `(key, values)`, the knob first; `values` may list alternatives.
pub fn default_grid(name: &str, kind: &str, interval: Nanos) -> Vec<(String, String)> {
    let interval_ms = Nanos::from_millis((interval.0 + 500_000) / 1_000_000).max(Nanos::from_millis(1));
    let hz_interval = hazelcast_interval(interval);
    let g: Vec<(&str, String)> = match (name, kind) {
        ("hazelcast-deadline", _) => vec![("timeout", whole_seconds()), ("check_every", hz_interval.to_string())],
        ("hazelcast-phi", _) => vec![
            ("threshold", steps(1.0, 16.0, 0.5)),
            ("pause", "1s|3s|5s|10s|30s|60s".into()),
            ("min_std", "100ms|500ms".into()),
            ("first", hz_interval.to_string()),
            ("check_every", hz_interval.to_string()),
        ],
        ("cassandra", _) => vec![("threshold", steps(1.0, 20.0, 0.5))],
        (_, "phi") => {
            let mut g = vec![
                ("threshold", steps(1.0, 16.0, 0.5)),
                ("pause", "0|500ms|1s|2s|3s|5s".into()),
                ("min_std", "50ms|100ms|500ms".into()),
            ];
            if name != kind {
                // Akka seeds the history with heartbeat-interval.
                g.push(("first", interval_ms.to_string()));
            }
            g
        }
        (_, "phi-exp") => vec![("threshold", steps(1.0, 20.0, 0.5))],
        (_, "fixed") => vec![("timeout", nice_durations())],
        (_, "deadline") => vec![("pause", format!("0|{}", nice_durations())), ("interval", interval_ms.to_string())],
        (_, "chen" | "2w") => vec![("alpha", nice_durations()), ("interval", interval_ms.to_string())],
        (_, "empirical") => vec![("threshold", "0.9|0.95|0.99|0.995|0.999|1".into())],
        _ => Vec::new(),
    };
    g.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// The families tuned when `--detector` is not given: the plain families a user compares
/// and the presets whose configuration `tune` exports. Chen needs sequence numbers.
pub fn default_families(has_seq: bool) -> Vec<&'static str> {
    let mut f = vec!["fixed", "phi", "phi-exp"];
    if has_seq {
        f.push("chen");
    }
    f.extend(["akka-cluster", "cassandra", "hazelcast-deadline", "hazelcast-phi"]);
    f
}

/// The knob's value in a point's label (`phi:threshold=8,pause=1s` → `8`).
fn knob_text(label: &str, knob: &str) -> Option<String> {
    let (_, rest) = label.split_once(':')?;
    rest.split(',').next()?.strip_prefix(knob)?.strip_prefix('=').map(str::to_string)
}

/// Builds a family from `text` (`HEAD[:key=value|value,...]`), over the default grid where
/// the text says nothing.
pub fn family(text: &str, interval: Nanos) -> Result<Family, GridError> {
    let bad = |reason: String| GridError::Bad { text: text.to_string(), reason };
    let (head, rest) = text.trim().split_once(':').unwrap_or((text.trim(), ""));
    let head = head.trim();
    // Parsing the bare head names unknown kinds with the list of known ones.
    let kind = match catalog::preset(head) {
        Some(p) => p.kind.to_string(),
        None => catalog::kind(head)
            .map(|k| k.name.to_string())
            .ok_or_else(|| bad(DetectorSpec::parse(head).err().map_or_else(String::new, |e| e.to_string())))?,
    };
    // Cannot fail: the kind was just found in the catalogue.
    let info = catalog::kind(&kind).expect("a catalogued kind");
    let Some(knob) = info.knob else {
        return Err(bad(format!("`{kind}` has no knob to tune (it is one point on a trade-off chart)")));
    };
    let mut grid = default_grid(head, &kind, interval);
    for part in rest.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').ok_or_else(|| bad(format!("`{part}` is not `key=value`")))?;
        let (k, v) = (k.trim(), v.trim());
        match grid.iter_mut().find(|(key, _)| key == k) {
            Some(entry) => entry.1 = v.to_string(),
            None => grid.push((k.to_string(), v.to_string())),
        }
    }
    if !grid.iter().any(|(k, _)| k == knob.name) {
        return Err(bad(format!("give the values of `{}` to search, e.g. `{head}:{}=…|…`", knob.name, knob.name)));
    }
    // The knob's sweep, expanded through the spec parser (ranges, units), in increasing order.
    // Cannot fail: checked just above.
    let knob_sweep = &grid.iter().find(|(k, _)| k == knob.name).expect("checked above").1;
    let others: Vec<(String, Vec<String>)> = grid
        .iter()
        .filter(|(k, _)| k != knob.name)
        .map(|(k, v)| (k.clone(), v.split('|').map(|s| s.trim().to_string()).collect()))
        .collect();
    let mut combos: Vec<Vec<(String, String)>> = vec![Vec::new()];
    for (k, values) in &others {
        combos = combos
            .into_iter()
            .flat_map(|c| {
                values.iter().map(move |v| {
                    let mut c = c.clone();
                    c.push((k.clone(), v.clone()));
                    c
                })
            })
            .collect();
    }
    let mut cells = Vec::new();
    for fixed in combos {
        let mut parts = vec![format!("{}={knob_sweep}", knob.name)];
        parts.extend(fixed.iter().map(|(k, v)| format!("{k}={v}")));
        let spec = DetectorSpec::parse(&format!("{head}:{}", parts.join(","))).map_err(|e| bad(e.to_string()))?;
        let mut points: Vec<(f64, String)> = spec
            .points()
            .into_iter()
            .map(|p| (p.threshold, knob_text(&p.label, knob.name).unwrap_or_default()))
            .collect();
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        points.dedup_by(|a, b| a.0 == b.0);
        let knob_values: Vec<String> = points.into_iter().map(|p| p.1).collect();
        // The spec again with the knob in increasing order, so that points and values align.
        let mut parts = vec![format!("{}={}", knob.name, knob_values.join("|"))];
        parts.extend(fixed.iter().map(|(k, v)| format!("{k}={v}")));
        let spec = DetectorSpec::parse(&format!("{head}:{}", parts.join(","))).map_err(|e| bad(e.to_string()))?;
        cells.push(Cell { fixed, knob_values, spec });
    }
    // Two values of a key that are one number (`pause=1s|1000ms`) would give one cell twice.
    let specs: Vec<DetectorSpec> = cells.iter().map(|c| c.spec.clone()).collect();
    if let Some(r) = crate::detector::find_repeat(&specs) {
        let (a, b) = (&cells[r.first].fixed, &cells[r.second].fixed);
        let differ: Vec<String> =
            a.iter().zip(b).filter(|(x, y)| x != y).map(|(x, y)| format!("`{}={}` and `{}`", x.0, x.1, y.1)).collect();
        return Err(bad(format!(
            "{} are one value, so the grid gives `{}` twice; list each value once",
            differ.join(", "),
            r.label
        )));
    }
    Ok(Family { name: head.to_string(), kind, knob: knob.name.to_string(), cells })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_grids_build_for_every_default_family_and_preset() {
        let interval = Nanos::from_millis(100);
        for name in default_families(true).into_iter().chain(["deadline", "2w", "empirical", "akka-remote-watch"]) {
            let f = family(name, interval).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(!f.cells.is_empty(), "{name}");
            for c in &f.cells {
                let points = c.spec.points();
                assert_eq!(points.len(), c.knob_values.len(), "{name}");
                assert!(points.windows(2).all(|w| w[0].threshold < w[1].threshold), "{name}: increasing");
                for (p, v) in points.iter().zip(&c.knob_values) {
                    assert_eq!(knob_text(&p.label, &f.knob).as_deref(), Some(v.as_str()));
                }
            }
        }
        let phi = family("akka-cluster", interval).unwrap();
        assert_eq!((phi.cells.len(), phi.configurations()), (18, 18 * 31));
        assert!(phi.cells[0].spec.points()[0].label.contains("first=100ms"), "{:?}", phi.cells[0].spec);
        let hz = family("hazelcast-phi", interval).unwrap();
        assert!(hz.cells[0].fixed.contains(&("check_every".into(), "1s".into())), "whole seconds: {:?}", hz.cells[0]);
    }

    #[test]
    fn given_keys_hold_alternatives_span_the_grid_and_a_sweep_replaces_the_knob() {
        let interval = Nanos::from_secs(1);
        let f = family("phi:threshold=4..12..4,pause=0|2s,min_std=100ms", interval).unwrap();
        assert!(f.cells.iter().all(|c| c.knob_values == ["4", "8", "12"]), "{:?}", f.cells);
        let f = family("phi:threshold=12|4|8,pause=0|2s,min_std=100ms", interval).unwrap();
        assert_eq!(f.cells.len(), 2);
        assert_eq!(f.cells[1].knob_values, ["4", "8", "12"], "sorted");
        assert_eq!(f.cells[1].fixed, [("pause".into(), "2s".into()), ("min_std".into(), "100ms".into())]);
        assert_eq!(f.cells[1].spec.points()[0].label, "phi:threshold=4,pause=2s");
        let e = family("bertier", interval).unwrap_err().to_string();
        assert!(e.starts_with("--detector `bertier`: ") && e.contains("no knob"), "{e}");
        let e = family("phy", interval).unwrap_err().to_string();
        assert!(e.contains("unknown detector kind `phy`"), "{e}");
        let e = family("phi:pause=2", interval).unwrap_err().to_string();
        assert!(e.starts_with("--detector `phi:pause=2`: ") && e.contains("pause=2"), "{e}");
        let e = family("fixed:check_every=1s|nope", interval).unwrap_err().to_string();
        assert!(e.contains("nope"), "{e}");
        // Values that are one number are one cell: refused naming them, not the grid's labels.
        let e = family("phi:pause=1s|1000ms", interval).unwrap_err().to_string();
        assert!(e.starts_with("--detector `phi:pause=1s|1000ms`: `pause=1s` and `1000ms` are one value"), "{e}");
        let e = family("phi:min_std=100ms|0.1s,pause=0", interval).unwrap_err().to_string();
        assert!(e.contains("`min_std=100ms` and `0.1s` are one value"), "{e}");
    }
}
