//! `rtbench load --stages`: a staged run against rtbench's own server whose
//! latency grows with its subscribers (`--inject-latency-per-subscriber`)
//! reports per-stage figures, writes its per-second series, and its report
//! names the knee where the injected delay says it must be.

use protocol::results::{Phase, ResultFile, StageResult};
use reports::knee;
use std::path::Path;
use testkit::child::stderr;

/// The server's delay per push subscriber of a room (µs).
const PER_SUBSCRIBER_US: u64 = 1000;

fn rtbench(args: &[&str]) -> std::process::Output {
    testkit::rtbench!().run(args)
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

#[test]
fn a_staged_run_reports_each_stage_and_the_knee() {
    let rt = testkit::rtbench!();
    let dir = rt.scratch("stages-knee");
    std::fs::create_dir_all(&dir).expect("dir");
    let server = rt.server(&["--inject-latency-per-subscriber", "1ms"], None);
    let (out, csv) = (dir.join("r.json"), dir.join("series.csv"));
    // 10 clients while the rate ramps up, then 10 → 100 clients over 10 s,
    // then 100 held: the injected delay alone reaches 100 ms.
    let o = rtbench(&[
        "load",
        "--target",
        &server.url,
        "--transport",
        "ws",
        "--stages",
        "4s:10c@20/s,10s:100c,2s:100c",
        "--output",
        path(&out),
        "--output-series",
        path(&csv),
    ]);
    drop(server);
    assert!(o.status.success(), "{}", stderr(&o));
    let summary = String::from_utf8_lossy(&o.stdout);
    assert!(
        summary.contains("stages:")
            && summary.contains("4s:10c@20/s")
            && summary.contains("10→100"),
        "{summary}"
    );
    let file: ResultFile =
        serde_json::from_slice(&std::fs::read(&out).expect("result file")).expect("json");
    testkit::load::check_result_file(&file);
    assert_eq!(
        file.scenario.stages.as_deref(),
        Some("4s:10c@20/s,10s:100c,2s:100c")
    );
    assert_eq!(file.scenario.duration_secs, 16.0);
    let t = &file.transports[0];
    assert_eq!(t.clients, 100);
    check_stages(&t.stages);
    let lost: u64 = t.stages.iter().map(|s| s.lost).sum();
    assert_eq!(lost, t.counts.lost, "the stages' loss adds up to the run's");
    check_knee(t);
    check_series(&csv, t.series.len());
    check_report(&out, &dir);
}

fn check_stages(stages: &[StageResult]) {
    let names: Vec<&str> = stages.iter().map(|s| s.stage.as_str()).collect();
    assert_eq!(names, ["4s:10c@20/s", "10s:100c", "2s:100c"]);
    let targets: Vec<(u64, u64)> = stages
        .iter()
        .map(|s| (s.clients_from, s.clients_to))
        .collect();
    assert_eq!(targets, [(0, 10), (10, 100), (100, 100)]);
    assert_eq!((stages[0].rate_from, stages[0].rate_to), (0.0, 20.0));
    assert_eq!((stages[2].rate_from, stages[2].rate_to), (20.0, 20.0));
    for s in stages {
        assert!(s.deliveries > 0, "{s:?}");
        assert_eq!(s.latency.count, s.deliveries, "{s:?}");
        assert!(s.connected_max <= 100, "{s:?}");
    }
    // 20/s for 10 s, give or take the seconds at the stage's edges.
    assert!(
        (160..=240).contains(&stages[1].published),
        "{:?}",
        stages[1]
    );
    // Each message waits 1 ms per subscriber: with ~100 of them, 100 ms;
    // with 10 at most, 10 ms.
    let (first, last) = (&stages[0].latency, &stages[2].latency);
    assert!(last.p50_us >= 90 * PER_SUBSCRIBER_US, "{last:?}");
    assert!(first.p50_us < last.p50_us, "{first:?} vs {last:?}");
    assert!(stages[2].connected_max >= 90, "{:?}", stages[2]);
}

/// The knee is where the injected delay crosses the threshold: not later
/// (the delay alone is above it from there on), and not much earlier
/// (only noise of half the threshold, for two seconds running, could).
fn check_knee(t: &protocol::results::TransportResult) {
    let baseline = knee::baseline_us(&t.series, &t.stages).expect("a baseline");
    let k = knee::find(&t.series, baseline).expect("a knee");
    let knee::Cause::Latency { threshold_us } = k.cause else {
        panic!("the knee is latency's, not errors': {k:?}");
    };
    let at = threshold_us / PER_SUBSCRIBER_US;
    // Clients join at ~10/s: the second's last ones joined after most of
    // its messages were published, and the rule needs two seconds.
    assert!(
        k.connected >= at / 2 && k.connected <= at + 30,
        "knee at {} clients, threshold {threshold_us} µs reached at {at}: {k:?}",
        k.connected
    );
}

fn check_series(csv: &Path, seconds: usize) {
    let text = std::fs::read_to_string(csv).expect("series file");
    let mut lines = text.lines();
    let header = series_columns().join(",");
    assert_eq!(lines.next(), Some(header.as_str()));
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), seconds);
    assert!(rows.iter().all(|r| r.len() == 15 && r[1] == "ws"), "{text}");
    for stage in ["0", "1", "2"] {
        assert!(rows.iter().any(|r| r[14] == stage), "stage {stage}: {text}");
    }
}

fn series_columns() -> Vec<&'static str> {
    vec![
        "run",
        "transport",
        "t_secs",
        "phase",
        "connected",
        "published",
        "deliveries",
        "requests",
        "empty",
        "errors",
        "down_bytes",
        "up_bytes",
        "p50_us",
        "p99_us",
        "stage",
    ]
}

