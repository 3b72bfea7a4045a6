//! Short polling: `GET …/messages?since=ID` every `--poll-interval` on one
//! keep-alive connection, starting at a random phase so clients do not poll
//! in lockstep. Polls are scheduled from the start of the previous one, so
//! the request rate is exactly clients / interval and the mean latency is
//! interval / 2 + RTT (the "theory" check in DESIGN.md).

use super::{Client, End, REQUEST_TIMEOUT, bounded};
use crate::error::{ClientError, ErrorKind};
use crate::http::{HttpConn, empty, read_body};
use crate::wire::PollRef;
use std::time::Instant;

pub async fn session(c: &mut Client) -> Result<End, ClientError> {
    let started = Instant::now();
    let cancel = c.cancel().clone();
    let Some(mut conn) = bounded(&cancel, REQUEST_TIMEOUT, "connect timed out", async {
        let _permit = c.dialer().permit().await;
        let stream = c.dial().await?;
        HttpConn::handshake(stream, &c.shared.authority).await
    })
    .await?
    else {
        return Ok(End::Cancelled);
    };
    let interval = c.shared.cfg.poll_interval;
    let path = protocol::paths::messages(c.room_name());
    let mut first = true;
    loop {
        if let Some(due) = c.next_poll {
            tokio::select! {
                _ = cancel.cancelled() => return Ok(End::Cancelled),
                _ = tokio::time::sleep_until(due.into()) => {}
            }
        }
        let poll_start = Instant::now();
        let uri = format!("{path}?{}", c.subscribe_query());
        let Some(body) = bounded(
            &cancel,
            REQUEST_TIMEOUT,
            "poll got no answer in time",
            async {
                let resp = conn.send(empty(conn.get(&uri))?).await?;
                if resp.status() != hyper::StatusCode::OK {
                    return Err(ClientError::new(
                        ErrorKind::HttpStatus,
                        format!("GET {uri} answered {}", resp.status()),
                    ));
                }
                read_body(resp.into_body()).await
            },
        )
        .await?
        else {
            return Ok(End::Cancelled);
        };
        let now_us = c.shared.rec.clock.now_us();
        let poll: PollRef<'_> = serde_json::from_slice(&body)
            .map_err(|e| ClientError::new(ErrorKind::Protocol, format!("poll answer: {e}")))?;
        c.request(poll.messages.is_empty());
        if poll.gap {
            c.gap();
        }
        c.receive(now_us, &poll.messages);
        let cursor = poll.cursor.0.into_owned();
        c.cursor = Some(cursor);
        if first {
            first = false;
            c.connected(started);
        }
        // Next poll: one interval after this one started; the first regular
        // poll of a client at a random phase within the interval.
        let next = match c.next_poll {
            Some(prev) => prev + interval,
            None => poll_start + interval.mul_f64(c.rng.next_f64()),
        };
        // Fell behind (slow server): skip ahead instead of bursting.
        c.next_poll = Some(next.max(Instant::now()));
        if conn.is_closed() {
            return Err(ClientError::new(
                ErrorKind::UnexpectedClose,
                "server closed the keep-alive connection",
            ));
        }
    }
}
