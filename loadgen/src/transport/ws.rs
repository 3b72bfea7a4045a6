//! WebSocket: one socket per client (rtbench: `GET …/ws?since=ID`),
//! tokio-tungstenite over the counting stream with small buffers; join
//! frames, resume and lag close come from the profile.

use super::{Client, End, REQUEST_TIMEOUT, Shared, Silence, bounded};
use crate::error::{ClientError, ErrorKind};
use crate::profile::{Sub, Vars};
use futures_util::{SinkExt, StreamExt};
use hyper::header::{self, HeaderName, HeaderValue};
use std::time::{Duration, Instant};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

/// Small buffers: tungstenite's defaults cost ~138 KiB per idle client
/// (docs/architecture.md); a 2 KiB read buffer (the server's size) and no
/// write buffering keep it small. Messages larger than the buffer still
/// work (it grows per read). Small also because tungstenite zeroes the
/// buffer's free part before every read attempt, data or not.
pub fn config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(2048)
        .write_buffer_size(0)
}

/// Open a WebSocket to `path_and_query` with the profile's headers and
/// subprotocols, then send its `on_open` frames. Shared by subscribers and
/// WebSocket publishers.
pub async fn open(
    stream: crate::net::Stream,
    authority: &str,
    path_and_query: &str,
    sub: &Sub,
    vars: &Vars<'_>,
    extra_headers: impl Iterator<Item = (&HeaderName, &str)>,
) -> Result<WebSocketStream<crate::net::Stream>, ClientError> {
    let url = format!("ws://{authority}{path_and_query}");
    let mut req = url
        .as_str()
        .into_client_request()
        .map_err(|e| ClientError::from_ws(&e))?;
    let h = req.headers_mut();
    for (k, t) in &sub.headers {
        let v = HeaderValue::from_str(&t.render(vars))
            .map_err(|e| ClientError::new(ErrorKind::Protocol, format!("header {k}: {e}")))?;
        h.insert(k, v);
    }
    for (k, v) in extra_headers {
        let v = HeaderValue::from_str(v)
            .map_err(|e| ClientError::new(ErrorKind::Protocol, format!("header {k}: {e}")))?;
        h.insert(k, v);
    }
    if !sub.ws().subprotocols.is_empty() {
        let v = HeaderValue::from_str(&sub.ws().subprotocols.join(", "))
            .map_err(|e| ClientError::new(ErrorKind::Protocol, format!("subprotocols: {e}")))?;
        h.insert(header::SEC_WEBSOCKET_PROTOCOL, v);
    }
    let (mut ws, _resp) = tokio_tungstenite::client_async_with_config(req, stream, Some(config()))
        .await
        .map_err(|e| ClientError::from_ws(&e))?;
    for frame in &sub.ws().on_open {
        ws.send(Message::text(frame.render(vars)))
            .await
            .map_err(|e| ClientError::from_ws(&e))?;
    }
    Ok(ws)
}

pub async fn session(c: &mut Client) -> Result<End, ClientError> {
    let started = Instant::now();
    let cancel = c.cancel().clone();
    let shared = c.shared.clone();
    let sub = shared.sub();
    let name = format!("c{}", c.index);
    let path = c.url(&sub.url.render(&c.vars(&name)));
    let Some(mut ws) = bounded(
        &cancel,
        REQUEST_TIMEOUT,
        "WebSocket connect timed out",
        // An async block, not a function: its captures are references,
        // which keeps this (per-client) future small.
        async {
            let _permit = c.dialer().permit().await;
            let stream = c.dial(crate::net::Purpose::Ws).await?;
            // Boxed: the handshake's state is large and lives only until
            // the socket is open; the session future stays small.
            let token = shared.token_header(&name);
            let extra = c
                .cursor_headers()
                .chain(token.as_ref().map(|(k, v)| (k, v.as_str())));
            Box::pin(open(
                stream,
                c.authority(),
                &path,
                sub,
                &c.vars(&name),
                extra,
            ))
            .await
            .map_err(|e| match e.kind {
                ErrorKind::HttpStatus | ErrorKind::Protocol => shared.url_error(e.on(&path)),
                _ => e,
            })
        },
    )
    .await?
    else {
        return Ok(End::Cancelled);
    };
    c.shared.rec.trace(|| {
        format!(
            "WebSocket ws://{}{path} open; sent {} on_open frame(s)",
            c.authority(),
            sub.ws().on_open.len()
        )
    });
    c.connected(started);
    c.request(false);
    // Made once, not per message: registering a cancellation waiter and a
    // timer per frame was a tenth of the load generator's CPU.
    // A token of this session's own: polling a waiter locks its token's
    // node, and one node shared by every client is a contended lock.
    let own = cancel.child_token();
    let cancelled = own.cancelled();
    tokio::pin!(cancelled);
    let mut silence = Silence::new(c.shared.cfg.stream_timeout);
    loop {
        // Biased: no random draw per poll; the end of the run first, and
        // a message that is there before a silence that just ran out.
        let next = tokio::select! {
            biased;
            _ = &mut cancelled => {
                // Close politely (bounded) so the server sees a clean end.
                let _ = tokio::time::timeout(Duration::from_secs(1), ws.close(None)).await;
                return Ok(End::Cancelled);
            }
            m = ws.next() => Ok(m),
            _ = silence.expired() => Err(()),
        };
        silence.heard();
        if let Some(end) = take_message(c, &shared, sub, message(next)?)? {
            return Ok(end);
        }
    }
}

