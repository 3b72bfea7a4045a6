//! Every malformed request gets a JSON error with the right status, nothing
//! panics, and the server keeps serving.

use futures_util::{SinkExt, StreamExt};
use protocol::{ErrorBody, ServerFrame};
use reqwest::Method;
use testkit::{TestServer, ws_connect};
use tokio_tungstenite::tungstenite::Message;

async fn expect_error(
    srv: &TestServer,
    method: Method,
    path: &str,
    body: Option<&str>,
    status: u16,
    code: &str,
) {
    let mut req = srv
        .http
        .request(method.clone(), format!("{}{path}", srv.url));
    if let Some(b) = body {
        req = req
            .header("content-type", "application/json")
            .body(b.to_string());
    }
    let r = req.send().await.expect("request");
    assert_eq!(r.status().as_u16(), status, "{method} {path}");
    assert_eq!(
        r.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/json"),
        "{method} {path}: errors are JSON"
    );
    let e: ErrorBody = r.json().await.expect("error body");
    assert_eq!(e.code, code, "{method} {path}: {}", e.error);
    assert!(!e.error.is_empty());
    healthy(srv).await;
}

async fn healthy(srv: &TestServer) {
    let r = srv.get("/healthz").await;
    assert_eq!(r.status(), 200, "server still healthy");
}

