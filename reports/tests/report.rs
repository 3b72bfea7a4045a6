//! Golden-structure tests of `render` on the committed fixtures
//! (`tests/fixtures/`, written by `examples/gen_fixtures.rs`): every section
//! and chart is in `index.html`, every PNG decodes at the expected size and
//! is not blank, file-borne strings are escaped, and the summary table and
//! JSON carry the numbers. Outputs stay in `target/report-tests/NAME/` for
//! a look after a run.

use protocol::results::ResultFile;
use reports::{RenderOptions, load_results, merge, print_summary_table, render, summary_json};
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// One single-transport run per transport.
fn every() -> Vec<PathBuf> {
    protocol::Transport::ALL
        .iter()
        .map(|t| fixtures().join(format!("{t}.json")))
        .collect()
}

fn out_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/report-tests")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Decodes a PNG; checks its size and that it is a chart, not a blank canvas.
fn check_png(path: &Path) {
    let img = image::open(path)
        .unwrap_or_else(|e| panic!("{} does not decode: {e}", path.display()))
        .to_rgb8();
    assert_eq!(img.dimensions(), (1400, 788), "{}", path.display());
    let white = img.pixels().filter(|p| p.0 == [255, 255, 255]).count();
    let total = (img.width() * img.height()) as usize;
    let colored = img.pixels().filter(|p| {
        let [r, g, b] = p.0;
        r.max(g).max(b) - r.min(g).min(b) > 60
    });
    assert!(
        white < total * 99 / 100,
        "{} is (almost) blank",
        path.display()
    );
    assert!(
        colored.count() > 2_000,
        "{} has no colored data drawn",
        path.display()
    );
}

#[test]
fn every_transport_renders_every_section_and_chart() {
    let files = load_results(&every()).expect("fixtures load");
    let comparison = merge(&files).expect("fixtures merge");
    assert_eq!(comparison.groups.len(), 1);
    assert_eq!(
        comparison.groups[0].entries.len(),
        protocol::Transport::COUNT
    );
    let dir = out_dir("four");
    let summary = render(&comparison, &dir, &RenderOptions::default()).expect("render");

    let html = std::fs::read_to_string(&summary.index).expect("index.html");
    assert!(html.contains(
        "<h1>Short polling, long polling, SSE, WebSockets, Socket.IO, Socket.IO over polling, WebTransport and WebTransport datagrams compared</h1>"
    ));
    for needle in [
        "<h2>100 clients · 1 room · 10 msg/s Poisson · 100 B messages</h2>",
        "<dt>Scenario</dt>",
        "<dt>Machine</dt><dd>bench-1 · 2 cores · AMD EPYC 7B13",
        "<h3>Findings</h3>",
        "<h3>Headline numbers</h3>",
        "<h3>Charts</h3>",
        "id=\"methodology\"",
        "Open-loop publishers",
        "One clock",
        "Wire bytes at the socket",
        "Loss, duplicates, reordering",
    ] {
        assert!(html.contains(needle), "index.html lacks {needle:?}");
    }
    for metric in [
        "latency_p50_ms",
        "latency_p90_ms",
        "latency_p99_ms",
        "latency_p999_ms",
        "latency_max_ms",
        "deliveries_per_sec",
        "requests_per_sec",
        "empty_ratio",
        "bytes_per_delivery",
        "overhead_ratio",
        "lost",
        "duplicate",
        "reordered",
        "server_cpu_seconds_per_1k_deliveries",
        "server_rss_per_connection_bytes",
        "loadgen_rss_per_client_bytes",
    ] {
        assert!(
            html.contains(&format!("data-metric=\"{metric}\"")),
            "table lacks row {metric}"
        );
    }
    assert!(html.contains("class=\"best\""), "no best value highlighted");
    // Findings computed from the data: the short-poll sentence with its numbers.
    assert!(
        html.contains("Short polling at 1&nbsp;s: mean latency 497&nbsp;ms"),
        "short-poll finding missing"
    );
    assert!(html.contains("measurement agrees with theory"));
    assert!(html.contains("Lowest p99 latency: WebSocket"));
    // Self-contained: no external resource, no script.
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "the page references the network"
    );
    assert!(!html.contains("<script"), "the page has a script");
    assert!(!html.contains("<link"), "the page loads a stylesheet");

    let names: Vec<String> = summary
        .charts
        .iter()
        .map(|p| {
            p.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(
        names,
        [
            "latency-percentiles.png",
            "latency-over-time.png",
            "rates-over-time.png",
            "bytes-per-message.png",
            "server-cost.png"
        ]
    );
    for (path, name) in summary.charts.iter().zip(&names) {
        check_png(path);
        let id = name.trim_end_matches(".png");
        assert!(
            html.contains(&format!("id=\"chart-{id}\"")),
            "chart {id} not in the page"
        );
    }
    assert_eq!(html.matches("src=\"data:image/png;base64,").count(), 5);

    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(&summary.summary_json).expect("summary.json"),
    )
    .expect("JSON");
    assert_eq!(json, summary_json(&comparison));
}

