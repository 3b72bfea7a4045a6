//! Live output: the `--metrics-addr` endpoint scraped during a run against
//! the real server agrees exactly with the result file's series, and the
//! shipped Grafana dashboard asks only for metrics the two endpoints serve.

use loadgen::live::{LiveMetrics, METRICS};
use protocol::Transport;
use std::collections::BTreeSet;
use std::time::Duration;
use testkit::TestServer;
use testkit::load::{Background, small_config};
use tokio_util::sync::CancellationToken;

/// The value of the first sample of `name` whose labels contain `labels`.
fn value(text: &str, name: &str, labels: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find(|l| l.starts_with(&format!("{name}{{")) && l.contains(labels))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// Every sample's metric name in a Prometheus text scrape.
fn names(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.split(['{', ' ']).next())
        .map(str::to_string)
        .collect()
}

#[derive(Debug, Clone, Copy)]
struct Scrape {
    t: u64,
    deliveries: u64,
    published: u64,
    down: u64,
    measuring: bool,
}

fn parse(text: &str) -> Option<Scrape> {
    let v = |name: &str, labels: &str| value(text, name, labels).map(|v| v as u64);
    Some(Scrape {
        t: v("rtbench_loadgen_elapsed_seconds", "transport=\"ws\"")?,
        deliveries: v("rtbench_loadgen_deliveries_total", "")?,
        published: v("rtbench_loadgen_published_total", "")?,
        down: v("rtbench_loadgen_wire_bytes_total", "direction=\"down\"")?,
        measuring: v("rtbench_loadgen_phase", "phase=\"measure\"")? == 1,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scrapes_during_a_run_match_the_series() {
    let server = TestServer::start().await;
    let live = LiveMetrics::bind("127.0.0.1:0".parse().expect("addr")).expect("bind");
    let url = format!("http://{}/metrics", live.local_addr().expect("addr"));
    let mut cfg = small_config(&server.url, Transport::Ws);
    cfg.metrics = Some(live.clone());
    let run = Background::start(cfg);
    let stop = CancellationToken::new();
    let scraper = tokio::spawn({
        let (stop, url) = (stop.clone(), url.clone());
        async move {
            let http = reqwest::Client::new();
            let mut seen = Vec::new();
            while !stop.is_cancelled() {
                if let Ok(r) = http.get(&url).send().await
                    && let Ok(text) = r.text().await
                {
                    seen.push(parse(&text).expect("every family present"));
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            seen
        }
    });
    let results = run.finish(Duration::from_secs(60)).await;
    stop.cancel();
    let mut seen = scraper.await.expect("scraper");
    let series = &testkit::load::only(&results).series;
    assert!(
        seen.iter().any(|s| s.measuring && s.deliveries > 0),
        "no scrape in the window: {seen:?}"
    );
    // After the run the endpoint shows the whole series.
    let text = reqwest::get(&url)
        .await
        .expect("scrape")
        .text()
        .await
        .expect("text");
    let last = parse(&text).expect("every family present");
    assert_eq!(last.t as usize, series.len(), "{last:?}");
    let final_second = series.last().expect("a second");
    let p99 = value(
        &text,
        "rtbench_loadgen_latency_seconds",
        "quantile=\"0.99\"",
    );
    assert_eq!(p99, final_second.p99_us.map(|us| us as f64 / 1e6), "{text}");
    let connected = value(&text, "rtbench_loadgen_connected_clients", "");
    assert_eq!(connected, Some(final_second.connected as f64), "{text}");
    seen.push(last);
    for s in &seen {
        let upto = &series[..s.t as usize];
        let sum = |f: fn(&loadgen::results::SecondSample) -> u64| upto.iter().map(f).sum::<u64>();
        assert_eq!(s.deliveries, sum(|x| x.deliveries), "{s:?}");
        assert_eq!(s.published, sum(|x| x.published), "{s:?}");
        assert_eq!(s.down, sum(|x| x.down_bytes), "{s:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grafana_dashboard_uses_only_served_metrics() {
    let server = TestServer::start().await;
    let scrape = reqwest::get(format!("{}/metrics", server.url))
        .await
        .expect("scrape")
        .text()
        .await
        .expect("text");
    let mut served = names(&scrape);
    assert!(
        served.contains("rtbench_server_deliveries_total"),
        "{served:?}"
    );
    let live = LiveMetrics::bind("127.0.0.1:0".parse().expect("addr")).expect("bind");
    // The code's list; a render before any sample has all but the latency.
    let listed: BTreeSet<String> = METRICS.iter().map(|m| m.0.to_string()).collect();
    let rendered = names(&live.render());
    assert!(rendered.is_subset(&listed), "{rendered:?}");
    assert_eq!(rendered.len(), listed.len() - 1, "{rendered:?}");
    served.extend(listed);

    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/grafana/rtbench.json");
    let text = std::fs::read_to_string(path).expect("dashboard");
    let dash: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    let exprs: Vec<&str> = dash["panels"]
        .as_array()
        .expect("panels")
        .iter()
        .flat_map(|p| p["targets"].as_array().into_iter().flatten())
        .filter_map(|t| t["expr"].as_str())
        .collect();
    assert!(exprs.len() >= 8, "{exprs:?}");
    let mut used = BTreeSet::new();
    for e in &exprs {
        for word in e.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
            if word.starts_with("rtbench_") || word.starts_with("process_") {
                assert!(served.contains(word), "{word} in `{e}` is not served");
                used.insert(word);
            }
        }
    }
    assert!(used.iter().any(|n| n.starts_with("rtbench_server_")));
    assert!(used.iter().any(|n| n.starts_with("rtbench_loadgen_")));
}
