//! Time as integer nanoseconds.
//!
//! Every instant and duration inside fdlab is a [`Nanos`]: a `u64` count of nanoseconds from
//! the start of a run (an instant) or a length of time (a duration). Integer time keeps long
//! simulations exact: an `f64` holds whole nanoseconds exactly only up to 2^53 ns (about
//! 104 days). Floating point is used only for short relative quantities inside formulas.
//!
//! Arithmetic on `Nanos` saturates: `+` stops at `Nanos::MAX` (584 years) and `-` at zero,
//! so no computation inside fdlab can overflow or wrap, in debug or release builds. The
//! boundary checks instead: experiment files and traces are refused, with the field or line
//! named, when their instants or durations exceed [`Nanos::LIMIT`] (2^62 ns, 146 years), so
//! a saturated value never reaches a result that a user reads.
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
    /// The largest instant or duration accepted from a user (2^62 ns, about 146 years):
    /// sums and products of a few such values stay below `u64::MAX`, so saturation is never
    /// reached by what a valid input computes.
    pub const LIMIT: Nanos = Nanos(1 << 62);

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
    /// Seconds as an exact decimal, for files read as numbers: `12.005`, `1`, `0.000000001`
    /// (no trailing zeros; every nanosecond kept, where `as_secs_f64` rounds beyond 2^53 ns).
    pub fn secs_text(self) -> String {
        let (whole, frac) = (self.0 / 1_000_000_000, self.0 % 1_000_000_000);
        if frac == 0 {
            return whole.to_string();
        }
        let frac = format!("{frac:09}");
        format!("{whole}.{}", frac.trim_end_matches('0'))
    }
    /// The nearest whole nanosecond to `s` seconds; negative and NaN give zero, overflow
    /// saturates (what Rust's `as` from a float to an integer does).
    pub fn from_secs_f64(s: f64) -> Nanos {
        Nanos((s * 1e9).round() as u64)
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

/// Saturating (see the module's doc).
impl std::ops::Add for Nanos {
    type Output = Nanos;
    #[inline]
    fn add(self, rhs: Nanos) -> Nanos {
        Nanos(self.0.saturating_add(rhs.0))
    }
}

/// Saturating at zero (see the module's doc).
impl std::ops::Sub for Nanos {
    type Output = Nanos;
    #[inline]
    fn sub(self, rhs: Nanos) -> Nanos {
        Nanos(self.0.saturating_sub(rhs.0))
    }
}

/// A node's clock: it runs at `ppb` parts per 10^9 of real time (10^9 = exact, 1_001_000_000
/// runs 0.1 % fast). The one conversion between real and local time, both ways, exact in
/// integer arithmetic and rounding down; a clock rate never passes through `f64`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Clock {
    pub ppb: u64,
}

impl Clock {
    pub const PARTS: u64 = 1_000_000_000;
    pub const EXACT: Clock = Clock { ppb: Clock::PARTS };

    /// The clock of a rate written as a number (`1.001`), to the nearest part per 10^9;
    /// `None` unless the rate is finite and within [0.5, 2].
    pub fn from_rate(rate: f64) -> Option<Clock> {
        (rate.is_finite() && (0.5..=2.0).contains(&rate)).then(|| Clock { ppb: (rate * 1e9).round() as u64 })
    }

    /// The rate as a number, for reports.
    pub fn rate(self) -> f64 {
        self.ppb as f64 / 1e9
    }

    pub fn is_exact(self) -> bool {
        self.ppb == Clock::PARTS
    }

    /// Local time at real time `real`: ⌊real · ppb / 10^9⌋ (saturating).
    #[inline]
    pub fn local(self, real: Nanos) -> Nanos {
        if self.is_exact() { real } else { scale_down(real.0, self.ppb, Clock::PARTS) }
    }

    /// Real time at local time `local`: ⌊local · 10^9 / ppb⌋ (saturating).
    #[inline]
    pub fn real(self, local: Nanos) -> Nanos {
        if self.is_exact() { local } else { scale_down(local.0, Clock::PARTS, self.ppb) }
    }

    /// The first local instant whose real time is at or after `real`: ⌈real · ppb / 10^9⌉,
    /// so that `self.real(t) >= real` exactly when `t >= self.local_at_or_after(real)`.
    pub fn local_at_or_after(self, real: Nanos) -> Nanos {
        if self.is_exact() {
            return real;
        }
        let product = real.0 as u128 * self.ppb as u128;
        Nanos(u64::try_from(product.div_ceil(Clock::PARTS as u128)).unwrap_or(u64::MAX))
    }
}

