//! Thresholds: the expression syntax (every operator, units, aliases, `*`,
//! and the usage errors that list what is valid), and evaluation on the
//! committed fixtures (pass, fail, not measured, `*` expansion, repeats pooled).

use protocol::Transport;
use protocol::results::ResultFile;
use reports::metric::METRICS;
use reports::thresholds::{Op, Threshold, ThresholdError, any_failed, evaluate, print_outcomes};
use reports::{load_results, merge};
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn four() -> Vec<ResultFile> {
    let paths: Vec<PathBuf> = Transport::ALL
        .iter()
        .map(|t| fixture(&format!("{t}.json")))
        .collect();
    load_results(&paths).expect("fixtures load")
}

fn one(name: &str) -> Vec<ResultFile> {
    load_results(&[fixture(name)]).expect("fixture loads")
}

fn parse(expr: &str) -> Threshold {
    Threshold::parse(expr).unwrap_or_else(|e| panic!("{expr}: {e}"))
}

fn eval(exprs: &[&str], files: &[ResultFile]) -> Vec<reports::Outcome> {
    let t = Threshold::parse_all(exprs).expect("valid thresholds");
    evaluate(&t, files).expect("evaluate")
}

#[test]
fn valid_expressions() {
    let cases: &[(&str, Option<Transport>, &str, Op, f64)] = &[
        (
            "ws.latency.p99<25ms",
            Some(Transport::Ws),
            "latency.p99",
            Op::Lt,
            25_000.0,
        ),
        ("sse.loss==0", Some(Transport::Sse), "loss", Op::Eq, 0.0),
        (
            "short-poll.bytes_per_delivery<900",
            Some(Transport::ShortPoll),
            "bytes_per_delivery",
            Op::Lt,
            900.0,
        ),
        ("*.errors==0", None, "errors", Op::Eq, 0.0),
        (
            "ws.p99 <= 1.5s",
            Some(Transport::Ws),
            "latency.p99",
            Op::Le,
            1_500_000.0,
        ),
        (
            "long-poll.latency.p50 > 500us",
            Some(Transport::LongPoll),
            "latency.p50",
            Op::Gt,
            500.0,
        ),
        (
            "ws.latency.p50>250µs",
            Some(Transport::Ws),
            "latency.p50",
            Op::Gt,
            250.0,
        ),
        (
            "ws.max>=2",
            Some(Transport::Ws),
            "latency.max",
            Op::Ge,
            2_000.0,
        ),
        ("sse.lost != 0", Some(Transport::Sse), "loss", Op::Ne, 0.0),
        (
            "ws.p99.9<5ms",
            Some(Transport::Ws),
            "latency.p999",
            Op::Lt,
            5_000.0,
        ),
        (
            "ws.mean<1",
            Some(Transport::Ws),
            "latency.mean",
            Op::Lt,
            1_000.0,
        ),
        (
            "short-poll.empty_ratio<90%",
            Some(Transport::ShortPoll),
            "empty_ratio",
            Op::Lt,
            0.9,
        ),
        (
            "long-poll.empty_ratio<=0.25",
            Some(Transport::LongPoll),
            "empty_ratio",
            Op::Le,
            0.25,
        ),
        (
            "ws.server.cpu_per_1k_deliveries<10ms",
            Some(Transport::Ws),
            "server.cpu_per_1k_deliveries",
            Op::Lt,
            0.01,
        ),
        (
            "ws.server.rss_per_connection<8KiB",
            Some(Transport::Ws),
            "server.rss_per_connection",
            Op::Lt,
            8192.0,
        ),
        (
            "ws.loadgen.rss_per_client < 16k",
            Some(Transport::Ws),
            "loadgen.rss_per_client",
            Op::Lt,
            16_384.0,
        ),
        (
            "*.server.cpu_percent<80%",
            None,
            "server.cpu_percent",
            Op::Lt,
            80.0,
        ),
        (
            "*.deliveries_per_sec>=900/s",
            None,
            "deliveries_per_sec",
            Op::Ge,
            900.0,
        ),
        (
            "*.requests_per_sec<1.5k",
            None,
            "requests_per_sec",
            Op::Lt,
            1_500.0,
        ),
        (
            "ws.overhead_ratio<3x",
            Some(Transport::Ws),
            "overhead_ratio",
            Op::Lt,
            3.0,
        ),
        (
            "ws.publish_latency.p99<5ms",
            Some(Transport::Ws),
            "publish_latency.p99",
            Op::Lt,
            5_000.0,
        ),
        (
            "sse.connect_time.max<1s",
            Some(Transport::Sse),
            "connect_time.max",
            Op::Lt,
            1e6,
        ),
        (
            "  WS.Latency.P99 < 25 ms ",
            Some(Transport::Ws),
            "latency.p99",
            Op::Lt,
            25_000.0,
        ),
        ("*.duplicate==0", None, "duplicate", Op::Eq, 0.0),
        ("*.reordered==0", None, "reordered", Op::Eq, 0.0),
        ("*.reconnects<10", None, "reconnects", Op::Lt, 10.0),
        ("*.publish_errors==0", None, "publish_errors", Op::Eq, 0.0),
        (
            "*.loadgen.cpu_percent<150",
            None,
            "loadgen.cpu_percent",
            Op::Lt,
            150.0,
        ),
    ];
    for (expr, transport, metric, op, limit) in cases {
        let t = parse(expr);
        assert_eq!(t.transport, *transport, "{expr}");
        assert_eq!(t.metric.name, *metric, "{expr}");
        assert_eq!(t.op, *op, "{expr}");
        assert!(
            (t.limit - limit).abs() < 1e-9,
            "{expr}: {} != {limit}",
            t.limit
        );
        assert_eq!(t.expr, expr.trim());
    }
    // Every metric of the namespace can be named.
    for m in METRICS {
        let t = parse(&format!("*.{}>=0", m.name));
        assert_eq!(t.metric.name, m.name);
    }
}

