//! The server under test: a base URL, checked before anything connects, and
//! its host name resolved once at run start.

use crate::config::ConfigError;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

/// The server under test: any `http://` or `https://` base URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Normalized base URL, e.g. `http://127.0.0.1:3000`.
    pub url: String,
    /// `host:port` for the `Host` header.
    pub authority: String,
    /// The host as written (the name a TLS certificate must carry).
    pub host: String,
    pub port: u16,
    /// `https://`: every connection speaks TLS.
    pub tls: bool,
    /// What to connect to: known at once for an IP address (and
    /// `localhost`, which is never looked up); for a host name, once
    /// [`Target::resolve`] ran at the start of the run.
    pub addr: Option<SocketAddr>,
}

/// A host name that gave no address to connect to.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error(
        "cannot resolve {host}: {source} (check the name, or give the server's IP address in --target)"
    )]
    Lookup {
        host: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{host} resolves to no address (check the name, or give the server's IP address in --target)"
    )]
    NoAddress { host: String },
    #[error(
        "resolving {host} took longer than {limit:?} (check the system's resolver, or give the server's IP address in --target)"
    )]
    Timeout { host: String, limit: Duration },
}

/// Longest wait for the system's resolver.
const RESOLVE_LIMIT: Duration = Duration::from_secs(5);

impl Target {
    /// Parse and check a base URL. The host is an IP address (v4, or v6 in
    /// brackets), `localhost`, or a host name resolved later by
    /// [`Target::resolve`], never here.
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
        let bracketed = host.starts_with('[') && host.ends_with(']');
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let addr = if bare.eq_ignore_ascii_case("localhost") {
            Some(IpAddr::V4(Ipv4Addr::LOCALHOST))
        } else if let Ok(ip) = bare.parse::<IpAddr>() {
            if ip.is_ipv6() != bracketed {
                return Err(invalid(format!(
                    "'{url}': an IPv6 address goes in brackets (http://[::1]:3000), an IPv4 \
                     address or a name without"
                )));
            }
            Some(ip)
        } else if is_host_name(host) {
            None
        } else {
            return Err(invalid(format!(
                "'{host}' in '{url}' is neither an IP address nor a host name"
            )));
        };
        Ok(Target {
            url: format!("{}://{authority}", if tls { "https" } else { "http" }),
            authority: authority.to_string(),
            host: bare.to_string(),
            port,
            tls,
            addr: addr.map(|ip| SocketAddr::new(ip, port)),
        })
    }

    /// The address to connect to, asking the system's resolver (once, at
    /// the start of a run) for a host name; the first address it gives, as
    /// most load tools and browsers without a fallback race do.
    pub async fn resolve(&mut self) -> Result<SocketAddr, ResolveError> {
        if let Some(addr) = self.addr {
            return Ok(addr);
        }
        let lookup = tokio::net::lookup_host((self.host.as_str(), self.port));
        let found = tokio::time::timeout(RESOLVE_LIMIT, lookup).await;
        let host = self.host.clone();
        let mut found = match found {
            Ok(Ok(found)) => found,
            Ok(Err(source)) => return Err(ResolveError::Lookup { host, source }),
            Err(_) => {
                return Err(ResolveError::Timeout {
                    host,
                    limit: RESOLVE_LIMIT,
                });
            }
        };
        let addr = found.next().ok_or(ResolveError::NoAddress { host })?;
        self.addr = Some(addr);
        Ok(addr)
    }

    /// The same host on another port (resolved as this one is).
    pub fn with_port(&self, port: u16) -> Target {
        let host = match self.host.parse::<IpAddr>() {
            Ok(IpAddr::V6(v6)) => format!("[{v6}]"),
            _ => self.host.clone(),
        };
        let authority = format!("{host}:{port}");
        Target {
            url: format!("{}://{authority}", if self.tls { "https" } else { "http" }),
            authority,
            port,
            addr: self.addr.map(|a| SocketAddr::new(a.ip(), port)),
            ..self.clone()
        }
    }

    /// `http://example.com:80 (93.184.216.34:80)`, or the URL alone while
    /// it is not resolved.
    pub fn describe(&self) -> String {
        match self.addr {
            Some(a) => format!("{} ({a})", self.url),
            None => self.url.clone(),
        }
    }
}

