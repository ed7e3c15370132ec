//! Detector specs: `KIND[:key=value,...]` on the command line, the same keys in TOML.
//!
//! A spec names a detector family, its parameters and the values of its one knob (the
//! threshold, or a timeout), which may be a sweep: `phi:threshold=1..16`,
//! `fixed:timeout=100ms|250ms|1s`. Each value of the knob is a [`DetectorPoint`] with a
//! canonical label (`phi:threshold=8,pause=2s`): the knob first, then every key that differs
//! from its default, in a fixed order. That label names the configuration in every output.
//!
//! Neighbours: the kinds, their keys and presets come from [`catalog`]; values and sweeps
//! are parsed by `value`. Nothing here names a particular kind.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

use super::Detector;
use super::catalog;
use super::kind::{CHECK_EVERY, KindInfo, Params};
use super::value::{Rejected, Value};
use crate::time::Nanos;

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
    #[error(
        "the label `{label}` is {chars} characters long; a configuration's label names its result files, \
         which allow {MAX_LABEL_CHARS} at most (give fewer or shorter parameters, or a custom detector a shorter name)"
    )]
    LongLabel { label: String, chars: usize },
}

/// The longest label a configuration may have, in characters: with `.hgrm` it names a file,
/// and file systems allow 255 bytes (a label's file name has a byte per character).
pub const MAX_LABEL_CHARS: usize = 240;

