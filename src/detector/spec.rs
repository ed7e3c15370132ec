//! Detector specs: `KIND[:key=value,...]` on the command line, the same keys in TOML.
//!
//! A spec names a detector family, its parameters and the values of its one knob (the
//! threshold, or a timeout), which may be a sweep: `phi:threshold=1..16`,
//! `fixed:timeout=100ms|250ms|1s`. Each value of the knob is a [`DetectorPoint`] with a
//! canonical label (`phi:threshold=8,pause=2s`): the knob first, then every key that differs
//! from its default, in a fixed order. That label names the configuration in every output.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use super::bertier::{Bertier, BertierConfig};
use super::chen::Chen;
use super::empirical::Empirical;
use super::eventually_perfect::{EventuallyPerfect, EventuallyPerfectConfig};
use super::two_windows::TwoWindows;
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
    /// The default as written in a spec; empty if the key is required (for a non-knob key,
    /// an engine may supply it: the simulator fills `interval` from the sender's schedule).
    pub default: &'static str,
    pub doc: &'static str,
    kind: ValueKind,
}

/// A detector family.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct KindInfo {
    pub name: &'static str,
    pub summary: &'static str,
    /// The swept key; its value gives the threshold in level units. `None` for adaptive
    /// detectors with a 0/1 level and no knob (one point on a trade-off chart).
    pub knob: Option<KeyInfo>,
    pub keys: &'static [KeyInfo],
}

const fn key(name: &'static str, default: &'static str, kind: ValueKind, doc: &'static str) -> KeyInfo {
    KeyInfo { name, default, doc, kind }
}

use ValueKind::{Bool, Count, Duration, Number};

/// Every spec also takes `check_every=DUR`: suspicion is noticed only at the first check
/// tick (multiples of DUR from time 0) at or after the crossing, as real systems do.
pub const CHECK_EVERY: KeyInfo =
    key("check_every", "0", Duration, "notice suspicion only at ticks of this period (0: at the crossing)");

const INTERVAL: KeyInfo = key("interval", "", Duration, "the sender's heartbeat interval η (sim: filled in)");

