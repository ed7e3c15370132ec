//! Detector specs: `KIND[:key=value,...]` on the command line, the same keys in TOML.
//!
//! A spec names a detector family, its parameters and the values of its one knob (the
//! threshold, or a timeout), which may be a sweep: `phi:threshold=1..16`,
//! `fixed:timeout=100ms|250ms|1s`. Each value of the knob is a [`DetectorPoint`] with a
//! canonical label (`phi:threshold=8,pause=2s`): the knob first, then every key that differs
//! from its default, in a fixed order. That label names the configuration in every output.

use std::collections::BTreeMap;
use std::fmt;

use super::{Detector, FixedTimeout, Phi, PhiConfig, PhiExp, PhiExpConfig};
use crate::time::{Nanos, parse_duration};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SpecError {
    #[error("empty detector spec; write e.g. `phi:threshold=8` or `fixed:timeout=500ms`")]
    Empty,
    #[error("unknown detector kind `{kind}`; known kinds: {known}")]
    UnknownKind { kind: String, known: String },
    #[error("`{kind}` has no key `{key}`; its keys are: {known}")]
    UnknownKey { kind: String, key: String, known: String },
    #[error("`{key}={value}`: {reason}")]
    BadValue { key: String, value: String, reason: String },
    #[error("`{part}` is not `key=value`")]
    NotKeyValue { part: String },
    #[error("`{key}` is given twice")]
    Duplicate { key: String },
    #[error("`{kind}` needs `{key}`, e.g. `{example}`")]
    Missing { kind: String, key: String, example: String },
}

/// How a key's values are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ValueKind {
    Duration,
    Number,
    Count,
    Bool,
}

/// One key of a detector kind, for parsing, labels and `fdlab detectors`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct KeyInfo {
    pub name: &'static str,
    /// The default as written in a spec; empty if the key is required.
    pub default: &'static str,
    pub doc: &'static str,
    kind: ValueKind,
}

/// A detector family.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct KindInfo {
    pub name: &'static str,
    pub summary: &'static str,
    /// The swept key; its value gives the threshold in level units.
    pub knob: KeyInfo,
    pub keys: &'static [KeyInfo],
}

const fn key(name: &'static str, default: &'static str, kind: ValueKind, doc: &'static str) -> KeyInfo {
    KeyInfo { name, default, doc, kind }
}

use ValueKind::{Bool, Count, Duration, Number};

pub const KINDS: &[KindInfo] = &[
    KindInfo {
        name: "fixed",
        summary: "fixed timeout: suspect when the silence since the last heartbeat reaches it",
        knob: key("timeout", "", Duration, "silence that triggers suspicion"),
        keys: &[],
    },
    KindInfo {
        name: "deadline",
        summary: "Akka/Pekko DeadlineFailureDetector: suspect after interval + acceptable pause of silence",
        knob: key("pause", "3s", Duration, "acceptable heartbeat pause"),
        keys: &[key("interval", "1s", Duration, "heartbeat interval")],
    },
    KindInfo {
        name: "phi",
        summary: "φ accrual, normal distribution, exactly as Akka/Pekko (and Hazelcast) compute it",
        knob: key("threshold", "8", Number, "φ threshold"),
        keys: &[
            key("window", "1000", Count, "max-sample-size: intervals kept"),
            key("min_std", "100ms", Duration, "min-std-deviation"),
            key("pause", "3s", Duration, "acceptable-heartbeat-pause, added to the mean"),
            key("first", "1s", Duration, "first-heartbeat estimate seeding the history"),
            key("exact", "false", Bool, "exact normal tail (erfc) instead of Akka's logistic form"),
        ],
    },
    KindInfo {
        name: "phi-exp",
        summary: "φ accrual, exponential distribution, as Apache Cassandra computes it",
        knob: key("threshold", "8", Number, "phi_convict_threshold"),
        keys: &[
            key("window", "1000", Count, "intervals kept"),
            key("initial", "2s", Duration, "interval recorded at the first heartbeat"),
            key("max_interval", "2s", Duration, "longer intervals are not recorded"),
            key("pause_guard", "5s", Duration, "local pause guard (0 disables)"),
        ],
    },
];

