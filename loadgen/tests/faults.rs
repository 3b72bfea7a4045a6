//! Bad input and faults: an unreachable target fails fast with a distinct
//! error; a server killed mid-run leaves a run that ends on schedule with
//! errors counted and partial (valid) results.

use protocol::Transport;
use std::time::{Duration, Instant};
use testkit::TestServer;
use testkit::load::{Background, check_result_file, small_config};
use tokio_util::sync::CancellationToken;

#[tokio::test]
async fn unreachable_target_is_a_clear_error_within_5s() {
    let addr = format!("127.0.0.1:{}", testkit::free_port());
    let cfg = small_config(&format!("http://{addr}"), Transport::Ws);
    let started = Instant::now();
    let err = loadgen::run(cfg, CancellationToken::new())
        .await
        .expect_err("nothing listens there");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(err.kind(), "unreachable");
    assert!(matches!(err, loadgen::Error::Unreachable { .. }));
    assert!(err.is_usage());
    assert!(err.to_string().contains(&addr), "{err}");
}

#[tokio::test]
async fn more_clients_than_descriptors_is_refused_up_front() {
    // Nothing listens here: the limit check must come before any connection.
    let mut cfg = small_config("http://127.0.0.1:9", Transport::Ws);
    cfg.clients = 1_000_000;
    cfg.source_ips = loadgen::parse::source_ips("127.0.0.1-127.0.0.40").expect("ips");
    let err = loadgen::run(cfg, CancellationToken::new())
        .await
        .expect_err("too many");
    assert_eq!(err.kind(), "limits", "{err}");
}

testkit::per_transport!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    server_killed_mid_run
);
async fn server_killed_mid_run(transport: Transport) {
    let mut server = TestServer::start().await;
    let mut cfg = small_config(&server.url, transport);
    cfg.clients = 20;
    cfg.duration = Duration::from_secs(4);
    cfg.warmup = Duration::from_millis(500);
    cfg.drain = Duration::from_secs(2);
    let planned = cfg.warmup + cfg.duration + cfg.drain;
    let started = Instant::now();
    let run = Background::start(cfg);
    tokio::time::sleep(Duration::from_secs(2)).await;
    server.shutdown().await;
    let results = run.finish(Duration::from_secs(30)).await;
    // On schedule: the plan plus bounded shutdown, not hanging on the dead server.
    assert!(
        started.elapsed() < planned + Duration::from_secs(8),
        "took {:?}",
        started.elapsed()
    );
    assert!(results.partial, "{:?}", results.problems);
    assert!(results.file.partial);
    let c = &results.file.transports[0].counts;
    let errors: u64 = c.errors.values().sum();
    assert!(errors > 0, "{c:?}");
    assert!(
        c.errors["connect_refused"] > 0,
        "clients retried: {:?}",
        c.errors
    );
    assert!(
        c.publish_errors > 0,
        "publishes after the kill failed: {c:?}"
    );
    check_result_file(&results.file);
    // Partial results are written like any other.
    let path = std::env::temp_dir().join(format!(
        "rtbench-partial-{}-{transport}.json",
        std::process::id()
    ));
    loadgen::write_results(&path, &results.file).expect("write");
    let back: loadgen::results::ResultFile =
        serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("parse");
    assert!(back.partial);
    let _ = std::fs::remove_file(&path);
}

#[tokio::test]
async fn cancel_ends_the_run_early_with_partial_results() {
    let mut server = TestServer::start().await;
    let mut cfg = small_config(&server.url, Transport::Sse);
    cfg.duration = Duration::from_secs(60);
    let cancel = CancellationToken::new();
    let c = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(2)).await;
        c.cancel();
    });
    let started = Instant::now();
    let results = loadgen::run(cfg, cancel).await.expect("results");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(results.cancelled && results.partial);
    check_result_file(&results.file);
    server.shutdown().await;
}