/// The error for a rejected value of `key`.
fn bad_value(key: &'static str) -> impl Fn(Rejected) -> SpecError {
    move |Rejected { value, reason }| SpecError::BadValue { key: key.to_string(), value, reason }
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
        let preset = catalog::preset(name);
        let kind_name = preset.map_or(name, |p| p.kind);
        let info = catalog::kind(kind_name).ok_or_else(|| SpecError::UnknownKind {
            kind: name.to_string(),
            known: catalog::names().collect::<Vec<_>>().join(", "),
        })?;
        let find_key = |k: &str| {
            info.all_keys().find(|i| i.name == k).ok_or_else(|| SpecError::UnknownKey {
                kind: name.to_string(),
                key: k.to_string(),
                known: info.all_keys().map(|i| i.name).collect::<Vec<_>>().join(", "),
            })
        };
        // What the spec starts from: the kind's defaults, overlaid by the preset's values.
        let mut implied: BTreeMap<&'static str, Value> = BTreeMap::new();
        for k in info.all_keys().filter(|k| !k.default.is_empty()) {
            // Cannot fail: every declared default is valid (tested in `catalog`).
            implied.insert(k.name, k.parse(k.default).expect("valid default"));
        }
        for (k, v) in preset.map_or(&[][..], |p| p.values) {
            // Cannot fail: preset keys and values are valid (tested in `catalog`).
            let k = find_key(k).expect("preset keys exist");
            implied.insert(k.name, k.parse(v).expect("valid preset value"));
        }
        let mut params = implied.clone();
        let mut knob = None;
        let mut given = BTreeSet::new();
        for (k, v) in pairs {
            let key_info = find_key(k)?;
            if !given.insert(key_info.name) {
                return Err(SpecError::Duplicate { key: k.clone() });
            }
            if info.knob.is_some_and(|knob| knob.name == key_info.name) {
                knob = Some(key_info.kind.parse_sweep(v).map_err(bad_value(key_info.name))?);
            } else {
                params.insert(key_info.name, key_info.parse(v).map_err(bad_value(key_info.name))?);
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
        // A custom spec's thresholds were checked when it was made; it has no keys.
        let Family::Builtin(info) = self.family else { return Ok(()) };
        // In the order of the keys' names, so that the first error does not depend on the
        // order the user wrote them in.
        for (&k, &v) in &self.params {
            // Cannot fail: `params` holds only the kind's declared keys.
            let key = info.keys.iter().find(|key| key.name == k).expect("a declared key");
            if let Err(reason) = key.check_range(v) {
                return Err(bad(k, v.to_string(), reason));
            }
        }
        if let Some(knob) = info.knob {
            for &v in &self.knob {
                let threshold = self.threshold_offset() + v.level_units();
                if !(threshold.is_finite() && threshold > 0.0) {
                    let reason = format!("the {} must be greater than zero", knob.name.replace('_', " "));
                    return Err(bad(knob.name, v.to_string(), &reason));
                }
                if let Some((max, reason)) = info.threshold_at_most
                    && threshold > max
                {
                    return Err(bad(knob.name, v.to_string(), reason));
                }
            }
        }
        Ok(())
    }

    /// Roughly what one instance of this detector holds, in bytes (its windows), for
    /// estimating a run's memory before it starts.
    pub fn state_bytes(&self) -> usize {
        let slots: usize = match self.family {
            Family::Builtin(info) => info
                .keys
                .iter()
                .filter(|k| k.is_window())
                .filter_map(|k| self.params.get(k.name))
                .map(|v| v.count())
                .sum(),
            Family::Custom { .. } => 0,
        };
        512 + 24 * slots
    }

    /// What one configuration costs per heartbeat, in quarters of a φ configuration's
    /// (the kind's declared cost; 4 for a custom detector).
    pub(crate) fn cost(&self) -> usize {
        match &self.family {
            Family::Builtin(info) => info.cost,
            Family::Custom { .. } => 4,
        }
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
            let value = k.parse(value).map_err(bad_value(k.name))?;
            self.params.insert(k.name, value);
            // Filled in, not chosen by the user: the label leaves it out.
            self.implied.insert(k.name, value);
            self.validate()?;
        }
        Ok(())
    }

    /// An error if a required key is missing, or a configuration's label is too long to name
    /// its files ([`MAX_LABEL_CHARS`]).
    pub fn require_complete(&self) -> Result<(), SpecError> {
        if let Some(key) = self.missing().first() {
            return Err(SpecError::Missing {
                kind: self.head.clone(),
                key: key.to_string(),
                example: format!("{}:{key}=100ms", self.head),
            });
        }
        for point in self.points() {
            let chars = point.label.chars().count();
            if chars > MAX_LABEL_CHARS {
                return Err(SpecError::LongLabel { label: crate::text::shown_name(&point.label).into(), chars });
            }
        }
        Ok(())
    }

    /// What the kind adds to its knob's value to make the threshold (deadline: the
    /// heartbeat interval, so that timeout = interval + pause).
    fn threshold_offset(&self) -> f64 {
        match self.family {
            Family::Builtin(info) => {
                info.threshold_plus.and_then(|k| self.params.get(k)).map_or(0.0, |v| v.level_units())
            }
            Family::Custom { .. } => 0.0,
        }
    }

    /// The name of the swept key (`threshold`, `timeout`, `alpha`, a custom detector's
    /// knob), as labels write it; `None` for kinds without a knob (`bertier`, ◇P).
    pub fn knob(&self) -> Option<&str> {
        match &self.family {
            Family::Builtin(info) => info.knob.map(|k| k.name),
            Family::Custom { knob, .. } => Some(knob),
        }
    }

    /// The configurations of this spec, one per value of the knob, in the order given.
    /// Each configuration of the sweep as a spec of its own, in the order of [`points`]
    /// (the spec itself when it has one).
    ///
    /// [`points`]: DetectorSpec::points
    pub fn configurations(&self) -> Vec<DetectorSpec> {
        if self.knob.len() <= 1 {
            return vec![self.clone()];
        }
        self.knob.iter().map(|v| DetectorSpec { knob: vec![*v], ..self.clone() }).collect()
    }

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
        let point = |knob_text: Option<String>, threshold: f64| {
            let mut label = self.head.clone();
            let body = knob_text.map(|t| format!(",{t}")).unwrap_or_default() + &others;
            if !body.is_empty() {
                label.push(':');
                label.push_str(&body[1..]);
            }
            let (kind, knob) = (self.kind().to_string(), self.knob().map(str::to_string));
            DetectorPoint { label, kind, knob, threshold, check_every: self.check_every }
        };
        match self.knob() {
            None => vec![point(None, 1.0)],
            Some(name) => self
                .knob
                .iter()
                .map(|&v| point(Some(format!("{name}={v}")), self.threshold_offset() + v.level_units()))
                .collect(),
        }
    }

    /// Each point's whole configuration, whatever its label says, in the order of
    /// [`Self::points`]: the family, every parameter (defaults, a preset's values and filled-in
    /// keys included), the knob's value and the check period. Points with equal settings are
    /// one detector (a preset's name only labels it).
    fn settings(&self) -> Vec<String> {
        let family = match &self.family {
            Family::Builtin(info) => info.name.to_string(),
            Family::Custom { .. } => self.head.clone(),
        };
        let params: String = self.params.iter().map(|(k, v)| format!(",{k}={v}")).collect();
        let check = format!(",check_every={}", self.check_every.unwrap_or(Nanos::ZERO));
        match self.knob() {
            None => vec![format!("{family}{params}{check}")],
            Some(name) => self.knob.iter().map(|v| format!("{family},{name}={v}{params}{check}")).collect(),
        }
    }

    /// A fresh detector with this spec's parameters (the threshold is not part of a
    /// detector's configuration; see the `Detector` trait).
    ///
    /// # Panics
    /// If a required key is missing: engines call [`Self::require_complete`] first.
    pub fn build(&self) -> Box<dyn Detector> {
        match &self.family {
            Family::Custom { build, .. } => build(),
            Family::Builtin(info) => (info.build)(&Params { head: &self.head, values: &self.params }),
        }
    }

    /// Whether the detector needs sequence numbers.
    pub fn needs_seq(&self) -> bool {
        match &self.family {
            Family::Builtin(info) => info.needs_seq,
            Family::Custom { build, .. } => build().needs_seq(),
        }
    }
}

