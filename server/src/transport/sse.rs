//! Server-Sent Events: one `text/event-stream` response per subscriber.
//!
//! The backlog goes out in the first chunk together with the `retry:` hint;
//! live messages already waiting in the queue are coalesced into one chunk
//! (one write for a subscriber that fell a little behind). A subscriber that
//! falls further behind than its queue gets `event: lagged` with its cursor
//! and the stream ends: it resumes with `Last-Event-ID` and loses nothing
//! that is still in history.

use super::{
    Endpoint, Framing, MAX_BATCH, Params, Queued, Subscription, next_queued, parse_cursor,
};
use crate::error::ApiError;
use crate::hub::{Delivery, PresenceGuard, Start};
use crate::metrics::Metrics;
use axum::body::Body;
use axum::extract::ws::Utf8Bytes;
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use bytes::{Bytes, BytesMut};
use protocol::message::{SSE_EVENT_GAP, SSE_EVENT_LAGGED};
use protocol::{GapNotice, LagNotice, Transport};
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::time::{Instant, Interval, MissedTickBehavior, interval_at};

struct Stream {
    first: Option<Bytes>,
    rx: broadcast::Receiver<Arc<Delivery>>,
    heartbeat: Interval,
    /// Made once per stream, not per chunk.
    shutdown: std::pin::Pin<Box<tokio_util::sync::WaitForCancellationFutureOwned>>,
    last_id: u64,
    done: bool,
    lag_pending: bool,
    metrics: Arc<Metrics>,
    _presence: Option<PresenceGuard>,
}

/// `id: N\ndata: {json}\n\n`.
impl Framing for Sse {
    const TRANSPORT: Transport = Transport::Sse;

    fn encode(d: &Delivery) -> Utf8Bytes {
        use std::fmt::Write;
        let mut event = String::with_capacity(d.json.len() + 32);
        // Writing to a String cannot fail.
        let _ = write!(event, "id: {}\ndata: {}\n\n", d.id, d.json.as_str());
        Utf8Bytes::from(event)
    }
}

/// `event: NAME` with `data` as JSON: the server's own notices.
fn notice_event(name: &str, data: &impl serde::Serialize) -> Bytes {
    // Serializing plain strings cannot fail.
    let json = serde_json::to_string(data).unwrap_or_default();
    Bytes::from(format!("event: {name}\ndata: {json}\n\n"))
}

fn lag_event(cursor: u64) -> Bytes {
    let notice = LagNotice {
        cursor: cursor.to_string(),
    };
    notice_event(SSE_EVENT_LAGGED, &notice)
}

impl Stream {
    /// The next chunk, or `None` when the stream ends.
    async fn next(&mut self) -> Option<Bytes> {
        if self.done {
            return None;
        }
        if self.lag_pending {
            return Some(self.lagged());
        }
        if let Some(first) = self.first.take() {
            return Some(first);
        }
        loop {
            tokio::select! {
                biased;
                _ = self.shutdown.as_mut() => return None,
                r = self.rx.recv() => match r {
                    Ok(d) if d.id <= self.last_id => continue,
                    Ok(d) => return Some(self.batch(d)),
                    Err(RecvError::Lagged(_)) => return Some(self.lagged()),
                    Err(RecvError::Closed) => return None,
                },
                _ = self.heartbeat.tick() => return Some(Bytes::from_static(b": ping\n\n")),
            }
        }
    }

