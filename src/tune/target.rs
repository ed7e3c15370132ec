//! The mistake-rate target of `fdlab tune --max-mistakes`, in the forms people write it:
//! `1/day`, `0.001/s`, `2/h`, `1 per week`, `once a month`, `twice a day`, `3 times per
//! hour`, `1/30d`. A month is 30 days and a year 365 days (calendar months and years vary;
//! a fixed length keeps a target one number).
//!
//! A target must be a finite rate above zero: "no mistakes ever" cannot be shown by any
//! finite observation (the exact bound after zero mistakes in T is 3.0/T, never 0), and a
//! rate of zero, a negative one or NaN is refused with the reason.

use std::fmt;

/// A mistake rate no recommendation may exceed (with 95 % confidence).
#[derive(Clone, Debug, PartialEq)]
pub struct MistakeTarget {
    /// Mistakes per second.
    pub per_s: f64,
    /// As the user wrote it.
    pub text: String,
}

/// Why a target was refused; the message names `--max-mistakes` and quotes the text.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("--max-mistakes `{text}`: {reason}")]
pub struct TargetError {
    pub text: String,
    pub reason: String,
}

/// Units of time a target may be per, in seconds, by every name accepted.
const UNITS: &[(&[&str], f64)] = &[
    (&["ns", "nanosecond"], 1e-9),
    (&["us", "µs", "microsecond"], 1e-6),
    (&["ms", "millisecond"], 1e-3),
    (&["s", "sec", "second"], 1.0),
    (&["m", "min", "minute"], 60.0),
    (&["h", "hr", "hour"], 3_600.0),
    (&["d", "day"], 86_400.0),
    (&["w", "wk", "week"], 7.0 * 86_400.0),
    (&["mo", "month"], 30.0 * 86_400.0),
    (&["y", "yr", "year"], 365.0 * 86_400.0),
];

const FORMS: &str = "write a count per time, e.g. `1/day`, `0.001/s`, `2/h`, `1 per week`, `once a month`";

/// Seconds in `text`: a unit (`day`, `days`, `week`), optionally after a number
/// (`30d`, `2 weeks`, `1.5h`).
fn period_seconds(text: &str) -> Option<f64> {
    let t = text.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let count = if number.is_empty() { 1.0 } else { number.parse::<f64>().ok()? };
    let unit = unit.trim();
    let find = |u: &str| UNITS.iter().find(|(names, _)| names.contains(&u)).map(|(_, seconds)| *seconds);
    // A plural (`days`, `hrs`) is its singular.
    let seconds = find(unit).or_else(|| unit.strip_suffix('s').and_then(find))?;
    Some(count * seconds)
}

/// The count before `a`, `an`, `per` or `/`: a number, `once`, `twice`, `N times`.
fn count(text: &str) -> Option<f64> {
    let t = text.trim();
    match t {
        "once" => return Some(1.0),
        "twice" => return Some(2.0),
        "thrice" => return Some(3.0),
        _ => {}
    }
    let t = t.strip_suffix("times").map(str::trim).unwrap_or(t);
    if !t.starts_with(|c: char| c.is_ascii_digit() || c == '.' || c == '-' || c == '+') {
        // `nan`, `inf` and words are not counts.
        return None;
    }
    t.parse::<f64>().ok()
}

impl std::str::FromStr for MistakeTarget {
    type Err = TargetError;

