//! Short polling: answer at once with whatever is new, also when nothing is.

use super::{Poll, Subscription, poll_body};
use axum::response::Response;

pub async fn handle(sub: &Subscription<Poll>) -> Response {
    let (app, room, start) = (&sub.app, &sub.room, sub.params.start);
    if let Some(u) = &sub.params.user {
        room.touch(u, app.config.presence_timeout);
    }
    let mut b = room.read(start);
    room.backfill(&mut b, start).await;
    app.metrics
        .delivered(sub.transport, b.messages.len() as u64);
    poll_body(&b)
}
