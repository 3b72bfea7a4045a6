//! Limits that keep one misbehaving client from hurting the others: open
//! connections, open long polls, a publish rate per connection, address and
//! user ([`keyed`]), and which
//! browser origins may connect. Each refusal is counted in `/metrics`. All
//! are a counter compare or a branch when off, so the benchmark path pays
//! nothing measurable for them.

use crate::AppState;
use crate::error::ApiError;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicI64, AtomicU64};
use std::time::{Duration, Instant};

pub mod keyed;
pub mod per_ip;
pub mod proxy;

/// `--publish-rate-limit 50/s` with a burst: a token bucket per connection.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    pub per_sec: f64,
    pub burst: f64,
}

impl RateLimit {
    /// A rate as `rtbench load --rate` takes it (`50`, `50/s`, `3000/m`,
    /// `2.5k/s`), with an optional `:BURST` (`50/s:100`); the burst
    /// defaults to one second's worth (at least 1).
    pub fn parse(s: &str) -> Result<RateLimit, String> {
        let bad = || {
            format!(
                "'{s}': use a rate per second or per unit of time with an optional :BURST, \
                 e.g. 50/s, 3000/m or 50/s:100"
            )
        };
        let (rate, burst) = match s.split_once(':') {
            Some((r, b)) => (r, Some(b.trim().parse::<f64>().map_err(|_| bad())?)),
            None => (s, None),
        };
        let per_sec = rate
            .trim()
            .parse::<protocol::units::Rate>()
            .map_err(|_| bad())?
            .0;
        if !per_sec.is_finite() || per_sec <= 0.0 {
            return Err(bad());
        }
        let burst = burst.unwrap_or(per_sec.max(1.0));
        if !burst.is_finite() || burst < 1.0 {
            return Err(bad());
        }
        Ok(RateLimit { per_sec, burst })
    }
}

/// One key's tokens (a connection, an address or a user).
#[derive(Debug)]
pub struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    pub fn new(limit: &RateLimit) -> Bucket {
        Bucket {
            tokens: limit.burst,
            at: Instant::now(),
        }
    }

    /// Whether the bucket has refilled to its burst by `now`: dropping it
    /// then forgets nothing.
    pub fn is_full(&self, limit: &RateLimit, now: Instant) -> bool {
        let refill = now.duration_since(self.at).as_secs_f64() * limit.per_sec;
        self.tokens + refill >= limit.burst
    }

    /// When a token was last taken (or asked for).
    pub fn last_used(&self) -> Instant {
        self.at
    }

    /// Take one token, or say how long until one is there.
    pub fn take(&mut self, limit: &RateLimit) -> Result<(), Duration> {
        let now = Instant::now();
        let refill = now.duration_since(self.at).as_secs_f64() * limit.per_sec;
        self.tokens = (self.tokens + refill).min(limit.burst);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / limit.per_sec))
        }
    }
}

/// Gauges and refusal counters, exposed in `/metrics`.
#[derive(Debug, Default)]
pub struct LimitMetrics {
    pub open_connections: AtomicI64,
    pub open_long_polls: AtomicI64,
    pub rejected_connections: AtomicU64,
    /// Connections refused past `--max-connections-per-ip`.
    pub rejected_per_ip: AtomicU64,
    /// Connections refused past `--max-new-connections-per-ip`.
    pub rejected_new_per_ip: AtomicU64,
    pub rejected_long_polls: AtomicU64,
    /// Publishes refused, by the key whose bucket was empty.
    pub rate_limited: RateLimited,
    pub rejected_origins: AtomicU64,
    pub auth_failures: AtomicU64,
    /// Connections dropped because the client stopped reading.
    pub stalled: AtomicU64,
    /// TLS handshakes that failed or did not finish within the header-read timeout.
    pub tls_failures: AtomicU64,
    /// TLS connections on which ALPN chose HTTP/2.
    pub http2_connections: AtomicU64,
}

