//! The report in a real browser: renders the committed fixtures (four
//! transports, the three-scenario matrix, and one scenario on four emulated
//! networks) into `target/report-browser/` and runs `tests/browser/report.mjs`
//! (playwright-core driving Debian's headless Chromium) on them from
//! `file://`: no console error, no request beyond the page itself, every
//! chart decoded and visible, no sideways scrolling on a phone. The network
//! report's DOM, as Chromium parsed it (`--dump-dom`), must also hold the
//! network and radio sections with their tables and charts. Screenshots stay
//! in `target/report-browser/` (a CI artifact).
//!
//! Needs `node`, `node_modules/playwright-core` (`npm ci` at the repo root)
//! and `/usr/bin/chromium` (or `$CHROMIUM`). When they are missing this test
//! fails and says so: a browser test that skips silently would let the page
//! break unnoticed.

use reports::{RenderOptions, load_results, merge, render};
use std::path::{Path, PathBuf};
use testkit::browser::{self, repo_root};

fn render_fixtures(out: &Path, name: &str, paths: &[PathBuf]) -> PathBuf {
    let dir = out.join(name);
    let _ = std::fs::remove_dir_all(&dir);
    let comparison = merge(&load_results(paths).expect("fixtures load")).expect("fixtures merge");
    render(&comparison, &dir, &RenderOptions::default()).expect("render");
    dir
}

#[test]
fn report_opens_from_file_in_headless_chromium() {
    browser::check_prerequisites("the report browser test");
    let root = repo_root();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let out = root.join("target/report-browser");
    let four: Vec<PathBuf> = ["short-poll", "long-poll", "sse", "ws"]
        .iter()
        .map(|t| fixtures.join(format!("{t}.json")))
        .collect();
    let dirs = [
        render_fixtures(&out, "four", &four),
        render_fixtures(&out, "matrix", &[fixtures.join("matrix")]),
        render_fixtures(&out, "network", &[fixtures.join("network")]),
    ];

    let mut args = vec![
        PathBuf::from("tests/browser/report.mjs"),
        out.join("screenshots"),
    ];
    args.extend(dirs);
    let node = browser::run_node(&args, &[]);
    assert!(
        node.passed(),
        "report browser test failed ({})\n--- stdout ---\n{}\n--- stderr ---\n{}\nreports and screenshots: {}",
        node.ending(),
        node.stdout,
        node.stderr,
        out.display()
    );
}

#[test]
fn network_report_has_its_sections_in_the_dom() {
    browser::check_prerequisites("the report DOM test");
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let out = repo_root().join("target/report-browser-dom");
    let dir = render_fixtures(&out, "network", &[fixtures.join("network")]);
    let dom = browser::dump_dom(&format!("file://{}", dir.join("index.html").display()));
    for needle in [
        "<section class=\"scenario\" id=\"network\">",
        "<section class=\"scenario\" id=\"radio\">",
        "<table class=\"headline network\">",
        "<table class=\"headline radio\">",
        "id=\"chart-network-latency\"",
        "id=\"chart-network-traffic\"",
        "id=\"chart-radio-energy\"",
        "id=\"chart-radio-on\"",
        "data-network=\"lossy-lte\" data-metric=\"latency_p99_ms\"",
        "data-network=\"3g\" data-metric=\"radio_lte_joules_per_client_hour\"",
    ] {
        assert!(dom.contains(needle), "the DOM lacks {needle}");
    }
    // Parsed, not just served: the sections close where they should (a
    // stray tag would leave the radio section inside the network one).
    let network = dom.find("id=\"network\"").expect("network");
    let radio = dom.find("id=\"radio\"").expect("radio");
    assert!(dom[network..radio].contains("</section>"));
}
