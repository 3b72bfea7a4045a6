//! `compare` on the committed repeat sets (`tests/fixtures/compare/`, written
//! by `examples/gen_fixtures.rs compare`): pass, regression, improvement,
//! noise, single runs, counts, scenario mismatch, bad input. Its renderings
//! are in `compare_render.rs`.

#[path = "support/compare.rs"]
mod support;

use protocol::Transport;
use reports::Error;
use reports::compare::{
    CompareOptions, Gate, GateError, Limit, Method, Verdict, compare, load_side,
};
use support::{copy_dir, fixtures, row, run, scratch, side};

#[test]
fn fixture_sets_have_the_expected_shape() {
    for (set, files) in [
        ("baseline", 6),
        ("same", 6),
        ("regressed", 6),
        ("improved", 6),
        ("noisy", 6),
        ("other-scenario", 2),
        ("lossy", 1),
    ] {
        assert_eq!(side(set).len(), files, "{set}");
    }
    let r = run("baseline", "same");
    assert_eq!(
        (r.baseline.files, r.baseline.runs, r.baseline.min_runs),
        (6, 3, 3)
    );
    // Every gate on every transport: 8 default gates × 2 transports.
    assert_eq!(r.rows.len(), Gate::defaults().len() * 2);
    assert_eq!(r.gates, reports::compare::DEFAULTS);
}

#[test]
fn identical_sets_pass() {
    let r = run("baseline", "baseline");
    assert!(!r.has_regression());
    assert!(
        r.rows.iter().all(|x| x.verdict == Verdict::Pass),
        "{:#?}",
        r.rows
    );
    assert_eq!(row(&r, "ws", "latency.p99").method, Method::Spread);
    assert_eq!(row(&r, "ws", "loss").method, Method::Count);
    assert_eq!(row(&r, "ws", "latency.p99").change, Some(0.0));
    assert!(r.notes.is_empty(), "{:?}", r.notes);
    assert!(
        r.summary_line()
            .starts_with("pass: 16 gates, no regression"),
        "{}",
        r.summary_line()
    );
}

#[test]
fn another_build_without_change_passes() {
    let r = run("baseline", "same");
    assert!(!r.has_regression());
    assert!(
        r.rows.iter().all(|x| x.verdict == Verdict::Pass),
        "{:#?}",
        r.rows
    );
    // The runs do differ: the rule had noise to ignore.
    let p99 = row(&r, "ws", "latency.p99");
    assert!(p99.change.is_some_and(|c| c.abs() > 0.02), "{p99:?}");
}

#[test]
fn a_slower_websocket_is_a_regression() {
    let r = run("baseline", "regressed");
    assert!(r.has_regression());
    let p99 = row(&r, "ws", "latency.p99");
    assert_eq!(
        (p99.verdict, p99.method),
        (Verdict::Regression, Method::Spread)
    );
    let change = p99.change.expect("change");
    assert!(change > 0.35, "{change}");
    let (b, c) = (
        p99.baseline.as_ref().expect("b"),
        p99.current.as_ref().expect("c"),
    );
    assert_eq!((b.runs, c.runs), (3, 3));
    assert!(c.min > b.max, "ranges are separated: {b:?} {c:?}");
    assert!(
        p99.reason.contains("every current run is worse"),
        "{}",
        p99.reason
    );
    assert!(
        r.summary_line().contains("ws latency.p99 +"),
        "{}",
        r.summary_line()
    );
    assert!(
        r.summary_line().starts_with("REGRESSION"),
        "{}",
        r.summary_line()
    );
    // SSE did not change.
    assert!(
        r.rows
            .iter()
            .filter(|x| x.transport == "sse")
            .all(|x| x.verdict == Verdict::Pass)
    );
}

#[test]
fn a_faster_websocket_is_an_improvement() {
    let r = run("baseline", "improved");
    assert!(!r.has_regression());
    let p50 = row(&r, "ws", "latency.p50");
    assert_eq!(p50.verdict, Verdict::Improvement, "{p50:?}");
    assert!(p50.change.is_some_and(|c| c < -0.25));
    assert!(
        r.summary_line().contains("1 improvement"),
        "{}",
        r.summary_line()
    );
}