    /// `d` plus whatever else is already queued, as one chunk.
    fn batch(&mut self, d: Arc<Delivery>) -> Bytes {
        self.last_id = d.id;
        let mut n = 1;
        let mut more: Option<BytesMut> = None;
        while n < MAX_BATCH {
            match next_queued(&mut self.rx, self.last_id) {
                Queued::Message(next) => {
                    let buf = more.get_or_insert_with(|| {
                        let first = Sse::framed(&d);
                        let mut b = BytesMut::with_capacity(first.len() * 4);
                        b.extend_from_slice(first.as_bytes());
                        b
                    });
                    buf.extend_from_slice(Sse::framed(&next).as_bytes());
                    self.last_id = next.id;
                    n += 1;
                }
                Queued::Lagged => {
                    // Deliver what was read; the lag is reported next
                    // (broadcast reports a lag once, then moves on).
                    self.lag_pending = true;
                    break;
                }
                Queued::Empty => break,
            }
        }
        self.metrics.delivered(Transport::Sse, n as u64);
        match more {
            Some(b) => b.freeze(),
            None => Bytes::from(Sse::framed(&d).clone()),
        }
    }

    fn lagged(&mut self) -> Bytes {
        self.metrics.lagged.fetch_add(1, Relaxed);
        self.done = true;
        lag_event(self.last_id)
    }
}

/// `GET /api/rooms/{room}/events`.
pub(crate) struct Sse;

impl Endpoint for Sse {
    type Admit = ();
    type Room = Arc<crate::hub::Room>;

    fn transport(_: &Params, _: &()) -> Transport {
        Transport::Sse
    }

    async fn admit(_: &mut Parts) -> Result<(), Response> {
        Ok(())
    }

    /// EventSource reconnects with the original URL plus Last-Event-ID: the
    /// header is newer than any `since` in the URL, so it wins.
    fn resume(parts: &Parts) -> Result<Option<u64>, ApiError> {
        let Some(h) = parts.headers.get("last-event-id") else {
            return Ok(None);
        };
        let s = h
            .to_str()
            .map_err(|_| ApiError::BadCursor("<not text>".into()))?;
        parse_cursor(s).map(Some)
    }
}

pub async fn handler(sub: Subscription<Sse>) -> Response {
    let Subscription {
        app, room, params, ..
    } = sub;
    let presence = params.user.as_deref().map(|u| room.join(u));
    let mut feed = room.subscribe(params.start);
    room.backfill(&mut feed.backlog, params.start).await;

    let mut first = BytesMut::new();
    first.extend_from_slice(format!("retry: {}\n\n", app.config.sse_retry.as_millis()).as_bytes());
    if feed.backlog.gap
        && let Start::Since(since) = params.start
    {
        let notice = GapNotice {
            cursor: since.to_string(),
        };
        first.extend_from_slice(&notice_event(SSE_EVENT_GAP, &notice));
    }
    for d in &feed.backlog.messages {
        first.extend_from_slice(Sse::framed(d).as_bytes());
    }
    app.metrics
        .delivered(Transport::Sse, feed.backlog.messages.len() as u64);
    let hb = app.config.heartbeat;
    let mut heartbeat = interval_at(Instant::now() + hb, hb);
    heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let stream = Stream {
        first: Some(first.freeze()),
        rx: feed.rx,
        heartbeat,
        // A child token of its own (see ws.rs: a shared node is a contended lock).
        shutdown: Box::pin(app.shutdown.child_token().cancelled_owned()),
        last_id: feed.backlog.cursor,
        done: false,
        lag_pending: false,
        metrics: app.metrics.clone(),
        _presence: presence,
    };
    let body = futures_util::stream::unfold(stream, |mut s| async move {
        let chunk = s.next().await?;
        Some((Ok::<_, Infallible>(chunk), s))
    });
    Response::builder()
        .header(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/event-stream"),
        )
        .header(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"))
        .header("x-accel-buffering", HeaderValue::from_static("no"))
        .body(Body::from_stream(body))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::Kind;

    #[test]
    fn framing_is_made_once_and_shared() {
        let json = r#"{"id":"7","room":"r","kind":"message","ts_us":1}"#;
        let d = Delivery::new(7, Kind::Message, Utf8Bytes::from_static(json));
        let a = Sse::framed(&d);
        assert_eq!(a.as_str(), format!("id: 7\ndata: {json}\n\n"));
        let b = Sse::framed(&d);
        assert!(std::ptr::eq(a.as_ptr(), b.as_ptr()), "encoded once");
    }
}
