//! The catalogue: the list of built-in detector kinds, the presets users run today, and the
//! text of `fdlab detectors`.
//!
//! A kind is declared in its own file ([`KindInfo`], see [`kind`](super::kind)); this file
//! only lists the declarations. [`spec`](super::spec) looks names up here.
//!
//! Adding a detector: write its file with the algorithm and a `pub(crate) const KIND:
//! KindInfo`, add `pub mod` for it in `detector/mod.rs`, and add one line to [`KINDS`]. The
//! tests below then check its declaration (defaults parse and pass their checks, the default
//! spec builds, round-trips through its label, and agrees with the detector on sequence
//! numbers).

use super::kind::{CHECK_EVERY, KindInfo};
use super::{bertier, chen, empirical, estimate, eventually_perfect, fixed, phi, phi_exp, two_windows};

/// Every built-in kind, in the order `fdlab detectors` and error messages list them.
pub const KINDS: &[KindInfo] = &[
    fixed::FIXED,
    fixed::DEADLINE,
    phi::KIND,
    phi_exp::KIND,
    chen::KIND,
    bertier::KIND,
    two_windows::KIND,
    estimate::KIND,
    empirical::KIND,
    eventually_perfect::KIND,
];

/// The built-in kind named `name`.
pub fn kind(name: &str) -> Option<&'static KindInfo> {
    KINDS.iter().find(|k| k.name == name)
}

/// A configuration that users run today, usable wherever a spec is, with overrides:
/// `akka-cluster:threshold=12`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Preset {
    pub name: &'static str,
    pub kind: &'static str,
    pub summary: &'static str,
    /// Values that differ from the kind's defaults (knob and `check_every` included).
    pub values: &'static [(&'static str, &'static str)],
}

pub const PRESETS: &[Preset] = &[
    Preset {
        name: "akka-cluster",
        kind: "phi",
        summary: "Akka/Pekko cluster membership: φ 8, 1000 samples, min std 100 ms, pause 3 s; reaper every 1 s",
        values: &[
            ("threshold", "8"),
            ("window", "1000"),
            ("min_std", "100ms"),
            ("pause", "3s"),
            ("first", "1s"),
            ("check_every", "1s"),
        ],
    },
    Preset {
        name: "akka-remote-watch",
        kind: "phi",
        summary: "Akka/Pekko remote watch: φ 10, 200 samples, min std 100 ms, pause 10 s; reaper every 1 s",
        values: &[
            ("threshold", "10"),
            ("window", "200"),
            ("min_std", "100ms"),
            ("pause", "10s"),
            ("first", "1s"),
            ("check_every", "1s"),
        ],
    },
    Preset {
        name: "akka-deadline",
        kind: "deadline",
        summary: "Akka/Pekko multi-DC cluster: deadline, 3 s heartbeats, pause 10 s; reaper every 1 s",
        values: &[("interval", "3s"), ("pause", "10s"), ("check_every", "1s")],
    },
    Preset {
        name: "cassandra",
        kind: "phi-exp",
        summary: "Apache Cassandra: exponential φ, phi_convict_threshold 8; evaluated once per 1 s gossip round",
        values: &[("threshold", "8"), ("check_every", "1s")],
    },
    Preset {
        name: "hazelcast-deadline",
        kind: "fixed",
        summary: "Hazelcast default: heartbeat every 5 s, suspect after 60 s without one; checked every 5 s",
        values: &[("timeout", "60s"), ("check_every", "5s")],
    },
    Preset {
        name: "hazelcast-phi",
        kind: "phi",
        summary: "Hazelcast phi-accrual: φ 10, 200 samples, min std 100 ms, pause 60 s, 5 s heartbeats; checked every 5 s",
        values: &[
            ("threshold", "10"),
            ("window", "200"),
            ("min_std", "100ms"),
            ("pause", "60s"),
            ("first", "5s"),
            ("check_every", "5s"),
        ],
    },
];

/// The preset named `name`.
pub fn preset(name: &str) -> Option<&'static Preset> {
    PRESETS.iter().find(|p| p.name == name)
}

/// Every name a spec may start with: the kinds, then the presets.
pub(crate) fn names() -> impl Iterator<Item = &'static str> {
    KINDS.iter().map(|k| k.name).chain(PRESETS.iter().map(|p| p.name))
}

