//! The command line: one module per command, each parsing its flags into
//! its crate's config and calling its `run`. Here: the commands, how they
//! end ([`Done`], [`CliError`]) and their exit codes — 0 ok, 1 failure,
//! 2 usage or input error, 99 a failed threshold or regression.

pub mod bench;
mod child;
pub mod compare;
mod docs;
pub mod load;
mod matrix;
pub(crate) mod out;
mod processes;
pub mod profile;
pub mod report;
#[cfg(test)]
mod same_config;
pub mod server;
mod server_cmd;
mod stage;

use clap::{CommandFactory, Parser, Subcommand};
use out::errln;
use std::io::Write;
use std::process::ExitCode;
use tokio_util::sync::CancellationToken;

#[derive(Parser, Debug)]
#[command(
    name = "rtbench",
    version,
    about = "Measure short polling, long polling, SSE, WebSockets, Socket.IO and WebTransport for real-time web apps",
    long_about = "rtbench settles with measurements how short polling, long polling, Server-Sent \
Events, WebSockets, Socket.IO and WebTransport compare: delivery latency, request rate, bytes on the wire, \
loss, and server cost.\n\nStart with `rtbench server` and open the printed URL for the chat page."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Compare the transports in one command: starts a server, runs the same
    /// scenario over each transport, writes result files and an HTML report.
    Bench(bench::BenchArgs),
    /// Run the reference chat server (one feed over every transport).
    Server(server::ServerArgs),
    /// Drive simulated clients and open-loop publishers against a server over
    /// one transport and measure delivery latency, requests, bytes and loss.
    Load(loadgen::LoadArgs),
    /// Render result files (from load or bench, one machine or several) as
    /// an HTML report with PNG charts; files of one transport are merged exactly.
    Report(report::ReportArgs),
    /// Compare a baseline with current results and fail on a regression
    /// (exit 99): the performance gate for CI.
    Compare(compare::CompareArgs),
    /// Work with target profiles (how to speak to a server other than
    /// rtbench's own; see docs/profiles.md).
    #[command(subcommand)]
    Profile(profile::ProfileCommand),
    /// Print a shell completion script: bash, zsh, fish, elvish or powershell.
    Completions(docs::CompletionsArgs),
    /// Print the manual page (roff), or write one page per command with -o DIR.
    Man(docs::ManArgs),
    /// Runs a `--server-cmd` in its own process group and stops the group
    /// when standard input closes (internal: how rtbench makes sure such a
    /// server never outlives it).
    #[command(hide = true)]
    Supervise(server_cmd::SuperviseArgs),
}

impl Command {
    /// The subcommand's names, for its usage line.
    pub fn path(&self) -> &'static [&'static str] {
        match self {
            Command::Bench(_) => &["bench"],
            Command::Server(_) => &["server"],
            Command::Load(_) => &["load"],
            Command::Report(_) => &["report"],
            Command::Compare(_) => &["compare"],
            Command::Profile(profile::ProfileCommand::Check(_)) => &["profile", "check"],
            Command::Completions(_) => &["completions"],
            Command::Man(_) => &["man"],
            Command::Supervise(_) => &["supervise"],
        }
    }

    pub async fn run(self) -> Result<Done, CliError> {
        match self {
            Command::Server(args) => server::run(args).await.map(|()| Done::Ok),
            Command::Load(args) => load::run(args).await,
            Command::Bench(args) => bench::run(args).await,
            Command::Compare(args) => compare::run(args),
            Command::Profile(profile::ProfileCommand::Check(args)) => profile::check(args).await,
            Command::Report(args) => report::run(args).map(|()| Done::Ok),
            Command::Completions(args) => docs::completions(args),
            Command::Man(args) => docs::man(args),
            Command::Supervise(args) => server_cmd::supervise(args).await,
        }
    }
}

/// How a command ended, beyond errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Done {
    Ok,
    /// Results were written, but a run was partial or interrupted (exit 1).
    Problems,
    /// A threshold failed or compare found a regression (exit 99).
    Gate,
}

impl From<Done> for ExitCode {
    fn from(d: Done) -> ExitCode {
        match d {
            Done::Ok => ExitCode::SUCCESS,
            Done::Problems => ExitCode::FAILURE,
            Done::Gate => ExitCode::from(99),
        }
    }
}

/// Why a command failed. Each error type maps to one variant (the `From`
/// impls below), and the variant decides the exit code.
#[derive(Debug)]
pub enum CliError {
    /// Settings that cannot work: shown as clap shows a bad flag, with the
    /// subcommand's usage line (exit 2).
    Config(loadgen::ConfigError),
    /// Flags that do not go together or a value checked after parsing:
    /// shown with the subcommand's usage line, as clap shows its own (exit 2).
    Usage(anyhow::Error),
    /// Input the user fixes that no flag's syntax explains: an unreadable
    /// file, an unreachable target, a missing privilege (exit 2).
    Input(anyhow::Error),
    /// Anything else (exit 1).
    Failure(anyhow::Error),
}

