//! `socketio`: the official client's default. Polling handshake and
//! CONNECT on an HTTP connection, then the session moves to a WebSocket
//! (`2probe`/`3probe`/`5`) and the polling connection is closed.

use super::super::{Client, End, REQUEST_TIMEOUT, Silence, bounded};
use super::{State, count, handshake_request, section};
use crate::error::{ClientError, ErrorKind};
use crate::net::Stream;
use futures_util::StreamExt;
use std::time::{Duration, Instant};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

/// What opening a session gave (returned once per session, so the size
/// of its variants does not matter).
#[allow(clippy::large_enum_variant)]
enum Opened {
    /// The upgraded socket and how long the server may stay silent.
    Ws(WebSocketStream<Stream>, Duration),
    /// The session ended before the upgrade (a lag notice).
    End(End),
}

pub async fn session(c: &mut Client) -> Result<End, ClientError> {
    let started = Instant::now();
    let shared = c.shared.clone();
    let sio = section(&shared)?;
    let cancel = c.cancel().clone();
    let mut st = State::new(c, sio, started)?;
    let opened = bounded(
        &cancel,
        REQUEST_TIMEOUT,
        "Socket.IO connect timed out",
        Box::pin(open(c, &mut st)),
    );
    let (mut ws, limit) = match opened.await? {
        None => return Ok(End::Cancelled),
        Some(Opened::End(end)) => return Ok(end),
        Some(Opened::Ws(ws, limit)) => (ws, limit),
    };
    c.request(false);
    let own = cancel.child_token();
    let cancelled = own.cancelled();
    tokio::pin!(cancelled);
    let mut silence = Silence::new(limit);
    loop {
        for p in st.out.drain(..) {
            super::send(&mut ws, &p).await?;
        }
        let next = tokio::select! {
            _ = &mut cancelled => {
                let _ = tokio::time::timeout(Duration::from_secs(1), ws.close(None)).await;
                return Ok(End::Cancelled);
            }
            _ = silence.expired() => {
                return Err(ClientError::new(ErrorKind::Timeout, "Socket.IO server went silent (no ping)"));
            }
            m = ws.next() => m,
        };
        silence.heard();
        let text = match next {
            None => return Err(closed("the WebSocket ended")),
            Some(Err(e)) => return Err(ClientError::from_ws(&e)),
            Some(Ok(Message::Text(t))) => t,
            Some(Ok(Message::Binary(_))) => {
                return Err(ClientError::new(
                    ErrorKind::Protocol,
                    "binary Engine.IO packets are not supported",
                ));
            }
            Some(Ok(Message::Close(f))) => {
                return Err(closed(&format!("the server closed the WebSocket: {f:?}")));
            }
            Some(Ok(_)) => continue,
        };
        if let Some(end) = st.take(c, &shared, text.as_str())? {
            return Ok(end);
        }
    }
}

fn closed(why: &str) -> ClientError {
    ClientError::new(ErrorKind::UnexpectedClose, why.to_string())
}

/// Handshake (counted), CONNECT by POST, poll until the server answers
/// CONNECT, then upgrade (counted); the polling connection is dropped.
async fn open(c: &mut Client, st: &mut State<'_>) -> Result<Opened, ClientError> {
    let shared = c.shared.clone();
    let (mut p, rest) = super::polling::open(c).await?;
    let (_, headers) = handshake_request(c);
    if let Some(end) = st.take_payload(c, &shared, &rest)? {
        return Ok(Opened::End(end));
    }
    while !st.joined {
        if !st.out.is_empty() {
            let payload = st.out.join("\u{1e}");
            st.out.clear();
            super::post(&mut p, payload).await?;
        }
        let body = super::poll(&mut p).await?;
        if let Some(end) = st.take_payload(c, &shared, &body)? {
            return Ok(Opened::End(end));
        }
    }
    let stream = {
        let _permit = c.dialer().permit().await;
        c.dial(crate::net::Purpose::Ws).await?
    };
    let mut early = Vec::new();
    let ws = super::ws_upgrade(stream, c.authority(), &p, &headers, &mut early).await?;
    count(c, true);
    let limit = p.silence_limit();
    drop(p);
    for text in &early {
        if let Some(end) = st.take(c, &shared, text)? {
            return Ok(Opened::End(end));
        }
    }
    Ok(Opened::Ws(ws, limit))
}
