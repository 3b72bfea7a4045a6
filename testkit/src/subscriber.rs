//! One subscriber type that speaks every transport, so one test body can
//! run over all of them. Streams are read with the load generator's own
//! parsers (`loadgen::wire`): what a test sees is what a load run sees.
//! Socket.IO's subscriber is in `subscriber/socketio.rs`, WebTransport's
//! (and its client helpers) in `subscriber/wt.rs`.

mod socketio;
pub mod wt;

use crate::{SOON, TestServer, ws_connect};
use futures_util::{SinkExt, StreamExt};
use loadgen::wire::SseParser;
use protocol::Transport;
use protocol::message::ServerFrame;
use protocol::message::{SSE_EVENT_GAP, SSE_EVENT_LAGGED, WS_CLOSE_LAGGED};
use protocol::webtransport::Mode;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::collections::VecDeque;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// A received message: its exact JSON text and the parsed form.
#[derive(Debug, Clone)]
pub struct Got {
    pub raw: String,
    pub msg: protocol::Message,
}

impl Got {
    fn parse(raw: &str) -> Got {
        Got {
            raw: raw.to_string(),
            msg: serde_json::from_str(raw).unwrap_or_else(|e| panic!("bad message {raw}: {e}")),
        }
    }
}

/// What ended a push stream.
#[derive(Debug, Clone, PartialEq)]
pub enum End {
    /// SSE `event: lagged` or WebSocket close 4000, with the cursor.
    Lagged(String),
    /// WebSocket close with this code, or an SSE stream that ended.
    Closed(Option<u16>),
}

/// Where a subscription starts and who it is.
pub struct SubOpts<'a> {
    pub since: Option<&'a str>,
    pub history: Option<usize>,
    pub user: Option<&'a str>,
}

impl SubOpts<'_> {
    /// Live from now: no history, anonymous.
    pub fn live() -> Self {
        SubOpts {
            since: None,
            history: Some(0),
            user: None,
        }
    }

    fn query(&self) -> String {
        let mut q = Vec::new();
        if let Some(s) = self.since {
            q.push(format!("since={s}"));
        }
        if let Some(h) = self.history {
            q.push(format!("history={h}"));
        }
        if let Some(u) = self.user {
            q.push(format!("user={u}"));
        }
        q.join("&")
    }
}

/// A poll answer, the messages kept as their exact text.
#[derive(Deserialize)]
struct RawPoll<'a> {
    #[serde(borrow)]
    messages: Vec<&'a RawValue>,
    cursor: String,
    #[serde(default)]
    gap: bool,
}

/// The `type` of a WebSocket text frame: messages have none, the
/// server's own frames ([`ServerFrame`]) always do.
#[derive(Deserialize)]
struct FrameType {
    #[serde(rename = "type")]
    kind: Option<serde::de::IgnoredAny>,
}

/// One SSE event, owned (the parser lends its events only to a callback).
struct SseEvent {
    event: String,
    data: String,
    id: Option<String>,
}

struct Poll {
    http: reqwest::Client,
    url: String,
    cursor: Option<String>,
    wait: bool,
    /// The first poll's answer (history), handed out by the first `next_batch`.
    pending: Vec<Got>,
    /// The server said `gap: true`.
    gap: bool,
}

struct Sse {
    resp: reqwest::Response,
    parser: SseParser,
    events: VecDeque<SseEvent>,
    last_id: Option<String>,
    gap: bool,
}

struct Ws {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    gap: bool,
}

enum Inner {
    Poll(Poll),
    Sse(Sse),
    Ws(Ws),
    SocketIo(socketio::Sio),
    Wt(wt::Wt),
}

/// A subscriber of one room on one transport.
pub struct Subscriber {
    inner: Inner,
}

