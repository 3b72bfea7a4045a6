//! The server under test: a base URL, checked before anything connects.

use crate::config::ConfigError;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// The server under test: a loopback (or emulated link) base URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Normalized base URL, e.g. `http://127.0.0.1:3000`.
    pub url: String,
    /// What to connect to.
    pub addr: SocketAddr,
    /// `host:port` for the `Host` header.
    pub authority: String,
    /// The host as written (the name a TLS certificate must carry).
    pub host: String,
    /// `https://`: every connection speaks TLS.
    pub tls: bool,
}

impl Target {
    /// Parse and check a base URL. Only loopback targets and the server side
    /// of an emulated link (198.18.0.0/15, RFC 2544's benchmarking range) are
    /// accepted: this tool generates load, and here load may only go to this
    /// machine. Host names are not resolved.
    pub fn parse(url: &str) -> Result<Target, ConfigError> {
        let invalid = |why: String| ConfigError::Invalid {
            flag: "--target",
            why,
        };
        let (tls, rest) = if let Some(rest) = url.strip_prefix("http://") {
            (false, rest)
        } else if let Some(rest) = url.strip_prefix("https://") {
            (true, rest)
        } else {
            return Err(invalid(format!(
                "'{url}' must start with http:// or https://"
            )));
        };
        let authority = rest.split('/').next().unwrap_or_default();
        if rest.len() > authority.len() + 1
            || (rest.len() == authority.len() + 1 && !rest.ends_with('/'))
        {
            return Err(invalid(format!(
                "'{url}' must be a base URL without a path"
            )));
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => {
                let port: u16 = p
                    .parse()
                    .map_err(|_| invalid(format!("bad port in '{url}'")))?;
                (h, port)
            }
            _ => (authority, if tls { 443 } else { 80 }),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let ip: IpAddr = if host.eq_ignore_ascii_case("localhost") {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        } else {
            host.parse().map_err(|_| {
                invalid(format!(
                    "'{host}' is not an IP address or localhost: give the server's address as an IP \
                     (host names are not resolved; only loopback targets and the --network link's \
                     server side, 198.18.0.2, are allowed)"
                ))
            })?
        };
        let on_link = match ip {
            IpAddr::V4(v4) => netem::in_link_range(v4),
            IpAddr::V6(_) => false,
        };
        if !ip.is_loopback() && !on_link {
            return Err(invalid(format!(
                "{ip} is not a loopback address: rtbench load only targets this machine (127.0.0.0/8, ::1, localhost) \
                 or, with --network, the emulated link's server side (198.18.0.2)"
            )));
        }
        let addr = SocketAddr::new(ip, port);
        Ok(Target {
            url: format!("{}://{authority}", if tls { "https" } else { "http" }),
            addr,
            authority: authority.to_string(),
            host: host.to_string(),
            tls,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        let t = Target::parse("http://127.0.0.1:3000").expect("ok");
        assert_eq!(t.addr, "127.0.0.1:3000".parse().expect("addr"));
        assert_eq!(t.authority, "127.0.0.1:3000");
        assert_eq!(
            Target::parse("http://localhost:8/").map(|t| t.url),
            Ok("http://localhost:8".into())
        );
        assert_eq!(
            Target::parse("http://[::1]:9").map(|t| t.addr.port()),
            Ok(9)
        );
        assert_eq!(
            Target::parse("http://127.0.0.2").map(|t| t.addr.port()),
            Ok(80)
        );
        let tls = Target::parse("https://localhost").expect("https");
        assert_eq!(
            (tls.tls, tls.addr.port(), tls.host.as_str()),
            (true, 443, "localhost")
        );
        assert_eq!(tls.url, "https://localhost");
        let link = Target::parse("http://198.18.0.2:8080").expect("the link's server side");
        assert_eq!(link.addr, "198.18.0.2:8080".parse().expect("addr"));
        for bad in [
            "http://198.20.0.2:80",
            "http://localhost.example:80",
            "ftp://127.0.0.1:3000",
            "https://10.0.0.1:3000",
            "http://10.0.0.1:3000",
            "http://example.com",
            "http://127.0.0.1:3000/api",
            "http://127.0.0.1:x",
            "127.0.0.1:3000",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
    }
}
