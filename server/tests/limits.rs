//! Limits: connections, long polls, publish rate per connection, origins.
//! Every refusal has its status (or close code), a JSON error that says
//! what to do, and a `/metrics` counter; the server keeps serving.

use futures_util::{SinkExt, StreamExt};
use protocol::Transport;
use server::limits::RateLimit;
use std::time::Duration;
use testkit::{SOON, TestServer, ws_connect};
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn connections_past_the_limit_get_503_or_close_1013() {
    let srv = TestServer::with(server::Config {
        max_connections: 3,
        ..server::Config::default()
    })
    .await;
    // Three WebSockets hold the three places.
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(ws_connect(srv.addr, "/api/rooms/r/ws").await);
    }
    // A fourth WebSocket is upgraded, then closed with 1013 (try again later).
    let mut ws = ws_connect(srv.addr, "/api/rooms/r/ws").await;
    let close = tokio::time::timeout(SOON, ws.next()).await.expect("close");
    match close {
        Some(Ok(Message::Close(Some(f)))) => {
            assert_eq!(u16::from(f.code), 1013);
            assert!(f.reason.contains("--max-connections"), "{}", f.reason);
        }
        other => panic!("expected close 1013, got {other:?}"),
    }
    // Plain HTTP: 503 with a JSON error and Retry-After.
    let r = reqwest::Client::new()
        .get(format!("{}/healthz", srv.url))
        .send()
        .await
        .expect("answer");
    assert_eq!(r.status(), 503);
    assert!(r.headers().contains_key("retry-after"));
    let body: serde_json::Value = r.json().await.expect("json");
    assert_eq!(body["code"], "too_busy");
    // A place frees up: served again.
    drop(held.pop());
    let deadline = tokio::time::Instant::now() + SOON;
    loop {
        let r = reqwest::Client::new()
            .get(format!("{}/healthz", srv.url))
            .send()
            .await
            .expect("answer");
        if r.status() == 200 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "place given back");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(held);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        srv.metric("rtbench_server_rejected_connections_total")
            .await
            >= 2
    );
}

