//! Engine.IO long polling: a held `GET` for what the session sends, a
//! `POST` for what the client sends.

use super::SocketIo;
use super::engine_error;
use super::store::{Handle, In, Out};
use crate::AppState;
use crate::metrics::Label;
use crate::net::Conn;
use crate::transport::Framing;
use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use protocol::Transport;
use protocol::socketio::{EngineError, Fit, PayloadBuilder, decode_payload};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

/// A polling body.
pub(super) fn text(body: String) -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=UTF-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body,
    )
        .into_response()
}

/// The label of a session's requests: `socketio` once it upgraded.
fn label(h: &Handle) -> Label {
    if h.upgraded.load(Relaxed) {
        Label::Transport(Transport::SocketIo)
    } else {
        Label::Transport(Transport::SocketIoPolling)
    }
}

/// Frees the session's `GET` slot however the request ends.
struct Held<'a>(&'a Handle);

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.0.outbox().held = false;
    }
}

/// `GET …&sid=`: what is queued, or wait for it (a ping comes within
/// `pingInterval`, so the wait is bounded).
pub(super) async fn get(app: &AppState, h: Arc<Handle>, conn: Conn) -> Response {
    conn.label(label(&h));
    h.add_poll(conn.0.as_ref());
    if h.upgraded.load(Relaxed) {
        return engine_error(3, "Bad request");
    }
    {
        let mut outbox = h.outbox();
        if outbox.held {
            return engine_error(3, "Bad request");
        }
        outbox.held = true;
    }
    let _held = Held(&h);
    let max = app.config.max_message_bytes;
    loop {
        let notified = h.notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if let Some(body) = drain(app, &h, max) {
            return text(body);
        }
        tokio::select! {
            _ = &mut notified => {}
            _ = app.shutdown.cancelled() => {}
        }
        if app.shutdown.is_cancelled() && h.queued() == 0 {
            return text("1".into());
        }
    }
}

/// What the outbox holds, up to `max` bytes; `None` while it is empty and
/// the session goes on.
fn drain(app: &AppState, h: &Handle, max: usize) -> Option<String> {
    let mut outbox = h.outbox();
    if outbox.queue.is_empty() {
        return outbox.closed.then(|| "1".to_string());
    }
    let mut b = PayloadBuilder::new(max);
    let mut delivered = 0;
    while let Some(o) = outbox.queue.pop_front() {
        let fit = match &o {
            Out::Message(d) => b.push_encoded(SocketIo::framed(d).as_str()),
            Out::Packet(p) => b.push_encoded(p),
        };
        match fit {
            Ok(Fit::Added) => delivered += u64::from(matches!(o, Out::Message(_))),
            Ok(Fit::Full) => {
                outbox.queue.push_front(o);
                break;
            }
            // Larger than a whole payload: it can never go out this way.
            Err(_) => {}
        }
    }
    drop(outbox);
    app.metrics.delivered(Transport::SocketIoPolling, delivered);
    Some(b.finish())
}

/// `POST …&sid=`: the client's packets, handed to the session's task.
pub(super) async fn post(app: &AppState, h: Arc<Handle>, conn: Conn, body: Body) -> Response {
    conn.label(label(&h));
    h.add_poll(conn.0.as_ref());
    let max = app.config.max_message_bytes;
    let Ok(bytes) = axum::body::to_bytes(body, max + 1).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, "payload too large").into_response();
    };
    match check(&bytes, max) {
        Ok(()) => {}
        Err(EngineError::PayloadTooLarge { .. }) => {
            return (StatusCode::PAYLOAD_TOO_LARGE, "payload too large").into_response();
        }
        Err(_) => {
            // The session's task counts it and ends the session.
            let _ = h.inbound.send(In::Malformed).await;
            return engine_error(3, "Bad request");
        }
    }
    let body = String::from_utf8_lossy(&bytes).into_owned();
    if h.inbound.send(In::Payload(body)).await.is_err() {
        return engine_error(1, "Session ID unknown");
    }
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static("text/html"))],
        "ok",
    )
        .into_response()
}

/// Every record of the body is an Engine.IO packet.
fn check(body: &[u8], max: usize) -> Result<(), EngineError> {
    for p in decode_payload(body, max)? {
        p?;
    }
    Ok(())
}
