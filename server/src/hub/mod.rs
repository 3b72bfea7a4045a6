//! The hub owns rooms; a room owns its history, its live feed and its users.
//!
//! A publish is serialized once into a shared [`Delivery`]; the history
//! ring and every subscriber hold the same `Arc`, and each transport frames
//! it at most once (see `encode.rs`). History
//! ids are contiguous, so finding where a cursor starts is index arithmetic,
//! not a scan: many long polls on one room stay cheap. Appending to history
//! and sending on the live channel happen under one lock, so a subscriber
//! that reads its backlog and subscribes under that lock sees every message
//! exactly once.
//!
//! The hub is the same with either broker: with Redis (`crate::broker`),
//! messages enter a room through `Room::commit_external` instead of being
//! numbered here, and the broker side does the Redis bookkeeping.

mod encode;
mod presence;

pub use encode::{Delivery, Draft, now_us};
pub(crate) use encode::{body_json, itoa_buf};
use presence::Member;
pub use presence::PresenceGuard;

use crate::broker::RedisBroker;
use crate::delay::DelayLine;
use crate::error::ApiError;
use crate::metrics::Metrics;
use protocol::Kind;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, broadcast};

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
pub struct Feed {
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
        match &self.remote {
            // Boxed: a Redis round trip's state is large, and inline it
            // would sit in every session's future, publishing or not.
            Some(broker) => Box::pin(broker.publish_to(self, kind, draft)).await,
            None => Ok(self.publish(kind, draft)),
        }
    }

    /// A resume cursor older than the local history: the broker may still
    /// keep what this instance no longer does (the memory broker does not).
    pub async fn backfill(&self, b: &mut Backlog, start: Start) {
        if let (Some(broker), Start::Since(since)) = (&self.remote, start) {
            Box::pin(broker.backfill(self, b, since)).await;
        }
    }

    /// Waits until the room's history is loaded from the broker (at once
    /// with the memory broker).
    pub async fn ready(&self) -> Result<(), ApiError> {
        match &self.remote {
            Some(broker) if !self.loaded.load(Relaxed) => broker.wait_loaded(self).await,
            _ => Ok(()),
        }
    }

    /// Whether the history is loaded, waiting for it until `deadline`.
    pub(crate) async fn loaded_by(&self, deadline: tokio::time::Instant) -> bool {
        loop {
            let notified = self.loaded_notify.notified();
            if self.loaded.load(Relaxed) {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return false;
            }
        }
    }

    /// The broker delivered the room's recent history: readers may start.
    pub(crate) fn mark_loaded(&self) {
        self.loaded.store(true, Relaxed);
        self.loaded_notify.notify_waiters();
    }

    /// Id of the newest visible message (0: none yet).
    pub(crate) fn last_id(&self) -> u64 {
        self.lock().next_id - 1
    }

    /// Waits until message `id` is visible here, or `deadline` passes.
    pub(crate) async fn visible_by(&self, id: u64, deadline: tokio::time::Instant) {
        loop {
            let notified = self.notify.notified();
            if self.lock().next_id > id {
                return;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return;
            }
        }
    }

    /// The server's counters: a publish through the broker counts here too.
    pub(crate) fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Messages numbered elsewhere (a broker), in id order: made visible
    /// unless already seen.
    pub(crate) fn commit_external(&self, deliveries: Vec<Arc<Delivery>>) {
        let mut st = self.lock();
        let mut any = false;
        for d in deliveries {
            if d.id < st.next_id {
                continue;
            }
            st.reserved = d.id + 1;
            Self::commit(&mut st, d);
            any = true;
        }
        drop(st);
        if any {
            self.notify.notify_waiters();
        }
    }

    fn append(&self, st: &mut RoomState, kind: Kind, draft: Draft<'_>) -> (u64, u64) {
        let id = st.reserved;
        st.reserved += 1;
        let ts_us = now_us();
        let d = Delivery::message(id, &self.name, kind, &draft, ts_us);
        match (&self.delay, self.me.upgrade()) {
            (Some(line), Some(me)) => {
                let due = line.due(id, st.last_due, st.tx.receiver_count());
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
    pub fn subscribe(&self, start: Start) -> Feed {
        let st = self.lock();
        Feed {
            backlog: Self::backlog(&st, start),
            rx: st.tx.subscribe(),
        }
    }
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
        Self::with_parts(config, metrics, None, None)
    }

    /// A hub whose messages pass through `delay` (`--inject-latency`) and
    /// whose rooms publish through `broker` (Redis) when given.
    pub(crate) fn with_parts(
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
mod tests;