#[test]
fn beyond_the_gate_but_overlapping_is_within_noise() {
    let r = run("baseline", "noisy");
    assert!(!r.has_regression(), "{:#?}", r.rows);
    let p99 = row(&r, "ws", "latency.p99");
    assert_eq!(p99.verdict, Verdict::WithinNoise);
    assert!(
        p99.change.is_some_and(|c| c > 0.25),
        "median beyond the +25% gate: {p99:?}"
    );
    let (b, c) = (
        p99.baseline.as_ref().expect("b"),
        p99.current.as_ref().expect("c"),
    );
    assert!(c.min <= b.max, "ranges overlap");
    assert!(p99.reason.contains("overlap"), "{}", p99.reason);
    assert!(r.summary_line().contains("within noise"));
}

#[test]
fn a_single_run_compares_plainly_and_says_so() {
    let base = side("baseline");
    let one = side("regressed/ws-r1.json");
    let r = compare(&base, &one, &CompareOptions::default()).expect("compare");
    assert!(r.has_regression());
    let p99 = row(&r, "ws", "latency.p99");
    assert_eq!(
        (p99.verdict, p99.method),
        (Verdict::Regression, Method::SingleRun)
    );
    assert_eq!(p99.verdict_text(), "regression (single run)");
    assert!(p99.reason.contains("no noise estimate"));
    assert!(
        r.notes.iter().any(|n| n.contains("single run")),
        "{:?}",
        r.notes
    );
    assert!(
        r.notes
            .iter()
            .any(|n| n.contains("sse is only in the baseline")),
        "{:?}",
        r.notes
    );
    assert_eq!(r.current.runs, 1);

    // The same single run of an unchanged build passes, still marked.
    let r = compare(&base, &side("same/ws-r1.json"), &CompareOptions::default()).expect("compare");
    assert!(!r.has_regression());
    let p99 = row(&r, "ws", "latency.p99");
    assert_eq!(
        (p99.verdict, p99.method),
        (Verdict::Pass, Method::SingleRun)
    );
    assert_eq!(p99.verdict_text(), "pass (single run)");
}

#[test]
fn more_loss_is_a_regression_even_with_one_run() {
    let r = run("baseline", "lossy");
    let loss = row(&r, "ws", "loss");
    assert_eq!(
        (loss.verdict, loss.method),
        (Verdict::Regression, Method::Count)
    );
    assert_eq!(loss.current.as_ref().and_then(|v| v.total), Some(3.0));
    assert_eq!(loss.change_text, "+3 per run");
    assert!(loss.reason.contains("no increase"), "{}", loss.reason);
    // Everything else of that run is fine.
    assert_eq!(r.with_verdict(Verdict::Regression).count(), 1);
    // Less loss is an improvement, and a gate with room lets it through.
    let r = run("lossy", "baseline");
    assert_eq!(row(&r, "ws", "loss").verdict, Verdict::Improvement);
    let opts = CompareOptions {
        gates: vec![Gate::parse("loss=+5").expect("gate")],
        ..Default::default()
    };
    let r = compare(&side("baseline"), &side("lossy"), &opts).expect("compare");
    assert_eq!(r.rows.len(), 1);
    assert_eq!(row(&r, "ws", "loss").verdict, Verdict::Pass);
}

#[test]
fn gates_can_be_loosened_or_absolute() {
    let (base, cur) = (side("baseline"), side("regressed"));
    let with = |gates: &[&str]| {
        let opts = CompareOptions {
            gates: gates
                .iter()
                .map(|g| Gate::parse(g).expect("gate"))
                .collect(),
            allow_scenario_mismatch: false,
        };
        compare(&base, &cur, &opts).expect("compare")
    };
    assert!(!with(&["p99=+60%"]).has_regression());
    assert!(with(&["p99=+10%"]).has_regression());
    assert!(
        !with(&["p99=+1ms"]).has_regression(),
        "the change is under 1 ms"
    );
    assert!(with(&["p99=+100us"]).has_regression());
    let r = with(&["latency.max=+1000%", "server.cpu_percent=+10%"]);
    assert!(!r.has_regression());
}

