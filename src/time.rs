//! Time as integer nanoseconds.
//!
//! Every instant and duration inside fdlab is a [`Nanos`]: a `u64` count of nanoseconds from
//! the start of a run (an instant) or a length of time (a duration). Integer time keeps long
//! simulations exact: an `f64` holds whole nanoseconds exactly only up to 2^53 ns (about
//! 104 days). Floating point is used only for short relative quantities inside formulas.
//!
//! Durations written by people (`500us`, `250ms`, `1.5s`, `2m`, `1h`, `7d`) are parsed here
//! with exact decimal arithmetic, so `0.1s` is exactly 100 000 000 ns.

use std::fmt;
use std::str::FromStr;

/// Nanoseconds: an instant since the start of a run, or a duration.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Nanos(pub u64);

impl Nanos {
    pub const ZERO: Nanos = Nanos(0);
    pub const MAX: Nanos = Nanos(u64::MAX);

    pub const fn from_secs(s: u64) -> Nanos {
        Nanos(s * 1_000_000_000)
    }
    pub const fn from_millis(ms: u64) -> Nanos {
        Nanos(ms * 1_000_000)
    }
    pub const fn from_micros(us: u64) -> Nanos {
        Nanos(us * 1_000)
    }
    pub const fn as_u64(self) -> u64 {
        self.0
    }
    /// Seconds as `f64`, for reports and formulas (exact below 2^53 ns).
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }
    /// The nearest whole nanosecond to `s` seconds; negative and NaN give zero, overflow
    /// saturates.
    pub fn from_secs_f64(s: f64) -> Nanos {
        let ns = (s * 1e9).round();
        if ns.is_nan() || ns <= 0.0 {
            Nanos(0)
        } else if ns >= u64::MAX as f64 {
            Nanos::MAX
        } else {
            Nanos(ns as u64)
        }
    }
    pub fn saturating_sub(self, other: Nanos) -> Nanos {
        Nanos(self.0.saturating_sub(other.0))
    }
    pub fn saturating_add(self, other: Nanos) -> Nanos {
        Nanos(self.0.saturating_add(other.0))
    }
    pub fn checked_add(self, other: Nanos) -> Option<Nanos> {
        self.0.checked_add(other.0).map(Nanos)
    }
}

impl std::ops::Add for Nanos {
    type Output = Nanos;
    fn add(self, rhs: Nanos) -> Nanos {
        Nanos(self.0 + rhs.0)
    }
}

impl std::ops::Sub for Nanos {
    type Output = Nanos;
    fn sub(self, rhs: Nanos) -> Nanos {
        Nanos(self.0 - rhs.0)
    }
}

/// Units accepted in durations, longest suffix first so that `ms` is not read as `m`.
const UNITS: [(&str, u64); 8] = [
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
    ("d", 86_400_000_000_000),
];

/// Why a duration did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("empty duration")]
    Empty,
    #[error("duration `{0}` is negative; durations are lengths of time and must be ≥ 0")]
    Negative(String),
    #[error("duration `{0}` has no unit; write e.g. `250ms`, `1.5s`, `2m`, `1h`, `7d`")]
    NoUnit(String),
    #[error("duration `{0}` has an unknown unit; use ns, us, ms, s, m, h or d")]
    UnknownUnit(String),
    #[error("duration `{0}` is not a number followed by a unit, e.g. `250ms` or `1.5s`")]
    Malformed(String),
    #[error("duration `{0}` is finer than a nanosecond")]
    SubNanosecond(String),
    #[error("duration `{0}` is too long (more than 584 years)")]
    Overflow(String),
}

