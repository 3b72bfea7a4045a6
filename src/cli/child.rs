//! `rtbench bench`'s own server: `rtbench server` started as a child process
//! on 127.0.0.1:0 (or, over `--network`, on the link's server side,
//! 198.18.0.2:0), so its CPU and memory are measured apart from the load
//! generator's, and a fresh one per run so no run inherits another's state.
//!
//! The child never outlives us: it is killed when dropped (errors, panics),
//! stopped with SIGTERM and a deadline on the normal path, and it watches
//! its standard input, which closes when we exit in any way at all.

use super::out::errln;
use anyhow::{Context, bail};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};

/// How long a starting server may take to print its address.
const STARTUP: Duration = Duration::from_secs(15);
/// How long a stopping server may drain before it is killed.
const STOP: Duration = Duration::from_secs(10);

/// A running child server.
#[derive(Debug)]
pub struct ChildServer {
    child: Child,
    /// Held open: the child exits when it closes.
    _stdin: Option<ChildStdin>,
    pub url: String,
    /// The WebTransport certificate's SHA-256, when WebTransport listens
    /// on the same host and port as `url` (else the load generator asks
    /// the server's `/api/webtransport`).
    pub cert_hash: Option<String>,
    pub pid: u32,
}

impl ChildServer {
    /// Starts `rtbench server --addr 127.0.0.1:0 EXTRA…` and waits for its
    /// address line; inside `netns` (a link's server side) on its address.
    pub async fn start(
        extra: &[String],
        netns: Option<&netem::Netns>,
    ) -> anyhow::Result<ChildServer> {
        let exe = std::env::current_exe().context("finding the rtbench executable")?;
        let addr = match netns {
            Some(ns) => format!("{}:0", ns.addr()),
            None => "127.0.0.1:0".to_string(),
        };
        let mut command = Command::new(&exe);
        command
            .args(["server", "--addr", &addr, "--exit-on-stdin-eof"])
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        // A child starts in the network namespace of the thread that forks it.
        let spawned = match netns {
            Some(ns) => ns
                .run(|| command.spawn())
                .context("entering the link's server side")?,
            None => command.spawn(),
        };
        let mut child = spawned.with_context(|| format!("starting {} server", exe.display()))?;
        let pid = child.id().context("child server exited at once")?;
        let stdout = child.stdout.take().context("child stdout")?;
        let stderr = child.stderr.take().context("child stderr")?;
        // A child prints no banner: what it writes is a warning or an
        // error, shown prefixed.
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(l)) = lines.next_line().await {
                errln!("  [server] {l}");
            }
        });
        let mut lines = BufReader::new(stdout).lines();
        let first = tokio::time::timeout(STARTUP, lines.next_line())
            .await
            .context("the child server did not print its address within 15 s")?
            .context("reading the child server's address")?;
        let Some(first) = first else {
            let status = child.wait().await.ok();
            bail!("the child server exited before listening ({status:?})");
        };
        let listening = serde_json::from_str::<protocol::Listening>(&first)
            .with_context(|| format!("unexpected first line from the server: {first:?}"))?;
        let url = listening.listening;
        let same_place = |wt: &String| wt.strip_prefix("https://") == url.strip_prefix("http://");
        let cert_hash = listening
            .cert_hash
            .filter(|_| listening.webtransport.as_ref().is_some_and(same_place));
        let stdin = child.stdin.take();
        Ok(ChildServer {
            child,
            _stdin: stdin,
            url,
            cert_hash,
            pid,
        })
    }

    /// SIGTERM, then a kill if it has not drained within the deadline.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        server::sys::terminate(self.pid);
        match tokio::time::timeout(STOP, self.child.wait()).await {
            Ok(status) => {
                let status = status.context("waiting for the child server")?;
                if !status.success() {
                    bail!("the child server exited with {status}");
                }
                Ok(())
            }
            Err(_) => {
                let _ = self.child.kill().await;
                bail!("the child server did not stop within {STOP:?}; killed it")
            }
        }
    }
}
