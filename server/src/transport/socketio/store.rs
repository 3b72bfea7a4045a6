//! Sessions by sid, what a session shares with its requests, and sids.

use crate::hub::Delivery;
use crate::net::ConnMeter;
use axum::extract::ws::WebSocket;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use tokio::sync::{Notify, mpsc};

/// Open sessions by sid; bounded by `--max-connections` (a session holds
/// at least one connection's worth of state even between its polls).
#[derive(Debug, Default)]
pub(crate) struct Store {
    map: Mutex<HashMap<Arc<str>, Arc<Handle>>>,
}

impl Store {
    fn lock(&self) -> MutexGuard<'_, HashMap<Arc<str>, Arc<Handle>>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds `h` unless `max` sessions are open.
    pub(super) fn insert(&self, h: Arc<Handle>, max: usize) -> bool {
        let mut map = self.lock();
        if map.len() >= max {
            return false;
        }
        map.insert(h.sid.clone(), h);
        true
    }

    pub(super) fn get(&self, sid: &str) -> Option<Arc<Handle>> {
        self.lock().get(sid).cloned()
    }

    pub(super) fn remove(&self, sid: &str) {
        self.lock().remove(sid);
    }
}

/// Something the session sends: a room message, framed once for every
/// subscriber, or a packet of this session's own.
#[derive(Debug)]
pub(super) enum Out {
    Message(Arc<Delivery>),
    Packet(String),
}

/// What requests hand to the session's task.
pub(super) enum In {
    /// A `POST` body (checked to be well-formed packets).
    Payload(String),
    /// The WebSocket of a finished upgrade (`2probe`, `3probe`, `5` done).
    Upgrade(Box<WebSocket>),
    /// A request brought something that is not Engine.IO.
    Malformed,
}

/// Packets waiting for the next polling `GET`.
#[derive(Debug, Default)]
pub(super) struct Outbox {
    pub queue: VecDeque<Out>,
    /// A `GET` is held now (a second one is refused).
    pub held: bool,
    /// The session ended: a `GET` takes what is left, then nothing.
    pub closed: bool,
}

/// The part of a session its requests reach through the store.
#[derive(Debug)]
pub(super) struct Handle {
    pub sid: Arc<str>,
    pub inbound: mpsc::Sender<In>,
    outbox: Mutex<Outbox>,
    /// Wakes the held `GET`.
    pub notify: Notify,
    /// The polling connections of this session, relabelled on upgrade.
    polls: Mutex<Vec<Weak<ConnMeter>>>,
    /// A WebSocket took over (or is taking over): polls are refused.
    pub upgraded: AtomicBool,
}

impl std::fmt::Debug for In {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            In::Payload(p) => write!(f, "Payload({} bytes)", p.len()),
            In::Upgrade(_) => f.write_str("Upgrade"),
            In::Malformed => f.write_str("Malformed"),
        }
    }
}

impl Handle {
    pub(super) fn new(sid: Arc<str>, inbound: mpsc::Sender<In>) -> Handle {
        Handle {
            sid,
            inbound,
            outbox: Mutex::default(),
            notify: Notify::new(),
            polls: Mutex::default(),
            upgraded: AtomicBool::new(false),
        }
    }

    pub(super) fn outbox(&self) -> MutexGuard<'_, Outbox> {
        self.outbox.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues `o` for the next `GET` and wakes a held one.
    pub(super) fn push(&self, o: Out) {
        self.outbox().queue.push_back(o);
        self.notify.notify_one();
    }

    /// Ends the outbox: a held `GET` answers with what is left.
    pub(super) fn close(&self) {
        self.outbox().closed = true;
        self.notify.notify_one();
    }

    pub(super) fn queued(&self) -> usize {
        self.outbox().queue.len()
    }

    /// Remembers a polling connection of this session.
    pub(super) fn add_poll(&self, meter: Option<&Arc<ConnMeter>>) {
        let Some(m) = meter else { return };
        let mut polls = self.polls.lock().unwrap_or_else(|p| p.into_inner());
        polls.retain(|w| w.strong_count() > 0);
        if !polls.iter().any(|w| w.as_ptr() == Arc::as_ptr(m)) {
            polls.push(Arc::downgrade(m));
        }
    }

    /// The polling connections still open.
    pub(super) fn polls(&self) -> Vec<Arc<ConnMeter>> {
        let polls = self.polls.lock().unwrap_or_else(|p| p.into_inner());
        polls.iter().filter_map(Weak::upgrade).collect()
    }
}

/// 16 bytes from the OS's CSPRNG, base64url without padding: an sid
/// nobody can guess.
pub(super) fn random_id() -> Option<Arc<str>> {
    let mut bytes = [0u8; 16];
    getrandom::getrandom(&mut bytes).ok()?;
    Some(base64url(&bytes).into())
}

fn base64url(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len() * 4 / 3 + 2);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(char::from(ABC[(n >> (18 - 6 * i) & 63) as usize]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_base64url_and_differ() {
        assert_eq!(base64url(b"\xfb\xff"), "-_8");
        assert_eq!(base64url(b"Man"), "TWFu");
        let a = random_id().expect("random");
        let b = random_id().expect("random");
        assert_eq!(a.len(), 22);
        assert_ne!(a, b);
    }
}
