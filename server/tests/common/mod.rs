//! Test harness: a real server on 127.0.0.1:0 and one subscriber type that
//! speaks every transport, so one test body can run over all four.
#![allow(dead_code)]

use futures_util::{SinkExt, StreamExt};
use protocol::Transport;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;

/// Generous bound for anything that should happen "now" on loopback.
pub const SOON: Duration = Duration::from_secs(5);

pub struct TestServer {
    pub addr: SocketAddr,
    pub url: String,
    pub token: CancellationToken,
    pub handle: Option<JoinHandle<Result<(), server::Error>>>,
    pub http: reqwest::Client,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::with(server::Config::default()).await
    }

    pub async fn with(config: server::Config) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let token = CancellationToken::new();
        let handle = tokio::spawn(server::run(listener, config, token.clone()));
        TestServer {
            addr,
            url: format!("http://{addr}"),
            token,
            handle: Some(handle),
            http: reqwest::Client::new(),
        }
    }

    /// Stops the server and waits for `run` to return.
    pub async fn shutdown(&mut self) {
        self.token.cancel();
        if let Some(h) = self.handle.take() {
            tokio::time::timeout(Duration::from_secs(10), h)
                .await
                .expect("server stops within its deadline")
                .expect("server task")
                .expect("server run ok");
        }
    }

    pub async fn publish(&self, room: &str, user: &str, text: &str) -> String {
        let r = self
            .http
            .post(format!("{}/api/rooms/{room}/messages", self.url))
            .json(&serde_json::json!({"user": user, "text": text}))
            .send()
            .await
            .expect("publish");
        assert_eq!(r.status(), 201, "publish answered {}", r.status());
        let p: protocol::PublishResponse = r.json().await.expect("publish body");
        p.id
    }

    /// One poll of `room` with this query (e.g. `since=0`, `since=0&wait=30`).
    pub async fn poll(&self, room: &str, query: &str) -> protocol::PollResponse {
        self.http
            .get(format!("{}/api/rooms/{room}/messages?{query}", self.url))
            .send()
            .await
            .expect("poll")
            .json()
            .await
            .expect("poll json")
    }

    pub async fn stats(&self) -> protocol::stats::ServerStats {
        self.http
            .get(format!("{}/api/stats", self.url))
            .send()
            .await
            .expect("stats")
            .json()
            .await
            .expect("stats json")
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.token.cancel();
    }
}

#[derive(Deserialize)]
struct RawPoll<'a> {
    #[serde(borrow)]
    messages: Vec<&'a RawValue>,
    cursor: String,
    #[serde(default)]
    gap: bool,
}

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

pub enum Sub {
    Poll {
        http: reqwest::Client,
        url: String,
        cursor: Option<String>,
        wait: bool,
        /// The first poll's answer (history), handed out by the first `next_batch`.
        pending: Vec<Got>,
        /// The first poll said `gap: true`.
        first_gap: bool,
    },
    Sse {
        resp: reqwest::Response,
        buf: String,
        last_id: Option<String>,
        gap: bool,
    },
    Ws {
        ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
        gap: bool,
    },
}

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
}

fn query(o: &SubOpts<'_>) -> String {
    let mut q = Vec::new();
    if let Some(s) = o.since {
        q.push(format!("since={s}"));
    }
    if let Some(h) = o.history {
        q.push(format!("history={h}"));
    }
    if let Some(u) = o.user {
        q.push(format!("user={u}"));
    }
    q.join("&")
}

pub async fn ws_connect(
    addr: SocketAddr,
    path_and_query: &str,
) -> WebSocketStream<MaybeTlsStream<TcpStream>> {
    let stream = TcpStream::connect(addr).await.expect("tcp connect");
    let (ws, _) = tokio_tungstenite::client_async(
        format!("ws://{addr}{path_and_query}"),
        MaybeTlsStream::Plain(stream),
    )
    .await
    .expect("websocket handshake");
    ws
}

impl Sub {
    pub async fn open(t: Transport, srv: &TestServer, room: &str, o: SubOpts<'_>) -> Sub {
        let q = query(&o);
        match t {
            Transport::ShortPoll | Transport::LongPoll => {
                let mut s = Sub::Poll {
                    http: reqwest::Client::new(),
                    url: format!("{}/api/rooms/{room}/messages", srv.url),
                    cursor: o.since.map(str::to_string),
                    wait: t == Transport::LongPoll,
                    pending: Vec::new(),
                    first_gap: false,
                };
                // The first poll establishes the cursor (and reads history).
                if let Sub::Poll { cursor: None, .. } = &s {
                    s.prime(&q).await;
                }
                s
            }
            Transport::Sse => {
                let resp = srv
                    .http
                    .get(format!("{}/api/rooms/{room}/events?{q}", srv.url))
                    .send()
                    .await
                    .expect("sse request");
                assert_eq!(resp.status(), 200);
                assert_eq!(
                    resp.headers().get("content-type").map(|v| v.as_bytes()),
                    Some(&b"text/event-stream"[..])
                );
                Sub::Sse {
                    resp,
                    buf: String::new(),
                    last_id: None,
                    gap: false,
                }
            }
            Transport::Ws => Sub::Ws {
                ws: ws_connect(srv.addr, &format!("/api/rooms/{room}/ws?{q}")).await,
                gap: false,
            },
        }
    }