/// The next message of the socket. `Err(())`: it went silent.
fn message(next: Result<Option<Result<Message, WsError>>, ()>) -> Result<Message, ClientError> {
    match next {
        Err(()) => Err(ClientError::new(
            ErrorKind::Timeout,
            "WebSocket went silent",
        )),
        Ok(None) => Err(ClientError::new(
            ErrorKind::UnexpectedClose,
            "WebSocket ended",
        )),
        Ok(Some(Err(e))) => Err(ClientError::from_ws(&e)),
        Ok(Some(Ok(m))) => Ok(m),
    }
}

/// Act on one message: record a data frame (or count it as a server
/// error or a gap notice, as the profile says); a close ends the session,
/// as a lag when its code is the profile's `lag_close`.
fn take_message(
    c: &mut Client,
    shared: &Shared,
    sub: &Sub,
    msg: Message,
) -> Result<Option<End>, ClientError> {
    let unit: &[u8] = match &msg {
        Message::Text(text) => text.as_bytes(),
        Message::Binary(bytes) => bytes,
        Message::Close(frame) => return closed(c, sub, frame.as_ref()).map(Some),
        // Pings are answered by tungstenite on the next read.
        Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => return Ok(None),
    };
    let now_us = c.shared.rec.clock.now_us();
    c.shared
        .rec
        .trace(|| format!("WebSocket frame: {}", crate::record::snippet(unit)));
    if sub.ws().error.as_ref().is_some_and(|m| m.matches(unit)) {
        c.shared.rec.error(&ClientError::new(
            ErrorKind::Protocol,
            format!("server error frame: {}", String::from_utf8_lossy(unit)),
        ));
    } else if sub.ws().gap.as_ref().is_some_and(|m| m.matches(unit)) {
        c.gap();
    } else if sub
        .ws()
        .message_if
        .as_ref()
        .is_some_and(|m| !m.matches(unit))
    {
        c.shared
            .rec
            .trace(|| "ignored: not selected by [ws] message_if".to_string());
    } else if let Err(e) = c.take_unit(shared, now_us, unit) {
        c.shared.rec.error(&e);
    }
    Ok(None)
}

/// The server closed the socket: a lag (resume at once) or an error.
fn closed(c: &mut Client, sub: &Sub, frame: Option<&CloseFrame>) -> Result<End, ClientError> {
    let code = frame.map(|f| u16::from(f.code));
    c.shared.rec.trace(|| match frame {
        Some(f) => format!(
            "WebSocket closed by the server: code {} reason {:?}",
            u16::from(f.code),
            f.reason.as_str()
        ),
        None => "WebSocket closed by the server without a close frame".to_string(),
    });
    if code.is_some() && code == sub.ws().lag_close {
        let cursor = frame.and_then(|f| {
            sub.ws()
                .lag_cursor
                .as_ref()
                .and_then(|p| p.find_str(f.reason.as_bytes()).ok().flatten())
        });
        c.lagged(cursor.as_deref());
        return Ok(End::Lagged);
    }
    let reason = frame.map(|f| f.reason.as_str()).unwrap_or_default();
    Err(ClientError::new(
        ErrorKind::UnexpectedClose,
        match code {
            Some(code) => format!("server closed the WebSocket ({code}): {reason}"),
            None => "server closed the WebSocket without a close frame".to_string(),
        },
    ))
}