#[tokio::test]
async fn bad_room_names() {
    let srv = TestServer::start().await;
    let long = "a".repeat(65);
    for room in ["a.b", "a%20b", long.as_str(), "%C3%A9", "a%2Fb"] {
        for (m, suffix) in [
            (Method::GET, "messages"),
            (Method::GET, "events"),
            (Method::GET, "ws"),
            (Method::POST, "typing"),
        ] {
            let body = (m == Method::POST).then_some(r#"{"user":"u"}"#);
            expect_error(
                &srv,
                m,
                &format!("/api/rooms/{room}/{suffix}"),
                body,
                400,
                "bad_room",
            )
            .await;
        }
    }
}

#[tokio::test]
async fn bad_publish_bodies() {
    let srv = TestServer::start().await;
    let p = "/api/rooms/r/messages";
    expect_error(&srv, Method::POST, p, Some("{not json"), 400, "bad_json").await;
    expect_error(&srv, Method::POST, p, Some(""), 400, "bad_json").await;
    expect_error(
        &srv,
        Method::POST,
        p,
        Some(r#"{"user":"u"}"#),
        400,
        "bad_json",
    )
    .await;
    expect_error(
        &srv,
        Method::POST,
        p,
        Some(r#"{"user":"u","text":5}"#),
        400,
        "bad_json",
    )
    .await;
    expect_error(
        &srv,
        Method::POST,
        p,
        Some(r#"{"user":"u","text":"x","seq":-1}"#),
        400,
        "bad_json",
    )
    .await;
    expect_error(
        &srv,
        Method::POST,
        p,
        Some(r#"{"user":"","text":"x"}"#),
        400,
        "bad_user",
    )
    .await;
    expect_error(
        &srv,
        Method::POST,
        p,
        Some(r#"{"user":"a\nb","text":"x"}"#),
        400,
        "bad_user",
    )
    .await;
    expect_error(
        &srv,
        Method::POST,
        "/api/rooms/r/typing",
        Some("[]"),
        400,
        "bad_json",
    )
    .await;
    let big = format!(r#"{{"user":"u","text":"{}"}}"#, "x".repeat(70 * 1024));
    expect_error(&srv, Method::POST, p, Some(&big), 413, "too_large").await;
    // Nothing above was published.
    assert_eq!(srv.stats().await.publishes_total, 0);
}

#[tokio::test]
async fn bad_cursors_and_queries() {
    let srv = TestServer::start().await;
    for q in [
        "since=abc",
        "since=-1",
        "since=1.5",
        "since=99999999999999999999999",
        "wait=soon",
        "wait=-2",
        "history=lots",
        "user=",
    ] {
        expect_error(
            &srv,
            Method::GET,
            &format!("/api/rooms/r/messages?{q}"),
            None,
            400,
            if q.starts_with("since") {
                "bad_cursor"
            } else if q.starts_with("user") {
                "bad_user"
            } else {
                "bad_query"
            },
        )
        .await;
    }
    expect_error(
        &srv,
        Method::GET,
        "/api/rooms/r/events?since=x",
        None,
        400,
        "bad_cursor",
    )
    .await;
    let r = srv
        .http
        .get(format!("{}/api/rooms/r/events", srv.url))
        .header("Last-Event-ID", "nope")
        .send()
        .await
        .expect("sse");
    assert_eq!(r.status(), 400);
    // A WebSocket upgrade with a bad cursor is refused before upgrading.
    expect_error(
        &srv,
        Method::GET,
        "/api/rooms/r/ws?since=x",
        None,
        400,
        "bad_cursor",
    )
    .await;
    // A plain GET on the WebSocket endpoint says what is missing.
    expect_error(
        &srv,
        Method::GET,
        "/api/rooms/r/ws",
        None,
        426,
        "upgrade_required",
    )
    .await;
}

#[tokio::test]
async fn unknown_routes_and_methods() {
    let srv = TestServer::start().await;
    expect_error(&srv, Method::GET, "/nope", None, 404, "not_found").await;
    expect_error(&srv, Method::GET, "/api/rooms/r", None, 404, "not_found").await;
    expect_error(
        &srv,
        Method::PUT,
        "/api/rooms/r/messages",
        Some("{}"),
        405,
        "method_not_allowed",
    )
    .await;
    expect_error(
        &srv,
        Method::DELETE,
        "/api/rooms/r/events",
        None,
        405,
        "method_not_allowed",
    )
    .await;
    expect_error(
        &srv,
        Method::GET,
        "/api/rooms/r/typing",
        None,
        405,
        "method_not_allowed",
    )
    .await;
}

#[tokio::test]
async fn websocket_bad_frames() {
    let srv = TestServer::start().await;
    let mut ws = ws_connect(srv.addr, "/api/rooms/w/ws?history=0&user=wendy").await;
    let next_text = async |ws: &mut tokio_tungstenite::WebSocketStream<_>| -> serde_json::Value {
        loop {
            match tokio::time::timeout(testkit::SOON, ws.next())
                .await
                .expect("frame")
                .expect("open")
                .expect("ok")
            {
                Message::Text(t) => {
                    let v: serde_json::Value =
                        serde_json::from_str(t.as_str()).expect("json frame");
                    // Skip our own join/presence announcements.
                    if v["kind"] == "system" || v["kind"] == "presence" {
                        continue;
                    }
                    return v;
                }
                _ => continue,
            }
        }
    };
    for bad in [
        "not json",
        r#"{"type":"message","user":"u"}"#,
        r#"{"type":"shout"}"#,
        r#"{"type":"message","user":"","text":"x"}"#,
    ] {
        ws.send(Message::text(bad)).await.expect("send");
        let v = next_text(&mut ws).await;
        let frame = serde_json::from_value::<ServerFrame>(v.clone());
        let Ok(ServerFrame::Error(e)) = frame else {
            panic!("{bad}: not an error frame: {v}");
        };
        assert!(!e.error.is_empty(), "{bad}: {v}");
    }
    // Still usable after the errors.
    ws.send(Message::text(
        r#"{"type":"message","user":"wendy","text":"still here"}"#,
    ))
    .await
    .expect("send");
    let v = next_text(&mut ws).await;
    assert_eq!(v["text"], "still here");

    // Binary frames close with 1003.
    ws.send(Message::binary(vec![1, 2, 3])).await.expect("send");
    assert_eq!(close_code(&mut ws).await, Some(1003));

    // Frames over the limit close with 1009.
    let mut ws = ws_connect(srv.addr, "/api/rooms/w/ws?history=0").await;
    let huge = format!(
        r#"{{"type":"message","user":"u","text":"{}"}}"#,
        "x".repeat(70 * 1024)
    );
    let _ = ws.send(Message::text(huge)).await;
    assert_eq!(close_code(&mut ws).await, Some(1009));
    healthy(&srv).await;
    assert_eq!(
        srv.stats().await.publishes_total,
        1,
        "only the good message was published"
    );
}

async fn close_code<S>(ws: &mut tokio_tungstenite::WebSocketStream<S>) -> Option<u16>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    loop {
        match tokio::time::timeout(testkit::SOON, ws.next())
            .await
            .expect("close arrives")
        {
            Some(Ok(Message::Close(c))) => return c.map(|f| u16::from(f.code)),
            Some(Ok(_)) => continue,
            Some(Err(e)) => panic!("error instead of a close frame: {e}"),
            None => return None,
        }
    }
}
