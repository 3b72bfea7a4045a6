//! WebTransport over HTTP/3 (docs/webtransport.md): one QUIC connection
//! per session on the server's UDP socket.
//!
//! A session request is turned into an HTTP request head and goes through
//! the same [`Subscription`] steps as every other transport (room, query,
//! token, user), so a refusal has the same status and body; HTTP/3 lets a
//! server answer only 403, 404 and 429 before a session exists, so other
//! refusals accept and close at once with `4000 + status`. For the
//! per-address limits a session is one connection of its client address
//! (forwarded by a trusted proxy, else its UDP peer), checked as a TCP
//! socket is at accept.
//!
//! - `cert`: the certificate (the `--tls-cert` one, or a fresh self-signed one).
//! - `session`: the server's stream and datagrams.
//! - `requests`: what clients send on their bidirectional streams.

mod cert;
mod requests;
mod session;

use super::{Endpoint, Params, Subscription};
use crate::app::AppState;
use crate::error::{ApiError, Error};
use crate::hub::Room;
use crate::limits::per_ip::IpSlot;
use crate::limits::{self, OpenConnection};
use crate::net::ConnMeter;
use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use protocol::Transport;
use protocol::webtransport::{Mode, close_refused};
use std::net::UdpSocket;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;
use wtransport::endpoint::{IncomingSession, SessionRequest, endpoint_side};
use wtransport::quinn::{IdleTimeout, TransportConfig, VarInt as QVarInt};
use wtransport::{ServerConfig, VarInt};

/// Bidirectional request streams a client may have open at once (plus
/// the session's own CONNECT stream): bounds a session's buffers.
const MAX_REQUEST_STREAMS: u32 = 8;

/// Received datagrams are not read by the server; this bounds their buffer.
const DATAGRAM_RECEIVE_BUFFER: usize = 16 * 1024;

/// The server's HTTP/3 endpoint.
pub(crate) type WtEndpoint = wtransport::Endpoint<endpoint_side::Server>;

/// `CONNECT /api/rooms/{room}/wt`.
pub(crate) struct Wt;

#[derive(serde::Deserialize)]
struct ModeQuery {
    mode: Option<Mode>,
}

/// The `{room}` of a session path, or `None` when it is not a session path.
fn room_of(path: &str) -> Option<&str> {
    let path = path.split('?').next().unwrap_or_default();
    let room = path.strip_prefix("/api/rooms/")?.strip_suffix("/wt")?;
    (!room.contains('/')).then_some(room)
}

impl Endpoint for Wt {
    type Admit = Mode;
    type Room = Arc<Room>;

    async fn room(parts: &mut Parts) -> Result<Option<String>, ApiError> {
        let room = room_of(parts.uri.path()).ok_or(ApiError::NotFound)?;
        protocol::validate_room(room)?;
        Ok(Some(room.to_string()))
    }

    fn transport(_: &Params, mode: &Mode) -> Transport {
        match mode {
            Mode::Stream => Transport::WebTransport,
            Mode::Datagram => Transport::WebTransportDatagram,
        }
    }

    async fn admit(parts: &mut Parts) -> Result<Mode, Response> {
        let Query(q) = Query::<ModeQuery>::try_from_uri(&parts.uri).map_err(|e| {
            ApiError::BadQuery(format!("{} (mode is stream or datagram)", e.body_text()))
                .into_response()
        })?;
        Ok(q.mode.unwrap_or(Mode::Stream))
    }
}

/// The UDP endpoint on `socket`, its URL and certificate hash; QUIC
/// keep-alives every heartbeat, idle timeout twice that.
pub(crate) async fn start(
    config: &crate::Config,
    socket: UdpSocket,
) -> Result<(WtEndpoint, protocol::WebTransportInfo), Error> {
    let addr = socket.local_addr().map_err(Error::WebTransport)?;
    socket.set_nonblocking(true).map_err(Error::WebTransport)?;
    let cert = cert::Cert::new(config, addr.ip()).await?;
    let info = protocol::WebTransportInfo {
        url: format!("https://{addr}"),
        cert_hash: cert.hash.clone(),
        self_signed: cert.self_signed,
    };
    let server = ServerConfig::builder()
        .with_bind_socket(socket)
        .with_custom_transport(cert.identity, transport_config(config))
        .build();
    let endpoint = WtEndpoint::server(server).map_err(Error::WebTransport)?;
    Ok((endpoint, info))
}

fn transport_config(config: &crate::Config) -> TransportConfig {
    let mut t = TransportConfig::default();
    let hb = config.heartbeat;
    t.keep_alive_interval(Some(hb));
    t.max_idle_timeout(IdleTimeout::try_from(hb * 2).ok());
    t.max_concurrent_bidi_streams(QVarInt::from_u32(MAX_REQUEST_STREAMS + 1));
    // HTTP/3 needs three (control, QPACK encoder and decoder).
    t.max_concurrent_uni_streams(QVarInt::from_u32(4));
    // A request line is at most max_message_bytes + 1 KiB.
    let stream_window = (config.max_message_bytes as u64 + 64 * 1024).min(u32::MAX as u64);
    let window = stream_window * u64::from(MAX_REQUEST_STREAMS + 4);
    t.stream_receive_window(QVarInt::from_u32(stream_window as u32));
    t.receive_window(QVarInt::from_u64(window).unwrap_or(QVarInt::MAX));
    t.datagram_receive_buffer_size(Some(DATAGRAM_RECEIVE_BUFFER));
    t
}