#[test]
fn bad_expressions_are_usage_errors_that_say_what_is_valid() {
    let err = |expr: &str| Threshold::parse(expr).expect_err(expr);

    let e = err("ws.latency.p42<1ms");
    assert!(matches!(e, ThresholdError::UnknownMetric { ref name, .. } if name == "latency.p42"));
    let msg = e.to_string();
    for name in [
        "latency.p99",
        "bytes_per_delivery",
        "server.cpu_percent",
        "loss",
        "p99 = latency.p99",
    ] {
        assert!(msg.contains(name), "{msg} should list {name}");
    }

    let e = err("http2.loss==0");
    assert!(
        matches!(e, ThresholdError::UnknownTransport { .. }),
        "{e:?}"
    );
    assert!(
        e.to_string().contains("short-poll, long-poll, sse, ws"),
        "{e}"
    );

    for (expr, hint) in [
        ("ws.latency.p99", "no comparison operator"),
        ("ws.latency.p99=25ms", "=="),
        ("ws.latency.p99=<25ms", "=="),
        ("ws.latency.p99<<25ms", "unknown operator"),
        ("ws.latency.p99<", "no value"),
        ("", "empty"),
        ("nothing<1", "TRANSPORT"),
    ] {
        let e = err(expr);
        assert!(matches!(e, ThresholdError::Syntax { .. }), "{expr}: {e:?}");
        let msg = e.to_string();
        assert!(msg.contains(hint), "{expr}: {msg}");
        // Bad syntax lists the valid names too.
        assert!(
            msg.contains("latency.p99") && msg.contains("errors"),
            "{msg}"
        );
    }

    for expr in [
        "ws.latency.p99<fast",
        "ws.loss<5ms",
        "ws.latency.p99<25 parsecs",
        "short-poll.empty_ratio<50",
        "ws.latency.p99<-1ms",
        "ws.bytes_per_delivery<1TiB",
    ] {
        let e = err(expr);
        assert!(matches!(e, ThresholdError::Value { .. }), "{expr}: {e:?}");
    }
    let e = err("ws.loss<5ms");
    assert!(e.to_string().contains("a count"), "{e}");

    let e = err("sse.empty_ratio<0.5");
    assert!(
        matches!(
            e,
            ThresholdError::NotApplicable {
                transport: Transport::Sse,
                ..
            }
        ),
        "{e:?}"
    );
}

