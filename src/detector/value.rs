//! The values a detector key takes, and how they are written: one value, or for the knob a
//! sweep (`a|b|c`, or for numbers `from..to[..step]` in exact decimal arithmetic).
//!
//! The lowest layer of spec handling: it knows value types, not keys or kinds. [`kind`]
//! declares each key with a [`ValueKind`]; [`spec`] names the key in the error when a value
//! is [`Rejected`].
//!
//! [`kind`]: super::kind
//! [`spec`]: super::spec

use std::fmt;

use crate::time::{Nanos, parse_duration};

/// How a key's values are written and what they mean.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ValueKind {
    /// A duration (`500ms`, `2s`); in the level's units, seconds.
    Duration,
    /// A finite decimal number.
    Number,
    /// A number of samples a detector holds, 1 to [`MAX_CAPACITY`](super::window::MAX_CAPACITY):
    /// it sizes the detector's state (`DetectorSpec::state_bytes`).
    Window,
    /// `true` or `false`.
    Bool,
    /// One of a fixed list of names (`estimator=winmean`).
    Choice(&'static [&'static str]),
}

/// What a window key may hold; the text of its error.
pub(crate) const WINDOW_RANGE: &str = "a window holds 1 to 65536 heartbeats";

/// A parsed value of a key.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Value {
    Duration(Nanos),
    Number(f64),
    Count(usize),
    Bool(bool),
    Choice(&'static str),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Duration(d) => write!(f, "{d}"),
            Value::Number(x) => write!(f, "{x}"),
            Value::Count(n) => write!(f, "{n}"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Choice(name) => write!(f, "{name}"),
        }
    }
}

// The accessors are called only on values of keys declared with the matching kind, which
// `parse` produced: a mismatch is a bug in a declaration.
impl Value {
    pub(crate) fn duration(self) -> Nanos {
        match self {
            Value::Duration(d) => d,
            _ => unreachable!("key declared as a duration"),
        }
    }
    pub(crate) fn number(self) -> f64 {
        match self {
            Value::Number(x) => x,
            _ => unreachable!("key declared as a number"),
        }
    }
    pub(crate) fn count(self) -> usize {
        match self {
            Value::Count(n) => n,
            _ => unreachable!("key declared as a count"),
        }
    }
    pub(crate) fn bool(self) -> bool {
        match self {
            Value::Bool(b) => b,
            _ => unreachable!("key declared as a bool"),
        }
    }
    pub(crate) fn choice(self) -> &'static str {
        match self {
            Value::Choice(name) => name,
            _ => unreachable!("key declared as a choice"),
        }
    }
    /// The value in the level's units: seconds for durations.
    pub(crate) fn level_units(self) -> f64 {
        match self {
            Value::Duration(d) => d.as_secs_f64(),
            Value::Number(x) => x,
            Value::Count(n) => n as f64,
            Value::Bool(b) => f64::from(u8::from(b)),
            // A choice is never a knob (it has no order).
            Value::Choice(_) => f64::NAN,
        }
    }
}

/// The smallest and (exclusive) largest size of a non-zero number: within them labels and
/// file names print it in at most 26 characters (`1e300` would be a 301-digit file name).
const MIN_NUMBER: f64 = 1e-9;
const MAX_NUMBER: f64 = 1e15;

/// A decimal number's significant digits (no leading or trailing zeros) and the power of ten
/// of the first: `0.0250` and `2.5e-2` are both `("25", -2)`; `None` if `text` is not one.
fn significant(text: &str) -> Option<(String, i64)> {
    let text = text.strip_prefix(['+', '-']).unwrap_or(text);
    let (mantissa, exp) = match text.split_once(['e', 'E']) {
        // An exponent beyond i64 saturates: such a number is zero or beyond f64 anyway.
        Some((m, e)) => {
            let magnitude = e.strip_prefix(['+', '-']).unwrap_or(e);
            if magnitude.is_empty() || !magnitude.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            (m, e.parse::<i64>().unwrap_or(if e.starts_with('-') { i64::MIN / 2 } else { i64::MAX / 2 }))
        }
        None => (text, 0),
    };
    if mantissa.is_empty() || mantissa == "." {
        return None;
    }
    let (whole, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all: String = format!("{whole}{frac}");
    if !all.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let lead = all.len() - all.trim_start_matches('0').len();
    let digits = all.trim_matches('0').to_string();
    if digits.is_empty() {
        return Some((digits, 0));
    }
    Some((digits, exp + whole.len() as i64 - 1 - lead as i64))
}

/// A weight in a safety margin (a number of standard deviations, a weight of the delay or
/// its variation): a negative one would shrink the margin below the estimate it guards.
pub(crate) fn non_negative(v: Value) -> Result<(), &'static str> {
    if v.number() >= 0.0 { Ok(()) } else { Err("must be ≥ 0 (a weight in the safety margin)") }
}

