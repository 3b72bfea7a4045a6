//! Errors: the run-level [`Error`] that `run` returns, and the per-client
//! [`ErrorKind`]s that are counted (never returned) while clients retry.

use crate::config::ConfigError;
use crate::tls::TlsFailure;
use std::borrow::Cow;
use std::fmt;

/// Why a run could not start or complete. Errors of single clients during a
/// run are not here: they are counted by [`ErrorKind`] in the results.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The target did not accept a connection or answer the profile's
    /// health check within 5 s.
    #[error(
        "cannot reach {target}: {reason} (is the server running there? start one with `rtbench server`)"
    )]
    Unreachable { target: String, reason: String },
    /// A target's host name gave no address at run start.
    #[error(transparent)]
    Unresolved(#[from] crate::target::ResolveError),
    /// The target answered, but its health check failed.
    #[error("{target} is not ready: {reason}")]
    BadTarget { target: String, reason: String },
    /// Settings that cannot work (caught by `Config::validate`).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// This process cannot open enough sockets for the scenario.
    #[error("{0}")]
    Limits(String),
    /// A bug: a task panicked.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// A stable label of the variant (what the tests assert).
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Unreachable { .. } => "unreachable",
            Error::BadTarget { .. } => "bad_target",
            Error::Unresolved(_) => "unresolved",
            Error::Config(_) => "config",
            Error::Limits(_) => "limits",
            Error::Internal(_) => "internal",
        }
    }

    /// True for errors the user can fix by changing the command line or
    /// starting the server (exit code 2, see docs/architecture.md).
    pub fn is_usage(&self) -> bool {
        !matches!(self, Error::Internal(_))
    }
}

/// What went wrong for one client or publisher; counted per kind in the
/// results (`counts.errors`), the client then reconnects with backoff.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorKind {
    /// The target refused the TCP connection (nothing listening).
    ConnectRefused,
    /// TCP connect or the protocol handshake did not finish in time.
    ConnectTimeout,
    /// A request or an idle stream got no answer in time.
    Timeout,
    /// The server answered with an unexpected HTTP status.
    HttpStatus,
    /// The server sent something that does not parse (HTTP, SSE, WebSocket or JSON).
    Protocol,
    /// The server closed a connection or stream we expected to stay open.
    UnexpectedClose,
    /// Any other socket error.
    Io,
}

impl ErrorKind {
    /// Every kind, in a fixed order (index into per-kind counters).
    pub const ALL: [ErrorKind; 7] = [
        ErrorKind::ConnectRefused,
        ErrorKind::ConnectTimeout,
        ErrorKind::Timeout,
        ErrorKind::HttpStatus,
        ErrorKind::Protocol,
        ErrorKind::UnexpectedClose,
        ErrorKind::Io,
    ];

    /// Name used in result files.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorKind::ConnectRefused => "connect_refused",
            ErrorKind::ConnectTimeout => "connect_timeout",
            ErrorKind::Timeout => "timeout",
            ErrorKind::HttpStatus => "http_status",
            ErrorKind::Protocol => "protocol",
            ErrorKind::UnexpectedClose => "unexpected_close",
            ErrorKind::Io => "io",
        }
    }

    pub(crate) const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One client-side failure: a kind to count and a detail for the first
/// occurrence of each kind (kept as a warning so a run explains itself).
#[derive(Debug, Clone)]
pub(crate) struct ClientError {
    pub kind: ErrorKind,
    pub detail: Cow<'static, str>,
    /// A failed TLS handshake, and why: the preflight then reports a
    /// target that answered with settings that do not fit, not a dead one.
    pub tls: Option<TlsFailure>,
}

impl ClientError {
    pub fn new(kind: ErrorKind, detail: impl Into<Cow<'static, str>>) -> Self {
        ClientError {
            kind,
            detail: detail.into(),
            tls: None,
        }
    }

    /// A failed TLS handshake (counted as a protocol error).
    pub fn tls(failure: TlsFailure, detail: String) -> Self {
        ClientError {
            tls: Some(failure),
            ..ClientError::new(ErrorKind::Protocol, detail)
        }
    }

    /// Name the request (its expanded path) the error is about.
    pub fn on(mut self, path: &str) -> Self {
        self.detail = format!("GET {path}: {}", self.detail).into();
        self
    }

    /// Point at the profile field a rejected request came from, so the
    /// first-error line tells the user what to fix.
    pub fn in_field(mut self, profile: &crate::profile::Profile, field: &str, line: usize) -> Self {
        self.detail = format!(
            "{} (profile {}:{line}, {field})",
            self.detail, profile.source_name
        )
        .into();
        self
    }

    /// Classify a socket error from connect or I/O.
    pub fn from_io(e: &std::io::Error, connecting: bool) -> Self {
        use std::io::ErrorKind as K;
        let kind = match e.kind() {
            K::ConnectionRefused => ErrorKind::ConnectRefused,
            K::TimedOut if connecting => ErrorKind::ConnectTimeout,
            K::TimedOut => ErrorKind::Timeout,
            K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::UnexpectedEof => {
                ErrorKind::UnexpectedClose
            }
            _ => ErrorKind::Io,
        };
        ClientError::new(kind, e.to_string())
    }

    /// Classify a hyper error (request or body).
    pub fn from_hyper(e: &hyper::Error) -> Self {
        if let Some(io) =
            std::error::Error::source(e).and_then(|s| s.downcast_ref::<std::io::Error>())
        {
            return ClientError::from_io(io, false);
        }
        let kind = if e.is_parse() || e.is_parse_status() || e.is_parse_too_large() {
            ErrorKind::Protocol
        } else if e.is_timeout() {
            ErrorKind::Timeout
        } else if e.is_incomplete_message() || e.is_closed() || e.is_canceled() {
            ErrorKind::UnexpectedClose
        } else {
            ErrorKind::Io
        };
        ClientError::new(kind, e.to_string())
    }

    /// Classify a WebSocket error.
    pub fn from_ws(e: &tokio_tungstenite::tungstenite::Error) -> Self {
        use tokio_tungstenite::tungstenite::Error as W;
        match e {
            W::Io(io) => ClientError::from_io(io, false),
            W::ConnectionClosed | W::AlreadyClosed => {
                ClientError::new(ErrorKind::UnexpectedClose, e.to_string())
            }
            W::Http(resp) => ClientError::new(
                ErrorKind::HttpStatus,
                format!(
                    "WebSocket upgrade answered {}: {}",
                    resp.status(),
                    crate::record::snippet(resp.body().as_deref().unwrap_or_default())
                ),
            ),
            _ => ClientError::new(ErrorKind::Protocol, e.to_string()),
        }
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.detail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every session's `Result` carries a `ClientError`: the TLS reason
    /// must fit in what was padding, not grow each client's future.
    #[test]
    fn client_error_stays_small() {
        assert!(std::mem::size_of::<ClientError>() <= 32);
        let e = ClientError::tls(TlsFailure::Alpn, "x".into());
        assert_eq!(
            (e.kind, e.tls),
            (ErrorKind::Protocol, Some(TlsFailure::Alpn))
        );
        assert_eq!(ClientError::new(ErrorKind::Io, "y").tls, None);
    }
}
