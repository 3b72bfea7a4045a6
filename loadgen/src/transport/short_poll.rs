//! Short polling: a GET of the profile's URL (rtbench: `…/messages?since=ID`) every `--poll-interval` on one
//! keep-alive connection, starting at a random phase so clients do not poll
//! in lockstep. Polls are scheduled from the start of the previous one, so
//! the request rate is exactly clients / interval and the mean latency is
//! interval / 2 + RTT (the "theory" check in docs/architecture.md).

use super::{Client, End, REQUEST_TIMEOUT, poll};
use crate::error::ClientError;
use std::time::Instant;

pub async fn session(c: &mut Client) -> Result<End, ClientError> {
    let started = Instant::now();
    let cancel = c.cancel().clone();
    let Some(mut conn) = poll::connect(c).await? else {
        return Ok(End::Cancelled);
    };
    let interval = c.shared.cfg.poll_interval;
    let base = poll::base(c);
    let mut first = true;
    loop {
        // Interval 0: closed loop, each poll as soon as the last answered
        // (a request-rate measurement, as wrk does; no timer at all).
        if let Some(due) = c.next_poll.filter(|_| !interval.is_zero()) {
            tokio::select! {
                _ = cancel.cancelled() => return Ok(End::Cancelled),
                _ = tokio::time::sleep_until(due.into()) => {}
            }
        }
        let poll_start = Instant::now();
        let answered = poll::once(
            c,
            &mut conn,
            &base,
            REQUEST_TIMEOUT,
            "poll got no answer in time",
        );
        if answered.await?.is_none() {
            return Ok(End::Cancelled);
        }
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
    }
}