#[tokio::test]
async fn long_polls_past_the_limit_get_503() {
    let srv = TestServer::with(server::Config {
        max_long_polls: 2,
        ..server::Config::default()
    })
    .await;
    let poll = || {
        srv.http
            .get(format!("{}/api/rooms/lp/messages?wait=5", srv.url))
            .send()
    };
    let (a, b) = (tokio::spawn(poll()), tokio::spawn(poll()));
    // Wait until both are held.
    let deadline = tokio::time::Instant::now() + SOON;
    while srv.metric("rtbench_server_open_long_polls").await < 2 {
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let r = poll().await.expect("answer");
    assert_eq!(r.status(), 503);
    let body: serde_json::Value = r.json().await.expect("json");
    assert_eq!(body["code"], "too_busy");
    assert!(
        body["error"]
            .as_str()
            .unwrap_or_default()
            .contains("--max-long-polls")
    );
    // A publish answers the held ones; the gauge goes back to 0.
    srv.publish("lp", "u", "hi").await;
    for h in [a, b] {
        assert_eq!(h.await.expect("task").expect("answer").status(), 200);
    }
    assert_eq!(srv.metric("rtbench_server_open_long_polls").await, 0);
    assert_eq!(
        srv.metric("rtbench_server_rejected_long_polls_total").await,
        1
    );
}

#[tokio::test]
async fn publishing_past_the_rate_limit_gets_429_then_close_1008() {
    let srv = TestServer::with(server::Config {
        publish_rate_limit: Some(RateLimit::parse("2/s:3").expect("limit")),
        ..server::Config::default()
    })
    .await;
    // HTTP, one keep-alive connection: the burst of 3 passes, the 4th waits.
    let http = reqwest::Client::new();
    let mut statuses = Vec::new();
    for i in 0..4 {
        let r = http
            .post(format!("{}/api/rooms/rl/messages", srv.url))
            .json(&serde_json::json!({"user": "u", "text": format!("m{i}")}))
            .send()
            .await
            .expect("answer");
        statuses.push(r.status().as_u16());
        if r.status() == 429 {
            let retry: u64 = r.headers()["retry-after"]
                .to_str()
                .expect("text")
                .parse()
                .expect("seconds");
            assert!((1..=2).contains(&retry), "{retry}");
            let body: serde_json::Value = r.json().await.expect("json");
            assert_eq!(body["code"], "rate_limited");
        }
    }
    assert_eq!(statuses, [201, 201, 201, 429]);
    // WebSocket: error frames, then close 1008 after twice the burst of refusals.
    let mut ws = ws_connect(srv.addr, "/api/rooms/rl/ws?history=0").await;
    let frame = r#"{"type":"message","user":"w","text":"flood"}"#;
    let mut errors = 0;
    let code = loop {
        let _ = ws.send(Message::text(frame)).await;
        match tokio::time::timeout(SOON, ws.next()).await.expect("answer") {
            Some(Ok(Message::Text(t))) if t.as_str().contains("\"rate_limited\"") => errors += 1,
            Some(Ok(Message::Close(c))) => break c.map(|f| u16::from(f.code)),
            Some(Ok(_)) => {}
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(code, Some(1008));
    assert_eq!(
        errors, 6,
        "twice the burst of 3 error frames before the close"
    );
    let text = srv.metrics().await;
    let per_connection = text
        .lines()
        .find_map(|l| {
            l.strip_prefix("rtbench_server_rate_limited_total{key=\"connection\"} ")?
                .parse::<i64>()
                .ok()
        })
        .expect("rate_limited_total{key=connection}");
    assert!(per_connection >= 8, "{per_connection}");
    // Others are unaffected.
    assert!(!srv.publish("rl", "other", "fine").await.is_empty());
}

#[tokio::test]
async fn disallowed_origins_get_403_allowed_ones_cors() {
    let srv = TestServer::with(server::Config {
        allowed_origins: Some(vec!["https://chat.example".into()]),
        ..server::Config::default()
    })
    .await;
    let http = reqwest::Client::new();
    let post = |origin: &'static str| {
        http.post(format!("{}/api/rooms/o/messages", srv.url))
            .header("origin", origin)
            .json(&serde_json::json!({"user": "u", "text": "t"}))
            .send()
    };
    let r = post("https://evil.example").await.expect("answer");
    assert_eq!(r.status(), 403);
    let body: serde_json::Value = r.json().await.expect("json");
    assert_eq!(body["code"], "forbidden");
    assert!(
        body["error"]
            .as_str()
            .unwrap_or_default()
            .contains("--allowed-origins")
    );
    let r = post("https://chat.example").await.expect("answer");
    assert_eq!(r.status(), 201);
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://chat.example"
    );
    // Preflight.
    let r = http
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/api/rooms/o/messages", srv.url),
        )
        .header("origin", "https://chat.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .expect("answer");
    assert_eq!(r.status(), 204);
    assert!(
        r.headers()["access-control-allow-methods"]
            .to_str()
            .unwrap_or_default()
            .contains("POST")
    );
    // Same origin (the chat page this server served) and no Origin at all: fine.
    let r = http
        .post(format!("{}/api/rooms/o/messages", srv.url))
        .header("origin", srv.url.clone())
        .json(&serde_json::json!({"user": "u", "text": "t"}))
        .send()
        .await
        .expect("answer");
    assert_eq!(r.status(), 201);
    // A WebSocket upgrade from a disallowed origin: 403, no socket.
    let mut req = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
        format!("ws://{}/api/rooms/o/ws", srv.addr),
    )
    .expect("request");
    req.headers_mut()
        .insert("origin", "https://evil.example".parse().expect("header"));
    let err = tokio_tungstenite::connect_async(req)
        .await
        .expect_err("refused");
    assert!(err.to_string().contains("403"), "{err}");
    assert_eq!(srv.metric("rtbench_server_rejected_origins_total").await, 2);
}

testkit::per_push_transport!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    a_subscriber_that_stops_reading_is_disconnected
);

/// A subscriber that never reads again.
enum Stalled {
    Tcp(tokio::net::TcpStream),
    /// The session and its unread stream (kept open).
    Wt(wtransport::Connection, wtransport::RecvStream),
}

impl Stalled {
    /// `raw`: the request, the status line it gets and what the client
    /// sends once connected; `None`: a WebTransport session.
    async fn open(srv: &TestServer, raw: Option<(&str, &[u8; 12], &[u8])>) -> Stalled {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let Some((request, status, then)) = raw else {
            let path = format!("{}?history=0", protocol::paths::wt("slow"));
            let conn = testkit::wt_connect(srv, &path).await.expect("session");
            let stream = conn.accept_uni().await.expect("the server's stream");
            return Stalled::Wt(conn, stream);
        };
        let mut s = tokio::net::TcpStream::connect(srv.addr)
            .await
            .expect("connect");
        s.write_all(request.as_bytes()).await.expect("request");
        let mut head = [0u8; 12];
        s.read_exact(&mut head).await.expect("status line");
        assert_eq!(&head, status);
        s.write_all(then).await.expect("connect");
        Stalled::Tcp(s)
    }

