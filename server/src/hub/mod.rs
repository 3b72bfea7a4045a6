//! The hub owns rooms; a room owns its history, its live feed and its users.
//!
//! A publish is serialized once per wire format into shared [`Delivery`]
//! bytes; the history ring and every subscriber hold the same `Arc`. History
//! ids are contiguous, so finding where a cursor starts is index arithmetic,
//! not a scan: many long polls on one room stay cheap. Appending to history
//! and sending on the live channel happen under one lock, so a subscriber
//! that reads its backlog and subscribes under that lock sees every message
//! exactly once.

mod presence;

use presence::Member;
pub use presence::PresenceGuard;

use crate::broker::{Entry, RedisBroker};
use crate::delay::DelayLine;
use crate::error::ApiError;
use crate::metrics::Metrics;
use axum::extract::ws::Utf8Bytes;
use bytes::Bytes;
use protocol::Kind;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::{Notify, broadcast};

/// One message, pre-encoded for every transport.
#[derive(Debug)]
pub struct Delivery {
    pub id: u64,
    pub kind: Kind,
    /// The message object (polling bodies, WebSocket text).
    pub json: Bytes,
    /// `id: N\ndata: {json}\n\n`.
    pub sse: Bytes,
    /// The same bytes as `json`, already checked as UTF-8 for WebSocket text.
    pub ws: Utf8Bytes,
}

/// The fields of a new message; the room adds id, room and time.
#[derive(Debug, Default)]
pub struct Draft<'a> {
    pub user: Option<&'a str>,
    pub text: Option<&'a str>,
    pub sent_us: Option<u64>,
    pub publisher: Option<&'a str>,
    pub seq: Option<u64>,
    pub users: Option<Vec<&'a str>>,
}

/// Borrowed twin of `protocol::Message`: same fields, same order, so the
/// bytes are what a client deserializes into it, without owned copies.
#[derive(Serialize)]
struct Wire<'a> {
    id: &'a str,
    room: &'a str,
    #[serde(flatten)]
    body: StoredBody<'a>,
}

/// The message without `id` and `room`: what the Redis broker stores (each
/// instance adds them when it commits the entry, serializing once).
#[derive(Serialize)]
struct StoredBody<'a> {
    kind: Kind,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<&'a str>,
    ts_us: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    sent_us: Option<u64>,
    #[serde(rename = "pub", skip_serializing_if = "Option::is_none")]
    publisher: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    seq: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    users: Option<&'a [&'a str]>,
}

impl<'a> StoredBody<'a> {
    fn new(kind: Kind, d: &'a Draft<'a>, ts_us: u64) -> Self {
        StoredBody {
            kind,
            user: d.user,
            text: d.text,
            ts_us,
            sent_us: d.sent_us,
            publisher: d.publisher,
            seq: d.seq,
            users: d.users.as_deref(),
        }
    }
}

/// How long a request waits for a room's history to load from the broker.
const LOAD_WAIT: Duration = Duration::from_secs(3);

/// Microseconds since the UNIX epoch.
pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// Where a reader starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// Everything after this id (a resuming client).
    Since(u64),
    /// The last N chat messages plus the current user list (a joining client).
    Recent(usize),
}

/// What a reader gets now.
#[derive(Debug)]
pub struct Backlog {
    pub messages: Vec<Arc<Delivery>>,
    /// Id of the newest message in the room: the reader's next `since`.
    pub cursor: u64,
    /// The requested cursor was older than the kept history, or unknown.
    pub gap: bool,
}

/// A push subscriber: its backlog and the live feed after it.
#[derive(Debug)]
pub struct Subscription {
    pub backlog: Backlog,
    pub rx: broadcast::Receiver<Arc<Delivery>>,
}

#[derive(Debug)]
struct RoomState {
    /// Id of the next message to become visible (history, feed, polls).
    next_id: u64,
    /// Id of the next message to be accepted; ahead of `next_id` only while
    /// `--inject-latency` holds messages back.
    reserved: u64,
    /// When the last held message of this room becomes visible.
    last_due: Option<std::time::Instant>,
    history: VecDeque<Arc<Delivery>>,
    capacity: usize,
    tx: broadcast::Sender<Arc<Delivery>>,
    members: BTreeMap<String, Member>,
    /// Newest presence message, so joiners get the user list even after it
    /// left the history window.
    last_presence: Option<Arc<Delivery>>,
}