/// A parsed value of a key.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value {
    Duration(Nanos),
    Number(f64),
    Count(usize),
    Bool(bool),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Duration(d) => write!(f, "{d}"),
            Value::Number(x) => write!(f, "{x}"),
            Value::Count(n) => write!(f, "{n}"),
            Value::Bool(b) => write!(f, "{b}"),
        }
    }
}

impl Value {
    fn duration(self) -> Nanos {
        match self {
            Value::Duration(d) => d,
            _ => unreachable!("key declared as a duration"),
        }
    }
    fn count(self) -> usize {
        match self {
            Value::Count(n) => n,
            _ => unreachable!("key declared as a count"),
        }
    }
    fn bool(self) -> bool {
        match self {
            Value::Bool(b) => b,
            _ => unreachable!("key declared as a bool"),
        }
    }
}

fn parse_value(info: &KeyInfo, text: &str) -> Result<Value, SpecError> {
    let bad = |reason: String| SpecError::BadValue { key: info.name.to_string(), value: text.to_string(), reason };
    let text = text.trim();
    match info.kind {
        Duration => parse_duration(text).map(Value::Duration).map_err(|e| bad(e.to_string())),
        Number => match text.parse::<f64>() {
            Ok(x) if x.is_finite() => Ok(Value::Number(x)),
            _ => Err(bad("not a finite number".into())),
        },
        Count => text.parse::<usize>().map(Value::Count).map_err(|_| bad("not a whole number ≥ 0".into())),
        Bool => match text {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            _ => Err(bad("expected `true` or `false`".into())),
        },
    }
}

/// Parses the knob's values: one value, a list `a|b|c`, or for numbers a range `a..b`
/// (step 1) or `a..b..step`.
fn parse_knob(info: &KeyInfo, text: &str) -> Result<Vec<Value>, SpecError> {
    let bad = |reason: &str| SpecError::BadValue {
        key: info.name.to_string(),
        value: text.to_string(),
        reason: reason.to_string(),
    };
    if info.kind == Number && text.contains("..") {
        let parts: Vec<&str> = text.split("..").collect();
        let nums: Vec<f64> = parts
            .iter()
            .map(|p| p.trim().parse::<f64>().map_err(|_| bad("a range is `from..to` or `from..to..step`")))
            .collect::<Result<_, _>>()?;
        let (from, to, step) = match nums[..] {
            [a, b] => (a, b, 1.0),
            [a, b, s] => (a, b, s),
            _ => return Err(bad("a range is `from..to` or `from..to..step`")),
        };
        let well_formed = step > 0.0 && to >= from && from.is_finite() && to.is_finite();
        if !well_formed || (to - from) / step > 10_000.0 {
            return Err(bad("a range needs from ≤ to, a positive step and at most 10000 points"));
        }
        let count = ((to - from) / step + 1e-9).floor() as usize;
        return Ok((0..=count).map(|i| Value::Number(from + step * i as f64)).collect());
    }
    text.split('|').map(|part| parse_value(info, part)).collect()
}

/// A detector family with its parameters and the values of its knob.
#[derive(Clone, Debug, PartialEq)]
pub struct DetectorSpec {
    kind: &'static KindInfo,
    /// Every key's value, defaults included.
    params: BTreeMap<&'static str, Value>,
    knob: Vec<Value>,
}

/// One configuration of a sweep: a spec with one value of its knob.
#[derive(Clone, Debug, PartialEq)]
pub struct DetectorPoint {
    /// Canonical label, e.g. `phi:threshold=8,pause=2s`.
    pub label: String,
    pub kind: &'static str,
    /// The knob's value in the level's units (seconds for durations).
    pub threshold: f64,
}

