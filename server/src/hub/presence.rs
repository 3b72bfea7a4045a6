//! Who is in a room: push connections hold a [`PresenceGuard`], polls
//! refresh a deadline, and one reaper announces whoever is gone. A user
//! leaves only after `presence_timeout` without any connection or poll, so
//! a reconnect or the gap between two polls is no leave/join flicker.

use super::{Draft, Room, RoomState};
use protocol::Kind;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Default)]
pub(super) struct Member {
    /// Open push connections of this user.
    pub(super) conns: u32,
    /// With no connection, the user stays listed until then.
    pub(super) until: Option<Instant>,
}

impl Room {
    fn publish_presence(&self, st: &mut RoomState, user: &str, joined: bool) {
        if let Some(broker) = &self.remote {
            // Shared presence: announced through the broker, after Redis says
            // whether the user is new (or gone) across every instance.
            if let Some(me) = self.me.upgrade() {
                broker.announce(me, user, joined);
            }
            return;
        }
        let text = format!("{user} {}", if joined { "joined" } else { "left" });
        self.append(
            st,
            Kind::System,
            Draft {
                user: Some(user),
                text: Some(&text),
                ..Draft::default()
            },
        );
        let names: Vec<String> = st.members.keys().cloned().collect();
        let users: Vec<&str> = names.iter().map(String::as_str).collect();
        self.append(
            st,
            Kind::Presence,
            Draft {
                users: Some(users),
                ..Draft::default()
            },
        );
    }

    /// A push connection of `user` opened; announces the user if new.
    pub fn join(self: &Arc<Self>, user: &str) -> PresenceGuard {
        let mut st = self.lock();
        let m = st.members.entry(user.to_string()).or_default();
        let new = m.conns == 0 && m.until.is_none();
        m.conns += 1;
        m.until = None;
        if new {
            self.publish_presence(&mut st, user, true);
        }
        drop(st);
        if new {
            self.notify.notify_waiters();
        }
        PresenceGuard {
            room: self.clone(),
            user: user.to_string(),
        }
    }

    /// A poll by `user`: keeps the user listed for `ttl` more.
    pub fn touch(&self, user: &str, ttl: Duration) {
        let mut st = self.lock();
        let until = Instant::now() + ttl;
        let m = st.members.entry(user.to_string()).or_default();
        let new = m.conns == 0 && m.until.is_none();
        m.until = Some(m.until.map_or(until, |u| u.max(until)));
        if new {
            self.publish_presence(&mut st, user, true);
        }
        drop(st);
        if new {
            self.notify.notify_waiters();
        }
    }

    /// Announces users whose connections closed and whose grace ran out.
    pub(super) fn reap(&self, now: Instant) {
        let mut st = self.lock();
        let gone: Vec<String> = st
            .members
            .iter()
            .filter(|(_, m)| m.conns == 0 && m.until.is_none_or(|u| u <= now))
            .map(|(k, _)| k.clone())
            .collect();
        for user in &gone {
            st.members.remove(user);
            self.publish_presence(&mut st, user, false);
        }
        drop(st);
        if !gone.is_empty() {
            self.notify.notify_waiters();
        }
    }

    /// Users listed now.
    pub fn users(&self) -> Vec<String> {
        self.lock().members.keys().cloned().collect()
    }
}

/// Held by a push connection of a named user; dropping it starts the grace
/// period after which the user is announced as gone.
#[derive(Debug)]
pub struct PresenceGuard {
    room: Arc<Room>,
    user: String,
}

impl Drop for PresenceGuard {
    fn drop(&mut self) {
        let mut st = self.room.lock();
        let grace = Instant::now() + self.room.presence_timeout;
        if let Some(m) = st.members.get_mut(&self.user) {
            m.conns = m.conns.saturating_sub(1);
            if m.conns == 0 {
                m.until = Some(m.until.map_or(grace, |u| u.max(grace)));
            }
        }
    }
}