impl CliError {
    /// A usage error with this message.
    pub fn usage(msg: impl std::fmt::Display) -> CliError {
        CliError::Usage(anyhow::anyhow!("{msg}"))
    }

    /// Prints the error for the subcommand at `path`; returns the exit code.
    pub fn report(self, path: &[&str]) -> ExitCode {
        match self {
            CliError::Config(e) => {
                let _ = usage_error(path, e.clap_kind(), e).print();
                ExitCode::from(2)
            }
            CliError::Usage(e) => {
                let kind = clap::error::ErrorKind::ValueValidation;
                let _ = usage_error(path, kind, format!("{e:#}")).print();
                ExitCode::from(2)
            }
            CliError::Input(e) => {
                errln!("rtbench: error: {e:#}");
                ExitCode::from(2)
            }
            CliError::Failure(e) => {
                errln!("rtbench: error: {e:#}");
                ExitCode::FAILURE
            }
        }
    }
}

/// A clap error rendered with the usage line of the subcommand at `path`
/// (`Usage: rtbench load [OPTIONS]`).
fn usage_error(
    path: &[&str],
    kind: clap::error::ErrorKind,
    msg: impl std::fmt::Display,
) -> clap::Error {
    let mut cmd = Cli::command();
    // Gives every subcommand its full name (`rtbench load`).
    cmd.build();
    for name in path {
        match cmd.find_subcommand(name) {
            Some(sub) => cmd = sub.clone(),
            None => break,
        }
    }
    cmd.error(kind, msg)
}

impl From<loadgen::ConfigError> for CliError {
    fn from(e: loadgen::ConfigError) -> CliError {
        CliError::Config(e)
    }
}

impl From<loadgen::Error> for CliError {
    fn from(e: loadgen::Error) -> CliError {
        match e {
            loadgen::Error::Config(c) => CliError::Config(c),
            e if e.is_usage() => CliError::Input(e.into()),
            e => CliError::Failure(e.into()),
        }
    }
}

impl From<loadgen::OutputError> for CliError {
    /// Checked before a run: an output the user must change.
    fn from(e: loadgen::OutputError) -> CliError {
        CliError::Input(e.into())
    }
}

impl From<loadgen::ProfileError> for CliError {
    fn from(e: loadgen::ProfileError) -> CliError {
        CliError::Input(e.into())
    }
}

impl From<reports::Error> for CliError {
    fn from(e: reports::Error) -> CliError {
        if e.is_input_error() {
            CliError::Input(e.into())
        } else {
            CliError::Failure(e.into())
        }
    }
}

impl From<reports::ThresholdError> for CliError {
    /// Parsed up front: a typo is a usage error before minutes of load.
    fn from(e: reports::ThresholdError) -> CliError {
        CliError::Usage(e.into())
    }
}

impl From<::server::Error> for CliError {
    fn from(e: ::server::Error) -> CliError {
        CliError::Failure(e.into())
    }
}

impl From<anyhow::Error> for CliError {
    fn from(e: anyhow::Error) -> CliError {
        CliError::Failure(e)
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> CliError {
        CliError::Failure(e.into())
    }
}

impl From<serde_json::Error> for CliError {
    fn from(e: serde_json::Error) -> CliError {
        CliError::Failure(e.into())
    }
}

/// Evaluates thresholds over the written results and prints the outcome
/// (on stderr when stdout carries JSON, so it stays one document); false
/// when one failed.
fn check_thresholds(
    thresholds: &[reports::Threshold],
    files: &[protocol::results::ResultFile],
    format: loadgen::Format,
) -> Result<bool, CliError> {
    if thresholds.is_empty() {
        return Ok(true);
    }
    let outcomes = reports::thresholds::evaluate(thresholds, files)?;
    let mut out: Box<dyn Write> = match format {
        loadgen::Format::Text => Box::new(out::stdout()),
        loadgen::Format::Json => Box::new(out::stderr()),
    };
    writeln!(out)?;
    reports::thresholds::print_outcomes(&outcomes, &mut out)?;
    Ok(!reports::thresholds::any_failed(&outcomes))
}

/// Cancels `token` on the first SIGINT or SIGTERM.
fn cancel_on_signal(token: CancellationToken) {
    tokio::spawn(async move {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(e) => {
                    errln!("rtbench: cannot watch SIGTERM: {e}");
                    let _ = tokio::signal::ctrl_c().await;
                    token.cancel();
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        token.cancel();
    });
}

/// The command line as typed, for the report's header.
fn command_line() -> String {
    let args: Vec<String> = std::env::args().skip(1).collect();
    format!("rtbench {}", args.join(" "))
}