/// Parses a human duration: a decimal number and a unit (`ns`, `us`/`µs`, `ms`, `s`, `m`,
/// `h`, `d`), e.g. `500us`, `250ms`, `1.5s`, `2m`, `1h`, `7d`. A bare `0` is accepted.
pub fn parse_duration(text: &str) -> Result<Nanos, DurationError> {
    let s = text.trim();
    if s.is_empty() {
        return Err(DurationError::Empty);
    }
    if s.starts_with('-') {
        return Err(DurationError::Negative(s.to_string()));
    }
    if s == "0" {
        return Ok(Nanos::ZERO);
    }
    let split =
        s.find(|c: char| !(c.is_ascii_digit() || c == '.')).ok_or_else(|| DurationError::NoUnit(s.to_string()))?;
    let (number, unit) = s.split_at(split);
    let unit = unit.trim();
    let scale = UNITS
        .iter()
        .find(|(name, _)| *name == unit)
        .map(|&(_, scale)| scale)
        .ok_or_else(|| DurationError::UnknownUnit(s.to_string()))?;
    let (whole, frac) = match number.split_once('.') {
        Some((w, f)) => (w, f),
        None => (number, ""),
    };
    if (whole.is_empty() && frac.is_empty())
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(DurationError::Malformed(s.to_string()));
    }
    let overflow = || DurationError::Overflow(s.to_string());
    let whole: u128 = if whole.is_empty() { 0 } else { whole.parse().map_err(|_| overflow())? };
    let mut total = whole.checked_mul(scale as u128).ok_or_else(overflow)?;
    // The fractional part, exactly: digits / 10^len × scale must be a whole number.
    let frac = frac.trim_end_matches('0');
    if !frac.is_empty() {
        if frac.len() > 30 {
            return Err(DurationError::SubNanosecond(s.to_string()));
        }
        let digits: u128 = frac.parse().map_err(|_| overflow())?;
        let denominator = 10u128.pow(frac.len() as u32);
        let numerator = digits * scale as u128;
        if !numerator.is_multiple_of(denominator) {
            return Err(DurationError::SubNanosecond(s.to_string()));
        }
        total += numerator / denominator;
    }
    u64::try_from(total).map(Nanos).map_err(|_| overflow())
}

impl FromStr for Nanos {
    type Err = DurationError;
    fn from_str(s: &str) -> Result<Nanos, DurationError> {
        parse_duration(s)
    }
}

/// Prints the shortest exact form: `300ms`, `1500ms`, `2s`, `90s`, `1h`, `0`.
impl fmt::Display for Nanos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            return write!(f, "0");
        }
        let (name, scale) = [
            ("d", 86_400_000_000_000u64),
            ("h", 3_600_000_000_000),
            ("m", 60_000_000_000),
            ("s", 1_000_000_000),
            ("ms", 1_000_000),
            ("us", 1_000),
            ("ns", 1),
        ]
        .into_iter()
        .find(|&(_, scale)| self.0.is_multiple_of(scale))
        .unwrap_or(("ns", 1)); // unreachable: every value is a multiple of 1 ns
        write!(f, "{}{}", self.0 / scale, name)
    }
}

impl serde::Serialize for Nanos {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Nanos {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Nanos, D::Error> {
        let text = String::deserialize(d)?;
        parse_duration(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_unit_exactly() {
        assert_eq!(parse_duration("500us"), Ok(Nanos(500_000)));
        assert_eq!(parse_duration("250ms"), Ok(Nanos(250_000_000)));
        assert_eq!(parse_duration("1.5s"), Ok(Nanos(1_500_000_000)));
        assert_eq!(parse_duration("0.1s"), Ok(Nanos(100_000_000)));
        assert_eq!(parse_duration("2m"), Ok(Nanos(120_000_000_000)));
        assert_eq!(parse_duration("1h"), Ok(Nanos(3_600_000_000_000)));
        assert_eq!(parse_duration("7d"), Ok(Nanos(604_800_000_000_000)));
        assert_eq!(parse_duration("17ns"), Ok(Nanos(17)));
        assert_eq!(parse_duration("0"), Ok(Nanos(0)));
        assert_eq!(parse_duration(" 3 s "), Ok(Nanos(3_000_000_000)));
    }

    #[test]
    fn rejects_bad_durations_with_reasons() {
        assert!(matches!(parse_duration("-1s"), Err(DurationError::Negative(_))));
        assert!(matches!(parse_duration("10"), Err(DurationError::NoUnit(_))));
        assert!(matches!(parse_duration("10 parsecs"), Err(DurationError::UnknownUnit(_))));
        assert!(matches!(parse_duration("1.2.3s"), Err(DurationError::Malformed(_))));
        assert!(matches!(parse_duration("s"), Err(DurationError::Malformed(_))));
        assert!(matches!(parse_duration("0.5ns"), Err(DurationError::SubNanosecond(_))));
        assert!(matches!(parse_duration("999999d"), Err(DurationError::Overflow(_))));
        assert_eq!(parse_duration(""), Err(DurationError::Empty));
    }

    #[test]
    fn display_round_trips() {
        for text in ["300ms", "1500ms", "2s", "90s", "1h", "7d", "17ns", "0", "250us"] {
            let n = parse_duration(text).unwrap();
            assert_eq!(n.to_string(), text);
            assert_eq!(parse_duration(&n.to_string()), Ok(n));
        }
    }
}
