//! A session's task: the room feed out, client packets in, heartbeats, on
//! long polling (through the outbox) or on a WebSocket.

use super::SocketIo;
use super::events::{Client, Flow, event};
use super::store::{Handle, In, Out};
use crate::AppState;
use crate::hub::Delivery;
use crate::transport::{Framing, MAX_BATCH, Queued, next_queued};
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures_util::SinkExt;
use protocol::Transport;
use protocol::socketio::{EnginePacket, decode_payload};
use std::ops::ControlFlow::{self, Break, Continue};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until};

/// Where the session writes.
pub(super) enum Link {
    Polling,
    Ws(Box<WebSocket>),
}

/// Why a session ended; what the client is told.
enum Ending {
    /// The client left (DISCONNECT, close, a closed socket).
    Left,
    Shutdown,
    PingTimeout,
    /// The client broke the protocol (counted).
    Malformed,
    /// Fell behind its queue at this cursor.
    Lagged(u64),
}

pub(super) struct Session {
    pub app: AppState,
    pub h: Arc<Handle>,
    pub inbound: mpsc::Receiver<In>,
    pub client: Client,
}

type Step = ControlFlow<Ending, bool>;

impl Session {
    fn transport(link: &Link) -> Transport {
        match link {
            Link::Polling => Transport::SocketIoPolling,
            Link::Ws(_) => Transport::SocketIo,
        }
    }

    /// Runs the session to its end, then removes it from the store.
    pub(super) async fn run(mut self, mut link: Link) {
        self.app.metrics.socketio_sessions.fetch_add(1, Relaxed);
        let ending = self.main(&mut link).await;
        self.finish(&mut link, ending).await;
        self.close_inbound().await;
        self.app.socketio.remove(&self.h.sid);
        self.app.metrics.socketio_sessions.fetch_sub(1, Relaxed);
    }

    /// A client may finish upgrading while its polling session ends: the
    /// WebSocket it hands over still gets the session's last words.
    async fn close_inbound(&mut self) {
        self.inbound.close();
        while let Some(i) = self.inbound.recv().await {
            if let In::Upgrade(ws) = i {
                last_words(&self.app, &self.h, ws).await;
            }
        }
    }

    async fn main(&mut self, link: &mut Link) -> Ending {
        let interval = self.app.config.socketio_ping_interval;
        let timeout = self.app.config.socketio_ping_timeout;
        let mut next_ping = Instant::now() + interval;
        let mut pong_due: Option<Instant> = None;
        let shutdown = self.app.shutdown.child_token();
        let shutting_down = shutdown.cancelled();
        tokio::pin!(shutting_down);
        loop {
            let cap = self.app.config.subscriber_queue;
            let can_feed =
                self.client.sub.is_some() && (matches!(link, Link::Ws(_)) || self.h.queued() < cap);
            let step = tokio::select! {
                biased;
                _ = &mut shutting_down => Break(Ending::Shutdown),
                _ = sleep_until(pong_due.unwrap_or(next_ping)) => {
                    if pong_due.is_some() {
                        self.app.metrics.socketio_ping_timeouts.fetch_add(1, Relaxed);
                        return Ending::PingTimeout;
                    }
                    next_ping = Instant::now() + interval;
                    pong_due = Some(Instant::now() + timeout);
                    self.send(link, vec![Out::Packet("2".into())]).await
                }
                r = feed_recv(&mut self.client), if can_feed => self.on_feed(link, r).await,
                i = self.inbound.recv() => self.on_inbound(link, i).await,
                m = ws_recv(link) => self.on_frame(link, m).await,
            };
            match step {
                Break(e) => return e,
                Continue(true) => pong_due = None,
                Continue(false) => {}
            }
        }
    }

    /// Writes `out`: on the WebSocket in one flush, or into the outbox.
    async fn send(&self, link: &mut Link, out: Vec<Out>) -> Step {
        match link {
            Link::Polling => {
                for o in out {
                    self.h.push(o);
                }
                Continue(false)
            }
            Link::Ws(ws) => match write_frames(&self.app, ws, out).await {
                Ok(()) => Continue(false),
                Err(_) => Break(Ending::Left),
            },
        }
    }

    async fn on_feed(&mut self, link: &mut Link, r: Result<Arc<Delivery>, RecvError>) -> Step {
        let Some(sub) = self.client.sub.as_mut() else {
            return Continue(false);
        };
        let d = match r {
            Ok(d) if d.id <= sub.last_id => return Continue(false),
            Ok(d) => d,
            Err(RecvError::Lagged(_)) => return Break(Ending::Lagged(sub.last_id)),
            Err(RecvError::Closed) => return Break(Ending::Left),
        };
        sub.last_id = d.id;
        let mut out = vec![Out::Message(d)];
        let room_left = match link {
            Link::Ws(_) => MAX_BATCH,
            Link::Polling => self
                .app
                .config
                .subscriber_queue
                .saturating_sub(self.h.queued()),
        };
        let mut lagged = false;
        while out.len() < room_left.min(MAX_BATCH) {
            match next_queued(&mut sub.rx, sub.last_id) {
                Queued::Message(d) => {
                    sub.last_id = d.id;
                    out.push(Out::Message(d));
                }
                Queued::Lagged => {
                    lagged = true;
                    break;
                }
                Queued::Empty => break,
            }
        }
        let last = sub.last_id;
        self.send(link, out).await?;
        if lagged {
            return Break(Ending::Lagged(last));
        }
        Continue(false)
    }

