//! The numbers agree with physics. Theory: short polling with interval T has
//! mean latency T/2 + RTT and a request rate of clients/T. Truth: a proxy
//! that holds every server→client chunk (or datagram) for 20 ms raises the
//! push transports' median latency by 20 ms.

use protocol::Transport;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::Duration;
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

/// Forward connections to `upstream`, holding each server→client chunk for
/// `delay`. Plain threads and `std::thread::sleep` (nanosleep, ~0.1 ms
/// slack) instead of tokio timers, whose millisecond wheel would add up to
/// 1–2 ms of its own to the delay under test.
fn delay_proxy(upstream: SocketAddr, delay: Duration) -> SocketAddr {
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
            let (tx, rx) = std::sync::mpsc::channel::<(std::time::Instant, Vec<u8>)>();
            let mut s_read = server;
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 64 * 1024];
                while let Ok(n) = s_read.read(&mut buf) {
                    if n == 0
                        || tx
                            .send((std::time::Instant::now() + delay, buf[..n].to_vec()))
                            .is_err()
                    {
                        break;
                    }
                }
            });
            let mut c_write = client;
            std::thread::spawn(move || {
                while let Ok((due, chunk)) = rx.recv() {
                    std::thread::sleep(due.saturating_duration_since(std::time::Instant::now()));
                    if c_write.write_all(&chunk).is_err() {
                        break;
                    }
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
fn udp_delay_proxy(port: u16, upstream: SocketAddr, delay: Duration) {
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
                    let (tx, rx) = std::sync::mpsc::channel::<(std::time::Instant, Vec<u8>)>();
                    std::thread::spawn(move || {
                        let mut buf = vec![0u8; 65536];
                        while let Ok(n) = up_read.recv(&mut buf) {
                            let due = std::time::Instant::now() + delay;
                            if tx.send((due, buf[..n].to_vec())).is_err() {
                                break;
                            }
                        }
                    });
                    std::thread::spawn(move || {
                        while let Ok((due, d)) = rx.recv() {
                            std::thread::sleep(
                                due.saturating_duration_since(std::time::Instant::now()),
                            );
                            let _ = back.send_to(&d, from);
                        }
                    });
                    v.insert(up)
                }
            };
            let _ = up.send(&buf[..n]);
        }
    });
}

async fn median_latency_us(url: &str, transport: Transport, cert_hash: Option<String>) -> u64 {
    let mut cfg = small_config(url, transport);
    cfg.tls.cert_hash = cert_hash;
    cfg.duration = Duration::from_secs(3);
    let results = run_bounded(cfg, Duration::from_secs(30)).await;
    let t = &results.file.transports[0];
    assert_eq!(t.counts.lost, 0, "{:?}", t.counts);
    assert!(t.latency.count > 0);
    t.latency.p50_us
}

testkit::per_push_transport!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    latency_tells_the_truth
);
async fn latency_tells_the_truth(transport: Transport) {
    let mut server = TestServer::start().await;
    let proxy = delay_proxy(server.addr, Duration::from_millis(20));
    // WebTransport goes over UDP: through a UDP proxy on the same port
    // number, the certificate pinned (its /api/webtransport would name the
    // server's own address).
    let cert_hash = if transport.is_webtransport() {
        udp_delay_proxy(proxy.port(), server.addr, Duration::from_millis(20));
        let info: protocol::WebTransportInfo = server
            .get(protocol::paths::WEBTRANSPORT_INFO)
            .await
            .json()
            .await
            .expect("webtransport info");
        Some(info.cert_hash)
    } else {
        None
    };
    // Both runs at once against one server (each run has its own rooms), so
    // whatever else loads the machine weighs on both alike.
    let (direct_url, proxy_url) = (server.url.clone(), format!("http://{proxy}"));
    let (direct, delayed) = tokio::join!(
        median_latency_us(&direct_url, transport, None),
        median_latency_us(&proxy_url, transport, cert_hash)
    );
    let rise = delayed as f64 - direct as f64;
    eprintln!("{transport}: median {direct}us direct, {delayed}us via 20 ms proxy, rise {rise}us");
    assert!(
        (rise - 20_000.0).abs() <= 3_000.0,
        "{transport}: median {direct}us direct, {delayed}us through a 20 ms proxy (rise {rise}us)"
    );
    server.shutdown().await;
}
