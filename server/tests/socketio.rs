//! Socket.IO at `/socket.io/`: the Engine.IO handshake, upgrade and
//! heartbeats, the session limits and errors, auth, the client events, and
//! where the bytes are counted (docs/socketio.md).

use futures_util::{SinkExt, StreamExt};
use protocol::socketio::{EnginePacket, Handshake};
use std::time::Duration;
use testkit::{SOON, TestServer, ws_connect};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

thread_local! {
    /// The Socket.IO client's own connections: the test's publishes go
    /// through `srv.http`, whose connections are labelled `publish`.
    static HTTP: reqwest::Client = reqwest::Client::new();
}

fn http() -> reqwest::Client {
    HTTP.with(Clone::clone)
}

fn polling(srv: &TestServer, sid: &str) -> String {
    format!("{}/socket.io/?EIO=4&transport=polling&sid={sid}", srv.url)
}

/// A polling handshake with this extra query; its open packet.
async fn handshake(srv: &TestServer, query: &str) -> Handshake {
    let url = format!("{}/socket.io/?EIO=4&transport=polling{query}", srv.url);
    let r = http().get(url).send().await.expect("handshake");
    assert_eq!(r.status(), 200);
    let body = r.text().await.expect("body");
    match EnginePacket::decode(&body) {
        Ok(EnginePacket::Open(h)) => h,
        other => panic!("not an open packet: {body} ({other:?})"),
    }
}

async fn get(srv: &TestServer, sid: &str) -> (u16, String) {
    let r = http().get(polling(srv, sid)).send().await.expect("get");
    (r.status().as_u16(), r.text().await.expect("body"))
}

async fn post(srv: &TestServer, sid: &str, body: &str) -> u16 {
    let r = http()
        .post(polling(srv, sid))
        .body(body.to_string())
        .send()
        .await
        .expect("post");
    r.status().as_u16()
}

/// The next text frame (pings answered), within `SOON`.
async fn next_text(ws: &mut Ws) -> String {
    tokio::time::timeout(SOON, async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) if t.as_str() == "2" => {
                    ws.send(Message::text("3")).await.expect("pong");
                }
                Some(Ok(Message::Text(t))) => return t.as_str().to_string(),
                Some(Ok(_)) => {}
                other => panic!("socket ended: {other:?}"),
            }
        }
    })
    .await
    .expect("a frame in time")
}

/// A WebSocket session opened directly, connected: its sid-less socket.
async fn direct(srv: &TestServer, query: &str) -> Ws {
    let path = format!("/socket.io/?EIO=4&transport=websocket{query}");
    let mut ws = ws_connect(srv.addr, &path).await;
    let open = next_text(&mut ws).await;
    assert!(open.starts_with("0{"), "{open}");
    assert!(open.contains("\"upgrades\":[]"), "{open}");
    ws.send(Message::text("40")).await.expect("connect");
    assert!(next_text(&mut ws).await.starts_with("40{\"sid\":"));
    ws
}

#[tokio::test]
async fn handshake_fields() {
    let srv = TestServer::start().await;
    let a = handshake(&srv, "").await;
    let b = handshake(&srv, "&room=r").await;
    assert_eq!(a.upgrades, ["websocket"]);
    assert_eq!((a.ping_interval, a.ping_timeout), (25_000, 20_000));
    assert_eq!(
        a.max_payload,
        server::Config::default().max_message_bytes as u64
    );
    assert_eq!(a.sid.len(), 22, "16 random bytes, base64url");
    assert_ne!(a.sid, b.sid);
    let r = srv.get("/socket.io/?EIO=3&transport=polling").await;
    assert_eq!(r.status(), 400);
    let r = srv.get("/socket.io/?EIO=4&transport=carrier-pigeon").await;
    assert_eq!(r.status(), 400);
    let r = srv
        .get("/socket.io/?EIO=4&transport=polling&room=a/b")
        .await;
    assert_eq!(r.status(), 400, "a bad room is refused at the handshake");
    let _ws = direct(&srv, "&room=r").await;
}

