//! A room whose messages go through Redis: publishing (and waiting until
//! the fan-in made the message visible here), reading back what the local
//! history no longer keeps, waiting for a room's history, and turning
//! stream entries into deliveries.

use super::reply::Entry;
use super::{LOAD_WAIT, RedisBroker};
use crate::error::ApiError;
use crate::hub::{Backlog, Delivery, Draft, Room, body_json, itoa_buf, now_us};
use axum::extract::ws::Utf8Bytes;
use protocol::Kind;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use tokio::time::Instant;

impl RedisBroker {
    /// Stores a message in Redis (every instance's fan-in then delivers
    /// it). Returns its id and accept time.
    pub(crate) async fn publish_to(
        &self,
        room: &Room,
        kind: Kind,
        draft: Draft<'_>,
    ) -> Result<(u64, u64), ApiError> {
        let ts_us = now_us();
        let body = body_json(kind, &draft, ts_us);
        let floor = room.last_id();
        let id = self
            .publish(room.name(), floor, kind, &body)
            .await
            .map_err(|e| ApiError::BrokerUnavailable(e.to_string()))?;
        room.metrics().publishes.fetch_add(1, Relaxed);
        // Read your writes: answer once this instance's fan-in has made the
        // message visible here too (bounded; Redis already has it).
        room.visible_by(id, Instant::now() + LOAD_WAIT).await;
        Ok((id, ts_us))
    }

    /// A resume cursor older than the local history: fetch what Redis still
    /// keeps (`XRANGE`) in front of the backlog; a gap remains only for what
    /// Redis trimmed too.
    pub(crate) async fn backfill(&self, room: &Room, b: &mut Backlog, since: u64) {
        if !b.gap || since > b.cursor {
            return;
        }
        let first = b.messages.first().map_or(b.cursor + 1, |d| d.id);
        if first <= since + 1 {
            return;
        }
        let Ok(entries) = self.range(room.name(), since + 1, first - 1).await else {
            return;
        };
        let older = deliveries(room.name(), entries);
        b.gap = older.first().is_none_or(|d| d.id > since + 1);
        b.messages.splice(0..0, older);
    }

    /// Waits until the fan-in loaded the room's history from Redis.
    pub(crate) async fn wait_loaded(&self, room: &Room) -> Result<(), ApiError> {
        if room.loaded_by(Instant::now() + LOAD_WAIT).await {
            return Ok(());
        }
        Err(ApiError::BrokerUnavailable(format!(
            "the message broker (Redis at {}) did not deliver room {}'s history within {LOAD_WAIT:?}",
            self.url,
            room.name()
        )))
    }
}

/// Stream entries of `room` as deliveries (malformed bodies, not an object
/// or not UTF-8, skipped).
pub(super) fn deliveries(room: &str, entries: Vec<Entry>) -> Vec<Arc<Delivery>> {
    entries
        .into_iter()
        .filter_map(|(id, kind, body)| delivery(room, id, kind, &body))
        .collect()
}

/// A broker entry as a delivery: `{"id":"N","room":"R",` + the stored
/// body without its `{` (no re-serialization).
fn delivery(room: &str, id: u64, kind: Kind, body: &[u8]) -> Option<Arc<Delivery>> {
    if body.first() != Some(&b'{') {
        return None;
    }
    let idbuf = itoa_buf(id);
    let mut json = Vec::with_capacity(body.len() + room.len() + 40);
    json.extend_from_slice(b"{\"id\":");
    json.extend_from_slice(
        serde_json::to_string(idbuf.as_str())
            .unwrap_or_default()
            .as_bytes(),
    );
    json.extend_from_slice(b",\"room\":");
    json.extend_from_slice(serde_json::to_string(room).unwrap_or_default().as_bytes());
    if body.len() > 2 {
        json.push(b',');
    }
    json.extend_from_slice(&body[1..]);
    let json = Utf8Bytes::try_from(json).ok()?;
    Some(Delivery::new(id, kind, json))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_become_messages_of_the_room() {
        let entries = vec![
            (
                7,
                Kind::Message,
                br#"{"kind":"message","user":"a","ts_us":1}"#.to_vec(),
            ),
            (8, Kind::Message, b"not json".to_vec()),
            (9, Kind::Presence, b"{}".to_vec()),
        ];
        let ds = deliveries("lo\"bby", entries);
        assert_eq!(ds.iter().map(|d| d.id).collect::<Vec<_>>(), [7, 9]);
        let m: protocol::Message = serde_json::from_str(&ds[0].json).expect("valid message");
        assert_eq!((m.id.as_str(), m.room.as_str()), ("7", "lo\"bby"));
        assert_eq!(m.user.as_deref(), Some("a"));
        assert_eq!(ds[1].json.as_str(), r#"{"id":"9","room":"lo\"bby"}"#);
        let not_utf8 = vec![(10, Kind::Message, b"{\"text\":\"\xff\"}".to_vec())];
        assert!(deliveries("r", not_utf8).is_empty());
    }
}
