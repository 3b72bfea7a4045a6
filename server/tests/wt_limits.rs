//! Per-address limits on WebTransport sessions: open and new sessions per
//! address, forwarded addresses from a trusted proxy, publishes across
//! sessions. Clients choose their UDP source (127.0.0.1, 127.0.0.2); rates
//! are per minute, so no token comes back during a test.

use protocol::webtransport::Reply;
use server::limits::RateLimit;
use server::limits::proxy::parse_cidr;
use std::net::SocketAddr;
use testkit::{Lines, SOON, TestServer, digest};
use wtransport::endpoint::ConnectOptions;
use wtransport::error::ConnectingError;
use wtransport::{ClientConfig, Connection, Endpoint};

fn per_minute(burst: u32) -> Option<RateLimit> {
    Some(RateLimit::parse(&format!("1/m:{burst}")).expect("limit"))
}

/// A session on `srv` in `room` from UDP source `from`, with an optional
/// `X-Forwarded-For`.
async fn session_from(
    srv: &TestServer,
    from: &str,
    room: &str,
    xff: Option<&str>,
) -> Result<Connection, ConnectingError> {
    let info = srv
        .webtransport
        .as_ref()
        .expect("the server has WebTransport");
    let bind: SocketAddr = format!("{from}:0").parse().expect("source");
    let config = ClientConfig::builder()
        .with_bind_address(bind)
        .with_server_certificate_hashes([digest(&info.cert_hash)])
        .build();
    let client = Endpoint::client(config).expect("client endpoint");
    let url = format!("{}{}?history=0", info.url, protocol::paths::wt(room));
    let mut options = ConnectOptions::builder(url);
    if let Some(xff) = xff {
        options = options.add_header("x-forwarded-for", xff);
    }
    tokio::time::timeout(SOON, client.connect(options.build()))
        .await
        .expect("an answer in time")
}

/// A session that must be accepted.
async fn accepted(srv: &TestServer, from: &str, xff: Option<&str>) -> Connection {
    session_from(srv, from, "lim", xff)
        .await
        .unwrap_or_else(|e| panic!("a session from {from} ({xff:?}): {e}"))
}

/// A session that must be refused before it exists (HTTP/3 429).
async fn rejected(srv: &TestServer, from: &str, xff: Option<&str>) {
    let r = session_from(srv, from, "lim", xff).await;
    assert!(
        matches!(r, Err(ConnectingError::SessionRejected)),
        "from {from} ({xff:?}): {:?}",
        r.map(|_| ())
    );
}