pub const KINDS: &[KindInfo] = &[
    KindInfo {
        name: "fixed",
        summary: "fixed timeout: suspect when the silence since the last heartbeat reaches it",
        knob: Some(key("timeout", "", Duration, "silence that triggers suspicion")),
        keys: &[],
    },
    KindInfo {
        name: "deadline",
        summary: "Akka/Pekko DeadlineFailureDetector: suspect after interval + acceptable pause of silence",
        knob: Some(key("pause", "3s", Duration, "acceptable heartbeat pause")),
        keys: &[key("interval", "1s", Duration, "heartbeat interval")],
    },
    KindInfo {
        name: "phi",
        summary: "φ accrual, normal distribution, exactly as Akka/Pekko (and Hazelcast) compute it",
        knob: Some(key("threshold", "8", Number, "φ threshold")),
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
        knob: Some(key("threshold", "8", Number, "phi_convict_threshold")),
        keys: &[
            key("window", "1000", Count, "intervals kept"),
            key("initial", "2s", Duration, "interval recorded at the first heartbeat"),
            key("max_interval", "2s", Duration, "longer intervals are not recorded"),
            key("pause_guard", "5s", Duration, "local pause guard (0 disables)"),
        ],
    },
    KindInfo {
        name: "chen",
        summary: "Chen's NFD-E: estimated arrival (by sequence number) + safety margin α; needs seq",
        knob: Some(key("alpha", "200ms", Duration, "safety margin α (level: now − EA)")),
        keys: &[INTERVAL, key("window", "1000", Count, "heartbeats averaged for EA")],
    },
    KindInfo {
        name: "bertier",
        summary: "Bertier et al.: Chen's EA + Jacobson-style adaptive margin; 0/1 level, no knob; needs seq",
        knob: None,
        keys: &[
            INTERVAL,
            key("window", "1000", Count, "heartbeats averaged for EA"),
            key("beta", "1", Number, "weight of the delay estimate in the margin"),
            key("phi", "4", Number, "weight of the variation estimate in the margin"),
            key("gamma", "0.1", Number, "gain of the estimators, in (0, 1]"),
        ],
    },
    KindInfo {
        name: "2w",
        summary: "2W-FD: τ = max(EA over a small window, EA over a large window) + α; needs seq",
        knob: Some(key("alpha", "200ms", Duration, "safety margin α (level: now − max EA)")),
        keys: &[
            INTERVAL,
            key("small", "1", Count, "small window (reacts fast)"),
            key("large", "1000", Count, "large window (stable)"),
        ],
    },
    KindInfo {
        name: "empirical",
        summary: "Satzger et al.: empirical CDF of the inter-arrival times at the current silence",
        knob: Some(key("threshold", "0.99", Number, "level in (0, 1]")),
        keys: &[key("window", "1000", Count, "intervals kept")],
    },
    KindInfo {
        name: "eventually-perfect",
        summary: "◇P: a timeout that grows each time a suspicion proves false; 0/1 level, no knob",
        knob: None,
        keys: &[
            key("initial", "1s", Duration, "first timeout"),
            key("factor", "2", Number, "after a false suspicion: timeout × factor + step (factor ≥ 1)"),
            key("step", "0", Duration, "added after a false suspicion"),
        ],
    },
];

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
    fn number(self) -> f64 {
        match self {
            Value::Number(x) => x,
            _ => unreachable!("key declared as a number"),
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
    /// The value in the level's units: seconds for durations.
    fn level_units(self) -> f64 {
        match self {
            Value::Duration(d) => d.as_secs_f64(),
            Value::Number(x) => x,
            Value::Count(n) => n as f64,
            Value::Bool(b) => f64::from(u8::from(b)),
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
        let form = "a range is `from..to` or `from..to..step`, with decimal numbers such as `0.5..16..0.5`";
        let parts: Vec<Decimal> =
            text.split("..").map(|p| Decimal::parse(p.trim()).ok_or_else(|| bad(form))).collect::<Result<_, _>>()?;
        let (from, to, step) = match parts[..] {
            [a, b] => (a, b, Decimal { digits: 1, scale: 0 }),
            [a, b, s] => (a, b, s),
            _ => return Err(bad(form)),
        };
        // Exact decimal arithmetic: every bound on the finest of the three scales.
        let scale = from.scale.max(to.scale).max(step.scale);
        let (from_units, to_units, step_units) = (from.at(scale), to.at(scale), step.at(scale));
        let (Some(a), Some(b), Some(s)) = (from_units, to_units, step_units) else {
            return Err(bad("a range's numbers have too many digits"));
        };
        if s == 0 || b < a {
            return Err(bad("a range needs from ≤ to and a positive step"));
        }
        if (b - a) % s != 0 {
            return Err(bad("the step does not divide to − from: the range would not end at `to`"));
        }
        let count = (b - a) / s;
        if count >= 10_000 {
            return Err(bad("a range has at most 10000 points"));
        }
        // Each value is the decimal the user's arithmetic gives, read as the nearest f64
        // (so `0.1..0.5..0.1` gives 0.3, not 0.30000000000000004).
        return (0..=count)
            .map(|i| {
                let value = Decimal { digits: a + s * i, scale }.to_string();
                parse_value(info, &value)
            })
            .collect();
    }
    text.split('|').map(|part| parse_value(info, part)).collect()
}

/// A non-negative decimal number, exactly: `digits` · 10^−`scale`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Decimal {
    digits: u128,
    scale: u32,
}

impl Decimal {
    /// `12`, `0.5`, `.5`, `16.`: digits with at most one point (at most 30 digits).
    fn parse(text: &str) -> Option<Decimal> {
        let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if (whole.is_empty() && frac.is_empty())
            || !all_digits(whole)
            || !all_digits(frac)
            || whole.len() + frac.len() > 30
        {
            return None;
        }
        let digits = format!("{whole}{frac}").parse().ok()?;
        Some(Decimal { digits, scale: frac.len() as u32 })
    }

    /// The number in units of 10^−`scale` (`scale` ≥ its own); `None` on overflow.
    fn at(self, scale: u32) -> Option<u128> {
        self.digits.checked_mul(10u128.checked_pow(scale - self.scale)?)
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = format!("{:0>width$}", self.digits, width = self.scale as usize + 1);
        let (whole, frac) = text.split_at(text.len() - self.scale as usize);
        if frac.is_empty() { write!(f, "{whole}") } else { write!(f, "{whole}.{frac}") }
    }
}

/// A detector a user implements outside the crate (see `examples/custom_detector.rs`).
pub type BuildFn = dyn Fn() -> Box<dyn Detector> + Send + Sync;

#[derive(Clone)]
enum Family {
    Builtin(&'static KindInfo),
    Custom { knob: String, build: Arc<BuildFn> },
}

/// A detector family with its parameters and the values of its knob.
#[derive(Clone)]
pub struct DetectorSpec {
    /// Label head: the kind, the preset or the custom detector's name.
    head: String,
    family: Family,
    /// Every key's value that is known (defaults included; required keys may be missing).
    params: BTreeMap<&'static str, Value>,
    /// What the label leaves out: the kind's defaults, or the preset's values.
    implied: BTreeMap<&'static str, Value>,
    knob: Vec<Value>,
    check_every: Option<Nanos>,
}

impl fmt::Debug for DetectorSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let labels: Vec<String> = self.points().into_iter().map(|p| p.label).collect();
        f.debug_tuple("DetectorSpec").field(&labels).finish()
    }
}

