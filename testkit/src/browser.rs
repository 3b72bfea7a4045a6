//! The browser tests' runner: a node script (playwright-core driving
//! Debian's headless Chromium, launched by the script with its own flags
//! and a throw-away profile) run from the repository root, bounded in time.
//!
//! A browser test never skips: when node, playwright-core or Chromium is
//! missing it fails and says what to install, since a skipped browser test
//! would let a page break unnoticed.

use std::ffi::OsStr;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// The scripts bound themselves at 60 s; this is the backstop if node hangs.
pub const NODE_TIMEOUT: Duration = Duration::from_secs(120);

/// The repository root (where `node_modules/` and `tests/browser/` live).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the kit lives in the repository")
        .to_path_buf()
}

/// Chromium: `$CHROMIUM`, or Debian's `/usr/bin/chromium`.
pub fn chromium() -> PathBuf {
    std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
}

/// Fails (never skips) with what to install when something `test` needs
/// is missing.
pub fn check_prerequisites(test: &str) {
    let root = repo_root();
    let mut missing = Vec::new();
    let node = Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if !node.is_ok_and(|s| s.success()) {
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
        "{test} cannot run, missing: {}.\nRun scripts/test.sh, which installs them.",
        missing.join(", ")
    );
}

/// The flags every headless Chromium of the tests starts with: no GPU, no
/// sandbox (root in CI), and nothing that reaches for the network.
pub const CHROMIUM_FLAGS: [&str; 7] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
];

/// The DOM of `url` after Chromium loaded it (`--dump-dom`), with a fresh
/// profile that is removed afterwards; bounded by [`NODE_TIMEOUT`].
pub fn dump_dom(url: &str) -> String {
    let profile = std::env::temp_dir().join(format!(
        "rtbench-chromium-{}-{:?}",
        std::process::id(),
        thread::current().id()
    ));
    let _ = std::fs::remove_dir_all(&profile);
    let mut child = Command::new(chromium())
        .args(CHROMIUM_FLAGS)
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn chromium");
    // The DOM (charts inlined) is far larger than a pipe: read it while waiting.
    let dom = drain(child.stdout.take().expect("chromium stdout is piped"));
    let deadline = Instant::now() + NODE_TIMEOUT;
    let status = loop {
        match child.try_wait().expect("wait for chromium") {
            Some(status) => break status,
            None if Instant::now() >= deadline => {
                let _ = child.kill();
                break child.wait().expect("reap chromium");
            }
            None => thread::sleep(Duration::from_millis(100)),
        }
    };
    let _ = std::fs::remove_dir_all(&profile);
    assert!(
        status.success(),
        "chromium --dump-dom {url} failed: {status}"
    );
    dom.join().unwrap_or_default()
}

/// How a node script ended.
#[derive(Debug)]
pub struct NodeRun {
    /// `None`: killed after [`NODE_TIMEOUT`].
    pub status: Option<ExitStatus>,
    pub stdout: String,
    pub stderr: String,
}

impl NodeRun {
    pub fn passed(&self) -> bool {
        self.status.is_some_and(|s| s.success())
    }

    /// How it ended, in words.
    pub fn ending(&self) -> String {
        match self.status {
            Some(s) => format!("node exited with {s}"),
            None => format!("node killed after {NODE_TIMEOUT:?}"),
        }
    }
}

/// Runs `node args…` in the repository root with `CHROMIUM` and `envs`
/// set; its output is read while it runs (no full pipe can stall it) and
/// echoed to the test's stdout.
pub fn run_node<S: AsRef<OsStr>>(
    args: impl IntoIterator<Item = S>,
    envs: &[(&str, &Path)],
) -> NodeRun {
    let mut child = Command::new("node")
        .args(args)
        .current_dir(repo_root())
        .env("CHROMIUM", chromium())
        .envs(envs.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn node");
    let out = drain(child.stdout.take().expect("node stdout is piped"));
    let err = drain(child.stderr.take().expect("node stderr is piped"));
    let deadline = Instant::now() + NODE_TIMEOUT;
    let status = loop {
        match child.try_wait().expect("wait for node") {
            Some(status) => break Some(status),
            None if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            None => thread::sleep(Duration::from_millis(100)),
        }
    };
    let run = NodeRun {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    };
    println!("{}", run.stdout);
    run
}

fn drain<R: Read + Send + 'static>(mut r: R) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    })
}
