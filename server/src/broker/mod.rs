//! Scale-out on Redis (`--broker redis://HOST:PORT[/DB]`): several server
//! instances serve one feed, the way Socket.IO's Redis Streams adapter and
//! Centrifugo's Redis engine do.
//!
//! - **Publish:** one Lua script per message, atomic in Redis: `INCR` the
//!   room's counter and `XADD` to the room's stream with the explicit id
//!   `0-N` (`MAXLEN ~ history`). Stream ids are therefore contiguous per room
//!   and the cursor a client sees is `N`, the same on every instance and the
//!   same protocol as the memory broker: a client resumes anywhere.
//! - **Fan-in:** each instance runs one loop, `XREAD BLOCK` over the rooms it
//!   has touched, and commits every entry to its local room (history ring,
//!   broadcast, long-poll wake-up). The local fan-out stays serialize-once:
//!   an entry's JSON is built once per instance. A room touched for the first
//!   time is loaded with `XREVRANGE` (its recent history) before the loop
//!   reads it; `CLIENT UNBLOCK` wakes the blocked read so a new room waits
//!   for no timeout.
//! - **Redis lost:** publishes answer 503; subscribers keep their streams;
//!   the loop reconnects with backoff and resumes from the last id it saw,
//!   so nothing Redis acknowledged is lost.
//! - **Presence:** a hash per room, field `user\u{1f}instance` → expiry (ms),
//!   refreshed every second for local members; the user list is the union.
//!
//! The hub does not know Redis: a room with a broker calls into `room`
//! (publish, backfill, history wait), and the fan-in commits into the room.
//! - `client`: the connection, commands, and waking the fan-in for a new room.
//! - `fanin`: the `XREAD` loop and loading a new room's history.
//! - `room`: a room's side: publish and wait, backfill, entries → deliveries.
//! - `presence`: the per-room hash, announcements, the refresh task.
//! - `reply`: parsing stream replies.

mod client;
mod fanin;
mod presence;
mod reply;
mod room;

pub use presence::run_presence_refresh;

use crate::hub::Room;
use crate::metrics::Metrics;
use redis::aio::MultiplexedConnection;
use std::collections::HashMap;
use std::sync::atomic::AtomicI64;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

/// How long a command may take before Redis counts as unavailable.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a request waits for Redis to deliver a room's history, or for
/// this instance's fan-in to deliver a message it published.
const LOAD_WAIT: Duration = Duration::from_secs(3);

/// Redis could not be reached or answered an error.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the message broker (Redis at {url}) is unavailable: {why}")]
pub struct BrokerError {
    pub url: String,
    pub why: String,
}

/// A room the fan-in loop reads.
struct Active {
    room: Weak<Room>,
    /// Id of the last entry committed locally (0: not loaded yet).
    last: u64,
    loaded: bool,
}

/// One instance's link to Redis.
pub struct RedisBroker {
    client: redis::Client,
    /// The URL without a password, for messages.
    url: String,
    /// The shared command connection, numbered so that a failure drops only
    /// the connection it happened on, never a newer one.
    conn: Mutex<Option<(u64, MultiplexedConnection)>>,
    /// Held while connecting (one reconnect at a time): connections made.
    connecting: tokio::sync::Mutex<u64>,
    script: redis::Script,
    history: usize,
    /// Tells this instance's presence fields from others'.
    instance: String,
    rooms: Mutex<HashMap<Arc<str>, Active>>,
    /// `CLIENT ID` of the fan-in connection (to unblock it), or 0.
    fanin_id: AtomicI64,
    metrics: Arc<Metrics>,
    presence_ttl: Duration,
}

impl std::fmt::Debug for RedisBroker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBroker")
            .field("url", &self.url)
            .finish()
    }
}

impl RedisBroker {
    /// The rooms the fan-in follows.
    fn active(&self) -> MutexGuard<'_, HashMap<Arc<str>, Active>> {
        // Every mutation is a single insert or field update: a panic while
        // holding the lock leaves consistent data.
        self.rooms.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn stream_key(room: &str) -> String {
    format!("rtb:{room}:s")
}
fn counter_key(room: &str) -> String {
    format!("rtb:{room}:n")
}
fn presence_key(room: &str) -> String {
    format!("rtb:{room}:p")
}