/// The text of `fdlab detectors`: every kind with its knob, keys and defaults, then presets.
pub fn describe_kinds() -> String {
    let mut out = String::from("Detector kinds (spec: KIND[:key=value,...]):\n\n");
    for kind in KINDS {
        out.push_str(&format!("{}\n    {}\n", kind.name, kind.summary));
        let keys = kind.knob.iter().map(|k| ("knob", k)).chain(kind.keys.iter().map(|k| ("key", k)));
        for (role, k) in keys.chain([("key", &CHECK_EVERY)]) {
            let default = if k.default.is_empty() { "required" } else { k.default };
            out.push_str(&format!("    {role:4} {:<13} {:<9} {}\n", k.name, default, k.doc));
        }
        out.push('\n');
    }
    out.push_str("Presets (usable as a kind, with overrides, e.g. `akka-cluster:threshold=12`):\n\n");
    for p in PRESETS {
        let values: Vec<String> = p.values.iter().map(|(k, v)| format!("{k}={v}")).collect();
        out.push_str(&format!("{}\n    {}\n    = {}:{}\n\n", p.name, p.summary, p.kind, values.join(",")));
    }
    out.push_str("A knob may be a sweep: `a|b|c` or, for numbers, `from..to[..step]`.\n");
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::detector::DetectorSpec;
    use crate::detector::value::{Value, ValueKind};

    /// A value of `key` for a spec that must name it: its default, or a sample.
    fn some_value(key: &crate::detector::kind::KeyInfo) -> String {
        match (key.default, key.kind) {
            ("", ValueKind::Duration) => "250ms".into(),
            ("", ValueKind::Number) => "0.5".into(),
            ("", ValueKind::Window) => "10".into(),
            ("", ValueKind::Bool) => "true".into(),
            ("", ValueKind::Choice(names)) => names[0].into(),
            (default, _) => default.into(),
        }
    }

    /// A valid value of `key` that is not its default (the checks in the declarations
    /// accept these: durations grow, numbers halve, windows grow by one, bools flip).
    fn other_value(key: &crate::detector::kind::KeyInfo) -> String {
        let value = key.parse(&some_value(key)).expect("a valid value");
        match value {
            Value::Duration(d) => (d.saturating_add(d) + crate::time::Nanos::from_millis(1)).to_string(),
            Value::Number(x) => (x / 2.0).to_string(),
            Value::Count(n) => (n + 1).to_string(),
            Value::Bool(b) => (!b).to_string(),
            Value::Choice(name) => match key.kind {
                ValueKind::Choice(names) => names.iter().find(|n| **n != name).unwrap_or(&name).to_string(),
                _ => unreachable!("a choice's key is declared as one"),
            },
        }
    }

    /// The spec text naming every required key and nothing else.
    fn default_spec(kind: &KindInfo) -> String {
        let required: Vec<String> =
            kind.all_keys().filter(|k| k.default.is_empty()).map(|k| format!("{}={}", k.name, some_value(k))).collect();
        if required.is_empty() { kind.name.to_string() } else { format!("{}:{}", kind.name, required.join(",")) }
    }

    #[test]
    fn names_and_keys_are_unique() {
        let mut seen = BTreeSet::new();
        for name in names() {
            assert!(seen.insert(name), "`{name}` is declared twice");
            assert!(!name.is_empty() && !name.contains([':', ',', '=', ' ']), "`{name}` cannot start a spec");
        }
        for kind in KINDS {
            let mut keys = BTreeSet::new();
            for key in kind.all_keys() {
                assert!(keys.insert(key.name), "`{}` declares `{}` twice", kind.name, key.name);
                assert!(!key.doc.is_empty(), "`{}.{}` has no doc", kind.name, key.name);
            }
            assert!(!kind.summary.is_empty());
            if let Some(plus) = kind.threshold_plus {
                let key = kind.keys.iter().find(|k| k.name == plus);
                assert!(key.is_some_and(|k| k.kind == ValueKind::Duration), "`{}` adds `{plus}`", kind.name);
            }
        }
    }

    #[test]
    fn every_default_parses_and_passes_its_check() {
        for kind in KINDS {
            for key in kind.all_keys().filter(|k| !k.default.is_empty()) {
                let value = key.parse(key.default).unwrap_or_else(|e| panic!("{}.{}: {e:?}", kind.name, key.name));
                assert_eq!(key.check_range(value), Ok(()), "{}.{}", kind.name, key.name);
                // Labels leave defaults out by comparing values: the default must print as
                // it is written, or a spec giving it explicitly would look different.
                assert_eq!(key.parse(&value.to_string()), Ok(value), "{}.{}", kind.name, key.name);
            }
        }
    }

    #[test]
    fn every_kind_round_trips_its_default_spec_and_a_spec_of_every_key() {
        for kind in KINDS {
            let text = default_spec(kind);
            let spec = DetectorSpec::parse(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(spec.kind(), kind.name);
            assert_eq!(spec.missing(), Vec::<&str>::new(), "{text}");
            let points = spec.points();
            assert_eq!(points.len(), 1, "{text}");
            let again = DetectorSpec::parse(&points[0].label).unwrap();
            assert_eq!(again.points(), points, "{text}");
            // Every key at a value other than its default: each appears in the label (the
            // knob first), and the label parses back to the same configuration.
            let all: Vec<String> = kind.all_keys().map(|k| format!("{}={}", k.name, other_value(k))).collect();
            let text = format!("{}:{}", kind.name, all.join(","));
            let spec = DetectorSpec::parse(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
            let label = &spec.points()[0].label;
            for (key, given) in kind.all_keys().zip(&all) {
                let shown = format!("{}={}", key.name, key.parse(given.split_once('=').unwrap().1).unwrap());
                assert!(label.split([':', ',']).any(|part| part == shown), "{label} lacks {shown}");
            }
            if let Some(knob) = kind.knob {
                assert!(label.starts_with(&format!("{}:{}=", kind.name, knob.name)), "{label}");
            }
            assert_eq!(DetectorSpec::parse(label).unwrap().points(), spec.points(), "{text}");
        }
    }

    #[test]
    fn every_kind_builds_and_agrees_with_its_detector_on_sequence_numbers() {
        for kind in KINDS {
            let spec = DetectorSpec::parse(&default_spec(kind)).unwrap();
            let detector = spec.build();
            assert_eq!(detector.needs_seq(), kind.needs_seq, "{}", kind.name);
            assert_eq!(spec.needs_seq(), kind.needs_seq, "{}", kind.name);
        }
        // The ones that read `Arrival::seq`, by name, so that a flag lost from a declaration
        // is noticed even if the detector lost it too.
        let seq: Vec<&str> = KINDS.iter().filter(|k| k.needs_seq).map(|k| k.name).collect();
        assert_eq!(seq, ["chen", "bertier", "2w", "estimate"]);
    }

    #[test]
    fn presets_name_a_kind_and_valid_values() {
        for preset in PRESETS {
            let info = kind(preset.kind).unwrap_or_else(|| panic!("{}: no kind {}", preset.name, preset.kind));
            for (key, value) in preset.values {
                let key = info.all_keys().find(|k| k.name == *key).expect("preset keys exist");
                let value = key.parse(value).expect("valid preset value");
                assert_eq!(key.check_range(value), Ok(()));
            }
            let spec = DetectorSpec::parse(preset.name).unwrap();
            assert_eq!(spec.kind(), preset.kind);
            // A preset's label is its name and its knob: its other values are implied.
            let label = &spec.points()[0].label;
            let expected = match info.knob {
                Some(knob) => format!("{}:{}=", preset.name, knob.name),
                None => preset.name.to_string(),
            };
            assert!(label.starts_with(&expected) && label.matches('=').count() <= 1, "{label}");
        }
    }

    #[test]
    fn the_description_lists_every_kind_key_and_preset() {
        let text = describe_kinds();
        for kind in KINDS {
            let at = text.find(&format!("\n{}\n    {}\n", kind.name, kind.summary)).expect(kind.name);
            let block = &text[at + 1..];
            let block = &block[..block.find("\n\n").unwrap()];
            let roles: Vec<(&str, &str)> = block
                .lines()
                .skip(2)
                .map(|l| l.split_whitespace().take(2).collect::<Vec<_>>())
                .map(|w| (w[0], w[1]))
                .collect();
            let expected: Vec<(&str, &str)> =
                kind.knob.iter().map(|k| ("knob", k.name)).chain(kind.keys.iter().map(|k| ("key", k.name))).collect();
            assert_eq!(roles[..roles.len() - 1], expected[..], "{}", kind.name);
            assert_eq!(roles.last(), Some(&("key", "check_every")));
        }
        for preset in PRESETS {
            assert!(text.contains(&format!("\n{}\n    {}\n", preset.name, preset.summary)), "{}", preset.name);
        }
    }
}
