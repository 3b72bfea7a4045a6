//! WebSockets: one socket per subscriber; text frames out are the message
//! JSON, text frames in publish or signal typing.
//!
//! Buffers are kept small (see `READ_BUFFER`): tungstenite's defaults cost
//! ~134 KiB per idle connection, so memory, not the descriptor limit, would
//! cap the number of idle connections. A peer that stays silent for two heartbeats is
//! dropped; one that falls behind its queue is closed with code 4000 and
//! its cursor as the reason, so it resumes with `since` and loses nothing.
//!
//! Each session is two tasks: a writer that only moves the room's feed to
//! the socket, and a reader for client frames, heartbeat and shutdown. In a
//! busy room nearly every wake-up is a delivery, and one task for both would
//! re-poll the socket's readiness, the ping timer and the shutdown token
//! after each one.

use super::{
    Endpoint, Framing, MAX_BATCH, Params, Queued, Subscription, next_queued, validate_user,
};
use crate::AppState;
use crate::auth::{Auth, Refused};
use crate::error::ApiError;
use crate::hub::{Backlog, Delivery, Draft, Room, Start};
use crate::limits::keyed::refused;
use crate::limits::{Bucket, ClientIp, Key, RateLimit};
use crate::metrics::Label;
use axum::extract::FromRequestParts;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use futures_util::lock::Mutex;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use protocol::{
    ClientFrame, ErrorBody, GapNotice, Kind, LagNotice, PublishRequest, ServerFrame, Transport,
};
use std::ops::ControlFlow::{self, Break, Continue};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use tokio::sync::broadcast::Receiver;
use tokio::sync::broadcast::error::RecvError;
use tokio::time::{Instant, MissedTickBehavior, interval_at};
use tokio_tungstenite::tungstenite;
use tokio_util::task::AbortOnDropHandle;

/// Read buffer per connection; messages larger than this still work (the
/// buffer grows while reading one), this only sets the idle footprint.
const READ_BUFFER: usize = 2048;

/// Frames fed in one batch are held up to this before being written (a
/// flush always writes everything): one write per ~25 small messages. The
/// buffer is allocated on first use, so an idle connection has none.
const WRITE_BUFFER: usize = 4096;

/// The socket's sending half: the writer task feeds it, the reader sends
/// its replies, pings and close frames through it.
type Out = SplitSink<WebSocket, Message>;
type Shared = Arc<Mutex<Out>>;

const CLOSE_GOING_AWAY: u16 = 1001;
const CLOSE_UNSUPPORTED: u16 = 1003;
const CLOSE_TOO_BIG: u16 = 1009;

/// `GET /api/rooms/{room}/ws`.
pub(crate) struct Ws;

impl Endpoint for Ws {
    type Admit = WebSocketUpgrade;
    type Room = Arc<Room>;

    fn transport(_: &Params, _: &WebSocketUpgrade) -> Transport {
        Transport::Ws
    }

    async fn admit(parts: &mut Parts) -> Result<WebSocketUpgrade, Response> {
        let upgrade = WebSocketUpgrade::from_request_parts(parts, &())
            .await
            .map_err(|e| ApiError::UpgradeRequired(e.body_text()).into_response())?;
        match parts.extensions.get::<Refused>() {
            // A browser never shows a failed handshake's body: upgrade, then
            // close with 1008 and the reason.
            Some(Refused(why)) => {
                let why = why.clone();
                Err(upgrade.on_upgrade(move |mut socket| async move {
                    let _ = socket.send(close(CLOSE_POLICY, why)).await;
                }))
            }
            None => Ok(upgrade),
        }
    }
}

pub async fn handler(ip: ClientIp, sub: Subscription<Ws>) -> Response {
    let Subscription {
        app,
        auth,
        room,
        params,
        admit: upgrade,
        ..
    } = sub;
    let max = app.config.max_message_bytes;
    let tracker = app.tracker.clone();
    upgrade
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .max_message_size(max)
        .max_frame_size(max)
        .on_upgrade(move |socket| {
            tracker.track_future(session(app, room, params, (auth, ip), socket))
        })
}

fn text_frame(frame: &ServerFrame) -> Message {
    // Serializing plain strings cannot fail.
    Message::Text(Utf8Bytes::from(
        serde_json::to_string(frame).unwrap_or_default(),
    ))
}

/// WebSocket text is the message JSON itself: no slot, no copy.
impl Framing for Ws {
    const TRANSPORT: Transport = Transport::Ws;

    fn encode(d: &Delivery) -> Utf8Bytes {
        d.json.clone()
    }

    fn framed(d: &Delivery) -> &Utf8Bytes {
        &d.json
    }
}

