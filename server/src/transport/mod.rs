//! One module per transport, plus what they share: the [`Subscription`]
//! extractor (room path, subscribe query, the user's token, the room's
//! readiness, the connection's label), the poll body and queue draining.
//!
//! A transport module brings an [`Endpoint`] (what its route adds to the
//! shared subscribe steps), a handler that starts from a [`Subscription`],
//! and a [`Framing`] when it writes messages as more than their JSON.

mod long_poll;
mod short_poll;
pub(crate) mod socketio;
pub(crate) mod sse;
pub(crate) mod ws;
pub(crate) mod wt;

use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use crate::hub::{Backlog, Delivery, Room, Start};
use crate::metrics::Label;
use crate::net::Conn;
use axum::extract::ws::Utf8Bytes;
use axum::extract::{FromRequestParts, Path, Query};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Uri, header};
use axum::response::{IntoResponse, Response};
use protocol::Transport;
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;

/// A validated room name from the path.
#[derive(Debug)]
pub(crate) struct RoomPath(pub String);

impl<S: Send + Sync> FromRequestParts<S> for RoomPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(room) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::BadQuery(e.body_text()))?;
        protocol::validate_room(&room)?;
        Ok(RoomPath(room))
    }
}

#[derive(Debug, Default, Deserialize)]
struct RawQuery {
    since: Option<String>,
    history: Option<String>,
    wait: Option<String>,
    user: Option<String>,
}

/// Where a subscriber starts and who it is.
#[derive(Debug, Clone)]
pub(crate) struct Params {
    pub start: Start,
    /// Present on long polls.
    pub wait: Option<Duration>,
    pub user: Option<String>,
}

/// Parses a message id sent back by a client (`since`, `Last-Event-ID`).
pub fn parse_cursor(s: &str) -> Result<u64, ApiError> {
    let s = s.trim();
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::BadCursor(s.chars().take(40).collect()));
    }
    s.parse().map_err(|_| ApiError::BadCursor(s.to_string()))
}

/// User names: 1–64 characters, no control characters (they end up in
/// every client's user list).
pub(crate) fn validate_user(user: &str) -> Result<(), ApiError> {
    let n = user.chars().count();
    if n == 0 || n > 64 {
        return Err(ApiError::BadUser(format!(
            "must be 1 to 64 characters, got {n}"
        )));
    }
    if user.chars().any(char::is_control) {
        return Err(ApiError::BadUser("contains control characters".into()));
    }
    Ok(())
}

impl Params {
    pub(crate) fn from_uri(
        uri: &Uri,
        join_history: usize,
        history_cap: usize,
    ) -> Result<Self, ApiError> {
        let Query(q) =
            Query::<RawQuery>::try_from_uri(uri).map_err(|e| ApiError::BadQuery(e.body_text()))?;
        let start = match (&q.since, &q.history) {
            (Some(s), _) => Start::Since(parse_cursor(s)?),
            (None, Some(h)) => Start::Recent(
                h.parse::<usize>()
                    .map_err(|_| ApiError::BadQuery(format!("history={h:?} is not a count")))?
                    .min(history_cap),
            ),
            (None, None) => Start::Recent(join_history),
        };
        let wait = match &q.wait {
            None => None,
            Some(w) => {
                let secs: f64 = w.parse().map_err(|_| {
                    ApiError::BadQuery(format!("wait={w:?} is not a number of seconds"))
                })?;
                if !secs.is_finite() || secs < 0.0 {
                    return Err(ApiError::BadQuery(format!(
                        "wait={w:?} must be a non-negative number of seconds"
                    )));
                }
                Some(Duration::from_secs_f64(secs.min(86_400.0)))
            }
        };
        if let Some(u) = &q.user {
            validate_user(u)?;
        }
        Ok(Params {
            start,
            wait,
            user: q.user,
        })
    }
}

/// How a transport writes one message when that is more than its JSON.
/// The hub serializes a message once; a framing of it is made at most once
/// too, by the first subscriber of the transport that writes it, and kept
/// on the delivery for every other one: fan-out stays a pointer copy.
pub(crate) trait Framing {
    /// Whose slot on the delivery keeps the framing.
    const TRANSPORT: Transport;

    /// `d` as this transport writes it, made from `d.json`.
    fn encode(d: &Delivery) -> Utf8Bytes;

