//! Human-friendly values on the command line, in scenario files and in the
//! scenario a `--processes` parent hands its workers: one type per kind of
//! value, each with ONE parser ([`FromStr`]) that flags, files (TOML or JSON
//! numbers and strings) and `bench --matrix` cells all go through, and a
//! [`Display`](fmt::Display) form that parses back to the same value.
//!
//! - [`Dur`]: `500ms`, `30s`, `1m30s`, `1.5s`, `250us`; a bare number is seconds.
//! - [`Count`]: `250`, `10k`, `1.5k`, `2M` — decimal (k = 1,000).
//! - [`ByteSize`]: `100`, `1k` = `1KiB` = `1kB` = 1,024 B, `1M` = `1MiB` =
//!   1,048,576 B — sizes are binary, counts are decimal.
//! - [`Rate`] (per second): `10`, `0.5`, `2.5k`, `10/s`, `600/m`, `36k/h`.

use serde::de::{self, Deserialize, Deserializer, Visitor};
use serde::{Serialize, Serializer};
use std::fmt;
use std::str::FromStr;
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

/// `number × unit` for a plain non-negative decimal (`80`, `1.5`, `0.25`;
/// no sign, no exponent), rounded to the nearest whole number; `None` when
/// malformed or too large. Exact (no float in between), so parsers of other
/// unit families — the network emulator's bit rates and decimal sizes —
/// print and read back the same integer.
pub fn scale_decimal(number: &str, unit: u128) -> Option<u128> {
    match Decimal::split(number.trim())? {
        (d, "") => d.times_rounded(unit),
        _ => None,
    }
}

/// A non-negative decimal as written (`1_000.25` → 1000 and "25"), kept
/// exact so `1.1k` is 1,100 and not 1,100.0000000000002.
#[derive(Debug, Clone, Copy)]
struct Decimal {
    whole: u128,
    /// Fraction digits as an integer, their count, and 10^count.
    frac: u128,
    digits: usize,
    scale: u128,
}

impl Decimal {
    /// The decimal at the start of `s` and the rest; `_` separates digits.
    fn split(s: &str) -> Option<(Decimal, &str)> {
        let end = s
            .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
            .unwrap_or(s.len());
        let (num, rest) = s.split_at(end);
        let num = num.replace('_', "");
        let (w, f) = num.split_once('.').unwrap_or((&num, ""));
        if (w.is_empty() && f.is_empty()) || f.contains('.') || w.len() > 30 || f.len() > 18 {
            return None;
        }
        let whole = if w.is_empty() { 0 } else { w.parse().ok()? };
        let frac = if f.is_empty() { 0 } else { f.parse().ok()? };
        let scale = 10u128.pow(f.len() as u32);
        Some((
            Decimal {
                whole,
                frac,
                digits: f.len(),
                scale,
            },
            rest,
        ))
    }

    /// `self × mult` when that is a whole number.
    fn times_exact(self, mult: u128) -> Option<u128> {
        let scaled = self
            .whole
            .checked_mul(self.scale)?
            .checked_add(self.frac)?
            .checked_mul(mult)?;
        (scaled % self.scale == 0).then_some(scaled / self.scale)
    }

    /// `self × mult`, rounded to the nearest whole number.
    fn times_rounded(self, mult: u128) -> Option<u128> {
        let scaled = self
            .whole
            .checked_mul(self.scale)?
            .checked_add(self.frac)?
            .checked_mul(mult)?;
        Some((scaled + self.scale / 2) / self.scale)
    }

    /// The nearest `f64`, as Rust parses the same digits (so a rate's
    /// printed form reads back to the very same number).
    fn to_f64(self) -> f64 {
        let text = format!("{}.{:0>w$}", self.whole, self.frac, w = self.digits);
        text.parse().unwrap_or(f64::NAN)
    }
}

/// A duration: `500ms`, `30s`, `2m`, `1h`, `1.5s`, `250us`, compound forms
/// (`1m30s`, `1h2m`, largest unit first); a bare number is seconds (`90`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Dur(pub Duration);