/// The error frame of a refused client frame.
fn refusal(e: &ApiError) -> Message {
    text_frame(&ServerFrame::Error(e.body()))
}

fn error_frame(code: &str, error: String) -> Message {
    text_frame(&ServerFrame::Error(ErrorBody {
        error,
        code: code.to_string(),
    }))
}

fn close(code: u16, reason: String) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: Utf8Bytes::from(reason),
    }))
}

/// What to do after a client frame.
enum Next {
    Continue,
    Reply(Message),
    Close(Message),
    /// The client closed: flush the echo of its close frame, then end.
    Closing,
}

/// The publish limits of one socket: its own bucket (`--publish-rate-limit`),
/// its address's and its user's (see [`crate::limits::keyed`]), and
/// refusals in a row.
struct Limiter {
    own: Option<(RateLimit, Bucket)>,
    ip: ClientIp,
    strikes: u32,
}

impl Limiter {
    fn new(app: &AppState, ip: ClientIp) -> Self {
        Limiter {
            own: app.config.publish_rate_limit.map(|l| (l, Bucket::new(&l))),
            ip,
            strikes: 0,
        }
    }

    /// The budgets in order; the burst of the one that refused.
    fn take(&mut self, app: &AppState, auth: &Auth) -> Result<(), (ApiError, f64)> {
        let metrics = &app.limit_metrics;
        if let Some((limit, bucket)) = &mut self.own {
            bucket
                .take(limit)
                .map_err(|wait| (refused(metrics, limit, Key::Connection, wait), limit.burst))?;
        }
        app.publishers
            .check(metrics, self.ip.0, auth.0.as_ref())
            .map_err(|e| (e, app.publishers.max_burst()))
    }

    /// `None` to go on; a reply (error frame) or, after the client kept
    /// flooding past twice its burst of refusals, a 1008 close.
    fn check(&mut self, app: &AppState, auth: &Auth) -> Option<Next> {
        match self.take(app, auth) {
            Ok(()) => {
                self.strikes = 0;
                None
            }
            Err((e, burst)) => {
                self.strikes += 1;
                if f64::from(self.strikes) > 2.0 * burst {
                    return Some(Next::Close(close(
                        CLOSE_POLICY,
                        "publish rate limit exceeded repeatedly".into(),
                    )));
                }
                Some(Next::Reply(refusal(&e)))
            }
        }
    }
}

/// RFC 6455 close codes for a peer that broke the protocol.
const CLOSE_PROTOCOL_ERROR: u16 = 1002;
const CLOSE_INVALID_DATA: u16 = 1007;

/// Policy violation (RFC 6455): repeated abuse.
const CLOSE_POLICY: u16 = 1008;

/// The connection's side of a session: who may publish what in which room.
struct Client<'a> {
    app: &'a AppState,
    room: &'a Room,
    /// `?user=` of the connection: typing without a user names this one.
    user: Option<&'a str>,
    auth: &'a Auth,
    limiter: Limiter,
    /// The socket's sending half, shared with the writer task.
    sink: &'a Shared,
}