    /// Returns once the server has closed the connection.
    async fn gone(self) {
        use tokio::io::AsyncReadExt;
        match self {
            Stalled::Tcp(mut s) => {
                let mut buf = vec![0u8; 1 << 16];
                loop {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {}
                    }
                }
            }
            Stalled::Wt(conn, _stream) => {
                conn.closed().await;
            }
        }
    }
}
/// A subscriber that stops reading: its socket buffers fill, then the
/// server gives up on it within two heartbeats (counted) instead of holding
/// it forever, and everyone else keeps getting messages.
async fn a_subscriber_that_stops_reading_is_disconnected(t: Transport) {
    // The subscribe request written by hand, the status line it gets, and
    // what the client sends once connected; WebTransport has none.
    let raw: Option<(&str, &[u8; 12], &[u8])> = match t {
        Transport::Ws => Some((
            "GET /api/rooms/slow/ws?history=0 HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
            b"HTTP/1.1 101",
            b"",
        )),
        Transport::Sse => Some((
            "GET /api/rooms/slow/events?history=0 HTTP/1.1\r\nHost: t\r\n\r\n",
            b"HTTP/1.1 200",
            b"",
        )),
        Transport::ShortPoll | Transport::LongPoll | Transport::SocketIoPolling => {
            panic!("{t} is not a push transport")
        }
        Transport::WebTransport | Transport::WebTransportDatagram => None,
        // A WebSocket opened directly, then CONNECT (`40`) in a masked
        // text frame (FIN + text, mask bit + length 2, a zero mask key).
        Transport::SocketIo => Some((
            "GET /socket.io/?EIO=4&transport=websocket&room=slow&history=0 HTTP/1.1\r\nHost: t\r\n\
             Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
            b"HTTP/1.1 101",
            &[0x81, 0x82, 0, 0, 0, 0, b'4', b'0'],
        )),
    };
    let srv = TestServer::with(server::Config {
        heartbeat: Duration::from_millis(500),
        ..server::Config::default()
    })
    .await;
    let mut canary = ws_connect(srv.addr, "/api/rooms/slow/ws?history=0").await;
    // The canary reads all along (a client that reads is never dropped).
    let canary = tokio::spawn(async move {
        while let Some(Ok(m)) = canary.next().await {
            if m.to_text().is_ok_and(|t| t.contains("\"after\"")) {
                return true;
            }
        }
        false
    });
    // The stalled one: a raw request (or a session), then it never reads again.
    let stalled = Stalled::open(&srv, raw).await;
    // 16 MB of messages: far more than the socket buffers hold.
    let text = "x".repeat(8 * 1024);
    let http = reqwest::Client::new();
    for _ in 0..2000 {
        let r = http
            .post(format!("{}/api/rooms/slow/messages", srv.url))
            .json(&serde_json::json!({"user": "p", "text": text}))
            .send()
            .await
            .expect("publish");
        assert_eq!(r.status(), 201);
    }
    // Cut off at the socket after two heartbeats without write progress.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while srv.metric("rtbench_server_stalled_subscribers_total").await < 1 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the stalled subscriber was not dropped"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Its connection is gone: the socket ends (EOF or reset) once what the
    // kernel buffered is read; the session is closed.
    let drained = tokio::time::timeout(Duration::from_secs(10), stalled.gone()).await;
    assert!(
        drained.is_ok(),
        "the server kept the stalled connection open"
    );
    // The canary still gets the newest message.
    srv.publish("slow", "p", "after").await;
    let got = tokio::time::timeout(Duration::from_secs(20), canary)
        .await
        .expect("canary in time")
        .expect("task");
    assert!(got, "the canary kept its connection and got every message");
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_header_read_timeout() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let srv = TestServer::with(server::Config {
        header_read_timeout: Duration::from_millis(500),
        ..server::Config::default()
    })
    .await;
    let mut s = tokio::net::TcpStream::connect(srv.addr)
        .await
        .expect("connect");
    // One request on a keep-alive connection, answered.
    s.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .expect("write");
    let mut buf = vec![0u8; 4096];
    let n = s.read(&mut buf).await.expect("read");
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    // Then nothing: the server lets go of the idle connection (the
    // descriptor is what a flood of idle keep-alives would exhaust).
    let started = std::time::Instant::now();
    let r = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
        .await
        .expect("closed within 5 s");
    assert!(matches!(r, Ok(0) | Err(_)), "{r:?}");
    assert!(started.elapsed() >= Duration::from_millis(400));
}
