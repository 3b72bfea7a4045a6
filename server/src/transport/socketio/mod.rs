//! Socket.IO v4 (Engine.IO 4 carrying Socket.IO 5) at `/socket.io/`, on
//! `protocol::socketio`'s codec (docs/socketio.md is the contract).
//!
//! A session is one task ([`session`]) that owns the room feed and the
//! client's socket state; requests reach it through the [`Store`] by sid.
//! Over long polling it queues packets in an outbox that the held `GET`
//! drains (bounded by the subscriber queue, so a slow poller lags as a slow
//! push subscriber does); after an upgrade it writes on the WebSocket. A
//! room message is framed once, `42["message",{…}]`, in one slot shared by
//! both Socket.IO transports.

mod events;
mod polling;
mod session;
mod store;
mod websocket;

pub(crate) use store::Store;

use super::{Endpoint, Framing, Params, Subscription};
use crate::AppState;
use crate::error::ApiError;
use crate::hub::{Delivery, Room};
use crate::net::Conn;
use axum::extract::ws::{Utf8Bytes, WebSocketUpgrade};
use axum::extract::{FromRequestParts, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use events::Client;
use protocol::Transport;
use protocol::socketio::{EnginePacket, Handshake, Namespace, event_message};
use serde::Deserialize;
use session::{Link, Session};
use std::sync::Arc;
use store::Handle;

/// The Engine.IO fields of a request's query.
#[derive(Debug, Default, Deserialize)]
struct EngineQuery {
    #[serde(rename = "EIO")]
    eio: Option<String>,
    transport: Option<String>,
    sid: Option<String>,
    room: Option<String>,
}

impl EngineQuery {
    fn of(uri: &Uri) -> EngineQuery {
        Query::<EngineQuery>::try_from_uri(uri)
            .map(|Query(q)| q)
            .unwrap_or_default()
    }
}

/// A later request of a session (it names its sid): no token check there.
pub(crate) fn has_sid(uri: &Uri) -> bool {
    EngineQuery::of(uri).sid.is_some()
}

/// Engine.IO's error answer: `400 {"code":N,"message":"…"}`.
pub(super) fn engine_error(code: u8, message: &str) -> Response {
    let body = format!("{{\"code\":{code},\"message\":\"{message}\"}}");
    (
        StatusCode::BAD_REQUEST,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

/// The handshake's route and transport.
pub(crate) struct SocketIo;

/// How the handshake came: a polling `GET` or a WebSocket.
pub(crate) enum Admit {
    Polling,
    WebSocket(WebSocketUpgrade),
}

impl Endpoint for SocketIo {
    type Admit = Admit;
    type Room = Option<Arc<Room>>;

    async fn room(parts: &mut Parts) -> Result<Option<String>, ApiError> {
        let room = EngineQuery::of(&parts.uri).room;
        if let Some(r) = &room {
            protocol::validate_room(r)?;
        }
        Ok(room)
    }

    fn transport(_: &Params, admit: &Admit) -> Transport {
        match admit {
            Admit::Polling => Transport::SocketIoPolling,
            Admit::WebSocket(_) => Transport::SocketIo,
        }
    }

    async fn admit(parts: &mut Parts) -> Result<Admit, Response> {
        match EngineQuery::of(&parts.uri).transport.as_deref() {
            Some("polling") => Ok(Admit::Polling),
            Some("websocket") => WebSocketUpgrade::from_request_parts(parts, &())
                .await
                .map(Admit::WebSocket)
                .map_err(|_| engine_error(3, "Bad request")),
            _ => Err(engine_error(0, "Transport unknown")),
        }
    }
}

/// `42["message",{…}]`: one Engine.IO message, a WebSocket frame or a
/// polling record alike, made once and shared by both Socket.IO transports.
impl Framing for SocketIo {
    const TRANSPORT: Transport = Transport::SocketIo;

    fn encode(d: &Delivery) -> Utf8Bytes {
        Utf8Bytes::from(event_message(Namespace::ROOT, "message", d.json.as_str()))
    }
}

/// `GET` and `POST /socket.io/`.
pub(crate) async fn handler(State(app): State<AppState>, req: Request) -> Response {
    let (mut parts, body) = req.into_parts();
    let q = EngineQuery::of(&parts.uri);
    if q.eio.as_deref() != Some("4") {
        return engine_error(5, "Unsupported protocol version");
    }
    let Some(sid) = q.sid else {
        if parts.method != Method::GET {
            return engine_error(2, "Bad handshake method");
        }
        let Ok(ip) = crate::limits::ClientIp::from_request_parts(&mut parts, &app).await;
        return match Subscription::<SocketIo>::from_request_parts(&mut parts, &app).await {
            Ok(sub) => handshake(sub, ip),
            Err(r) => r,
        };
    };
    let Some(h) = app.socketio.get(&sid) else {
        return engine_error(1, "Session ID unknown");
    };
    let Ok(conn) = Conn::from_request_parts(&mut parts, &app).await;
    match (parts.method.clone(), q.transport.as_deref()) {
        (Method::GET, Some("polling")) => polling::get(&app, h, conn).await,
        (Method::POST, Some("polling")) => polling::post(&app, h, conn, body).await,
        (Method::GET, Some("websocket")) => {
            match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
                Ok(u) => {
                    conn.label(crate::metrics::Label::Transport(Transport::SocketIo));
                    websocket::upgrade(app, h, u)
                }
                Err(_) => engine_error(3, "Bad request"),
            }
        }
        _ => engine_error(0, "Transport unknown"),
    }
}

/// A new session: its handle, its task's state, and the open packet.
fn handshake(sub: Subscription<SocketIo>, ip: crate::limits::ClientIp) -> Response {
    let Subscription {
        app,
        auth,
        room,
        params,
        admit,
        ..
    } = sub;
    let Some(sid) = store::random_id() else {
        return ApiError::TooBusy("no randomness for a session id".into()).into_response();
    };
    let (tx, inbound) = tokio::sync::mpsc::channel(16);
    let h = Arc::new(Handle::new(sid.clone(), tx));
    let secret = app.config.auth_secret.is_some();
    let client = Client {
        app: app.clone(),
        token_pending: secret && auth.0.is_none(),
        auth,
        user: params.user,
        connected: false,
        pending: room.map(|r| (r, params.start)),
        sub: None,
        bucket: app
            .config
            .publish_rate_limit
            .map(|l| crate::limits::Bucket::new(&l)),
        ip,
    };
    let polling = matches!(admit, Admit::Polling);
    let open = EnginePacket::Open(Handshake {
        sid: sid.to_string(),
        upgrades: if polling {
            vec!["websocket".into()]
        } else {
            Vec::new()
        },
        ping_interval: app.config.socketio_ping_interval.as_millis() as u64,
        ping_timeout: app.config.socketio_ping_timeout.as_millis() as u64,
        max_payload: app.config.max_message_bytes as u64,
    })
    .encode();
    let session = Session {
        app: app.clone(),
        h: h.clone(),
        inbound,
        client,
    };
    match admit {
        Admit::WebSocket(upgrade) => websocket::direct(app, upgrade, session, open),
        Admit::Polling => {
            if !app.socketio.insert(h, app.config.max_connections) {
                return ApiError::TooBusy("too many Socket.IO sessions (--max-connections)".into())
                    .into_response();
            }
            app.tracker.spawn(session.run(Link::Polling));
            polling::text(open)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::Kind;

    #[test]
    fn framing_is_made_once_and_shared() {
        let json = r#"{"id":"7","room":"r","kind":"message","ts_us":1}"#;
        let d = Delivery::new(7, Kind::Message, Utf8Bytes::from_static(json));
        let a = SocketIo::framed(&d);
        assert_eq!(a.as_str(), format!("42[\"message\",{json}]"));
        let b = SocketIo::framed(&d);
        assert!(std::ptr::eq(a.as_ptr(), b.as_ptr()), "encoded once");
    }
}
