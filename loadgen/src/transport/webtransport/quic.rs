//! One QUIC endpoint (one UDP socket) per server instance, shared by every
//! session of the run, and opening a session on it: the URL, the headers,
//! and errors that say what to do (refused, certificate, no UDP answer).
//! Over an emulated network each session gets a socket of its own instead:
//! the link shapes each client's flow (its 5-tuple) as one phone's radio,
//! and one shared socket would squeeze every client into one phone's link.

use super::trust::{self, Pin, Trust};
use crate::config::Config;
use crate::error::{ClientError, ErrorKind};
use crate::target::Target;
use crate::transport::Endpoint;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use wtransport::endpoint::endpoint_side::Client as ClientSide;
use wtransport::error::{ConnectingError, ConnectionError};

/// The info request must answer within this.
const INFO_LIMIT: Duration = Duration::from_secs(4);

/// WebTransport of one server instance.
pub struct Quic {
    endpoint: wtransport::Endpoint<ClientSide>,
    /// Over an emulated network: how to make each session's own endpoint.
    per_session: Option<PerSession>,
    /// `https://HOST:PORT`, where sessions go.
    pub base: String,
    pub addr: SocketAddr,
    /// The pin's verifier, when sessions pin a hash.
    pin: Option<Arc<Pin>>,
}

impl std::fmt::Debug for Quic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Quic({})", self.base)
    }
}

/// The instance's QUIC endpoint, made on first use (the first session or
/// the preflight asks the server where WebTransport is).
pub async fn quic<'a>(ep: &'a Endpoint, cfg: &Config) -> Result<&'a Quic, ClientError> {
    ep.quic.get_or_try_init(|| Quic::new(ep, cfg)).await
}

/// What a session's own endpoint is made of (see the module docs).
struct PerSession {
    tls: rustls::ClientConfig,
    bind: SocketAddr,
    ns: netem::Netns,
    timeout: Duration,
}

impl Quic {
    async fn new(ep: &Endpoint, cfg: &Config) -> Result<Quic, ClientError> {
        let config_err = |e: crate::config::ConfigError| {
            ClientError::new(ErrorKind::Protocol, format!("WebTransport: {e}"))
        };
        let (announced, trust) = match Trust::from_flags(&cfg.tls).map_err(config_err)? {
            Some(t) => (ep.target.clone(), t),
            None => ask_server(ep).await?,
        };
        let (target, addr) = reachable(announced, &ep.target).await?;
        let (tls, pin) = trust::tls_config(&trust, &cfg.tls).map_err(config_err)?;
        let bind = bind_addr(addr, &cfg.source_ips);
        let timeout = cfg.stream_timeout;
        // Over an emulated network: in the endpoint's namespace (the link's
        // client side, or its server side for publishers there), as the
        // TCP transports' sockets.
        let ns = ep.dialer.netns();
        let per_session = ns.cloned().map(|ns| PerSession {
            tls: tls.clone(),
            bind,
            ns,
            timeout,
        });
        let socket = match ns {
            Some(ns) => ns.run(|| udp_socket(bind, true)).and_then(|r| r),
            None => udp_socket(bind, true),
        }
        .map_err(|e| ClientError::from_io(&e, true))?;
        let endpoint = client_endpoint(socket, tls, timeout, addr)?;
        Ok(Quic {
            endpoint,
            per_session,
            base: format!("https://{}", target.authority),
            addr,
            pin,
        })
    }

    /// Open a session at `path_and_query` with `headers`.
    pub async fn connect(
        &self,
        path_and_query: &str,
        headers: Vec<(String, String)>,
    ) -> Result<wtransport::Connection, ClientError> {
        let mut opts =
            wtransport::endpoint::ConnectOptions::builder(format!("{}{path_and_query}", self.base));
        for (k, v) in headers {
            opts = opts.add_header(k, v);
        }
        let own;
        let endpoint = match &self.per_session {
            None => &self.endpoint,
            Some(p) => {
                let socket =
                    p.ns.run(|| udp_socket(p.bind, false))
                        .and_then(|r| r)
                        .map_err(|e| ClientError::from_io(&e, true))?;
                own = client_endpoint(socket, p.tls.clone(), p.timeout, self.addr)?;
                &own
            }
        };
        // A session keeps its endpoint's driver running after the endpoint
        // handle is dropped.
        endpoint
            .connect(opts.build())
            .await
            .map_err(|e| self.connecting_error(e))
    }