/// Unit names and their length in nanoseconds (`ns` makes every
/// [`Dur`] writable exactly).
const DURATION_UNITS: [(&str, u128); 11] = [
    ("h", 3_600_000_000_000),
    ("min", 60_000_000_000),
    ("mins", 60_000_000_000),
    ("m", 60_000_000_000),
    ("s", 1_000_000_000),
    ("sec", 1_000_000_000),
    ("secs", 1_000_000_000),
    ("ms", 1_000_000),
    ("us", 1_000),
    ("µs", 1_000),
    ("ns", 1),
];

/// The unit at the start of `s` (all letters up to the next number, so
/// `ms` is never `m` then `s`), its length in nanoseconds, and the rest.
fn duration_unit(s: &str) -> Option<(u128, &str)> {
    let end = s
        .find(|c: char| c.is_ascii_digit() || c == '.' || c.is_whitespace())
        .unwrap_or(s.len());
    let (name, rest) = s.split_at(end);
    DURATION_UNITS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|&(_, ns)| (ns, rest))
}

/// The longest duration accepted (about 31 years): far beyond any run, and
/// small enough that every form of it converts exactly.
const MAX_DURATION_SECS: u64 = 1_000_000_000;

impl FromStr for Dur {
    type Err = UnitError;

    fn from_str(s: &str) -> Result<Dur, UnitError> {
        let err = || {
            UnitError(format!(
                "invalid duration {s:?}: use a number with a unit (h, m, s, ms, us), \
                 e.g. 500ms, 30s, 1m30s, 1.5s; a bare number is seconds"
            ))
        };
        let text = s.trim();
        if text.is_empty() {
            return Err(err());
        }
        if let Some((d, "")) = Decimal::split(text) {
            let nanos = d.times_rounded(1_000_000_000).ok_or_else(err)?;
            return from_nanos(nanos).ok_or_else(err);
        }
        let mut rest = text;
        let mut total: u128 = 0;
        let mut last_unit = u128::MAX;
        while !rest.is_empty() {
            let (d, after) = Decimal::split(rest).ok_or_else(err)?;
            let (unit, after) = duration_unit(after.trim_start()).ok_or_else(err)?;
            if unit >= last_unit {
                return Err(err());
            }
            last_unit = unit;
            let part = d.times_rounded(unit).ok_or_else(err)?;
            total = total.checked_add(part).ok_or_else(err)?;
            rest = after.trim_start();
        }
        from_nanos(total).ok_or_else(err)
    }
}

fn from_nanos(nanos: u128) -> Option<Dur> {
    if nanos > u128::from(MAX_DURATION_SECS) * 1_000_000_000 {
        return None;
    }
    let secs = (nanos / 1_000_000_000) as u64;
    let sub = (nanos % 1_000_000_000) as u32;
    Some(Dur(Duration::new(secs, sub)))
}

impl fmt::Display for Dur {
    /// The largest units first, each a whole number: `1h2m`, `1m30s`,
    /// `1s500ms`, `250us`, `0s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total = self.0.as_nanos();
        if total == 0 {
            return f.write_str("0s");
        }
        let mut left = total;
        for (name, unit) in [
            ("h", 3_600_000_000_000u128),
            ("m", 60_000_000_000),
            ("s", 1_000_000_000),
            ("ms", 1_000_000),
            ("us", 1_000),
            ("ns", 1),
        ] {
            let n = left / unit;
            if n > 0 {
                write!(f, "{n}{name}")?;
            }
            left %= unit;
        }
        Ok(())
    }
}

impl From<Duration> for Dur {
    fn from(d: Duration) -> Dur {
        Dur(d)
    }
}

impl From<Dur> for Duration {
    fn from(d: Dur) -> Duration {
        d.0
    }
}

/// A count of things: `250`, `10k`, `1.5k`, `2M` (k = 1,000, M = 1,000,000).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Count(pub u64);

impl FromStr for Count {
    type Err = UnitError;

