//! The browser chat client, and the small read-only endpoints.

use crate::AppState;
use crate::error::ApiError;
use crate::metrics::Label;
use crate::net::Conn;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

/// Built into the binary: the page works wherever the server runs.
const INDEX_HTML: &str = include_str!("../static/index.html");

pub async fn index(conn: Conn) -> Response {
    conn.label(Label::Other);
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        INDEX_HTML,
    )
        .into_response()
}

pub async fn metrics(State(app): State<AppState>, conn: Conn) -> Response {
    conn.label(Label::Other);
    let mut text = app.metrics.prometheus();
    app.limit_metrics.prometheus(&mut text);
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4"),
        )],
        text,
    )
        .into_response()
}

pub async fn stats(State(app): State<AppState>, conn: Conn) -> Response {
    conn.label(Label::Other);
    Json(app.metrics.stats()).into_response()
}

pub async fn healthz(conn: Conn) -> Response {
    conn.label(Label::Other);
    Json(serde_json::json!({"status": "ok"})).into_response()
}

pub async fn not_found(conn: Conn) -> ApiError {
    conn.label(Label::Other);
    ApiError::NotFound
}

pub async fn method_not_allowed(conn: Conn) -> ApiError {
    conn.label(Label::Other);
    ApiError::MethodNotAllowed
}

/// `GET /api/webtransport`: where sessions go and the certificate to pin.
pub async fn webtransport(State(app): State<AppState>, conn: Conn) -> Response {
    conn.label(Label::Other);
    match app.webtransport.get() {
        Some(info) => Json(info).into_response(),
        None => ApiError::NotServed(
            "WebTransport is off on this server (started with --no-webtransport)",
        )
        .into_response(),
    }
}