#[test]
fn matrix_adds_scaling_charts_and_findings() {
    let files = load_results(&[fixtures().join("matrix")]).expect("matrix loads");
    assert_eq!(files.len(), 3);
    let comparison = merge(&files).expect("merge");
    assert_eq!(comparison.groups.len(), 3, "three scenarios");
    assert!(
        comparison
            .groups
            .iter()
            .all(|g| g.entries.len() == protocol::Transport::COUNT)
    );
    let dir = out_dir("matrix");
    let summary = render(&comparison, &dir, &RenderOptions::default()).expect("render");
    let html = std::fs::read_to_string(&summary.index).expect("index.html");
    for needle in [
        "id=\"matrix\"",
        "id=\"chart-matrix-p99-vs-clients\"",
        "id=\"chart-matrix-bytes-vs-clients\"",
        "id=\"chart-matrix-p99-vs-rate\"",
        "id=\"chart-matrix-bytes-vs-rate\"",
        "From 100&nbsp;clients to 200&nbsp;clients, p99 latency:",
        "id=\"s1\"",
        "id=\"s3\"",
        "id=\"chart-s2-latency-percentiles\"",
    ] {
        assert!(html.contains(needle), "index.html lacks {needle:?}");
    }
    assert_eq!(summary.charts.len(), 3 * 5 + 4);
    for path in &summary.charts {
        check_png(path);
    }
}

#[test]
fn strings_from_files_are_escaped() {
    let mut files: Vec<ResultFile> = load_results(&every()).expect("load");
    let evil = "<script>alert(1)</script>&\"'";
    for f in &mut files {
        f.machine.hostname = evil.into();
        f.scenario.scenario_file = Some(format!("{evil}.toml"));
        f.warnings.push(format!("warning {evil}"));
        f.machine.cpu_model = Some("<img src=x onerror=alert(2)>".into());
    }
    let comparison = merge(&files).expect("merge");
    let dir = out_dir("escaped");
    let summary = render(
        &comparison,
        &dir,
        &RenderOptions {
            command: Some("rtbench report <x>".into()),
            ..Default::default()
        },
    )
    .expect("render");
    let html = std::fs::read_to_string(&summary.index).expect("index.html");
    assert!(
        !html.contains("<script"),
        "a script tag from a file reached the page"
    );
    assert!(
        !html.contains("<img src=x"),
        "an img tag from a file reached the page"
    );
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;&amp;&quot;&#39;"));
    assert!(html.contains("rtbench report &lt;x&gt;"));
}

