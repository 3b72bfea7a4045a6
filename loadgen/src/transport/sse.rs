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
use crate::profile::{CursorFrom, Sub};
use crate::wire::SseParser;
use bytes::Bytes;
use http_body_util::BodyExt;
use http_body_util::Full;
use hyper::body::{Frame, Incoming};
use hyper::header;
use hyper::{Request, Response, StatusCode};
use std::borrow::Cow;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

pub async fn session(c: &mut Client) -> Result<End, ClientError> {
    let started = Instant::now();
    let cancel = c.cancel().clone();
    let base = poll::base(c);
    let uri = c.url(&base.0);
    // An async block, not a function: its captures are references, which
    // keeps this (per-client) future small. The connection lives as long as
    // the stream is read.
    let Some((_conn, resp)) = bounded(&cancel, REQUEST_TIMEOUT, "SSE connect timed out", async {
        let _permit = c.dialer().permit().await;
        let stream = c.dial(crate::net::Purpose::Http).await?;
        let mut conn = HttpConn::handshake(stream, c.authority()).await?;
        let req = subscribe_request(c, &conn, &uri, &base)?;
        let resp = conn.send(req).await?;
        Ok((conn, resp))
    })
    .await?
    else {
        return Ok(End::Cancelled);
    };
    if resp.status() != StatusCode::OK {
        return Err(refused(c, &uri, resp).await);
    }
    if !is_event_stream(&resp) {
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
    read_events(c, &cancel, resp.into_body()).await
}

/// The subscribe request, with the profile's headers and the cursors
/// that travel as headers.
fn subscribe_request(
    c: &Client,
    conn: &HttpConn,
    uri: &str,
    base: &poll::Base,
) -> Result<Request<Full<Bytes>>, ClientError> {
    let mut req = conn.get(uri);
    if !base.1.iter().any(|(k, _)| k == header::ACCEPT) {
        req = req.header(header::ACCEPT, "text/event-stream");
    }
    for (k, v) in &base.1 {
        req = req.header(k, v);
    }
    for (k, v) in c.cursor_headers() {
        req = req.header(k, v);
    }
    empty(req)
}

/// A subscribe answered with another status than 200, with the server's
/// reason if it says one quickly (bounded).
async fn refused(c: &Client, uri: &str, resp: Response<Incoming>) -> ClientError {
    let status = resp.status();
    let body = tokio::time::timeout(
        Duration::from_secs(2),
        crate::http::read_body(resp.into_body()),
    )
    .await
    .ok()
    .and_then(Result::ok)
    .unwrap_or_default();
    c.shared.url_error(ClientError::new(
        ErrorKind::HttpStatus,
        format!(
            "GET {uri} answered {status}: {}",
            crate::record::snippet(&body)
        ),
    ))
}

fn is_event_stream(resp: &Response<Incoming>) -> bool {
    resp.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"))
}

/// Read the stream until the run ends, it fails, goes silent, or the
/// server reports a lag.
async fn read_events(
    c: &mut Client,
    cancel: &CancellationToken,
    mut body: Incoming,
) -> Result<End, ClientError> {
    let shared = c.shared.clone();
    let sub = shared.sub();
    let mut parser = SseParser::default();
    // Once, not per chunk (see ws.rs).
    let own = cancel.child_token();
    let cancelled = own.cancelled();
    tokio::pin!(cancelled);
    let mut silence = Silence::new(c.shared.cfg.stream_timeout);
    loop {
        // Biased, as in ws.rs: the end of the run, then data, then silence.
        let frame = tokio::select! {
            biased;
            _ = &mut cancelled => return Ok(End::Cancelled),
            f = body.frame() => Ok(f),
            _ = silence.expired() => Err(()),
        };
        silence.heard();
        let Some(data) = chunk(frame)? else {
            continue; // trailers: nothing for us
        };
        let now_us = c.shared.rec.clock.now_us();
        if let Some(cursor) = take_chunk(c, &shared, sub, &mut parser, now_us, &data)? {
            c.lagged(cursor.as_deref());
            return Ok(End::Lagged);
        }
    }
}

/// The data of one body frame; `None` for trailers. `Err(())`: silence.
fn chunk(
    frame: Result<Option<Result<Frame<Bytes>, hyper::Error>>, ()>,
) -> Result<Option<Bytes>, ClientError> {
    match frame {
        Err(()) => Err(ClientError::new(
            ErrorKind::Timeout,
            "SSE stream went silent",
        )),
        Ok(None) => Err(ClientError::new(
            ErrorKind::UnexpectedClose,
            "SSE stream ended",
        )),
        Ok(Some(Err(e))) => Err(ClientError::from_hyper(&e)),
        Ok(Some(Ok(frame))) => Ok(frame.into_data().ok()),
    }
}

/// Feed one chunk to the parser and act on each complete event: record
/// messages, move the `id:` cursor, count gaps. `Some(cursor)` when the
/// server reported a lag (the cursor from its notice, if any).
fn take_chunk(
    c: &mut Client,
    shared: &super::Shared,
    sub: &Sub,
    parser: &mut SseParser,
    now_us: u64,
    data: &[u8],
) -> Result<Option<Option<String>>, ClientError> {
    let mut lagged = None;
    let fed = parser.feed(data, |ev| {
        c.shared.rec.trace(|| {
            format!(
                "SSE event: {} id: {} data: {}",
                if ev.event.is_empty() {
                    "message"
                } else {
                    ev.event
                },
                crate::record::or_none(ev.id),
                crate::record::snippet(ev.data)
            )
        });
        if sub.sse().lag_event.as_deref() == Some(ev.event) {
            let cursor = sub
                .sse()
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
        if sub.sse().gap_event.as_deref() == Some(ev.event) {
            c.gap();
        } else if sub.measures_event(ev.event)
            && let Err(e) = c.take_unit(shared, now_us, ev.data)
        {
            c.shared.rec.error(&e);
        }
    });
    fed.map_err(|e| ClientError::new(ErrorKind::Protocol, e))?;
    Ok(lagged)
}
