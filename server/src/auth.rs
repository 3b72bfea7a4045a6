//! `--auth-token-secret`: every room endpoint wants an HS256 JWT, from
//! `Authorization: Bearer` or `?token=` (browsers cannot set headers on
//! EventSource or WebSocket). The token's `sub` is the user: a publish, a
//! typing notice or a presence `?user=` naming anyone else is refused, so
//! nobody speaks or appears as someone else. The chat page, `/healthz`,
//! `/metrics` and `/api/stats` stay open (probes and dashboards).

use crate::AppState;
use crate::error::ApiError;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use protocol::token::{TokenError, verify};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{SystemTime, UNIX_EPOCH};

/// The checked user of a request (`None` when auth is off).
#[derive(Debug, Clone, Default)]
pub struct Auth(pub Option<Arc<str>>);

/// A WebSocket upgrade whose token was refused: the handler upgrades and
/// closes with 1008, because a browser never shows a failed handshake's body.
#[derive(Debug, Clone)]
pub struct Refused(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Auth {
    type Rejection = ApiError;

    /// A token refused on a request that asked to upgrade (see [`Refused`])
    /// is still refused by every endpoint that does not upgrade: only the
    /// WebSocket handler takes the `Refused` path, before asking for `Auth`.
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        if let Some(Refused(why)) = parts.extensions.get::<Refused>() {
            return Err(ApiError::Unauthorized(why.clone()));
        }
        Ok(parts.extensions.get::<Auth>().cloned().unwrap_or_default())
    }
}

impl Auth {
    /// `user` (from a body, frame or `?user=`) must be the token's subject.
    pub fn check_user(&self, user: &str) -> Result<(), ApiError> {
        match &self.0 {
            Some(sub) if **sub != *user => Err(ApiError::Forbidden(format!(
                "user {user:?} is not the token's subject ({sub:?}): you can only speak as yourself"
            ))),
            _ => Ok(()),
        }
    }
}

fn token_of(headers: &HeaderMap, uri: &Uri) -> Option<String> {
    if let Some(v) = headers.get(header::AUTHORIZATION)
        && let Ok(v) = v.to_str()
    {
        let v = v.trim();
        if let Some(t) = v
            .strip_prefix("Bearer ")
            .or_else(|| v.strip_prefix("bearer "))
        {
            return Some(t.trim().to_string());
        }
    }
    let q = uri.query()?;
    q.split('&')
        .find_map(|kv| kv.strip_prefix("token="))
        .map(str::to_string)
}

/// The user of a request's token (`Authorization: Bearer` or `?token=`):
/// `Ok(None)` when auth is off; a refusal is counted.
pub(crate) fn authorize(
    app: &AppState,
    headers: &HeaderMap,
    uri: &Uri,
) -> Result<Option<Auth>, TokenError> {
    let Some(secret) = &app.config.auth_secret else {
        return Ok(None);
    };
    let verdict = match token_of(headers, uri) {
        Some(t) => verify_token(secret, &t),
        None => Err(TokenError::Missing),
    };
    match verdict {
        Ok(sub) => Ok(Some(Auth(Some(sub.into())))),
        Err(e) => {
            app.limit_metrics.auth_failures.fetch_add(1, Relaxed);
            Err(e)
        }
    }
}

/// The token's subject, if `token` is valid now.
pub(crate) fn verify_token(secret: &str, token: &str) -> Result<String, TokenError> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    verify(secret.as_bytes(), token, now).map(|c| c.sub)
}

/// The middleware: check the token of every room endpoint.
pub async fn check(State(app): State<AppState>, mut req: Request, next: Next) -> Response {
    if app.config.auth_secret.is_none() {
        return next.run(req).await;
    }
    let path = req.uri().path();
    let socketio = path == protocol::socketio::PATH;
    if !path.starts_with("/api/rooms/") && !socketio {
        return next.run(req).await;
    }
    // Socket.IO: a session's later requests carry its sid, not a token,
    // and a handshake without one sends it in the CONNECT packet.
    if socketio
        && (token_of(req.headers(), req.uri()).is_none()
            || crate::transport::socketio::has_sid(req.uri()))
    {
        return next.run(req).await;
    }
    match authorize(&app, req.headers(), req.uri()) {
        Ok(auth) => {
            req.extensions_mut().insert(auth.unwrap_or_default());
            next.run(req).await
        }
        Err(e) => {
            let upgrade = req
                .headers()
                .get(header::UPGRADE)
                .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"websocket"));
            if upgrade {
                req.extensions_mut().insert(Refused(e.to_string()));
                next.run(req).await
            } else {
                ApiError::Unauthorized(e.to_string()).into_response()
            }
        }
    }
}