    /// Why a session could not be opened, in terms the user can act on.
    fn connecting_error(&self, e: ConnectingError) -> ClientError {
        let addr = self.addr;
        match e {
            ConnectingError::SessionRejected => ClientError::new(
                ErrorKind::HttpStatus,
                format!(
                    "WebTransport session refused at {}: the server answered 403, 404 or 429 \
                     (refused origin, unknown path, or too many connections)",
                    self.base
                ),
            ),
            ConnectingError::ConnectionError(ConnectionError::TimedOut) => ClientError::new(
                ErrorKind::ConnectTimeout,
                format!("no answer over UDP/QUIC at {addr}: is WebTransport on, and UDP allowed?"),
            ),
            ConnectingError::ConnectionError(_)
                if self
                    .pin
                    .as_ref()
                    .is_some_and(|p| p.mismatched.load(Ordering::Relaxed)) =>
            {
                ClientError::new(
                    ErrorKind::Protocol,
                    format!(
                        "certificate hash mismatch at {addr}: pass --cert-hash from the server's \
                         start-up line or GET {}",
                        protocol::paths::WEBTRANSPORT_INFO
                    ),
                )
            }
            ConnectingError::ConnectionError(c) => closed_error(&c, false),
            other => ClientError::new(ErrorKind::Protocol, format!("WebTransport: {other}")),
        }
    }
}

/// A session that ended with `c` (not a lag close, handled before).
/// `refused`: the code of a session refused after it was accepted.
pub fn closed_error(c: &ConnectionError, connected: bool) -> ClientError {
    match c {
        ConnectionError::ApplicationClosed(close) => {
            let code = close.code().into_inner();
            let reason = String::from_utf8_lossy(close.reason());
            match u32::try_from(code)
                .ok()
                .and_then(protocol::webtransport::refused_status)
            {
                Some(status) => ClientError::new(
                    ErrorKind::HttpStatus,
                    format!("WebTransport session refused ({status}, code {code}): {reason}"),
                ),
                None => ClientError::new(
                    ErrorKind::UnexpectedClose,
                    format!(
                        "server closed the WebTransport session ({})",
                        close_description(code, &reason)
                    ),
                ),
            }
        }
        ConnectionError::TimedOut if connected => ClientError::new(
            ErrorKind::Timeout,
            "WebTransport session went silent (QUIC idle timeout)",
        ),
        ConnectionError::TimedOut => ClientError::new(
            ErrorKind::ConnectTimeout,
            "no answer over UDP/QUIC: is WebTransport on, and UDP allowed?",
        ),
        other => ClientError::new(ErrorKind::UnexpectedClose, format!("WebTransport: {other}")),
    }
}

/// HTTP/3's own error codes (RFC 9114, section 8.1), in order from 0x100.
const H3_ERRORS: [&str; 17] = [
    "H3_NO_ERROR",
    "H3_GENERAL_PROTOCOL_ERROR",
    "H3_INTERNAL_ERROR",
    "H3_STREAM_CREATION_ERROR",
    "H3_CLOSED_CRITICAL_STREAM",
    "H3_FRAME_UNEXPECTED",
    "H3_FRAME_ERROR",
    "H3_EXCESSIVE_LOAD",
    "H3_ID_ERROR",
    "H3_SETTINGS_ERROR",
    "H3_MISSING_SETTINGS",
    "H3_REQUEST_REJECTED",
    "H3_REQUEST_CANCELLED",
    "H3_REQUEST_INCOMPLETE",
    "H3_MESSAGE_ERROR",
    "H3_CONNECT_ERROR",
    "H3_VERSION_FALLBACK",
];

/// A close's code and reason for people: a bare HTTP/3 code (the peer's
/// HTTP/3 layer closed, not its application) is named, and an empty
/// reason is left out.
fn close_description(code: u64, reason: &str) -> String {
    let h3 = code
        .checked_sub(0x100)
        .and_then(|i| H3_ERRORS.get(usize::try_from(i).ok()?));
    let mut d = match h3 {
        Some(name) => format!("code {code}: HTTP/3 error {name}"),
        None => format!("code {code}"),
    };
    if !reason.is_empty() {
        d.push_str(": ");
        d.push_str(reason);
    }
    d
}

/// `GET /api/webtransport`: the session URL and the hash to pin; a server
/// without it (404) is reached at the target, trusting the system's roots.
async fn ask_server(ep: &Endpoint) -> Result<(Target, Trust), ClientError> {
    let path = protocol::paths::WEBTRANSPORT_INFO;
    let (status, body) = crate::http::get_once(&ep.dialer, &ep.authority, path, INFO_LIMIT).await?;
    match status {
        200 => trust::from_info(&body),
        404 => Ok((ep.target.clone(), Trust::Roots)),
        s => Err(ClientError::new(
            ErrorKind::HttpStatus,
            format!(
                "GET {path} answered {s}: {}",
                String::from_utf8_lossy(&body)
            ),
        )),
    }
}

/// Where sessions go, resolved: where the server said. A server announces
/// the address it bound; one bound to every address (0.0.0.0), or one
/// announcing loopback behind a target that is not, is reached at the
/// target's host on the announced port.
async fn reachable(
    announced: Target,
    target: &Target,
) -> Result<(Target, SocketAddr), ClientError> {
    let mut to = match (announced.addr, target.addr) {
        (Some(a), Some(t))
            if a.ip().is_unspecified() || (a.ip().is_loopback() && !t.ip().is_loopback()) =>
        {
            target.with_port(a.port())
        }
        _ => announced,
    };
    let addr = to
        .resolve()
        .await
        .map_err(|e| ClientError::new(ErrorKind::Protocol, format!("WebTransport: {e}")))?;
    Ok((to, addr))
}

