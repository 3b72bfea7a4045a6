//! Long polling: `GET …/messages?since=ID&wait=S` on one keep-alive
//! connection, re-requested at once with the new cursor when it returns
//! (with messages, or empty when the wait ran out).

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
    // The first answer may be held for the whole wait, so the client counts
    // as connected (for ramp-up) once its socket is.
    c.connected(started);
    let wait = c.shared.cfg.long_poll_wait;
    let wait_param = format_secs(wait.as_secs_f64());
    let limit = wait + REQUEST_TIMEOUT;
    let path = protocol::paths::messages(c.room_name());
    loop {
        let uri = format!("{path}?{}&wait={wait_param}", c.subscribe_query());
        let Some(body) = bounded(&cancel, limit, "long poll outlived its wait", async {
            let resp = conn.send(empty(conn.get(&uri))?).await?;
            if resp.status() != hyper::StatusCode::OK {
                return Err(ClientError::new(
                    ErrorKind::HttpStatus,
                    format!("GET {uri} answered {}", resp.status()),
                ));
            }
            read_body(resp.into_body()).await
        })
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
        c.cursor = Some(poll.cursor.0.into_owned());
        if conn.is_closed() {
            return Err(ClientError::new(
                ErrorKind::UnexpectedClose,
                "server closed the keep-alive connection",
            ));
        }
    }
}

/// `25` for whole seconds, `0.5` otherwise (the server takes both).
fn format_secs(s: f64) -> String {
    if s.fract() == 0.0 {
        format!("{}", s as u64)
    } else {
        format!("{s:.3}")
    }
}
