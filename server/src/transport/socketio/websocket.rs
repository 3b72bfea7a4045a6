//! Engine.IO over WebSocket: a session opened on one directly, and the
//! upgrade of a polling session (`2probe`, `3probe`, `5`).

use super::engine_error;
use super::session::{Link, Session, last_words};
use super::store::{Handle, In, Out};
use crate::AppState;
use crate::metrics::Label;
use axum::extract::ws::{Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use protocol::Transport;
use protocol::socketio::engine::PROBE;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use tokio::sync::mpsc::error::SendError;

/// Small buffers, as on `/ws`: an idle socket should cost little.
const READ_BUFFER: usize = 2048;
const WRITE_BUFFER: usize = 4096;

fn configure(app: &AppState, upgrade: WebSocketUpgrade) -> WebSocketUpgrade {
    let max = app.config.max_message_bytes;
    upgrade
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .max_message_size(max)
        .max_frame_size(max)
}

/// `transport=websocket` without a sid: the open packet is the first frame.
pub(super) fn direct(
    app: AppState,
    upgrade: WebSocketUpgrade,
    session: Session,
    open: String,
) -> Response {
    let tracker = app.tracker.clone();
    configure(&app, upgrade).on_upgrade(move |mut ws| {
        tracker.track_future(async move {
            // In the store only once the socket exists: a handshake that
            // never completes leaves nothing behind.
            let max = app.config.max_connections;
            if !app.socketio.insert(session.h.clone(), max) {
                return;
            }
            if ws.send(Message::Text(Utf8Bytes::from(open))).await.is_err() {
                app.socketio.remove(&session.h.sid);
                return;
            }
            session.run(Link::Ws(Box::new(ws))).await;
        })
    })
}

/// `transport=websocket&sid=…`: probe, then hand the socket to the session.
/// From `5` on, polls are refused (`upgraded`).
pub(super) fn upgrade(app: AppState, h: Arc<Handle>, upgrade: WebSocketUpgrade) -> Response {
    if h.upgraded.load(Relaxed) {
        return engine_error(3, "Bad request");
    }
    let tracker = app.tracker.clone();
    configure(&app, upgrade).on_upgrade(move |ws| {
        tracker.track_future(async move {
            let timeout = app.config.socketio_ping_timeout;
            if let Ok(Some(ws)) = tokio::time::timeout(timeout, probe(&h, ws)).await
                && let Err(SendError(In::Upgrade(ws))) =
                    h.inbound.send(In::Upgrade(Box::new(ws))).await
            {
                // The session ended while the client upgraded.
                last_words(&app, &h, ws).await;
            }
        })
    })
}

/// `2probe` → `3probe`, a noop for the held `GET`, then `5`: the socket,
/// or `None` when the client did something else (it keeps polling).
async fn probe(h: &Handle, mut ws: WebSocket) -> Option<WebSocket> {
    let ping = format!("2{PROBE}");
    match ws.recv().await {
        Some(Ok(Message::Text(t))) if t.as_str() == ping => {}
        _ => return None,
    }
    // The session is upgrading: its polling connections' bytes move to
    // `socketio` now, while they are surely open (a client may close them
    // as soon as it has sent `5`). A probe that fails after this leaves
    // them there.
    for meter in h.polls() {
        meter.move_to(Label::Transport(Transport::SocketIo));
    }
    let pong = format!("3{PROBE}");
    ws.send(Message::Text(Utf8Bytes::from(pong))).await.ok()?;
    // Polls go on until `5` (a GET the client sent before it saw `3probe`
    // may arrive now): the noop answers the held one, or the next.
    h.push(Out::Packet("6".into()));
    match ws.recv().await {
        Some(Ok(Message::Text(t))) if t.as_str() == "5" => {
            h.upgraded.store(true, Relaxed);
            Some(ws)
        }
        _ => None,
    }
}
