//! `--trusted-proxies`: behind a reverse proxy every connection comes from
//! the proxy, so the client's address is read from `X-Forwarded-For` or
//! `Forwarded: for=`, but only when the TCP peer is a listed proxy (anyone
//! else could write any address there). The right-most hop that is not a
//! trusted proxy is the client: entries left of it were written by the
//! client itself and prove nothing.

use super::ClientIp;
use crate::AppState;
use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
pub use ipnet::IpNet;
use std::net::IpAddr;

/// A CIDR (`10.0.0.0/8`, `fd00::/8`) or one address.
pub fn parse_cidr(s: &str) -> Result<IpNet, String> {
    let s = s.trim();
    s.parse::<IpNet>()
        .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| format!("'{s}': use an address or a CIDR, e.g. 10.0.0.0/8 or ::1"))
}

fn trusted(list: &[IpNet], ip: IpAddr) -> bool {
    list.iter().any(|n| n.contains(&ip))
}

/// One hop as proxies write it: `1.2.3.4`, `1.2.3.4:80`, `"[::1]:80"`, `::1`.
fn hop(s: &str) -> Option<IpAddr> {
    let s = s.trim().trim_matches('"');
    if let Ok(ip) = s.parse() {
        return Some(ip);
    }
    if let Some(rest) = s.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    s.rsplit_once(':')?.0.parse().ok()
}

/// The hops of `X-Forwarded-For`, else of `Forwarded`'s `for=`, left to right.
fn hops(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let values = |name| {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let xff = values("x-forwarded-for");
    if !xff.is_empty() {
        return xff.iter().map(|h| hop(h)).collect();
    }
    values("forwarded")
        .iter()
        .filter_map(|element| {
            element.split(';').find_map(|pair| {
                let (k, v) = pair.split_once('=')?;
                k.trim().eq_ignore_ascii_case("for").then(|| hop(v))
            })
        })
        .collect()
}

/// The client behind `peer` given the forwarding headers: the right-most
/// hop that is not a trusted proxy; `peer` itself when it is not trusted
/// or a hop is unreadable (an `unknown` or obfuscated one).
pub fn client_of(list: &[IpNet], peer: IpAddr, headers: &HeaderMap) -> IpAddr {
    if !trusted(list, peer) {
        return peer;
    }
    let mut client = peer;
    for h in hops(headers).into_iter().rev() {
        match h {
            Some(ip) if trusted(list, ip) => client = ip,
            Some(ip) => return ip,
            None => return client,
        }
    }
    client
}

/// [`client_of`] for a request whose headers are not a [`HeaderMap`] (a
/// WebTransport session's HTTP/3 fields, by lowercase name): only the
/// forwarding headers are read, and only when `peer` is trusted.
pub fn client_of_fields<'a>(
    list: &[IpNet],
    peer: IpAddr,
    get: impl Fn(&str) -> Option<&'a str>,
) -> IpAddr {
    if !trusted(list, peer) {
        return peer;
    }
    let mut headers = HeaderMap::new();
    for name in ["x-forwarded-for", "forwarded"] {
        if let Some(v) = get(name).and_then(|v| v.parse().ok()) {
            headers.insert(name, v);
        }
    }
    client_of(list, peer, &headers)
}

/// The middleware, layered only with `--trusted-proxies`: gives the request
/// the forwarded [`ClientIp`] when its peer is a trusted proxy.
pub async fn client_ip(State(app): State<AppState>, mut req: Request, next: Next) -> Response {
    let list = &app.config.trusted_proxies;
    let peer = req
        .extensions()
        .get::<std::sync::Arc<crate::net::ConnMeter>>()
        .and_then(|m| m.peer());
    if let Some(peer) = peer {
        let ip = client_of(list, peer, req.headers());
        if ip != peer {
            req.extensions_mut().insert(ClientIp(Some(ip)));
        }
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().expect("value"));
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn the_right_most_untrusted_hop_is_the_client() {
        let list = [
            parse_cidr("10.0.0.0/8").expect("cidr"),
            parse_cidr("::1").expect("ip"),
        ];
        let xff = headers(&[("x-forwarded-for", "6.6.6.6, 203.0.113.7, 10.1.1.1")]);
        assert_eq!(client_of(&list, ip("10.0.0.1"), &xff), ip("203.0.113.7"));
        // Not from a trusted proxy: the header is ignored.
        assert_eq!(client_of(&list, ip("192.0.2.1"), &xff), ip("192.0.2.1"));
        let fwd = headers(&[(
            "forwarded",
            "for=6.6.6.6, for=\"[2001:db8::1]:4711\";proto=https",
        )]);
        assert_eq!(client_of(&list, ip("::1"), &fwd), ip("2001:db8::1"));
        let unknown = headers(&[("forwarded", "for=unknown")]);
        assert_eq!(client_of(&list, ip("10.0.0.1"), &unknown), ip("10.0.0.1"));
        assert!(parse_cidr("10.0.0.0/33").is_err() && parse_cidr("x").is_err());
    }

    #[test]
    fn http3_fields_are_read_as_headers_only_from_a_trusted_peer() {
        let list = [parse_cidr("10.0.0.0/8").expect("cidr")];
        let fields = |name: &str| match name {
            "x-forwarded-for" => Some("6.6.6.6, 203.0.113.7"),
            "forwarded" => Some("for=198.51.100.1"),
            _ => None,
        };
        assert_eq!(
            client_of_fields(&list, ip("10.0.0.1"), fields),
            ip("203.0.113.7"),
            "X-Forwarded-For first"
        );
        assert_eq!(
            client_of_fields(&list, ip("192.0.2.1"), fields),
            ip("192.0.2.1")
        );
        let fwd = |name: &str| (name == "forwarded").then_some("for=198.51.100.1");
        assert_eq!(
            client_of_fields(&list, ip("10.0.0.1"), fwd),
            ip("198.51.100.1")
        );
        assert_eq!(
            client_of_fields(&list, ip("10.0.0.1"), |_| None),
            ip("10.0.0.1")
        );
    }
}
