//! What a detector kind declares: its name, its knob and keys (with types, defaults, docs
//! and ranges), whether it needs sequence numbers, and how to build a detector from resolved
//! values.
//!
//! Each detector file declares its kind as a [`KindInfo`] constant next to the algorithm
//! (`phi::KIND`, `fixed::DEADLINE`, …); [`catalog`](super::catalog) lists them. Everything
//! else (spec parsing, TOML, labels, validation, the factory, `fdlab detectors`) reads these
//! declarations, so a new kind needs no edit anywhere else.

use std::collections::BTreeMap;

use super::Detector;
use super::value::{Rejected, Value, ValueKind, WINDOW_RANGE};
use super::window::MAX_CAPACITY;
use crate::time::Nanos;

/// A range check beyond a value's form: the reason when the value is out of range.
pub(crate) type Check = fn(Value) -> Result<(), &'static str>;

/// Makes a detector from a spec's resolved values (defaults included, required keys
/// present). The threshold is not one of them (see the `Detector` trait).
pub(crate) type Build = fn(&Params<'_>) -> Box<dyn Detector>;

/// One key of a detector kind, for parsing, labels and `fdlab detectors`.
#[derive(Clone, Copy, Debug)]
pub struct KeyInfo {
    pub name: &'static str,
    /// The default as written in a spec; empty if the key is required (for a non-knob key,
    /// an engine may supply it: the simulator fills `interval` from the sender's schedule).
    pub default: &'static str,
    pub doc: &'static str,
    pub(crate) kind: ValueKind,
    pub(crate) check: Option<Check>,
}

impl KeyInfo {
    const fn new(name: &'static str, default: &'static str, kind: ValueKind, doc: &'static str) -> KeyInfo {
        KeyInfo { name, default, doc, kind, check: None }
    }

    /// A duration (`500ms`); in the level's units it is seconds.
    pub(crate) const fn duration(name: &'static str, default: &'static str, doc: &'static str) -> KeyInfo {
        KeyInfo::new(name, default, ValueKind::Duration, doc)
    }

    /// A finite number.
    pub(crate) const fn number(name: &'static str, default: &'static str, doc: &'static str) -> KeyInfo {
        KeyInfo::new(name, default, ValueKind::Number, doc)
    }

    /// A window size: samples held, 1 to 65536 (checked), counted in the state's size.
    pub(crate) const fn window(name: &'static str, default: &'static str, doc: &'static str) -> KeyInfo {
        KeyInfo::new(name, default, ValueKind::Window, doc)
    }

    /// `true` or `false`.
    pub(crate) const fn bool(name: &'static str, default: &'static str, doc: &'static str) -> KeyInfo {
        KeyInfo::new(name, default, ValueKind::Bool, doc)
    }

    /// One of `names` (never a knob).
    pub(crate) const fn choice(
        name: &'static str,
        default: &'static str,
        names: &'static [&'static str],
        doc: &'static str,
    ) -> KeyInfo {
        KeyInfo::new(name, default, ValueKind::Choice(names), doc)
    }

    /// The same key, whose values must also pass `check`.
    pub(crate) const fn checked(self, check: Check) -> KeyInfo {
        KeyInfo { check: Some(check), ..self }
    }

    /// Parses one value of this key (its form only; see [`Self::check_range`]).
    pub(crate) fn parse(&self, text: &str) -> Result<Value, Rejected> {
        self.kind.parse(text)
    }

    /// Whether a parsed value lies in the key's range; the reason if not.
    pub(crate) fn check_range(&self, value: Value) -> Result<(), &'static str> {
        if self.kind == ValueKind::Window && !(1..=MAX_CAPACITY).contains(&value.count()) {
            return Err(WINDOW_RANGE);
        }
        self.check.map_or(Ok(()), |check| check(value))
    }

    /// Whether the key sizes the detector's state (a window).
    pub(crate) fn is_window(&self) -> bool {
        self.kind == ValueKind::Window
    }
}

