//! Timeouts and intervals in seconds, fractions allowed (`-idletimeout 0.5`): tests shorten
//! them to milliseconds instead of waiting whole seconds. One type checks the range for
//! the command line ([`FromStr`]) and the configuration file ([`Deserialize`]) alike;
//! whole values are shown and written as before (`1800`, not `1800.0`).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The longest accepted: a century, far beyond any timeout and safe to add to an instant.
pub const MAX_SECS: u64 = 100 * 365 * 24 * 3600;

/// A duration in seconds, fractions down to the nanosecond. `ZERO` says whether 0 is
/// accepted (an interval that 0 switches off) or refused (a timeout).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Seconds<const ZERO: bool = true>(Duration);

/// Seconds that must be more than 0: a timeout of 0 would end everything at once.
pub type Timeout = Seconds<false>;

/// Why a number of seconds is refused; the message names the accepted range.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{given}` is not a number of seconds ({range}, fractions allowed)")]
pub struct SecondsError {
    given: String,
    range: &'static str,
}

impl<const ZERO: bool> Seconds<ZERO> {
    /// Whole seconds; panics (at compile time in a const) on a value out of range.
    pub const fn from_secs(secs: u64) -> Self {
        assert!((ZERO || secs > 0) && secs <= MAX_SECS, "seconds out of range");
        Seconds(Duration::from_secs(secs))
    }

    /// The duration.
    pub const fn get(self) -> Duration {
        self.0
    }

    /// Whether this is 0 (only a `Seconds<true>` can be).
    pub const fn is_zero(self) -> bool {
        self.0.is_zero()
    }

    /// Checks the range of `d`.
    pub fn new(d: Duration) -> Result<Self, SecondsError> {
        if (ZERO || !d.is_zero()) && d <= Duration::from_secs(MAX_SECS) {
            Ok(Seconds(d))
        } else {
            Err(Self::refused(&in_seconds(d)))
        }
    }

    fn refused(given: &str) -> SecondsError {
        let range = if ZERO { "0 to 3153600000" } else { "more than 0, up to 3153600000" };
        SecondsError { given: given.to_string(), range }
    }
}

impl<const ZERO: bool> FromStr for Seconds<ZERO> {
    type Err = SecondsError;

    /// `10`, `0.5`, `.25`, `2.`: decimal digits only (no sign, exponent or more than nine
    /// decimals), so the value is exact.
    fn from_str(s: &str) -> Result<Self, SecondsError> {
        let (whole, fraction) = s.split_once('.').unwrap_or((s, ""));
        let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
        if whole.len() + fraction.len() == 0 || !digits(whole) || !digits(fraction) || fraction.len() > 9 {
            return Err(Self::refused(s));
        }
        let secs = if whole.is_empty() { Some(0) } else { whole.parse::<u64>().ok() };
        let nanos = format!("{fraction:0<9}").parse::<u32>().unwrap_or(0);
        match secs {
            Some(secs) if secs <= MAX_SECS => Self::new(Duration::new(secs, nanos)).map_err(|_| Self::refused(s)),
            _ => Err(Self::refused(s)),
        }
    }
}

impl<const ZERO: bool> fmt::Display for Seconds<ZERO> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&in_seconds(self.0))
    }
}

/// `d` in seconds as short as exact: `1800`, `0.5`, `0.001`.
pub fn in_seconds(d: Duration) -> String {
    match d.subsec_nanos() {
        0 => d.as_secs().to_string(),
        nanos => format!("{}.{}", d.as_secs(), format!("{nanos:09}").trim_end_matches('0')),
    }
}

impl<const ZERO: bool> Serialize for Seconds<ZERO> {
    /// A whole number stays an integer (`idle-timeout = 1800`); a fraction is a float.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.0.subsec_nanos() == 0 {
            s.serialize_u64(self.0.as_secs())
        } else {
            s.serialize_f64(self.0.as_secs_f64())
        }
    }
}

impl<'de, const ZERO: bool> Deserialize<'de> for Seconds<ZERO> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor<const ZERO: bool>;
        impl<const ZERO: bool> serde::de::Visitor<'_> for Visitor<ZERO> {
            type Value = Seconds<ZERO>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number of seconds")
            }

            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
                v.to_string().parse().map_err(E::custom)
            }

            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
                v.to_string().parse().map_err(E::custom)
            }

            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Self::Value, E> {
                // Rust writes the shortest decimal that reads back as `v`, never an
                // exponent: the exact parser then judges it as typed.
                v.to_string().parse().map_err(E::custom)
            }
        }
        d.deserialize_any(Visitor::<ZERO>)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_and_fractional_seconds_parse_and_show_as_given() {
        for (text, shown) in [("10", "10"), ("0.5", "0.5"), (".25", "0.25"), ("2.", "2"), ("1800", "1800")] {
            let s: Seconds = text.parse().unwrap();
            assert_eq!(s.to_string(), shown, "{text}");
        }
        assert_eq!("0.001".parse::<Timeout>().unwrap().get(), Duration::from_millis(1));
        assert_eq!("0".parse::<Seconds>().unwrap(), Seconds::from_secs(0));
    }

    #[test]
    fn out_of_range_and_malformed_values_are_refused() {
        for bad in ["", ".", "-1", "1e3", "x", "1.0000000001", "3153600001", "99999999999999999999"] {
            assert!(bad.parse::<Seconds>().is_err(), "{bad}");
        }
        for zero in ["0", "0.0", ".000"] {
            let e = zero.parse::<Timeout>().unwrap_err().to_string();
            assert!(e.contains("more than 0"), "{e}");
        }
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct File {
        t: Timeout,
        i: Seconds,
    }

    #[test]
    fn files_keep_whole_numbers_as_integers_and_check_the_range() {
        let f = File { t: Timeout::from_secs(10), i: "0.25".parse().unwrap() };
        let text = toml::to_string(&f).unwrap();
        assert_eq!(text, "t = 10\ni = 0.25\n");
        assert_eq!(toml::from_str::<File>(&text).unwrap(), f);
        let zero = toml::from_str::<File>("t = 0\ni = 0\n").unwrap_err().to_string();
        assert!(zero.contains("more than 0"), "{zero}");
        assert!(toml::from_str::<File>("t = -1.5\ni = 0\n").is_err());
        assert!(toml::from_str::<File>("t = 1\ni = -3\n").is_err());
        assert_eq!(serde_json::to_string(&f).unwrap(), r#"{"t":10,"i":0.25}"#);
    }
}
