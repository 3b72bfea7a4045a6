//! The numbers agree with physics. Theory: short polling with interval T has
//! mean latency T/2 + RTT and a request rate of clients/T. Truth: a proxy
//! that holds every server→client chunk (or datagram) for 20 ms raises the
//! push transports' latency by 20 ms over the same path through a proxy
//! that holds nothing.

use protocol::Transport;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use testkit::TestServer;
use testkit::load::{run_bounded, small_config};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_poll_matches_theory() {
    let mut server = TestServer::start().await;
    let mut cfg = small_config(&server.url, Transport::ShortPoll);
    cfg.clients = 100;
    cfg.poll_interval = Duration::from_secs(1);
    cfg.duration = Duration::from_secs(6);
    cfg.warmup = Duration::from_secs(1);
    let results = run_bounded(cfg, Duration::from_secs(30)).await;
    let t = &results.file.transports[0];
    // RTT: the median publish round trip on the same loopback.
    let rtt_us = t.publish_latency.p50_us as f64;
    let expected_us = 500_000.0 + rtt_us;
    let mean = t.latency.mean_us;
    assert!(
        (mean - expected_us).abs() <= 0.10 * expected_us,
        "mean latency {mean}us, theory {expected_us}us"
    );
    let rps = t.rates.requests_per_sec;
    eprintln!("short poll: mean {mean}us (theory {expected_us}us), {rps} requests/s (theory 100)");
    assert!((rps - 100.0).abs() <= 5.0, "requests/s {rps}, theory 100");
    assert_eq!(t.counts.lost, 0);
    server.shutdown().await;
}

/// How long a proxy really held what it forwarded, in microseconds.
#[derive(Clone, Default)]
struct Holds(Arc<Mutex<Vec<u64>>>);

impl Holds {
    fn record(&self, read_at: Instant) {
        let us = u64::try_from(read_at.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.0.lock().expect("holds").push(us);
    }

    fn min_us(&self) -> f64 {
        let v = self.0.lock().expect("holds");
        *v.iter().min().expect("the proxy forwarded nothing") as f64
    }
}

/// Forward connections to `upstream`, holding each server→client chunk for
/// `delay`. Plain threads and `std::thread::sleep` (nanosleep, ~0.1 ms
/// slack) instead of tokio timers, whose millisecond wheel would add up to
/// 1–2 ms of its own to the delay under test.
fn delay_proxy(upstream: SocketAddr, delay: Duration, holds: Holds) -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind proxy");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { break };
            let Ok(server) = std::net::TcpStream::connect(upstream) else {
                continue;
            };
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            let (Ok(mut c_read), Ok(mut s_write)) = (client.try_clone(), server.try_clone()) else {
                continue;
            };
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut c_read, &mut s_write);
                let _ = s_write.shutdown(std::net::Shutdown::Write);
            });
            let (tx, rx) = std::sync::mpsc::channel::<(Instant, Vec<u8>)>();
            let mut s_read = server;
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 64 * 1024];
                while let Ok(n) = s_read.read(&mut buf) {
                    if n == 0 || tx.send((Instant::now(), buf[..n].to_vec())).is_err() {
                        break;
                    }
                }
            });
            let mut c_write = client;
            let holds = holds.clone();
            std::thread::spawn(move || {
                while let Ok((read_at, chunk)) = rx.recv() {
                    std::thread::sleep((read_at + delay).saturating_duration_since(Instant::now()));
                    if c_write.write_all(&chunk).is_err() {
                        break;
                    }
                    holds.record(read_at);
                }
                let _ = c_write.shutdown(std::net::Shutdown::Both);
            });
        }
    });
    addr
}