/// A duration that must not be zero (a window's seed, a heartbeat interval, a timeout).
pub(crate) fn positive_duration(value: Value) -> Result<(), &'static str> {
    if value.duration() == Nanos::ZERO { Err("must be greater than zero") } else { Ok(()) }
}

/// Every spec also takes `check_every=DUR`: suspicion is noticed only at the first check
/// tick (multiples of DUR from time 0) at or after the crossing, as real systems do.
pub const CHECK_EVERY: KeyInfo =
    KeyInfo::duration("check_every", "0", "notice suspicion only at ticks of this period (0: at the crossing)");

/// A detector family, as its file declares it.
#[derive(Clone, Copy, Debug)]
pub struct KindInfo {
    pub name: &'static str,
    pub summary: &'static str,
    /// The swept key; its value gives the threshold in level units. `None` for adaptive
    /// detectors with a 0/1 level and no knob (one point on a trade-off chart).
    pub knob: Option<KeyInfo>,
    pub keys: &'static [KeyInfo],
    /// Whether the detector needs sequence numbers (`Arrival::seq`); the built detector's
    /// `Detector::needs_seq` says the same (tested).
    pub needs_seq: bool,
    /// A duration key added to the knob to give the threshold (deadline: interval + pause).
    pub(crate) threshold_plus: Option<&'static str>,
    /// The highest threshold the level can reach, and the error's text for a higher one.
    pub(crate) threshold_at_most: Option<(f64, &'static str)>,
    /// What one configuration costs per heartbeat, in quarters of a φ configuration's cost
    /// (4, the default, for kinds not measured). It only balances a monitor's detectors
    /// across threads (`sim`); no result depends on it.
    pub(crate) cost: usize,
    pub(crate) build: Build,
}

impl KindInfo {
    /// A kind with no keys and no knob; the methods below add them.
    pub(crate) const fn new(name: &'static str, summary: &'static str, build: Build) -> KindInfo {
        KindInfo {
            name,
            summary,
            knob: None,
            keys: &[],
            needs_seq: false,
            threshold_plus: None,
            threshold_at_most: None,
            cost: 4,
            build,
        }
    }

    /// Sets [`Self::cost`], measured as a single-detector run's time less that of the run's
    /// arrivals (`experiments/bench/year.toml`, one detector at a time, one thread).
    pub(crate) const fn cost(self, cost: usize) -> KindInfo {
        KindInfo { cost, ..self }
    }

    pub(crate) const fn knob(self, knob: KeyInfo) -> KindInfo {
        KindInfo { knob: Some(knob), ..self }
    }

    pub(crate) const fn keys(self, keys: &'static [KeyInfo]) -> KindInfo {
        KindInfo { keys, ..self }
    }

    /// The detector reads `Arrival::seq` (and is useless without it).
    pub(crate) const fn sequence_aware(self) -> KindInfo {
        KindInfo { needs_seq: true, ..self }
    }

    pub(crate) const fn threshold_plus(self, key: &'static str) -> KindInfo {
        KindInfo { threshold_plus: Some(key), ..self }
    }

    pub(crate) const fn threshold_at_most(self, max: f64, reason: &'static str) -> KindInfo {
        KindInfo { threshold_at_most: Some((max, reason)), ..self }
    }

    /// Every key a spec of this kind takes, in label order: the knob, the kind's keys, then
    /// [`CHECK_EVERY`].
    pub fn all_keys(&self) -> impl Iterator<Item = &KeyInfo> + '_ {
        self.knob.iter().chain(self.keys).chain([&CHECK_EVERY])
    }

    /// The kind's keys at their defaults (required keys left out), for tests that compare
    /// the declaration with a detector's own `Default`.
    #[cfg(test)]
    pub(crate) fn defaults(&self) -> BTreeMap<&'static str, Value> {
        let declared = self.keys.iter().filter(|k| !k.default.is_empty());
        declared.map(|k| (k.name, k.parse(k.default).expect("valid default"))).collect()
    }
}

