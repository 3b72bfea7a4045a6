//! The CI gate end to end with the real binary: thresholds fail a run with
//! exit 99 (results still written); `compare` passes an unchanged rerun and
//! catches a regression made with `--inject-latency`.
//!
//! Short polling at 200 ms is the subject on purpose: its latency is set by
//! the interval, not by how busy the machine is while other tests run,
//! so an unchanged rerun is stable and a 20 ms injection (+20% on p50) is a
//! clear regression.

use std::path::{Path, PathBuf};
use std::process::Output;
use testkit::child::text;

fn rtbench(args: &[&str]) -> Output {
    testkit::rtbench!().run(args)
}

fn scratch(name: &str) -> PathBuf {
    testkit::rtbench!().scratch(name)
}

fn bench(out: &Path, extra: &[&str]) -> Output {
    let out = out.to_str().expect("utf-8 path");
    let mut args = vec![
        "bench",
        "--transports",
        "short-poll",
        "--poll-interval",
        "200ms",
        "--clients",
        "20",
        "--rate",
        "20",
        "--duration",
        "3s",
        "--warmup",
        "500ms",
        "--drain",
        "1s",
        "--seed",
        "3",
        "--quiet",
        "--out",
        out,
    ];
    args.extend_from_slice(extra);
    rtbench(&args)
}

#[test]
fn failing_threshold_exits_99_after_writing_results() {
    let out = scratch("gate-threshold");
    let o = bench(
        &out,
        &[
            "--threshold",
            "short-poll.loss==0",
            "--threshold",
            "*.latency.p50<1ms",
        ],
    );
    assert_eq!(o.status.code(), Some(99), "{}", text(&o));
    let t = text(&o);
    assert!(t.contains("latency.p50"), "names the failed threshold: {t}");
    assert!(
        out.join("results/short-poll.json").is_file(),
        "results written anyway"
    );
    assert!(out.join("index.html").is_file());

    // A typo is a usage error before any load.
    let o = rtbench(&[
        "bench",
        "--threshold",
        "ws.latncy.p99<5ms",
        "--out",
        out.to_str().unwrap_or("."),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("latency.p99"),
        "lists valid names: {}",
        text(&o)
    );
}

#[test]
fn compare_passes_a_rerun_and_catches_injected_latency() {
    let base = scratch("gate-base");
    let same = scratch("gate-same");
    let slow = scratch("gate-slow");
    for (dir, extra) in [
        (&base, vec![]),
        (&same, vec![]),
        (&slow, vec!["--server-arg=--inject-latency=20ms"]),
    ] {
        let mut args = vec!["--repeat", "3"];
        args.extend(extra);
        let o = bench(dir, &args);
        assert!(o.status.success(), "{}", text(&o));
    }
    let b = base.to_str().expect("path");
    // The rerun is judged with wide latency gates: a debug build sharing
    // the machine's cores with the rest of the test suite is noisy (the
    // default gates flagged an unchanged rerun once in a full run). The injected 20 ms is
    // judged with the default gates (+20% on a 100 ms short-poll p50).
    let gates = [
        "--max-regression",
        "latency.p50=+100%",
        "--max-regression",
        "latency.p99=+200%",
    ];
    let mut args = vec!["compare", b, same.to_str().expect("path")];
    args.extend(gates);
    let o = rtbench(&args);
    assert_eq!(
        o.status.code(),
        Some(0),
        "an unchanged rerun passes: {}",
        text(&o)
    );

    let md = slow.join("compare.md");
    let junit = slow.join("junit.xml");
    let args = vec![
        "compare",
        b,
        slow.to_str().expect("path"),
        "--markdown",
        md.to_str().expect("path"),
        "--junit",
        junit.to_str().expect("path"),
    ];
    let o = rtbench(&args);
    assert_eq!(
        o.status.code(),
        Some(99),
        "20 ms more latency is a regression: {}",
        text(&o)
    );
    assert!(
        text(&o).contains("latency.p50"),
        "names the latency gate: {}",
        text(&o)
    );
    let md = std::fs::read_to_string(md).expect("markdown written");
    assert!(md.contains("latency.p50"));
    let junit = std::fs::read_to_string(junit).expect("junit written");
    assert!(junit.contains("<failure"));
}

#[test]
fn compare_refuses_bad_input_with_exit_2() {
    let o = rtbench(&["compare", "/nonexistent/a", "/nonexistent/b"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let o = rtbench(&["compare", ".", ".", "--max-regression", "p99=-10%"]);
    assert_eq!(o.status.code(), Some(2), "wrong direction: {}", text(&o));
}

/// Rates that the gates judge must not jump when nothing changed. Short
/// polling is the hard case: counted by receive time, its deliveries per
/// second over a few seconds depended on how many polls fell inside the
/// window (a third up or down at 200 ms polls and a 3 s window). Counted by
/// publish time (messages whose intended send time is in the window,
/// delivered by the end of the drain, per second of window) it is the
/// published rate times the subscribers whenever nothing is lost.
#[test]
fn short_poll_deliveries_per_sec_is_exact_when_nothing_is_lost() {
    let out = scratch("rates-short-poll");
    let o = bench(&out, &["--repeat", "2"]);
    assert!(o.status.success(), "{}", text(&o));
    let mut seen = 0;
    for entry in std::fs::read_dir(out.join("results")).expect("results") {
        let path = entry.expect("entry").path();
        let file: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("json");
        let t = &file["transports"][0];
        let counts = &t["counts"];
        assert_eq!(counts["lost"], 0, "{}", path.display());
        let published = counts["published"].as_f64().expect("published");
        assert_eq!(published, 60.0, "20 msg/s over 3 s: {}", path.display());
        // 60 messages × 20 subscribers over the 3 s window.
        assert_eq!(
            t["rates"]["deliveries_per_sec"].as_f64(),
            Some(400.0),
            "{}",
            path.display()
        );
        seen += 1;
    }
    assert_eq!(seen, 2, "two repeats");
}