#[tokio::test]
async fn upgrade_answers_the_held_get_with_a_noop() {
    let srv = TestServer::start().await;
    let h = handshake(&srv, "&room=up&history=0").await;
    assert_eq!(post(&srv, &h.sid, "40").await, 200);
    let (status, body) = get(&srv, &h.sid).await;
    assert_eq!(status, 200);
    assert!(body.starts_with("40{\"sid\":"), "{body}");
    let held = {
        let (http, url) = (http(), polling(&srv, &h.sid));
        tokio::spawn(async move { http.get(url).send().await.expect("get").text().await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let path = format!("/socket.io/?EIO=4&transport=websocket&sid={}", h.sid);
    let mut ws = ws_connect(srv.addr, &path).await;
    ws.send(Message::text("2probe")).await.expect("probe");
    assert_eq!(next_text(&mut ws).await, "3probe");
    let noop = tokio::time::timeout(SOON, held).await.expect("answered");
    assert_eq!(noop.expect("task").expect("body"), "6");
    ws.send(Message::text("5")).await.expect("upgrade");
    let id = srv.publish("up", "u", "over ws").await;
    let frame = next_text(&mut ws).await;
    assert!(frame.starts_with("42[\"message\",{"), "{frame}");
    assert!(frame.contains(&format!("\"id\":\"{id}\"")), "{frame}");
    assert_eq!(
        get(&srv, &h.sid).await.0,
        400,
        "no polling after the upgrade"
    );
    // Bytes: the session's polling requests now count under `socketio`.
    let stats = srv.stats().await;
    let sio = &stats.labels["socketio"];
    let polling = &stats.labels["socketio-polling"];
    assert!(sio.wire_bytes_out_total > 200, "{sio:?}");
    assert!(sio.wire_bytes_in_total > 200, "{sio:?}");
    assert_eq!(polling.wire_bytes_out_total, 0, "{polling:?}");
    assert_eq!(sio.deliveries_total, 1);
}

#[tokio::test]
async fn pings_keep_a_session_alive_and_a_silent_one_is_dropped() {
    let srv = TestServer::with(server::Config {
        socketio_ping_interval: Duration::from_millis(200),
        socketio_ping_timeout: Duration::from_millis(300),
        ..server::Config::default()
    })
    .await;
    let mut alive = direct(&srv, "&room=hb&history=0").await;
    let h = handshake(&srv, "&room=hb").await;
    // `alive` answers every ping (next_text does) for 2 s, well past pingTimeout.
    let idle = tokio::time::Instant::now() + Duration::from_secs(2);
    while tokio::time::Instant::now() < idle {
        let _ = tokio::time::timeout(Duration::from_millis(100), next_text(&mut alive)).await;
    }
    srv.publish("hb", "u", "still here").await;
    assert!(next_text(&mut alive).await.contains("still here"));
    // The polling session never answered: gone, and counted.
    assert_eq!(get(&srv, &h.sid).await.0, 400);
    assert!(
        srv.metric("rtbench_server_socketio_ping_timeouts_total")
            .await
            >= 1
    );
    drop(alive);
    let deadline = tokio::time::Instant::now() + SOON;
    while srv.metric("rtbench_server_socketio_sessions").await != 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "sessions left in the store"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn session_errors() {
    let srv = TestServer::start().await;
    let h = handshake(&srv, "").await;
    let held = {
        let (http, url) = (http(), polling(&srv, &h.sid));
        tokio::spawn(async move { http.get(url).send().await.expect("get").status() })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(get(&srv, &h.sid).await.0, 400, "a second concurrent GET");
    let big = format!(
        "4{}",
        "x".repeat(server::Config::default().max_message_bytes)
    );
    assert_eq!(post(&srv, &h.sid, &big).await, 413);
    let (status, body) = get(&srv, "nope").await;
    assert_eq!(status, 400);
    assert_eq!(body, r#"{"code":1,"message":"Session ID unknown"}"#);
    held.abort();
}

#[tokio::test]
async fn malformed_packets_are_counted_and_end_only_their_session() {
    let srv = TestServer::start().await;
    let h = handshake(&srv, "").await;
    assert_eq!(post(&srv, &h.sid, "9junk").await, 400);
    let mut ws = direct(&srv, "").await;
    ws.send(Message::text("4zz")).await.expect("send");
    let text = srv.metrics().await;
    let deadline = tokio::time::Instant::now() + SOON;
    let mut text = text;
    while !text.contains("rtbench_server_protocol_errors_total{transport=\"socketio\"} 1") {
        assert!(tokio::time::Instant::now() < deadline, "{text}");
        tokio::time::sleep(Duration::from_millis(50)).await;
        text = srv.metrics().await;
    }
    assert!(
        text.contains("rtbench_server_protocol_errors_total{transport=\"socketio-polling\"} 1")
    );
    // Still serving everyone else.
    let mut other = direct(&srv, "&room=ok&history=0").await;
    srv.publish("ok", "u", "fine").await;
    assert!(next_text(&mut other).await.contains("fine"));
}

#[tokio::test]
async fn auth_at_the_handshake_and_at_connect() {
    const SECRET: &str = "s3cret";
    let token = |sub: &str| protocol::token::mint(SECRET.as_bytes(), sub, Some(4_000_000_000));
    let srv = TestServer::with(server::Config {
        auth_secret: Some(SECRET.into()),
        ..server::Config::default()
    })
    .await;
    let url = format!("{}/socket.io/?EIO=4&transport=polling&room=a", srv.url);
    let r = srv
        .http
        .get(&url)
        .bearer_auth("bad")
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 401);
    let r = srv
        .http
        .get(&url)
        .bearer_auth(token("ann"))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 200);
    // No token at the handshake: CONNECT must bring one.
    let h = handshake(&srv, "&room=a").await;
    assert_eq!(post(&srv, &h.sid, r#"40{"token":"bad"}"#).await, 200);
    let (_, body) = get(&srv, &h.sid).await;
    assert!(body.starts_with("44{\"message\":"), "{body}");
    assert!(body.contains("\"code\":\"unauthorized\""), "{body}");
    let connect = format!(r#"40{{"token":"{}","user":"bob"}}"#, token("ann"));
    assert_eq!(post(&srv, &h.sid, &connect).await, 200);
    let (_, body) = get(&srv, &h.sid).await;
    assert!(body.contains("\"code\":\"forbidden\""), "{body}");
    let connect = format!(r#"40{{"token":"{}","user":"ann"}}"#, token("ann"));
    assert_eq!(post(&srv, &h.sid, &connect).await, 200);
    let (_, body) = get(&srv, &h.sid).await;
    assert!(body.starts_with("40{\"sid\":"), "{body}");
}

#[tokio::test]
async fn join_publish_typing_leave() {
    let srv = TestServer::start().await;
    let mut ws = direct(&srv, "").await;
    ws.send(Message::text(r#"420["join",{"room":"j","history":0}]"#))
        .await
        .expect("join");
    assert_eq!(
        next_text(&mut ws).await,
        r#"430[{"room":"j","cursor":"0"}]"#
    );
    ws.send(Message::text(r#"421["message",{"user":"u","text":"hi"}]"#))
        .await
        .expect("publish");
    let (mut ack, mut msg) = (None, None);
    for _ in 0..2 {
        let f = next_text(&mut ws).await;
        if f.starts_with("431[") {
            ack = Some(f);
        } else {
            msg = Some(f);
        }
    }
    let ack = ack.expect("ack");
    assert!(ack.starts_with(r#"431[{"id":"1","ts_us":"#), "{ack}");
    assert!(msg.expect("message").contains("\"text\":\"hi\""));
    ws.send(Message::text(r#"422["message",{"user":"","text":"x"}]"#))
        .await
        .expect("bad");
    let refused = next_text(&mut ws).await;
    assert!(refused.starts_with("432[{\"error\":"), "{refused}");
    ws.send(Message::text(r#"42["typing",{"user":"u"}]"#))
        .await
        .expect("typing");
    let typing = next_text(&mut ws).await;
    assert!(typing.contains("\"kind\":\"typing\""), "{typing}");
    ws.send(Message::text(r#"423["leave"]"#))
        .await
        .expect("leave");
    assert_eq!(next_text(&mut ws).await, "433[{}]");
    srv.publish("j", "u", "after leave").await;
    let later = tokio::time::timeout(Duration::from_millis(300), next_text(&mut ws)).await;
    assert!(later.is_err(), "nothing after leave: {later:?}");
    ws.send(Message::text(
        r#"42["message",{"user":"u","text":"nowhere"}]"#,
    ))
    .await
    .expect("send");
    let err = next_text(&mut ws).await;
    assert!(err.starts_with("42[\"error\",{"), "{err}");
}

/// The official client (npm `socket.io-client`, run by node): connects
/// with its defaults (polling, then the upgrade) and polling only,
/// receives what is published and publishes with an acknowledgement.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_client_connects_receives_and_publishes() {
    use std::io::BufRead;
    let root = testkit::browser::repo_root();
    assert!(
        root.join("node_modules/socket.io-client/package.json")
            .exists(),
        "node_modules/socket.io-client missing: run `npm ci` at the repo root (scripts/test.sh does)"
    );
    let srv = TestServer::start().await;
    for (mode, want) in [("default", "websocket"), ("polling", "polling")] {
        let room = format!("node-{mode}");
        let mut child = std::process::Command::new("node")
            .arg(root.join("tests/socketio/official-client.mjs"))
            .args([srv.url.as_str(), room.as_str(), mode])
            .current_dir(&root)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("node");
        // Node's lines, read on a thread of their own (the test's runtime
        // has no process support).
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let stdout = child.stdout.take().expect("stdout");
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                let _ = tx.send(line);
            }
        });
        let mut next = async || -> serde_json::Value {
            let line = tokio::time::timeout(Duration::from_secs(15), rx.recv())
                .await
                .expect("a line in time")
                .expect("a line before node exits");
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line}: {e}"))
        };
        let ready = next().await;
        assert_eq!(ready["event"], "ready", "{mode}: {ready}");
        assert_eq!(ready["transport"], want, "{mode}");
        srv.publish(&room, "u", "one").await;
        srv.publish(&room, "u", "two").await;
        for text in ["one", "two"] {
            let m = next().await;
            assert_eq!(m["event"], "message", "{mode}: {m}");
            assert_eq!(m["message"]["text"], text, "{mode}: {m}");
            assert_eq!(m["transport"], want, "{mode}");
        }
        let mut ack = next().await;
        if ack["event"] == "message" {
            assert_eq!(ack["message"]["text"], "from node");
            ack = next().await;
        }
        assert_eq!(ack["event"], "ack", "{mode}: {ack}");
        assert_eq!(ack["ack"]["id"], "3", "{mode}: {ack}");
        assert!(ack["ack"]["ts_us"].as_u64().is_some(), "{mode}: {ack}");
        let status = tokio::task::spawn_blocking(move || child.wait())
            .await
            .expect("join");
        assert!(status.expect("status").success(), "{mode}");
    }
}