    /// `d` as this transport writes it, encoded on first use.
    fn framed(d: &Delivery) -> &Utf8Bytes {
        d.framed(Self::TRANSPORT, Self::encode)
    }
}

/// `{"messages":[…],"cursor":"N"}` built from the messages' JSON as it is.
pub(crate) fn poll_body(b: &Backlog) -> Response {
    let body = poll_json(b, b"{");
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body,
    )
        .into_response()
}

/// A poll answer's JSON from the messages' JSON as it is, opened by
/// `open` (`{`, or `{"type":…,` for a framed reply).
pub(crate) fn poll_json(b: &Backlog, open: &[u8]) -> Vec<u8> {
    let len: usize = b.messages.iter().map(|d| d.json.len() + 1).sum();
    let mut body = Vec::with_capacity(len + 64 + open.len());
    body.extend_from_slice(open);
    body.extend_from_slice(b"\"messages\":[");
    for (i, d) in b.messages.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(d.json.as_bytes());
    }
    body.extend_from_slice(b"],\"cursor\":\"");
    body.extend_from_slice(b.cursor.to_string().as_bytes());
    body.extend_from_slice(if b.gap { b"\",\"gap\":true}" } else { b"\"}" });
    body
}

/// What a transport's route adds to the subscribe steps every transport
/// shares ([`Subscription`]). Its hooks run at fixed points of those steps,
/// so every transport refuses a bad request with the same status and body.
pub(crate) trait Endpoint: Send + Sync + 'static {
    /// What the transport takes from the request itself (the WebSocket upgrade).
    type Admit: Send;

    /// The subscription's room: `Arc<Room>` where the route names one,
    /// `Option<Arc<Room>>` where it may come later (Socket.IO's `join`).
    type Room: RoomOf;

    /// The room's name: the path's `{room}`, except on Socket.IO's route,
    /// which names it in the query (or not at all).
    fn room(parts: &mut Parts) -> impl Future<Output = Result<Option<String>, ApiError>> + Send {
        async {
            let RoomPath(room) = RoomPath::from_request_parts(parts, &()).await?;
            Ok(Some(room))
        }
    }

    /// The transport of a request on this route (one route serves both
    /// polls; Socket.IO's serves a polling handshake and a WebSocket).
    fn transport(params: &Params, admit: &Self::Admit) -> Transport;

    /// Whether the request speaks this transport at all; runs after the
    /// query is parsed and before the user is checked. An `Err` is the
    /// whole answer (not always an error: a refused WebSocket upgrades to
    /// close with a reason a browser can show).
    fn admit(parts: &mut Parts) -> impl Future<Output = Result<Self::Admit, Response>> + Send;

    /// A resume cursor carried outside the query (SSE's `Last-Event-ID`);
    /// it wins over `since`. Runs after the user is checked.
    fn resume(_parts: &Parts) -> Result<Option<u64>, ApiError> {
        Ok(None)
    }
}

/// A room as an endpoint's subscription holds it.
pub(crate) trait RoomOf: Sized + Send {
    /// `None` when the endpoint needs a room and the request named none.
    fn of(room: Option<Arc<Room>>) -> Option<Self>;
}

impl RoomOf for Arc<Room> {
    fn of(room: Option<Arc<Room>>) -> Option<Self> {
        room
    }
}

impl RoomOf for Option<Arc<Room>> {
    fn of(room: Option<Arc<Room>>) -> Option<Self> {
        Some(room)
    }
}

/// A subscriber's request after the steps every transport shares: the room
/// path and query are valid, `?user=` is the token's subject, the room's
/// history is loaded, and the connection is labelled with its transport.
pub(crate) struct Subscription<E: Endpoint> {
    pub app: AppState,
    pub auth: Auth,
    pub room: E::Room,
    pub transport: Transport,
    pub params: Params,
    pub admit: E::Admit,
}