    async fn on_inbound(&mut self, link: &mut Link, i: Option<In>) -> Step {
        match i {
            None => Break(Ending::Left),
            Some(In::Payload(body)) => {
                let mut packets = Vec::new();
                if let Ok(records) = decode_payload(body.as_bytes(), usize::MAX) {
                    packets.extend(records);
                }
                let mut heard = false;
                for p in packets {
                    let Ok(p) = p else {
                        return Break(self.malformed(link));
                    };
                    self.on_engine(link, p).await?;
                    heard = true;
                }
                Continue(heard)
            }
            Some(In::Malformed) => Break(self.malformed(link)),
            Some(In::Upgrade(ws)) => {
                self.upgrade(link, ws).await;
                Continue(true)
            }
        }
    }

    /// The WebSocket takes over: what the outbox holds goes out on it.
    async fn upgrade(&mut self, link: &mut Link, ws: Box<WebSocket>) {
        let queued: Vec<Out> = self.h.outbox().queue.drain(..).collect();
        *link = Link::Ws(ws);
        let queued = queued
            .into_iter()
            .filter(|o| !matches!(o, Out::Packet(p) if p == "6"))
            .collect();
        let _ = self.send(link, queued).await;
    }

    async fn on_frame(&mut self, link: &mut Link, m: Option<Result<Message, axum::Error>>) -> Step {
        let text = match m {
            Some(Ok(Message::Text(t))) => t,
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => return Continue(false),
            Some(Ok(Message::Binary(_))) => return Break(self.malformed(link)),
            Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return Break(Ending::Left),
        };
        match EnginePacket::decode(text.as_str()) {
            Ok(p) => {
                self.on_engine(link, p).await?;
                Continue(true)
            }
            Err(_) => Break(self.malformed(link)),
        }
    }

    /// One Engine.IO packet from the client.
    async fn on_engine(&mut self, link: &mut Link, p: EnginePacket<'_>) -> Step {
        match p {
            EnginePacket::Pong(_) | EnginePacket::Noop => Continue(false),
            EnginePacket::Ping(d) => self.send(link, vec![Out::Packet(format!("3{d}"))]).await,
            EnginePacket::Close => Break(Ending::Left),
            EnginePacket::Message(text) => {
                let mut out = Vec::new();
                let flow = self.client.on_packet(text, &mut out).await;
                self.send(link, out).await?;
                match flow {
                    Ok(Flow::Go) => Continue(false),
                    Ok(Flow::End) => Break(Ending::Left),
                    Err(_) => Break(self.malformed(link)),
                }
            }
            EnginePacket::Open(_) | EnginePacket::Upgrade => Break(self.malformed(link)),
        }
    }

    fn malformed(&self, link: &Link) -> Ending {
        self.app.metrics.protocol_error(Self::transport(link));
        Ending::Malformed
    }

    /// The last words: `lagged` and `41` for a lagging socket, `1` (the
    /// Engine.IO close) for a polling client, a close frame on a WebSocket.
    async fn finish(&mut self, link: &mut Link, ending: Ending) {
        let mut out = Vec::new();
        if let Ending::Lagged(cursor) = ending {
            self.app.metrics.lagged.fetch_add(1, Relaxed);
            out.push(event("lagged", &format!("{{\"cursor\":\"{cursor}\"}}")));
            out.push(Out::Packet("41".into()));
        }
        if matches!(ending, Ending::Shutdown | Ending::Lagged(_)) {
            out.push(Out::Packet("1".into()));
        }
        self.client.sub = None;
        match link {
            Link::Polling => {
                let _ = self.send(link, out).await;
                self.h.close();
            }
            Link::Ws(ws) => {
                let _ = write_frames(&self.app, ws, out).await;
                let code = match ending {
                    Ending::Shutdown => 1001,
                    Ending::Malformed => 1002,
                    _ => 1000,
                };
                let close = Message::Close(Some(CloseFrame {
                    code,
                    reason: Utf8Bytes::from_static(""),
                }));
                let _ = ws.send(close).await;
            }
        }
    }
}

/// What a polling session that ended left in its outbox (a lag notice,
/// `41`, `1`), then a close frame: a WebSocket that arrives too late is
/// closed in order, never dropped.
pub(super) async fn last_words(app: &AppState, h: &Handle, mut ws: Box<WebSocket>) {
    let out: Vec<Out> = h.outbox().queue.drain(..).collect();
    let _ = write_frames(app, &mut ws, out).await;
    let close = Message::Close(Some(CloseFrame {
        code: 1000,
        reason: Utf8Bytes::from_static(""),
    }));
    let _ = ws.send(close).await;
}

/// `out` as text frames under one flush; room messages are counted as
/// `socketio` deliveries.
pub(super) async fn write_frames(
    app: &AppState,
    ws: &mut WebSocket,
    out: Vec<Out>,
) -> Result<(), axum::Error> {
    if out.is_empty() {
        return Ok(());
    }
    let mut n = 0;
    for o in out {
        let text = match o {
            Out::Message(d) => {
                n += 1;
                SocketIo::framed(&d).clone()
            }
            Out::Packet(p) => Utf8Bytes::from(p),
        };
        ws.feed(Message::Text(text)).await?;
    }
    ws.flush().await?;
    app.metrics.delivered(Transport::SocketIo, n);
    Ok(())
}

async fn feed_recv(client: &mut Client) -> Result<Arc<Delivery>, RecvError> {
    match client.sub.as_mut() {
        Some(sub) => sub.rx.recv().await,
        None => std::future::pending().await,
    }
}

async fn ws_recv(link: &mut Link) -> Option<Result<Message, axum::Error>> {
    match link {
        Link::Ws(ws) => ws.recv().await,
        Link::Polling => std::future::pending().await,
    }
}