/// One configuration of a sweep: a spec with one value of its knob.
#[derive(Clone, Debug, PartialEq)]
pub struct DetectorPoint {
    /// Canonical label, e.g. `phi:threshold=8,pause=2s` or `akka-cluster:threshold=12`.
    pub label: String,
    /// The detector family (`phi`, …; a custom detector's name).
    pub kind: String,
    /// The knob's name (`threshold`, `timeout`, …); `None` for a kind without one.
    pub knob: Option<String>,
    /// The knob's value in the level's units (seconds for durations); 1 for 0/1 detectors.
    pub threshold: f64,
    /// Suspicion is noticed only at ticks of this period.
    pub check_every: Option<Nanos>,
}

impl DetectorSpec {
    /// Parses `KIND[:key=value,...]` (or `PRESET[:key=value,...]`).
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

    /// Builds a spec from a kind (or preset) and `key = value` texts (the TOML form converts
    /// to this).
    pub fn from_pairs(name: &str, pairs: &[(String, String)]) -> Result<DetectorSpec, SpecError> {
        let preset = PRESETS.iter().find(|p| p.name == name);
        let kind_name = preset.map_or(name, |p| p.kind);
        let info = KINDS.iter().find(|k| k.name == kind_name).ok_or_else(|| SpecError::UnknownKind {
            kind: name.to_string(),
            known: KINDS.iter().map(|k| k.name).chain(PRESETS.iter().map(|p| p.name)).collect::<Vec<_>>().join(", "),
        })?;
        let all_keys = || info.knob.iter().chain(info.keys).chain([&CHECK_EVERY]);
        let find_key = |k: &str| {
            all_keys().find(|i| i.name == k).ok_or_else(|| SpecError::UnknownKey {
                kind: name.to_string(),
                key: k.to_string(),
                known: all_keys().map(|i| i.name).collect::<Vec<_>>().join(", "),
            })
        };
        // What the spec starts from: the kind's defaults, overlaid by the preset's values.
        let mut implied: BTreeMap<&'static str, Value> = BTreeMap::new();
        for k in all_keys().filter(|k| !k.default.is_empty()) {
            // Cannot fail: the defaults in KINDS are valid (tested).
            implied.insert(k.name, parse_value(k, k.default).expect("valid default"));
        }
        for (k, v) in preset.map_or(&[][..], |p| p.values) {
            // Cannot fail: preset keys and values are valid (tested).
            let k = find_key(k).expect("preset keys exist");
            implied.insert(k.name, parse_value(k, v).expect("valid preset value"));
        }
        let mut params = implied.clone();
        let mut knob = None;
        let mut given = std::collections::BTreeSet::new();
        for (k, v) in pairs {
            let key_info = find_key(k)?;
            if !given.insert(key_info.name) {
                return Err(SpecError::Duplicate { key: k.clone() });
            }
            if Some(key_info) == info.knob.as_ref() {
                knob = Some(parse_knob(key_info, v)?);
            } else {
                params.insert(key_info.name, parse_value(key_info, v)?);
            }
        }
        let knob = match (info.knob, knob) {
            (None, _) => Vec::new(),
            (Some(_), Some(values)) => values,
            (Some(k), None) => match params.get(k.name) {
                Some(&v) => vec![v],
                None => {
                    return Err(SpecError::Missing {
                        kind: name.to_string(),
                        key: k.name.to_string(),
                        example: format!("{name}:{}=500ms", k.name),
                    });
                }
            },
        };
        if let Some(k) = info.knob {
            params.remove(k.name);
            implied.remove(k.name);
        }
        let check_every = params.remove(CHECK_EVERY.name).map(Value::duration).filter(|d| *d > Nanos::ZERO);
        let spec =
            DetectorSpec { head: name.to_string(), family: Family::Builtin(info), params, implied, knob, check_every };
        spec.validate()?;
        Ok(spec)
    }

