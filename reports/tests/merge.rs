//! Merging result files: histograms add exactly (the merged percentiles are
//! those of the combined histogram), repeats vs concurrent load workers,
//! grouping by scenario, and the load errors that name their file.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::Deserializer;
use protocol::Transport;
use protocol::results::{ResultFile, TransportResult};
use reports::{Error, load_results, merge};
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn decode(b64: &str) -> Histogram<u64> {
    let bytes = STANDARD.decode(b64).expect("base64");
    let mut h: Histogram<u64> = Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .expect("V2 histogram");
    h.auto(true);
    h
}

fn ws(files: &[ResultFile]) -> Vec<&TransportResult> {
    files
        .iter()
        .flat_map(|f| &f.transports)
        .filter(|t| t.transport == Transport::Ws)
        .collect()
}

/// The merged summary must be exactly the summary of the two histograms added.
fn assert_combined(merged: &TransportResult, parts: &[&TransportResult]) {
    let mut sum = decode(&parts[0].latency_histogram);
    for p in &parts[1..] {
        sum.add(decode(&p.latency_histogram)).expect("add");
    }
    let l = &merged.latency;
    assert_eq!(l.count, sum.len());
    assert_eq!(l.min_us, sum.min());
    assert_eq!(l.max_us, sum.max());
    assert_eq!(l.p50_us, sum.value_at_quantile(0.5));
    assert_eq!(l.p90_us, sum.value_at_quantile(0.9));
    assert_eq!(l.p95_us, sum.value_at_quantile(0.95));
    assert_eq!(l.p99_us, sum.value_at_quantile(0.99));
    assert_eq!(l.p999_us, sum.value_at_quantile(0.999));
    assert!((l.mean_us - sum.mean()).abs() < 0.01);
    // And the merged histogram itself round-trips to the same counts.
    let again = decode(&merged.latency_histogram);
    assert_eq!(again.len(), sum.len());
    assert_eq!(again.value_at_quantile(0.999), sum.value_at_quantile(0.999));
}

#[test]
fn repeats_merge_histograms_exactly_and_report_median_and_range() {
    let files = load_results(&[fixture("ws.json"), fixture("more/ws-repeat.json")]).expect("load");
    let parts = ws(&files);
    assert_ne!(
        parts[0].latency.p99_us, parts[1].latency.p99_us,
        "fixtures should differ"
    );
    let c = merge(&files).expect("merge");
    assert_eq!(c.groups.len(), 1, "the seed does not split a scenario");
    let e = &c.groups[0].entries[0];
    assert_eq!(e.transport, Transport::Ws);
    assert_eq!(
        (e.files, e.runs.len()),
        (2, 2),
        "files a minute apart are repeats"
    );
    assert_combined(&e.merged, &parts);
    assert_eq!(e.latency.len(), e.merged.latency.count);

    // Counts add up; rates are the time-weighted mean; the window is the total.
    assert_eq!(
        e.merged.counts.delivered,
        parts[0].counts.delivered + parts[1].counts.delivered
    );
    assert_eq!(
        e.merged.wire_bytes.subscribe_down_bytes,
        parts[0].wire_bytes.subscribe_down_bytes + parts[1].wire_bytes.subscribe_down_bytes
    );
    assert_eq!(e.merged.window_secs, 20.0);
    let mean_rate = (parts[0].rates.deliveries_per_sec + parts[1].rates.deliveries_per_sec) / 2.0;
    assert!((e.merged.rates.deliveries_per_sec - mean_rate).abs() < 0.01);
    assert_eq!(e.merged.clients, 100, "repeats do not add clients");

    // Headline: median of the per-run values, with the range.
    let p99 = reports::headline::by_key("latency_p99_ms").expect("metric");
    let s = e.stat(|r| p99.json_value(r)).expect("stat");
    let (a, b) = (
        parts[0].latency.p99_us as f64 / 1e3,
        parts[1].latency.p99_us as f64 / 1e3,
    );
    assert_eq!(s.runs, 2);
    assert!((s.value - (a + b) / 2.0).abs() < 1e-9);
    assert_eq!((s.min, s.max), (a.min(b), a.max(b)));
    let json = reports::summary_json(&c);
    assert_eq!(json["groups"][0]["transports"][0]["runs"], 2);
    assert_eq!(
        json["groups"][0]["transports"][0]["metrics"]["latency_p99_ms"]["min"],
        a.min(b)
    );
}

