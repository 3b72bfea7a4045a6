//! The chat page in a real browser: starts the `rtbench` binary as a server on
//! a free port and runs `tests/browser/chat.mjs` (playwright-core driving
//! Debian's headless Chromium) against it. Five users on the page's five
//! TCP transports check user lists, delivery, typing, history, XSS safety and
//! reconnects; `chat-webtransport.mjs` does the same for WebTransport (QUIC),
//! beside a WebSocket page.
//!
//! Needs `node`, `node_modules/playwright-core` (`npm ci`) and
//! `/usr/bin/chromium` (or `$CHROMIUM`); `scripts/test.sh` installs them. When
//! they are missing this test fails and says so: a browser test that skips
//! silently would let the page break unnoticed. Screenshots and the server's
//! log go to `target/browser/`.

use std::fs;
use std::path::Path;
use testkit::browser::{self, repo_root};
use testkit::child::{ChildServer, read_tail};

/// `script` (a node file under tests/browser/) against a server started
/// with `server_args`; its arguments are the server's URL, `extra`, then the
/// screenshot directory. Screenshots and the server log go to `target/<dir>`.
fn page_test(dir: &str, server_args: &[&str], script: &str, extra: &[&str]) -> String {
    browser::check_prerequisites("the browser test");
    let root = repo_root();
    let out_dir = root.join("target").join(dir);
    fs::create_dir_all(&out_dir).expect("create the output directory");
    let server_log = out_dir.join("server.log");
    let mut server = testkit::rtbench!().server(server_args, Some(&server_log));
    let url = server.url.clone();
    let shots = format!("target/{dir}");
    let mut args = vec![script, url.as_str()];
    args.extend_from_slice(extra);
    args.push(&shots);
    run_node(&root, &out_dir, &server_log, &mut server, &args);
    url
}

#[test]
fn chat_page_in_headless_chromium() {
    page_test("browser", &[], "tests/browser/chat.mjs", &[]);
}

/// The same page and checks over TLS: wss, and SSE and polling on HTTP/2.
#[test]
fn chat_page_over_tls_and_http2() {
    let root = repo_root();
    let cert = root.join("testdata/tls/server.pem");
    let key = root.join("testdata/tls/server.key");
    let url = page_test(
        "browser/tls",
        &[
            "--tls-cert",
            &cert.to_string_lossy(),
            "--tls-key",
            &key.to_string_lossy(),
        ],
        "tests/browser/chat.mjs",
        &[],
    );
    assert!(url.starts_with("https://"), "{url}");
}

/// The page's WebTransport option: a WebSocket page and a WebTransport page
/// (the server's self-signed certificate pinned by its hash) chat with each
/// other, hostile names and texts stay text, and the WebTransport page
/// resumes after its session times out (a short heartbeat makes QUIC's idle
/// timeout 6 s: long enough that a busy machine does not end a session the
/// test needs, short enough for the outage).
#[test]
fn chat_page_over_webtransport() {
    page_test(
        "browser/webtransport",
        &["--heartbeat", "3s"],
        "tests/browser/chat-webtransport.mjs",
        &[],
    );
}

/// The page against a server that wants tokens: names from the tokens, and
/// an impersonation attempt refused in the UI.
#[test]
fn chat_page_with_tokens() {
    let secret = "browser test secret";
    let tok = |sub: &str| protocol::token::mint(secret.as_bytes(), sub, Some(4_000_000_000));
    let (a, b, c, d, e) = (
        tok("alice"),
        tok("bob"),
        tok("carol"),
        tok("dan"),
        tok("erin"),
    );
    page_test(
        "browser/auth",
        &["--auth-token-secret", secret],
        "tests/browser/chat-auth.mjs",
        &[&a, &b, &c, &d, &e],
    );
}

/// Run a node browser script against the server and assert it passed.
fn run_node(
    root: &Path,
    out_dir: &Path,
    server_log: &Path,
    server: &mut ChildServer,
    args: &[&str],
) {
    let ca = root.join("testdata/tls/ca.pem");
    let node = browser::run_node(args, &[("NODE_EXTRA_CA_CERTS", &ca)]);
    let server_exit = server.exited();
    assert!(
        node.passed(),
        "browser test failed ({}) against {}\n--- node stdout ---\n{}\n--- node stderr ---\n{}\n\
         --- server ({}) log tail, {} ---\n{}\nscreenshots: {}",
        node.ending(),
        server.url,
        node.stdout,
        node.stderr,
        match server_exit {
            Some(s) => format!("exited: {s}"),
            None => "still running".to_string(),
        },
        server_log.display(),
        read_tail(server_log),
        out_dir.display(),
    );
    assert!(
        server_exit.is_none(),
        "the server exited during the browser test: {server_exit:?}; log:\n{}",
        read_tail(server_log)
    );
}