/// A configuration that two specs (or one sweep) give twice: its label and the indexes in the
/// list of the first and the second spec giving it (equal when one sweep lists it twice).
/// Labels are canonical, so `fixed:timeout=300ms` and `fixed:timeout=0.3s` are one. A
/// configuration under another label (a preset beside its kind with every value written
/// out, a filled-in key written by hand) is found too: `first_label` is the first's label.
#[derive(Debug, PartialEq, Eq)]
pub struct Repeated {
    pub label: String,
    pub first: usize,
    pub second: usize,
    /// The first's label, when it differs from `label`.
    pub first_label: Option<String>,
}

impl Repeated {
    /// What is wrong, for an error that names the second spec's field; `name` names a spec.
    pub fn message(&self, name: impl Fn(usize) -> String) -> String {
        let why = "equal values are one configuration, and two would write the same files";
        if let Some(first_label) = &self.first_label {
            return format!(
                "`{}` is the same configuration as {}, `{first_label}` (every parameter is equal: one detector \
                 would be run and reported twice under two names); list it once",
                self.label,
                name(self.first)
            );
        }
        if self.first == self.second {
            format!("the sweep gives `{}` twice ({why}); list each value once", self.label)
        } else {
            format!("`{}` is the same configuration as {} ({why}); list it once", self.label, name(self.first))
        }
    }
}