#[test]
fn concurrent_workers_add_clients_and_rates() {
    let files =
        load_results(&[fixture("ws.json"), fixture("more/ws-worker-b.json")]).expect("load");
    let parts = ws(&files);
    let c = merge(&files).expect("merge");
    assert_eq!(c.machines.len(), 2, "two hosts");
    let e = &c.groups[0].entries[0];
    assert_eq!(
        (e.files, e.runs.len()),
        (2, 1),
        "overlapping windows are one run"
    );
    assert_combined(&e.merged, &parts);
    assert_combined(&e.runs[0], &parts);
    assert_eq!(e.merged.clients, 200);
    assert_eq!(e.merged.window_secs, 10.0);
    let sum = parts[0].rates.deliveries_per_sec + parts[1].rates.deliveries_per_sec;
    assert!((e.merged.rates.deliveries_per_sec - sum).abs() < 0.01);
    // Both workers measured the same server: its cost counts once.
    let server = e.merged.server.as_ref().expect("server cost");
    assert_eq!(
        server.cpu_seconds,
        parts[0].server.as_ref().expect("server").cpu_seconds
    );
    // Each worker is a process of its own: load-generator CPU adds up.
    let lg = parts[0].loadgen.cpu_seconds + parts[1].loadgen.cpu_seconds;
    assert!((e.merged.loadgen.cpu_seconds - lg).abs() < 0.001);
    // Series summed second by second.
    let sec = |r: &TransportResult, t: u64| {
        r.series
            .iter()
            .find(|s| s.t_secs == t)
            .map_or(0, |s| s.deliveries)
    };
    assert_eq!(sec(&e.merged, 5), sec(parts[0], 5) + sec(parts[1], 5));
}

#[test]
fn one_group_per_scenario_transports_in_order() {
    let paths: Vec<PathBuf> = [
        "ws.json",
        "sse.json",
        "short-poll.json",
        "long-poll.json",
        "socketio-polling.json",
        "socketio.json",
        "webtransport-datagram.json",
        "webtransport.json",
        "more/ws-repeat.json",
    ]
    .iter()
    .map(|n| fixture(n))
    .collect();
    let c = merge(&load_results(&paths).expect("load")).expect("merge");
    assert_eq!(c.files, 9);
    assert_eq!(c.groups.len(), 1);
    let g = &c.groups[0];
    let order: Vec<Transport> = g.entries.iter().map(|e| e.transport).collect();
    assert_eq!(
        order,
        Transport::ALL,
        "polling first, push last, whatever the file order"
    );
    assert_eq!(g.entries[3].files, 2);
    assert_eq!(
        g.scenario.poll_interval_secs,
        Some(1.0),
        "taken from the short-poll file"
    );
    assert_eq!(g.scenario.long_poll_wait_secs, Some(30.0));
    assert_eq!(g.entries[0].setting_secs, Some(1.0));
    assert_eq!(g.entries[0].label, "short-poll");

    // A matrix directory: one group per scenario.
    let m = merge(&load_results(&[fixture("matrix")]).expect("load")).expect("merge");
    let clients: Vec<u64> = m.groups.iter().map(|g| g.scenario.clients).collect();
    assert_eq!(clients.len(), 3);
    assert!(clients.contains(&200));
}