impl DetectorSpec {
    /// Parses `KIND[:key=value,...]`.
    pub fn parse(text: &str) -> Result<DetectorSpec, SpecError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(SpecError::Empty);
        }
        let (kind, rest) = text.split_once(':').unwrap_or((text, ""));
        let mut pairs = Vec::new();
        for part in rest.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, v) = part.split_once('=').ok_or_else(|| SpecError::NotKeyValue { part: part.to_string() })?;
            pairs.push((k.trim().to_string(), v.trim().to_string()));
        }
        DetectorSpec::from_pairs(kind.trim(), &pairs)
    }

    /// Builds a spec from a kind and `key = value` texts (the TOML form converts to this).
    pub fn from_pairs(kind: &str, pairs: &[(String, String)]) -> Result<DetectorSpec, SpecError> {
        let info = KINDS.iter().find(|k| k.name == kind).ok_or_else(|| SpecError::UnknownKind {
            kind: kind.to_string(),
            known: KINDS.iter().map(|k| k.name).collect::<Vec<_>>().join(", "),
        })?;
        let mut params = BTreeMap::new();
        let mut knob = None;
        for (k, v) in pairs {
            if k == info.knob.name {
                if knob.is_some() {
                    return Err(SpecError::Duplicate { key: k.clone() });
                }
                knob = Some(parse_knob(&info.knob, v)?);
                continue;
            }
            let key_info = info.keys.iter().find(|i| i.name == k).ok_or_else(|| SpecError::UnknownKey {
                kind: info.name.to_string(),
                key: k.clone(),
                known: std::iter::once(info.knob.name)
                    .chain(info.keys.iter().map(|i| i.name))
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
            if params.insert(key_info.name, parse_value(key_info, v)?).is_some() {
                return Err(SpecError::Duplicate { key: k.clone() });
            }
        }
        for key_info in info.keys {
            if !params.contains_key(key_info.name) {
                // Cannot fail: the defaults in KINDS are valid (tested).
                params.insert(key_info.name, parse_value(key_info, key_info.default).expect("valid default"));
            }
        }
        let knob = match knob {
            Some(values) => values,
            None if info.knob.default.is_empty() => {
                return Err(SpecError::Missing {
                    kind: info.name.to_string(),
                    key: info.knob.name.to_string(),
                    example: format!("{}:{}=500ms", info.name, info.knob.name),
                });
            }
            None => vec![parse_value(&info.knob, info.knob.default).expect("valid default")],
        };
        let spec = DetectorSpec { kind: info, params, knob };
        spec.validate()?;
        Ok(spec)
    }

    fn validate(&self) -> Result<(), SpecError> {
        let bad = |key: &str, value: String, reason: &str| SpecError::BadValue {
            key: key.to_string(),
            value,
            reason: reason.to_string(),
        };
        for (&k, &v) in &self.params {
            if k == "window" && !(1..=super::window::MAX_CAPACITY).contains(&v.count()) {
                return Err(bad(k, v.to_string(), "the window holds 1 to 65536 intervals"));
            }
            if (k == "min_std" || k == "first" || k == "interval") && v.duration() == Nanos::ZERO {
                return Err(bad(k, v.to_string(), "must be greater than zero"));
            }
        }
        let base = self.threshold_offset();
        for &v in &self.knob {
            let threshold = base + value_in_level_units(v);
            if !(threshold > 0.0 && threshold.is_finite()) {
                return Err(bad(self.kind.knob.name, v.to_string(), "the threshold must be greater than zero"));
            }
        }
        Ok(())
    }

    /// The family name (`phi`, `fixed`, …).
    pub fn kind(&self) -> &'static str {
        self.kind.name
    }

    /// What deadline adds to its knob: the heartbeat interval (timeout = interval + pause).
    fn threshold_offset(&self) -> f64 {
        match self.kind.name {
            "deadline" => self.params["interval"].duration().as_secs_f64(),
            _ => 0.0,
        }
    }

    /// The configurations of this spec, one per value of the knob, in the order given.
    pub fn points(&self) -> Vec<DetectorPoint> {
        let others: String = self
            .kind
            .keys
            .iter()
            .filter_map(|info| {
                let value = self.params[info.name];
                // Cannot fail: defaults are valid (see from_pairs).
                let default = parse_value(info, info.default).expect("valid default");
                (value != default).then(|| format!(",{}={}", info.name, value))
            })
            .collect();
        self.knob
            .iter()
            .map(|&v| DetectorPoint {
                label: format!("{}:{}={}{}", self.kind.name, self.kind.knob.name, v, others),
                kind: self.kind.name,
                threshold: self.threshold_offset() + value_in_level_units(v),
            })
            .collect()
    }

    /// A fresh detector with this spec's parameters (the threshold is not part of a
    /// detector's configuration; see the `Detector` trait).
    pub fn build(&self) -> Box<dyn Detector> {
        let p = &self.params;
        match self.kind.name {
            "fixed" | "deadline" => Box::new(FixedTimeout::new()),
            "phi" => Box::new(Phi::new(PhiConfig {
                window: p["window"].count(),
                min_std: p["min_std"].duration(),
                pause: p["pause"].duration(),
                first: p["first"].duration(),
                exact: p["exact"].bool(),
            })),
            "phi-exp" => Box::new(PhiExp::new(PhiExpConfig {
                window: p["window"].count(),
                initial: p["initial"].duration(),
                max_interval: p["max_interval"].duration(),
                pause_guard: p["pause_guard"].duration(),
            })),
            other => unreachable!("kind {other} is in KINDS but not built"),
        }
    }
}

