//! Runs over an emulated network: a netem link, rtbench's server on its
//! server side (in this process, bound inside the server namespace), and
//! configs whose sockets are created on its client side. Every test makes
//! its own link and talks only between 198.18.0.1 and 198.18.0.2 (or over
//! loopback for a reference run). Needs root or CAP_NET_ADMIN (CI runs as
//! root).
#![allow(dead_code)]

use loadgen::results::TransportResult;
use loadgen::{Config, RunResults};
use protocol::Transport;
use std::fs::File;
use std::net::SocketAddr;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// A link and the servers on its far side; the servers stop when dropped.
pub struct Net {
    pub link: netem::Link,
    servers: Vec<CancellationToken>,
}

impl Net {
    pub fn start(spec: &str) -> Net {
        let spec: netem::NetworkSpec = spec.parse().expect("spec");
        let link = netem::Link::start_seeded(&spec, 42)
            .expect("start the link (needs root or CAP_NET_ADMIN)");
        Net {
            link,
            servers: Vec::new(),
        }
    }

    /// rtbench's server on the link's server side; its base URL.
    pub fn server(&mut self, config: server::Config) -> String {
        let listener = self
            .link
            .server()
            .run(|| std::net::TcpListener::bind((netem::SERVER_ADDR, 0)))
            .expect("enter the server side")
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        self.servers.push(serve(listener, config));
        url
    }

    /// A config for `transport` against `url` across the link.
    pub fn config(&self, url: &str, transport: Transport) -> Config {
        let mut c = base_config(url, transport);
        c.network = Some(self.link.spec().clone());
        c.client_ns = Some(self.link.client().clone());
        c
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for token in &self.servers {
            token.cancel();
        }
    }
}

/// rtbench's server on loopback (a reference without the link); stops when
/// the token is cancelled.
pub fn loopback_server(config: server::Config) -> (String, CancellationToken) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    (url, serve(listener, config))
}

fn serve(listener: std::net::TcpListener, config: server::Config) -> CancellationToken {
    listener.set_nonblocking(true).expect("nonblocking");
    let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
    let token = CancellationToken::new();
    let t = token.clone();
    tokio::spawn(async move {
        if let Err(e) = server::run(listener, config, t).await {
            eprintln!("server stopped: {e}");
        }
    });
    token
}

/// A few clients, one publisher, isolated messages (every 500 ms).
pub fn base_config(url: &str, transport: Transport) -> Config {
    let mut c = Config::new(url, transport).expect("config");
    c.clients = 5;
    c.rooms = 1;
    c.publishers = 1;
    c.rate_per_sec = 2.0;
    c.duration = Duration::from_secs(4);
    c.warmup = Duration::from_secs(1);
    c.drain = Duration::from_secs(5);
    c.poll_interval = Duration::from_secs(1);
    c.long_poll_wait = Duration::from_secs(10);
    c.seed = 7;
    c
}

/// Runs with a hard bound so a hung run fails instead of hanging CI.
pub async fn run(config: Config, limit: Duration) -> RunResults {
    tokio::time::timeout(limit, loadgen::run(config, CancellationToken::new()))
        .await
        .expect("run finished in time")
        .expect("run succeeded")
}

pub fn only(results: &RunResults) -> &TransportResult {
    &results.file.transports[0]
}

/// Serializes the timing-sensitive tests, with netem's own (same lock file):
/// two links shaping at once on a 2-core machine would measure each other.
pub fn timing_lock() -> File {
    let path = std::env::temp_dir().join("rtbench-netem-timing.lock");
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .expect("lock file");
    file.lock().expect("lock");
    file
}

/// The file matches the committed JSON Schema (network, link and radio
/// figures included) and reads back equal.
pub fn assert_schema(file: &loadgen::results::ResultFile) {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../protocol/results.schema.json"
    ))
    .expect("schema file");
    let schema: serde_json::Value = serde_json::from_str(&text).expect("schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let instance = serde_json::to_value(file).expect("serializes");
    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "not the schema's:\n{}",
        errors.join("\n")
    );
    let back: loadgen::results::ResultFile = serde_json::from_value(instance).expect("reads back");
    assert_eq!(&back, file);
}

pub fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

pub fn addr(url: &str) -> SocketAddr {
    url.trim_start_matches("http://").parse().expect("address")
}
