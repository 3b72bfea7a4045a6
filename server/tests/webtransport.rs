//! WebTransport over HTTP/3 (docs/webtransport.md): the certificate and
//! its hash, sessions in both modes, request streams, refusals, accounting.
//! Stream mode's backlog, resume, gap and lag run in the per-transport
//! suites (conformance.rs) like every push transport's.

use futures_util::StreamExt;
use protocol::webtransport::{Reply, close_refused};
use protocol::{ErrorBody, WebTransportInfo};
use std::time::Duration;
use testkit::{Lines, SOON, TestServer, metric, ws_connect, wt_client, wt_connect};
use wtransport::error::{ConnectingError, ConnectionError};
use wtransport::{Connection, SendStream};

/// A session's request stream: write a line, read the answer.
struct Requests {
    send: SendStream,
    lines: Lines,
}

impl Requests {
    async fn open(conn: &Connection) -> Requests {
        let (send, recv) = conn
            .open_bi()
            .await
            .expect("open")
            .await
            .expect("bi stream");
        Requests {
            send,
            lines: Lines::new(recv),
        }
    }

    async fn write(&mut self, bytes: &[u8]) {
        self.send.write_all(bytes).await.expect("write");
    }

    async fn ask(&mut self, line: &str) -> Reply {
        self.write(format!("{line}\n").as_bytes()).await;
        self.reply().await
    }

    async fn reply(&mut self) -> Reply {
        let line = tokio::time::timeout(SOON, self.lines.next())
            .await
            .expect("a reply in time")
            .expect("a reply line");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line}: {e}"))
    }
}

async fn session(srv: &TestServer, room: &str, query: &str) -> (Connection, Lines) {
    let path = format!("{}?{query}", protocol::paths::wt(room));
    let conn = wt_connect(srv, &path).await.expect("session");
    let stream = conn.accept_uni().await.expect("the server's stream");
    (conn, Lines::new(stream))
}

async fn next_line(lines: &mut Lines) -> String {
    tokio::time::timeout(SOON, lines.next())
        .await
        .expect("a line in time")
        .expect("a line")
}

/// The close code and reason of a session the server ends.
async fn closed(conn: &Connection) -> (u64, Vec<u8>) {
    match tokio::time::timeout(SOON, conn.closed())
        .await
        .expect("closed in time")
    {
        ConnectionError::ApplicationClosed(c) => (c.code().into_inner(), c.reason().to_vec()),
        other => panic!("not closed by the server: {other}"),
    }
}

/// A session accepted and closed at once: the close may arrive before the
/// client saw the session established.
async fn refused(r: Result<Connection, ConnectingError>) -> (u64, Vec<u8>) {
    match r {
        Ok(conn) => closed(&conn).await,
        Err(ConnectingError::ConnectionError(ConnectionError::ApplicationClosed(c))) => {
            (c.code().into_inner(), c.reason().to_vec())
        }
        Err(e) => panic!("not accepted then closed: {e}"),
    }
}

#[tokio::test]
async fn the_certificate_hash_is_announced_and_is_the_one_clients_see() {
    let srv = TestServer::start().await;
    let info = srv.webtransport.clone().expect("on by default");
    assert_eq!(
        info.url,
        format!("https://{}", srv.addr),
        "same port as TCP"
    );
    assert!(info.self_signed);
    assert_eq!(info.cert_hash.len(), 64);
    assert!(
        info.cert_hash
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "{}",
        info.cert_hash
    );
    let served: WebTransportInfo = srv
        .get(protocol::paths::WEBTRANSPORT_INFO)
        .await
        .json()
        .await
        .expect("info json");
    assert_eq!(served, info);
    // Pinning accepts only certificates valid for at most 14 days: this
    // connect proves the validity, the peer's leaf proves the hash.
    let (conn, _) = session(&srv, "cert", "history=0").await;
    let chain = conn.peer_identity().expect("the server's certificate");
    let leaf = chain.as_slice().first().expect("a leaf");
    assert_eq!(leaf.hash(), testkit::digest(&info.cert_hash));
}

