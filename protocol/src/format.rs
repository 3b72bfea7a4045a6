//! How rtbench writes numbers for people: the load generator's end-of-run
//! summary, the report, thresholds and `compare` all format through here, so
//! a value reads the same wherever it is shown. One style per quantity: a
//! number, a space, its unit (`12.3 ms`, `9.77 KiB`); three significant digits
//! for measured values, thousands separators for counts.

/// A count: `1234567` → `1,234,567`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Three significant digits, thousands separators above 1,000:
/// `0.0123`, `1.23`, `12.3`, `123`, `1,234`.
pub fn sig3(v: f64) -> String {
    if !v.is_finite() {
        return "–".into();
    }
    let a = v.abs();
    let sign = if v < 0.0 { "-" } else { "" };
    if a >= 999.5 {
        return format!("{sign}{}", thousands(a.round() as u64));
    }
    if a == 0.0 {
        return "0".into();
    }
    let decimals = if a >= 99.95 {
        0
    } else if a >= 9.995 {
        1
    } else if a >= 0.9995 {
        2
    } else {
        // 0.0123 → 4 decimals: keep 3 significant digits below 1.
        (2 - a.log10().floor() as i32).clamp(3, 6) as usize
    };
    format!("{sign}{:.*}", decimals, a)
}

/// [`sig3`] without trailing zeros: `1`, `1.5`, `0.012` (for settings and
/// axis ticks, where `1.00 s` would suggest a measured precision).
pub fn trimmed(v: f64) -> String {
    let s = sig3(v);
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// A measured duration in µs (a latency) as milliseconds, or seconds from
/// 10 s up: `0.412 ms`, `512 ms`, `12.3 s`.
pub fn duration_us(us: f64) -> String {
    if us >= 10_000_000.0 {
        format!("{} s", sig3(us / 1e6))
    } else {
        format!("{} ms", sig3(us / 1e3))
    }
}

/// A duration in seconds (a setting, a window, CPU time, an axis tick),
/// without trailing zeros: `250 ms`, `1 s`, `1.5 s`.
pub fn secs(s: f64) -> String {
    if s > 0.0 && s < 1.0 {
        format!("{} ms", trimmed(s * 1e3))
    } else {
        format!("{} s", trimmed(s))
    }
}

/// Bytes with binary units: `900 B`, `9.77 KiB`, `1.21 MiB`, `1.10 GiB`.
pub fn bytes(b: f64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if b < 1024.0 {
        return format!("{} B", sig3(b));
    }
    // Dividing by 1024 is exact: no rounding creeps in with each step.
    let mut v = b / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    format!("{} {}", sig3(v), UNITS[unit])
}

/// A share 0..1 as a percentage: `92%`, `0.5%`, `0.012%`.
pub fn percent(ratio: f64) -> String {
    let p = ratio * 100.0;
    if p == 0.0 {
        "0%".into()
    } else if p >= 10.0 {
        format!("{:.0}%", p)
    } else {
        format!("{}%", trimmed(p))
    }
}

/// CPU use where 100 is one core busy (it can exceed 100): `0.800%`, `250%`.
pub fn cpu_percent(p: f64) -> String {
    format!("{}%", sig3(p))
}

/// Events per second: `1,000/s`, `9.98/s`.
pub fn rate(per_sec: f64) -> String {
    format!("{}/s", sig3(per_sec))
}

/// A dimensionless factor (wire bytes ÷ payload bytes): `2.44×`.
pub fn factor(v: f64) -> String {
    format!("{}×", sig3(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(sig3(0.012345), "0.0123");
        assert_eq!(sig3(0.4123), "0.412");
        assert_eq!(sig3(1.234), "1.23");
        assert_eq!(sig3(12.34), "12.3");
        assert_eq!(sig3(512.4), "512");
        assert_eq!(sig3(1004.0), "1,004");
        assert_eq!(sig3(f64::NAN), "–");
        assert_eq!(trimmed(1.50), "1.5");
        assert_eq!(duration_us(412.0), "0.412 ms");
        assert_eq!(duration_us(512_000.0), "512 ms");
        assert_eq!(duration_us(12_300_000.0), "12.3 s");
        assert_eq!(secs(0.25), "250 ms");
        assert_eq!(secs(1.0), "1 s");
        assert_eq!(secs(1.5), "1.5 s");
        assert_eq!(bytes(262.0), "262 B");
        assert_eq!(bytes(10_000.0), "9.77 KiB");
        assert_eq!(bytes(3.0 * 1024.0 * 1024.0), "3.00 MiB");
        assert_eq!(bytes(1.1 * 1024.0 * 1024.0 * 1024.0), "1.10 GiB");
        assert_eq!(percent(0.9234), "92%");
        assert_eq!(percent(0.00012), "0.012%");
        assert_eq!(cpu_percent(0.8), "0.800%");
        assert_eq!(cpu_percent(250.0), "250%");
        assert_eq!(rate(1000.0), "1,000/s");
        assert_eq!(factor(2.44), "2.44×");
    }
}
