//! Every transport against the real server on loopback, small scale: no
//! loss, no duplicates, every subscriber gets every message; the result file
//! validates against the schema; wire bytes agree with the server's own
//! counters within 1%.

use protocol::Transport;
use std::time::Duration;
use testkit::TestServer;
use testkit::load::{check_result_file, run_bounded, small_config};

fn within_1pct(ours: u64, theirs: u64, what: &str) {
    let diff = ours.abs_diff(theirs) as f64;
    assert!(
        diff <= theirs as f64 * 0.01,
        "{what}: loadgen counted {ours} bytes, server {theirs} (diff {diff})"
    );
}

testkit::per_transport!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    delivers_everything_exactly_once
);
async fn delivers_everything_exactly_once(transport: Transport) {
    let mut server = TestServer::start().await;
    let cfg = small_config(&server.url, transport);
    let results = run_bounded(cfg, Duration::from_secs(30)).await;
    let file = &results.file;
    assert!(!results.partial, "{:?}", results.problems);
    let t = &file.transports[0];
    let c = &t.counts;
    assert_eq!(t.transport, transport);
    assert!(c.published > 0);
    assert_eq!(c.publish_errors, 0);
    // One room: every subscriber must see every acknowledged publish.
    assert_eq!(c.expected, c.published * 50);
    assert_eq!(c.delivered, c.expected, "{c:?}");
    assert_eq!(
        (c.lost, c.duplicate, c.reordered, c.unexpected),
        (0, 0, 0, 0),
        "{c:?}"
    );
    assert_eq!(
        c.errors.values().sum::<u64>(),
        0,
        "{:?} {:?}",
        c.errors,
        file.warnings
    );
    assert_eq!(t.latency.count, c.delivered);
    assert!(t.latency.p50_us > 0);
    assert_eq!(t.publish_latency.count, c.published);
    assert!(t.connect_time.count >= 50);
    assert!(t.rates.deliveries_per_sec > 0.0);
    assert!(t.wire_bytes.subscribe_down_bytes > t.wire_bytes.payload_bytes);
    assert!(t.wire_bytes.overhead_ratio > 1.0);
    assert!(!t.series.is_empty());
    assert!(results.is_clean(), "{:?}", results.problems);
    let server_cost = t.server.as_ref().expect("server cost from /api/stats");
    assert_eq!(server_cost.connections, 50, "{server_cost:?}");
    if transport.is_push() {
        assert_eq!(c.requests, 0, "streams opened before the window");
    } else {
        assert!(c.requests > 0);
    }
    check_result_file(file);

    // Wire bytes at the socket agree with the server's counters (whole run,
    // all connections closed by now; give the server a moment to see the closes).
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stats = server.stats().await;
    let sub = &stats.labels[transport.as_str()];
    let publ = &stats.labels["publish"];
    let w = &t.wire_bytes_total;
    within_1pct(
        w.subscribe_down_bytes,
        sub.wire_bytes_out_total,
        "subscribe down",
    );
    // quinn counts the datagram that opens a connection (the client's
    // first Initial, padded to 1,200 bytes) outside the server
    // connection's statistics: the server's count lacks it per session.
    let first_datagrams = if transport.is_webtransport() {
        1200 * t.connect_time.count
    } else {
        0
    };
    within_1pct(
        w.subscribe_up_bytes,
        sub.wire_bytes_in_total + first_datagrams,
        "subscribe up",
    );
    within_1pct(w.publish_up_bytes, publ.wire_bytes_in_total, "publish up");
    within_1pct(
        w.publish_down_bytes,
        publ.wire_bytes_out_total,
        "publish down",
    );
    server.shutdown().await;
}

/// Several rooms, Poisson arrivals, several source addresses: deliveries = published in the room × its subscribers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_and_poisson_publishers() {
    let mut server = TestServer::start().await;
    let mut cfg = small_config(&server.url, Transport::Ws);
    cfg.clients = 60;
    cfg.rooms = 3;
    cfg.publishers = 4;
    cfg.rate_per_sec = 40.0;
    cfg.arrival = protocol::results::Arrival::Poisson;
    cfg.source_ips = loadgen::parse::source_ips("127.0.0.1-127.0.0.3").expect("ips");
    let results = run_bounded(cfg, Duration::from_secs(30)).await;
    let c = &results.file.transports[0].counts;
    assert!(c.published > 0);
    assert_eq!(c.expected, c.published * 20, "20 subscribers per room");
    assert_eq!(
        (c.delivered, c.lost, c.duplicate),
        (c.expected, 0, 0),
        "{c:?}"
    );
    check_result_file(&results.file);
    server.shutdown().await;
}

/// Publishing over WebSocket frames instead of POST.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_via_ws() {
    let mut server = TestServer::start().await;
    let mut cfg = small_config(&server.url, Transport::Sse);
    cfg.publish_via = protocol::results::PublishVia::Ws;
    let results = run_bounded(cfg, Duration::from_secs(30)).await;
    let t = &results.file.transports[0];
    let c = &t.counts;
    assert!(c.published > 0);
    assert_eq!((c.delivered, c.lost), (c.published * 50, 0), "{c:?}");
    assert_eq!(
        t.publish_latency.count, c.published,
        "rtbench's server echoes a publisher's frame back: the echo is its acknowledgement"
    );
    assert!(t.wire_bytes.publish_up_bytes > 0);
    server.shutdown().await;
}

testkit::per_transport!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    tokens_minted_per_client
);
/// A server that wants tokens: per-client tokens minted with its secret
/// (`--token-secret`) pass on every transport, HTTP and WebSocket publishing.
async fn tokens_minted_per_client(transport: Transport) {
    use protocol::results::PublishVia;
    // WebSocket clients publish over their own kind of connection too, and
    // so do Socket.IO clients that upgrade (an event with an ack; its
    // handshake carries the publisher's token). Polling-only Socket.IO
    // keeps HTTP publishing, the default.
    let via = match transport {
        Transport::ShortPoll
        | Transport::LongPoll
        | Transport::Sse
        | Transport::SocketIoPolling
        | Transport::WebTransport
        | Transport::WebTransportDatagram => PublishVia::Http,
        Transport::Ws => PublishVia::Ws,
        Transport::SocketIo => PublishVia::SocketIo,
    };
    let mut server = TestServer::with(server::Config {
        auth_secret: Some("s3cret".into()),
        ..server::Config::default()
    })
    .await;
    let mut cfg = small_config(&server.url, transport);
    cfg.clients = 10;
    cfg.duration = Duration::from_secs(1);
    cfg.poll_interval = Duration::from_millis(200);
    cfg.publish_via = via;
    cfg.token = Some(loadgen::TokenSource::Secret("s3cret".into()));
    let results = run_bounded(cfg.clone(), Duration::from_secs(30)).await;
    let c = &results.file.transports[0].counts;
    assert!(c.published > 0);
    assert_eq!((c.delivered, c.lost), (c.expected, 0), "{c:?}");
    assert_eq!(
        c.errors.values().sum::<u64>(),
        0,
        "{:?}",
        results.file.warnings
    );
    // The wrong secret: every request is refused, and the run says so.
    cfg.token = Some(loadgen::TokenSource::Secret("wrong".into()));
    cfg.duration = Duration::from_millis(500);
    let results = run_bounded(cfg, Duration::from_secs(30)).await;
    let c = &results.file.transports[0].counts;
    assert_eq!(c.published, 0, "{c:?}");
    assert!(
        results
            .file
            .warnings
            .iter()
            .any(|w| w.contains("signature")),
        "{:?}",
        results.file.warnings
    );
    server.shutdown().await;
}