/// One publish on a new request stream of `conn`: its reply.
async fn publish(conn: &Connection, text: &str) -> Reply {
    let (mut send, recv) = conn
        .open_bi()
        .await
        .expect("open")
        .await
        .expect("bi stream");
    let line = format!(r#"{{"type":"message","user":"u","text":"{text}"}}"#);
    send.write_all(format!("{line}\n").as_bytes())
        .await
        .expect("write");
    let mut lines = Lines::new(recv);
    let reply = tokio::time::timeout(SOON, lines.next())
        .await
        .expect("a reply in time")
        .expect("a reply line");
    serde_json::from_str(&reply).unwrap_or_else(|e| panic!("{reply}: {e}"))
}

fn is_ack(r: &Reply) -> bool {
    matches!(r, Reply::Ack(_))
}

fn is_address_refusal(r: &Reply) -> bool {
    matches!(r, Reply::Error(e) if e.code == "rate_limited" && e.error.contains("address"))
}

/// Reads `/metrics` from 127.0.0.3 (an address the sessions do not use:
/// the limits count TCP and WebTransport together) over one kept-alive
/// connection, so the reads never meet a limit themselves.
struct Metrics {
    http: reqwest::Client,
    url: String,
}

impl Metrics {
    fn of(srv: &TestServer) -> Metrics {
        let http = reqwest::Client::builder()
            .local_address("127.0.0.3".parse::<std::net::IpAddr>().ok())
            .pool_max_idle_per_host(1)
            .build()
            .expect("client");
        let url = format!("{}{}", srv.url, protocol::paths::METRICS);
        Metrics { http, url }
    }

    async fn get(&self, name: &str) -> i64 {
        let r = self.http.get(&self.url).send().await.expect("metrics");
        let text = r.text().await.expect("text");
        testkit::metric(&text, name).unwrap_or_else(|| panic!("{name} in /metrics:\n{text}"))
    }

    /// `rtbench_server_rate_limited_total{key="address"}`.
    async fn address_refusals(&self) -> i64 {
        self.get("rtbench_server_rate_limited_total{key=\"address\"}")
            .await
    }

    /// Waits until the server holds `n` open connections besides this
    /// reader's (a closed session's places are given back when its task ends).
    async fn until_open(&self, n: i64) {
        let deadline = tokio::time::Instant::now() + SOON;
        loop {
            let open = self.get("rtbench_server_open_connections").await - 1;
            if open == n {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{open} open connections, not {n}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}

#[tokio::test]
async fn open_sessions_per_address_are_limited() {
    let srv = TestServer::with(server::Config {
        max_connections_per_ip: Some(2),
        ..server::Config::default()
    })
    .await;
    let m = Metrics::of(&srv);
    let first = accepted(&srv, "127.0.0.1", None).await;
    let _second = accepted(&srv, "127.0.0.1", None).await;
    rejected(&srv, "127.0.0.1", None).await;
    let _other = accepted(&srv, "127.0.0.2", None).await;
    assert_eq!(
        m.get("rtbench_server_rejected_connections_per_ip_total")
            .await,
        1
    );
    // A closed session gives its place back.
    first.close(0u32.into(), b"done");
    m.until_open(2).await;
    let _third = accepted(&srv, "127.0.0.1", None).await;
    rejected(&srv, "127.0.0.1", None).await;
    assert_eq!(
        m.get("rtbench_server_rejected_connections_per_ip_total")
            .await,
        2
    );
}

#[tokio::test]
async fn new_sessions_per_address_are_limited() {
    let srv = TestServer::with(server::Config {
        max_new_connections_per_ip: per_minute(2),
        ..server::Config::default()
    })
    .await;
    let m = Metrics::of(&srv);
    for _ in 0..2 {
        let s = accepted(&srv, "127.0.0.1", None).await;
        s.close(0u32.into(), b"done");
    }
    // Closing them gave no budget back: the third within the minute is refused.
    rejected(&srv, "127.0.0.1", None).await;
    let _other = accepted(&srv, "127.0.0.2", None).await;
    assert_eq!(
        m.get("rtbench_server_rejected_new_connections_per_ip_total")
            .await,
        1
    );
}

#[tokio::test]
async fn a_trusted_proxys_forwarded_address_is_what_is_limited() {
    let srv = TestServer::with(server::Config {
        max_connections_per_ip: Some(1),
        trusted_proxies: vec![parse_cidr("127.0.0.2").expect("cidr")],
        ..server::Config::default()
    })
    .await;
    let m = Metrics::of(&srv);
    let client = Some("203.0.113.7");
    let _held = accepted(&srv, "127.0.0.2", client).await;
    rejected(&srv, "127.0.0.2", client).await;
    // Another client behind the same proxy, and the proxy itself (it
    // carries many clients), are not limited by that one.
    let _other = accepted(&srv, "127.0.0.2", Some("203.0.113.8")).await;
    let _proxy = accepted(&srv, "127.0.0.2", None).await;
    let _proxy_again = accepted(&srv, "127.0.0.2", None).await;
    // From an untrusted peer the header is ignored: 127.0.0.1 is the key.
    let _direct = accepted(&srv, "127.0.0.1", Some("203.0.113.9")).await;
    rejected(&srv, "127.0.0.1", Some("203.0.113.10")).await;
    assert_eq!(
        m.get("rtbench_server_rejected_connections_per_ip_total")
            .await,
        2
    );
}

#[tokio::test]
async fn publishes_from_one_address_share_its_budget_across_sessions() {
    let srv = TestServer::with(server::Config {
        publish_rate_limit_per_ip: per_minute(2),
        trusted_proxies: vec![parse_cidr("127.0.0.2").expect("cidr")],
        ..server::Config::default()
    })
    .await;
    let m = Metrics::of(&srv);
    let client = Some("203.0.113.7");
    let a = accepted(&srv, "127.0.0.2", client).await;
    let b = accepted(&srv, "127.0.0.2", client).await;
    assert!(is_ack(&publish(&a, "one").await));
    assert!(is_ack(&publish(&b, "two").await));
    let r = publish(&a, "three").await;
    assert!(is_address_refusal(&r), "{r:?}");
    let r = publish(&b, "four").await;
    assert!(is_address_refusal(&r), "{r:?}");
    assert_eq!(m.address_refusals().await, 2);
    // Nothing was charged to the proxy's own address, nor to another client.
    let proxy = accepted(&srv, "127.0.0.2", None).await;
    let other = accepted(&srv, "127.0.0.2", Some("203.0.113.8")).await;
    for conn in [&proxy, &other] {
        assert!(is_ack(&publish(conn, "mine").await));
    }
    // Untrusted: the UDP source is the key whatever the header says.
    let c = accepted(&srv, "127.0.0.1", Some("198.51.100.1")).await;
    let d = accepted(&srv, "127.0.0.1", Some("198.51.100.2")).await;
    assert!(is_ack(&publish(&c, "five").await));
    assert!(is_ack(&publish(&d, "six").await));
    let r = publish(&c, "seven").await;
    assert!(is_address_refusal(&r), "{r:?}");
    assert_eq!(m.address_refusals().await, 3);
}
