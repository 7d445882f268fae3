//! Go-style durations for flags (`15s`, `5ms`, `1m30s`, `1000s`), as the Go original accepts.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GoDuration(pub Duration);

/// Parses a Go duration (`time.ParseDuration`): an optional sign, then numbers with units;
/// `0` alone needs no unit. Returns whether it was negative, and its magnitude.
fn parse_signed(s: &str) -> Result<(bool, Duration), String> {
    let invalid = || {
        format!(
            "invalid duration {s:?}: use a number with a unit (ns, us, ms, s, m, h), e.g. 15s or 1m30s"
        )
    };
    let (negative, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Ok((false, Duration::ZERO));
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(invalid)?;
        if number_len == 0 {
            return Err(invalid());
        }
        let value: f64 = rest[..number_len].parse().map_err(|_| invalid())?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds = match &rest[..unit_len] {
            "ns" => 1e-9,
            // Go accepts the micro sign and the Greek mu.
            "us" | "\u{b5}s" | "\u{3bc}s" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(invalid()),
        };
        total += value * seconds;
        rest = &rest[unit_len..];
    }
    let magnitude = Duration::try_from_secs_f64(total).map_err(|_| invalid())?;
    Ok((negative && !magnitude.is_zero(), magnitude))
}

impl FromStr for GoDuration {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match parse_signed(s)? {
            (false, d) => Ok(GoDuration(d)),
            (true, _) => Err(format!("invalid duration {s:?}: must not be negative")),
        }
    }
}

/// A Go duration flag whose zero or negative value means "the default" (Karmada's
/// `ratelimiterflag.SetDefaults`) or "off" (`--resync-period`): `None` then.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PositiveOrUnset(pub Option<Duration>);

impl FromStr for PositiveOrUnset {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (negative, d) = parse_signed(s)?;
        Ok(PositiveOrUnset((!negative && !d.is_zero()).then_some(d)))
    }
}

impl PositiveOrUnset {
    /// The value, or `default` when unset.
    pub fn or(self, default: Duration) -> Duration {
        self.0.unwrap_or(default)
    }
}

impl fmt::Display for GoDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_durations() {
        let d = |s: &str| s.parse::<GoDuration>().unwrap().0;
        assert_eq!(d("15s"), Duration::from_secs(15));
        assert_eq!(d("5ms"), Duration::from_millis(5));
        assert_eq!(d("1000s"), Duration::from_secs(1000));
        assert_eq!(d("1m30s"), Duration::from_secs(90));
        assert_eq!(d("1.5h"), Duration::from_secs(5400));
        assert_eq!(d("0"), Duration::ZERO);
        assert_eq!(d("0s"), Duration::ZERO);
        assert_eq!(d("+2s"), Duration::from_secs(2));
        assert_eq!(d("3\u{3bc}s"), Duration::from_micros(3));
        assert_eq!(d("-0"), Duration::ZERO);
        for bad in ["", "15", "s", "15x", "-1s", "1s2", "-"] {
            assert!(bad.parse::<GoDuration>().is_err(), "{bad}");
        }
    }

    #[test]
    fn zero_or_negative_means_unset() {
        let d = |s: &str| s.parse::<PositiveOrUnset>().unwrap().0;
        assert_eq!(d("5ms"), Some(Duration::from_millis(5)));
        assert_eq!(d("0"), None);
        assert_eq!(d("0s"), None);
        assert_eq!(d("-1s"), None);
        assert!("-x".parse::<PositiveOrUnset>().is_err());
    }
}
