//! Distributed load workers (`--workers N --worker-id K --start-at T`):
//! two workers' result files merge to the same totals as one run with all
//! their clients and publishers, loss counted across workers exactly.

use loadgen::Config;
use protocol::Transport;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use testkit::TestServer;
use testkit::load::{run_bounded, small_config};

/// Two rooms, 10 msg/s per publisher, a 2 s window (warm-up and drain as
/// in the kit's small config).
fn config(url: &str, clients: u64, publishers: u64) -> Config {
    Config {
        clients,
        rooms: 2,
        publishers,
        rate_per_sec: 10.0 * publishers as f64,
        duration: Duration::from_secs(2),
        seed: 5,
        ..small_config(url, Transport::Ws)
    }
}

async fn run(cfg: Config) -> loadgen::RunResults {
    run_bounded(cfg, Duration::from_secs(60)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_merge_to_the_totals_of_one_run() {
    let mut srv = TestServer::start().await;
    let url = srv.url.clone();
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
    srv.shutdown().await;

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
