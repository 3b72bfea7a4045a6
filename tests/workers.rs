//! Distributed load workers (`--workers N --worker-id K --start-at T`):
//! two workers' result files merge to the same totals as one run with all
//! their clients and publishers, loss counted across workers exactly.

use loadgen::Config;
use protocol::Transport;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio_util::sync::CancellationToken;

async fn start_server() -> (String, CancellationToken) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let token = CancellationToken::new();
    let t = token.clone();
    tokio::spawn(async move {
        let _ = server::run(listener, server::Config::default(), t).await;
    });
    (url, token)
}

fn config(url: &str, clients: u64, publishers: u64) -> Config {
    let mut c = Config::new(url, Transport::Ws).expect("config");
    c.clients = clients;
    c.rooms = 2;
    c.publishers = publishers;
    c.rate_per_sec = 10.0 * publishers as f64;
    c.duration = Duration::from_secs(2);
    c.warmup = Duration::from_millis(500);
    c.drain = Duration::from_secs(3);
    c.seed = 5;
    c
}

async fn run(cfg: Config) -> loadgen::RunResults {
    tokio::time::timeout(
        Duration::from_secs(60),
        loadgen::run(cfg, CancellationToken::new()),
    )
    .await
    .expect("in time")
    .expect("run")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_merge_to_the_totals_of_one_run() {
    let (url, token) = start_server().await;
    let start_at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64()
        + 1.5;
    let worker = |k: u32| {
        let mut c = config(&url, 20, 1);
        c.workers = 2;
        c.worker_id = k;
        c.start_at = Some(start_at);
        c
    };
    let (w0, w1) = tokio::join!(run(worker(0)), run(worker(1)));
    for w in [&w0, &w1] {
        let t = &w.file.transports[0];
        let shard = t
            .worker
            .as_ref()
            .expect("a worker's file carries its shard");
        assert_eq!(shard.workers, 2);
        // Its own counts judge its own publisher only; the other worker's
        // messages arrived too (deliveries), without latency (another clock).
        assert_eq!(t.counts.lost, 0, "{:?}", t.counts);
        assert_eq!(
            t.latency.count, t.counts.delivered,
            "latency for its own publisher only"
        );
        let receipts: u64 = shard
            .rooms
            .iter()
            .flat_map(|r| &r.received)
            .flat_map(|p| &p.counts)
            .map(|n| u64::from(*n))
            .sum();
        assert_eq!(
            receipts,
            2 * t.counts.delivered,
            "both workers' messages arrived"
        );
    }
    assert_eq!(
        w0.file.transports[0].worker.as_ref().map(|s| &s.run),
        w1.file.transports[0].worker.as_ref().map(|s| &s.run),
        "one run tag"
    );
    let merged = reports::merge(&[w0.file.clone(), w1.file.clone()]).expect("merge");
    assert_eq!(merged.groups.len(), 1, "one scenario");
    let m = &merged.groups[0].entries[0].merged;

    let single = run(config(&url, 40, 2)).await;
    let s = &single.file.transports[0];
    token.cancel();

    assert_eq!(m.clients, 40);
    assert_eq!(m.counts.published, s.counts.published, "same publishes");
    assert_eq!(
        m.counts.expected, s.counts.expected,
        "{:?} vs {:?}",
        m.counts, s.counts
    );
    assert_eq!(
        m.counts.expected,
        s.counts.published * 20,
        "20 subscribers per room"
    );
    assert_eq!(
        (m.counts.delivered, m.counts.lost),
        (m.counts.expected, 0),
        "{:?}",
        m.counts
    );
    assert_eq!(
        (s.counts.delivered, s.counts.lost),
        (s.counts.expected, 0),
        "{:?}",
        s.counts
    );
    assert_eq!(m.counts.unexpected, 0);
}
