//! What the results should be read with: typed while the run goes, so
//! `rtbench profile check` can pick them by kind, and rendered as the
//! result file's `warnings`.

use crate::error::ErrorKind;
use std::fmt;

/// One warning of a run; `Display` is its text in the result file.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RunWarning {
    /// The open-files limit could not be raised (the OS's reason).
    NofileLimit { why: String },
    /// No server cost: `--server-pid`'s process could not be read.
    ServerPidUnreadable { pid: u32 },
    /// No server cost: the profile's stats endpoint did not answer.
    StatsUnanswered { path: String },
    /// No server cost: neither `--server-pid` nor a stats endpoint.
    ServerCostUnknown,
    /// Publishing started this many seconds after `--start-at`.
    LateStart { secs: f64 },
    /// Not every client was connected when publishing started.
    NotAllConnected { connected: u64, clients: u64 },
    /// Clients that did not stop in time (counted as receiving nothing).
    StuckClients { count: u64 },
    /// The first client error of one kind, with its detail.
    FirstError { kind: ErrorKind, detail: String },
    /// Resumes that got a gap notice.
    Gaps { resumes: u64 },
}

impl fmt::Display for RunWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunWarning::NofileLimit { why } => {
                write!(f, "could not raise the open-files limit: {why}")
            }
            RunWarning::ServerPidUnreadable { pid } => write!(
                f,
                "process {pid} could not be read from /proc: server cost not recorded"
            ),
            RunWarning::StatsUnanswered { path } => {
                write!(f, "target did not answer {path}: server cost not recorded")
            }
            RunWarning::ServerCostUnknown => f.write_str(
                "server cost not recorded: give --server-pid PID of the server process (this machine only)",
            ),
            RunWarning::LateStart { secs } => write!(
                f,
                "publishing started {secs:.2} s after --start-at (ramp-up took longer): this worker's window is late"
            ),
            RunWarning::NotAllConnected { connected, clients } => write!(
                f,
                "only {connected} of {clients} clients were connected when publishing started"
            ),
            RunWarning::StuckClients { count } => write!(
                f,
                "{count} clients did not stop in time; counted as receiving nothing"
            ),
            RunWarning::FirstError { kind, detail } => write!(f, "first {kind} error: {detail}"),
            RunWarning::Gaps { resumes } => write!(
                f,
                "{resumes} resumes got a gap notice: cursors older than the server's history (messages lost there)"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The result file's text stays what it was when warnings were strings.
    #[test]
    fn warnings_render_as_before() {
        let cases = [
            (
                RunWarning::LateStart { secs: 1.234 },
                "publishing started 1.23 s after --start-at (ramp-up took longer): this worker's window is late",
            ),
            (
                RunWarning::NotAllConnected {
                    connected: 3,
                    clients: 5,
                },
                "only 3 of 5 clients were connected when publishing started",
            ),
            (
                RunWarning::FirstError {
                    kind: ErrorKind::HttpStatus,
                    detail: "GET /x answered 404".into(),
                },
                "first http_status error: GET /x answered 404",
            ),
            (
                RunWarning::ServerPidUnreadable { pid: 7 },
                "process 7 could not be read from /proc: server cost not recorded",
            ),
        ];
        for (w, text) in cases {
            assert_eq!(w.to_string(), text);
        }
    }
}