/// A text that is not a value of its kind: the text as written, and why.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Rejected {
    pub value: String,
    pub reason: String,
}

impl ValueKind {
    /// Parses one value (surrounding spaces ignored). Only the form is checked here; a key's
    /// range (a window's size, a gain in (0, 1]) is checked once the whole spec is known.
    pub(crate) fn parse(self, text: &str) -> Result<Value, Rejected> {
        let bad = |reason: String| Rejected { value: text.to_string(), reason };
        let text = text.trim();
        match self {
            ValueKind::Duration => match parse_duration(text) {
                Ok(d) if d > Nanos::LIMIT => Err(bad("must be at most 146 years (2^62 ns)".into())),
                Ok(d) => Ok(Value::Duration(d)),
                Err(e) => Err(bad(e.to_string())),
            },
            ValueKind::Number => {
                let size = "a number's size must be from 1e-9 up to (not including) 1e15, or 0";
                let (Some(digits), Ok(x)) = (significant(text), text.parse::<f64>()) else {
                    return match text.parse::<f64>() {
                        Ok(_) => Err(bad("not a finite number".into())),
                        Err(_) => Err(bad("not a number (write e.g. 8, 0.5 or 2.5e-3)".into())),
                    };
                };
                // Beyond f64 either way (1e400, 1e-400) is a size, not a precision, matter.
                if !x.is_finite() || (x == 0.0) != digits.0.is_empty() {
                    return Err(bad(size.into()));
                }
                if x != 0.0 && !(MIN_NUMBER..MAX_NUMBER).contains(&x.abs()) {
                    return Err(bad(size.into()));
                }
                if Some(digits) != significant(&format!("{x:e}")) {
                    return Err(bad(format!(
                        "not a number fdlab holds exactly (an f64 keeps 15 to 17 significant digits): it would be {x}"
                    )));
                }
                // −0 is 0: one label, one file name.
                Ok(Value::Number(if x == 0.0 { 0.0 } else { x }))
            }
            ValueKind::Window => {
                text.parse::<usize>().map(Value::Count).map_err(|_| bad("not a whole number ≥ 0".into()))
            }
            ValueKind::Bool => match text {
                "true" => Ok(Value::Bool(true)),
                "false" => Ok(Value::Bool(false)),
                _ => Err(bad("expected `true` or `false`".into())),
            },
            ValueKind::Choice(names) => match names.iter().find(|n| **n == text) {
                Some(name) => Ok(Value::Choice(name)),
                None => Err(bad(format!("expected one of {}", names.join(", ")))),
            },
        }
    }