    fn from_str(s: &str) -> Result<Count, UnitError> {
        let err = || {
            UnitError(format!(
                "invalid count {s:?}: use a whole number, e.g. 500, 10k, 1.5k, 2M (k = 1,000)"
            ))
        };
        let (d, unit) = Decimal::split(s.trim()).ok_or_else(err)?;
        let mult = match unit.trim() {
            "" => 1,
            "k" | "K" => 1_000,
            "M" | "m" => 1_000_000,
            _ => return Err(err()),
        };
        let n = d.times_exact(mult).ok_or_else(err)?;
        u64::try_from(n).map(Count).map_err(|_| err())
    }
}

impl fmt::Display for Count {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A number of bytes. Sizes are binary: `1k` = `1KiB` = `1kB` = 1,024 B,
/// `1M` = `1MiB` = `1MB` = 1,048,576 B; fractions round (`1.5k` = 1,536).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ByteSize(pub u64);

const KIB: u64 = 1024;
const MIB: u64 = 1024 * 1024;

impl FromStr for ByteSize {
    type Err = UnitError;

    fn from_str(s: &str) -> Result<ByteSize, UnitError> {
        let err = || {
            UnitError(format!(
                "invalid size {s:?}: use bytes, e.g. 100, 64k, 64KiB, 1M (sizes are binary: 1k = 1,024 B)"
            ))
        };
        let (d, unit) = Decimal::split(s.trim()).ok_or_else(err)?;
        let mult = match unit.trim() {
            "" | "B" | "b" => 1,
            "k" | "K" | "KiB" | "kB" | "KB" => KIB,
            "M" | "MiB" | "MB" => MIB,
            _ => return Err(err()),
        };
        let n = d.times_rounded(u128::from(mult)).ok_or_else(err)?;
        u64::try_from(n).map(ByteSize).map_err(|_| err())
    }
}

impl fmt::Display for ByteSize {
    /// Whole KiB or MiB when exact (`64KiB`), else bytes (`100`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            0 => f.write_str("0"),
            n if n % MIB == 0 => write!(f, "{}MiB", n / MIB),
            n if n % KIB == 0 => write!(f, "{}KiB", n / KIB),
            n => write!(f, "{n}"),
        }
    }
}

/// Events per second: `10`, `0.5`, `2.5k`, or per another unit of time:
/// `10/s`, `600/m`, `36k/h` (all three are 10 per second).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default)]
pub struct Rate(pub f64);

impl FromStr for Rate {
    type Err = UnitError;

    fn from_str(s: &str) -> Result<Rate, UnitError> {
        let err = || {
            UnitError(format!(
                "invalid rate {s:?}: use a number per second, e.g. 10, 0.5, 2.5k, \
                 or per unit of time: 10/s, 600/m, 36k/h"
            ))
        };
        let (amount, per) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p.trim())),
            None => (s, None),
        };
        let (d, unit) = Decimal::split(amount.trim()).ok_or_else(err)?;
        let mult = match unit.trim() {
            "" => 1.0,
            "k" | "K" => 1e3,
            "M" | "m" => 1e6,
            _ => return Err(err()),
        };
        let secs = match per {
            None | Some("s" | "sec") => 1.0,
            Some("m" | "min") => 60.0,
            Some("h") => 3600.0,
            Some(_) => return Err(err()),
        };
        let v = d.to_f64() * mult / secs;
        if !v.is_finite() {
            return Err(err());
        }
        Ok(Rate(v))
    }
}

impl fmt::Display for Rate {
    /// Per second, the shortest form that parses back exactly (`10`, `0.5`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Serde for the unit types: written as their text, read from text or from
/// a number (a bare number means what it means on the command line).
macro_rules! text_serde {
    ($ty:ident, $expecting:literal) => {
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<$ty, D::Error> {
                struct V;
                impl Visitor<'_> for V {
                    type Value = $ty;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str($expecting)
                    }
                    fn visit_str<E: de::Error>(self, v: &str) -> Result<$ty, E> {
                        v.parse().map_err(E::custom)
                    }
                    fn visit_u64<E: de::Error>(self, v: u64) -> Result<$ty, E> {
                        self.visit_str(&v.to_string())
                    }
                    fn visit_i64<E: de::Error>(self, v: i64) -> Result<$ty, E> {
                        self.visit_str(&v.to_string())
                    }
                    fn visit_f64<E: de::Error>(self, v: f64) -> Result<$ty, E> {
                        self.visit_str(&v.to_string())
                    }
                }
                d.deserialize_any(V)
            }
        }
    };
}