fn check_report(out: &Path, dir: &Path) {
    let report = dir.join("report");
    let o = rtbench(&["report", path(out), "--out", path(&report)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let html = std::fs::read_to_string(report.join("index.html")).expect("index.html");
    assert!(html.contains("Knee of WebSocket"), "the knee finding");
    assert!(html.contains("latency-vs-load.png"));
    assert!(report.join("latency-vs-load.png").is_file());
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(report.join("summary.json")).expect("summary"))
            .expect("json");
    let k = &summary["groups"][0]["transports"][0]["knee"];
    assert_eq!(
        (&k["found"], &k["cause"]),
        (&true.into(), &"latency".into()),
        "{k}"
    );
    assert!(k["connected"].as_u64().is_some_and(|c| c > 0), "{k}");
}

#[test]
fn output_series_writes_ndjson_too() {
    let rt = testkit::rtbench!();
    let dir = rt.scratch("stages-ndjson");
    std::fs::create_dir_all(&dir).expect("dir");
    let server = rt.server(&[], None);
    let series = dir.join("s.ndjson");
    let o = rtbench(&[
        "load",
        "--target",
        &server.url,
        "--transport",
        "sse",
        "--clients",
        "5",
        "--duration",
        "2s",
        "--output-series",
        path(&series),
    ]);
    drop(server);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&series).expect("series");
    let rows: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON object per line"))
        .collect();
    assert!(rows.len() >= 3, "{text}");
    for r in &rows {
        for key in series_columns() {
            assert!(r.get(key).is_some(), "{key} in {r}");
        }
        assert_eq!(r["transport"], "sse");
        assert_eq!(r["stage"], serde_json::Value::Null, "a steady run has none");
    }
    let delivered: u64 = rows.iter().filter_map(|r| r["deliveries"].as_u64()).sum();
    assert!(delivered > 0, "{text}");
}

#[test]
fn stage_and_series_mistakes_are_usage_errors() {
    for (args, names) in [
        (vec!["--stages", "10s:5c", "--duration", "5s"], "--duration"),
        (vec!["--stages", "10s:5c", "--clients", "5"], "--clients"),
        (vec!["--stages", "10s:5c@5/s", "--rate", "5"], "--rate"),
        (vec!["--stages", "10s"], "DURATION:CLIENTSc@RATE"),
        (vec!["--stages", "10s:0c"], "no stage has a client"),
        (vec!["--output-series", "s.txt"], ".ndjson"),
        (
            vec!["--stages", "10s:5c", "--processes", "2"],
            "--processes",
        ),
    ] {
        let mut all = vec![
            "load",
            "--transport",
            "ws",
            "--target",
            "http://127.0.0.1:9",
        ];
        all.extend(&args);
        let o = rtbench(&all);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(names), "{args:?}: {}", stderr(&o));
    }
}

/// Clients leave as the count comes down, and leaving is no loss: each
/// is held to what came between its first and last receipt.
#[test]
fn clients_leave_as_the_stages_come_down() {
    let rt = testkit::rtbench!();
    let dir = rt.scratch("stages-down");
    std::fs::create_dir_all(&dir).expect("dir");
    let server = rt.server(&[], None);
    let out = dir.join("r.json");
    let o = rtbench(&[
        "load",
        "--target",
        &server.url,
        "--transport",
        "sse",
        "--stages",
        "2s:20c@20/s,3s:20c,3s:0c",
        "--output",
        path(&out),
    ]);
    drop(server);
    assert!(o.status.success(), "{}", stderr(&o));
    let file: ResultFile =
        serde_json::from_slice(&std::fs::read(&out).expect("result file")).expect("json");
    let t = &file.transports[0];
    let [up, held, down] = &t.stages[..] else {
        panic!("three stages: {:?}", t.stages);
    };
    assert_eq!(held.connected_max, 20, "{held:?}");
    assert!(down.connected_mean < 15.0, "{down:?}");
    // The window's last second ends within 1 s of its end, where the
    // target is under 20 × 1/3 s: at most 6 clients (one more for a slow
    // disconnect).
    let last = t.series.iter().rfind(|s| s.phase == Some(Phase::Measure));
    assert!(last.is_some_and(|s| s.connected <= 7), "{:?}", t.series);
    for s in [up, held, down] {
        assert!(s.deliveries > 0 && s.lost == 0, "{s:?}");
    }
    assert_eq!(
        (t.counts.lost, t.counts.unexpected),
        (0, 0),
        "{:?}",
        t.counts
    );
    assert!(t.counts.delivered > 0);
}

/// Bench writes every run's series to one file, told apart by run and
/// transport.
#[test]
fn bench_writes_one_series_file_for_all_its_runs() {
    let rt = testkit::rtbench!();
    let dir = rt.scratch("stages-bench-series");
    let series = dir.join("series.csv");
    std::fs::create_dir_all(&dir).expect("dir");
    let o = rtbench(&[
        "bench",
        "--transports",
        "ws,sse",
        "--clients",
        "5",
        "--duration",
        "1s",
        "--warmup",
        "0s",
        "--out",
        path(&dir.join("report")),
        "--output-series",
        path(&series),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&series).expect("series");
    let rows: Vec<Vec<&str>> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    let mut runs: Vec<(&str, &str)> = rows.iter().map(|r| (r[0], r[1])).collect();
    runs.sort();
    runs.dedup();
    // One run per transport, each with its own run number.
    let mut transports: Vec<&str> = runs.iter().map(|r| r.1).collect();
    transports.sort();
    assert_eq!(transports, ["sse", "ws"], "{text}");
    assert_ne!(runs[0].0, runs[1].0, "{text}");
}
