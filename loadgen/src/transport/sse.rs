//! Server-Sent Events: one `GET …/events` stream per client over the same
//! hyper connection type as polling, parsed by the small incremental parser
//! in `wire`, resumed with `Last-Event-ID`.
//!
//! Why not eventsource-client: it reconnects on its own (hiding reconnects
//! and the resume point we must control and count), needs its own transport
//! crate plus a counting connector for wire bytes, and holds more state per
//! client than this parser's two small buffers.

use super::{Client, End, IDLE_TIMEOUT, REQUEST_TIMEOUT, bounded};
use crate::error::{ClientError, ErrorKind};
use crate::http::{HttpConn, empty};
use crate::wire::{MsgRef, SseParser};
use http_body_util::BodyExt;
use hyper::header;
use protocol::message::{LagNotice, SSE_EVENT_GAP, SSE_EVENT_LAGGED};
use std::time::Instant;

pub async fn session(c: &mut Client) -> Result<End, ClientError> {
    let started = Instant::now();
    let cancel = c.cancel().clone();
    let path = protocol::paths::events(c.room_name());
    let (uri, last_id) = match &c.cursor {
        Some(id) => (path, Some(id.clone())),
        None => (format!("{path}?{}", c.subscribe_query()), None),
    };
    let Some((_conn, resp)) = bounded(&cancel, REQUEST_TIMEOUT, "SSE connect timed out", async {
        let _permit = c.dialer().permit().await;
        let stream = c.dial().await?;
        let mut conn = HttpConn::handshake(stream, &c.shared.authority).await?;
        let mut req = conn.get(&uri).header(header::ACCEPT, "text/event-stream");
        if let Some(id) = &last_id {
            req = req.header("last-event-id", id);
        }
        let resp = conn.send(empty(req)?).await?;
        Ok((conn, resp))
    })
    .await?
    else {
        return Ok(End::Cancelled);
    };
    if resp.status() != hyper::StatusCode::OK {
        return Err(ClientError::new(
            ErrorKind::HttpStatus,
            format!("GET {uri} answered {}", resp.status()),
        ));
    }
    let is_sse = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    if !is_sse {
        return Err(ClientError::new(
            ErrorKind::Protocol,
            "SSE answer is not text/event-stream",
        ));
    }
    c.connected(started);
    c.request(false);
    let mut body = resp.into_body();
    let mut parser = SseParser::default();
    loop {
        let frame = tokio::select! {
            _ = cancel.cancelled() => return Ok(End::Cancelled),
            f = tokio::time::timeout(IDLE_TIMEOUT, body.frame()) => f,
        };
        let data = match frame {
            Err(_) => {
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
            if ev.event == SSE_EVENT_LAGGED {
                let notice: Option<LagNotice> = serde_json::from_slice(ev.data).ok();
                lagged = Some(notice.map(|n| n.cursor));
                return;
            }
            if ev.event == SSE_EVENT_GAP {
                c.gap();
                return;
            }
            if !ev.event.is_empty() && ev.event != "message" {
                return; // an event type we do not measure
            }
            match serde_json::from_slice::<MsgRef<'_>>(ev.data) {
                Ok(m) => c.receive(now_us, [&m]),
                Err(e) => c.shared.rec.error(&ClientError::new(
                    ErrorKind::Protocol,
                    format!("SSE data is not a message: {e}"),
                )),
            }
            if let Some(id) = ev.id {
                c.cursor = Some(id.to_string());
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