/// Letters, digits and hyphens in dot-separated labels (RFC 1123), not all
/// digits (that would be a malformed IPv4 address).
fn is_host_name(host: &str) -> bool {
    // A trailing dot (a fully qualified name) is allowed.
    let host = host.strip_suffix('.').unwrap_or(host);
    let labels_ok = host.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    });
    let numeric = host
        .split('.')
        .all(|l| l.chars().all(|c| c.is_ascii_digit()));
    labels_ok && host.len() <= 253 && !numeric
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(url: &str) -> Option<SocketAddr> {
        Target::parse(url).ok().and_then(|t| t.addr)
    }

    #[test]
    fn targets() {
        let t = Target::parse("http://127.0.0.1:3000").expect("ok");
        assert_eq!(t.addr, Some("127.0.0.1:3000".parse().expect("addr")));
        assert_eq!(t.authority, "127.0.0.1:3000");
        assert_eq!(
            Target::parse("http://localhost:8/").map(|t| t.url),
            Ok("http://localhost:8".into())
        );
        assert_eq!(addr("http://[::1]:9").map(|a| a.port()), Some(9));
        assert_eq!(addr("http://127.0.0.2").map(|a| a.port()), Some(80));
        let tls = Target::parse("https://localhost").expect("https");
        assert_eq!(
            (tls.tls, tls.port, tls.host.as_str()),
            (true, 443, "localhost")
        );
        assert_eq!(tls.addr, Some("127.0.0.1:443".parse().expect("addr")));
        assert_eq!(tls.url, "https://localhost");
        let link = Target::parse("http://198.18.0.2:8080").expect("the link's server side");
        assert_eq!(link.addr, Some("198.18.0.2:8080".parse().expect("addr")));
        for bad in [
            "ftp://127.0.0.1:3000",
            "http://127.0.0.1:3000/api",
            "http://127.0.0.1:x",
            "127.0.0.1:3000",
            "http://::1:3000",
            "http://[127.0.0.1]:3000",
            "http://under_score.example",
            "http://-bad.example",
            "http://a..b",
            "http://300.1.2.3",
            "http://",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
    }

    /// Any address and any name, as every load tool takes them; a name is
    /// kept as written (for SNI and `Host`) and not looked up while parsing.
    #[test]
    fn any_address_or_name_parses_without_a_lookup() {
        for (url, want) in [
            ("http://192.0.2.1:8080", "192.0.2.1:8080"),
            ("https://203.0.113.9", "203.0.113.9:443"),
            ("http://[2001:db8::1]:3000", "[2001:db8::1]:3000"),
            ("http://10.0.0.1", "10.0.0.1:80"),
        ] {
            assert_eq!(addr(url), Some(want.parse().expect("addr")), "{url}");
        }
        for url in [
            "http://example.com",
            "https://chat.example.org:8443/",
            "http://localhost.example:80",
            "http://my-server:3000",
            "http://example.com.",
        ] {
            let t = Target::parse(url).expect(url);
            assert_eq!(t.addr, None, "{url}: resolved at run start, not here");
        }
        let t = Target::parse("https://chat.example.org:8443/").expect("name");
        assert_eq!(
            (t.host.as_str(), t.port, t.authority.as_str()),
            ("chat.example.org", 8443, "chat.example.org:8443")
        );
        assert_eq!(t.describe(), "https://chat.example.org:8443");
        let moved = t.with_port(4433);
        assert_eq!(moved.url, "https://chat.example.org:4433");
        assert_eq!(moved.host, "chat.example.org");
        let v6 = Target::parse("http://[::1]:9").expect("v6").with_port(10);
        assert_eq!(
            (v6.authority.as_str(), v6.addr),
            ("[::1]:10", Some("[::1]:10".parse().expect("addr")))
        );
    }

    /// A name without an address says what to do, and is the user's to fix
    /// (exit 2). (No test resolves a name: that would ask a DNS server.)
    #[test]
    fn resolve_errors_say_what_to_do() {
        let e = crate::Error::from(ResolveError::NoAddress {
            host: "chat.example.org".into(),
        });
        assert_eq!(e.kind(), "unresolved");
        assert!(e.is_usage());
        let text = e.to_string();
        assert!(text.contains("chat.example.org"), "{text}");
        assert!(text.contains("IP address in --target"), "{text}");
    }

    /// An address needs no resolver: `resolve` returns it as is.
    #[tokio::test]
    async fn an_address_resolves_to_itself() {
        let mut t = Target::parse("http://[::1]:9").expect("v6");
        assert_eq!(
            t.resolve().await.ok(),
            Some("[::1]:9".parse().expect("addr"))
        );
        assert_eq!(t.describe(), "http://[::1]:9 ([::1]:9)");
    }
}