/// The first configuration `specs` give twice, if any.
pub fn find_repeat(specs: &[DetectorSpec]) -> Option<Repeated> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut settings: BTreeMap<String, (String, usize)> = BTreeMap::new();
    for (i, spec) in specs.iter().enumerate() {
        for (point, setting) in spec.points().into_iter().zip(spec.settings()) {
            if let Some(&first) = seen.get(&point.label) {
                return Some(Repeated { label: point.label, first, second: i, first_label: None });
            }
            if let Some((label, first)) = settings.get(&setting) {
                return Some(Repeated {
                    label: point.label,
                    first: *first,
                    second: i,
                    first_label: Some(label.clone()),
                });
            }
            seen.insert(point.label.clone(), i);
            settings.insert(setting, (point.label, i));
        }
    }
    None
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
        // As the shortest decimal (`1e300`, not its 301 digits). TOML has already read the
        // number as an f64: digits beyond what it keeps are lost before fdlab sees them
        // (`0.1000000000000000001` arrives as 0.1); a string (`"0.1000000000000000001"`)
        // is checked as the command line's text is.
        toml::Value::Float(x) => Ok(if x.to_string().len() > 24 { format!("{x:e}") } else { x.to_string() }),
        toml::Value::Boolean(b) => Ok(b.to_string()),
        _ => Err("expected a string, number or boolean".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn a_configuration_given_twice_is_found_with_both_specs() {
        let specs = |list: &[&str]| list.iter().map(|s| DetectorSpec::parse(s).unwrap()).collect::<Vec<_>>();
        assert_eq!(find_repeat(&specs(&["fixed:timeout=300ms", "phi:threshold=8", "fixed:timeout=400ms"])), None);
        let r = find_repeat(&specs(&["phi", "fixed:timeout=300ms", "phi:threshold=9", "fixed:timeout=0.3s"])).unwrap();
        assert_eq!(r, Repeated { label: "fixed:timeout=300ms".into(), first: 1, second: 3, first_label: None });
        let m = r.message(|i| format!("detectors[{i}]"));
        assert!(m.starts_with("`fixed:timeout=300ms` is the same configuration as detectors[1] ("), "{m}");
        // A default written out is the default: `phi:threshold=8,window=1000` is `phi:threshold=8`.
        let r = find_repeat(&specs(&["phi:threshold=8", "phi:threshold=8,window=1000"])).unwrap();
        assert_eq!((r.first, r.second), (0, 1));
        let r = find_repeat(&specs(&["fixed:timeout=1s", "phi:threshold=4|8|8.0"])).unwrap();
        assert_eq!(r, Repeated { label: "phi:threshold=8".into(), first: 1, second: 1, first_label: None });
        assert!(r.message(|i| format!("detectors[{i}]")).starts_with("the sweep gives `phi:threshold=8` twice"));
    }

    /// A preset beside its kind with every value written out, or a filled-in key written by
    /// hand, is one configuration under two labels: found, naming both. One value apart
    /// (the threshold, the check period, a filled-in interval) is another configuration.
    #[test]
    fn a_configuration_under_two_labels_is_found_with_both() {
        let specs = |list: &[&str]| list.iter().map(|s| DetectorSpec::parse(s).unwrap()).collect::<Vec<_>>();
        let akka = "phi:threshold=8,min_std=100ms,pause=3s,first=1s,check_every=1s";
        let r = find_repeat(&specs(&["fixed:timeout=1s", "akka-cluster", akka])).unwrap();
        let label = specs(&[akka])[0].points()[0].label.clone();
        assert_eq!(label, "phi:threshold=8,check_every=1s", "φ's defaults are Akka's but for the check period");
        let first_label = Some("akka-cluster:threshold=8".to_string());
        assert_eq!(r, Repeated { label: label.clone(), first: 1, second: 2, first_label });
        assert_eq!(
            r.message(|i| format!("detectors[{i}]")),
            format!(
                "`{label}` is the same configuration as detectors[1], `akka-cluster:threshold=8` (every parameter is equal: one \
                 detector would be run and reported twice under two names); list it once"
            )
        );
        // In a sweep: the preset's threshold among the kind's.
        let r = find_repeat(&specs(&["cassandra", "phi-exp:threshold=4|8|12,check_every=1s"])).unwrap();
        assert_eq!((r.first, r.second, r.first_label.as_deref()), (0, 1, Some("cassandra:threshold=8")));
        assert_eq!(r.label, "phi-exp:threshold=8,check_every=1s");
        // One value apart: other configurations.
        for other in [
            "phi:threshold=9,min_std=100ms,pause=3s,first=1s,check_every=1s",
            "phi:threshold=8,min_std=100ms,pause=3s,first=1s",
            "phi:threshold=8,min_std=100ms,pause=3s,first=1s,check_every=2s",
            "phi:threshold=8,min_std=100ms,pause=3s,first=1s,check_every=1s,window=999",
            "akka-remote-watch:threshold=8,window=1000",
        ] {
            assert_eq!(find_repeat(&specs(&["akka-cluster", other])), None, "{other}");
        }
        // Two presets of one kind brought to the same values.
        let r = find_repeat(&specs(&["akka-cluster", "akka-remote-watch:threshold=8,window=1000,pause=3s"])).unwrap();
        assert_eq!(r.label, "akka-remote-watch:threshold=8,pause=3s,window=1000");
        assert_eq!(r.first_label.as_deref(), Some("akka-cluster:threshold=8"));
        // A key filled in (the simulator's interval for `chen`) and the same written out.
        let mut filled = specs(&["chen", "chen:interval=100ms", "chen:interval=200ms"]);
        for spec in &mut filled {
            spec.fill("interval", "100ms").unwrap();
        }
        let r = find_repeat(&filled).unwrap();
        assert_eq!((r.first, r.second, r.first_label), (0, 1, Some(filled[0].points()[0].label.clone())));
        assert_eq!(find_repeat(&[filled[0].clone(), filled[2].clone()]), None);
        // Custom detectors are told apart by name.
        let custom = |name: &str| {
            DetectorSpec::custom(name, "level", &[1.0], || Box::new(crate::detector::fixed::FixedTimeout::new()))
                .unwrap()
        };
        assert_eq!(find_repeat(&[custom("a"), custom("b")]), None);
        assert_eq!(find_repeat(&[custom("a"), custom("a")]).map(|r| r.first_label), Some(None));
    }

    #[test]
    fn toml_numbers_are_checked_and_echoed_as_written() {
        #[derive(serde::Deserialize)]
        struct File {
            d: DetectorSpec,
        }
        let spec = |text: &str| toml::from_str::<File>(text).map(|f| f.d.points()[0].label.clone());
        assert_eq!(spec("d = { kind = \"phi\", threshold = 8.5 }").unwrap(), "phi:threshold=8.5");
        let e = spec("d = { kind = \"phi\", threshold = 1e300 }").unwrap_err().to_string();
        assert!(e.contains("`threshold=1e300`: a number's size must be"), "{e}");
        let e = spec("d = { kind = \"phi\", threshold = \"0.1000000000000000001\" }").unwrap_err().to_string();
        assert!(e.contains("it would be 0.1"), "{e}");
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
        // ... and lists every name a spec may start with: each kind, then each preset.
        let kinds: Vec<&str> = catalog::KINDS.iter().map(|k| k.name).collect();
        let presets: Vec<&str> = catalog::PRESETS.iter().map(|p| p.name).collect();
        let listed = format!("known kinds: {}, {}", kinds.join(", "), presets.join(", "));
        assert!(err("foo").ends_with(&listed), "{}", err("foo"));
        assert!(kinds.contains(&"phi") && presets.contains(&"akka-cluster"));
        // A spec shows as its labels (in test failures and logs).
        let sweep = DetectorSpec::parse("phi:threshold=1|2").unwrap();
        assert_eq!(format!("{sweep:?}"), r#"DetectorSpec(["phi:threshold=1", "phi:threshold=2"])"#);
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
    fn ranges_come_from_the_declarations_and_the_first_bad_key_by_name_is_reported() {
        let err = |s: &str| DetectorSpec::parse(s).unwrap_err().to_string();
        assert_eq!(err("deadline:interval=0"), "`interval=0`: must be greater than zero");
        assert_eq!(err("chen:interval=0"), "`interval=0`: must be greater than zero");
        assert_eq!(err("2w:small=0"), "`small=0`: a window holds 1 to 65536 heartbeats");
        assert_eq!(err("phi-exp:window=65537"), "`window=65537`: a window holds 1 to 65536 heartbeats");
        assert_eq!(err("bertier:gamma=1.5"), "`gamma=1.5`: must be in (0, 1]");
        assert_eq!(err("eventually-perfect:factor=0.5"), "`factor=0.5`: must be ≥ 1 (the timeout never shrinks)");
        assert_eq!(err("empirical:threshold=1.5"), "`threshold=1.5`: the empirical level is a fraction: at most 1");
        assert_eq!(err("chen:alpha=0"), "`alpha=0`: the alpha must be greater than zero");
        // Keys that are not range-checked take any value of their type.
        assert!(DetectorSpec::parse("phi:pause=0").is_ok());
        assert!(DetectorSpec::parse("phi-exp:pause_guard=0,max_interval=0").is_ok());
        // Several bad keys: the first by name, whatever the order written.
        assert_eq!(err("phi:window=0,min_std=0"), "`min_std=0`: must be greater than zero");
        assert_eq!(err("phi:min_std=0,window=0"), "`min_std=0`: must be greater than zero");
        // A filled-in value is checked too.
        let mut spec = DetectorSpec::parse("chen").unwrap();
        assert_eq!(spec.missing(), ["interval"]);
        assert!(spec.fill("interval", "0").unwrap_err().to_string().contains("greater than zero"));
        // Deadline's threshold is interval + pause, and only the pause is in its label.
        let d = DetectorSpec::parse("deadline:pause=0").unwrap();
        assert_eq!((d.points()[0].label.as_str(), d.points()[0].threshold), ("deadline:pause=0", 1.0));
    }

    #[test]
    fn the_knob_is_named_by_the_kind_or_the_custom_spec() {
        assert_eq!(DetectorSpec::parse("fixed:timeout=1s").unwrap().knob(), Some("timeout"));
        assert_eq!(DetectorSpec::parse("akka-deadline").unwrap().knob(), Some("pause"));
        assert_eq!(DetectorSpec::parse("bertier:interval=1s").unwrap().knob(), None);
        let build = || Box::new(crate::detector::fixed::FixedTimeout::new()) as Box<dyn Detector>;
        assert_eq!(DetectorSpec::custom("mine", "k", &[1.0], build).unwrap().knob(), Some("k"));
    }

    #[test]
    fn state_size_counts_the_declared_windows() {
        let bytes = |s: &str| DetectorSpec::parse(s).unwrap().state_bytes();
        assert_eq!(bytes("fixed:timeout=1s"), 512);
        assert_eq!(bytes("phi:window=100"), 512 + 24 * 100);
        assert_eq!(bytes("2w:small=3,large=50"), 512 + 24 * 53);
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
    fn a_sweep_splits_into_one_spec_per_value_and_custom_specs_answer_for_themselves() {
        let labels = |specs: Vec<DetectorSpec>| specs.iter().map(|s| s.points()[0].label.clone()).collect::<Vec<_>>();
        let sweep = DetectorSpec::parse("phi:threshold=2|4|8,pause=2s").unwrap();
        assert_eq!(
            labels(sweep.configurations()),
            ["phi:threshold=2,pause=2s", "phi:threshold=4,pause=2s", "phi:threshold=8,pause=2s"]
        );
        assert!(sweep.configurations().iter().all(|c| c.points().len() == 1));
        assert_eq!(
            labels(DetectorSpec::parse("bertier:interval=1s").unwrap().configurations()),
            ["bertier:interval=1s"]
        );
        // What the engines ask of a spec: cost in quarters of φ's, windows, kind, seq.
        let parsed = |s: &str| DetectorSpec::parse(s).unwrap();
        assert_eq!([parsed("fixed:timeout=1s").cost(), parsed("phi").cost(), parsed("phi-exp").cost()], [1, 4, 5]);
        let build = || Box::new(crate::detector::chen::Chen::new(Nanos::from_secs(1), 10)) as Box<dyn Detector>;
        let custom = DetectorSpec::custom("mine", "alpha", &[0.5], build).unwrap();
        assert_eq!((custom.cost(), custom.state_bytes(), custom.kind()), (4, 512, "mine"));
        assert_eq!(custom.points()[0].kind, "mine");
        assert!(custom.needs_seq(), "a custom detector says whether it reads seq");
        assert_eq!(custom.missing(), Vec::<&str>::new());
        assert!(!parsed("phi").needs_seq());
    }

    /// A label names its configuration's files (`detection-time/<label>.hgrm`): one longer
    /// than 240 characters is refused up front, where it would have failed after the run.
    #[test]
    fn a_label_too_long_for_a_file_name_is_refused_up_front() {
        let build = || Box::new(crate::detector::fixed::FixedTimeout::new()) as Box<dyn Detector>;
        // `<name>:k=2`: 4 characters beside the name.
        let spec = |name_chars: usize| DetectorSpec::custom(&"é".repeat(name_chars), "k", &[2.0], build).unwrap();
        assert!(spec(MAX_LABEL_CHARS - 4).require_complete().is_ok());
        let e = spec(MAX_LABEL_CHARS - 3).require_complete().unwrap_err().to_string();
        assert!(e.contains("is 241 characters long") && e.contains("240 at most"), "{e}");
        // The label is shown shortened.
        assert!(e.contains("… (") && e.len() < 400, "{e}");
        // A sweep is checked at each point: only its longest label is too long.
        let sweep = DetectorSpec::custom(&"x".repeat(MAX_LABEL_CHARS - 4), "k", &[2.0, 10.0], build).unwrap();
        assert!(sweep.require_complete().unwrap_err().to_string().contains("is 241 characters long"));
    }

    #[test]
    fn a_filled_key_is_left_out_of_the_label_and_never_replaces_the_users() {
        let mut chen = DetectorSpec::parse("chen").unwrap();
        let err = chen.require_complete().unwrap_err().to_string();
        assert_eq!(err, "`chen` needs `interval`, e.g. `chen:interval=100ms`");
        chen.fill("interval", "250ms").unwrap();
        chen.require_complete().unwrap();
        assert_eq!(chen.points()[0].label, "chen:alpha=200ms");
        let mut given = DetectorSpec::parse("chen:interval=1s").unwrap();
        given.fill("interval", "250ms").unwrap();
        given.fill("no_such_key", "1").unwrap();
        assert_eq!(given.points()[0].label, "chen:alpha=200ms,interval=1s");
        // The check period: shown when it differs from what the kind or preset implies.
        assert_eq!(parsed_label("phi:check_every=1s"), "phi:threshold=8,check_every=1s");
        assert_eq!(parsed_label("akka-cluster"), "akka-cluster:threshold=8");
        assert_eq!(parsed_label("akka-cluster:check_every=0"), "akka-cluster:threshold=8,check_every=0");
        assert_eq!(parsed_label("akka-cluster:check_every=2s"), "akka-cluster:threshold=8,check_every=2s");
        assert_eq!(DetectorSpec::parse("akka-cluster").unwrap().points()[0].check_every, Some(Nanos::from_secs(1)));
        assert_eq!(DetectorSpec::parse("akka-cluster:check_every=0").unwrap().points()[0].check_every, None);
        assert_eq!(DetectorSpec::parse("  ").unwrap_err(), SpecError::Empty);
    }

    fn parsed_label(s: &str) -> String {
        DetectorSpec::parse(s).unwrap().points()[0].label.clone()
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
        // Numbers, booleans and arrays of them as the spec string would write them.
        let f: File = toml::from_str(
            r#"detectors = [{ kind = "phi-exp", threshold = 3, window = 10 }, { kind = "phi", exact = true, threshold = [0.5, 2] }]"#,
        )
        .unwrap();
        assert_eq!(f.detectors[0].points()[0].label, "phi-exp:threshold=3,window=10");
        assert_eq!(f.detectors[1].points()[1].label, "phi:threshold=2,exact=true");
        for (text, says) in [
            (r#"detectors = [{ threshold = 3 }]"#, "needs `kind"),
            (r#"detectors = [{ kind = 3 }]"#, "needs `kind"),
            (r#"detectors = [3]"#, "a spec string or a table"),
            (
                r#"detectors = [{ kind = "phi", threshold = [[1]] }]"#,
                "`threshold`: expected a string, number or boolean",
            ),
            (r#"detectors = [{ kind = "phi", pause = { a = 1 } }]"#, "`pause`: expected a string, number or boolean"),
            (r#"detectors = ["phi:threshold=-1"]"#, "greater than zero"),
        ] {
            let e = toml::from_str::<File>(text).err().unwrap().to_string();
            assert!(e.contains(says), "{text}: {e}");
        }
    }
}
