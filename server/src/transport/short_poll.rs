//! Short polling: answer at once with whatever is new, also when nothing is.

use super::poll_body;
use crate::AppState;
use crate::hub::{Room, Start};
use crate::metrics::Label;
use crate::net::Conn;
use axum::response::Response;
use protocol::Transport;

pub async fn handle(
    app: &AppState,
    conn: &Conn,
    room: &Room,
    start: Start,
    user: Option<String>,
) -> Response {
    conn.label(Label::Transport(Transport::ShortPoll));
    if let Some(u) = &user {
        room.touch(u, app.config.presence_timeout);
    }
    let mut b = room.read(start);
    room.backfill(&mut b, start).await;
    app.metrics
        .delivered(Transport::ShortPoll, b.messages.len() as u64);
    poll_body(&b)
}
