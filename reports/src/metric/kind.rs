//! How a metric's value is stored, written in a limit and shown.

use crate::format;

/// How a metric's value is stored, written in a limit and shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A latency, stored in µs; limits take `us`/`µs`, `ms`, `s` (bare = ms).
    Latency,
    /// A duration in seconds; limits take `us`/`µs`, `ms`, `s` (bare = s).
    Seconds,
    /// A share 0–1; limits take `%` or a bare fraction (`5%` = `0.05`).
    Ratio,
    /// CPU percent, 100 = one core busy; limits take a bare number or `%`.
    Percent,
    /// Bytes; limits take `B`, `k`/`KiB` (×1024), `M`/`MiB` (bare = bytes).
    Bytes,
    /// An exact count; limits take a bare number, `k`, `M`.
    Count,
    /// Per second; limits take a bare number, `/s`, `k`, `k/s`.
    Rate,
    /// A dimensionless factor (wire ÷ payload); limits take a bare number or `x`.
    Factor,
    /// Energy in joules; limits take a bare number or `J`, `kJ`, `MJ` (powers of 1000).
    Energy,
}

impl Kind {
    /// The accepted ways to write a limit, for error messages.
    pub fn units_help(self) -> &'static str {
        match self {
            Kind::Latency => "a latency, e.g. 25ms, 500us, 1.5s (a bare number is ms)",
            Kind::Seconds => "seconds, e.g. 0.01, 10ms, 500us (a bare number is s)",
            Kind::Ratio => "a share, e.g. 5% or 0.05",
            Kind::Percent => "a CPU percentage (100 = one core), e.g. 80 or 80%",
            Kind::Bytes => "bytes, e.g. 900, 900B, 1.5KiB, 2k",
            Kind::Count => "a count, e.g. 0, 10, 1k",
            Kind::Rate => "a rate per second, e.g. 950, 950/s, 1.2k",
            Kind::Factor => "a factor, e.g. 2.5 or 2.5x",
            Kind::Energy => "energy, e.g. 900, 900J, 1.5kJ",
        }
    }

    /// Parses a limit (`25ms`, `5%`, `1.5KiB`) into the stored unit.
    pub fn parse_value(self, text: &str) -> Result<f64, String> {
        let err = || format!("'{}' is not {}", text.trim(), self.units_help());
        let (n, unit) = protocol::units::split_number(text).ok_or_else(err)?;
        let scale = match (self, unit) {
            (Kind::Latency, "" | "ms") => 1e3,
            (Kind::Latency, "us" | "µs" | "μs") => 1.0,
            (Kind::Latency, "s") => 1e6,
            (Kind::Seconds, "" | "s") => 1.0,
            (Kind::Seconds, "ms") => 1e-3,
            (Kind::Seconds, "us" | "µs" | "μs") => 1e-6,
            (Kind::Ratio, "%") => 1e-2,
            (Kind::Ratio, "") if n <= 1.0 => 1.0,
            (Kind::Ratio, "") => {
                return Err(format!(
                    "'{}' is more than 1: a share is 0–1 (write {n}% for percent)",
                    text.trim()
                ));
            }
            (Kind::Percent, "" | "%") => 1.0,
            (Kind::Bytes, "" | "B" | "b") => 1.0,
            (Kind::Bytes, "k" | "K" | "KiB" | "kB" | "KB") => 1024.0,
            (Kind::Bytes, "M" | "MiB" | "MB") => 1024.0 * 1024.0,
            (Kind::Count, "") => 1.0,
            (Kind::Count, "k" | "K") => 1e3,
            (Kind::Count, "M") => 1e6,
            (Kind::Rate, "" | "/s") => 1.0,
            (Kind::Rate, "k" | "K" | "k/s" | "K/s") => 1e3,
            (Kind::Rate, "M" | "M/s") => 1e6,
            (Kind::Factor, "" | "x" | "×") => 1.0,
            (Kind::Energy, "" | "J") => 1.0,
            (Kind::Energy, "kJ") => 1e3,
            (Kind::Energy, "MJ") => 1e6,
            _ => return Err(err()),
        };
        Ok(n * scale)
    }

    /// A stored value as it reads, unit included.
    pub fn show(self, v: f64) -> String {
        if !v.is_finite() {
            return "–".into();
        }
        match self {
            Kind::Latency => format::duration_us(v),
            Kind::Seconds => format::duration_us(v * 1e6),
            Kind::Ratio => format::percent(v),
            Kind::Percent => format::cpu_percent(v),
            Kind::Bytes => format::bytes(v),
            Kind::Count if v.fract() == 0.0 && v >= 0.0 => format::thousands(v as u64),
            Kind::Count => format::sig3(v),
            Kind::Rate => format::rate(v),
            Kind::Factor => format::factor(v),
            Kind::Energy if v.abs() >= 999.5 => format!("{} kJ", format::sig3(v / 1e3)),
            Kind::Energy => format!("{} J", format::sig3(v)),
        }
    }

    /// A difference of two stored values as it reads, with its sign (`+2.1 ms`).
    pub fn show_delta(self, d: f64) -> String {
        let sign = if d > 0.0 {
            "+"
        } else if d < 0.0 {
            "-"
        } else {
            "±"
        };
        let a = d.abs();
        let text = match self {
            // A percentage-point change of a share reads as points, not a share.
            Kind::Ratio => format!("{} pp", format::trimmed(a * 100.0)),
            Kind::Percent => format!("{} pp", format::trimmed(a)),
            _ => self.show(a),
        };
        format!("{sign}{text}")
    }
}
