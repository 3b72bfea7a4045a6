//! The `rtbench` binary as a child process: one-shot commands, and a child
//! server that announces its address with its first stdout line
//! ([`protocol::Listening`]).
//!
//! Only the root package's tests know where Cargo built the binary; they
//! get an [`Rtbench`] with [`rtbench!`](crate::rtbench).

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How long a child server may take to print its address (a debug build on
/// a busy machine).
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// The `rtbench` binary of this build and the test's scratch root.
#[derive(Debug, Clone)]
pub struct Rtbench {
    pub bin: PathBuf,
    pub tmp: PathBuf,
}

/// The [`Rtbench`] of the calling test crate (the root package's
/// integration tests: Cargo tells them where the binary is).
#[macro_export]
macro_rules! rtbench {
    () => {
        $crate::child::Rtbench {
            bin: ::std::path::PathBuf::from(env!("CARGO_BIN_EXE_rtbench")),
            tmp: ::std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")),
        }
    };
}

impl Rtbench {
    /// A command for the binary, to add arguments to.
    pub fn command(&self) -> Command {
        Command::new(&self.bin)
    }

    /// Runs `rtbench args…` to completion.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command().args(args).output().expect("run rtbench")
    }

    /// A fresh (removed, not created) directory `name` under the test's
    /// scratch root.
    pub fn scratch(&self, name: &str) -> PathBuf {
        let dir = self.tmp.join(name);
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    /// `rtbench server --addr 127.0.0.1:0 extra…` as a child; its stderr
    /// goes to `log` (inherited without one).
    pub fn server(&self, extra: &[&str], log: Option<&Path>) -> ChildServer {
        ChildServer::start(&self.bin, extra, log)
    }
}

/// Standard error of a finished command.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Standard output and standard error of a finished command.
pub fn text(o: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A child `rtbench server` on a free loopback port; killed when dropped,
/// and it exits by itself when this process dies (`--exit-on-stdin-eof`:
/// its stdin is a pipe only this handle holds).
pub struct ChildServer {
    child: Child,
    /// Held open: closing it tells the server to exit.
    _stdin: Option<ChildStdin>,
    /// Base URL from the server's first stdout line, without a trailing `/`.
    pub url: String,
    /// That first line (WebTransport's URL and certificate hash too).
    pub listening: protocol::Listening,
}

impl ChildServer {
    pub fn start(bin: &Path, extra: &[&str], log: Option<&Path>) -> ChildServer {
        let err = match log {
            Some(path) => Stdio::from(File::create(path).expect("create the server log file")),
            None => Stdio::inherit(),
        };
        let mut child = Command::new(bin)
            .args(["server", "--addr", "127.0.0.1:0", "--exit-on-stdin-eof"])
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(err)
            .spawn()
            .expect("spawn `rtbench server`");
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("server stdout is piped");
        // Read lines on a thread: the first one is the address, the rest
        // are drained so that the server never blocks on a full pipe.
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(first)) = lines.next() {
                let _ = tx.send(first);
            }
            for _ in lines.map_while(Result::ok) {}
        });
        let mut server = ChildServer {
            child,
            _stdin: stdin,
            url: String::new(),
            listening: protocol::Listening {
                listening: String::new(),
                webtransport: None,
                cert_hash: None,
            },
        };
        let line = rx.recv_timeout(STARTUP_TIMEOUT).unwrap_or_else(|_| {
            let status = server.exited();
            panic!(
                "`rtbench server --addr 127.0.0.1:0` printed no first line within \
                 {STARTUP_TIMEOUT:?} (exit status: {status:?}){}",
                log.map(|l| format!("; its log:\n{}", read_tail(l)))
                    .unwrap_or_default()
            )
        });
        let listening: protocol::Listening = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("the server's first stdout line ({e}): {line:?}"));
        server.url = listening.listening.trim_end_matches('/').to_string();
        server.listening = listening;
        server
    }

    /// The server's process id (for `--server-pid`).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The exit status if the server has exited, `None` while it runs.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The end of a (log) file: what explains a failure, bounded for a panic message.
pub fn read_tail(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap_or_default();
    let text = String::from_utf8_lossy(&bytes);
    let start = text.len().saturating_sub(8_000);
    let start = (start..text.len())
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(text.len());
    text[start..].to_string()
}