#[test]
fn a_metric_without_its_transport_gets_a_short_answer() {
    let err = |expr: &str| Threshold::parse(expr).expect_err(expr);
    for (expr, hint) in [
        ("latency.p99<25ms", "*.latency.p99"),
        ("server.cpu_percent<50", "*.server.cpu_percent"),
        ("p99<25ms", "*.p99"),
        ("p(95)<25ms", "*.p(95)"),
    ] {
        let e = err(expr);
        assert!(
            matches!(e, ThresholdError::NoTransport { .. }),
            "{expr}: {e:?}"
        );
        let msg = e.to_string();
        assert!(msg.contains(hint), "{expr}: {msg}");
        // Short: the metric is right, only the transport is missing.
        assert!(msg.lines().count() <= 2 && msg.len() < 200, "{msg}");
    }
}

#[test]
fn thresholds_pass_and_fail_on_the_fixtures() {
    let files = four();
    let ws = &files[3].transports[0];
    assert_eq!(ws.transport, Transport::Ws);
    let p99 = ws.latency.p99_us as f64;
    let out = eval(
        &[
            "ws.latency.p99<25ms",
            &format!("ws.latency.p99<{}us", p99),
            &format!("ws.latency.p99<={}us", p99),
            "sse.loss==0",
            "short-poll.bytes_per_delivery<900",
            "short-poll.requests_per_sec>=100",
        ],
        &files,
    );
    let passed: Vec<bool> = out.iter().map(|o| o.passed).collect();
    assert_eq!(passed, [true, false, true, true, true, true], "{out:#?}");
    assert_eq!(out[0].transport, "ws");
    assert_eq!(out[0].actual, Some(p99));
    assert_eq!(out[0].shown, "0.995 ms");
    assert!(out[0].reason.is_empty());
    assert_eq!(out[1].reason, "0.995 ms is not < 0.995 ms");
    assert!(any_failed(&out));
    assert!(!any_failed(&out[..1]));
}

#[test]
fn star_expands_to_every_transport_the_metric_applies_to() {
    let files = four();
    let out = eval(
        &["*.loss==0", "*.empty_ratio<100%", "*.latency.p50<100ms"],
        &files,
    );
    let by = |expr: &str| -> Vec<(String, bool)> {
        out.iter()
            .filter(|o| o.expr == expr)
            .map(|o| (o.transport.clone(), o.passed))
            .collect()
    };
    let all: Vec<String> = Transport::ALL.iter().map(|t| t.to_string()).collect();
    assert_eq!(
        by("*.loss==0")
            .iter()
            .map(|p| p.0.clone())
            .collect::<Vec<_>>(),
        all
    );
    assert!(by("*.loss==0").iter().all(|p| p.1));
    assert_eq!(
        by("*.empty_ratio<100%"),
        [
            ("short-poll".to_string(), true),
            ("long-poll".to_string(), true),
            ("socketio-polling".to_string(), true)
        ]
    );
    // Short polling at 1 s has a ~500 ms median: the one failure.
    let p50 = by("*.latency.p50<100ms");
    assert_eq!(
        p50.iter()
            .filter(|p| !p.1)
            .map(|p| p.0.as_str())
            .collect::<Vec<_>>(),
        ["short-poll"]
    );
}