impl<E: Endpoint> FromRequestParts<AppState> for Subscription<E> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, Response> {
        let room = E::room(parts).await.map_err(IntoResponse::into_response)?;
        let config = &app.config;
        let mut params = Params::from_uri(&parts.uri, config.join_history, config.history)
            .map_err(IntoResponse::into_response)?;
        let admit = E::admit(parts).await?;
        let auth = Auth::from_request_parts(parts, app)
            .await
            .map_err(IntoResponse::into_response)?;
        if let Some(u) = &params.user {
            auth.check_user(u).map_err(IntoResponse::into_response)?;
        }
        if let Some(since) = E::resume(parts).map_err(IntoResponse::into_response)? {
            params.start = Start::Since(since);
        }
        let room = match room {
            Some(name) => {
                let room = app.hub.room(&name);
                room.ready().await.map_err(IntoResponse::into_response)?;
                Some(room)
            }
            None => None,
        };
        let room = E::Room::of(room)
            .ok_or_else(|| ApiError::BadQuery("no room named".into()).into_response())?;
        let transport = E::transport(&params, &admit);
        let Ok(conn) = Conn::from_request_parts(parts, app).await;
        conn.label(Label::Transport(transport));
        Ok(Subscription {
            app: app.clone(),
            auth,
            room,
            transport,
            params,
            admit,
        })
    }
}

/// `GET …/messages`: a long poll when `wait` is given, a short poll otherwise.
pub(crate) struct Poll;

impl Endpoint for Poll {
    type Admit = ();
    type Room = Arc<Room>;

    fn transport(params: &Params, _: &()) -> Transport {
        match params.wait {
            Some(_) => Transport::LongPoll,
            None => Transport::ShortPoll,
        }
    }

    async fn admit(_: &mut Parts) -> Result<(), Response> {
        Ok(())
    }
}

pub(crate) async fn poll(sub: Subscription<Poll>) -> Response {
    match sub.params.wait {
        Some(wait) => long_poll::handle(&sub, wait).await,
        None => short_poll::handle(&sub).await,
    }
}

/// Most queued messages a push subscriber takes in one batch (one SSE
/// chunk, or WebSocket frames under one flush).
pub(crate) const MAX_BATCH: usize = 64;

/// One step of draining a subscriber's queue without waiting.
pub(crate) enum Queued {
    /// The next message newer than the subscriber's cursor.
    Message(std::sync::Arc<crate::hub::Delivery>),
    /// The queue overflowed: report the lag after what was already taken.
    Lagged,
    /// Nothing more right now.
    Empty,
}

/// The next queued message after `last_id` (older ones, already sent from
/// the backlog, are skipped).
pub(crate) fn next_queued(
    rx: &mut tokio::sync::broadcast::Receiver<std::sync::Arc<crate::hub::Delivery>>,
    last_id: u64,
) -> Queued {
    use tokio::sync::broadcast::error::TryRecvError;
    loop {
        return match rx.try_recv() {
            Ok(d) if d.id <= last_id => continue,
            Ok(d) => Queued::Message(d),
            Err(TryRecvError::Lagged(_)) => Queued::Lagged,
            Err(_) => Queued::Empty,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors() {
        assert_eq!(parse_cursor("42").ok(), Some(42));
        assert_eq!(parse_cursor(" 7 ").ok(), Some(7));
        for bad in [
            "",
            "-1",
            "1.5",
            "abc",
            "99999999999999999999999",
            "0x10",
            "1-0",
        ] {
            assert!(parse_cursor(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn params() {
        let p = |q: &str| Params::from_uri(&q.parse().expect("uri"), 50, 1024);
        assert_eq!(p("/x").map(|p| p.start).ok(), Some(Start::Recent(50)));
        assert_eq!(
            p("/x?history=0").map(|p| p.start).ok(),
            Some(Start::Recent(0))
        );
        assert_eq!(
            p("/x?history=9999").map(|p| p.start).ok(),
            Some(Start::Recent(1024))
        );
        assert_eq!(
            p("/x?since=3&history=1").map(|p| p.start).ok(),
            Some(Start::Since(3))
        );
        assert_eq!(
            p("/x?since=3&wait=2.5").map(|p| p.wait).ok(),
            Some(Some(Duration::from_millis(2500)))
        );
        assert!(p("/x?wait=-1").is_err());
        assert!(p("/x?wait=NaN").is_err());
        assert!(p("/x?since=abc").is_err());
        assert!(p("/x?user=").is_err());
        assert!(p("/x?user=a%0Ab").is_err());
        assert_eq!(
            p("/x?user=al%20ice").ok().and_then(|p| p.user).as_deref(),
            Some("al ice")
        );
    }
}
