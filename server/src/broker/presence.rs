//! Presence across instances: a Redis hash per room whose fields are this
//! instance's users with an expiry; the user list is the union.

use super::{BrokerError, RedisBroker, presence_key};
use crate::hub::{Draft, Room};
use protocol::Kind;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio_util::sync::CancellationToken;

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl RedisBroker {
    /// Presence: mark `users` of this instance present in `room` until the
    /// TTL, and return every user present on any instance.
    pub async fn presence(
        &self,
        room: &str,
        here: &[String],
        gone: &[String],
    ) -> Result<Vec<String>, BrokerError> {
        let key = presence_key(room);
        let now = unix_ms();
        let until = now + (self.presence_ttl.as_millis() as u64).max(3000);
        let mut pipe = redis::pipe();
        for u in here {
            pipe.cmd("HSET")
                .arg(&key)
                .arg(format!("{u}\u{1f}{}", self.instance))
                .arg(until)
                .ignore();
        }
        for u in gone {
            pipe.cmd("HDEL")
                .arg(&key)
                .arg(format!("{u}\u{1f}{}", self.instance))
                .ignore();
        }
        pipe.cmd("HGETALL").arg(&key);
        let (all,): (HashMap<String, u64>,) = self
            .call(|mut c| async move { pipe.query_async(&mut c).await })
            .await?;
        let users: BTreeSet<String> = all
            .into_iter()
            .filter(|(_, until)| *until > now)
            .filter_map(|(field, _)| field.split('\u{1f}').next().map(str::to_string))
            .collect();
        Ok(users.into_iter().collect())
    }

    /// A local join or leave of `user` in `room`, announced in the
    /// background (Redis round trips; the caller holds the room's lock).
    pub(crate) fn announce(self: &Arc<Self>, room: Arc<Room>, user: &str, joined: bool) {
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let (me, user) = (self.clone(), user.to_string());
            rt.spawn(async move { me.announce_now(&room, user, joined).await });
        }
    }

    /// Updates this instance's field, then announces a join or leave only
    /// when the user's presence across all instances changed, and publishes
    /// the union user list.
    async fn announce_now(&self, room: &Room, user: String, joined: bool) {
        let before = self.presence(room.name(), &[], &[]).await;
        let (here, gone) = if joined {
            (vec![user.clone()], vec![])
        } else {
            (vec![], vec![user.clone()])
        };
        let Ok(now) = self.presence(room.name(), &here, &gone).await else {
            return;
        };
        let was = before.is_ok_and(|u| u.contains(&user));
        let is = now.contains(&user);
        if was != is {
            let text = format!("{user} {}", if is { "joined" } else { "left" });
            let _ = room
                .publish_async(
                    Kind::System,
                    Draft {
                        user: Some(&user),
                        text: Some(&text),
                        ..Draft::default()
                    },
                )
                .await;
        }
        let users: Vec<&str> = now.iter().map(String::as_str).collect();
        let _ = room
            .publish_async(
                Kind::Presence,
                Draft {
                    users: Some(users),
                    ..Draft::default()
                },
            )
            .await;
    }
}

/// Every second: refresh this instance's presence fields for local members.
pub async fn run_presence_refresh(
    broker: Arc<RedisBroker>,
    state: crate::AppState,
    shutdown: CancellationToken,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tick.tick() => {}
        }
        for (room, users) in state.hub.local_members() {
            if !users.is_empty() {
                let _ = broker.presence(&room, &users, &[]).await;
            }
        }
    }
}