#[tokio::test]
async fn without_webtransport_the_info_endpoint_is_a_json_404() {
    let srv = TestServer::with(server::Config {
        webtransport: false,
        ..server::Config::default()
    })
    .await;
    assert!(srv.webtransport.is_none());
    let r = srv.get(protocol::paths::WEBTRANSPORT_INFO).await;
    assert_eq!(r.status(), 404);
    let e: ErrorBody = r.json().await.expect("error json");
    assert!(e.error.contains("--no-webtransport"), "{e:?}");
}

#[tokio::test]
async fn datagram_mode_sends_live_messages_as_datagrams_and_large_ones_on_the_stream() {
    let srv = TestServer::start().await;
    let (conn, mut stream) = session(&srv, "dg", "mode=datagram&history=0").await;
    let mut ws = ws_connect(srv.addr, "/api/rooms/dg/ws?history=0").await;
    srv.publish("dg", "u", "small").await;
    let d = tokio::time::timeout(SOON, conn.receive_datagram())
        .await
        .expect("a datagram in time")
        .expect("datagram");
    let ws_text = ws.next().await.expect("ws").expect("ws frame");
    assert_eq!(
        &d.payload()[..],
        ws_text.to_text().expect("text").as_bytes()
    );
    // Far larger than a datagram can be: it goes on the stream, unchanged.
    let big = "x".repeat(4000);
    srv.publish("dg", "u", &big).await;
    let line = next_line(&mut stream).await;
    let ws_text = ws.next().await.expect("ws").expect("ws frame");
    assert_eq!(line, ws_text.to_text().expect("text"));
    let text = srv.metrics().await;
    let count = |r: &str| {
        metric(
            &text,
            &format!("rtbench_server_webtransport_datagrams_total{{result=\"{r}\"}}"),
        )
    };
    assert_eq!(count("sent"), Some(1), "{text}");
    assert_eq!(count("too_large"), Some(1), "{text}");
    assert_eq!(count("dropped"), Some(0), "{text}");
}

