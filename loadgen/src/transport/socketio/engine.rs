//! Engine.IO over the counting streams: the polling handshake, held GETs
//! and POSTs of a polling session, and the WebSocket upgrade probe. Shared
//! by the subscribers and the Socket.IO publisher.

use crate::error::{ClientError, ErrorKind};
use crate::http::{HttpConn, empty, read_body};
use crate::net::Stream;
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http_body_util::Full;
use hyper::header::{self, HeaderName, HeaderValue};
use protocol::socketio::{EnginePacket, Handshake, decode_payload};
use std::time::Duration;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// A polling Engine.IO session: its connection and where its requests go.
#[derive(Debug)]
pub struct Polling {
    pub conn: HttpConn,
    /// `{path}?EIO=4&transport=polling&sid=…`
    pub uri: String,
    pub ping_interval: Duration,
    pub ping_timeout: Duration,
}

impl Polling {
    /// How long the server may stay silent: it pings every interval and
    /// waits the timeout for an answer, so a live server is heard within
    /// both (what the official client allows).
    pub fn silence_limit(&self) -> Duration {
        self.ping_interval + self.ping_timeout
    }
}

fn protocol(why: impl Into<std::borrow::Cow<'static, str>>) -> ClientError {
    ClientError::new(ErrorKind::Protocol, why)
}

/// `GET {uri}` (the handshake URL, with `EIO=4&transport=polling`): the
/// open packet. Packets after it in the same answer are returned too.
pub async fn handshake(
    mut conn: HttpConn,
    path: &str,
    uri: &str,
    headers: &[(HeaderName, String)],
) -> Result<(Polling, Bytes), ClientError> {
    let mut req = conn.get(uri);
    for (k, v) in headers {
        req = req.header(k, v);
    }
    let resp = conn.send(empty(req)?).await?;
    let status = resp.status();
    let body = read_body(resp.into_body()).await?;
    if !status.is_success() {
        return Err(ClientError::new(
            ErrorKind::HttpStatus,
            format!(
                "Engine.IO handshake GET {uri} answered {status}: {}",
                crate::record::snippet(&body)
            ),
        ));
    }
    let hs = open_packet(&body)?;
    let sep = if path.contains('?') { '&' } else { '?' };
    let rest = body
        .iter()
        .position(|&b| b == 0x1e)
        .map_or_else(Bytes::new, |i| body.slice(i + 1..));
    Ok((
        Polling {
            conn,
            uri: format!("{path}{sep}EIO=4&transport=polling&sid={}", hs.sid),
            ping_interval: Duration::from_millis(hs.ping_interval),
            ping_timeout: Duration::from_millis(hs.ping_timeout),
        },
        rest,
    ))
}

/// The handshake: the first record of the answer must be an open packet.
fn open_packet(body: &[u8]) -> Result<Handshake, ClientError> {
    let mut records = decode_payload(body, crate::http::MAX_BODY_BYTES)
        .map_err(|e| protocol(format!("Engine.IO handshake: {e}")))?;
    match records.next() {
        Some(Ok(EnginePacket::Open(hs))) => Ok(hs),
        Some(Ok(p)) => Err(protocol(format!(
            "Engine.IO handshake answered {:?} instead of open",
            p.packet_type()
        ))),
        Some(Err(e)) => Err(protocol(format!("Engine.IO handshake: {e}"))),
        None => Err(protocol("Engine.IO handshake: empty answer")),
    }
}

/// One held GET: the packets the server has for us. `400` (an unknown or
/// closed session) ends the session.
pub async fn poll(p: &mut Polling) -> Result<Bytes, ClientError> {
    let req = empty(p.conn.get(&p.uri))?;
    let resp = p.conn.send(req).await?;
    let status = resp.status();
    let body = read_body(resp.into_body()).await?;
    check(status, "GET", &p.uri, &body)?;
    Ok(body)
}

/// POST packets (joined by 0x1E) to the session.
pub async fn post(p: &mut Polling, payload: String) -> Result<(), ClientError> {
    let req = p
        .conn
        .request(hyper::Method::POST, &p.uri)
        .header(header::CONTENT_TYPE, "text/plain;charset=UTF-8")
        .body(Full::new(Bytes::from(payload)))
        .map_err(|e| protocol(format!("building request: {e}")))?;
    let resp = p.conn.send(req).await?;
    let status = resp.status();
    let body = read_body(resp.into_body()).await?;
    check(status, "POST", &p.uri, &body)
}

fn check(
    status: hyper::StatusCode,
    method: &str,
    uri: &str,
    body: &[u8],
) -> Result<(), ClientError> {
    if status.is_success() {
        return Ok(());
    }
    // Engine.IO answers 400 to a sid it no longer knows: the server ended
    // the session (a restart, a ping timeout); the client reconnects.
    let kind = if status == hyper::StatusCode::BAD_REQUEST {
        ErrorKind::UnexpectedClose
    } else {
        ErrorKind::HttpStatus
    };
    Err(ClientError::new(
        kind,
        format!(
            "Engine.IO {method} {uri} answered {status}: {}",
            crate::record::snippet(body)
        ),
    ))
}

/// Upgrade `p` to a WebSocket on `stream`: open `transport=websocket&sid=…`,
/// `2probe` → `3probe`, then `5`. Packets the server sends meanwhile are
/// handed to `early` in order.
pub async fn upgrade(
    stream: Stream,
    authority: &str,
    p: &Polling,
    headers: &[(HeaderName, String)],
    early: &mut Vec<String>,
) -> Result<WebSocketStream<Stream>, ClientError> {
    let uri = p
        .uri
        .replacen("transport=polling", "transport=websocket", 1);
    let mut req = format!("ws://{authority}{uri}")
        .into_client_request()
        .map_err(|e| ClientError::from_ws(&e))?;
    for (k, v) in headers {
        let v = HeaderValue::from_str(v).map_err(|e| protocol(format!("header {k}: {e}")))?;
        req.headers_mut().insert(k, v);
    }
    let config = Some(crate::transport::ws::config());
    let (mut ws, _) = tokio_tungstenite::client_async_with_config(req, stream, config)
        .await
        .map_err(|e| ClientError::from_ws(&e))?;
    send(&mut ws, "2probe").await?;
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) if t.as_str() == "3probe" => break,
            Some(Ok(Message::Text(t))) => early.push(t.as_str().to_string()),
            Some(Ok(Message::Close(_))) | None => {
                return Err(ClientError::new(
                    ErrorKind::UnexpectedClose,
                    "the server closed the WebSocket during the upgrade probe",
                ));
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(ClientError::from_ws(&e)),
        }
    }
    send(&mut ws, "5").await?;
    Ok(ws)
}

pub async fn send(ws: &mut WebSocketStream<Stream>, text: &str) -> Result<(), ClientError> {
    ws.send(Message::text(text))
        .await
        .map_err(|e| ClientError::from_ws(&e))
}