/// One chat room.
#[derive(Debug)]
pub struct Room {
    name: Arc<str>,
    state: Mutex<RoomState>,
    /// Wakes long polls; they register before reading to miss nothing.
    pub notify: Notify,
    presence_timeout: Duration,
    metrics: Arc<Metrics>,
    delay: Option<Arc<DelayLine>>,
    me: std::sync::Weak<Room>,
    /// The Redis broker, when messages go through it.
    remote: Option<Arc<RedisBroker>>,
    /// History loaded (always, with the memory broker).
    loaded: AtomicBool,
    loaded_notify: Notify,
}

impl Room {
    fn lock(&self) -> MutexGuard<'_, RoomState> {
        // A panic while holding the lock leaves consistent data (every
        // mutation is a single push/insert), so poisoning is not fatal.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Appends a message and fans it out. Returns its id and accept time.
    pub fn publish(&self, kind: Kind, draft: Draft<'_>) -> (u64, u64) {
        let mut st = self.lock();
        let d = self.append(&mut st, kind, draft);
        drop(st);
        self.metrics.publishes.fetch_add(1, Relaxed);
        self.notify.notify_waiters();
        d
    }

    /// Publishes a client's chat message (HTTP or WebSocket frame).
    pub async fn publish_request(
        &self,
        p: &protocol::PublishRequest,
    ) -> Result<(u64, u64), ApiError> {
        self.publish_async(
            Kind::Message,
            Draft {
                user: Some(&p.user),
                text: Some(&p.text),
                sent_us: p.sent_us,
                publisher: p.publisher.as_deref(),
                seq: p.seq,
                users: None,
            },
        )
        .await
    }

    /// Publishes through the broker: in memory at once, or stored in Redis
    /// (every instance's fan-in then delivers it). Returns id and accept time.
    pub async fn publish_async(
        &self,
        kind: Kind,
        draft: Draft<'_>,
    ) -> Result<(u64, u64), ApiError> {
        let Some(broker) = &self.remote else {
            return Ok(self.publish(kind, draft));
        };
        let ts_us = now_us();
        let body = serde_json::to_string(&StoredBody::new(kind, &draft, ts_us)).unwrap_or_default();
        let floor = self.lock().next_id - 1;
        let id = broker
            .publish(&self.name, floor, kind, &body)
            .await
            .map_err(|e| ApiError::BrokerUnavailable(e.to_string()))?;
        self.metrics.publishes.fetch_add(1, Relaxed);
        // Read your writes: answer once this instance's fan-in has made the
        // message visible here too (bounded; Redis already has it).
        let deadline = tokio::time::Instant::now() + LOAD_WAIT;
        loop {
            let notified = self.notify.notified();
            if self.lock().next_id > id {
                break;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                break;
            }
        }
        Ok((id, ts_us))
    }

    /// A resume cursor older than the local history: fetch what Redis still
    /// keeps (`XRANGE`) in front of the backlog; a gap remains only for what
    /// Redis trimmed too.
    pub async fn backfill(&self, b: &mut Backlog, start: Start) {
        let (Some(broker), Start::Since(since)) = (&self.remote, start) else {
            return;
        };
        if !b.gap || since > b.cursor {
            return;
        }
        let first = b.messages.first().map_or(b.cursor + 1, |d| d.id);
        if first <= since + 1 {
            return;
        }
        let Ok(entries) = broker.range(&self.name, since + 1, first - 1).await else {
            return;
        };
        let older: Vec<Arc<Delivery>> = entries
            .into_iter()
            .filter_map(|(id, kind, body)| self.remote_delivery(id, kind, &body))
            .collect();
        b.gap = older.first().is_none_or(|d| d.id > since + 1);
        b.messages.splice(0..0, older);
    }

    /// Waits until the room's history is loaded from the broker (at once
    /// with the memory broker).
    pub async fn ready(&self) -> Result<(), ApiError> {
        let deadline = tokio::time::Instant::now() + LOAD_WAIT;
        loop {
            let notified = self.loaded_notify.notified();
            if self.loaded.load(Relaxed) {
                return Ok(());
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                let url = self.remote.as_ref().map_or("", |b| b.url());
                return Err(ApiError::BrokerUnavailable(format!(
                    "the message broker (Redis at {url}) did not deliver room {}'s history within {LOAD_WAIT:?}",
                    self.name
                )));
            }
        }
    }

    /// Entries read from the broker, in id order: committed unless already seen.
    pub(crate) fn commit_remote(&self, entries: Vec<Entry>) {
        let mut st = self.lock();
        let mut any = false;
        for (id, kind, body) in entries {
            if id < st.next_id {
                continue;
            }
            let Some(d) = self.remote_delivery(id, kind, &body) else {
                continue;
            };
            st.reserved = id + 1;
            Self::commit(&mut st, d);
            any = true;
        }
        drop(st);
        if any {
            self.notify.notify_waiters();
        }
    }