#[tokio::test]
async fn a_publish_on_a_request_stream_is_acked_and_reaches_a_websocket_byte_for_byte() {
    let srv = TestServer::start().await;
    let mut ws = ws_connect(srv.addr, "/api/rooms/pub/ws?history=0").await;
    let (conn, mut stream) = session(&srv, "pub", "history=0&user=al").await;
    let mut req = Requests::open(&conn).await;
    let ack = req
        .ask(r#"{"type":"message","user":"al","text":"hé","sent_us":5,"pub":"p","seq":1}"#)
        .await;
    let Reply::Ack(ack) = ack else {
        panic!("not an ack: {ack:?}")
    };
    // The session's join (presence) comes first on both.
    let ws_text = loop {
        let f = ws.next().await.expect("ws").expect("frame");
        let t = f.to_text().expect("text").to_string();
        if t.contains(r#""kind":"message""#) {
            break t;
        }
    };
    let m: protocol::Message = serde_json::from_str(&ws_text).expect("message");
    assert_eq!(m.id, ack.id);
    let line = loop {
        let l = next_line(&mut stream).await;
        if l.contains(r#""kind":"message""#) {
            break l;
        }
    };
    assert_eq!(line, ws_text, "byte-identical");
    // A user name that is no name is refused, and the stream stays usable.
    let r = req.ask(r#"{"type":"message","user":"","text":"x"}"#).await;
    assert!(
        matches!(r, Reply::Error(ErrorBody { ref code, .. }) if code == "bad_user"),
        "{r:?}"
    );
    let typing = r#"{"type":"typing"}"#;
    req.write(format!("{typing}\n").as_bytes()).await;
    let line = next_line(&mut stream).await;
    assert!(line.contains(r#""kind":"typing""#), "{line}");
}

#[tokio::test]
async fn fetch_answers_like_a_poll() {
    let srv = TestServer::start().await;
    let first = srv.publish("f", "u", "one").await;
    let second = srv.publish("f", "u", "two").await;
    srv.publish("f", "u", "three").await;
    let (conn, _stream) = session(&srv, "f", "history=0").await;
    let mut req = Requests::open(&conn).await;
    let r = req
        .ask(&format!(
            r#"{{"type":"fetch","since":"{first}","limit":1}}"#
        ))
        .await;
    let Reply::Messages(m) = r else {
        panic!("{r:?}")
    };
    assert_eq!(m.messages.len(), 1);
    assert_eq!(m.messages[0].id, second);
    assert_eq!(m.cursor, second);
    let poll = srv.poll("f", &format!("since={first}")).await;
    let Reply::Messages(all) = req
        .ask(&format!(r#"{{"type":"fetch","since":"{first}"}}"#))
        .await
    else {
        panic!("not messages")
    };
    assert_eq!(all, poll);
    let bad = req.ask(r#"{"type":"fetch","since":"x"}"#).await;
    assert!(matches!(bad, Reply::Error(ErrorBody { ref code, .. }) if code == "bad_cursor"));
}

#[tokio::test]
async fn malformed_and_oversized_lines_get_errors_and_are_counted() {
    let srv = TestServer::with(server::Config {
        max_message_bytes: 1024,
        ..server::Config::default()
    })
    .await;
    let (conn, _stream) = session(&srv, "bad", "history=0").await;
    let mut req = Requests::open(&conn).await;
    for junk in ["not json", r#"{"type":"nope"}"#, "[1,2]", "\u{0}\u{1}"] {
        let r = req.ask(junk).await;
        assert!(matches!(r, Reply::Error(_)), "{junk}: {r:?}");
    }
    // Malformed lines leave the stream open.
    let ok = req
        .ask(r#"{"type":"message","user":"u","text":"fine"}"#)
        .await;
    assert!(matches!(ok, Reply::Ack(_)), "{ok:?}");
    // A publish over the size limit is refused; the stream stays open.
    let big = format!(
        r#"{{"type":"message","user":"u","text":"{}"}}"#,
        "y".repeat(1500)
    );
    let r = req.ask(&big).await;
    assert!(
        matches!(r, Reply::Error(ErrorBody { ref code, .. }) if code == "too_large"),
        "{r:?}"
    );
    // A line past the limit plus 1 KiB ends its stream with an error.
    req.write(&vec![b'z'; 4096]).await;
    let r = req.reply().await;
    assert!(
        matches!(r, Reply::Error(ErrorBody { ref code, .. }) if code == "too_large"),
        "{r:?}"
    );
    let end = tokio::time::timeout(SOON, req.lines.next())
        .await
        .expect("end in time");
    assert_eq!(end, None, "the stream ended");
    // The session lives on.
    let mut again = Requests::open(&conn).await;
    let ok = again
        .ask(r#"{"type":"message","user":"u","text":"still"}"#)
        .await;
    assert!(matches!(ok, Reply::Ack(_)), "{ok:?}");
    let text = srv.metrics().await;
    assert_eq!(
        metric(
            &text,
            "rtbench_server_protocol_errors_total{transport=\"webtransport\"}"
        ),
        Some(5),
        "{text}"
    );
}

#[tokio::test]
async fn a_token_is_required_and_accepted_in_the_query() {
    let secret = "wt-secret";
    let srv = TestServer::with(server::Config {
        auth_secret: Some(secret.into()),
        ..server::Config::default()
    })
    .await;
    let path = format!("{}?history=0", protocol::paths::wt("auth"));
    let (code, reason) = refused(wt_connect(&srv, &path).await).await;
    assert_eq!(code, u64::from(close_refused(401)));
    let body: ErrorBody = serde_json::from_slice(&reason).expect("error body");
    assert_eq!(body.code, "unauthorized");
    let token = protocol::token::mint(secret.as_bytes(), "ann", None);
    let (conn, mut stream) =
        session(&srv, "auth", &format!("history=0&user=ann&token={token}")).await;
    let mut req = Requests::open(&conn).await;
    let ack = req
        .ask(r#"{"type":"message","user":"ann","text":"hi"}"#)
        .await;
    assert!(matches!(ack, Reply::Ack(_)), "{ack:?}");
    while !next_line(&mut stream).await.contains(r#""text":"hi""#) {}
    // Someone else's name is refused, and the stream stays usable.
    let r = req
        .ask(r#"{"type":"message","user":"bob","text":"x"}"#)
        .await;
    assert!(
        matches!(r, Reply::Error(ErrorBody { ref code, .. }) if code == "forbidden"),
        "{r:?}"
    );
    let ack = req
        .ask(r#"{"type":"message","user":"ann","text":"again"}"#)
        .await;
    assert!(matches!(ack, Reply::Ack(_)), "{ack:?}");
    // A bad room is refused after the session is accepted: 4400.
    let bad_room = wt_connect(&srv, &format!("/api/rooms/a.b/wt?token={token}")).await;
    assert_eq!(refused(bad_room).await.0, u64::from(close_refused(400)));
}

#[tokio::test]
async fn unknown_paths_bad_origins_and_sessions_past_the_limit_are_rejected() {
    let srv = TestServer::with(server::Config {
        max_connections: 1,
        allowed_origins: Some(vec!["https://good.example".into()]),
        ..server::Config::default()
    })
    .await;
    let rejected = |r: Result<Connection, ConnectingError>| {
        assert!(
            matches!(r, Err(ConnectingError::SessionRejected)),
            "{:?}",
            r.map(|_| ())
        );
    };
    rejected(wt_connect(&srv, "/api/rooms/r/nope").await);
    let info = srv.webtransport.clone().expect("wt");
    let evil =
        wtransport::endpoint::ConnectOptions::builder(format!("{}/api/rooms/r/wt", info.url))
            .add_header("origin", "https://evil.example")
            .build();
    rejected(wt_client(&srv).connect(evil).await);
    let (held, _stream) = session(&srv, "r", "history=0").await;
    rejected(wt_connect(&srv, "/api/rooms/r/wt").await);
    held.close(0u32.into(), b"done");
    // Counted once the session's place is free again (the metrics request
    // needs it too, and each one refused before that is counted as well).
    let deadline = tokio::time::Instant::now() + SOON;
    let mut refused_reads = 0;
    let text = loop {
        let r = srv.get(protocol::paths::METRICS).await;
        if r.status() == 200 {
            break r.text().await.expect("metrics");
        }
        assert_eq!(r.status(), 503, "a refused metrics request");
        refused_reads += 1;
        assert!(tokio::time::Instant::now() < deadline, "place never freed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(
        metric(&text, "rtbench_server_rejected_connections_total"),
        Some(1 + refused_reads)
    );
    assert_eq!(
        metric(&text, "rtbench_server_rejected_origins_total"),
        Some(1)
    );
}

#[tokio::test]
async fn metrics_count_sessions_deliveries_and_wire_bytes_both_ways() {
    let srv = TestServer::start().await;
    let (conn, mut stream) = session(&srv, "m", "history=0").await;
    assert_eq!(srv.metric("rtbench_server_webtransport_sessions").await, 1);
    for i in 0..3 {
        srv.publish("m", "u", &format!("m{i}")).await;
        next_line(&mut stream).await;
    }
    conn.close(0u32.into(), b"bye");
    let deadline = tokio::time::Instant::now() + SOON;
    while srv.metric("rtbench_server_webtransport_sessions").await != 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "session never ended"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let text = srv.metrics().await;
    let wire = |d: &str| {
        metric(
            &text,
            &format!(
                "rtbench_server_wire_bytes_total{{transport=\"webtransport\",direction=\"{d}\"}}"
            ),
        )
        .unwrap_or_default()
    };
    assert!(wire("in") > 0 && wire("out") > 0, "{text}");
    assert_eq!(
        metric(
            &text,
            "rtbench_server_deliveries_total{transport=\"webtransport\"}"
        ),
        Some(3)
    );
    assert_eq!(
        metric(
            &text,
            "rtbench_server_connections{transport=\"webtransport\"}"
        ),
        Some(0)
    );
}

#[tokio::test]
async fn shutdown_closes_sessions_with_going_away() {
    let mut srv = TestServer::start().await;
    let (conn, _stream) = session(&srv, "bye", "history=0").await;
    srv.shutdown().await;
    let (code, _) = closed(&conn).await;
    assert_eq!(code, u64::from(protocol::webtransport::CLOSE_GOING_AWAY));
}

#[tokio::test]
async fn a_lagging_session_gets_the_lag_line_then_close_4000_with_its_cursor() {
    let srv = TestServer::with(server::Config {
        subscriber_queue: 4,
        ..server::Config::default()
    })
    .await;
    let (conn, mut stream) = session(&srv, "lag", "history=0").await;
    // Far more than the queue holds, faster than the session task runs (one
    // thread: it runs only when the publishes wait).
    let url = format!("{}{}", srv.url, protocol::paths::messages("lag"));
    let bodies: Vec<_> = (0..400)
        .map(|i| serde_json::json!({"user": "u", "text": format!("b{i}")}))
        .collect();
    futures_util::future::join_all(bodies.iter().map(|b| srv.http.post(&url).json(b).send())).await;
    let mut last = None;
    let notice = loop {
        let line = next_line(&mut stream).await;
        match serde_json::from_str::<protocol::webtransport::Notice>(&line) {
            Ok(protocol::webtransport::Notice::Lagged(n)) => break n,
            Ok(other) => panic!("{other:?}"),
            Err(_) => {
                let m: protocol::Message = serde_json::from_str(&line).expect("message");
                last = Some(m.id);
            }
        }
    };
    // The last id delivered, or where the session started (an empty room).
    assert_eq!(notice.cursor, last.unwrap_or_else(|| "0".into()));
    let (code, reason) = closed(&conn).await;
    assert_eq!(code, u64::from(protocol::webtransport::CLOSE_LAGGED));
    let reason: protocol::LagNotice = serde_json::from_slice(&reason).expect("lag notice");
    assert_eq!(reason, notice);
    assert_eq!(srv.metric("rtbench_server_lagged_total").await, 1);
}

#[tokio::test]
async fn with_tls_files_quic_uses_that_certificate() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/tls");
    let srv = TestServer::with(server::Config {
        tls: Some(server::tls::TlsFiles {
            cert: dir.join("server.pem"),
            key: dir.join("server.key"),
        }),
        ..server::Config::default()
    })
    .await;
    let info = srv.webtransport.clone().expect("wt");
    assert!(!info.self_signed);
    let chain = wtransport::tls::CertificateChain::load_pemfile(dir.join("server.pem"))
        .await
        .expect("pem");
    let leaf = chain.as_slice().first().expect("leaf").hash();
    assert_eq!(testkit::digest(&info.cert_hash), leaf);
    // Not pinnable (valid longer than 14 days): checked against nothing here,
    // and the certificate seen is the file's.
    let client = wtransport::Endpoint::client(
        wtransport::ClientConfig::builder()
            .with_bind_default()
            .with_no_cert_validation()
            .build(),
    )
    .expect("client");
    let conn = client
        .connect(format!("{}/api/rooms/tls/wt?history=0", info.url))
        .await
        .expect("session");
    let seen = conn.peer_identity().expect("certificate");
    assert_eq!(seen.as_slice().first().expect("leaf").hash(), leaf);
}

#[tokio::test]
async fn garbage_on_request_streams_never_ends_the_session() {
    let srv = TestServer::with(server::Config {
        max_message_bytes: 1024,
        ..server::Config::default()
    })
    .await;
    let (conn, _stream) = session(&srv, "junk", "history=0").await;
    let junk: [&[u8]; 5] = [
        b"\xff\xfe\x00garbage\n",
        b"{\"type\":\"message\"\n",
        b"{\"type\":\"fetch\",\"since\":\"99999999999999999999999\"}\n",
        &[b'{'; 3000],
        b"no newline at the end",
    ];
    for bytes in junk {
        let mut req = Requests::open(&conn).await;
        req.write(bytes).await;
        req.send.finish().await.expect("finish");
        let r = req.reply().await;
        assert!(matches!(r, Reply::Error(_)), "{r:?}");
    }
    let mut req = Requests::open(&conn).await;
    let ok = req
        .ask(r#"{"type":"message","user":"u","text":"alive"}"#)
        .await;
    assert!(matches!(ok, Reply::Ack(_)), "{ok:?}");
}