impl Subscriber {
    /// Subscribes to `room` on `srv` over `t`.
    pub async fn open(t: Transport, srv: &TestServer, room: &str, o: SubOpts<'_>) -> Subscriber {
        let q = o.query();
        let inner = match t {
            Transport::ShortPoll | Transport::LongPoll => {
                let mut p = Poll {
                    http: reqwest::Client::new(),
                    url: format!("{}{}", srv.url, protocol::paths::messages(room)),
                    cursor: o.since.map(str::to_string),
                    wait: t == Transport::LongPoll,
                    pending: Vec::new(),
                    gap: false,
                };
                // The first poll establishes the cursor (and reads history).
                if p.cursor.is_none() {
                    p.prime(&q).await;
                }
                Inner::Poll(p)
            }
            Transport::Sse => {
                let resp = srv
                    .http
                    .get(format!("{}{}?{q}", srv.url, protocol::paths::events(room)))
                    .send()
                    .await
                    .expect("sse request");
                return Subscriber::sse(resp);
            }
            Transport::Ws => Inner::Ws(Ws {
                ws: ws_connect(srv.addr, &format!("{}?{q}", protocol::paths::ws(room))).await,
                gap: false,
            }),
            Transport::SocketIo | Transport::SocketIoPolling => {
                Inner::SocketIo(socketio::Sio::open(t, srv, room, &q).await)
            }
            Transport::WebTransport => Inner::Wt(wt::Wt::open(srv, room, Mode::Stream, &q).await),
            // Datagrams are not resent, but loopback loses none.
            Transport::WebTransportDatagram => {
                Inner::Wt(wt::Wt::open(srv, room, Mode::Datagram, &q).await)
            }
        };
        Subscriber { inner }
    }

    /// An SSE subscriber on a response the test requested itself (e.g.
    /// with a `Last-Event-ID` header); it must be a 200 event stream.
    pub fn sse(resp: reqwest::Response) -> Subscriber {
        assert_eq!(resp.status(), 200);
        assert_eq!(
            resp.headers().get("content-type").map(|v| v.as_bytes()),
            Some(&b"text/event-stream"[..])
        );
        Subscriber {
            inner: Inner::Sse(Sse {
                resp,
                parser: SseParser::default(),
                events: VecDeque::new(),
                last_id: None,
                gap: false,
            }),
        }
    }

    /// One poll request with the current cursor (short or long); its
    /// messages and whether it announced a gap.
    pub async fn poll_once(&mut self) -> (Vec<Got>, bool) {
        let Inner::Poll(p) = &mut self.inner else {
            panic!("not a poll subscriber");
        };
        p.once().await
    }

