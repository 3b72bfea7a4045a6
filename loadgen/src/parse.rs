//! Loopback source-address ranges like `127.0.0.1-127.0.0.8` ([`SourceIps`]).
//! Durations, counts, sizes and rates are `protocol::units` types, the
//! workspace's one parser for them.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::str::FromStr;

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

/// `--source-ips`: checked loopback addresses, written back as a comma list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceIps(pub Vec<IpAddr>);

impl FromStr for SourceIps {
    type Err = String;

    fn from_str(s: &str) -> Result<SourceIps, String> {
        source_ips(s).map(SourceIps)
    }
}

impl fmt::Display for SourceIps {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, ip) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{ip}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_ip_ranges() {
        let ips = source_ips("127.0.0.1-127.0.0.8").expect("range");
        assert_eq!(ips.len(), 8);
        assert_eq!(ips[7], IpAddr::V4(Ipv4Addr::new(127, 0, 0, 8)));
        assert_eq!(source_ips("127.0.0.1, ::1").map(|v| v.len()), Ok(2));
        assert!(source_ips("10.0.0.1").is_err());
        assert!(source_ips("127.0.0.9-127.0.0.1").is_err());
        assert!(source_ips("").is_err());
        let s: SourceIps = "127.0.0.1-127.0.0.3,::1".parse().expect("list");
        assert_eq!(s.to_string(), "127.0.0.1,127.0.0.2,127.0.0.3,::1");
        assert_eq!(s.to_string().parse::<SourceIps>(), Ok(s));
    }
}