/// ⌊value · numerator / denominator⌋ in u128, saturating at `u64::MAX`.
#[inline]
fn scale_down(value: u64, numerator: u64, denominator: u64) -> Nanos {
    Nanos(u64::try_from(value as u128 * numerator as u128 / denominator as u128).unwrap_or(u64::MAX))
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
    // The fractional part, exactly: digits / 10^len × scale must be a whole number. With its
    // trailing zeros gone, the digits lack a factor 2 or a factor 5, so 2^len or 5^len must
    // divide the scale (whose powers are at most 2^16 and 5^11, in a day): a fraction of
    // more than 16 digits is never a whole nanosecond, and one of up to 16 multiplies
    // without overflow.
    let frac = frac.trim_end_matches('0');
    if !frac.is_empty() {
        if frac.len() > 16 {
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
    fn seconds_as_text_keep_every_nanosecond() {
        assert_eq!(Nanos(0).secs_text(), "0");
        assert_eq!(Nanos(1).secs_text(), "0.000000001");
        assert_eq!(Nanos(12_005_000_000).secs_text(), "12.005");
        assert_eq!(Nanos(2_000_000_000).secs_text(), "2");
        assert_eq!(Nanos(999_999_999).secs_text(), "0.999999999");
        // 200 days and 1 ns: f64 seconds lose the last nanosecond (17280000).
        assert_eq!(Nanos(17_280_000_000_000_001).secs_text(), "17280000.000000001");
        assert_eq!(Nanos(u64::MAX).secs_text(), "18446744073.709551615");
    }

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
        assert_eq!(("250ms".parse::<Nanos>(), "1x".parse::<Nanos>().is_err()), (Ok(Nanos(250_000_000)), true));
    }

    #[test]
    fn rejects_bad_durations_with_reasons() {
        assert!(matches!(parse_duration("-1s"), Err(DurationError::Negative(_))));
        assert!(matches!(parse_duration("10"), Err(DurationError::NoUnit(_))));
        assert!(matches!(parse_duration("10 parsecs"), Err(DurationError::UnknownUnit(_))));
        assert!(matches!(parse_duration("1.2.3s"), Err(DurationError::Malformed(_))));
        assert!(matches!(parse_duration("s"), Err(DurationError::Malformed(_))));
        assert!(matches!(parse_duration("0.5ns"), Err(DurationError::SubNanosecond(_))));
        // The longest fraction that is a whole nanosecond has 16 digits: 2^-16 of a day.
        assert_eq!(parse_duration("0.0000152587890625d"), Ok(Nanos(1_318_359_375)));
        assert_eq!(parse_duration("0.00001525878906250000d"), Ok(Nanos(1_318_359_375)));
        for finer in ["0.00000762939453125d", "0.999999999999999999999999999999d", &format!("0.{}1s", "0".repeat(60))] {
            assert_eq!(parse_duration(finer), Err(DurationError::SubNanosecond(finer.to_string())));
        }
        assert!(matches!(parse_duration("999999d"), Err(DurationError::Overflow(_))));
        assert_eq!(parse_duration(""), Err(DurationError::Empty));
    }

    #[test]
    fn constructors_scale_to_nanoseconds() {
        assert_eq!(
            [Nanos::from_secs(3), Nanos::from_millis(3), Nanos::from_micros(3)],
            [3e9, 3e6, 3e3].map(|n| Nanos(n as u64))
        );
        assert_eq!((Nanos(7).as_u64(), Nanos::MAX.as_u64()), (7, u64::MAX));
        assert_eq!((Nanos(1_500_000_000).as_secs_f64(), Nanos(7).as_secs_f64()), (1.5, 7e-9));
        // To the nearest nanosecond; negative and NaN give zero, too large saturates.
        let from = [1.5, 2.4e-9, 2.6e-9, -1.0, f64::NAN, 1e300, f64::INFINITY].map(Nanos::from_secs_f64);
        assert_eq!(from, [Nanos(1_500_000_000), Nanos(2), Nanos(3), Nanos::ZERO, Nanos::ZERO, Nanos::MAX, Nanos::MAX]);
    }

    #[test]
    fn arithmetic_saturates_instead_of_wrapping() {
        assert_eq!(Nanos(3) - Nanos(5), Nanos::ZERO);
        assert_eq!(Nanos::MAX + Nanos(1), Nanos::MAX);
        assert_eq!(Nanos(7) + Nanos(5) - Nanos(5), Nanos(7));
        assert_eq!((Nanos(3).saturating_sub(Nanos(5)), Nanos(5).saturating_sub(Nanos(3))), (Nanos::ZERO, Nanos(2)));
        assert_eq!((Nanos::MAX.saturating_add(Nanos(1)), Nanos(5).saturating_add(Nanos(3))), (Nanos::MAX, Nanos(8)));
        assert_eq!((Nanos::MAX.checked_add(Nanos(1)), Nanos(5).checked_add(Nanos(3))), (None, Some(Nanos(8))));
    }

    #[test]
    fn clocks_convert_exactly_and_round_down() {
        let fast = Clock::from_rate(1.001).unwrap();
        assert_eq!(fast.ppb, 1_001_000_000);
        assert_eq!(fast.local(Nanos(1_000_000_000)), Nanos(1_001_000_000));
        // 999 · 1.001 = 999.999 → 999 (down, not to the nearest).
        assert_eq!(fast.local(Nanos(999)), Nanos(999));
        // 1000 / 1.001 = 999.000999… → 999.
        assert_eq!(fast.real(Nanos(1000)), Nanos(999));
        let slow = Clock::from_rate(0.5).unwrap();
        assert_eq!(slow.real(Nanos(u64::MAX)), Nanos::MAX);
        assert_eq!(slow.local(Nanos(u64::MAX)), Nanos(u64::MAX / 2));
        assert_eq!(Clock::EXACT.local(Nanos(12345)), Nanos(12345));
        assert_eq!((fast.rate(), slow.rate(), Clock::EXACT.rate()), (1.001, 0.5, 1.0));
        assert!(Clock::EXACT.is_exact() && !fast.is_exact());
        for bad in [0.4, 2.1, f64::NAN, f64::INFINITY] {
            assert_eq!(Clock::from_rate(bad), None);
        }
        // The first local instant at or after a real one, exactly.
        for rate in [0.5, 0.999_999_999, 1.000_000_001, 1.3, 2.0] {
            let c = Clock::from_rate(rate).unwrap();
            for real in [0u64, 1, 7, 999, 1_000_000_007, 86_400_000_000_000] {
                let t = c.local_at_or_after(Nanos(real));
                assert!(c.real(t) >= Nanos(real), "rate {rate} real {real}");
                assert!(t == Nanos::ZERO || c.real(t - Nanos(1)) < Nanos(real), "rate {rate} real {real}");
            }
        }
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
