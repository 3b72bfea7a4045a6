//! The chat page in a real browser: starts the `rtbench` binary as a server on
//! a free port and runs `tests/browser/chat.mjs` (playwright-core driving
//! Debian's headless Chromium) against it. Four users on the four transports
//! check user lists, delivery, typing, history, XSS safety and reconnects.
//!
//! Needs `node`, `node_modules/playwright-core` (`npm ci`) and
//! `/usr/bin/chromium` (or `$CHROMIUM`); `scripts/test.sh` installs them. When
//! they are missing this test fails and says so: a browser test that skips
//! silently would let the page break unnoticed. Screenshots and the server's
//! log go to `target/browser/`.

use std::fs::{self, File};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// How long the server may take to print its address (a debug build, a busy 2-core box).
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);
/// The script bounds itself at 60 s; this is the backstop if node itself hangs.
const NODE_TIMEOUT: Duration = Duration::from_secs(120);

/// Kills the child on drop, so a failed assertion or panic never leaks a server.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn chromium() -> PathBuf {
    std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
}

/// Fails (never skips) with what to run when a prerequisite is missing.
fn check_prerequisites(root: &Path) {
    let mut missing = Vec::new();
    if Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| !s.success())
        .unwrap_or(true)
    {
        missing.push("`node` (Debian package nodejs)".to_string());
    }
    if !root
        .join("node_modules/playwright-core/package.json")
        .exists()
    {
        missing.push("node_modules/playwright-core (`npm ci` at the repo root)".to_string());
    }
    let chromium = chromium();
    if !chromium.exists() {
        missing.push(format!("{} (Debian package chromium)", chromium.display()));
    }
    assert!(
        missing.is_empty(),
        "the browser test cannot run, missing: {}.\nRun scripts/test.sh, which installs them.",
        missing.join(", ")
    );
}

/// Starts `rtbench server --addr 127.0.0.1:0` and returns it with its base URL,
/// taken from the first stdout line `{"listening":"http://127.0.0.1:PORT"}`.
fn start_server(log: &Path, extra: &[&str]) -> (KillOnDrop, String) {
    let log_file = File::create(log).expect("create the server log file");
    let child = Command::new(env!("CARGO_BIN_EXE_rtbench"))
        .args(["server", "--addr", "127.0.0.1:0"])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log_file))
        .spawn()
        .expect("spawn `rtbench server`");
    let mut server = KillOnDrop(child);
    let stdout = server.0.stdout.take().expect("server stdout is piped");

    // Read lines on a thread: the first one is the address, the rest are
    // drained so that the server never blocks on a full pipe.
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut first = true;
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if first {
                first = false;
                let _ = tx.send(line);
            }
        }
    });
    let line = match rx.recv_timeout(STARTUP_TIMEOUT) {
        Ok(line) => line,
        Err(_) => {
            let status = server.0.try_wait().ok().flatten();
            panic!(
                "`rtbench server --addr 127.0.0.1:0` printed no first line within {STARTUP_TIMEOUT:?} \
                 (exit status: {status:?}); its log:\n{}",
                read_lossy(log)
            );
        }
    };
    let json: serde_json::Value = serde_json::from_str(&line)
        .unwrap_or_else(|e| panic!("first stdout line of the server is not JSON ({e}): {line:?}"));
    let url = json
        .get("listening")
        .and_then(|v| v.as_str())
        .unwrap_or_else(|| panic!("first stdout line lacks \"listening\": {line:?}"))
        .trim_end_matches('/')
        .to_string();
    (server, url)
}

fn read_lossy(path: &Path) -> String {
    let bytes = fs::read(path).unwrap_or_default();
    let text = String::from_utf8_lossy(&bytes);
    // The end of a long log is what explains a failure.
    let start = text.len().saturating_sub(8_000);
    let start = (start..text.len())
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(text.len());
    text[start..].to_string()
}

fn drain<R: Read + Send + 'static>(mut r: R) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    })
}

/// `script` (a node file under tests/browser/) against a server started
/// with `server_args`; its arguments are the server's URL, `extra`, then the
/// screenshot directory. Screenshots and the server log go to `target/<dir>`.
fn page_test(dir: &str, server_args: &[&str], script: &str, extra: &[&str]) -> String {
    let root = root();
    check_prerequisites(&root);
    let out_dir = root.join("target").join(dir);
    fs::create_dir_all(&out_dir).expect("create the output directory");
    let server_log = out_dir.join("server.log");
    let (mut server, url) = start_server(&server_log, server_args);
    let shots = format!("target/{dir}");
    let mut args = vec![script, url.as_str()];
    args.extend_from_slice(extra);
    args.push(&shots);
    run_node(&root, &out_dir, &server_log, &mut server, &url, &args);
    url
}

#[test]
fn chat_page_in_headless_chromium() {
    page_test("browser", &[], "tests/browser/chat.mjs", &[]);
}

/// The same page and checks over TLS: wss, and SSE and polling on HTTP/2.
#[test]
fn chat_page_over_tls_and_http2() {
    let root = root();
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

/// The page against a server that wants tokens: names from the tokens, and
/// an impersonation attempt refused in the UI.
#[test]
fn chat_page_with_tokens() {
    let secret = "browser test secret";
    let tok = |sub: &str| protocol::token::mint(secret.as_bytes(), sub, Some(4_000_000_000));
    let (a, b, c) = (tok("alice"), tok("bob"), tok("carol"));
    page_test(
        "browser/auth",
        &["--auth-token-secret", secret],
        "tests/browser/chat-auth.mjs",
        &[&a, &b, &c],
    );
}

/// Run a node browser script against the server and assert it passed.
fn run_node(
    root: &Path,
    out_dir: &Path,
    server_log: &Path,
    server: &mut KillOnDrop,
    url: &str,
    args: &[&str],
) {
    let child = Command::new("node")
        .args(args)
        .current_dir(root)
        .env("CHROMIUM", chromium())
        .env("NODE_EXTRA_CA_CERTS", root.join("testdata/tls/ca.pem"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn node");
    let mut node = KillOnDrop(child);
    let out = drain(node.0.stdout.take().expect("node stdout is piped"));
    let err = drain(node.0.stderr.take().expect("node stderr is piped"));

    let deadline = Instant::now() + NODE_TIMEOUT;
    let status = loop {
        match node.0.try_wait().expect("wait for node") {
            Some(status) => break Some(status),
            None if Instant::now() >= deadline => {
                let _ = node.0.kill();
                break None;
            }
            None => thread::sleep(Duration::from_millis(100)),
        }
    };
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    println!("{stdout}");

    let server_exit = server.0.try_wait().ok().flatten();
    let ok = status.is_some_and(|s| s.success());
    assert!(
        ok,
        "browser test failed ({}) against {url}\n--- node stdout ---\n{stdout}\n--- node stderr ---\n{stderr}\n\
         --- server ({}) log tail, {} ---\n{}\nscreenshots: {}",
        match status {
            Some(s) => format!("node exited with {s}"),
            None => format!("node killed after {NODE_TIMEOUT:?}"),
        },
        match server_exit {
            Some(s) => format!("exited: {s}"),
            None => "still running".to_string(),
        },
        server_log.display(),
        read_lossy(server_log),
        out_dir.display(),
    );
    assert!(
        server_exit.is_none(),
        "the server exited during the browser test: {server_exit:?}; log:\n{}",
        read_lossy(server_log)
    );
}
