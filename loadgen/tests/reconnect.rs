//! Dropped connections: a proxy cuts every open connection once in the
//! middle of the window; every client must reconnect, resume from its cursor
//! (`since` / `Last-Event-ID`) and lose nothing, receive nothing twice.

use protocol::Transport;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use testkit::TestServer;
use testkit::load::{check_result_file, run_bounded, small_config};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// A pass-through proxy; cancelling the current token drops every
/// connection open at that moment (new ones get a fresh token).
async fn cutting_proxy(upstream: SocketAddr) -> (SocketAddr, Arc<Mutex<CancellationToken>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let cut = Arc::new(Mutex::new(CancellationToken::new()));
    let current = cut.clone();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let token = current.lock().expect("lock").clone();
            tokio::spawn(async move {
                let Ok(mut server) = TcpStream::connect(upstream).await else {
                    return;
                };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                tokio::select! {
                    _ = token.cancelled() => {}
                    _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                }
            });
        }
    });
    (addr, cut)
}

testkit::per_transport!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    clients_resume_after_a_cut
);
async fn clients_resume_after_a_cut(transport: Transport) {
    let mut server = TestServer::start().await;
    let (proxy, cut) = cutting_proxy(server.addr).await;
    let mut cfg = small_config(&format!("http://{proxy}"), transport);
    cfg.clients = 30;
    cfg.duration = Duration::from_secs(4);
    cfg.drain = Duration::from_secs(5);
    tokio::spawn(async move {
        // Ramp-up is ~0.1 s and warm-up 0.5 s: this lands mid-window.
        tokio::time::sleep(Duration::from_millis(2500)).await;
        let old = std::mem::replace(&mut *cut.lock().expect("lock"), CancellationToken::new());
        old.cancel();
    });
    let results = run_bounded(cfg, Duration::from_secs(40)).await;
    let c = &results.file.transports[0].counts;
    if transport.is_webtransport() {
        // Sessions go over UDP straight to the server's WebTransport
        // address (from its /api/webtransport): cutting TCP must cost them
        // nothing. A silent UDP path is tests/webtransport.rs's.
        assert_eq!((c.reconnects, c.lost), (0, 0), "{c:?}");
    } else {
        assert!(c.reconnects >= 30, "every client reconnected: {c:?}");
    }
    assert_eq!(c.lost, 0, "{c:?} {:?}", results.file.warnings);
    assert_eq!(c.duplicate, 0, "{c:?}");
    assert_eq!(c.reordered, 0, "{c:?}");
    assert!(c.delivered >= c.expected);
    assert!(!results.partial);
    check_result_file(&results.file);
    server.shutdown().await;
}

testkit::per_push_transport!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    lagged_subscribers_resume
);
/// A server with a tiny per-subscriber queue drops subscribers that fall
/// behind a burst (SSE `event: lagged`, WebSocket close 4000); they resume
/// from their cursor and lose nothing.
async fn lagged_subscribers_resume(transport: Transport) {
    let _machine = testkit::load::cpu_heavy_lock();
    // A deep history, so that even a client that fell far behind under CI
    // load resumes inside it (a resume past history is real loss: a gap).
    let mut server = TestServer::with(server::Config {
        subscriber_queue: 2,
        history: 100_000,
        ..server::Config::default()
    })
    .await;
    let mut cfg = small_config(&server.url, transport);
    cfg.clients = 20;
    // 2,000 msg/s overflows a 2-message queue however fast the machine is
    // (at 500 msg/s some runs never lag). A publisher gives up one second
    // after the window: a short window with a short warm-up gives it the
    // most slack, and 20 of them have 10 ms each between publishes.
    cfg.publishers = 20;
    cfg.rate_per_sec = 2000.0;
    cfg.warmup = Duration::from_millis(100);
    cfg.duration = Duration::from_secs(1);
    cfg.drain = Duration::from_secs(15); // ends as soon as everything arrived
    let results = run_bounded(cfg, Duration::from_secs(40)).await;
    let c = &results.file.transports[0].counts;
    eprintln!("{transport}: {c:?} {:?}", results.file.warnings);
    assert!(
        c.published > 0,
        "the publishers fell a whole window behind (the machine was starved): {c:?}"
    );
    assert_eq!(
        (c.lost, c.duplicate, c.reordered, c.gaps),
        (0, 0, 0, 0),
        "{c:?}"
    );
    assert_eq!(c.delivered, c.expected);
    assert!(
        c.lagged > 0,
        "a 2-message queue under 2,000 msg/s lags: {c:?}"
    );
    assert_eq!(c.reconnects, c.lagged, "every lag is one resume: {c:?}");
    server.shutdown().await;
}