    /// A spec for a detector implemented outside fdlab: `build` makes a fresh instance, and
    /// `thresholds` are the values of its knob (named `knob` in labels). Checked as a
    /// built-in spec is: a name and a knob name that labels can carry, at least one
    /// threshold, every threshold finite and greater than zero.
    pub fn custom(
        name: &str,
        knob: &str,
        thresholds: &[f64],
        build: impl Fn() -> Box<dyn Detector> + Send + Sync + 'static,
    ) -> Result<DetectorSpec, SpecError> {
        let bad = |key: &str, value: String, reason: &str| SpecError::BadValue {
            key: key.to_string(),
            value,
            reason: reason.to_string(),
        };
        let plain = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_alphanumeric() || "-_.".contains(c));
        if !plain(name) {
            return Err(bad("name", name.to_string(), "a custom detector's name is letters, digits, `-`, `_` or `.`"));
        }
        if !plain(knob) {
            return Err(bad("knob", knob.to_string(), "a knob's name is letters, digits, `-`, `_` or `.`"));
        }
        if thresholds.is_empty() {
            return Err(bad(knob, String::new(), "give at least one threshold"));
        }
        if let Some(t) = thresholds.iter().find(|t| !(t.is_finite() && **t > 0.0)) {
            return Err(bad(knob, t.to_string(), "the threshold must be finite and greater than zero"));
        }
        Ok(DetectorSpec {
            head: name.to_string(),
            family: Family::Custom { knob: knob.to_string(), build: Arc::new(build) },
            params: BTreeMap::new(),
            implied: BTreeMap::new(),
            knob: thresholds.iter().map(|&t| Value::Number(t)).collect(),
            check_every: None,
        })
    }

    fn validate(&self) -> Result<(), SpecError> {
        let bad = |key: &str, value: String, reason: &str| SpecError::BadValue {
            key: key.to_string(),
            value,
            reason: reason.to_string(),
        };
        for (&k, &v) in &self.params {
            let reason = match k {
                "window" | "large" | "small" if !(1..=super::window::MAX_CAPACITY).contains(&v.count()) => {
                    "a window holds 1 to 65536 heartbeats"
                }
                "min_std" | "first" | "interval" | "initial" if v.duration() == Nanos::ZERO => {
                    "must be greater than zero"
                }
                "gamma" if !(v.number() > 0.0 && v.number() <= 1.0) => "must be in (0, 1]",
                "factor" if v.number() < 1.0 => "must be ≥ 1 (the timeout never shrinks)",
                _ => continue,
            };
            return Err(bad(k, v.to_string(), reason));
        }
        if let Family::Builtin(info) = self.family
            && let Some(knob) = info.knob
        {
            for &v in &self.knob {
                let threshold = self.threshold_offset() + v.level_units();
                if !(threshold.is_finite() && threshold > 0.0) {
                    let reason = format!("the {} must be greater than zero", knob.name.replace('_', " "));
                    return Err(bad(knob.name, v.to_string(), &reason));
                }
                if info.name == "empirical" && threshold > 1.0 {
                    return Err(bad(knob.name, v.to_string(), "the empirical level is a fraction: at most 1"));
                }
            }
        }
        Ok(())
    }

    /// Roughly what one instance of this detector holds, in bytes (its windows), for
    /// estimating a run's memory before it starts.
    pub fn state_bytes(&self) -> usize {
        let slots: usize = ["window", "large", "small"]
            .iter()
            .filter_map(|k| match self.params.get(k) {
                Some(Value::Count(n)) => Some(*n),
                _ => None,
            })
            .sum();
        512 + 24 * slots
    }

    /// The family name (`phi`, `fixed`, …); a preset's underlying kind.
    pub fn kind(&self) -> &str {
        match &self.family {
            Family::Builtin(info) => info.name,
            Family::Custom { .. } => &self.head,
        }
    }

    /// Required keys that are still missing (an engine may fill them with [`Self::fill`]).
    pub fn missing(&self) -> Vec<&'static str> {
        match self.family {
            Family::Builtin(info) => {
                info.keys.iter().filter(|k| !self.params.contains_key(k.name)).map(|k| k.name).collect()
            }
            Family::Custom { .. } => Vec::new(),
        }
    }

    /// Sets a key the user left out (e.g. the simulator's heartbeat interval for `chen`).
    /// Does nothing if the kind has no such key or the user gave one.
    pub fn fill(&mut self, key: &str, value: &str) -> Result<(), SpecError> {
        if let Family::Builtin(info) = self.family
            && let Some(k) = info.keys.iter().find(|k| k.name == key)
            && !self.params.contains_key(k.name)
        {
            self.params.insert(k.name, parse_value(k, value)?);
            // Filled in, not chosen by the user: the label leaves it out.
            self.implied.insert(k.name, parse_value(k, value)?);
            self.validate()?;
        }
        Ok(())
    }

    /// An error if a required key is missing.
    pub fn require_complete(&self) -> Result<(), SpecError> {
        match self.missing().first() {
            None => Ok(()),
            Some(key) => Err(SpecError::Missing {
                kind: self.head.clone(),
                key: key.to_string(),
                example: format!("{}:{key}=100ms", self.head),
            }),
        }
    }

    /// What deadline adds to its knob: the heartbeat interval (timeout = interval + pause).
    fn threshold_offset(&self) -> f64 {
        match self.kind() {
            "deadline" => self.params["interval"].duration().as_secs_f64(),
            _ => 0.0,
        }
    }

    /// The configurations of this spec, one per value of the knob, in the order given.
    pub fn points(&self) -> Vec<DetectorPoint> {
        let mut others: String = self
            .params
            .iter()
            .filter(|(k, v)| self.implied.get(*k) != Some(v))
            .map(|(k, v)| format!(",{k}={v}"))
            .collect();
        let implied_check = self.implied.get(CHECK_EVERY.name).map(|v| v.duration()).filter(|d| *d > Nanos::ZERO);
        if self.check_every != implied_check {
            others.push_str(&format!(",check_every={}", self.check_every.unwrap_or(Nanos::ZERO)));
        }
        let knob_name = match &self.family {
            Family::Builtin(info) => info.knob.map(|k| k.name),
            Family::Custom { knob, .. } => Some(knob.as_str()),
        };
        let point = |knob_text: Option<String>, threshold: f64| {
            let mut label = self.head.clone();
            let body = knob_text.map(|t| format!(",{t}")).unwrap_or_default() + &others;
            if !body.is_empty() {
                label.push(':');
                label.push_str(&body[1..]);
            }
            let (kind, knob) = (self.kind().to_string(), knob_name.map(str::to_string));
            DetectorPoint { label, kind, knob, threshold, check_every: self.check_every }
        };
        match knob_name {
            None => vec![point(None, 1.0)],
            Some(name) => self
                .knob
                .iter()
                .map(|&v| point(Some(format!("{name}={v}")), self.threshold_offset() + v.level_units()))
                .collect(),
        }
    }

    /// A fresh detector with this spec's parameters (the threshold is not part of a
    /// detector's configuration; see the `Detector` trait).
    ///
    /// # Panics
    /// If a required key is missing: engines call [`Self::require_complete`] first.
    pub fn build(&self) -> Box<dyn Detector> {
        let info = match &self.family {
            Family::Custom { build, .. } => return build(),
            Family::Builtin(info) => info,
        };
        let p = |k: &str| {
            *self
                .params
                .get(k)
                .unwrap_or_else(|| panic!("`{}` built without `{k}`: call require_complete first", self.head))
        };
        match info.name {
            "fixed" | "deadline" => Box::new(FixedTimeout::new()),
            "phi" => Box::new(Phi::new(PhiConfig {
                window: p("window").count(),
                min_std: p("min_std").duration(),
                pause: p("pause").duration(),
                first: p("first").duration(),
                exact: p("exact").bool(),
            })),
            "phi-exp" => Box::new(PhiExp::new(PhiExpConfig {
                window: p("window").count(),
                initial: p("initial").duration(),
                max_interval: p("max_interval").duration(),
                pause_guard: p("pause_guard").duration(),
            })),
            "chen" => Box::new(Chen::new(p("interval").duration(), p("window").count())),
            "bertier" => Box::new(Bertier::new(BertierConfig {
                interval: p("interval").duration(),
                window: p("window").count(),
                beta: p("beta").number(),
                phi: p("phi").number(),
                gamma: p("gamma").number(),
            })),
            "2w" => Box::new(TwoWindows::new(p("interval").duration(), p("small").count(), p("large").count())),
            "empirical" => Box::new(Empirical::new(p("window").count())),
            "eventually-perfect" => Box::new(EventuallyPerfect::new(EventuallyPerfectConfig {
                initial: p("initial").duration(),
                factor: p("factor").number(),
                step: p("step").duration(),
            })),
            other => unreachable!("kind {other} is in KINDS but not built"),
        }
    }

    /// Whether the detector needs sequence numbers.
    pub fn needs_seq(&self) -> bool {
        match &self.family {
            Family::Builtin(info) => matches!(info.name, "chen" | "bertier" | "2w"),
            Family::Custom { build, .. } => build().needs_seq(),
        }
    }
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
            for k in info.keys.iter().chain(info.knob.iter()) {
                if !k.default.is_empty() {
                    parse_value(k, k.default).unwrap();
                }
            }
        }
        for preset in PRESETS {
            let spec = DetectorSpec::parse(preset.name).unwrap();
            assert_eq!(spec.points()[0].label.split(':').next(), Some(preset.name));
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
        // Decimal arithmetic: the values the user wrote, not float sums.
        let s = DetectorSpec::parse("phi:threshold=0.1..0.5..0.1").unwrap();
        let labels: Vec<String> = s.points().into_iter().map(|p| p.label).collect();
        assert_eq!(
            labels,
            ["phi:threshold=0.1", "phi:threshold=0.2", "phi:threshold=0.3", "phi:threshold=0.4", "phi:threshold=0.5"]
        );
        assert_eq!(s.points()[2].threshold, 0.3);
        let s = DetectorSpec::parse("phi:threshold=0.5..16..0.25").unwrap();
        assert_eq!(s.points().len(), 63);
        assert_eq!(s.points()[62].label, "phi:threshold=16");
        assert_eq!(s.points()[1].label, "phi:threshold=0.75");
        let s = DetectorSpec::parse("empirical:threshold=0.99..0.999..0.001").unwrap();
        assert_eq!(s.points()[5].label, "empirical:threshold=0.995");
        assert_eq!(DetectorSpec::parse("phi:threshold=3..3").unwrap().points().len(), 1);
        let err = |s: &str| DetectorSpec::parse(s).unwrap_err().to_string();
        assert!(err("phi:threshold=1..2..0.3").contains("does not divide"), "{}", err("phi:threshold=1..2..0.3"));
        assert!(err("phi:threshold=0.5..16").contains("does not divide"));
        assert!(err("phi:threshold=2..1").contains("from ≤ to"));
        assert!(err("phi:threshold=1..2..0").contains("positive step"));
        assert!(err("phi:threshold=1e1..2").contains("decimal numbers"));
        assert!(err("phi:threshold=1..20000").contains("at most 10000"));
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
        assert!(err("phi:threshold=0").contains("the threshold must be greater than zero"));
        assert!(err("fixed:timeout=0").contains("the timeout must be greater than zero"), "{}", err("fixed:timeout=0"));
        assert!(err("phi:window=0").contains("window"));
        assert!(err("phi:window").contains("not `key=value`"));
        assert!(err("phi:threshold=1,threshold=2").contains("twice"));
    }

    #[test]
    fn custom_specs_are_checked_like_built_in_ones() {
        let build = || Box::new(crate::detector::fixed::FixedTimeout::new()) as Box<dyn Detector>;
        let ok = DetectorSpec::custom("mine", "k", &[0.5, 2.0], build).unwrap();
        assert_eq!(ok.points()[1].label, "mine:k=2");
        for (name, knob, thresholds, says) in [
            ("mine", "k", &[][..], "at least one threshold"),
            ("mine", "k", &[f64::NAN][..], "finite and greater than zero"),
            ("mine", "k", &[1.0, 0.0][..], "finite and greater than zero"),
            ("mine", "k", &[-1.0][..], "finite and greater than zero"),
            ("mine", "k", &[f64::INFINITY][..], "finite and greater than zero"),
            ("", "k", &[1.0][..], "name"),
            ("a,b", "k", &[1.0][..], "name"),
            ("mine", "k=1", &[1.0][..], "knob"),
        ] {
            let err = DetectorSpec::custom(name, knob, thresholds, build).expect_err("refused").to_string();
            assert!(err.contains(says), "{name} {knob} {thresholds:?}: {err}");
        }
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
