//! Long polling: a GET of the profile's URL (rtbench:
//! `…/messages?since=ID&wait=S`) on one keep-alive connection, re-requested at once with the new cursor when it returns
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
    let limit = c.shared.cfg.long_poll_wait + REQUEST_TIMEOUT;
    let base = poll::base(c);
    loop {
        let answered = poll::once(c, &mut conn, &base, limit, "long poll outlived its wait");
        if answered.await?.is_none() {
            return Ok(End::Cancelled);
        }
    }
}