impl Client<'_> {
    /// A frame (or the end) read from the socket: go on, or stop with the
    /// close frame to send, if any.
    async fn on_read(
        &mut self,
        stream: &mut SplitStream<WebSocket>,
        m: Option<Result<Message, axum::Error>>,
    ) -> ControlFlow<Option<Message>> {
        let msg = match m {
            None => return Break(None),
            Some(Err(e)) => return Break(close_for_error(e)),
            Some(Ok(msg)) => msg,
        };
        match self.on_frame(msg).await {
            Next::Continue => Continue(()),
            Next::Reply(r) => self.send(r).await,
            Next::Close(c) => Break(Some(c)),
            Next::Closing => {
                // Reading on drives tungstenite to send the queued close
                // reply; bounded.
                let _ =
                    tokio::time::timeout(std::time::Duration::from_secs(1), stream.next()).await;
                Break(None)
            }
        }
    }

    /// A frame of the reader's own (a reply, a ping); a failed write ends
    /// the session.
    async fn send(&self, m: Message) -> ControlFlow<Option<Message>> {
        match self.sink.lock().await.send(m).await {
            Ok(()) => Continue(()),
            Err(_) => Break(None),
        }
    }

    async fn on_frame(&mut self, msg: Message) -> Next {
        let text = match msg {
            Message::Text(t) => t,
            Message::Binary(_) => {
                return Next::Close(close(
                    CLOSE_UNSUPPORTED,
                    "binary frames are not supported; send JSON text".into(),
                ));
            }
            // tungstenite answers pings itself; pongs only prove liveness.
            Message::Ping(_) | Message::Pong(_) => return Next::Continue,
            // tungstenite has queued the echo of the peer's close; `Closing`
            // lets it go out (a close of our own would be refused now).
            Message::Close(_) => return Next::Closing,
        };
        let frame: ClientFrame = match serde_json::from_str(text.as_str()) {
            Ok(f) => f,
            Err(e) => {
                return Next::Reply(error_frame(
                    "bad_json",
                    format!(
                        "invalid frame: {e}; expected {{\"type\":\"message\",\"user\":…,\"text\":…}} or {{\"type\":\"typing\"}}"
                    ),
                ));
            }
        };
        if let Some(next) = self.limiter.check(self.app, self.auth) {
            return next;
        }
        match frame {
            ClientFrame::Message(p) => self.publish(&p).await,
            ClientFrame::Typing { user: u } => self.typing(u.as_deref().or(self.user)).await,
        }
    }

    async fn publish(&self, p: &PublishRequest) -> Next {
        if let Err(e) = validate_user(&p.user).and_then(|()| self.auth.check_user(&p.user)) {
            return Next::Reply(refusal(&e));
        }
        self.app.metrics.label(Label::Publish).requests.add(1);
        match self.room.publish_request(p).await {
            Ok(_) => Next::Continue,
            Err(e) => Next::Reply(refusal(&e)),
        }
    }

    async fn typing(&self, user: Option<&str>) -> Next {
        let Some(u) = user.filter(|u| validate_user(u).is_ok()) else {
            return Next::Reply(error_frame(
                "bad_user",
                "typing needs a user: connect with ?user=NAME or send {\"type\":\"typing\",\"user\":NAME}".into(),
            ));
        };
        if let Err(e) = self.auth.check_user(u) {
            return Next::Reply(refusal(&e));
        }
        let typing = Draft {
            user: Some(u),
            ..Draft::default()
        };
        match self.room.publish_async(Kind::Typing, typing).await {
            Ok(_) => Next::Continue,
            Err(e) => Next::Reply(refusal(&e)),
        }
    }
}

async fn session(
    app: AppState,
    room: Arc<Room>,
    params: Params,
    (auth, ip): (Auth, ClientIp),
    mut socket: WebSocket,
) {
    let _presence = params.user.as_deref().map(|u| room.join(u));
    let mut sub = room.subscribe(params.start);
    room.backfill(&mut sub.backlog, params.start).await;
    if send_backlog(&app, &mut socket, &mut sub.backlog, params.start)
        .await
        .is_err()
    {
        return;
    }
    let (sink, mut stream) = socket.split();
    let sink: Shared = Arc::new(Mutex::new(sink));
    let last_id = sub.backlog.cursor;
    let writes = feed(app.clone(), sink.clone(), sub.rx, last_id);
    let writer = AbortOnDropHandle::new(app.tracker.spawn(writes));
    let mut client = Client {
        app: &app,
        room: &room,
        user: params.user.as_deref(),
        auth: &auth,
        limiter: Limiter::new(&app, ip),
        sink: &sink,
    };
    live(&mut client, &mut stream, writer).await;
}

/// The gap notice (a cursor older than the history) and the backlog.
async fn send_backlog(
    app: &AppState,
    socket: &mut WebSocket,
    backlog: &mut Backlog,
    start: Start,
) -> Result<(), axum::Error> {
    if backlog.gap
        && let Start::Since(since) = start
    {
        let gap = ServerFrame::Gap(GapNotice {
            cursor: since.to_string(),
        });
        socket.send(text_frame(&gap)).await?;
    }
    let messages = std::mem::take(&mut backlog.messages);
    let n = messages.len() as u64;
    for d in messages {
        socket.send(Message::Text(Ws::framed(&d).clone())).await?;
    }
    app.metrics.delivered(Transport::Ws, n);
    Ok(())
}

/// Client frames in, pings, heartbeat and shutdown, until either side ends;
/// then the writer is stopped between batches and the close frame, if any,
/// goes out.
async fn live(
    client: &mut Client<'_>,
    stream: &mut SplitStream<WebSocket>,
    mut writer: AbortOnDropHandle<()>,
) {
    let app = client.app;
    let hb = app.config.heartbeat;
    let mut ping = interval_at(Instant::now() + hb, hb);
    ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut heard = true;
    // A child token: polling a waiter locks its token's node, and the
    // server-wide node shared by every session is a contended lock.
    let shutdown = app.shutdown.child_token();
    let shutting_down = shutdown.cancelled();
    tokio::pin!(shutting_down);
    let bye = loop {
        let step = tokio::select! {
            biased;
            _ = &mut shutting_down => Break(Some(close(CLOSE_GOING_AWAY, "server shutting down".into()))),
            // The writer ended (lag, room closed, a dead socket) and has
            // sent its own close frame.
            _ = &mut writer => return,
            m = stream.next() => {
                heard = true;
                client.on_read(stream, m).await
            }
            _ = ping.tick() => {
                // Silent for a whole heartbeat: the peer is gone.
                if !heard {
                    Break(None)
                } else {
                    heard = false;
                    client.send(Message::Ping(Default::default())).await
                }
            }
        };
        if let Break(bye) = step {
            break bye;
        }
    };
    // Taking the lock waits for a batch in flight, so the close frame never
    // lands inside one.
    let mut out = client.sink.lock().await;
    writer.abort();
    if let Some(bye) = bye {
        // Best effort: the peer may already be gone.
        let _ = out.send(bye).await;
    }
}