/// The same for QUIC: a UDP proxy on 127.0.0.1:`port` (the TCP proxy's
/// port number, where WebTransport sessions to it go) to `upstream`,
/// holding each server→client datagram for `delay`.
fn udp_delay_proxy(port: u16, upstream: SocketAddr, delay: Duration, holds: Holds) {
    let front = std::net::UdpSocket::bind(("127.0.0.1", port)).expect("the proxy's port on UDP");
    std::thread::spawn(move || {
        let mut ups: std::collections::HashMap<SocketAddr, std::net::UdpSocket> =
            std::collections::HashMap::new();
        let mut buf = vec![0u8; 65536];
        while let Ok((n, from)) = front.recv_from(&mut buf) {
            let up = match ups.entry(from) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(v) => {
                    let up = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
                    up.connect(upstream).expect("connect");
                    let (Ok(up_read), Ok(back)) = (up.try_clone(), front.try_clone()) else {
                        continue;
                    };
                    let (tx, rx) = std::sync::mpsc::channel::<(Instant, Vec<u8>)>();
                    std::thread::spawn(move || {
                        let mut buf = vec![0u8; 65536];
                        while let Ok(n) = up_read.recv(&mut buf) {
                            if tx.send((Instant::now(), buf[..n].to_vec())).is_err() {
                                break;
                            }
                        }
                    });
                    let holds = holds.clone();
                    std::thread::spawn(move || {
                        while let Ok((read_at, d)) = rx.recv() {
                            std::thread::sleep(
                                (read_at + delay).saturating_duration_since(Instant::now()),
                            );
                            let _ = back.send_to(&d, from);
                            holds.record(read_at);
                        }
                    });
                    v.insert(up)
                }
            };
            let _ = up.send(&buf[..n]);
        }
    });
}

/// A proxy to `server` holding what comes back for `delay`: its base URL,
/// the certificate to pin for WebTransport (whose UDP goes through a proxy
/// on the same port number; /api/webtransport would name the server's own
/// address) and what it really held.
async fn proxied(
    server: &TestServer,
    transport: Transport,
    delay: Duration,
) -> (String, Option<String>, Holds) {
    let stream_holds = Holds::default();
    let proxy = delay_proxy(server.addr, delay, stream_holds.clone());
    let url = format!("http://{proxy}");
    if !transport.is_webtransport() {
        return (url, None, stream_holds);
    }
    let datagram_holds = Holds::default();
    udp_delay_proxy(proxy.port(), server.addr, delay, datagram_holds.clone());
    let info: protocol::WebTransportInfo = server
        .get(protocol::paths::WEBTRANSPORT_INFO)
        .await
        .json()
        .await
        .expect("webtransport info");
    (url, Some(info.cert_hash), datagram_holds)
}

/// The fastest delivery and the median, in microseconds.
async fn min_and_median_us(
    url: &str,
    transport: Transport,
    cert_hash: Option<String>,
) -> (u64, u64) {
    let mut cfg = small_config(url, transport);
    cfg.tls.cert_hash = cert_hash;
    cfg.duration = Duration::from_secs(3);
    let results = run_bounded(cfg, Duration::from_secs(30)).await;
    let t = &results.file.transports[0];
    assert_eq!(t.counts.lost, 0, "{:?}", t.counts);
    assert!(t.latency.count > 0);
    (t.latency.min_us, t.latency.p50_us)
}

testkit::per_push_transport!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    latency_tells_the_truth
);
async fn latency_tells_the_truth(transport: Transport) {
    let mut server = TestServer::start().await;
    // Both paths go through the same kind of proxy, one holding nothing: on
    // a busy machine the proxy's threads wake late on both alike, and what
    // remains between them is the hold.
    let (direct_url, direct_hash, direct_held) = proxied(&server, transport, Duration::ZERO).await;
    let (delayed_url, delayed_hash, delayed_held) =
        proxied(&server, transport, Duration::from_millis(20)).await;
    // Both runs at once against one server (each run has its own rooms), so
    // whatever else loads the machine weighs on both alike.
    let ((direct_min, direct_p50), (delayed_min, delayed_p50)) = tokio::join!(
        min_and_median_us(&direct_url, transport, direct_hash),
        min_and_median_us(&delayed_url, transport, delayed_hash)
    );
    // The floors, not the medians: on a busy machine the direct path's
    // deliveries land amid the publish bursts and the held ones 20 ms later
    // in quieter time, which moved the medians' difference by 4 ms. Noise
    // only ever adds latency, so the fastest of some 3,000 deliveries is the
    // path itself, and the floor rises by exactly what the proxy held.
    let rise = delayed_min as f64 - direct_min as f64;
    let added = delayed_held.min_us() - direct_held.min_us();
    eprintln!(
        "{transport}: fastest {direct_min}us via a 0 ms proxy, {delayed_min}us via a 20 ms one \
         (medians {direct_p50}us, {delayed_p50}us), rise {rise}us, holds differ by {added}us"
    );
    assert!(added >= 19_000.0, "the proxies' holds differ by {added}us");
    assert!(
        (rise - added).abs() <= 3_000.0,
        "{transport}: fastest delivery {direct_min}us via a 0 ms proxy, {delayed_min}us via a \
         20 ms one (rise {rise}us), while the proxies' shortest holds differ by {added}us"
    );
    server.shutdown().await;
}