/// Accepts sessions until shutdown; each is tracked for the drain.
pub(crate) async fn serve(endpoint: Arc<WtEndpoint>, app: AppState) {
    loop {
        // Shutdown first: `accept` panics on a closed endpoint, and the
        // endpoint is closed after shutdown (once this loop has ended).
        let incoming = tokio::select! {
            biased;
            _ = app.shutdown.cancelled() => break,
            i = endpoint.accept() => i,
        };
        app.tracker.spawn(incoming_session(app.clone(), incoming));
    }
}

/// One QUIC connection: handshake and session request within the
/// header-read timeout, the checks, then the session.
async fn incoming_session(app: AppState, incoming: IncomingSession) {
    let limits = &app.limit_metrics;
    let open = limits.open_connections.fetch_add(1, Relaxed);
    let place = OpenConnection(limits.clone());
    // A handshake in progress does not hold up shutdown.
    let handshake = tokio::time::timeout(app.config.header_read_timeout, incoming);
    let request = tokio::select! {
        _ = app.shutdown.cancelled() => return,
        r = handshake => match r {
            Ok(Ok(r)) => r,
            _ => {
                limits.tls_failures.fetch_add(1, Relaxed);
                return;
            }
        },
    };
    let client = client_address(&app, &request);
    let mut meter = ConnMeter::new(app.metrics.clone())
        .holding(place)
        .with_peer(client);
    let checked = tokio::time::timeout(Duration::from_secs(10), check(&app, request, open, client));
    let Ok(Ok((request, slot))) = checked.await else {
        return;
    };
    if let Some(slot) = slot {
        meter.hold_ip(slot);
    }
    let meter = Arc::new(meter);
    match subscribe(&app, &request, &meter).await {
        Ok(sub) => {
            if let Ok(conn) = request.accept().await {
                session::run(sub, conn, meter).await;
            }
        }
        Err(refused) => refuse(request, refused, &meter).await,
    }
}

/// The session's client: its UDP peer, or the address a trusted proxy
/// forwarded in the request's `X-Forwarded-For` / `Forwarded` (read only
/// with `--trusted-proxies` and from a listed peer).
fn client_address(app: &AppState, request: &SessionRequest) -> std::net::IpAddr {
    let peer = request.remote_address().ip();
    let list = &app.config.trusted_proxies;
    if list.is_empty() {
        return peer;
    }
    let headers = request.headers();
    limits::proxy::client_of_fields(list, peer, |name| headers.get(name).map(String::as_str))
}

/// The refusals HTTP/3 can answer before a session exists: 429 past
/// `--max-connections` or a per-address limit (the session is the unit:
/// one session, one connection of its client address), 404, 403. On
/// success, the session's place under `--max-connections-per-ip`.
async fn check(
    app: &AppState,
    request: SessionRequest,
    open: i64,
    client: std::net::IpAddr,
) -> Result<(SessionRequest, Option<IpSlot>), ()> {
    let limits = &app.limit_metrics;
    if open >= app.config.max_connections as i64 {
        limits.rejected_connections.fetch_add(1, Relaxed);
        request.too_many_requests().await;
        return Err(());
    }
    let slot = match limits::per_ip::admit(app, client) {
        Ok(slot) => slot,
        Err(_) => {
            // wtransport's 429 carries no headers: no Retry-After.
            request.too_many_requests().await;
            return Err(());
        }
    };
    if room_of(request.path()).is_none() {
        request.not_found().await;
        return Err(());
    }
    if !limits::origin_allowed(app, request.origin(), Some(request.authority())) {
        request.forbidden().await;
        return Err(());
    }
    Ok((request, slot))
}

/// The session request as an HTTP request head through the shared
/// subscribe steps.
async fn subscribe(
    app: &AppState,
    request: &SessionRequest,
    meter: &Arc<ConnMeter>,
) -> Result<Subscription<Wt>, Response> {
    let mut head = axum::http::Request::builder()
        .method(axum::http::Method::GET)
        .uri(request.path())
        .header(axum::http::header::HOST, request.authority());
    for (k, v) in request.headers() {
        if !k.starts_with(':') && k != "host" {
            head = head.header(k.as_str(), v.as_str());
        }
    }
    let (mut parts, ()) = head
        .body(())
        .map_err(|e| ApiError::BadQuery(e.to_string()).into_response())?
        .into_parts();
    parts.extensions.insert(meter.clone());
    match crate::auth::authorize(app, &parts.headers, &parts.uri) {
        Ok(auth) => {
            parts.extensions.insert(auth.unwrap_or_default());
        }
        Err(e) => return Err(ApiError::Unauthorized(e.to_string()).into_response()),
    }
    Subscription::<Wt>::from_request_parts(&mut parts, app).await
}

/// Accepts the session and closes it at once with `4000 + status` and the
/// JSON error body as the reason.
async fn refuse(request: SessionRequest, refused: Response, meter: &ConnMeter) {
    let code = close_refused(refused.status().as_u16());
    let reason = axum::body::to_bytes(refused.into_body(), 4096)
        .await
        .unwrap_or_default();
    let Ok(conn) = request.accept().await else {
        return;
    };
    conn.close(VarInt::from_u32(code), &reason);
    session::Wire::default().sample(&conn, meter);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_paths() {
        assert_eq!(room_of("/api/rooms/lobby/wt"), Some("lobby"));
        assert_eq!(room_of("/api/rooms/lobby/wt?mode=datagram"), Some("lobby"));
        assert_eq!(
            room_of("/api/rooms/a.b/wt"),
            Some("a.b"),
            "refused later: 4400"
        );
        for not in [
            "/api/rooms/lobby/ws",
            "/api/rooms/a/b/wt",
            "/wt",
            "/api/rooms//x",
        ] {
            assert_eq!(room_of(not), None, "{not}");
        }
    }
}
