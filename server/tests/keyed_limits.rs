//! Publish limits keyed by client address and by user: reconnecting for
//! every publish does not reset them. Each publish here goes over a new TCP
//! connection from a chosen loopback source address (127.0.0.1, 127.0.0.2,
//! ...). Rates are one a minute, so no token comes back during a test.

use futures_util::{SinkExt, StreamExt};
use server::limits::RateLimit;
use std::net::{IpAddr, SocketAddr};
use testkit::{SOON, TestServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;

/// What a publish was answered: status, `Retry-After`, JSON body.
struct Answer {
    status: u16,
    retry_after: Option<u64>,
    body: serde_json::Value,
    text: String,
}

/// A TCP connection to `server` from the source address `from`.
async fn connect_from(from: &str, server: SocketAddr) -> tokio::net::TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    let ip: IpAddr = from.parse().expect("source ip");
    socket.bind(SocketAddr::new(ip, 0)).expect("bind source");
    socket.connect(server).await.expect("connect")
}

/// One publish on a new connection from `from`, with an optional token.
async fn publish_from(srv: &TestServer, from: &str, user: &str, token: Option<&str>) -> Answer {
    let auth = token.map_or(String::new(), |t| format!("authorization: Bearer {t}\r\n"));
    publish_with(srv, from, user, &auth).await
}

/// One publish on a new connection from `from` with extra header lines.
async fn publish_with(srv: &TestServer, from: &str, user: &str, auth: &str) -> Answer {
    let mut s = connect_from(from, srv.addr).await;
    let body = serde_json::json!({"user": user, "text": "hi"}).to_string();
    let req = format!(
        "POST /api/rooms/k/messages HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\n\
         content-length: {}\r\n{auth}connection: close\r\n\r\n{body}",
        srv.addr,
        body.len()
    );
    exchange(&mut s, &req).await
}

/// One request on `s` (which it closes), and its answer.
async fn exchange(s: &mut tokio::net::TcpStream, req: &str) -> Answer {
    s.write_all(req.as_bytes()).await.expect("write");
    let mut raw = Vec::new();
    tokio::time::timeout(SOON, s.read_to_end(&mut raw))
        .await
        .expect("answer in time")
        .expect("read");
    let text = String::from_utf8(raw).expect("utf-8");
    let (head, body) = text.split_once("\r\n\r\n").expect("head and body");
    let status = head
        .split(' ')
        .nth(1)
        .expect("status")
        .parse()
        .expect("code");
    let retry_after = head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case("retry-after")
            .then(|| v.trim().parse().ok())?
    });
    Answer {
        status,
        retry_after,
        body: serde_json::from_str(body).unwrap_or(serde_json::Value::Null),
        text: body.to_string(),
    }
}

/// The 429 every refusal is: JSON `rate_limited` and `Retry-After`.
fn assert_refused(a: &Answer, key: &str) {
    assert_eq!(a.status, 429);
    assert_eq!(a.body["code"], "rate_limited", "{}", a.body);
    assert!(
        a.body["error"].as_str().is_some_and(|e| e.contains(key)),
        "{}",
        a.body
    );
    assert!(a.retry_after.is_some_and(|s| s >= 1), "Retry-After");
}