/// The text of `fdlab detectors`: every kind with its knob, keys and defaults.
pub fn describe_kinds() -> String {
    let mut out = String::new();
    for kind in KINDS {
        out.push_str(&format!("{}\n    {}\n", kind.name, kind.summary));
        for (role, k) in std::iter::once(("knob", &kind.knob)).chain(kind.keys.iter().map(|k| ("key", k))) {
            let default = if k.default.is_empty() { "required" } else { k.default };
            out.push_str(&format!("    {role:4} {:<13} {:<9} {}\n", k.name, default, k.doc));
        }
        out.push('\n');
    }
    out.push_str(
        "Spec syntax: KIND[:key=value,...]; the knob may be a sweep: `a|b|c` or, for numbers, `from..to[..step]`.\n",
    );
    out
}

fn value_in_level_units(v: Value) -> f64 {
    match v {
        Value::Duration(d) => d.as_secs_f64(),
        Value::Number(x) => x,
        Value::Count(n) => n as f64,
        Value::Bool(b) => f64::from(u8::from(b)),
    }
}

impl std::str::FromStr for DetectorSpec {
    type Err = SpecError;
    fn from_str(s: &str) -> Result<DetectorSpec, SpecError> {
        DetectorSpec::parse(s)
    }
}

/// In TOML a spec is either the command-line string or a table with `kind` and the same
/// keys, where the knob may be an array (a sweep):
/// `{ kind = "phi", threshold = [4, 8, 12], pause = "2s" }`.
impl<'de> serde::Deserialize<'de> for DetectorSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<DetectorSpec, D::Error> {
        use serde::de::Error;
        let value = toml::Value::deserialize(d)?;
        match value {
            toml::Value::String(text) => DetectorSpec::parse(&text).map_err(D::Error::custom),
            toml::Value::Table(table) => {
                let kind = match table.get("kind") {
                    Some(toml::Value::String(k)) => k.clone(),
                    _ => return Err(D::Error::custom("a detector table needs `kind = \"...\"`")),
                };
                let mut pairs = Vec::new();
                for (k, v) in table.iter().filter(|(k, _)| k.as_str() != "kind") {
                    let text = match v {
                        toml::Value::Array(items) => items
                            .iter()
                            .map(scalar_text)
                            .collect::<Result<Vec<_>, _>>()
                            .map_err(|e| D::Error::custom(format!("`{k}`: {e}")))?
                            .join("|"),
                        other => scalar_text(other).map_err(|e| D::Error::custom(format!("`{k}`: {e}")))?,
                    };
                    pairs.push((k.clone(), text));
                }
                DetectorSpec::from_pairs(&kind, &pairs).map_err(D::Error::custom)
            }
            _ => Err(D::Error::custom("a detector is a spec string or a table with `kind`")),
        }
    }
}