/// The session's writer, a task of its own: a delivery wakes only this
/// task and polls only the room's feed, not the reader's socket, timer
/// and shutdown token. Ends after its close frame when the subscriber
/// lags or the room closes, or when the socket fails.
async fn feed(app: AppState, sink: Shared, mut rx: Receiver<Arc<Delivery>>, mut last_id: u64) {
    loop {
        let r = rx.recv().await;
        let mut out = sink.lock().await;
        if let Break(bye) = on_delivery(&app, &mut out, &mut rx, r, &mut last_id).await {
            if let Some(bye) = bye {
                let _ = out.send(bye).await;
            }
            return;
        }
    }
}

/// A message from the room's feed: it and whatever else is queued go out,
/// or the subscriber is closed as lagging.
async fn on_delivery(
    app: &AppState,
    socket: &mut Out,
    rx: &mut Receiver<Arc<Delivery>>,
    r: Result<Arc<Delivery>, RecvError>,
    last_id: &mut u64,
) -> ControlFlow<Option<Message>> {
    match r {
        Ok(d) => match send_batch(app, socket, rx, d, last_id).await {
            Ok(Batch::Sent) => Continue(()),
            Ok(Batch::Lagged) => Break(Some(lagged(app, *last_id))),
            Err(_) => Break(None),
        },
        Err(RecvError::Lagged(_)) => Break(Some(lagged(app, *last_id))),
        Err(RecvError::Closed) => Break(Some(close(CLOSE_GOING_AWAY, "room closed".into()))),
    }
}

/// The close of a subscriber that fell behind its queue: code 4000 with
/// its cursor, so it resumes with `since` and loses nothing.
fn lagged(app: &AppState, last_id: u64) -> Message {
    app.metrics.lagged.fetch_add(1, Relaxed);
    let notice = LagNotice {
        cursor: last_id.to_string(),
    };
    close(
        protocol::message::WS_CLOSE_LAGGED,
        serde_json::to_string(&notice).unwrap_or_default(),
    )
}

enum Batch {
    Sent,
    /// The queue overflowed while draining it: close with the cursor.
    Lagged,
}

/// `d` and whatever else is already queued, as frames in one flush: a
/// subscriber that fell a little behind (or a busy room) costs one write
/// for several messages instead of one each. A lone message is one write
/// as before (`feed` only buffers below `WRITE_BUFFER`).
async fn send_batch(
    app: &AppState,
    socket: &mut Out,
    rx: &mut Receiver<Arc<Delivery>>,
    d: Arc<Delivery>,
    last_id: &mut u64,
) -> Result<Batch, axum::Error> {
    let mut n: u64 = 0;
    let mut next = Some(d);
    let mut outcome = Batch::Sent;
    while let Some(d) = next.take() {
        if d.id > *last_id {
            socket.feed(Message::Text(Ws::framed(&d).clone())).await?;
            *last_id = d.id;
            n += 1;
        }
        if n < MAX_BATCH as u64 {
            match next_queued(rx, *last_id) {
                Queued::Message(more) => next = Some(more),
                Queued::Lagged => outcome = Batch::Lagged,
                Queued::Empty => {}
            }
        }
    }
    socket.flush().await?;
    app.metrics.delivered(Transport::Ws, n);
    Ok(outcome)
}

/// Frames over the size limit close with 1009; other read errors mean the
/// connection is already broken.
fn close_for_error(e: axum::Error) -> Option<Message> {
    let inner = e.into_inner();
    match inner.downcast_ref::<tungstenite::Error>() {
        Some(tungstenite::Error::Capacity(c)) => Some(close(CLOSE_TOO_BIG, format!("{c}"))),
        Some(tungstenite::Error::Utf8(_)) => Some(close(
            CLOSE_INVALID_DATA,
            "text frame is not valid UTF-8".into(),
        )),
        Some(tungstenite::Error::Protocol(p)) => {
            Some(close(CLOSE_PROTOCOL_ERROR, format!("protocol error: {p}")))
        }
        _ => None,
    }
}