#[test]
fn what_was_not_measured_fails_and_says_why() {
    let mut files = one("ws.json");
    files[0].transports[0].server = None;
    let out = eval(
        &[
            "ws.server.cpu_percent<50",
            "*.server.rss_per_connection<1MiB",
            "long-poll.loss==0",
            "*.empty_ratio<0.5",
            "ws.loss==0",
        ],
        &files,
    );
    let failed: Vec<(&str, &str)> = out
        .iter()
        .filter(|o| !o.passed)
        .map(|o| (o.expr.as_str(), o.reason.as_str()))
        .collect();
    assert_eq!(failed.len(), 4, "{out:#?}");
    assert!(
        failed[0].1.starts_with("not measured") && failed[0].1.contains("/api/stats"),
        "{failed:?}"
    );
    assert_eq!(out[0].shown, "not measured");
    assert_eq!(out[0].actual, None);
    assert!(failed[1].1.contains("not measured"), "{failed:?}");
    assert_eq!(
        failed[2],
        (
            "long-poll.loss==0",
            "not measured: the results have no long-poll run"
        )
    );
    assert_eq!(out[2].transport, "long-poll");
    assert!(
        failed[3]
            .1
            .contains("no transport measured that empty_ratio applies to"),
        "{failed:?}"
    );
    assert!(out[4].passed);
}

#[test]
fn repeats_are_pooled_totals_and_exact_percentiles() {
    let mut files =
        load_results(&[fixture("ws.json"), fixture("more/ws-repeat.json")]).expect("load");
    files[0].transports[0].counts.lost = 2;
    files[1].transports[0].counts.lost = 1;
    let merged = merge(&files).expect("merge");
    let pooled = &merged.groups[0].entries[0].merged;
    assert_eq!(merged.groups[0].entries[0].runs.len(), 2);
    let out = eval(&["ws.loss<3", "ws.loss<=3", "ws.latency.p99<1s"], &files);
    assert_eq!(
        out.iter().map(|o| o.passed).collect::<Vec<_>>(),
        [false, true, true]
    );
    assert_eq!(out[0].actual, Some(3.0));
    assert_eq!(out[2].actual, Some(pooled.latency.p99_us as f64));
}

#[test]
fn a_matrix_names_the_scenario() {
    let files = load_results(&[fixture("matrix")]).expect("matrix");
    let out = eval(&["*.loss==0"], &files);
    assert_eq!(
        out.len(),
        3 * Transport::COUNT,
        "every transport of 3 scenarios"
    );
    assert!(out.iter().all(|o| o.passed && o.scenario.is_some()));
    assert!(
        out[0]
            .scenario
            .as_deref()
            .is_some_and(|s| s.contains("clients"))
    );
}

#[test]
fn outcomes_print_like_k6() {
    let files = four();
    let mut files_no_server = files.clone();
    files_no_server[3].transports[0].server = None;
    let out = eval(
        &[
            "ws.latency.p99<25ms",
            "*.loss==0",
            "sse.latency.p50<0.1ms",
            "ws.server.cpu_percent<50",
        ],
        &files_no_server,
    );
    let mut buf = Vec::new();
    print_outcomes(&out, &mut buf).expect("print");
    let text = String::from_utf8(buf).expect("utf8");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "thresholds");
    assert!(
        lines[1].starts_with("  ✓ ws.latency.p99<25ms") && lines[1].ends_with("0.995 ms"),
        "{text}"
    );
    assert!(text.contains("✗ sse.latency.p50<0.1ms"), "{text}");
    assert!(text.contains("is not < 0.100 ms"), "{text}");
    assert!(
        text.contains("not measured: the server reported no cost"),
        "{text}"
    );
    // `*.loss==0` is one threshold per transport.
    let total = Transport::COUNT + 3;
    assert_eq!(
        lines.last().copied(),
        Some(format!("2 of {total} thresholds failed").as_str())
    );
    // Columns line up: the transport column starts at the same place on every line.
    let col = 4
        + out
            .iter()
            .map(|o| o.expr.chars().count())
            .max()
            .unwrap_or(0)
        + 2;
    for (line, o) in lines[1..8].iter().zip(&out) {
        let rest: String = line.chars().skip(col).collect();
        assert!(rest.starts_with(&o.transport), "{line:?} at {col}");
    }

    let mut buf = Vec::new();
    print_outcomes(&out[..1], &mut buf).expect("print");
    assert!(
        String::from_utf8(buf)
            .expect("utf8")
            .ends_with("all 1 thresholds passed\n")
    );
}
