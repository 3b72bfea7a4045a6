//! Errors hyper answers itself, before any service runs: a request head it
//! cannot parse (400) or one past its limits (431). hyper writes a bare
//! head with `content-length: 0` and closes; neither `http1::Builder` nor
//! the service can give that response a body, so these are the one place
//! the server's errors are not JSON (README "Security and limits"). This
//! test pins that behaviour: if hyper ever lets a body through, it fails
//! and the JSON can be added.

use testkit::{SOON, TestServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The whole answer to `raw` on a new connection (the server closes it).
async fn answer(srv: &TestServer, raw: &[u8]) -> String {
    let mut s = tokio::net::TcpStream::connect(srv.addr)
        .await
        .expect("connect");
    s.write_all(raw).await.expect("write");
    let mut out = Vec::new();
    tokio::time::timeout(SOON, s.read_to_end(&mut out))
        .await
        .expect("closed in time")
        .expect("read");
    String::from_utf8_lossy(&out).into_owned()
}

fn assert_bare(answer: &str, status: &str) {
    let (head, body) = answer.split_once("\r\n\r\n").expect("a head");
    assert!(head.starts_with(&format!("HTTP/1.1 {status}")), "{head}");
    assert!(
        head.to_ascii_lowercase().contains("content-length: 0"),
        "{head}"
    );
    assert_eq!(body, "", "hyper's own error has no body");
}

#[tokio::test]
async fn errors_hyper_answers_itself_have_no_body() {
    let srv = TestServer::start().await;
    // More header fields than hyper parses (100): 431. The head is small,
    // so the server reads all of it and its answer is not lost to a reset.
    let mut many = String::from("GET /healthz HTTP/1.1\r\nhost: x\r\n");
    for i in 0..120 {
        many.push_str(&format!("x-h{i}: v\r\n"));
    }
    many.push_str("\r\n");
    assert_bare(&answer(&srv, many.as_bytes()).await, "431");
    // A request line that is not HTTP: 400.
    assert_bare(
        &answer(&srv, b"G\x01T / HTTP/1.1\r\nhost: x\r\n\r\n").await,
        "400",
    );
    // Anything hyper can parse reaches the router and gets JSON.
    let r = answer(
        &srv,
        b"GET /nope HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
    )
    .await;
    assert!(r.contains("\"code\":\"not_found\""), "{r}");
}
