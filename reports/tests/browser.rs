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

/// The page's DOM after Chromium loaded it from `file://`, serialized.
fn dump_dom(index: &Path, profile: &Path) -> String {
    let _ = std::fs::remove_dir_all(profile);
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", index.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn chromium");
    // The DOM (charts inlined) is far larger than a pipe: read it while waiting.
    let mut stdout = child.stdout.take().expect("chromium stdout");
    let reader = std::thread::spawn(move || {
        let mut dom = Vec::new();
        let _ = std::io::Read::read_to_end(&mut stdout, &mut dom);
        dom
    });
    let deadline = Instant::now() + NODE_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for chromium") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            break child.wait().expect("reap chromium");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let dom = reader.join().expect("reader thread");
    assert!(status.success(), "chromium --dump-dom failed: {status}");
    String::from_utf8_lossy(&dom).into_owned()
}

#[test]
fn network_report_has_its_sections_in_the_dom() {
    let root = root();
    check_prerequisites(&root);
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let out = root.join("target/report-browser-dom");
    let dir = render_fixtures(&out, "network", &[fixtures.join("network")]);
    let dom = dump_dom(&dir.join("index.html"), &out.join("profile"));
    let _ = std::fs::remove_dir_all(out.join("profile"));
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