fn scalar_text(v: &toml::Value) -> Result<String, String> {
    match v {
        toml::Value::String(s) => Ok(s.clone()),
        toml::Value::Integer(i) => Ok(i.to_string()),
        toml::Value::Float(x) => Ok(x.to_string()),
        toml::Value::Boolean(b) => Ok(b.to_string()),
        _ => Err("expected a string, number or boolean".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_of_every_kind_parse() {
        for info in KINDS {
            for k in info.keys.iter().chain([&info.knob]) {
                if !k.default.is_empty() {
                    parse_value(k, k.default).unwrap();
                }
            }
        }
    }

    #[test]
    fn labels_are_canonical() {
        let a = DetectorSpec::parse("phi:pause=2s,threshold=8,window=1000").unwrap();
        let b = DetectorSpec::parse(" phi : threshold = 8.0 , pause = 2000ms ").unwrap();
        assert_eq!(a.points()[0].label, "phi:threshold=8,pause=2s");
        assert_eq!(a.points(), b.points());
        let f = DetectorSpec::parse("fixed:timeout=300ms").unwrap();
        assert_eq!(f.points()[0].label, "fixed:timeout=300ms");
        assert_eq!(f.points()[0].threshold, 0.3);
        let d = DetectorSpec::parse("deadline:interval=3s,pause=10s").unwrap();
        assert_eq!(d.points()[0].threshold, 13.0);
    }

    #[test]
    fn sweeps() {
        let s = DetectorSpec::parse("phi:threshold=1..16").unwrap();
        assert_eq!(s.points().len(), 16);
        assert_eq!(s.points()[15].threshold, 16.0);
        let s = DetectorSpec::parse("fixed:timeout=100ms|1s").unwrap();
        assert_eq!(
            s.points().iter().map(|p| p.label.as_str()).collect::<Vec<_>>(),
            ["fixed:timeout=100ms", "fixed:timeout=1s"]
        );
    }

    #[test]
    fn errors_name_the_problem() {
        let err = |s: &str| DetectorSpec::parse(s).unwrap_err().to_string();
        assert!(err("foo:x=1").contains("unknown detector kind `foo`"));
        assert!(err("phi:thresh=8").contains("`phi` has no key `thresh`"));
        assert!(err("phi:threshold=eight").contains("threshold=eight"));
        assert!(err("phi:min_std=-1s").contains("negative"));
        assert!(err("fixed").contains("needs `timeout`"));
        assert!(err("phi:threshold=0").contains("greater than zero"));
        assert!(err("phi:window=0").contains("window"));
        assert!(err("phi:window").contains("not `key=value`"));
        assert!(err("phi:threshold=1,threshold=2").contains("twice"));
    }

    #[test]
    fn toml_tables_and_strings() {
        #[derive(serde::Deserialize)]
        struct File {
            detectors: Vec<DetectorSpec>,
        }
        let f: File = toml::from_str(
            r#"detectors = ["fixed:timeout=250ms", { kind = "phi", threshold = [4, 8.5], pause = "2s" }]"#,
        )
        .unwrap();
        assert_eq!(f.detectors[1].points()[1].label, "phi:threshold=8.5,pause=2s");
        let e = toml::from_str::<File>(r#"detectors = [{ kind = "phi", treshold = 3 }]"#).err().unwrap();
        assert!(e.to_string().contains("treshold"), "{e}");
    }
}
