//! Server-Sent Events: one GET stream per client (rtbench: `…/events`) over
//! the same hyper connection type as polling, parsed by the small
//! incremental parser in `wire`, resumed as the profile says (rtbench:
//! `Last-Event-ID`).
//!
//! Why not eventsource-client: it reconnects on its own (hiding reconnects
//! and the resume point we must control and count), needs its own transport
//! crate plus a counting connector for wire bytes, and holds more state per
//! client than this parser's two small buffers.

use super::{Client, End, REQUEST_TIMEOUT, Silence, bounded, poll};
use crate::error::{ClientError, ErrorKind};
use crate::http::{HttpConn, empty};
use crate::profile::CursorFrom;
use crate::wire::SseParser;
use http_body_util::BodyExt;
use hyper::header;
use std::borrow::Cow;
use std::time::Instant;

pub async fn session(c: &mut Client) -> Result<End, ClientError> {
    let started = Instant::now();
    let cancel = c.cancel().clone();
    let base = poll::base(c);
    let uri = c.url(&base.0);
    let Some((_conn, resp)) = bounded(&cancel, REQUEST_TIMEOUT, "SSE connect timed out", async {
        let _permit = c.dialer().permit().await;
        let stream = c.dial(crate::net::Purpose::Http).await?;
        let mut conn = HttpConn::handshake(stream, c.authority()).await?;
        let mut req = conn.get(&uri);
        if !base.1.iter().any(|(k, _)| k == header::ACCEPT) {
            req = req.header(header::ACCEPT, "text/event-stream");
        }
        for (k, v) in &base.1 {
            req = req.header(k, v);
        }
        for (k, v) in c.cursor_headers() {
            req = req.header(k, v);
        }
        let resp = conn.send(empty(req)?).await?;
        Ok((conn, resp))
    })
    .await?
    else {
        return Ok(End::Cancelled);
    };
    if resp.status() != hyper::StatusCode::OK {
        let status = resp.status();
        // The server's reason, if it says one quickly (bounded).
        let body = tokio::time::timeout(
            std::time::Duration::from_secs(2),
            crate::http::read_body(resp.into_body()),
        )
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
        return Err(c.shared.url_error(ClientError::new(
            ErrorKind::HttpStatus,
            format!(
                "GET {uri} answered {status}: {}",
                crate::record::snippet(&body)
            ),
        )));
    }
    let is_sse = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    if !is_sse {
        return Err(c.shared.url_error(ClientError::new(
            ErrorKind::Protocol,
            "SSE answer is not text/event-stream",
        )));
    }
    c.shared.rec.trace(|| {
        let sent: String = c
            .cursor_headers()
            .map(|(k, v)| format!(" [{k}: {v}]"))
            .collect();
        format!("GET {uri}{sent} → {} text/event-stream", resp.status())
    });
    c.connected(started);
    c.request(false);
    let shared = c.shared.clone();
    let sub = shared.sub();
    let mut body = resp.into_body();
    let mut parser = SseParser::default();
    // Once, not per chunk (see ws.rs).
    let own = cancel.child_token();
    let cancelled = own.cancelled();
    tokio::pin!(cancelled);
    let mut silence = Silence::new();
    loop {
        let frame = tokio::select! {
            _ = &mut cancelled => return Ok(End::Cancelled),
            _ = silence.expired() => Err(()),
            f = body.frame() => Ok(f),
        };
        silence.heard();
        let data = match frame {
            Err(()) => {
                return Err(ClientError::new(
                    ErrorKind::Timeout,
                    "SSE stream went silent",
                ));
            }
            Ok(None) => {
                return Err(ClientError::new(
                    ErrorKind::UnexpectedClose,
                    "SSE stream ended",
                ));
            }
            Ok(Some(Err(e))) => return Err(ClientError::from_hyper(&e)),
            Ok(Some(Ok(frame))) => match frame.into_data() {
                Ok(d) => d,
                Err(_) => continue, // trailers: nothing for us
            },
        };
        let now_us = c.shared.rec.clock.now_us();
        let mut lagged = None;
        let fed = parser.feed(&data, |ev| {
            c.shared.rec.trace(|| {
                format!(
                    "SSE event: {:?} id: {:?} data: {}",
                    ev.event,
                    ev.id,
                    crate::record::snippet(ev.data)
                )
            });
            if sub.lag_event.as_deref() == Some(ev.event) {
                let cursor = sub
                    .lag_cursor
                    .as_ref()
                    .and_then(|p| p.find_str(ev.data).ok().flatten())
                    .map(|v| v.into_owned());
                lagged = Some(cursor);
                return;
            }
            if let Some(id) = ev.id {
                c.set_cursors(|from| (*from == CursorFrom::SseId).then_some(Cow::Borrowed(id)));
            }
            if sub.gap_event.as_deref() == Some(ev.event) {
                c.gap();
            } else if sub.measures_event(ev.event)
                && let Err(e) = c.take_unit(&shared, now_us, ev.data)
            {
                c.shared.rec.error(&e);
            }
        });
        if let Err(e) = fed {
            return Err(ClientError::new(ErrorKind::Protocol, e));
        }
        if let Some(cursor) = lagged {
            c.lagged(cursor.as_deref());
            return Ok(End::Lagged);
        }
    }
}
