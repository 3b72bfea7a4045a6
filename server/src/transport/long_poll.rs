//! Long polling: hold the request until the room has news, the wait ends,
//! or the server shuts down (parked polls are answered, not dropped).

use super::{Poll, Subscription, poll_body};
use crate::hub::Start;
use axum::response::IntoResponse;
use axum::response::Response;
use std::time::Duration;
use tokio::time::{Instant, sleep_until};

pub async fn handle(sub: &Subscription<Poll>, wait: Duration) -> Response {
    let (app, room, mut start) = (&sub.app, &sub.room, sub.params.start);
    let Some(_held) = crate::limits::try_slot(
        &app.limit_metrics.open_long_polls,
        app.config.max_long_polls,
    ) else {
        app.limit_metrics
            .rejected_long_polls
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        return crate::ApiError::TooBusy(
            "too many long polls are held open (--max-long-polls); retry, or subscribe with SSE or WebSocket".into(),
        )
        .into_response();
    };
    let wait = wait.min(app.config.long_poll_max_wait);
    if let Some(u) = &sub.params.user {
        room.touch(u, wait + app.config.presence_timeout);
    }
    let deadline = Instant::now() + wait;
    let mut last_round = false;
    loop {
        // Register for the wake-up before reading, so a publish between the
        // read and the await is not missed.
        let notified = room.notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let mut b = room.read(start);
        room.backfill(&mut b, start).await;
        if !b.messages.is_empty() || b.gap || last_round {
            app.metrics
                .delivered(sub.transport, b.messages.len() as u64);
            return poll_body(&b);
        }
        // Nothing yet: from now on wait for anything after the newest id.
        start = Start::Since(b.cursor);
        tokio::select! {
            _ = &mut notified => {}
            _ = sleep_until(deadline) => last_round = true,
            _ = app.shutdown.cancelled() => last_round = true,
        }
    }
}