    fn from_str(text: &str) -> Result<MistakeTarget, TargetError> {
        let refuse = |reason: String| TargetError { text: text.to_string(), reason };
        let lower = text.trim().to_lowercase();
        if lower.is_empty() {
            return Err(refuse(format!("empty; {FORMS}")));
        }
        let (n, per) = if let Some((n, per)) = lower.split_once('/') {
            (n, per)
        } else if let Some((n, per)) = lower.split_once(" per ") {
            (n, per)
        } else if let Some((n, per)) = lower.split_once(" an ").or_else(|| lower.split_once(" a ")) {
            (n, per)
        } else {
            return Err(refuse(format!("not a rate; {FORMS}")));
        };
        if n.trim().to_lowercase().contains("nan") {
            return Err(refuse("the count is not a number (NaN)".into()));
        }
        let n = count(n).ok_or_else(|| refuse(format!("`{}` is not a count; {FORMS}", n.trim())))?;
        let seconds = period_seconds(per).ok_or_else(|| {
            refuse(format!(
                "`{}` is not a time unit (s, min, h, day, week, month = 30 d, year = 365 d; e.g. `1/day`, `1/30d`)",
                per.trim()
            ))
        })?;
        if !n.is_finite() {
            return Err(refuse("the count must be a finite number".into()));
        }
        if n <= 0.0 {
            return Err(refuse(
                "the rate must be greater than zero: no finite observation can show that a detector never errs (after \
                 no mistakes in T the 95 % bound is still 3.0/T)"
                    .into(),
            ));
        }
        if !(seconds.is_finite() && seconds > 0.0) {
            return Err(refuse("the period must be greater than zero".into()));
        }
        let per_s = n / seconds;
        if !(per_s.is_finite() && per_s > 0.0) {
            return Err(refuse("the rate is out of range".into()));
        }
        Ok(MistakeTarget { per_s, text: text.trim().to_string() })
    }
}

impl MistakeTarget {
    pub fn per_day(&self) -> f64 {
        self.per_s * 86_400.0
    }
}

impl fmt::Display for MistakeTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({} per day)", self.text, crate::tune::short_number(self.per_day()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn per_s(text: &str) -> f64 {
        text.parse::<MistakeTarget>().unwrap_or_else(|e| panic!("{text}: {e}")).per_s
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * b.abs()
    }

    #[test]
    fn the_forms_users_write() {
        let day = 86_400.0;
        for (text, expected) in [
            ("1/day", 1.0 / day),
            ("0.001/s", 0.001),
            ("2/h", 2.0 / 3600.0),
            ("1 per week", 1.0 / (7.0 * day)),
            ("once a month", 1.0 / (30.0 * day)),
            ("Once a Month", 1.0 / (30.0 * day)),
            ("twice a day", 2.0 / day),
            ("thrice a week", 3.0 / (7.0 * day)),
            ("3 times per hour", 3.0 / 3600.0),
            ("once an hour", 1.0 / 3600.0),
            ("1/year", 1.0 / (365.0 * day)),
            ("1/yr", 1.0 / (365.0 * day)),
            ("1/30d", 1.0 / (30.0 * day)),
            ("1 / 2 weeks", 1.0 / (14.0 * day)),
            ("10/days", 10.0 / day),
            ("5/min", 5.0 / 60.0),
            ("2/hrs", 2.0 / 3600.0),
            ("1/ms", 1000.0),
            ("1e-3/s", 1e-3),
        ] {
            assert!(close(per_s(text), expected), "{text}: {} != {expected}", per_s(text));
        }
    }

    #[test]
    fn per_day_and_as_printed() {
        let t: MistakeTarget = "once a week".parse().unwrap();
        assert!(close(t.per_day(), 1.0 / 7.0));
        assert_eq!(t.to_string(), "once a week (0.143 per day)");
        assert_eq!("2/h".parse::<MistakeTarget>().unwrap().to_string(), "2/h (48 per day)");
    }

    #[test]
    fn extremes_parse_to_finite_positive_rates() {
        assert!(close(per_s("1/1000y"), 1.0 / (1000.0 * 365.0 * 86_400.0)));
        assert!(close(per_s("1000000/ns"), 1e15));
        assert!(per_s("1e-300/s") > 0.0);
    }

    #[test]
    fn malformed_and_impossible_targets_name_the_argument_and_say_why() {
        for (text, why) in [
            ("", "empty"),
            ("often", "not a rate"),
            ("0/day", "greater than zero"),
            ("-1/day", "greater than zero"),
            ("NaN/day", "NaN"),
            ("nan per day", "NaN"),
            ("inf/day", "not a count"),
            ("1/fortnight", "not a time unit"),
            ("1/0d", "period must be greater than zero"),
            ("x/day", "not a count"),
            ("1e-320/y", "out of range"),
            ("1e308/ns", "out of range"),
        ] {
            let e = text.parse::<MistakeTarget>().expect_err(text).to_string();
            assert!(e.starts_with(&format!("--max-mistakes `{text}`: ")), "{e}");
            assert!(e.contains(why), "{text}: {e}");
        }
    }
}
