//! Human-friendly numbers on the command line and in scenario files:
//! durations like `30s`, `2m`, `500ms`, `1h`; counts like `10k`, `1.5M`;
//! sizes like `64k`, `64KiB`, `1M`. One parser, used by every subcommand.

use std::fmt;
use std::time::Duration;

/// A value that does not parse; the message shows accepted forms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitError(String);

impl fmt::Display for UnitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UnitError {}

/// `12.5ms` → `(12.5, "ms")`: the number and the unit after it (trimmed);
/// `None` when the text does not start with a finite number.
pub fn split_number(s: &str) -> Option<(f64, &str)> {
    let s = s.trim();
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let n: f64 = s[..end].parse().ok()?;
    n.is_finite().then_some((n, s[end..].trim()))
}

/// `250ms`, `30s`, `2m`, `1h`, `1.5s`; a bare number is seconds.
pub fn parse_duration(s: &str) -> Result<Duration, UnitError> {
    let err = || {
        UnitError(format!(
            "invalid duration {s:?}: use a number with a unit, e.g. 500ms, 30s, 2m, 1h"
        ))
    };
    let (n, unit) = split_number(s).ok_or_else(err)?;
    let secs = match unit {
        "" | "s" | "sec" | "secs" => n,
        "ms" => n / 1000.0,
        "us" | "µs" => n / 1_000_000.0,
        "m" | "min" | "mins" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(err()),
    };
    if secs > 1e9 {
        return Err(err());
    }
    Ok(Duration::from_secs_f64(secs))
}

/// `1000`, `10k`, `1.5k`, `2M`: a whole number.
pub fn parse_count(s: &str) -> Result<u64, UnitError> {
    let err = || UnitError(format!("invalid count {s:?}: use e.g. 500, 10k, 1.5k, 2M"));
    let (n, unit) = split_number(s).ok_or_else(err)?;
    let mult = match unit {
        "" => 1.0,
        "k" | "K" => 1e3,
        "M" | "m" => 1e6,
        _ => return Err(err()),
    };
    let v = n * mult;
    if v.fract() != 0.0 || v > u64::MAX as f64 / 2.0 {
        return Err(err());
    }
    Ok(v as u64)
}

/// `100`, `64k`/`64KiB` (×1024), `1M`/`1MiB` (×1024²): bytes.
pub fn parse_size(s: &str) -> Result<u64, UnitError> {
    let err = || UnitError(format!("invalid size {s:?}: use e.g. 100, 64k, 64KiB, 1M"));
    let (n, unit) = split_number(s).ok_or_else(err)?;
    let mult = match unit {
        "" | "B" | "b" => 1.0,
        "k" | "K" | "KiB" | "kB" | "KB" => 1024.0,
        "M" | "MiB" | "MB" => 1024.0 * 1024.0,
        _ => return Err(err()),
    };
    let v = (n * mult).round();
    if v > u64::MAX as f64 / 2.0 {
        return Err(err());
    }
    Ok(v as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("5"), Ok(Duration::from_secs(5)));
        for bad in ["", "s", "-1s", "3 parsecs", "1e400s", "NaN"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn counts_and_sizes() {
        assert_eq!(parse_count("10k"), Ok(10_000));
        assert_eq!(parse_count("1.5k"), Ok(1500));
        assert_eq!(parse_count("2M"), Ok(2_000_000));
        assert!(parse_count("1.5").is_err());
        assert!(parse_count("ten").is_err());
        assert_eq!(parse_size("64k"), Ok(65536));
        assert_eq!(parse_size("64KiB"), Ok(65536));
        assert_eq!(parse_size("100"), Ok(100));
        assert!(parse_size("1T").is_err());
    }
}
