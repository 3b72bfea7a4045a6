//! WebTransport against the real reference server: both modes deliver,
//! the load generator's UDP byte counts agree with the server's, a lossy
//! path (an in-test UDP proxy on loopback) costs stream mode nothing and
//! datagram mode only drops by design, catch-up recovers them, and a path
//! that goes silent longer than the idle timeout is survived by resuming.

use protocol::Transport;
use protocol::results::{Counts, PublishVia};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;
use testkit::load::{Background, check_result_file, run_bounded, small_config};
use tokio::net::{TcpListener, UdpSocket};
use tokio_util::sync::CancellationToken;

/// The reference server with WebTransport on its own UDP address, so a
/// proxy can take the TCP port's number for sessions.
struct Server {
    url: String,
    tcp_port: u16,
    wt: protocol::WebTransportInfo,
    http: reqwest::Client,
    stop: CancellationToken,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl Server {
    /// `proxied`: WebTransport on another port than TCP's (the proxy's).
    async fn start(proxied: bool) -> Server {
        let config = server::Config {
            // Keep-alives every second, idle timeout 2 s: the fault test's
            // silence is noticed quickly.
            heartbeat: Duration::from_secs(1),
            webtransport_addr: proxied.then(|| "127.0.0.1:0".parse().expect("addr")),
            ..server::Config::default()
        };
        let stop = CancellationToken::new();
        let listeners = if proxied {
            let tcp = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            server::Listeners::tcp_only(tcp)
        } else {
            server::bind("127.0.0.1:0".parse().expect("addr"))
                .await
                .expect("bind tcp+udp")
        };
        let started = server::start(listeners, config, stop.clone())
            .await
            .expect("server starts");
        let addr = started.local_addr().expect("addr");
        let wt = started.webtransport().cloned().expect("WebTransport is on");
        tokio::spawn(started.serve());
        Server {
            url: format!("http://{addr}"),
            tcp_port: addr.port(),
            wt,
            http: reqwest::Client::new(),
            stop,
        }
    }

    fn wt_addr(&self) -> SocketAddr {
        let hostport = self.wt.url.trim_start_matches("https://");
        hostport
            .parse()
            .expect("WebTransport URL is https://IP:PORT")
    }

    async fn metrics(&self) -> String {
        self.http
            .get(format!("{}{}", self.url, protocol::paths::METRICS))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("metrics text")
    }

    /// Waits (bounded) until no WebTransport session is open.
    async fn sessions_gone(&self, limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let text = self.metrics().await;
            let open = testkit::metric(&text, "rtbench_server_webtransport_sessions");
            if open == Some(0) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "sessions still open after {limit:?}: {open:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// A labelled series of Prometheus `text`.
fn series(text: &str, name_and_labels: &str) -> u64 {
    text.lines()
        .find_map(|l| {
            l.strip_prefix(name_and_labels)?
                .strip_prefix(' ')?
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("{name_and_labels} in /metrics:\n{text}"))
}

/// The size of a client's first datagram (its padded Initial).
const FIRST_INITIAL: u64 = 1200;

/// 20 clients, one room, 20 msg/s for 3 s: small enough for a busy box.
fn config(url: &str, t: Transport) -> loadgen::Config {
    let mut cfg = small_config(url, t);
    cfg.clients = 20;
    cfg.stream_timeout = Duration::from_secs(2);
    cfg
}

fn counts(r: &loadgen::RunResults) -> Counts {
    check_result_file(&r.file);
    r.file.transports[0].counts.clone()
}

/// What the proxy does to packets.
#[derive(Default)]
struct Faults {
    /// Drop every Nth server→client packet (0: none).
    drop_every: AtomicU64,
    /// Drop everything, both ways.
    blackhole: AtomicBool,
    down_packets: AtomicU64,
    dropped: AtomicU64,
}

/// A UDP proxy on 127.0.0.1:`port` to `server`: one upstream socket per
/// client address, faults applied as `faults` says.
async fn proxy(port: u16, server: SocketAddr, faults: Arc<Faults>) -> tokio::task::JoinHandle<()> {
    let front = Arc::new(
        UdpSocket::bind(("127.0.0.1", port))
            .await
            .expect("the TCP port's number is free on UDP"),
    );
    tokio::spawn(async move {
        let mut upstreams: HashMap<SocketAddr, Arc<UdpSocket>> = HashMap::new();
        let mut buf = vec![0u8; 65536];
        loop {
            let Ok((n, from)) = front.recv_from(&mut buf).await else {
                return;
            };
            let up = match upstreams.get(&from) {
                Some(u) => u.clone(),
                None => {
                    let u = Arc::new(UdpSocket::bind("127.0.0.1:0").await.expect("bind"));
                    u.connect(server).await.expect("connect");
                    tokio::spawn(downstream(u.clone(), front.clone(), from, faults.clone()));
                    upstreams.insert(from, u.clone());
                    u
                }
            };
            if !faults.blackhole.load(Ordering::Relaxed) {
                let _ = up.send(&buf[..n]).await;
            }
        }
    })
}

/// Server → client packets of one client address.
async fn downstream(up: Arc<UdpSocket>, front: Arc<UdpSocket>, to: SocketAddr, f: Arc<Faults>) {
    let mut buf = vec![0u8; 65536];
    while let Ok(n) = up.recv(&mut buf).await {
        let k = f.down_packets.fetch_add(1, Ordering::Relaxed) + 1;
        let every = f.drop_every.load(Ordering::Relaxed);
        if f.blackhole.load(Ordering::Relaxed) || (every > 0 && k.is_multiple_of(every)) {
            f.dropped.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        let _ = front.send_to(&buf[..n], to).await;
    }
}

/// A server behind a proxy that drops every 10th packet to the clients,
/// and a config that reaches it through the proxy (pinning the hash).
async fn lossy(t: Transport) -> (Server, Arc<Faults>, loadgen::Config) {
    let s = Server::start(true).await;
    let faults = Arc::new(Faults::default());
    proxy(s.tcp_port, s.wt_addr(), faults.clone()).await;
    let mut cfg = config(&s.url, t);
    cfg.tls.cert_hash = Some(s.wt.cert_hash.clone());
    (s, faults, cfg)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_mode_delivers_everything_and_counts_udp_bytes_like_the_server() {
    let s = Server::start(false).await;
    let r = run_bounded(
        config(&s.url, Transport::WebTransport),
        Duration::from_secs(60),
    )
    .await;
    let c = counts(&r);
    assert!(c.published > 0, "{c:?}");
    assert_eq!(c.delivered, c.expected, "{c:?}");
    assert_eq!(
        (c.lost, c.dropped_by_design, c.duplicate),
        (0, 0, 0),
        "{c:?}"
    );
    assert_eq!(c.errors.values().sum::<u64>(), 0, "{:?}", r.problems);
    let t = &r.file.transports[0];
    assert!(t.connect_time.count >= 20, "{:?}", t.connect_time);
    // The server counts a session's bytes when it ends: compare once all
    // have. Both sides read QUIC's UDP payload counts of the same packets
    // (on loopback none is lost), with one difference: quinn counts the
    // datagram that opens a connection (the client's first Initial, padded
    // to 1,200 bytes, RFC 9000 §14.1) outside the server connection's
    // statistics, so the server's `in` lacks 1,200 bytes per session.
    s.sessions_gone(Duration::from_secs(10)).await;
    let m = s.metrics().await;
    let w = &t.wire_bytes_total;
    let server_in = series(
        &m,
        "rtbench_server_wire_bytes_total{transport=\"webtransport\",direction=\"in\"}",
    );
    let server_out = series(
        &m,
        "rtbench_server_wire_bytes_total{transport=\"webtransport\",direction=\"out\"}",
    );
    let sessions = t.connect_time.count;
    eprintln!(
        "UDP bytes over {sessions} sessions: load generator up {} down {}, server in {server_in} out {server_out}",
        w.subscribe_up_bytes, w.subscribe_down_bytes
    );
    let close = |a: u64, b: u64| a.abs_diff(b) * 100 <= b.max(1);
    let first_datagrams = FIRST_INITIAL * sessions;
    assert!(
        close(w.subscribe_up_bytes, server_in + first_datagrams),
        "up {} vs server in {server_in} + {first_datagrams}",
        w.subscribe_up_bytes
    );
    assert!(
        close(w.subscribe_down_bytes, server_out),
        "down {} vs server out {server_out}",
        w.subscribe_down_bytes
    );
    // The window's bytes are sampled as they move: they give a cost per
    // delivery as the TCP transports' do.
    let win = &t.wire_bytes;
    assert!(
        win.bytes_per_delivery > 0.0 && win.subscribe_down_bytes < w.subscribe_down_bytes,
        "{win:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn datagram_mode_delivers_on_a_clean_path() {
    let s = Server::start(false).await;
    let r = run_bounded(
        config(&s.url, Transport::WebTransportDatagram),
        Duration::from_secs(60),
    )
    .await;
    let c = counts(&r);
    assert!(c.published > 0, "{c:?}");
    assert_eq!(c.lost, 0, "{c:?}");
    assert_eq!(c.delivered + c.dropped_by_design, c.expected, "{c:?}");
    // Loopback with room to spare: datagrams arrive.
    assert!(c.delivered > 0, "{c:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishing_over_webtransport_is_acknowledged() {
    let s = Server::start(false).await;
    let mut cfg = config(&s.url, Transport::WebTransport);
    cfg.publish_via = PublishVia::WebTransport;
    let r = run_bounded(cfg, Duration::from_secs(60)).await;
    let c = counts(&r);
    assert!(
        c.published > 0 && c.publish_errors == 0,
        "{c:?} {:?}",
        r.problems
    );
    assert_eq!((c.delivered, c.lost), (c.expected, 0), "{c:?}");
    let t = &r.file.transports[0];
    assert!(t.publish_latency.count > 0, "{:?}", t.publish_latency);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lossy_path_costs_streams_nothing() {
    let (_s, faults, cfg) = lossy(Transport::WebTransport).await;
    faults.drop_every.store(10, Ordering::Relaxed);
    let r = run_bounded(cfg, Duration::from_secs(90)).await;
    let c = counts(&r);
    assert!(faults.dropped.load(Ordering::Relaxed) > 0);
    assert!(c.published > 0, "{c:?}");
    assert_eq!(
        (c.delivered, c.lost, c.dropped_by_design),
        (c.expected, 0, 0),
        "{c:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lossy_path_drops_datagrams_by_design_and_catch_up_recovers_them() {
    let (_s, faults, cfg) = lossy(Transport::WebTransportDatagram).await;
    faults.drop_every.store(10, Ordering::Relaxed);
    let r = run_bounded(cfg.clone(), Duration::from_secs(90)).await;
    let plain = counts(&r);
    eprintln!("datagrams, no catch-up: {plain:?}");
    assert!(plain.published > 0, "{plain:?}");
    assert_eq!(plain.lost, 0, "{plain:?}");
    assert!(plain.dropped_by_design > 0, "{plain:?}");
    assert_eq!(
        plain.delivered + plain.dropped_by_design,
        plain.expected,
        "{plain:?}"
    );
    assert_eq!(plain.recovered, 0, "{plain:?}");

    let mut cfg = cfg;
    cfg.datagram_catch_up = true;
    let r = run_bounded(cfg, Duration::from_secs(90)).await;
    let c = counts(&r);
    eprintln!("datagrams, catch-up: {c:?}");
    assert_eq!(c.lost, 0, "{c:?}");
    assert_eq!(c.delivered + c.dropped_by_design, c.expected, "{c:?}");
    assert!(c.recovered > 0, "{c:?}");
    // Only a client's trailing drops (no later id shows the hole) stay
    // dropped: far fewer than the holes that were fetched.
    assert!(c.dropped_by_design < c.recovered, "{c:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_path_is_survived_by_resuming_with_the_cursor() {
    let (s, faults, mut cfg) = lossy(Transport::WebTransport).await;
    cfg.duration = Duration::from_secs(10);
    let clients = cfg.clients;
    let run = Background::start(cfg);
    // Once every client has a session, go silent both ways until the
    // server's idle timeout has closed them all, then come back.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let open = testkit::metric(&s.metrics().await, "rtbench_server_webtransport_sessions");
        if open >= Some(clients as i64) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "sessions: {open:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    faults.blackhole.store(true, Ordering::Relaxed);
    s.sessions_gone(Duration::from_secs(20)).await;
    faults.blackhole.store(false, Ordering::Relaxed);
    let r = run.finish(Duration::from_secs(90)).await;
    let c = counts(&r);
    eprintln!("after a silent path: {c:?}");
    assert!(c.published > 0, "{c:?}");
    assert!(c.reconnects >= clients, "every client resumed: {c:?}");
    assert_eq!((c.delivered, c.lost), (c.expected, 0), "{c:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_pin_says_what_to_pass() {
    let s = Server::start(false).await;
    let mut cfg = config(&s.url, Transport::WebTransport);
    cfg.clients = 2;
    cfg.duration = Duration::from_secs(1);
    cfg.tls.cert_hash = Some("00".repeat(32));
    let r = run_bounded(cfg, Duration::from_secs(60)).await;
    let said = r.problems.join("\n") + &format!("{:?}", r.file.warnings);
    assert!(said.contains("certificate hash mismatch"), "{said}");
    assert_eq!(r.file.transports[0].counts.delivered, 0);
}