    /// Poll clients: the first request (history or live start).
    async fn prime(&mut self, q: &str) {
        if let Sub::Poll {
            http,
            url,
            cursor,
            pending,
            first_gap,
            ..
        } = self
        {
            let body = http
                .get(format!("{url}?{q}"))
                .send()
                .await
                .expect("first poll")
                .text()
                .await
                .expect("poll body");
            let p: RawPoll<'_> = serde_json::from_str(&body).expect("poll json");
            *cursor = Some(p.cursor.clone());
            *first_gap = p.gap;
            *pending = p.messages.iter().map(|m| Got::parse(m.get())).collect();
        }
    }

    /// One poll request with the current cursor (short or long).
    pub async fn poll_once(&mut self) -> (Vec<Got>, bool) {
        let Sub::Poll {
            http,
            url,
            cursor,
            wait,
            first_gap,
            ..
        } = self
        else {
            panic!("not a poll subscriber");
        };
        let c = cursor.clone().unwrap_or_else(|| "0".into());
        let w = if *wait { "&wait=5" } else { "" };
        let r = http
            .get(format!("{url}?since={c}{w}"))
            .send()
            .await
            .expect("poll");
        assert_eq!(r.status(), 200);
        let body = r.text().await.expect("poll body");
        let p: RawPoll<'_> = serde_json::from_str(&body).expect("poll json");
        *cursor = Some(p.cursor.clone());
        *first_gap |= p.gap;
        (
            p.messages.iter().map(|m| Got::parse(m.get())).collect(),
            p.gap,
        )
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
        match self {
            Sub::Poll { pending, .. } if !pending.is_empty() => Ok(std::mem::take(pending)),
            Sub::Poll { wait, .. } => {
                let w = *wait;
                let (m, _) = self.poll_once().await;
                if !w && m.is_empty() {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Ok(m)
            }
            Sub::Sse {
                resp,
                buf,
                last_id,
                gap,
            } => loop {
                if let Some(end) = buf.find("\n\n") {
                    let event: String = buf.drain(..end + 2).collect();
                    let mut data = None;
                    let mut name = None;
                    for line in event.lines() {
                        if let Some(v) = line.strip_prefix("data: ") {
                            data = Some(v.to_string());
                        } else if let Some(v) = line.strip_prefix("id: ") {
                            *last_id = Some(v.to_string());
                        } else if let Some(v) = line.strip_prefix("event: ") {
                            name = Some(v.to_string());
                        }
                    }
                    match (name.as_deref(), data) {
                        (Some("lagged"), Some(d)) => {
                            let n: protocol::LagNotice =
                                serde_json::from_str(&d).expect("lag notice");
                            return Err(End::Lagged(n.cursor));
                        }
                        (Some("gap"), Some(_)) => {
                            *gap = true;
                            continue;
                        }
                        (None, Some(d)) => return Ok(vec![Got::parse(&d)]),
                        _ => continue,
                    }
                }
                match resp.chunk().await {
                    Ok(Some(c)) => buf.push_str(std::str::from_utf8(&c).expect("utf-8 stream")),
                    Ok(None) | Err(_) => return Err(End::Closed(None)),
                }
            },
            Sub::Ws { ws, gap } => loop {
                match ws.next().await {
                    Some(Ok(WsMessage::Text(t))) if t.as_str().starts_with("{\"type\":\"gap\"") => {
                        *gap = true
                    }
                    Some(Ok(WsMessage::Text(t))) => return Ok(vec![Got::parse(t.as_str())]),
                    Some(Ok(WsMessage::Close(c))) => {
                        return Err(match c {
                            Some(f) if u16::from(f.code) == protocol::message::WS_CLOSE_LAGGED => {
                                let n: protocol::LagNotice =
                                    serde_json::from_str(f.reason.as_str()).expect("lag notice");
                                End::Lagged(n.cursor)
                            }
                            Some(f) => End::Closed(Some(u16::from(f.code))),
                            None => End::Closed(None),
                        });
                    }
                    Some(Ok(_)) => continue,
                    Some(Err(_)) | None => return Err(End::Closed(None)),
                }
            },
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

    pub async fn ws_send(&mut self, text: &str) {
        let Sub::Ws { ws, .. } = self else {
            panic!("not a websocket")
        };
        ws.send(WsMessage::text(text)).await.expect("ws send");
    }

    pub fn cursor(&self) -> Option<String> {
        match self {
            Sub::Poll { cursor, .. } => cursor.clone(),
            Sub::Sse { last_id, .. } => last_id.clone(),
            Sub::Ws { .. } => None,
        }
    }

    /// The server said messages before the first one received are gone.
    pub fn gap(&self) -> bool {
        match self {
            Sub::Poll { first_gap, .. } => *first_gap,
            Sub::Sse { gap, .. } | Sub::Ws { gap, .. } => *gap,
        }
    }
}

/// Only `message` kinds, in order.
pub fn texts(got: &[Got]) -> Vec<String> {
    got.iter()
        .filter(|g| g.msg.kind == protocol::Kind::Message)
        .filter_map(|g| g.msg.text.clone())
        .collect()
}