impl LimitMetrics {
    /// Prometheus text for the limits.
    pub fn prometheus(&self, out: &mut String) {
        use std::fmt::Write as _;
        let rows: [(&str, &str, &str, i64); 11] = [
            (
                "rtbench_server_rejected_new_connections_per_ip_total",
                "counter",
                "Connections refused past --max-new-connections-per-ip (429).",
                self.rejected_new_per_ip.load(Relaxed) as i64,
            ),
            (
                "rtbench_server_rejected_connections_per_ip_total",
                "counter",
                "Connections refused past --max-connections-per-ip (429).",
                self.rejected_per_ip.load(Relaxed) as i64,
            ),
            (
                "rtbench_server_stalled_subscribers_total",
                "counter",
                "Connections dropped because a write made no progress for two heartbeats (the client stopped reading: an SSE or WebSocket subscriber, usually).",
                self.stalled.load(Relaxed) as i64,
            ),
            (
                "rtbench_server_tls_handshake_failures_total",
                "counter",
                "TLS handshakes that failed or did not finish within --header-read-timeout.",
                self.tls_failures.load(Relaxed) as i64,
            ),
            (
                "rtbench_server_http2_connections_total",
                "counter",
                "TLS connections that chose HTTP/2 by ALPN.",
                self.http2_connections.load(Relaxed) as i64,
            ),
            (
                "rtbench_server_auth_failures_total",
                "counter",
                "Requests refused for a missing, invalid or expired token (401 / WebSocket close 1008).",
                self.auth_failures.load(Relaxed) as i64,
            ),
            (
                "rtbench_server_open_connections",
                "gauge",
                "Open TCP connections (all transports).",
                self.open_connections.load(Relaxed),
            ),
            (
                "rtbench_server_open_long_polls",
                "gauge",
                "Long polls held now.",
                self.open_long_polls.load(Relaxed),
            ),
            (
                "rtbench_server_rejected_connections_total",
                "counter",
                "Connections refused past --max-connections (503 / WebSocket close 1013).",
                self.rejected_connections.load(Relaxed) as i64,
            ),
            (
                "rtbench_server_rejected_long_polls_total",
                "counter",
                "Long polls refused past --max-long-polls (503).",
                self.rejected_long_polls.load(Relaxed) as i64,
            ),
            (
                "rtbench_server_rejected_origins_total",
                "counter",
                "Requests refused for a disallowed Origin (403).",
                self.rejected_origins.load(Relaxed) as i64,
            ),
        ];
        for (name, kind, help, v) in rows {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}"
            );
        }
        self.rate_limited.prometheus(out);
    }
}

/// Which bucket refused a publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Connection,
    Address,
    User,
}

impl Key {
    pub fn as_str(self) -> &'static str {
        match self {
            Key::Connection => "connection",
            Key::Address => "address",
            Key::User => "user",
        }
    }
}

/// Refused publishes by [`Key`].
#[derive(Debug, Default)]
pub struct RateLimited([AtomicU64; 3]);

impl RateLimited {
    pub fn add(&self, key: Key) {
        self.0[key as usize].fetch_add(1, Relaxed);
    }

    pub fn get(&self, key: Key) -> u64 {
        self.0[key as usize].load(Relaxed)
    }

    fn prometheus(&self, out: &mut String) {
        use std::fmt::Write as _;
        let name = "rtbench_server_rate_limited_total";
        let _ = writeln!(
            out,
            "# HELP {name} Publishes refused by --publish-rate-limit (per connection), \
             --publish-rate-limit-per-ip or --publish-rate-limit-per-user (429 / error frame), \
             by the key whose budget was spent.\n# TYPE {name} counter"
        );
        for key in [Key::Connection, Key::Address, Key::User] {
            let _ = writeln!(out, "{name}{{key=\"{}\"}} {}", key.as_str(), self.get(key));
        }
    }
}

/// The client's address as the limits see it: the one a trusted proxy
/// forwarded (see [`proxy`]), else the connection's TCP peer (its
/// [`crate::net::ConnMeter`]); `None` in router tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientIp(pub Option<std::net::IpAddr>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        let ext = &parts.extensions;
        Ok(ext.get::<ClientIp>().copied().unwrap_or_else(|| {
            ClientIp(
                ext.get::<std::sync::Arc<crate::net::ConnMeter>>()
                    .and_then(|m| m.peer()),
            )
        }))
    }
}

/// One open connection's place under `--max-connections`.
#[derive(Debug)]
pub struct OpenConnection(pub std::sync::Arc<LimitMetrics>);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.open_connections.fetch_sub(1, Relaxed);
    }
}

/// Holds a slot of a gauge; gives it back when dropped.
#[derive(Debug)]
pub struct Slot<'a>(&'a AtomicI64);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Relaxed);
    }
}