/// `rtbench_server_rate_limited_total{key="..."}`.
async fn refused(srv: &TestServer, key: &str) -> i64 {
    let text = srv.metrics().await;
    let series = format!("rtbench_server_rate_limited_total{{key=\"{key}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&series)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("{series} in /metrics:\n{text}"))
}

fn per_minute(burst: u32) -> Option<RateLimit> {
    Some(RateLimit::parse(&format!("1/m:{burst}")).expect("limit"))
}

/// `GET path` on a new connection from `from`.
async fn get_from(srv: &TestServer, from: &str, path: &str) -> Answer {
    let mut s = connect_from(from, srv.addr).await;
    let req = format!(
        "GET {path} HTTP/1.1\r\nhost: {}\r\nconnection: close\r\n\r\n",
        srv.addr
    );
    exchange(&mut s, &req).await
}

#[tokio::test]
async fn open_connections_per_address_are_limited_with_429() {
    let srv = TestServer::with(server::Config {
        max_connections_per_ip: Some(2),
        ..server::Config::default()
    })
    .await;
    // Two idle connections hold 127.0.0.1's places (accepted in order, so
    // before the third).
    let mut held = vec![
        connect_from("127.0.0.1", srv.addr).await,
        connect_from("127.0.0.1", srv.addr).await,
    ];
    let a = get_from(&srv, "127.0.0.1", "/healthz").await;
    assert_eq!(a.status, 429, "{}", a.body);
    assert_eq!(a.body["code"], "too_many_connections");
    assert_eq!(a.retry_after, Some(1));
    // A WebSocket upgrade is refused the same way, before upgrading.
    let mut s = connect_from("127.0.0.1", srv.addr).await;
    let upgrade = format!(
        "GET /api/rooms/k/ws HTTP/1.1\r\nhost: {}\r\nconnection: upgrade\r\nupgrade: websocket\r\n\
         sec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        srv.addr
    );
    let a = exchange(&mut s, &upgrade).await;
    assert_eq!(a.status, 429, "{}", a.body);
    // Another address has its own places.
    assert_eq!(get_from(&srv, "127.0.0.2", "/healthz").await.status, 200);
    // A place given back: served again.
    drop(held.pop());
    let deadline = tokio::time::Instant::now() + SOON;
    while get_from(&srv, "127.0.0.1", "/healthz").await.status != 200 {
        assert!(tokio::time::Instant::now() < deadline, "place given back");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    drop(held);
    // Read from another address: 127.0.0.1's places may still be taken.
    let metrics = get_from(&srv, "127.0.0.2", "/metrics").await.text;
    let refused = testkit::metric(&metrics, "rtbench_server_rejected_connections_per_ip_total");
    assert!(refused.is_some_and(|n| n >= 2), "{refused:?}");
}

#[tokio::test]
async fn new_connections_per_address_are_limited_with_429() {
    let srv = TestServer::with(server::Config {
        max_new_connections_per_ip: per_minute(3),
        ..server::Config::default()
    })
    .await;
    for i in 0..3 {
        let a = get_from(&srv, "127.0.0.1", "/healthz").await;
        assert_eq!(a.status, 200, "connection {i}");
    }
    let a = get_from(&srv, "127.0.0.1", "/healthz").await;
    assert_eq!(a.status, 429, "{}", a.body);
    assert_eq!(a.body["code"], "too_many_connections");
    assert!(a.retry_after.is_some_and(|s| s >= 1), "Retry-After");
    assert_eq!(get_from(&srv, "127.0.0.2", "/healthz").await.status, 200);
    let metrics = get_from(&srv, "127.0.0.2", "/metrics").await.text;
    let name = "rtbench_server_rejected_new_connections_per_ip_total";
    assert_eq!(testkit::metric(&metrics, name), Some(1));
}

#[tokio::test]
async fn a_flood_over_new_connections_from_one_address_gets_429_after_the_burst() {
    let srv = TestServer::with(server::Config {
        publish_rate_limit: Some(RateLimit::parse("100/s").expect("limit")),
        publish_rate_limit_per_ip: per_minute(5),
        ..server::Config::default()
    })
    .await;
    let mut statuses = Vec::new();
    for _ in 0..12 {
        let a = publish_from(&srv, "127.0.0.1", "u", None).await;
        if a.status == 429 {
            assert_refused(&a, "address");
        }
        statuses.push(a.status);
    }
    assert_eq!(statuses[..5], [201; 5], "the burst passes");
    assert_eq!(
        statuses[5..],
        [429; 7],
        "then every new connection is refused"
    );
    assert_eq!(refused(&srv, "address").await, 7);
    assert_eq!(refused(&srv, "connection").await, 0);
}

#[tokio::test]
async fn two_addresses_each_get_their_own_budget() {
    let srv = TestServer::with(server::Config {
        publish_rate_limit_per_ip: per_minute(3),
        ..server::Config::default()
    })
    .await;
    for from in ["127.0.0.1", "127.0.0.2"] {
        for i in 0..3 {
            let a = publish_from(&srv, from, "u", None).await;
            assert_eq!(a.status, 201, "{from} publish {i}: {}", a.body);
        }
        assert_refused(&publish_from(&srv, from, "u", None).await, "address");
    }
    assert_eq!(refused(&srv, "address").await, 2);
}

#[tokio::test]
async fn an_authenticated_user_hopping_addresses_is_still_limited() {
    let secret = "keyed-limits-secret";
    let srv = TestServer::with(server::Config {
        auth_secret: Some(secret.into()),
        publish_rate_limit_per_user: per_minute(3),
        ..server::Config::default()
    })
    .await;
    let alice = protocol::token::mint(secret.as_bytes(), "alice", None);
    let hops = ["127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4"];
    for from in &hops[..3] {
        let a = publish_from(&srv, from, "alice", Some(&alice)).await;
        assert_eq!(a.status, 201, "alice from {from}: {}", a.body);
    }
    assert_refused(
        &publish_from(&srv, hops[3], "alice", Some(&alice)).await,
        "user",
    );
    // Another user from an address alice used is not affected.
    let bob = protocol::token::mint(secret.as_bytes(), "bob", None);
    assert_eq!(
        publish_from(&srv, hops[0], "bob", Some(&bob)).await.status,
        201
    );
    assert_eq!(refused(&srv, "user").await, 1);
}

#[tokio::test]
async fn websocket_publishes_over_new_sockets_share_the_address_budget() {
    let srv = TestServer::with(server::Config {
        publish_rate_limit_per_ip: per_minute(2),
        ..server::Config::default()
    })
    .await;
    let frame = r#"{"type":"message","user":"w","text":"hop"}"#;
    for n in 1..=3usize {
        let stream = connect_from("127.0.0.1", srv.addr).await;
        let (mut ws, _) = tokio_tungstenite::client_async(
            format!("ws://{}/api/rooms/k/ws?history=0", srv.addr),
            stream,
        )
        .await
        .expect("websocket handshake");
        ws.send(Message::text(frame)).await.expect("send");
        if n <= 2 {
            // Accepted: it shows up in the room.
            let deadline = tokio::time::Instant::now() + SOON;
            while srv.poll("k", "since=0").await.messages.len() < n {
                assert!(tokio::time::Instant::now() < deadline, "publish {n} landed");
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        } else {
            let reply = loop {
                match tokio::time::timeout(SOON, ws.next()).await.expect("reply") {
                    Some(Ok(Message::Text(t))) => break t.to_string(),
                    Some(Ok(_)) => {}
                    other => panic!("{other:?}"),
                }
            };
            assert!(reply.contains("\"rate_limited\""), "{reply}");
            assert!(reply.contains("address"), "{reply}");
        }
    }
    assert_eq!(srv.poll("k", "since=0").await.messages.len(), 2);
    assert_eq!(refused(&srv, "address").await, 1);
}

#[tokio::test]
async fn forwarded_addresses_count_only_from_a_trusted_proxy() {
    let srv = TestServer::with(server::Config {
        publish_rate_limit_per_ip: per_minute(2),
        trusted_proxies: vec![server::limits::proxy::parse_cidr("127.0.0.2").expect("cidr")],
        ..server::Config::default()
    })
    .await;
    let xff = |ip: &str| format!("x-forwarded-for: {ip}\r\n");
    // Through the trusted proxy (127.0.0.2): each forwarded client has its
    // own budget, though all come over the proxy's address.
    for client in ["203.0.113.7", "203.0.113.8"] {
        for _ in 0..2 {
            assert_eq!(
                publish_with(&srv, "127.0.0.2", "u", &xff(client))
                    .await
                    .status,
                201
            );
        }
        let a = publish_with(&srv, "127.0.0.2", "u", &xff(client)).await;
        assert_refused(&a, "address");
    }
    // A client cannot escape by writing its own hop left of the proxy's.
    let spoof = xff("198.51.100.1, 203.0.113.7");
    assert_eq!(
        publish_with(&srv, "127.0.0.2", "u", &spoof).await.status,
        429
    );
    // `Forwarded: for=` is read too.
    let fwd = "forwarded: for=\"[2001:db8::1]:4711\"\r\n";
    assert_eq!(publish_with(&srv, "127.0.0.2", "u", fwd).await.status, 201);
    // From an untrusted peer the header is ignored: 127.0.0.1 is the key,
    // whatever it claims.
    for i in 0..3 {
        let a = publish_with(&srv, "127.0.0.1", "u", &xff(&format!("192.0.2.{i}"))).await;
        assert_eq!(a.status, if i < 2 { 201 } else { 429 }, "{}", a.body);
    }
}
