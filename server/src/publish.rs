//! Publishing over HTTP: chat messages and typing indicators.

use crate::AppState;
use crate::error::ApiError;
use crate::hub::Draft;
use crate::limits::keyed::refused;
use crate::limits::{ClientIp, Key};
use crate::metrics::Label;
use crate::net::Conn;
use crate::transport::{RoomPath, validate_user};
use axum::Json;
use axum::extract::{FromRequest, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use protocol::{Kind, PublishRequest, PublishResponse, TypingRequest};
use serde::de::DeserializeOwned;

/// A JSON body whose failures are protocol errors: 413 over the size limit
/// (set by `DefaultBodyLimit` in [`crate::app`]), 400 with serde's reason
/// (which names the missing field or wrong type) otherwise.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let limit = state.config.max_message_bytes;
        // A declared length over the limit is refused before reading a byte:
        // a client that claims gigabytes and trickles them holds nothing.
        let declared = req
            .headers()
            .get(axum::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > limit as u64) {
            return Err(ApiError::TooLarge { limit });
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::TooLarge { limit }
            } else {
                ApiError::BodyRead(e.body_text())
            }
        })?;
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|e| ApiError::BadJson(e.to_string()))
    }
}

/// `--publish-rate-limit` (this connection's tokens), then the address's
/// and the user's budgets: 429 with `Retry-After` when one is spent.
pub(crate) fn rate_limit(
    app: &AppState,
    conn: &Conn,
    ip: ClientIp,
    auth: &crate::auth::Auth,
) -> Result<(), ApiError> {
    if let Some(limit) = &app.config.publish_rate_limit {
        conn.take_token(limit)
            .map_err(|wait| refused(&app.limit_metrics, limit, Key::Connection, wait))?;
    }
    app.publishers
        .check(&app.limit_metrics, ip.0, auth.0.as_ref())
}

/// `POST /api/rooms/{room}/messages` → `201 {"id","ts_us"}`.
pub async fn publish(
    State(app): State<AppState>,
    conn: Conn,
    ip: ClientIp,
    auth: crate::auth::Auth,
    RoomPath(room): RoomPath,
    JsonBody(p): JsonBody<PublishRequest>,
) -> Result<Response, ApiError> {
    conn.label(Label::Publish);
    rate_limit(&app, &conn, ip, &auth)?;
    validate_user(&p.user)?;
    auth.check_user(&p.user)?;
    let room = app.hub.room(&room);
    let (id, ts_us) = room.publish_request(&p).await?;
    Ok((
        StatusCode::CREATED,
        Json(PublishResponse {
            id: id.to_string(),
            ts_us,
        }),
    )
        .into_response())
}

/// `POST /api/rooms/{room}/typing` → 204.
pub async fn typing(
    State(app): State<AppState>,
    conn: Conn,
    ip: ClientIp,
    auth: crate::auth::Auth,
    RoomPath(room): RoomPath,
    JsonBody(t): JsonBody<TypingRequest>,
) -> Result<StatusCode, ApiError> {
    conn.label(Label::Publish);
    rate_limit(&app, &conn, ip, &auth)?;
    validate_user(&t.user)?;
    auth.check_user(&t.user)?;
    app.hub
        .room(&room)
        .publish_async(
            Kind::Typing,
            Draft {
                user: Some(&t.user),
                ..Draft::default()
            },
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