#[test]
fn not_measured_is_skipped_with_a_note() {
    let base = side("baseline");
    let mut cur = side("same");
    for f in &mut cur {
        for t in &mut f.transports {
            t.server = None;
        }
    }
    let opts = CompareOptions {
        gates: vec![Gate::parse("server.cpu_per_1k_deliveries=+20%").expect("gate")],
        ..Default::default()
    };
    let r = compare(&base, &cur, &opts).expect("compare");
    assert!(!r.has_regression());
    let x = row(&r, "ws", "server.cpu_per_1k_deliveries");
    assert_eq!(x.verdict, Verdict::NotMeasured);
    assert!(
        x.reason.contains("current side") && x.reason.contains("/api/stats"),
        "{}",
        x.reason
    );
    assert!(r.summary_line().contains("not measured"));
}

#[test]
fn different_scenarios_are_refused_unless_allowed() {
    let (base, other) = (side("baseline"), side("other-scenario"));
    let e = compare(&base, &other, &CompareOptions::default()).expect_err("mismatch");
    assert!(matches!(e, Error::ScenarioMismatch { .. }), "{e:?}");
    assert!(e.is_input_error());
    let msg = e.to_string();
    assert!(msg.contains("clients 100 → 200"), "{msg}");
    assert!(msg.contains("--allow-scenario-mismatch"), "{msg}");

    let opts = CompareOptions {
        allow_scenario_mismatch: true,
        ..Default::default()
    };
    let r = compare(&base, &other, &opts).expect("allowed");
    assert_eq!(r.rows.len(), 16);
    assert!(
        r.scenario_differences
            .iter()
            .any(|d| d == "clients 100 → 200")
    );
    assert!(
        r.notes.iter().any(|n| n.contains("scenarios differ")),
        "{:?}",
        r.notes
    );
}

#[test]
fn another_seed_or_scenario_file_name_is_the_same_scenario() {
    let base = side("baseline");
    let mut cur = side("same");
    for f in &mut cur {
        f.scenario.seed = 99;
        f.scenario.scenario_file = Some("./scenarios/ci.toml".into());
    }
    assert!(compare(&base, &cur, &CompareOptions::default()).is_ok());
    // A short-poll interval is part of the workload.
    let mut sp = side("same");
    for f in &mut sp {
        f.transports.retain(|t| t.transport == Transport::Ws);
        f.scenario.poll_interval_secs = Some(0.5);
    }
    sp.retain(|f| !f.transports.is_empty());
    let mut bp = side("baseline");
    for f in &mut bp {
        f.transports.retain(|t| t.transport == Transport::Ws);
    }
    bp.retain(|f| !f.transports.is_empty());
    // Only a polling transport carries it: WebSocket runs still pair.
    assert!(compare(&bp, &sp, &CompareOptions::default()).is_ok());
}

#[test]
fn nothing_in_common_is_an_input_error() {
    let mut base = side("baseline");
    base.retain(|f| f.transports[0].transport == Transport::Sse);
    let mut cur = side("same");
    cur.retain(|f| f.transports[0].transport == Transport::Ws);
    let e = compare(&base, &cur, &CompareOptions::default()).expect_err("disjoint");
    assert!(matches!(e, Error::NothingToCompare(_)), "{e:?}");
    assert!(e.is_input_error());
    assert!(
        e.to_string().contains("sse") && e.to_string().contains("ws"),
        "{e}"
    );
    let e = compare(&[], &cur, &CompareOptions::default()).expect_err("empty");
    assert!(e.is_input_error());
}