#[test]
fn two_poll_intervals_are_two_entries() {
    let mut files = load_results(&[fixture("short-poll.json")]).expect("load");
    let mut fast = files[0].clone();
    fast.scenario.poll_interval_secs = Some(0.25);
    files.push(fast);
    let c = merge(&files).expect("merge");
    let labels: Vec<&str> = c.groups[0]
        .entries
        .iter()
        .map(|e| e.label.as_str())
        .collect();
    assert_eq!(labels, ["short-poll 250 ms", "short-poll 1 s"]);
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/report-tests/input")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

#[test]
fn load_errors_name_the_file() {
    let missing = fixture("nope.json");
    let e = load_results(std::slice::from_ref(&missing)).expect_err("missing file");
    assert!(matches!(e, Error::NotFound { .. }), "{e:?}");
    assert!(e.is_input_error());
    assert!(e.to_string().contains("nope.json"), "{e}");

    let dir = temp_dir("errors");
    let bad = dir.join("bad.json");
    std::fs::write(&bad, "{ not json").expect("write");
    let e = load_results(std::slice::from_ref(&bad)).expect_err("invalid JSON");
    assert!(matches!(e, Error::Json { .. }), "{e:?}");
    assert!(e.to_string().contains("bad.json"), "{e}");

    let text = std::fs::read_to_string(fixture("ws.json")).expect("fixture");
    let newer = dir.join("newer.json");
    std::fs::write(
        &newer,
        text.replacen("\"schema_version\": 1", "\"schema_version\": 2", 1),
    )
    .expect("write");
    let e = load_results(std::slice::from_ref(&newer)).expect_err("newer schema");
    assert!(matches!(e, Error::SchemaVersion { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains("newer.json")
            && msg.contains("schema_version 2")
            && msg.contains("rtbench 0.1.0"),
        "{msg}"
    );

    let corrupt = dir.join("corrupt.json");
    let mut v: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    v["transports"][0]["latency_histogram"] = "AAAAAAAA".into();
    std::fs::write(&corrupt, v.to_string()).expect("write");
    let e = load_results(std::slice::from_ref(&corrupt)).expect_err("corrupt histogram");
    assert!(matches!(e, Error::Histogram { .. }), "{e:?}");
    assert!(
        e.to_string().contains("corrupt.json") && e.to_string().contains("ws latency_histogram"),
        "{e}"
    );

    let shape = dir.join("shape.json");
    std::fs::write(&shape, r#"{"schema_version": 1, "transports": "no"}"#).expect("write");
    let e = load_results(std::slice::from_ref(&shape)).expect_err("wrong shape");
    assert!(matches!(e, Error::Json { .. }), "{e:?}");

    let e = load_results(&[]).expect_err("no input");
    assert!(matches!(e, Error::NoInput(_)), "{e:?}");
    let merged: Result<_, Error> = merge(&[]);
    let e = merged.expect_err("nothing to merge");
    assert!(matches!(e, Error::NoInput(_)), "{e:?}");
}

#[test]
fn directories_skip_other_json_and_must_hold_results() {
    let dir = temp_dir("dir");
    let e = load_results(std::slice::from_ref(&dir)).expect_err("empty dir");
    assert!(matches!(e, Error::NoInput(_)), "{e:?}");
    std::fs::copy(fixture("ws.json"), dir.join("ws.json")).expect("copy");
    std::fs::copy(fixture("sse.json"), dir.join("a-sse.json")).expect("copy");
    std::fs::write(dir.join("summary.json"), r#"{"files": 2}"#).expect("write");
    std::fs::write(dir.join("notes.txt"), "not json").expect("write");
    let files = load_results(std::slice::from_ref(&dir)).expect("load dir");
    let order: Vec<Transport> = files.iter().map(|f| f.transports[0].transport).collect();
    assert_eq!(
        order,
        [Transport::Sse, Transport::Ws],
        "sorted by file name, summary.json skipped"
    );
    // Named explicitly, a JSON file that is no result file is an error.
    let e = load_results(&[dir.join("summary.json")]).expect_err("not a result file");
    assert!(matches!(e, Error::Json { .. }), "{e:?}");
    assert!(e.to_string().contains("summary.json"));
}

#[test]
fn drains_do_not_split_a_comparison_and_split_groups_have_distinct_titles() {
    let mut files = load_results(&[fixture("ws.json"), fixture("short-poll.json")]).expect("load");
    // bench raises short polling's drain to cover a poll interval.
    files[0].scenario.drain_secs = 1.0;
    files[1].scenario.drain_secs = 3.0;
    let c = merge(&files).expect("merge");
    assert_eq!(c.groups.len(), 1, "one bench, one table");
    assert_eq!(c.groups[0].entries.len(), 2);
    assert_eq!(c.groups[0].scenario.drain_secs, 3.0, "the longest drain");

    // A real difference the title does not show: two groups, told apart.
    files[1].scenario.publishers = files[0].scenario.publishers + 1;
    let c = merge(&files).expect("merge");
    assert_eq!(c.groups.len(), 2);
    let titles: Vec<String> = c.groups.iter().map(|g| g.title.clone()).collect();
    assert_ne!(titles[0], titles[1], "{titles:?}");
    assert!(
        titles.iter().all(|t| t.contains("publishers=")),
        "{titles:?}"
    );
    assert!(titles.iter().all(|t| !t.contains("drain")), "{titles:?}");
}

#[test]
fn a_staged_run_is_titled_by_its_stages_not_its_peak() {
    let mut files = load_results(&[fixture("ws.json")]).expect("load");
    files[0].scenario.stages = Some("5s:20c@20/s,10s:200c@50/s".into());
    let c = merge(&files).expect("merge");
    let title = &c.groups[0].title;
    assert!(
        title.starts_with("stages 5s:20c@20/s,10s:200c@50/s · 1 room"),
        "{title}"
    );
    assert!(!title.contains("msg/s constant"), "{title}");
}
