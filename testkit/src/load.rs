//! Load runs in tests: a small configuration, a bounded run, and the checks
//! every result file must pass.

use loadgen::results::ResultFile;
use loadgen::{Config, RunResults};
use protocol::Transport;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// 50 clients in one room, 2 publishers at 20 msg/s in total, a 3 s window:
/// small enough for a shared test machine, large enough to see loss.
pub fn small_config(url: &str, transport: Transport) -> Config {
    Config {
        clients: 50,
        rooms: 1,
        publishers: 2,
        rate_per_sec: 20.0,
        size_bytes: 100,
        duration: Duration::from_secs(3),
        warmup: Duration::from_millis(500),
        drain: Duration::from_secs(3),
        poll_interval: Duration::from_millis(500),
        long_poll_wait: Duration::from_secs(5),
        seed: 7,
        ..Config::new(url, transport).expect("config")
    }
}

/// Serializes the tests that need most of the machine for a few seconds (a
/// storm of thousands of messages a second): nextest runs each in its own
/// process, and four at once on a small machine starve each other until
/// their publishers fall a whole window behind. Hold it for the test.
pub fn cpu_heavy_lock() -> std::fs::File {
    crate::net::file_lock("rtbench-cpu-heavy.lock")
}

/// Runs with a hard bound, so a hung run fails instead of hanging CI.
pub async fn run_bounded(config: Config, limit: Duration) -> RunResults {
    tokio::time::timeout(limit, loadgen::run(config, CancellationToken::new()))
        .await
        .expect("run finished in time")
        .expect("run succeeded")
}

/// A run started in the background, so that the test can break something
/// (kill a server, stop Redis) while it goes on.
pub struct Background(JoinHandle<Result<RunResults, loadgen::Error>>);

impl Background {
    pub fn start(config: Config) -> Background {
        Background(tokio::spawn(loadgen::run(config, CancellationToken::new())))
    }

    /// Its results, within `limit`: a run that lost its server, or part of
    /// its clients, still ends and returns results.
    pub async fn finish(self, limit: Duration) -> RunResults {
        tokio::time::timeout(limit, self.0)
            .await
            .expect("run ends in time")
            .expect("run task")
            .expect("a run that lost its server still returns results")
    }
}

/// Validates a result file against the committed JSON Schema, round-trips
/// it through the Rust types, and checks that its histograms decode and merge.
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

/// The one transport's result of a single-transport run.
pub fn only(results: &RunResults) -> &loadgen::results::TransportResult {
    &results.file.transports[0]
}
