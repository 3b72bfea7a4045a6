//! p95 as k6 users expect it: in every loaded result (recomputed from the
//! histogram for files written before it was stored), in thresholds and
//! gates under `p95` and `p(95)`, in the report's table; and error messages
//! about names that stay readable at 100 columns.

use protocol::Transport;
use reports::compare::{CompareOptions, Gate, compare, load_side};
use reports::thresholds::{Threshold, evaluate};
use reports::{load_results, merge};
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

#[test]
fn files_without_p95_get_it_from_their_histogram() {
    let path = fixtures().join("ws.json");
    let raw = std::fs::read_to_string(&path).expect("fixture");
    assert!(!raw.contains("p95_us"), "the fixture predates p95");
    let files = load_results(&[path]).expect("loads");
    let t = &files[0].transports[0];
    let h = protocol::hist::decode(&t.latency_histogram).expect("histogram");
    assert!(!h.is_empty());
    assert_eq!(t.latency.p95_us, h.value_at_quantile(0.95));
    assert!(t.latency.p90_us <= t.latency.p95_us && t.latency.p95_us <= t.latency.p99_us);
    assert!(t.latency.p95_us > 0);
    // A file written now carries it, and reads back the same.
    let json = serde_json::to_string(&files[0]).expect("serialize");
    assert!(json.contains("\"p95_us\""), "{json}");
}

#[test]
fn thresholds_read_p95_under_every_spelling() {
    let files = load_results(&[fixtures().join("ws.json")]).expect("loads");
    let p95 = files[0].transports[0].latency.p95_us as f64;
    for expr in [
        format!("ws.latency.p95<={p95}us"),
        format!("ws.p95<={p95}us"),
        format!("ws.p(95)<={p95}us"),
        format!("*.latency.p(95)<={p95}us"),
    ] {
        let t = Threshold::parse(&expr).unwrap_or_else(|e| panic!("{expr}: {e}"));
        assert_eq!(t.metric.name, "latency.p95", "{expr}");
        let out = evaluate(&[t], &files).expect("evaluate");
        assert_eq!(out[0].actual, Some(p95), "{expr}");
        assert!(out[0].passed, "{expr}: {out:?}");
    }
    let below = Threshold::parse(&format!("ws.p(95)<{p95}us")).expect("parses");
    assert!(!evaluate(&[below], &files).expect("evaluate")[0].passed);
    for (k6, ours) in [
        ("ws.p(99)<1s", "latency.p99"),
        ("ws.p(50)<1s", "latency.p50"),
    ] {
        assert_eq!(Threshold::parse(k6).expect(k6).metric.name, ours);
    }
}

#[test]
fn compare_gates_p95_and_the_report_table_shows_it() {
    let side = load_side(&fixtures().join("compare/baseline")).expect("baseline");
    let regressed = load_side(&fixtures().join("compare/regressed")).expect("regressed");
    for spelling in ["p95=+10%", "p(95)=+10%", "latency.p95=+10%"] {
        let opts = CompareOptions {
            gates: vec![Gate::parse(spelling).expect(spelling)],
            allow_scenario_mismatch: false,
        };
        let r = compare(&side, &regressed, &opts).expect("compare");
        let row = r
            .rows
            .iter()
            .find(|x| x.metric == "latency.p95")
            .unwrap_or_else(|| panic!("{spelling}: no p95 row"));
        let (b, c) = (row.baseline.as_ref(), row.current.as_ref());
        assert!(b.is_some_and(|v| v.value > 0.0), "{spelling}: {row:?}");
        assert!(c.is_some_and(|v| v.value > 0.0), "{spelling}: {row:?}");
    }

    let files = load_results(&[fixtures().join("ws.json")]).expect("loads");
    let summary = reports::summary_json(&merge(&files).expect("merge")).to_string();
    assert!(summary.contains("latency_p95_ms"), "{summary}");
    assert_eq!(files[0].transports[0].transport, Transport::Ws);
}

#[test]
fn name_errors_fit_in_100_columns() {
    for expr in [
        "ws.latency.p97<25ms",
        "http2.loss==0",
        "nothing<1",
        "p99<25ms",
        "ws.latency.p99",
        "sse.empty_ratio<0.5",
    ] {
        let e = Threshold::parse(expr).expect_err(expr).to_string();
        for line in e.lines() {
            assert!(line.chars().count() <= 100, "{expr}: {line:?}");
        }
        assert!(e.lines().next().is_some_and(|l| l.contains(expr)), "{e}");
    }
    let e = Gate::parse("p97=+10%").expect_err("unknown").to_string();
    assert!(e.lines().all(|l| l.chars().count() <= 100), "{e}");
    assert!(e.contains("latency.p95") && e.contains("p(N)"), "{e}");
}
