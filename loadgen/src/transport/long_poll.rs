//! Long polling: `GET …/messages?since=ID&wait=S` on one keep-alive
//! connection, re-requested at once with the new cursor when it returns
//! (with messages, or empty when the wait ran out).

use super::{Client, End, REQUEST_TIMEOUT, poll};
use crate::error::ClientError;
use std::time::Instant;

pub async fn session(c: &mut Client) -> Result<End, ClientError> {
    let started = Instant::now();
    let Some(mut conn) = poll::connect(c).await? else {
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
        let answered = poll::once(c, &mut conn, &uri, limit, "long poll outlived its wait");
        if answered.await?.is_none() {
            return Ok(End::Cancelled);
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