#[test]
fn bad_input_is_an_input_error_that_names_the_file() {
    // Missing.
    let e = load_side(&fixtures().join("no-such-set")).expect_err("missing");
    assert!(
        matches!(e, Error::NotFound { .. }) && e.is_input_error(),
        "{e:?}"
    );

    // Corrupted: a result file cut off in the middle.
    let dir = scratch("corrupted");
    copy_dir(&fixtures().join("baseline"), &dir);
    let victim = dir.join("ws-r2.json");
    let text = std::fs::read_to_string(&victim).expect("read");
    std::fs::write(&victim, &text[..text.len() / 2]).expect("truncate");
    let e = load_side(&dir).expect_err("corrupted");
    assert!(
        matches!(e, Error::Json { .. }) && e.is_input_error(),
        "{e:?}"
    );
    assert!(e.to_string().contains("ws-r2.json"), "{e}");
    let e = load_side(&victim).expect_err("corrupted file");
    assert!(e.is_input_error());

    // Another schema version.
    let mut doc: serde_json::Value = serde_json::from_str(&text).expect("json");
    doc["schema_version"] = serde_json::json!(2);
    std::fs::write(&victim, doc.to_string()).expect("write");
    let e = load_side(&dir).expect_err("schema");
    assert!(
        matches!(e, Error::SchemaVersion { .. }) && e.is_input_error(),
        "{e:?}"
    );

    // A directory with no result file.
    let empty = scratch("empty");
    std::fs::write(empty.join("summary.json"), "{\"groups\":[]}").expect("write");
    let e = load_side(&empty).expect_err("no results");
    assert!(
        matches!(e, Error::NoInput(_)) && e.is_input_error(),
        "{e:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&empty);
}

#[test]
fn a_bench_output_folder_is_read_from_its_results_subfolder() {
    let dir = scratch("bench-out");
    copy_dir(&fixtures().join("regressed"), &dir.join("results"));
    std::fs::write(dir.join("summary.json"), "{\"groups\":[]}").expect("write");
    std::fs::write(dir.join("index.html"), "<html></html>").expect("write");
    let files = load_side(&dir).expect("bench folder");
    assert_eq!(files.len(), 6);
    let r = compare(&side("baseline"), &files, &CompareOptions::default()).expect("compare");
    assert!(r.has_regression());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn gate_syntax() {
    let g = Gate::parse("p99=+10%").expect("gate");
    assert_eq!(
        (g.metric.name, g.limit),
        ("latency.p99", Limit::Relative(0.10))
    );
    assert_eq!(g.to_string(), "latency.p99=+10%");
    let g = Gate::parse("deliveries_per_sec=-5%").expect("gate");
    assert_eq!(g.limit, Limit::Relative(0.05));
    assert_eq!(g.change_text(), "-5%");
    assert_eq!(
        Gate::parse("bytes_per_delivery=+2%").expect("gate").limit,
        Limit::Relative(0.02)
    );
    assert_eq!(
        Gate::parse("loss=+0").expect("gate").limit,
        Limit::Absolute(0.0)
    );
    assert_eq!(Gate::parse("lost = 0").expect("gate").metric.name, "loss");
    assert_eq!(
        Gate::parse("p99=10%").expect("gate").limit,
        Limit::Relative(0.10)
    );
    assert_eq!(
        Gate::parse("p50=+2ms").expect("gate").limit,
        Limit::Absolute(2_000.0)
    );
    assert_eq!(
        Gate::parse("p50=+2ms").expect("gate").change_text(),
        "+2.00 ms"
    );
    assert_eq!(
        Gate::parse("deliveries_per_sec=-0").expect("gate").limit,
        Limit::Absolute(0.0)
    );

    let e = Gate::parse("deliveries_per_sec=+5%").expect_err("direction");
    assert!(matches!(e, GateError::Direction { .. }), "{e:?}");
    assert!(e.to_string().contains("write -5%"), "{e}");
    let e = Gate::parse("p99=-10%").expect_err("direction");
    assert!(e.to_string().contains("write +10%"), "{e}");
    let e = Gate::parse("p42=+1%").expect_err("metric");
    assert!(matches!(e, GateError::UnknownMetric { .. }));
    assert!(
        e.to_string().contains("latency.p99"),
        "lists the names: {e}"
    );
    for bad in [
        "p99",
        "=+1%",
        "p99=",
        "p99=+abc%",
        "p99=+1 parsec",
        "loss=+1ms",
    ] {
        assert!(Gate::parse(bad).is_err(), "{bad}");
    }

    let gates = Gate::with_defaults(vec![
        Gate::parse("p99=+10%").expect("gate"),
        Gate::parse("server.cpu_percent=+50%").expect("gate"),
    ]);
    let names: Vec<String> = gates.iter().map(Gate::to_string).collect();
    assert!(names.contains(&"latency.p99=+10%".to_string()), "{names:?}");
    assert!(
        !names.contains(&"latency.p99=+25%".to_string()),
        "{names:?}"
    );
    assert!(names.contains(&"latency.p50=+15%".to_string()), "{names:?}");
    assert!(
        names.contains(&"server.cpu_percent=+50%".to_string()),
        "{names:?}"
    );
    assert_eq!(gates.len(), Gate::defaults().len() + 1);
}