    /// A broker entry as a delivery: `{"id":"N","room":"R",` + the stored
    /// body without its `{` (no re-serialization).
    fn remote_delivery(&self, id: u64, kind: Kind, body: &[u8]) -> Option<Arc<Delivery>> {
        if body.first() != Some(&b'{') {
            return None;
        }
        let idbuf = itoa_buf(id);
        let mut json = Vec::with_capacity(body.len() + self.name.len() + 40);
        json.extend_from_slice(b"{\"id\":");
        json.extend_from_slice(
            serde_json::to_string(idbuf.as_str())
                .unwrap_or_default()
                .as_bytes(),
        );
        json.extend_from_slice(b",\"room\":");
        json.extend_from_slice(
            serde_json::to_string(&*self.name)
                .unwrap_or_default()
                .as_bytes(),
        );
        if body.len() > 2 {
            json.push(b',');
        }
        json.extend_from_slice(&body[1..]);
        Some(Self::delivery(id, kind, &idbuf, json))
    }

    /// The room's recent history from the broker: committed, then the room
    /// is ready for readers.
    pub(crate) fn load_remote(&self, entries: Vec<Entry>) {
        self.commit_remote(entries);
        self.loaded.store(true, Relaxed);
        self.loaded_notify.notify_waiters();
    }

    /// Serializes a message's wire formats once.
    fn delivery(id: u64, kind: Kind, idbuf: &IdBuf, json: Vec<u8>) -> Arc<Delivery> {
        let mut sse = Vec::with_capacity(json.len() + 32);
        sse.extend_from_slice(b"id: ");
        sse.extend_from_slice(idbuf.as_str().as_bytes());
        sse.extend_from_slice(b"\ndata: ");
        sse.extend_from_slice(&json);
        sse.extend_from_slice(b"\n\n");
        let json = Bytes::from(json);
        let ws = Utf8Bytes::try_from(json.clone()).unwrap_or_default();
        Arc::new(Delivery {
            id,
            kind,
            json,
            sse: Bytes::from(sse),
            ws,
        })
    }

    fn append(&self, st: &mut RoomState, kind: Kind, draft: Draft<'_>) -> (u64, u64) {
        let id = st.reserved;
        st.reserved += 1;
        let ts_us = now_us();
        let idbuf = itoa_buf(id);
        let wire = Wire {
            id: idbuf.as_str(),
            room: &self.name,
            body: StoredBody::new(kind, &draft, ts_us),
        };
        // Serializing plain strings and integers cannot fail.
        let json = serde_json::to_vec(&wire).unwrap_or_default();
        let d = Self::delivery(id, kind, &idbuf, json);
        match (&self.delay, self.me.upgrade()) {
            (Some(line), Some(me)) => {
                let due = line.due(id, st.last_due);
                st.last_due = Some(due);
                line.hold(due, me, d);
            }
            _ => Self::commit(st, d),
        }
        (id, ts_us)
    }

    /// Makes a message visible: history, then the live feed.
    fn commit(st: &mut RoomState, d: Arc<Delivery>) {
        debug_assert!(d.id >= st.next_id, "messages become visible in id order");
        st.next_id = d.id + 1;
        if d.kind == Kind::Presence {
            st.last_presence = Some(d.clone());
        }
        if st.history.len() >= st.capacity {
            st.history.pop_front();
        }
        st.history.push_back(d.clone());
        // No receivers is fine: the message is still in history.
        let _ = st.tx.send(d);
    }

    /// Called by the delay line when a held message is due.
    pub(crate) fn commit_delayed(&self, d: Arc<Delivery>) {
        Self::commit(&mut self.lock(), d);
        self.notify.notify_waiters();
    }