/// Take a slot of `gauge` if fewer than `max` are taken.
pub fn try_slot(gauge: &AtomicI64, max: usize) -> Option<Slot<'_>> {
    let now = gauge.fetch_add(1, Relaxed);
    if now >= max as i64 {
        gauge.fetch_sub(1, Relaxed);
        return None;
    }
    Some(Slot(gauge))
}

/// The request's `Origin`, if the browser sent one.
fn origin(req: &Request) -> Option<&str> {
    req.headers().get(header::ORIGIN)?.to_str().ok()
}

/// Same origin: the page this server served itself (`http://` + Host).
fn same_origin(host: Option<&str>, origin: &str) -> bool {
    host.is_some_and(|h| {
        origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"))
            == Some(h)
    })
}

/// Whether a browser page from `origin` may connect to a server it
/// reached as `host` (`--allowed-origins`; no `Origin` is not a browser's
/// cross-origin request). A refusal is counted.
pub(crate) fn origin_allowed(app: &AppState, origin: Option<&str>, host: Option<&str>) -> bool {
    let (Some(allowed), Some(o)) = (&app.config.allowed_origins, origin) else {
        return true;
    };
    if same_origin(host, o)
        || allowed
            .iter()
            .any(|a| a == "*" || a.eq_ignore_ascii_case(o))
    {
        return true;
    }
    app.limit_metrics.rejected_origins.fetch_add(1, Relaxed);
    false
}

/// `--allowed-origins`: a browser page from another origin may not open a
/// WebSocket or call the API (403); allowed origins get CORS headers and
/// preflight answers. Requests without `Origin` (curl, the load generator)
/// and same-origin ones are not affected.
pub async fn origins(State(app): State<AppState>, req: Request, next: Next) -> Response {
    let Some(o) = origin(&req).map(str::to_string) else {
        return next.run(req).await;
    };
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok());
    if app.config.allowed_origins.is_none() || same_origin(host, &o) {
        return next.run(req).await;
    }
    if !origin_allowed(&app, Some(&o), host) {
        return ApiError::Forbidden(format!(
            "origin {o} is not allowed here (server flag --allowed-origins)"
        ))
        .into_response();
    }
    let preflight = req.method() == Method::OPTIONS;
    let mut resp = if preflight {
        axum::http::StatusCode::NO_CONTENT.into_response()
    } else {
        next.run(req).await
    };
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&o) {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
    }
    h.insert(header::VARY, HeaderValue::from_static("Origin"));
    if preflight {
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST, OPTIONS"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("content-type, authorization, last-event-id"),
        );
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limits_parse() {
        assert_eq!(
            RateLimit::parse("50/s"),
            Ok(RateLimit {
                per_sec: 50.0,
                burst: 50.0
            })
        );
        assert_eq!(
            RateLimit::parse("120/m:10").map(|r| (r.per_sec, r.burst)),
            Ok((2.0, 10.0))
        );
        // The units of `rtbench load --rate`.
        for (text, per_sec) in [
            ("50", 50.0),
            ("600/m", 10.0),
            ("2.5k/s", 2500.0),
            ("36k/h", 10.0),
        ] {
            assert_eq!(
                RateLimit::parse(text).map(|r| r.per_sec),
                Ok(per_sec),
                "{text}"
            );
        }
        for bad in ["x/s", "0/s", "5/d", "5/s:0", "-1/s", ""] {
            assert!(RateLimit::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bucket_refills_at_the_rate() {
        let l = RateLimit {
            per_sec: 1000.0,
            burst: 3.0,
        };
        let mut b = Bucket::new(&l);
        assert!(b.take(&l).is_ok() && b.take(&l).is_ok() && b.take(&l).is_ok());
        let wait = b.take(&l).expect_err("empty");
        assert!(wait <= Duration::from_millis(1), "{wait:?}");
        std::thread::sleep(Duration::from_millis(5));
        assert!(b.take(&l).is_ok(), "refilled");
    }

    #[test]
    fn slots_are_bounded_and_given_back() {
        let g = AtomicI64::new(0);
        let a = try_slot(&g, 2).expect("1");
        let _b = try_slot(&g, 2).expect("2");
        assert!(try_slot(&g, 2).is_none());
        drop(a);
        assert!(try_slot(&g, 2).is_some());
    }
}
