//! Errors: [`ApiError`] renders every HTTP failure as the protocol's JSON
//! error body; [`Error`] is what [`crate::run`] can fail with.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use protocol::{ErrorBody, RoomNameError};

/// A request the server refuses; the message tells the client what to fix.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRoom(#[from] RoomNameError),
    #[error("invalid JSON body: {0}")]
    BadJson(String),
    #[error("invalid query: {0}")]
    BadQuery(String),
    #[error("invalid cursor {0:?}: expected a message id (a decimal integer) from this server")]
    BadCursor(String),
    #[error("invalid user name: {0}")]
    BadUser(String),
    #[error("body is larger than the limit of {limit} bytes; send a shorter message")]
    TooLarge { limit: usize },
    #[error("no such endpoint; see GET / for the chat page")]
    NotFound,
    #[error("method not allowed on this endpoint")]
    MethodNotAllowed,
    #[error("request body could not be read: {0}")]
    BodyRead(String),
    #[error("this endpoint speaks WebSocket: {0}")]
    UpgradeRequired(String),
    #[error("{0}; nothing was published, retry later")]
    BrokerUnavailable(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("publishing faster than this server allows ({limit}); retry after {retry_after_ms} ms")]
    RateLimited { limit: String, retry_after_ms: u64 },
    #[error("{0}")]
    TooBusy(String),
    #[error("{why}")]
    TooManyConnections { why: String, retry_after_s: u64 },
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    NotServed(&'static str),
}

impl ApiError {
    /// Stable, low-cardinality code for the JSON body and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRoom(_) => "bad_room",
            ApiError::BadJson(_) => "bad_json",
            ApiError::BadQuery(_) => "bad_query",
            ApiError::BadCursor(_) => "bad_cursor",
            ApiError::BadUser(_) => "bad_user",
            ApiError::TooLarge { .. } => "too_large",
            ApiError::NotFound => "not_found",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::BodyRead(_) => "body_read",
            ApiError::UpgradeRequired(_) => "upgrade_required",
            ApiError::BrokerUnavailable(_) => "broker_unavailable",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::TooBusy(_) => "too_busy",
            ApiError::TooManyConnections { .. } => "too_many_connections",
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::NotServed(_) => "not_found",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::NotFound | ApiError::NotServed(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::UpgradeRequired(_) => StatusCode::UPGRADE_REQUIRED,
            ApiError::BrokerUnavailable(_) | ApiError::TooBusy(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::RateLimited { .. } | ApiError::TooManyConnections { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            _ => StatusCode::BAD_REQUEST,
        }
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: self.to_string(),
            code: self.code().to_string(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = (self.status(), Json(self.body())).into_response();
        let retry = match &self {
            ApiError::RateLimited { retry_after_ms, .. } => {
                Some(retry_after_ms.div_ceil(1000).max(1))
            }
            ApiError::TooManyConnections { retry_after_s, .. } => Some((*retry_after_s).max(1)),
            ApiError::TooBusy(_) | ApiError::BrokerUnavailable(_) => Some(1),
            _ => None,
        };
        if matches!(self, ApiError::Unauthorized(_)) {
            resp.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        if let Some(secs) = retry {
            resp.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        resp
    }
}

/// Why the server could not run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read the listener's address: {0}")]
    Listener(#[source] std::io::Error),
    #[error("cannot start the latency-injection thread: {0}")]
    Thread(#[source] std::io::Error),
    #[error("{0} (start redis-server there, or run with --broker memory)")]
    Broker(#[from] crate::broker::BrokerError),
    #[error("{0}")]
    Config(String),
    #[error("{0} (make a certificate with scripts/gen-test-cert.sh, or see README \"TLS\")")]
    Tls(#[from] crate::tls::TlsError),
    #[error("{0}")]
    Bind(#[from] crate::bind::BindError),
    #[error("cannot make WebTransport's self-signed certificate: {0}")]
    SelfSigned(String),
    #[error(
        "cannot start the WebTransport (HTTP/3) endpoint: {0} (or turn it off with --no-webtransport)"
    )]
    WebTransport(#[source] std::io::Error),
}