/// Sessions go to the address resolved at the start of the run; the URL
/// keeps the host name for SNI and `Host`.
#[derive(Debug)]
struct Resolved(SocketAddr);

impl wtransport::config::DnsResolver for Resolved {
    fn resolve(&self, _host: &str) -> std::pin::Pin<Box<dyn wtransport::config::DnsLookupFuture>> {
        let addr = self.0;
        Box::pin(async move { Ok(Some(addr)) })
    }
}

/// Kernel buffer asked for on the shared UDP socket, each way.
const SOCKET_BUFFER: usize = 8 << 20;

/// A UDP socket for sessions; a shared one gets large kernel buffers (a
/// failure to get them is no error: the kernel's default then applies).
fn udp_socket(addr: SocketAddr, shared: bool) -> std::io::Result<std::net::UdpSocket> {
    let socket = std::net::UdpSocket::bind(addr)?;
    if shared {
        let _ = protocol::sys::set_socket_buffers(&socket, SOCKET_BUFFER);
    }
    Ok(socket)
}

/// A client endpoint on `socket`, with the idle timeout and keep-alives of
/// `--stream-timeout`.
fn client_endpoint(
    socket: std::net::UdpSocket,
    tls: rustls::ClientConfig,
    timeout: Duration,
    addr: SocketAddr,
) -> Result<wtransport::Endpoint<ClientSide>, ClientError> {
    let config = wtransport::ClientConfig::builder()
        .with_bind_socket(socket)
        .with_custom_tls(tls)
        .max_idle_timeout(Some(timeout))
        .map_err(|_| {
            ClientError::new(ErrorKind::Protocol, "--stream-timeout is too long for QUIC")
        })?
        // Our own keep-alives too: a server whose are rarer than our idle
        // timeout must not see us drop the session.
        .keep_alive_interval(Some(timeout / 3))
        .dns_resolver(Resolved(addr))
        .build();
    wtransport::Endpoint::client(config).map_err(|e| ClientError::from_io(&e, true))
}

/// The UDP socket's address: the first `--source-ips` address of the
/// target's family, else any.
fn bind_addr(target: SocketAddr, source_ips: &[IpAddr]) -> SocketAddr {
    let ip = source_ips
        .iter()
        .find(|ip| ip.is_ipv4() == target.is_ipv4())
        .copied()
        .unwrap_or(if target.is_ipv4() {
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        } else {
            IpAddr::V6(Ipv6Addr::UNSPECIFIED)
        });
    SocketAddr::new(ip, 0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn closes_name_http3_codes_and_skip_empty_reasons() {
        use super::close_description as d;
        assert_eq!(d(261, ""), "code 261: HTTP/3 error H3_FRAME_UNEXPECTED");
        assert_eq!(d(0x100, "bye"), "code 256: HTTP/3 error H3_NO_ERROR: bye");
        assert_eq!(d(0x110, ""), "code 272: HTTP/3 error H3_VERSION_FALLBACK");
        assert_eq!(d(0x111, ""), "code 273");
        assert_eq!(d(4000, "lagged"), "code 4000: lagged");
        assert_eq!(d(7, ""), "code 7");
    }

    use super::*;

    async fn to(announced: &str, target: &str) -> String {
        let announced = Target::parse(announced).expect("announced");
        let target = Target::parse(target).expect("target");
        let (t, addr) = reachable(announced, &target).await.expect("reachable");
        format!("{} {addr}", t.authority)
    }

    /// Sessions go where the server said, unless it said where only it can
    /// go: its wildcard address, or loopback seen from another machine.
    #[tokio::test]
    async fn sessions_go_where_the_client_can_reach() {
        let cases = [
            (
                "https://127.0.0.1:4433",
                "http://127.0.0.2:3000",
                "127.0.0.1:4433 127.0.0.1:4433",
            ),
            (
                "https://0.0.0.0:4433",
                "http://127.0.0.1:3000",
                "127.0.0.1:4433 127.0.0.1:4433",
            ),
            (
                "https://[::]:4433",
                "http://[::1]:3000",
                "[::1]:4433 [::1]:4433",
            ),
            (
                "https://127.0.0.1:4433",
                "http://192.0.2.1:80",
                "192.0.2.1:4433 192.0.2.1:4433",
            ),
            (
                "https://192.0.2.9:4433",
                "http://192.0.2.1:80",
                "192.0.2.9:4433 192.0.2.9:4433",
            ),
        ];
        for (announced, target, want) in cases {
            assert_eq!(
                to(announced, target).await,
                want,
                "{announced} via {target}"
            );
        }
    }
}
