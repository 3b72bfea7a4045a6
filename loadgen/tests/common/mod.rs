//! Shared helpers for the load generator's integration tests: the real
//! server on `127.0.0.1:0`, small configs, and result-file checks.
#![allow(dead_code)]

use loadgen::results::ResultFile;
use loadgen::{Config, RunResults};
use protocol::Transport;
use std::net::SocketAddr;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// A reference server running in this process.
pub struct TestServer {
    pub addr: SocketAddr,
    pub token: CancellationToken,
    pub handle: tokio::task::JoinHandle<()>,
}

impl TestServer {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stop the server and wait until it has let go of the port.
    pub async fn kill(self) {
        self.token.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(10), self.handle).await;
    }
}

pub async fn start_server() -> TestServer {
    start_server_with(server::Config::default()).await
}

pub async fn start_server_with(config: server::Config) -> TestServer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let token = CancellationToken::new();
    let t = token.clone();
    let handle = tokio::spawn(async move {
        if let Err(e) = server::run(listener, config, t).await {
            eprintln!("server stopped: {e}");
        }
    });
    TestServer {
        addr,
        token,
        handle,
    }
}

/// 50 clients, 2 publishers, 20 msg/s, 3 s window: the small scale.
pub fn small_config(url: &str, transport: Transport) -> Config {
    let mut c = Config::new(url, transport).expect("config");
    c.clients = 50;
    c.rooms = 1;
    c.publishers = 2;
    c.rate_per_sec = 20.0;
    c.size_bytes = 100;
    c.duration = Duration::from_secs(3);
    c.warmup = Duration::from_millis(500);
    c.drain = Duration::from_secs(3);
    c.poll_interval = Duration::from_millis(500);
    c.long_poll_wait = Duration::from_secs(5);
    c.seed = 7;
    c
}

/// Run with a hard bound so a hung run fails instead of hanging CI.
pub async fn run_bounded(config: Config, limit: Duration) -> RunResults {
    tokio::time::timeout(limit, loadgen::run(config, CancellationToken::new()))
        .await
        .expect("run finished in time")
        .expect("run succeeded")
}

/// Validate a result file against the committed JSON Schema and check that
/// its histograms deserialize and merge.
pub fn check_result_file(file: &ResultFile) {
    let schema_text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../protocol/results.schema.json"
    ))
    .expect("schema file");
    let schema: serde_json::Value = serde_json::from_str(&schema_text).expect("schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let instance = serde_json::to_value(file).expect("serializes");
    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "result file does not match the schema:\n{}",
        errors.join("\n")
    );
    // Round trip through the Rust types too.
    let back: ResultFile = serde_json::from_value(instance).expect("deserializes");
    assert_eq!(&back, file);
    for t in &file.transports {
        let mut merged =
            loadgen::decode_histogram(&t.latency_histogram).expect("latency histogram");
        assert_eq!(merged.len(), t.latency.count);
        for h in [&t.publish_latency_histogram, &t.connect_time_histogram] {
            let other = loadgen::decode_histogram(h).expect("histogram");
            merged.add(&other).expect("histograms merge");
        }
        assert_eq!(
            merged.len(),
            t.latency.count + t.publish_latency.count + t.connect_time.count
        );
    }
}
