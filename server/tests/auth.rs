//! `--auth-token-secret`: HS256 JWTs on every room endpoint, from the
//! `Authorization` header or `?token=`; the token's subject is the user.

use futures_util::{SinkExt, StreamExt};
use protocol::token::mint;
use testkit::{SOON, TestServer};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const SECRET: &str = "correct horse battery staple";

fn token(sub: &str) -> String {
    mint(SECRET.as_bytes(), sub, Some(4_000_000_000))
}

async fn server() -> TestServer {
    TestServer::with(server::Config {
        auth_secret: Some(SECRET.into()),
        ..server::Config::default()
    })
    .await
}

async fn expect(r: reqwest::Response, status: u16, code: &str) -> String {
    assert_eq!(r.status().as_u16(), status);
    if status == 401 {
        assert_eq!(r.headers()["www-authenticate"], "Bearer");
    }
    let v: serde_json::Value = r.json().await.expect("json error");
    assert_eq!(v["code"], code, "{v}");
    v["error"].as_str().unwrap_or_default().to_string()
}

#[tokio::test]
async fn room_endpoints_want_a_valid_token() {
    let srv = server().await;
    let http = reqwest::Client::new();
    let url = |p: &str| format!("{}{p}", srv.url);
    let body = serde_json::json!({"user": "alice", "text": "hi"});
    // None, expired, wrong secret, garbage, alg=none: 401 with a reason.
    let why = expect(
        http.get(url("/api/rooms/a/messages"))
            .send()
            .await
            .expect("r"),
        401,
        "unauthorized",
    )
    .await;
    assert!(why.contains("Authorization: Bearer"), "{why}");
    let expired = mint(SECRET.as_bytes(), "alice", Some(1));
    let why = expect(
        http.post(url("/api/rooms/a/messages"))
            .bearer_auth(&expired)
            .json(&body)
            .send()
            .await
            .expect("r"),
        401,
        "unauthorized",
    )
    .await;
    assert!(why.contains("expired"), "{why}");
    let forged = mint(b"another secret", "alice", None);
    let why = expect(
        http.get(url(&format!("/api/rooms/a/events?token={forged}")))
            .send()
            .await
            .expect("r"),
        401,
        "unauthorized",
    )
    .await;
    assert!(why.contains("signature"), "{why}");
    expect(
        http.get(url("/api/rooms/a/messages"))
            .bearer_auth("not.a.jwt")
            .send()
            .await
            .expect("r"),
        401,
        "unauthorized",
    )
    .await;

    // Valid: header or query.
    let r = http
        .post(url("/api/rooms/a/messages"))
        .bearer_auth(token("alice"))
        .json(&body)
        .send()
        .await
        .expect("r");
    assert_eq!(r.status(), 201);
    let r = http
        .get(url(&format!(
            "/api/rooms/a/messages?since=0&token={}",
            token("bob")
        )))
        .send()
        .await
        .expect("r");
    assert_eq!(r.status(), 200);

    // Open endpoints stay open.
    for p in ["/", "/healthz", "/metrics", "/api/stats"] {
        assert_eq!(
            http.get(url(p)).send().await.expect("r").status(),
            200,
            "{p}"
        );
    }
}

#[tokio::test]
async fn nobody_speaks_or_appears_as_someone_else() {
    let srv = server().await;
    let http = reqwest::Client::new();
    let as_bob = serde_json::json!({"user": "bob", "text": "I am bob"});
    let why = expect(
        http.post(format!("{}/api/rooms/a/messages", srv.url))
            .bearer_auth(token("alice"))
            .json(&as_bob)
            .send()
            .await
            .expect("r"),
        403,
        "forbidden",
    )
    .await;
    assert!(why.contains("subject"), "{why}");
    // Presence as someone else (SSE ?user=).
    expect(
        http.get(format!("{}/api/rooms/a/events?user=bob", srv.url))
            .bearer_auth(token("alice"))
            .send()
            .await
            .expect("r"),
        403,
        "forbidden",
    )
    .await;
    // A WebSocket of alice's may not publish as bob; as alice it may.
    let mut req = format!("ws://{}/api/rooms/a/ws?history=0&user=alice", srv.addr)
        .into_client_request()
        .expect("req");
    req.headers_mut().insert(
        "authorization",
        format!("Bearer {}", token("alice"))
            .parse()
            .expect("header"),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.expect("ws");
    ws.send(Message::text(
        r#"{"type":"message","user":"bob","text":"x"}"#,
    ))
    .await
    .expect("send");
    ws.send(Message::text(
        r#"{"type":"message","user":"alice","text":"mine"}"#,
    ))
    .await
    .expect("send");
    let (mut refused, mut mine) = (false, false);
    while !(refused && mine) {
        let m = tokio::time::timeout(SOON, ws.next())
            .await
            .expect("frame")
            .expect("open")
            .expect("ok");
        let t = m.to_text().unwrap_or_default().to_string();
        refused |= t.contains("\"forbidden\"");
        mine |= t.contains("\"mine\"");
    }
    let seen = srv
        .poll("a", &format!("since=0&token={}", token("carol")))
        .await;
    assert!(
        seen.messages
            .iter()
            .any(|m| m.user.as_deref() == Some("alice"))
    );
    assert!(
        seen.messages
            .iter()
            .all(|m| m.user.as_deref() != Some("bob")),
        "nothing as bob"
    );
}

#[tokio::test]
async fn a_websocket_without_a_token_is_closed_with_1008() {
    let srv = server().await;
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{}/api/rooms/a/ws", srv.addr))
        .await
        .expect("upgraded, to say why");
    match tokio::time::timeout(SOON, ws.next()).await.expect("close") {
        Some(Ok(Message::Close(Some(f)))) => {
            assert_eq!(u16::from(f.code), 1008);
            assert!(f.reason.contains("token"), "{}", f.reason);
        }
        other => panic!("expected close 1008, got {other:?}"),
    }
    let m = srv.metrics().await;
    assert!(m.contains("rtbench_server_auth_failures_total 1"), "{m}");
}

/// Asking for a WebSocket upgrade lets a refused token through to the
/// handler (to close with a reason); an endpoint that does not upgrade
/// must still answer 401, not serve or publish.
#[tokio::test]
async fn an_upgrade_header_does_not_bypass_the_token() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let srv = server().await;
    let body = r#"{"user":"mallory","text":"hi"}"#;
    let post = |path: &str| {
        format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: close\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
    };
    let get = |path: &str| {
        format!("GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: close\r\n\r\n")
    };
    for req in [
        get("/api/rooms/a/messages"),
        get("/api/rooms/a/messages?wait=1"),
        get("/api/rooms/a/events"),
        post("/api/rooms/a/messages"),
        post("/api/rooms/a/typing"),
    ] {
        let mut s = tokio::net::TcpStream::connect(srv.addr)
            .await
            .expect("connect");
        s.write_all(req.as_bytes()).await.expect("send");
        let mut head = vec![0u8; 1024];
        let n = tokio::time::timeout(SOON, s.read(&mut head))
            .await
            .expect("an answer")
            .expect("read");
        let head = String::from_utf8_lossy(&head[..n]);
        assert!(head.starts_with("HTTP/1.1 401"), "{req}\n→ {head}");
        assert!(head.contains("\"code\":\"unauthorized\""), "{head}");
    }
    assert_eq!(srv.stats().await.publishes_total, 0, "nothing published");
}
