//! What a run sets up around the load: the emulated link (`--network`) and
//! the server on its far side — rtbench's own (a child `rtbench server`) or
//! a `--server-cmd` — and how the load generator's sockets reach them.
//!
//! Order matters: the link starts first, so that a missing privilege fails
//! the run before anything is started or connected (exit 2, with netem's
//! message on how to run it); the server starts next; the load last.
//! Everything ends with the stage: the server is stopped (or killed when the
//! stage is dropped on an error), and the link's devices and namespaces go
//! with the last descriptor (netem's design: nothing is left on the host).

use super::CliError;
use super::child::ChildServer;
use super::server_cmd::ServerCmd;
use anyhow::Context;
use loadgen::Scenario;
use loadgen::results::LinkResult;
use netem::{Link, LinkStats, NetemError, Netns};
use std::net::SocketAddr;

/// The server a run measures, when the run starts it.
#[derive(Debug)]
enum Server {
    /// rtbench's own, a child `rtbench server`.
    Own(ChildServer),
    /// `--server-cmd`.
    Cmd(ServerCmd),
}

/// The link and the server of one run.
#[derive(Debug)]
pub struct Stage {
    link: Option<Link>,
    /// The link's counters when the load started.
    before: LinkStats,
    server: Option<Server>,
}

/// Which server the run measures.
#[derive(Debug, Clone, Copy)]
pub enum ServerPlan<'a> {
    /// rtbench's own, with these extra flags.
    Own(&'a [String]),
    /// `--server-cmd`, listening at this address.
    Cmd(&'a str, SocketAddr),
    /// One already running (`--target`).
    Given,
}

/// Where a `--server-cmd` server listens: this machine, so --target is an
/// address (a name would be resolved only at the start of the run).
pub fn server_cmd_addr(target: &loadgen::Target) -> Result<SocketAddr, CliError> {
    target.addr.ok_or_else(|| {
        CliError::usage(format!(
            "--server-cmd starts a server on this machine: give --target as its IP address, \
             e.g. http://127.0.0.1:{}, not the name in {}",
            target.port, target.url
        ))
    })
}

impl Stage {
    /// Starts the link of `scenario.network` (if any), then the server.
    pub async fn start(scenario: &Scenario, server: ServerPlan<'_>) -> Result<Stage, CliError> {
        let link = match &scenario.network {
            Some(spec) => Some(start_link(spec)?),
            None => None,
        };
        let mut stage = Stage {
            before: LinkStats::default(),
            link,
            server: None,
        };
        let (server_ns, client_ns) = (stage.server_ns(), stage.client_ns());
        stage.server = match server {
            ServerPlan::Own(extra) => Some(Server::Own(
                ChildServer::start(extra, server_ns.as_ref())
                    .await
                    .context("starting the server for this run")?,
            )),
            ServerPlan::Cmd(cmd, addr) => Some(Server::Cmd(
                ServerCmd::start(cmd, server_ns.as_ref(), client_ns.as_ref(), addr).await?,
            )),
            ServerPlan::Given => None,
        };
        stage.before = stage.link.as_ref().map(Link::stats).unwrap_or_default();
        Ok(stage)
    }

    /// The URL of rtbench's own server, when the stage started it.
    pub fn own_url(&self) -> Option<&str> {
        match &self.server {
            Some(Server::Own(s)) => Some(&s.url),
            _ => None,
        }
    }

    /// The certificate hash rtbench's own server printed, if any.
    pub fn own_cert_hash(&self) -> Option<&str> {
        match &self.server {
            Some(Server::Own(s)) => s.cert_hash.as_deref(),
            _ => None,
        }
    }

    /// Where the load generator creates its sockets (with a link).
    pub fn client_ns(&self) -> Option<Netns> {
        self.link.as_ref().map(|l| l.client().clone())
    }

    /// The link's server side (with a link): the server's, and publishers'
    /// with `--publishers-at server`.
    pub fn server_ns(&self) -> Option<Netns> {
        self.link.as_ref().map(|l| l.server().clone())
    }

    /// What the link did since the load started.
    pub fn link_result(&self) -> Option<LinkResult> {
        let link = self.link.as_ref()?;
        Some(loadgen::link_result(&self.before, &link.stats()))
    }

    /// Stops the server (SIGTERM and a deadline), then the link.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        let stopped = match self.server.take() {
            Some(Server::Own(s)) => s.stop().await,
            Some(Server::Cmd(s)) => s.stop().await,
            None => Ok(()),
        };
        drop(self.link.take());
        stopped
    }
}

/// The link, or why not: what the user must change exits 2 (no privilege,
/// no TUN device, no `ip`); anything else is a failure.
fn start_link(spec: &netem::NetworkSpec) -> Result<Link, CliError> {
    Link::start(spec).map_err(|e| {
        let usage = matches!(
            e,
            NetemError::NotPermitted { .. } | NetemError::NoTun | NetemError::NoIp
        );
        let e = anyhow::Error::new(e).context(format!("--network {spec}"));
        if usage {
            CliError::Input(e)
        } else {
            CliError::Failure(e)
        }
    })
}
