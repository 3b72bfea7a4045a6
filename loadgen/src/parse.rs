//! Human-friendly values for flags and scenario files: durations, counts and
//! sizes (delegated to `protocol::units`, the workspace's one parser), rates
//! that may be fractional (`0.5`, `2.5k`), and loopback source-address ranges
//! like `127.0.0.1-127.0.0.8`.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

/// `500ms`, `30s`, `2m`, `1h`; a bare number is seconds (the workspace's one parser).
pub fn duration(s: &str) -> Result<Duration, String> {
    protocol::units::parse_duration(s).map_err(|e| e.to_string())
}

/// `1000`, `10k`, `1.5k`, `2M`: a whole number.
pub fn count(s: &str) -> Result<u64, String> {
    protocol::units::parse_count(s).map_err(|e| e.to_string())
}

/// `100`, `1k` (1024), `64KiB`: bytes.
pub fn size(s: &str) -> Result<u64, String> {
    protocol::units::parse_size(s).map_err(|e| e.to_string())
}

/// Parse a non-negative number with an optional `k` (×1,000) or `M`
/// (×1,000,000) suffix: `250`, `10k`, `1.5k`, `0.5`.
pub fn amount(s: &str) -> Result<f64, String> {
    let t = s.trim().replace('_', "");
    let (num, factor) = match t.as_bytes().last() {
        Some(b'k' | b'K') => (&t[..t.len() - 1], 1e3),
        Some(b'M' | b'm') => (&t[..t.len() - 1], 1e6),
        _ => (t.as_str(), 1.0),
    };
    let value: f64 = num
        .parse()
        .map_err(|_| format!("invalid number '{s}' (examples: 250, 10k, 1.5k)"))?;
    let v = value * factor;
    if !v.is_finite() || v < 0.0 {
        return Err(format!("invalid number '{s}': must be zero or more"));
    }
    Ok(v)
}

/// Parse `127.0.0.1-127.0.0.8` (an inclusive IPv4 range) or a comma list
/// (`127.0.0.1,127.0.0.2`, `::1`); every address must be loopback, because
/// this tool may only generate load on the machine it runs on.
pub fn source_ips(s: &str) -> Result<Vec<IpAddr>, String> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        if let Some((a, b)) = part.split_once('-') {
            let a: Ipv4Addr = a.trim().parse().map_err(|_| bad_ip(part))?;
            let b: Ipv4Addr = b.trim().parse().map_err(|_| bad_ip(part))?;
            let (a, b) = (u32::from(a), u32::from(b));
            if b < a || b - a > 4096 {
                return Err(format!(
                    "invalid address range '{part}': the end must follow the start, at most 4096 addresses"
                ));
            }
            out.extend((a..=b).map(|n| IpAddr::V4(Ipv4Addr::from(n))));
        } else {
            out.push(part.parse::<IpAddr>().map_err(|_| bad_ip(part))?);
        }
    }
    if out.is_empty() {
        return Err("no source address given".into());
    }
    if let Some(ip) = out.iter().find(|ip| !ip.is_loopback()) {
        return Err(format!(
            "source address {ip} is not loopback: only 127.0.0.0/8 and ::1 may be used"
        ));
    }
    Ok(out)
}

fn bad_ip(part: &str) -> String {
    format!("invalid source address '{part}' (examples: 127.0.0.1-127.0.0.8, 127.0.0.1,127.0.0.2)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts() {
        assert_eq!(amount("0.5"), Ok(0.5));
        assert_eq!(amount("2.5k"), Ok(2500.0));
        assert_eq!(amount("1_000"), Ok(1000.0));
        assert!(amount("-3").is_err());
        assert!(amount("ten").is_err());
        assert_eq!(count("10k"), Ok(10_000));
        assert_eq!(duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(size("1k"), Ok(1024));
    }

    #[test]
    fn source_ip_ranges() {
        let ips = source_ips("127.0.0.1-127.0.0.8").expect("range");
        assert_eq!(ips.len(), 8);
        assert_eq!(ips[7], IpAddr::V4(Ipv4Addr::new(127, 0, 0, 8)));
        assert_eq!(source_ips("127.0.0.1, ::1").map(|v| v.len()), Ok(2));
        assert!(source_ips("10.0.0.1").is_err());
        assert!(source_ips("127.0.0.9-127.0.0.1").is_err());
        assert!(source_ips("").is_err());
    }
}