#[test]
fn summary_table_and_json() {
    let comparison = merge(&load_results(&every()).expect("load")).expect("merge");
    let mut out = Vec::new();
    print_summary_table(&comparison, &mut out).expect("write");
    let text = String::from_utf8(out).expect("utf-8");
    println!("{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("100 clients"));
    assert!(
        lines[1].starts_with("transport")
            && lines[1].contains("p99.9")
            && lines[1].contains("srv CPU/1k")
    );
    assert!(lines[2].chars().all(|c| c == '-'));
    let rows = 3..3 + protocol::Transport::COUNT;
    for (line, t) in lines[rows.clone()].iter().zip(protocol::Transport::ALL) {
        assert!(line.starts_with(t.as_str()), "{line}");
    }
    // Aligned: every row as wide as the header.
    let width = lines[1].chars().count();
    assert!(
        lines[rows].iter().all(|l| l.chars().count() == width),
        "rows not aligned:\n{text}"
    );
    assert!(
        lines[3].contains("497 ms") || lines[3].contains("499 ms"),
        "short-poll p50: {}",
        lines[3]
    );

    let json = summary_json(&comparison);
    let t = &json["groups"][0]["transports"];
    assert_eq!(t.as_array().map(Vec::len), Some(protocol::Transport::COUNT));
    assert_eq!(t[0]["transport"], "short-poll");
    assert_eq!(t[3]["transport"], "ws");
    assert_eq!(t[3]["metrics"]["latency_p99_ms"]["value"], 0.995);
    assert_eq!(t[0]["metrics"]["requests_per_sec"]["value"], 100.0);
    assert_eq!(
        t[2]["metrics"]["empty_ratio"],
        serde_json::Value::Null,
        "SSE makes no requests in the window"
    );
    assert_eq!(json["files"], protocol::Transport::COUNT);
}

#[test]
fn degenerate_results_still_render() {
    // A run that delivered nothing, had no /api/stats and was interrupted,
    // next to a normal one: the report must say so, not fail or draw garbage.
    let mut files =
        load_results(&[fixtures().join("ws.json"), fixtures().join("sse.json")]).expect("load");
    let t = &mut files[1].transports[0];
    t.latency_histogram = String::new();
    t.latency = Default::default();
    t.series.clear();
    t.server = None;
    t.wire_bytes = Default::default();
    t.counts = Default::default();
    t.rates = Default::default();
    files[1].partial = true;
    files[1].warnings.push("the target went away".into());
    files[0].transports[0].server = None;
    let comparison = merge(&files).expect("merge");
    let dir = out_dir("degenerate");
    let summary = render(&comparison, &dir, &RenderOptions::default()).expect("render");
    let html = std::fs::read_to_string(&summary.index).expect("index.html");
    assert!(html.contains("sse: the target went away"));
    assert!(html.contains("did not complete"));
    assert!(
        !html.contains("data-metric=\"server_cpu_seconds_per_1k_deliveries\""),
        "no server data, no server rows"
    );
    assert!(
        !html.contains("server-cost"),
        "no server data, no server chart"
    );
    assert_eq!(summary.charts.len(), 4);
    for path in &summary.charts {
        let img = image::open(path).expect("decodes");
        assert_eq!((img.width(), img.height()), (1400, 788));
    }
    let mut out = Vec::new();
    print_summary_table(&comparison, &mut out).expect("table");
    assert!(String::from_utf8_lossy(&out).contains("warning: sse: the target went away"));

    // A file with no transport at all is a group with nothing to show: still no panic.
    let mut empty = load_results(&[fixtures().join("ws.json")]).expect("load");
    empty[0].transports.clear();
    let comparison = merge(&empty).expect("merge");
    render(&comparison, &out_dir("empty"), &RenderOptions::default())
        .expect("render an empty group");
}

#[test]
fn socketio_overhead_over_websocket_is_stated() {
    let comparison = merge(&load_results(&every()).expect("load")).expect("merge");
    let texts: Vec<String> = reports::findings(&comparison.groups[0])
        .into_iter()
        .map(|f| f.text)
        .collect();
    for who in [
        "Socket.IO against raw WebSocket: ",
        "Socket.IO over polling against raw WebSocket: ",
    ] {
        let f = texts
            .iter()
            .find(|t| t.starts_with(who))
            .unwrap_or_else(|| panic!("no finding starting {who:?} in {texts:#?}"));
        for what in [
            "on the wire per delivery against",
            "server CPU per 1,000 deliveries against",
            "server memory per connection against",
            "the WebSocket's)",
        ] {
            assert!(f.contains(what), "{what:?} missing from {f}");
        }
    }
}