text_serde!(Dur, "a duration such as 30s, 1m30s or 500ms, or seconds");
text_serde!(Count, "a count such as 500 or 10k");
text_serde!(ByteSize, "a size in bytes such as 100, 64k or 1MiB");
text_serde!(Rate, "a rate such as 10, 2.5k or 600/m");

#[cfg(test)]
mod tests {
    use super::*;

    fn dur(s: &str) -> Result<Duration, UnitError> {
        s.parse::<Dur>().map(|d| d.0)
    }

    #[test]
    fn durations() {
        assert_eq!(dur("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(dur("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(dur("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(dur("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(dur("5"), Ok(Duration::from_secs(5)));
        assert_eq!(dur("90"), Ok(Duration::from_secs(90)));
        assert_eq!(dur("0.25"), Ok(Duration::from_millis(250)));
        assert_eq!(dur("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(dur("1h2m"), Ok(Duration::from_secs(3720)));
        assert_eq!(dur("1m 30s"), Ok(Duration::from_secs(90)));
        assert_eq!(dur("250us"), Ok(Duration::from_micros(250)));
        assert_eq!(dur("250µs"), Ok(Duration::from_micros(250)));
        assert_eq!(dur("1.5h"), Ok(Duration::from_secs(5400)));
        assert_eq!(dur("2min"), Ok(Duration::from_secs(120)));
        assert_eq!(dur("0"), Ok(Duration::ZERO));
        for bad in [
            "",
            "s",
            "-1s",
            "3 parsecs",
            "1e400s",
            "NaN",
            "inf",
            "30s1m",
            "1m1m",
            "1.2.3s",
            "1s 2",
            "10 s x",
            "40000000000s",
        ] {
            let e = dur(bad).expect_err(bad);
            assert!(e.to_string().contains("1m30s"), "shows the forms: {e}");
        }
    }

    #[test]
    fn durations_print_in_a_form_that_parses_back() {
        for (d, text) in [
            (Duration::ZERO, "0s"),
            (Duration::from_secs(10), "10s"),
            (Duration::from_secs(90), "1m30s"),
            (Duration::from_secs(3720), "1h2m"),
            (Duration::from_millis(1500), "1s500ms"),
            (Duration::from_micros(250), "250us"),
            (Duration::new(1, 7), "1s7ns"),
        ] {
            assert_eq!(Dur(d).to_string(), text);
            assert_eq!(dur(text), Ok(d));
        }
    }

    #[test]
    fn decimals_scale_exactly() {
        assert_eq!(scale_decimal("1.5", 1_000_000), Some(1_500_000));
        assert_eq!(scale_decimal("0.1", 1), Some(0));
        assert_eq!(scale_decimal("1.1", 1000), Some(1100));
        assert_eq!(scale_decimal(" 80 ", 1), Some(80));
        for bad in ["", "-1", "1e3", "1.2.3", "12mbit", "nan"] {
            assert_eq!(scale_decimal(bad, 1), None, "{bad}");
        }
    }

    #[test]
    fn counts() {
        let count = |s: &str| s.parse::<Count>().map(|c| c.0);
        assert_eq!(count("250"), Ok(250));
        assert_eq!(count("10k"), Ok(10_000));
        assert_eq!(count("1.5k"), Ok(1500));
        assert_eq!(count("1.1k"), Ok(1100));
        assert_eq!(count("2M"), Ok(2_000_000));
        assert_eq!(count("1_000"), Ok(1000));
        for bad in [
            "1.5",
            "ten",
            "-3",
            "",
            "1T",
            "1.0005k",
            "99999999999999999999999",
        ] {
            let e = count(bad).expect_err(bad);
            assert!(e.to_string().contains("10k"), "shows the forms: {e}");
        }
        assert_eq!(Count(1500).to_string(), "1500");
    }

    #[test]
    fn sizes_are_binary() {
        let size = |s: &str| s.parse::<ByteSize>().map(|b| b.0);
        assert_eq!(size("100"), Ok(100));
        assert_eq!(size("1k"), Ok(1024));
        assert_eq!(size("1KiB"), Ok(1024));
        assert_eq!(size("1kB"), Ok(1024));
        assert_eq!(size("64k"), Ok(65536));
        assert_eq!(size("64KiB"), Ok(65536));
        assert_eq!(size("1M"), Ok(1_048_576));
        assert_eq!(size("1MiB"), Ok(1_048_576));
        assert_eq!(size("1.5k"), Ok(1536));
        for bad in ["1T", "ten", "-1", "", "1Mb/s"] {
            let e = size(bad).expect_err(bad);
            assert!(e.to_string().contains("1k = 1,024"), "shows the rule: {e}");
        }
        for n in [0, 100, 1024, 65536, 1_048_576, 1500] {
            assert_eq!(size(&ByteSize(n).to_string()), Ok(n));
        }
        assert_eq!(ByteSize(65536).to_string(), "64KiB");
    }

    #[test]
    fn rates() {
        let rate = |s: &str| s.parse::<Rate>().map(|r| r.0);
        assert_eq!(rate("10"), Ok(10.0));
        assert_eq!(rate("0.5"), Ok(0.5));
        assert_eq!(rate("2.5k"), Ok(2500.0));
        assert_eq!(rate("1_000"), Ok(1000.0));
        assert_eq!(rate("10/s"), Ok(10.0));
        assert_eq!(rate("600/m"), Ok(10.0));
        assert_eq!(rate("36k/h"), Ok(10.0));
        assert_eq!(rate("0"), Ok(0.0));
        for bad in ["-3", "ten", "", "10/week", "/s", "10/", "NaN"] {
            let e = rate(bad).expect_err(bad);
            assert!(e.to_string().contains("600/m"), "shows the forms: {e}");
        }
        for r in [10.0, 0.5, 20.0 / 3.0, 1e-3] {
            assert_eq!(rate(&Rate(r).to_string()), Ok(r));
        }
    }

    #[test]
    fn serde_takes_numbers_and_strings_and_writes_text() {
        let d: Dur = serde_json::from_str("\"1m30s\"").expect("string");
        assert_eq!(d.0, Duration::from_secs(90));
        let d: Dur = serde_json::from_str("1.5").expect("seconds");
        assert_eq!(d.0, Duration::from_millis(1500));
        let c: Count = serde_json::from_str("1000").expect("number");
        assert_eq!(c, Count(1000));
        assert!(serde_json::from_str::<Count>("-1").is_err());
        assert!(serde_json::from_str::<Count>("1.5").is_err());
        let b: ByteSize = serde_json::from_str("\"1k\"").expect("string");
        assert_eq!(b, ByteSize(1024));
        let r: Rate = serde_json::from_str("0.5").expect("float");
        assert_eq!(r, Rate(0.5));
        let e = serde_json::from_str::<Rate>("\"fast\"").expect_err("bad");
        assert!(e.to_string().contains("600/m"), "{e}");
        let text = serde_json::to_string(&(
            Dur(Duration::from_secs(90)),
            Count(5),
            ByteSize(1024),
            Rate(0.5),
        ))
        .expect("json");
        assert_eq!(text, r#"["1m30s","5","1KiB","0.5"]"#);
        let back: (Dur, Count, ByteSize, Rate) = serde_json::from_str(&text).expect("back");
        assert_eq!(
            back,
            (
                Dur(Duration::from_secs(90)),
                Count(5),
                ByteSize(1024),
                Rate(0.5)
            )
        );
    }
}
