//! The hostile-input table: malformed, oversized and abusive requests on
//! every endpoint and transport, written byte by byte on raw sockets (so
//! shapes a polite client library would refuse to send get sent). Each case
//! names its expected status or close code; after **each** one the server
//! must still answer `/healthz` and deliver a new message to a WebSocket
//! subscriber that was connected before the table started (nothing lost).

use futures_util::StreamExt;
use protocol::ServerFrame;
use std::time::{Duration, Instant};
use testkit::{SOON, TestServer, ws_connect};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

/// What a case must get back.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    /// This HTTP status.
    Status(u16),
    /// One of these statuses, or the connection closed without an answer
    /// (hyper may do either for garbage it cannot parse).
    StatusOrClosed(&'static [u16]),
    /// A WebSocket close frame with this code.
    Close(u16),
    /// A WebSocket error frame (`"type":"error"`) with this code; the socket stays open.
    ErrorFrame(&'static str),
    /// The connection is closed by the server within this long.
    ClosedWithin(Duration),
}

/// How a case talks to the server.
enum Send {
    /// Raw bytes for one HTTP exchange.
    Http(Vec<u8>),
    /// A WebSocket handshake on `path`, then these raw frames.
    Ws(&'static str, Vec<Vec<u8>>),
    /// Bytes, then silence (slowloris).
    Trickle(Vec<u8>),
}

fn http(method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Send {
    let mut r = format!("{method} {path} HTTP/1.1\r\nHost: test\r\n");
    for (k, v) in headers {
        r.push_str(&format!("{k}: {v}\r\n"));
    }
    if !headers.iter().any(|(k, _)| {
        k.eq_ignore_ascii_case("content-length") || k.eq_ignore_ascii_case("transfer-encoding")
    }) {
        r.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    r.push_str("\r\n");
    let mut bytes = r.into_bytes();
    bytes.extend_from_slice(body);
    Send::Http(bytes)
}

fn publish(body: &[u8]) -> Send {
    http(
        "POST",
        "/api/rooms/t/messages",
        &[("Content-Type", "application/json")],
        body,
    )
}

fn get(path: &str) -> Send {
    http("GET", path, &[], b"")
}

/// One masked client frame (mask key 0: valid, and the payload stays readable).
fn frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![(u8::from(fin) << 7) | opcode];
    match payload.len() {
        n if n < 126 => f.push(0x80 | n as u8),
        n if n < 65536 => {
            f.push(0x80 | 126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            f.push(0x80 | 127);
            f.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    f.extend_from_slice(&[0, 0, 0, 0]);
    f.extend_from_slice(payload);
    f
}

fn text(s: &str) -> Vec<u8> {
    frame(true, 1, s.as_bytes())
}

fn close_frame(code: u16) -> Vec<u8> {
    frame(true, 8, &code.to_be_bytes())
}

fn cases() -> Vec<(&'static str, Send, Expect)> {
    use Expect::*;
    let big_json = format!("{{\"user\":\"u\",\"text\":\"{}\"}}", "x".repeat(70 * 1024));
    let nested = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let long_user = format!("{{\"user\":\"{}\",\"text\":\"t\"}}", "u".repeat(10 * 1024));
    let long_room = format!("/api/rooms/{}/messages", "r".repeat(10 * 1024));
    let many_headers: Vec<(String, String)> =
        (0..200).map(|i| (format!("X-H{i}"), "v".into())).collect();
    let many: Vec<(&str, &str)> = many_headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let huge_header = "v".repeat(1024 * 1024);
    let ok_msg = r#"{"type":"message","user":"w","text":"ok"}"#;
    vec![
        // Publish bodies.
        ("malformed JSON", publish(b"{\"user\":"), Status(400)),
        (
            "truncated JSON",
            publish(b"{\"user\":\"a\",\"text\":\"b\""),
            Status(400),
        ),
        (
            "wrong types",
            publish(br#"{"user":1,"text":2}"#),
            Status(400),
        ),
        ("missing text", publish(br#"{"user":"a"}"#), Status(400)),
        (
            "null text",
            publish(br#"{"user":"a","text":null}"#),
            Status(400),
        ),
        ("array body", publish(b"[1,2,3]"), Status(400)),
        ("empty body", publish(b""), Status(400)),
        (
            "invalid UTF-8 body",
            publish(b"{\"user\":\"a\",\"text\":\"\xff\xfe\"}"),
            Status(400),
        ),
        (
            "JSON nested 10,000 deep",
            publish(nested.as_bytes()),
            Status(400),
        ),
        (
            "message over the size limit",
            publish(big_json.as_bytes()),
            Status(413),
        ),
        (
            "user with control characters",
            publish(b"{\"user\":\"a\\u0001b\",\"text\":\"t\"}"),
            Status(400),
        ),
        ("user of 10 KB", publish(long_user.as_bytes()), Status(400)),
        (
            "absurd Content-Length",
            http(
                "POST",
                "/api/rooms/t/messages",
                &[
                    ("Content-Type", "application/json"),
                    ("Content-Length", "99999999999"),
                ],
                b"{}",
            ),
            Status(413),
        ),
        // Room names.
        (
            "room ../ (encoded)",
            get("/api/rooms/..%2Fetc/messages"),
            Status(400),
        ),
        (
            "room with a control character",
            get("/api/rooms/a%01b/messages"),
            Status(400),
        ),
        (
            "room with a space",
            get("/api/rooms/a%20b/messages"),
            Status(400),
        ),
        ("room of 10 KB", get(&long_room), Status(400)),
        (
            "room with invalid UTF-8",
            get("/api/rooms/%ff%fe/messages"),
            Status(400),
        ),
        // Cursors and queries.
        (
            "negative cursor",
            get("/api/rooms/t/messages?since=-1"),
            Status(400),
        ),
        (
            "overflowing cursor",
            get("/api/rooms/t/messages?since=99999999999999999999999"),
            Status(400),
        ),
        (
            "non-numeric cursor",
            get("/api/rooms/t/messages?since=abc"),
            Status(400),
        ),
        (
            "float cursor",
            get("/api/rooms/t/messages?since=1e3"),
            Status(400),
        ),
        (
            "negative history",
            get("/api/rooms/t/messages?history=-5"),
            Status(400),
        ),
        (
            "wait=NaN",
            get("/api/rooms/t/messages?since=0&wait=NaN"),
            Status(400),
        ),
        (
            "negative wait",
            get("/api/rooms/t/messages?since=0&wait=-1"),
            Status(400),
        ),
        (
            "garbage Last-Event-ID",
            http(
                "GET",
                "/api/rooms/t/events",
                &[("Last-Event-ID", "zz")],
                b"",
            ),
            Status(400),
        ),
        (
            "overflowing Last-Event-ID",
            http(
                "GET",
                "/api/rooms/t/events",
                &[("Last-Event-ID", "184467440737095516160")],
                b"",
            ),
            Status(400),
        ),
        (
            "unknown (future) cursor",
            get("/api/rooms/t/messages?since=123456789"),
            Status(200),
        ),
        // Protocol level.
        (
            "200 headers",
            http("GET", "/healthz", &many, b""),
            StatusOrClosed(&[431, 400]),
        ),
        (
            "a 1 MB header",
            http("GET", "/healthz", &[("X-Big", huge_header.as_str())], b""),
            StatusOrClosed(&[431, 400]),
        ),
        (
            "Content-Length with Transfer-Encoding (smuggling)",
            http(
                "POST",
                "/api/rooms/t/messages",
                &[("Content-Length", "5"), ("Transfer-Encoding", "chunked")],
                b"0\r\n\r\n",
            ),
            StatusOrClosed(&[400]),
        ),
        (
            "two different Content-Lengths",
            http(
                "POST",
                "/api/rooms/t/messages",
                &[("Content-Length", "2"), ("Content-Length", "3")],
                b"{}",
            ),
            StatusOrClosed(&[400]),
        ),
        (
            "invalid chunk size",
            http(
                "POST",
                "/api/rooms/t/messages",
                &[
                    ("Content-Type", "application/json"),
                    ("Transfer-Encoding", "chunked"),
                ],
                b"zz\r\n{}\r\n0\r\n\r\n",
            ),
            StatusOrClosed(&[400]),
        ),
        (
            "garbage request line",
            Send::Http(b"\x16\x03\x01 hello\r\n\r\n".to_vec()),
            StatusOrClosed(&[400]),
        ),
        (
            "unknown method",
            http("BREW", "/api/rooms/t/messages", &[], b""),
            Status(405),
        ),
        (
            "unknown path",
            get("/../../etc/passwd"),
            StatusOrClosed(&[404, 400]),
        ),
        (
            "WebSocket upgrade without a key",
            http(
                "GET",
                "/api/rooms/t/ws",
                &[
                    ("Upgrade", "websocket"),
                    ("Connection", "Upgrade"),
                    ("Sec-WebSocket-Version", "13"),
                ],
                b"",
            ),
            Status(426),
        ),
        // WebSocket frames.
        (
            "binary frame",
            Send::Ws("/api/rooms/t/ws", vec![frame(true, 2, b"\x00\x01")]),
            Close(1003),
        ),
        (
            "invalid JSON frame",
            Send::Ws("/api/rooms/t/ws", vec![text("{oops")]),
            ErrorFrame("bad_json"),
        ),
        (
            "unknown frame type",
            Send::Ws("/api/rooms/t/ws", vec![text(r#"{"type":"launch"}"#)]),
            ErrorFrame("bad_json"),
        ),
        (
            "oversized message",
            Send::Ws(
                "/api/rooms/t/ws",
                vec![text(&format!(
                    r#"{{"type":"message","user":"w","text":"{}"}}"#,
                    "x".repeat(70 * 1024)
                ))],
            ),
            Close(1009),
        ),
        (
            "oversized message in fragments",
            Send::Ws(
                "/api/rooms/t/ws",
                (0..20)
                    .map(|i| frame(i == 19, if i == 0 { 1 } else { 0 }, &[b'x'; 8 * 1024]))
                    .collect(),
            ),
            Close(1009),
        ),
        (
            "invalid UTF-8 text frame",
            Send::Ws("/api/rooms/t/ws", vec![frame(true, 1, b"\xff\xfe\xfd")]),
            Close(1007),
        ),
        (
            "invalid close code 999",
            Send::Ws("/api/rooms/t/ws", vec![close_frame(999)]),
            Close(1002),
        ),
        (
            "reserved opcode 0x3",
            Send::Ws("/api/rooms/t/ws", vec![frame(true, 3, b"")]),
            Close(1002),
        ),
        (
            "continuation without a start",
            Send::Ws("/api/rooms/t/ws", vec![frame(true, 0, b"x")]),
            Close(1002),
        ),
        (
            "1,000 pings",
            Send::Ws(
                "/api/rooms/t/ws",
                (0..1000)
                    .map(|_| frame(true, 9, b"p"))
                    .chain([close_frame(1000)])
                    .collect(),
            ),
            Close(1000),
        ),
        (
            "fragmented message (valid)",
            Send::Ws(
                "/api/rooms/t/ws",
                vec![
                    frame(false, 1, &ok_msg.as_bytes()[..10]),
                    frame(true, 0, &ok_msg.as_bytes()[10..]),
                    close_frame(1000),
                ],
            ),
            Close(1000),
        ),
        // Slow clients.
        (
            "slowloris: headers never finish",
            Send::Trickle(b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-A: ".to_vec()),
            ClosedWithin(Duration::from_secs(4)),
        ),
    ]
}

/// Read an HTTP status, `None` if the server closed without one, `Some(0)`
/// if it neither answered nor closed in time.
async fn status(stream: &mut TcpStream) -> Option<u16> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(2).position(|w| w == b"\r\n") {
            let line = String::from_utf8_lossy(&buf[..end]).to_string();
            return line.split(' ').nth(1)?.parse().ok();
        }
        match tokio::time::timeout(SOON, stream.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return None,
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
            Err(_) => return Some(0),
        }
    }
}

/// After the handshake, the first close code or error-frame code the server sends.
async fn ws_outcome(stream: &mut TcpStream) -> Expect {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 65536];
    loop {
        // Parse complete server frames (unmasked) from the buffer.
        while buf.len() >= 2 {
            let opcode = buf[0] & 0x0f;
            let (len, head) = match buf[1] & 0x7f {
                126 if buf.len() >= 4 => (u16::from_be_bytes([buf[2], buf[3]]) as usize, 4),
                127 if buf.len() >= 10 => (
                    u64::from_be_bytes(buf[2..10].try_into().expect("8")) as usize,
                    10,
                ),
                126 | 127 => break,
                n => (n as usize, 2),
            };
            if buf.len() < head + len {
                break;
            }
            let payload = buf[head..head + len].to_vec();
            buf.drain(..head + len);
            match opcode {
                8 => {
                    let code = payload
                        .get(..2)
                        .map_or(1005, |c| u16::from_be_bytes([c[0], c[1]]));
                    return Expect::Close(code);
                }
                1 => {
                    if let Ok(ServerFrame::Error(e)) = serde_json::from_slice(&payload) {
                        return Expect::ErrorFrame(Box::leak(e.code.into_boxed_str()));
                    }
                }
                _ => {}
            }
        }
        match tokio::time::timeout(SOON, stream.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return Expect::Close(1006),
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
            Err(_) => return Expect::Close(0),
        }
    }
}

async fn run_case(srv: &TestServer, send: Send) -> Expect {
    let mut s = TcpStream::connect(srv.addr).await.expect("connect");
    match send {
        Send::Http(bytes) => {
            // The server may answer and close before reading everything.
            let _ = s.write_all(&bytes).await;
            match status(&mut s).await {
                Some(code) => Expect::Status(code),
                None => Expect::StatusOrClosed(&[]),
            }
        }
        Send::Ws(path, frames) => {
            let hs = format!(
                "GET {path} HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                 Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
            );
            s.write_all(hs.as_bytes()).await.expect("handshake");
            // Read the 101 head.
            let mut head = Vec::new();
            let mut b = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                let n = tokio::time::timeout(SOON, s.read(&mut b))
                    .await
                    .expect("101")
                    .expect("read");
                assert!(n == 1, "closed during the handshake");
                head.push(b[0]);
            }
            assert!(
                head.starts_with(b"HTTP/1.1 101"),
                "{}",
                String::from_utf8_lossy(&head)
            );
            for f in frames {
                if s.write_all(&f).await.is_err() {
                    break; // closed on us mid-way: the outcome says why
                }
            }
            ws_outcome(&mut s).await
        }
        Send::Trickle(bytes) => {
            let t0 = Instant::now();
            s.write_all(&bytes).await.expect("write");
            let mut buf = [0u8; 1024];
            loop {
                match tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf)).await {
                    Ok(Ok(0)) | Ok(Err(_)) => return Expect::ClosedWithin(t0.elapsed()),
                    Ok(Ok(_)) => continue, // a 408 before the close is fine
                    Err(_) => panic!("slowloris connection still open after 10 s"),
                }
            }
        }
    }
}

fn matches(got: Expect, want: Expect) -> bool {
    match (want, got) {
        (Expect::StatusOrClosed(allowed), Expect::Status(s)) => allowed.contains(&s),
        (Expect::StatusOrClosed(_), Expect::StatusOrClosed(_)) => true,
        (Expect::ClosedWithin(max), Expect::ClosedWithin(took)) => took <= max,
        (w, g) => w == g,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hostile_input_table() {
    let srv = TestServer::with(server::Config {
        header_read_timeout: Duration::from_secs(2),
        ..server::Config::default()
    })
    .await;
    // The canary: subscribed before anything hostile happens.
    let mut canary = ws_connect(srv.addr, "/api/rooms/canary/ws?history=0").await;
    let table = cases();
    assert!(
        table.len() >= 40,
        "the table keeps at least 40 cases, have {}",
        table.len()
    );
    let mut failures = Vec::new();
    for (i, (name, send, want)) in table.into_iter().enumerate() {
        let got = run_case(&srv, send).await;
        if !matches(got, want) {
            failures.push(format!("{name}: expected {want:?}, got {got:?}"));
        }
        // Still healthy, and still delivering to the canary.
        let r = srv
            .http
            .get(format!("{}/healthz", srv.url))
            .send()
            .await
            .unwrap_or_else(|e| panic!("after {name}: /healthz: {e}"));
        assert_eq!(r.status(), 200, "after {name}");
        let text = format!("canary-{i}");
        srv.publish("canary", "c", &text).await;
        loop {
            let m = tokio::time::timeout(SOON, canary.next())
                .await
                .unwrap_or_else(|_| panic!("after {name}: canary got nothing"))
                .expect("open")
                .expect("frame");
            if let Message::Text(t) = m
                && t.as_str().contains(&text)
            {
                break;
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