    /// Parses a knob's values: one value, a list `a|b|c`, or for numbers a range `a..b`
    /// (step 1) or `a..b..step`.
    pub(crate) fn parse_sweep(self, text: &str) -> Result<Vec<Value>, Rejected> {
        let bad = |reason: &str| Rejected { value: text.to_string(), reason: reason.to_string() };
        if self == ValueKind::Number && text.contains("..") {
            let form = "a range is `from..to` or `from..to..step`, with decimal numbers such as `0.5..16..0.5`";
            let parts: Vec<Decimal> = text
                .split("..")
                .map(|p| Decimal::parse(p.trim()).ok_or_else(|| bad(form)))
                .collect::<Result<_, _>>()?;
            let (from, to, step) = match parts[..] {
                [a, b] => (a, b, Decimal { digits: 1, scale: 0 }),
                [a, b, s] => (a, b, s),
                _ => return Err(bad(form)),
            };
            // Exact decimal arithmetic: every bound on the finest of the three scales.
            let scale = from.scale.max(to.scale).max(step.scale);
            let (Some(a), Some(b), Some(s)) = (from.at(scale), to.at(scale), step.at(scale)) else {
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
            return (0..=count).map(|i| self.parse(&Decimal { digits: a + s * i, scale }.to_string())).collect();
        }
        if text.contains("..") {
            let example = match self {
                ValueKind::Duration => "`100ms|300ms|1s`",
                ValueKind::Window => "`100|1000`",
                _ => "`a|b`",
            };
            return Err(bad(&format!(
                "ranges are for decimal knobs such as `threshold`; list these values with `|`, e.g. {example}"
            )));
        }
        text.split('|').map(|part| self.parse(part)).collect()
    }
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
        // A leading `+`, as a single number may have (`+8`).
        let text = text.strip_prefix('+').unwrap_or(text);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_parse_and_print_exactly() {
        for (text, digits, scale, shown) in [
            ("12", 12, 0, "12"),
            ("0.5", 5, 1, "0.5"),
            (".5", 5, 1, "0.5"),
            ("16.", 16, 0, "16"),
            ("0.001", 1, 3, "0.001"),
            ("10.250", 10250, 3, "10.250"),
        ] {
            let d = Decimal::parse(text).unwrap_or_else(|| panic!("{text}"));
            assert_eq!((d.digits, d.scale), (digits, scale), "{text}");
            assert_eq!(d.to_string(), shown);
        }
        // A leading `+` is read as a single number's is; `.+5` and `1.+5` are what u128's own
        // parser would take: only the digit check refuses them.
        assert_eq!(Decimal::parse("+1.5"), Decimal::parse("1.5"));
        for text in ["", ".", "+", "-1", "++1", ".+5", "1.+5", "1e3", "1.2.3", " 1", "1_000", &"9".repeat(31)] {
            assert_eq!(Decimal::parse(text), None, "{text:?}");
        }
        assert_eq!(Decimal::parse("1.5").unwrap().at(3), Some(1500));
        assert_eq!(Decimal::parse(&"9".repeat(30)).unwrap().at(30), None, "overflow is `None`");
    }

    #[test]
    fn significant_digits_and_their_power_of_ten() {
        assert_eq!(significant("0.0250"), Some(("25".into(), -2)));
        assert_eq!(significant("2.5e-2"), Some(("25".into(), -2)));
        assert_eq!(significant("-250"), Some(("25".into(), 2)));
        assert_eq!(significant("1e300"), Some(("1".into(), 300)));
        assert_eq!(significant(".5"), Some(("5".into(), -1)));
        assert_eq!(significant("0"), Some(("".into(), 0)));
        assert_eq!(significant("-0.00e5"), Some(("".into(), 0)));
        assert_eq!(significant("1x"), None);
        assert_eq!(significant("e1"), None);
        assert_eq!(significant("1e"), None);
        assert_eq!(significant("--1"), None);
        assert_eq!(significant("1_0"), None);
        assert_eq!(significant("0e99999999999999999999"), Some(("".into(), 0)));
        assert_eq!(significant("1e-99999999999999999999"), Some(("1".into(), i64::MIN / 2)));
    }

    #[test]
    fn values_parse_by_kind_and_reject_with_the_text_as_written() {
        assert_eq!(ValueKind::Duration.parse(" 1500ms "), Ok(Value::Duration(Nanos::from_millis(1500))));
        // The time rule's bound, inclusive (2^62 ns).
        assert_eq!(ValueKind::Duration.parse("4611686018427387904ns"), Ok(Value::Duration(Nanos::LIMIT)));
        for text in ["4611686018427387905ns", "213503d", "18446744073709551615ns"] {
            let e = ValueKind::Duration.parse(text).unwrap_err();
            assert!(e.reason.contains("at most 146 years"), "{text}: {}", e.reason);
        }
        assert_eq!(ValueKind::Number.parse("8.5"), Ok(Value::Number(8.5)));
        // At the bounds: each prints as the decimal the user wrote.
        for (text, shown) in [
            ("0", "0"),
            ("-0.0", "0"),
            ("1e-9", "0.000000001"),
            ("999999999999999", "999999999999999"),
            ("-12345678.9012345", "-12345678.9012345"),
            ("0.1", "0.1"),
            ("0.30000000000000004", "0.30000000000000004"),
            ("0.6407983304664154", "0.6407983304664154"),
            ("2.5e-2", "0.025"),
            ("+00250.0e-1", "25"),
            ("1E3", "1000"),
            ("0e99999999999999999999", "0"),
        ] {
            let v = ValueKind::Number.parse(text).unwrap();
            assert_eq!(v.to_string(), shown, "{text}");
        }
        assert_eq!(ValueKind::Window.parse("1000"), Ok(Value::Count(1000)));
        assert_eq!(ValueKind::Bool.parse("true"), Ok(Value::Bool(true)));
        for (kind, text, reason) in [
            (ValueKind::Number, " inf", "not a finite number"),
            (ValueKind::Number, "NaN", "not a finite number"),
            (ValueKind::Number, "1e300", "a number's size must be from 1e-9 up to (not including) 1e15, or 0"),
            (ValueKind::Number, "-1e15", "a number's size must be from 1e-9 up to (not including) 1e15, or 0"),
            (ValueKind::Number, "1e-10", "a number's size must be from 1e-9 up to (not including) 1e15, or 0"),
            (ValueKind::Number, "1e-400", "a number's size must be from 1e-9 up to (not including) 1e15, or 0"),
            (ValueKind::Number, "1e400", "a number's size must be from 1e-9 up to (not including) 1e15, or 0"),
            (
                ValueKind::Number,
                "1e99999999999999999999",
                "a number's size must be from 1e-9 up to (not including) 1e15, or 0",
            ),
            (ValueKind::Number, "1_0", "not a number (write e.g. 8, 0.5 or 2.5e-3)"),
            (ValueKind::Number, "e1", "not a number (write e.g. 8, 0.5 or 2.5e-3)"),
            (ValueKind::Number, "-", "not a number (write e.g. 8, 0.5 or 2.5e-3)"),
            (
                ValueKind::Number,
                "0.1000000000000000001",
                "not a number fdlab holds exactly (an f64 keeps 15 to 17 significant digits): it would be 0.1",
            ),
            (
                ValueKind::Number,
                "123456789012345.678",
                "not a number fdlab holds exactly (an f64 keeps 15 to 17 significant digits): it would be \
                 123456789012345.67",
            ),
            (ValueKind::Window, "1.5", "not a whole number ≥ 0"),
            (ValueKind::Window, "-1", "not a whole number ≥ 0"),
            (ValueKind::Bool, "yes", "expected `true` or `false`"),
        ] {
            assert_eq!(kind.parse(text), Err(Rejected { value: text.to_string(), reason: reason.to_string() }));
        }
        assert_eq!(Value::Duration(Nanos::from_millis(1500)).to_string(), "1500ms");
        assert_eq!(Value::Duration(Nanos::from_millis(1500)).level_units(), 1.5);
    }

    #[test]
    fn sweeps_are_lists_or_exact_decimal_ranges() {
        let numbers = |text: &str| -> Vec<f64> {
            ValueKind::Number.parse_sweep(text).unwrap().into_iter().map(Value::number).collect()
        };
        assert_eq!(numbers("3"), [3.0]);
        assert_eq!(numbers("1|2.5|4"), [1.0, 2.5, 4.0]);
        assert_eq!(numbers("1..4"), [1.0, 2.0, 3.0, 4.0]);
        assert_eq!(numbers("0.1..0.5..0.1"), [0.1, 0.2, 0.3, 0.4, 0.5]);
        assert_eq!(numbers("3..3"), [3.0]);
        assert_eq!(numbers("+1..+2..0.5"), [1.0, 1.5, 2.0]);
        assert!(ValueKind::Number.parse_sweep("-1..2").is_err());
        assert!(ValueKind::Number.parse_sweep("++1..2").is_err());
        // Ranges are for numbers only; a list of durations is a list.
        let durations = ValueKind::Duration.parse_sweep("100ms|1s").unwrap();
        assert_eq!(durations, [Value::Duration(Nanos::from_millis(100)), Value::Duration(Nanos::from_secs(1))]);
        let e = ValueKind::Duration.parse_sweep("1s..2s..100ms").unwrap_err();
        assert_eq!(e.value, "1s..2s..100ms");
        assert!(e.reason.ends_with("list these values with `|`, e.g. `100ms|300ms|1s`"), "{e:?}");
        assert!(ValueKind::Window.parse_sweep("10..20").unwrap_err().reason.ends_with("e.g. `100|1000`"));
        assert!(ValueKind::Bool.parse_sweep("1..2").unwrap_err().reason.ends_with("e.g. `a|b`"));
        // The rejected text of a range is the whole range; of a list, the bad part.
        let reason = |text: &str| ValueKind::Number.parse_sweep(text).unwrap_err();
        assert_eq!(reason("1..2..0.3").value, "1..2..0.3");
        assert!(reason("1..2..0.3").reason.contains("does not divide"));
        assert!(reason("1..2..3..4").reason.contains("a range is"));
        assert!(reason("1..20000").reason.contains("at most 10000"));
        assert!(reason(&format!(".{}1..{}", "0".repeat(29), "9".repeat(30))).reason.contains("too many digits"));
        assert_eq!(reason("1|x|3").value, "x");
    }
}