    fn backlog(st: &RoomState, start: Start) -> Backlog {
        let last = st.next_id - 1;
        let first = st.history.front().map_or(st.next_id, |d| d.id);
        match start {
            Start::Since(since) if since <= last => {
                // Messages since+1..=last; those before `first` are gone.
                // Ids are contiguous with the memory broker; a binary search
                // also covers the rare jump of a broker that lost its counter.
                let gap = since + 1 < first;
                let skip = st.history.partition_point(|d| d.id <= since);
                Backlog {
                    messages: st.history.iter().skip(skip).cloned().collect(),
                    cursor: last,
                    gap,
                }
            }
            // A cursor from the future: this server restarted or it is
            // another server's. Everything kept, flagged as a gap.
            Start::Since(_) => Backlog {
                messages: st.history.iter().cloned().collect(),
                cursor: last,
                gap: true,
            },
            Start::Recent(n) => {
                let mut recent: Vec<Arc<Delivery>> = st
                    .history
                    .iter()
                    .rev()
                    .filter(|d| matches!(d.kind, Kind::Message | Kind::System))
                    .take(n)
                    .cloned()
                    .collect();
                recent.reverse();
                if n > 0
                    && let Some(p) = &st.last_presence
                {
                    let at = recent.partition_point(|d| d.id < p.id);
                    recent.insert(at, p.clone());
                }
                Backlog {
                    messages: recent,
                    cursor: last,
                    gap: false,
                }
            }
        }
    }

    /// What a poll sees now.
    pub fn read(&self, start: Start) -> Backlog {
        Self::backlog(&self.lock(), start)
    }

    /// Backlog plus live feed, taken atomically.
    pub fn subscribe(&self, start: Start) -> Subscription {
        let st = self.lock();
        Subscription {
            backlog: Self::backlog(&st, start),
            rx: st.tx.subscribe(),
        }
    }
}

/// Stack buffer for a decimal id, to avoid a heap string per message.
struct IdBuf {
    buf: [u8; 20],
    start: usize,
}

impl IdBuf {
    fn as_str(&self) -> &str {
        // Only ASCII digits are written.
        std::str::from_utf8(&self.buf[self.start..]).unwrap_or("0")
    }
}

fn itoa_buf(mut n: u64) -> IdBuf {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    IdBuf { buf, start: i }
}

/// Rooms by name, created on first use.
#[derive(Debug)]
pub struct Hub {
    rooms: Mutex<HashMap<Arc<str>, Arc<Room>>>,
    history: usize,
    queue: usize,
    presence_timeout: Duration,
    metrics: Arc<Metrics>,
    delay: Option<Arc<DelayLine>>,
    broker: Option<Arc<RedisBroker>>,
}

impl Hub {
    pub fn new(config: &crate::Config, metrics: Arc<Metrics>) -> Self {
        Self::with_delay(config, metrics, None)
    }

    /// A hub whose messages pass through `delay` (`--inject-latency`).
    pub fn with_delay(
        config: &crate::Config,
        metrics: Arc<Metrics>,
        delay: Option<Arc<DelayLine>>,
    ) -> Self {
        Self::with_parts(config, metrics, delay, None)
    }

    /// A hub whose rooms publish through `broker` (Redis) when given.
    pub fn with_parts(
        config: &crate::Config,
        metrics: Arc<Metrics>,
        delay: Option<Arc<DelayLine>>,
        broker: Option<Arc<RedisBroker>>,
    ) -> Self {
        Hub {
            rooms: Mutex::new(HashMap::new()),
            history: config.history.max(1),
            queue: config.subscriber_queue.max(1),
            presence_timeout: config.presence_timeout,
            metrics,
            delay,
            broker,
        }
    }

    /// The room called `name` (already validated), created if new.
    pub fn room(&self, name: &str) -> Arc<Room> {
        let mut rooms = self.rooms.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(r) = rooms.get(name) {
            return r.clone();
        }
        let name: Arc<str> = Arc::from(name);
        let (tx, _) = broadcast::channel(self.queue);
        let room = Arc::new_cyclic(|me| Room {
            name: name.clone(),
            state: Mutex::new(RoomState {
                next_id: 1,
                reserved: 1,
                last_due: None,
                history: VecDeque::with_capacity(self.history.min(64)),
                capacity: self.history,
                tx,
                members: BTreeMap::new(),
                last_presence: None,
            }),
            notify: Notify::new(),
            presence_timeout: self.presence_timeout,
            metrics: self.metrics.clone(),
            delay: self.delay.clone(),
            me: me.clone(),
            remote: self.broker.clone(),
            loaded: AtomicBool::new(self.broker.is_none()),
            loaded_notify: Notify::new(),
        });
        rooms.insert(name, room.clone());
        if let Some(b) = &self.broker {
            b.activate(&room);
        }
        self.metrics.rooms.store(rooms.len() as u64, Relaxed);
        room
    }

    /// Users with a local connection or poll, per room (presence refresh).
    pub fn local_members(&self) -> Vec<(String, Vec<String>)> {
        let rooms: Vec<Arc<Room>> = {
            let r = self.rooms.lock().unwrap_or_else(|p| p.into_inner());
            r.values().cloned().collect()
        };
        rooms
            .iter()
            .map(|r| (r.name().to_string(), r.users()))
            .collect()
    }