    /// Receives until `n` messages arrived (or panics after `SOON`).
    pub async fn recv_n(&mut self, n: usize) -> Vec<Got> {
        let mut got = Vec::new();
        tokio::time::timeout(SOON, async {
            while got.len() < n {
                match self.next_batch().await {
                    Ok(mut b) => got.append(&mut b),
                    Err(end) => panic!("stream ended early: {end:?} after {} of {n}", got.len()),
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("timed out with {} of {n} messages", got.len()));
        got
    }

    /// Next messages, or how the stream ended.
    pub async fn next_batch(&mut self) -> Result<Vec<Got>, End> {
        match &mut self.inner {
            Inner::Poll(p) => Ok(p.next_batch().await),
            Inner::Sse(s) => s.next_message().await.map(|g| vec![g]),
            Inner::Ws(w) => w.next_message().await.map(|g| vec![g]),
            Inner::SocketIo(s) => s.next_message().await.map(|g| vec![g]),
            Inner::Wt(w) => w.next_message().await.map(|g| vec![g]),
        }
    }

    /// Waits for the stream's end (push transports).
    pub async fn end(&mut self) -> End {
        tokio::time::timeout(SOON, async {
            loop {
                if let Err(e) = self.next_batch().await {
                    return e;
                }
            }
        })
        .await
        .expect("stream ends")
    }

    /// Sends a text frame (WebSocket only).
    pub async fn ws_send(&mut self, text: &str) {
        let Inner::Ws(w) = &mut self.inner else {
            panic!("not a websocket")
        };
        w.ws.send(WsMessage::text(text)).await.expect("ws send");
    }

    /// Closes the socket politely (WebSocket only).
    pub async fn ws_close(&mut self) {
        let Inner::Ws(w) = &mut self.inner else {
            panic!("not a websocket")
        };
        w.ws.close(None).await.expect("close");
    }

    /// Where a resume would start: the poll cursor or the last SSE `id:`.
    pub fn cursor(&self) -> Option<String> {
        match &self.inner {
            Inner::Poll(p) => p.cursor.clone(),
            Inner::Sse(s) => s.last_id.clone(),
            Inner::Ws(_) | Inner::SocketIo(_) | Inner::Wt(_) => None,
        }
    }

    /// The server said messages before the first one received are gone.
    pub fn gap(&self) -> bool {
        match &self.inner {
            Inner::Poll(p) => p.gap,
            Inner::Sse(s) => s.gap,
            Inner::Ws(w) => w.gap,
            Inner::SocketIo(s) => s.gap,
            Inner::Wt(w) => w.gap,
        }
    }
}

impl Poll {
    /// The first request (history or live start).
    async fn prime(&mut self, q: &str) {
        let body = self
            .http
            .get(format!("{}?{q}", self.url))
            .send()
            .await
            .expect("first poll")
            .text()
            .await
            .expect("poll body");
        let p: RawPoll<'_> = serde_json::from_str(&body).expect("poll json");
        self.cursor = Some(p.cursor.clone());
        self.gap = p.gap;
        self.pending = p.messages.iter().map(|m| Got::parse(m.get())).collect();
    }

    async fn once(&mut self) -> (Vec<Got>, bool) {
        let c = self.cursor.clone().unwrap_or_else(|| "0".into());
        let w = if self.wait { "&wait=5" } else { "" };
        let r = self
            .http
            .get(format!("{}?since={c}{w}", self.url))
            .send()
            .await
            .expect("poll");
        assert_eq!(r.status(), 200);
        let body = r.text().await.expect("poll body");
        let p: RawPoll<'_> = serde_json::from_str(&body).expect("poll json");
        self.cursor = Some(p.cursor.clone());
        self.gap |= p.gap;
        (
            p.messages.iter().map(|m| Got::parse(m.get())).collect(),
            p.gap,
        )
    }

    async fn next_batch(&mut self) -> Vec<Got> {
        if !self.pending.is_empty() {
            return std::mem::take(&mut self.pending);
        }
        let (m, _) = self.once().await;
        if !self.wait && m.is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        m
    }
}

impl Sse {
    /// The next message event; lag notices and the end of the stream end it.
    async fn next_message(&mut self) -> Result<Got, End> {
        loop {
            while let Some(ev) = self.events.pop_front() {
                if let Some(id) = ev.id {
                    self.last_id = Some(id);
                }
                match ev.event.as_str() {
                    SSE_EVENT_LAGGED => {
                        let n: protocol::LagNotice =
                            serde_json::from_str(&ev.data).expect("lag notice");
                        return Err(End::Lagged(n.cursor));
                    }
                    SSE_EVENT_GAP => self.gap = true,
                    "" | "message" => return Ok(Got::parse(&ev.data)),
                    _ => {}
                }
            }
            let chunk = match self.resp.chunk().await {
                Ok(Some(c)) => c,
                Ok(None) | Err(_) => return Err(End::Closed(None)),
            };
            let events = &mut self.events;
            self.parser
                .feed(&chunk, |e| {
                    events.push_back(SseEvent {
                        event: e.event.to_string(),
                        data: std::str::from_utf8(e.data)
                            .expect("UTF-8 event data")
                            .to_string(),
                        id: e.id.map(str::to_string),
                    })
                })
                .expect("a well-formed event stream");
        }
    }
}

impl Ws {
    /// The next message frame; gap frames are noted, a close ends it.
    async fn next_message(&mut self) -> Result<Got, End> {
        loop {
            match self.ws.next().await {
                Some(Ok(WsMessage::Text(t))) => {
                    let frame: FrameType =
                        serde_json::from_str(t.as_str()).unwrap_or_else(|e| panic!("{t}: {e}"));
                    if frame.kind.is_none() {
                        return Ok(Got::parse(t.as_str()));
                    }
                    match serde_json::from_str::<ServerFrame>(t.as_str()) {
                        Ok(ServerFrame::Gap(_)) => self.gap = true,
                        Ok(ServerFrame::Error(e)) => panic!("server error frame: {e:?}"),
                        Err(e) => panic!("bad server frame {t}: {e}"),
                    }
                }
                Some(Ok(WsMessage::Close(c))) => return Err(closed(c)),
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return Err(End::Closed(None)),
            }
        }
    }
}

fn closed(c: Option<CloseFrame>) -> End {
    match c {
        Some(f) if u16::from(f.code) == WS_CLOSE_LAGGED => {
            let n: protocol::LagNotice =
                serde_json::from_str(f.reason.as_str()).expect("lag notice");
            End::Lagged(n.cursor)
        }
        Some(f) => End::Closed(Some(u16::from(f.code))),
        None => End::Closed(None),
    }
}

/// Only `message` kinds, in order.
pub fn texts(got: &[Got]) -> Vec<String> {
    got.iter()
        .filter(|g| g.msg.kind == protocol::Kind::Message)
        .filter_map(|g| g.msg.text.clone())
        .collect()
}
