//! `--server-cmd`: another server, started for a run and stopped after it.
//!
//! The command runs as `sh -c CMD` in a process group of its own, under a
//! small supervisor (this binary's hidden `supervise` command). The
//! supervisor stops the whole group — SIGTERM, then SIGKILL after a grace —
//! when its standard input closes: when rtbench stops the run, and also when
//! rtbench dies in any way at all (the kernel closes the pipe), so the
//! server can never outlive rtbench. Over `--network` the supervisor (and so
//! the command) starts on the link's server side.

use super::out::errln;
use super::{CliError, Done};
use anyhow::{Context, bail};
use clap::Args;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;
use tokio::process::{Child, ChildStdin, Command};

/// The environment variable that tells the command where to listen.
pub const ADDR_ENV: &str = "RTBENCH_SERVER_ADDR";
/// How long a starting command may take to accept connections.
const STARTUP: Duration = Duration::from_secs(30);
/// How long a stopping command may take before its group is killed.
const GRACE: Duration = Duration::from_secs(5);

/// A running `--server-cmd` (its supervisor, to be exact).
#[derive(Debug)]
pub struct ServerCmd {
    supervisor: Child,
    /// Closing it stops the command.
    stdin: Option<ChildStdin>,
}

impl ServerCmd {
    /// Starts `cmd` (in `netns`, the link's server side, if any) with
    /// [`ADDR_ENV`] set, and waits until `target` accepts a connection from
    /// the client side (`client_ns`).
    pub async fn start(
        cmd: &str,
        netns: Option<&netem::Netns>,
        client_ns: Option<&netem::Netns>,
        target: SocketAddr,
    ) -> anyhow::Result<ServerCmd> {
        let exe = std::env::current_exe().context("finding the rtbench executable")?;
        let listen_on = netns.map_or_else(|| "127.0.0.1".to_string(), |ns| ns.addr().to_string());
        // Its output is shown, on stderr: stdout stays the results'.
        let stderr = std::io::stderr()
            .as_fd()
            .try_clone_to_owned()
            .context("sharing stderr with the server command")?;
        let mut command = Command::new(&exe);
        command
            .args(["supervise", "--", cmd])
            .env(ADDR_ENV, &listen_on)
            .stdin(Stdio::piped())
            .stdout(Stdio::from(stderr))
            // Its own group: a Ctrl-C at the terminal reaches rtbench, which
            // stops the run and then the server in order.
            .process_group(0);
        // Not killed when dropped: dropping closes its stdin, and it then
        // stops the command's whole group itself (a kill would orphan it).
        let spawned = match netns {
            Some(ns) => ns
                .run(|| command.spawn())
                .context("entering the link's server side")?,
            None => command.spawn(),
        };
        let mut supervisor = spawned.with_context(|| format!("starting --server-cmd {cmd:?}"))?;
        let stdin = supervisor.stdin.take();
        let mut server = ServerCmd { supervisor, stdin };
        server.wait_accepting(cmd, client_ns, target).await?;
        Ok(server)
    }

    /// Polls `target` until it accepts, the command exits, or [`STARTUP`] passes.
    async fn wait_accepting(
        &mut self,
        cmd: &str,
        client_ns: Option<&netem::Netns>,
        target: SocketAddr,
    ) -> anyhow::Result<()> {
        let deadline = Instant::now() + STARTUP;
        loop {
            if let Some(status) = self.supervisor.try_wait()? {
                bail!(
                    "--server-cmd {cmd:?} exited ({status}) before accepting connections on {target}"
                );
            }
            if accepts(client_ns, target).await {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!(
                    "--server-cmd {cmd:?} did not accept connections on {target} within {STARTUP:?}: \
                     it must listen on ${ADDR_ENV} (or 0.0.0.0) at the --target port"
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stops the command's whole process group (SIGTERM, then SIGKILL).
    pub async fn stop(mut self) -> anyhow::Result<()> {
        drop(self.stdin.take());
        let limit = GRACE + Duration::from_secs(5);
        match tokio::time::timeout(limit, self.supervisor.wait()).await {
            Ok(status) => {
                status.context("waiting for the server command")?;
                Ok(())
            }
            Err(_) => {
                let _ = self.supervisor.kill().await;
                bail!("the server command's supervisor did not stop within {limit:?}; killed it")
            }
        }
    }
}

/// Whether a TCP connection to `target` succeeds from `client_ns` (or here).
async fn accepts(client_ns: Option<&netem::Netns>, target: SocketAddr) -> bool {
    let socket = match client_ns {
        Some(ns) => ns
            .run(tokio::net::TcpSocket::new_v4)
            .ok()
            .and_then(Result::ok),
        None => tokio::net::TcpSocket::new_v4().ok(),
    };
    let Some(socket) = socket else {
        return false;
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(1), socket.connect(target)).await,
        Ok(Ok(_))
    )
}

/// `rtbench supervise -- CMD`: runs `sh -c CMD` in its own process group
/// until standard input closes or SIGTERM arrives, then stops the group.
#[derive(Debug, Args)]
pub struct SuperviseArgs {
    /// The shell command.
    #[arg(required = true, last = true)]
    cmd: String,
}

pub async fn supervise(args: SuperviseArgs) -> Result<Done, CliError> {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(&args.cmd)
        .stdin(Stdio::null())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting sh -c {:?}", args.cmd))?;
    let group = child
        .id()
        .and_then(|id| i32::try_from(id).ok())
        .map(Pid::from_raw)
        .context("the server command exited at once")?;
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let parent_gone = async {
        let mut stdin = tokio::io::stdin();
        let mut buf = [0u8; 64];
        while let Ok(1..) = stdin.read(&mut buf).await {}
    };
    tokio::select! {
        status = child.wait() => {
            let status = status?;
            // The command ended by itself; whatever it left in its group goes too.
            let _ = killpg(group, Signal::SIGKILL);
            return Err(anyhow::anyhow!("the server command exited ({status})").into());
        }
        _ = parent_gone => {}
        _ = term.recv() => {}
    }
    let _ = killpg(group, Signal::SIGTERM);
    if tokio::time::timeout(GRACE, child.wait()).await.is_err() {
        errln!("rtbench: the server command did not stop within {GRACE:?} of SIGTERM; killing it");
    }
    // Anything left in the group (the shell's children) is killed.
    let _ = killpg(group, Signal::SIGKILL);
    let _ = child.wait().await;
    Ok(Done::Ok)
}