    /// Runs presence expiry for every room.
    pub fn reap(&self) {
        let rooms: Vec<Arc<Room>> = {
            let r = self.rooms.lock().unwrap_or_else(|p| p.into_inner());
            r.values().cloned().collect()
        };
        let now = Instant::now();
        for room in rooms {
            room.reap(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hub(history: usize) -> Hub {
        let cfg = crate::Config {
            history,
            ..crate::Config::default()
        };
        Hub::new(&cfg, Arc::new(Metrics::default()))
    }

    fn text(room: &Room, t: &str) -> u64 {
        room.publish(
            Kind::Message,
            Draft {
                user: Some("u"),
                text: Some(t),
                ..Draft::default()
            },
        )
        .0
    }

    #[test]
    fn wire_matches_protocol_message() {
        let h = hub(8);
        let r = h.room("lobby");
        r.publish(
            Kind::Message,
            Draft {
                user: Some("a\"<b>"),
                text: Some("hi\nthere"),
                sent_us: Some(5),
                publisher: Some("p1"),
                seq: Some(9),
                users: None,
            },
        );
        let b = r.read(Start::Since(0));
        let d = &b.messages[0];
        let m: protocol::Message = serde_json::from_slice(&d.json).expect("valid message");
        assert_eq!(m.id, "1");
        assert_eq!(m.user.as_deref(), Some("a\"<b>"));
        assert_eq!(m.seq, Some(9));
        assert_eq!(m.publisher.as_deref(), Some("p1"));
        assert_eq!(
            &d.sse[..],
            [b"id: 1\ndata: ", &d.json[..], b"\n\n"].concat()
        );
        assert_eq!(d.ws.as_str().as_bytes(), &d.json[..]);
    }

    #[test]
    fn cursors_and_gaps() {
        let h = hub(4);
        let r = h.room("x");
        for i in 0..6 {
            text(&r, &i.to_string());
        }
        // Kept: 3,4,5,6.
        let b = r.read(Start::Since(4));
        assert_eq!(b.messages.iter().map(|d| d.id).collect::<Vec<_>>(), [5, 6]);
        assert!(!b.gap);
        assert_eq!(b.cursor, 6);
        let b = r.read(Start::Since(2));
        assert_eq!(b.messages.len(), 4);
        assert!(!b.gap, "2 is the last evicted id: nothing after it is lost");
        let b = r.read(Start::Since(1));
        assert!(b.gap);
        let b = r.read(Start::Since(6));
        assert!(b.messages.is_empty() && !b.gap);
        let b = r.read(Start::Since(99));
        assert!(b.gap);
        assert_eq!(b.messages.len(), 4);
        let b = r.read(Start::Recent(2));
        assert_eq!(b.messages.iter().map(|d| d.id).collect::<Vec<_>>(), [5, 6]);
        assert!(r.read(Start::Recent(0)).messages.is_empty());
    }

    #[test]
    fn subscribe_sees_each_message_once() {
        let h = hub(16);
        let r = h.room("x");
        text(&r, "a");
        let mut sub = r.subscribe(Start::Since(0));
        text(&r, "b");
        assert_eq!(sub.backlog.messages.len(), 1);
        let live = sub.rx.try_recv().expect("live message");
        assert_eq!(live.id, 2);
        assert!(sub.rx.try_recv().is_err());
    }

    #[test]
    fn presence_join_leave_with_grace() {
        let cfg = crate::Config {
            presence_timeout: Duration::ZERO,
            ..crate::Config::default()
        };
        let h = Hub::new(&cfg, Arc::new(Metrics::default()));
        let r = h.room("x");
        let g1 = r.join("alice");
        let g2 = r.join("alice");
        r.touch("bob", Duration::from_secs(60));
        assert_eq!(r.users(), ["alice", "bob"]);
        drop(g1);
        h.reap();
        assert_eq!(r.users(), ["alice", "bob"], "one connection still open");
        drop(g2);
        h.reap();
        assert_eq!(r.users(), ["bob"]);
        let kinds: Vec<Kind> = r
            .read(Start::Since(0))
            .messages
            .iter()
            .map(|d| d.kind)
            .collect();
        assert_eq!(
            kinds,
            [
                Kind::System,
                Kind::Presence,
                Kind::System,
                Kind::Presence,
                Kind::System,
                Kind::Presence
            ]
        );
        // A joiner gets the user list even with no chat history.
        let b = r.read(Start::Recent(10));
        assert_eq!(b.messages.last().map(|d| d.kind), Some(Kind::Presence));
    }
}