/// A spec's resolved values, as a kind's build function reads them.
pub(crate) struct Params<'a> {
    /// The spec's label head, for the panic message.
    pub(crate) head: &'a str,
    pub(crate) values: &'a BTreeMap<&'static str, Value>,
}

// Each accessor panics if the key is missing (engines call `require_complete` before
// building) or was declared with another type (a bug in the kind's declaration; every kind
// is built from its defaults in the catalogue's tests).
impl Params<'_> {
    fn get(&self, key: &str) -> Value {
        *self
            .values
            .get(key)
            .unwrap_or_else(|| panic!("`{}` built without `{key}`: call require_complete first", self.head))
    }

    pub(crate) fn duration(&self, key: &str) -> Nanos {
        self.get(key).duration()
    }

    pub(crate) fn number(&self, key: &str) -> f64 {
        self.get(key).number()
    }

    pub(crate) fn count(&self, key: &str) -> usize {
        self.get(key).count()
    }

    pub(crate) fn bool(&self, key: &str) -> bool {
        self.get(key).bool()
    }

    pub(crate) fn choice(&self, key: &str) -> &'static str {
        self.get(key).choice()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_range_checked_and_other_keys_by_their_own_check() {
        let window = KeyInfo::window("window", "1000", "");
        assert_eq!(window.check_range(Value::Count(1)), Ok(()));
        assert_eq!(window.check_range(Value::Count(MAX_CAPACITY)), Ok(()));
        assert_eq!(window.check_range(Value::Count(0)), Err(WINDOW_RANGE));
        assert_eq!(window.check_range(Value::Count(MAX_CAPACITY + 1)), Err(WINDOW_RANGE));
        assert!(WINDOW_RANGE.contains(&MAX_CAPACITY.to_string()), "the message states the real bound");
        let interval = KeyInfo::duration("interval", "", "").checked(positive_duration);
        assert_eq!(interval.check_range(Value::Duration(Nanos(1))), Ok(()));
        assert_eq!(interval.check_range(Value::Duration(Nanos::ZERO)), Err("must be greater than zero"));
        let plain = KeyInfo::duration("pause", "3s", "");
        assert_eq!(plain.check_range(Value::Duration(Nanos::ZERO)), Ok(()));
        assert!(window.is_window() && !interval.is_window());
    }

    #[test]
    fn the_builder_sets_what_it_names_and_nothing_else() {
        let build: Build = |_| Box::new(crate::detector::FixedTimeout::new());
        let plain = KindInfo::new("k", "summary", build);
        assert!(plain.knob.is_none() && plain.keys.is_empty() && !plain.needs_seq);
        assert!(plain.threshold_plus.is_none() && plain.threshold_at_most.is_none());
        let names: Vec<&str> = plain.all_keys().map(|k| k.name).collect();
        assert_eq!(names, ["check_every"]);
        const KEYS: &[KeyInfo] = &[KeyInfo::bool("b", "false", "")];
        let full = plain
            .knob(KeyInfo::number("t", "1", ""))
            .keys(KEYS)
            .sequence_aware()
            .threshold_plus("b")
            .threshold_at_most(1.0, "no");
        let names: Vec<&str> = full.all_keys().map(|k| k.name).collect();
        assert_eq!(names, ["t", "b", "check_every"]);
        assert!(full.needs_seq);
        assert_eq!(full.threshold_plus, Some("b"));
        assert_eq!(full.threshold_at_most, Some((1.0, "no")));
    }

    #[test]
    #[should_panic(expected = "`chen` built without `interval`: call require_complete first")]
    fn building_without_a_required_key_names_it() {
        let values = BTreeMap::new();
        Params { head: "chen", values: &values }.duration("interval");
    }
}
