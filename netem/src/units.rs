//! The spec's values that are the network's own: bit rates (`12mbit`), decimal
//! sizes (`64kB` = 64,000 bytes, as network figures are quoted; `KiB` for 1,024)
//! and percentages. Durations are the workspace's [`protocol::units::Dur`], with a
//! unit required (`80` alone could be seconds or milliseconds: refused).
//!
//! Values are kept as integers (nanoseconds, bits per second, bytes) so that a spec
//! printed and parsed again is equal to the original, which a float round trip
//! would not guarantee.

use std::time::Duration;

use protocol::units::{Dur, scale_decimal};

/// Splits `80ms` into (`80`, `ms`).
fn split_unit(text: &str) -> (&str, &str) {
    let at = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    text.split_at(at)
}

pub(crate) const DURATION_FORMS: &str = "a duration like `80ms`, `1.5ms`, `250us` or `60s`";

pub(crate) fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    if !text.chars().any(char::is_alphabetic) {
        return None;
    }
    text.parse::<Dur>().ok().map(|d| d.0)
}

pub(crate) fn format_duration(d: Duration) -> String {
    Dur(d).to_string()
}

pub(crate) const RATE_FORMS: &str = "a rate in bits per second like `500kbit`, `12mbit` or `1gbit`";

const RATE_UNITS: [(&str, u128); 4] = [
    ("gbit", 1_000_000_000),
    ("mbit", 1_000_000),
    ("kbit", 1_000),
    ("bit", 1),
];

pub(crate) fn parse_rate(text: &str) -> Option<u64> {
    let (number, unit) = split_unit(text.trim());
    let unit = unit.to_ascii_lowercase();
    let (_, size) = RATE_UNITS.iter().find(|(name, _)| *name == unit)?;
    let bps = u64::try_from(scale_decimal(number, *size)?).ok()?;
    (bps > 0).then_some(bps)
}

pub(crate) fn format_rate(bps: u64) -> String {
    let bps = u128::from(bps);
    for (unit, size) in RATE_UNITS {
        if bps.is_multiple_of(size) {
            return format!("{}{unit}", bps / size);
        }
    }
    format!("{bps}bit")
}

const SIZE_UNITS: [(&str, u128); 5] = [
    ("mb", 1_000_000),
    ("kb", 1_000),
    ("mib", 1 << 20),
    ("kib", 1 << 10),
    ("b", 1),
];

pub(crate) fn parse_size(text: &str) -> Option<u64> {
    let (number, unit) = split_unit(text.trim());
    let unit = unit.to_ascii_lowercase();
    let (_, size) = SIZE_UNITS.iter().find(|(name, _)| *name == unit)?;
    let bytes = u64::try_from(scale_decimal(number, *size)?).ok()?;
    (bytes > 0).then_some(bytes)
}

pub(crate) fn format_size(bytes: u64) -> String {
    let bytes = u128::from(bytes);
    for (unit, size) in [
        ("MB", 1_000_000u128),
        ("kB", 1_000),
        ("MiB", 1 << 20),
        ("KiB", 1 << 10),
    ] {
        if bytes.is_multiple_of(size) {
            return format!("{}{unit}", bytes / size);
        }
    }
    format!("{bytes}B")
}

pub(crate) const PERCENT_FORMS: &str = "a percentage below 100 like `1%` or `0.25%`";

/// Percentages stay floats (a probability is continuous); the shortest-repr printing
/// of `f64` parses back to the same value.
pub(crate) fn parse_percent(text: &str) -> Option<f64> {
    let number = text.trim().strip_suffix('%')?;
    scale_decimal(number, 1)?;
    let value: f64 = number.trim().parse().ok()?;
    (value.is_finite() && (0.0..100.0).contains(&value)).then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_need_a_unit_and_print_as_the_workspace_does() {
        assert_eq!(parse_duration("80ms"), Some(Duration::from_millis(80)));
        assert_eq!(parse_duration("1.5ms"), Some(Duration::from_micros(1500)));
        assert_eq!(parse_duration("250µs"), Some(Duration::from_micros(250)));
        assert_eq!(parse_duration("0.1ns"), Some(Duration::ZERO));
        assert_eq!(parse_duration("2min"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("80"), None);
        assert_eq!(parse_duration("ms"), None);
        assert_eq!(parse_duration("-1ms"), None);
        assert_eq!(parse_duration("1e3ms"), None);
        assert_eq!(format_duration(Duration::from_secs(60)), "1m");
        assert_eq!(format_duration(Duration::from_micros(1500)), "1ms500us");
        assert_eq!(format_duration(Duration::from_nanos(7)), "7ns");
        assert_eq!(format_duration(Duration::ZERO), "0s");
        for d in [60_000_000_000, 1_500_000, 7, 0, 80_000_000] {
            let d = Duration::from_nanos(d);
            assert_eq!(parse_duration(&format_duration(d)), Some(d));
        }
    }

    #[test]
    fn rates_are_bits_per_second_with_decimal_prefixes() {
        assert_eq!(parse_rate("12mbit"), Some(12_000_000));
        assert_eq!(parse_rate("12Mbit"), Some(12_000_000));
        assert_eq!(parse_rate("1.5mbit"), Some(1_500_000));
        assert_eq!(parse_rate("500kbit"), Some(500_000));
        assert_eq!(parse_rate("1gbit"), Some(1_000_000_000));
        assert_eq!(parse_rate("0mbit"), None);
        assert_eq!(parse_rate("12mbps"), None, "bytes or bits? refused");
        assert_eq!(format_rate(1_500_000), "1500kbit");
        assert_eq!(format_rate(12_000_000), "12mbit");
        assert_eq!(format_rate(1234), "1234bit");
    }

    #[test]
    fn sizes_accept_both_prefix_families() {
        assert_eq!(parse_size("64kb"), Some(64_000));
        assert_eq!(parse_size("100kB"), Some(100_000));
        assert_eq!(parse_size("1KiB"), Some(1024));
        assert_eq!(parse_size("1500B"), Some(1500));
        assert_eq!(parse_size("2MB"), Some(2_000_000));
        assert_eq!(parse_size("12"), None);
        assert_eq!(format_size(64_000), "64kB");
        assert_eq!(format_size(2048), "2KiB");
        assert_eq!(format_size(1500), "1500B");
    }

    #[test]
    fn percentages_need_the_sign_and_stay_below_100() {
        assert_eq!(parse_percent("1%"), Some(1.0));
        assert_eq!(parse_percent("0.25%"), Some(0.25));
        assert_eq!(parse_percent("1"), None);
        assert_eq!(parse_percent("100%"), None);
        assert_eq!(parse_percent("nan%"), None);
    }
}
