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

use crate::hub::Room;
use crate::metrics::Metrics;
use protocol::Kind;
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Value};
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio_util::sync::CancellationToken;

/// INCR the counter (never below the caller's floor), XADD with id `0-N`.
const PUBLISH_LUA: &str = r"
local n = redis.call('INCR', KEYS[2])
local floor = tonumber(ARGV[1])
if n <= floor then
  n = floor + 1
  redis.call('SET', KEYS[2], n)
end
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '0-' .. n, 'k', ARGV[3], 'b', ARGV[4])
return n
";

/// How long a command may take before Redis counts as unavailable.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(2);
/// How long the fan-in read blocks when nothing arrives.
const BLOCK_MS: u64 = 2000;
/// Entries per fan-in read.
const READ_COUNT: usize = 1024;

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
    conn: tokio::sync::Mutex<Option<MultiplexedConnection>>,
    script: redis::Script,
    history: usize,
    /// Tells this instance's presence fields from others'.
    instance: String,
    rooms: Mutex<HashMap<Arc<str>, Active>>,
    /// `CLIENT ID` of the fan-in connection (to unblock it), or 0.
    fanin_id: AtomicI64,
    metrics: Arc<Metrics>,
    presence_ttl: Duration,
    /// Fan-in reads done (tests wait on it).
    pub reads: AtomicU64,
}

impl std::fmt::Debug for RedisBroker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBroker")
            .field("url", &self.url)
            .finish()
    }
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
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

impl RedisBroker {
    /// Connect and check with `PING`: a server that cannot reach its broker
    /// at start exits with a clear error instead of serving half a feed.
    pub async fn connect(
        url: &str,
        config: &crate::Config,
        metrics: Arc<Metrics>,
    ) -> Result<Arc<RedisBroker>, BrokerError> {
        let shown = redact(url);
        let err = |why: String| BrokerError {
            url: shown.clone(),
            why,
        };
        let client = redis::Client::open(url).map_err(|e| err(e.to_string()))?;
        let broker = Arc::new(RedisBroker {
            client,
            url: shown.clone(),
            conn: tokio::sync::Mutex::new(None),
            script: redis::Script::new(PUBLISH_LUA),
            history: config.history.max(1),
            instance: format!("{:016x}", rand_u64()),
            rooms: Mutex::new(HashMap::new()),
            fanin_id: AtomicI64::new(0),
            metrics,
            presence_ttl: config.presence_timeout,
            reads: AtomicU64::new(0),
        });
        let pong: String = broker.command(redis::cmd("PING")).await?;
        if pong != "PONG" {
            return Err(err(format!("PING answered {pong:?}")));
        }
        Ok(broker)
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    fn error(&self, why: impl std::fmt::Display) -> BrokerError {
        self.metrics.broker_errors.fetch_add(1, Relaxed);
        BrokerError {
            url: self.url.clone(),
            why: why.to_string(),
        }
    }

    async fn connection(&self) -> Result<MultiplexedConnection, BrokerError> {
        let mut slot = self.conn.lock().await;
        if let Some(c) = slot.as_ref() {
            return Ok(c.clone());
        }
        let cfg = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(COMMAND_TIMEOUT))
            .set_response_timeout(Some(COMMAND_TIMEOUT));
        let c = self
            .client
            .get_multiplexed_async_connection_with_config(&cfg)
            .await
            .map_err(|e| self.error(e))?;
        *slot = Some(c.clone());
        Ok(c)
    }

    /// Run one command; on failure the connection is dropped so the next
    /// call reconnects (Redis restarted, network blip).
    async fn command<T: redis::FromRedisValue>(&self, cmd: redis::Cmd) -> Result<T, BrokerError> {
        let mut c = self.connection().await?;
        let started = Instant::now();
        let r = cmd.query_async::<T>(&mut c).await;
        self.metrics.broker_rtt(started.elapsed());
        r.map_err(|e| {
            self.reset();
            self.error(e)
        })
    }

    fn reset(&self) {
        if let Ok(mut slot) = self.conn.try_lock() {
            *slot = None;
        }
    }

    /// Store a message: returns its id. `floor` is the newest id this
    /// instance knows for the room, so ids never go backwards even if Redis
    /// lost its counter.
    pub async fn publish(
        &self,
        room: &str,
        floor: u64,
        kind: Kind,
        body: &str,
    ) -> Result<u64, BrokerError> {
        let mut c = self.connection().await?;
        let started = Instant::now();
        let r: Result<u64, _> = self
            .script
            .key(stream_key(room))
            .key(counter_key(room))
            .arg(floor)
            .arg(self.history)
            .arg(kind_str(kind))
            .arg(body)
            .invoke_async(&mut c)
            .await;
        self.metrics.broker_rtt(started.elapsed());
        r.map_err(|e| {
            self.reset();
            self.error(e)
        })
    }

    /// Entries with ids `from..=to` still in Redis (a cursor older than the
    /// local history).
    pub async fn range(&self, room: &str, from: u64, to: u64) -> Result<Vec<Entry>, BrokerError> {
        let mut cmd = redis::cmd("XRANGE");
        cmd.arg(stream_key(room))
            .arg(format!("0-{from}"))
            .arg(format!("0-{to}"));
        let v: Value = self.command(cmd).await?;
        Ok(parse_entries(v))
    }

    /// Start reading `room` (first local use): the fan-in loop loads its
    /// recent history, then follows it.
    pub fn activate(self: &Arc<Self>, room: &Arc<Room>) {
        let name: Arc<str> = Arc::from(room.name());
        self.rooms
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(name)
            .or_insert(Active {
                room: Arc::downgrade(room),
                last: 0,
                loaded: false,
            });
        let id = self.fanin_id.load(Relaxed);
        if id > 0 {
            let mut cmd = redis::cmd("CLIENT");
            cmd.arg("UNBLOCK").arg(id);
            let me = self.clone();
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                rt.spawn(async move {
                    let _: Result<i64, _> = me.command(cmd).await;
                });
            }
        }
    }

    /// The fan-in loop: until `shutdown`, load new rooms and read every
    /// active room's stream from its last id, committing entries locally.
    pub async fn run_fanin(self: Arc<Self>, shutdown: CancellationToken) {
        let mut failures = 0u32;
        while !shutdown.is_cancelled() {
            let r = tokio::select! {
                _ = shutdown.cancelled() => break,
                r = self.fanin_session(&shutdown) => r,
            };
            if let Err(e) = r {
                failures += 1;
                let wait = Duration::from_millis((100u64 << failures.min(5)).min(2000));
                eprintln!("rtbench server: {e}; retrying in {wait:?}");
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(wait) => {}
                }
            } else {
                failures = 0;
            }
        }
    }

    /// One connection's worth of fan-in; returns on a Redis error.
    async fn fanin_session(&self, shutdown: &CancellationToken) -> Result<(), BrokerError> {
        let cfg = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(COMMAND_TIMEOUT))
            .set_response_timeout(Some(Duration::from_millis(BLOCK_MS) + COMMAND_TIMEOUT));
        let mut conn = self
            .client
            .get_multiplexed_async_connection_with_config(&cfg)
            .await
            .map_err(|e| self.error(e))?;
        let id: i64 = redis::cmd("CLIENT")
            .arg("ID")
            .query_async(&mut conn)
            .await
            .map_err(|e| self.error(e))?;
        self.fanin_id.store(id, Relaxed);
        let result = self.fanin_loop(&mut conn, shutdown).await;
        self.fanin_id.store(0, Relaxed);
        result
    }

    async fn fanin_loop(
        &self,
        conn: &mut MultiplexedConnection,
        shutdown: &CancellationToken,
    ) -> Result<(), BrokerError> {
        while !shutdown.is_cancelled() {
            // Load rooms touched since the last read.
            let unloaded: Vec<(Arc<str>, Weak<Room>)> = {
                let rooms = self.rooms.lock().unwrap_or_else(|p| p.into_inner());
                rooms
                    .iter()
                    .filter(|(_, a)| !a.loaded)
                    .map(|(k, a)| (k.clone(), a.room.clone()))
                    .collect()
            };
            for (name, room) in unloaded {
                let mut cmd = redis::cmd("XREVRANGE");
                cmd.arg(stream_key(&name))
                    .arg("+")
                    .arg("-")
                    .arg("COUNT")
                    .arg(self.history);
                let v: Value = cmd.query_async(conn).await.map_err(|e| self.error(e))?;
                let mut entries = parse_entries(v);
                entries.reverse();
                let last = entries.last().map_or(0, |e| e.0);
                if let Some(room) = room.upgrade() {
                    room.load_remote(entries);
                }
                if let Some(a) = self
                    .rooms
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .get_mut(&name)
                {
                    a.last = a.last.max(last);
                    a.loaded = true;
                }
            }
            let (keys, ids): (Vec<String>, Vec<String>) = {
                let rooms = self.rooms.lock().unwrap_or_else(|p| p.into_inner());
                rooms
                    .iter()
                    .filter(|(_, a)| a.loaded)
                    .map(|(k, a)| (stream_key(k), format!("0-{}", a.last)))
                    .unzip()
            };
            if keys.is_empty() {
                // Nothing to follow yet: block on a dummy key so
                // `CLIENT UNBLOCK` (a new room) still wakes us at once.
                let _: Value = redis::cmd("BLPOP")
                    .arg("rtb:never")
                    .arg(BLOCK_MS as f64 / 1000.0)
                    .query_async(conn)
                    .await
                    .map_err(|e| self.error(e))?;
                continue;
            }
            let mut cmd = redis::cmd("XREAD");
            cmd.arg("COUNT")
                .arg(READ_COUNT)
                .arg("BLOCK")
                .arg(BLOCK_MS)
                .arg("STREAMS")
                .arg(&keys)
                .arg(&ids);
            let v: Value = cmd.query_async(conn).await.map_err(|e| self.error(e))?;
            self.reads.fetch_add(1, Relaxed);
            for (key, entries) in parse_streams(v) {
                let Some(name) = key.strip_prefix("rtb:").and_then(|k| k.strip_suffix(":s")) else {
                    continue;
                };
                let room = {
                    let mut rooms = self.rooms.lock().unwrap_or_else(|p| p.into_inner());
                    let Some(a) = rooms.get_mut(name) else {
                        continue;
                    };
                    if let Some(e) = entries.last() {
                        a.last = a.last.max(e.0);
                    }
                    a.room.upgrade()
                };
                if let Some(room) = room {
                    room.commit_remote(entries);
                }
            }
        }
        Ok(())
    }

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
        let mut c = self.connection().await?;
        let started = Instant::now();
        let r: Result<(HashMap<String, u64>,), _> = pipe.query_async(&mut c).await;
        self.metrics.broker_rtt(started.elapsed());
        let (all,) = r.map_err(|e| {
            self.reset();
            self.error(e)
        })?;
        let users: BTreeSet<String> = all
            .into_iter()
            .filter(|(_, until)| *until > now)
            .filter_map(|(field, _)| field.split('\u{1f}').next().map(str::to_string))
            .collect();
        Ok(users.into_iter().collect())
    }
}

fn kind_str(kind: Kind) -> &'static str {
    match kind {
        Kind::Message => "message",
        Kind::System => "system",
        Kind::Presence => "presence",
        Kind::Typing => "typing",
    }
}

fn parse_kind(s: &[u8]) -> Option<Kind> {
    Some(match s {
        b"message" => Kind::Message,
        b"system" => Kind::System,
        b"presence" => Kind::Presence,
        b"typing" => Kind::Typing,
        _ => return None,
    })
}

/// One stream entry: (id N of `0-N`, kind, body JSON).
pub type Entry = (u64, Kind, Vec<u8>);

fn bytes(v: &Value) -> Option<&[u8]> {
    match v {
        Value::BulkString(b) => Some(b),
        Value::SimpleString(s) => Some(s.as_bytes()),
        _ => None,
    }
}

fn items(v: Value) -> Vec<Value> {
    match v {
        Value::Array(a) | Value::Set(a) => a,
        Value::Map(m) => m.into_iter().flat_map(|(k, v)| [k, v]).collect(),
        _ => Vec::new(),
    }
}

/// `[[id, [field, value, ...]], ...]` → entries (malformed ones skipped).
fn parse_entries(v: Value) -> Vec<Entry> {
    items(v)
        .into_iter()
        .filter_map(|e| {
            let mut e = items(e).into_iter();
            let id = e.next()?;
            let id = std::str::from_utf8(bytes(&id)?).ok()?;
            let n: u64 = id.strip_prefix("0-")?.parse().ok()?;
            let fields = items(e.next()?);
            let (mut kind, mut body) = (None, None);
            for pair in fields.chunks(2) {
                match (pair.first().and_then(bytes), pair.get(1).and_then(bytes)) {
                    (Some(b"k"), Some(k)) => kind = parse_kind(k),
                    (Some(b"b"), Some(b)) => body = Some(b.to_vec()),
                    _ => {}
                }
            }
            Some((n, kind?, body?))
        })
        .collect()
}

/// XREAD's answer: `[[key, entries], ...]` (or a map in RESP3); nil on timeout.
fn parse_streams(v: Value) -> Vec<(String, Vec<Entry>)> {
    let list = items(v);
    let mut out = Vec::new();
    let mut it = list.into_iter().peekable();
    while let Some(x) = it.next() {
        // RESP2: each element is [key, entries]; RESP3 map: key, entries flattened.
        let (key, entries) = match x {
            Value::Array(pair) if pair.len() == 2 => {
                let mut p = pair.into_iter();
                match (p.next(), p.next()) {
                    (Some(k), Some(e)) => (k, e),
                    _ => continue,
                }
            }
            k => match it.next() {
                Some(e) => (k, e),
                None => break,
            },
        };
        let Some(key) = bytes(&key).and_then(|b| std::str::from_utf8(b).ok()) else {
            continue;
        };
        out.push((key.to_string(), parse_entries(entries)));
    }
    out
}

/// `redis://:secret@host` → `redis://***@host`.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}***{}", &url[..s + 3], &url[at..]),
        _ => url.to_string(),
    }
}

fn rand_u64() -> u64 {
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mut z = t ^ u64::from(std::process::id()).rotate_left(32);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stream_replies() {
        let entry = |id: &str, k: &str, b: &str| {
            Value::Array(vec![
                Value::BulkString(id.as_bytes().to_vec()),
                Value::Array(vec![
                    Value::BulkString(b"k".to_vec()),
                    Value::BulkString(k.as_bytes().to_vec()),
                    Value::BulkString(b"b".to_vec()),
                    Value::BulkString(b.as_bytes().to_vec()),
                ]),
            ])
        };
        let v = Value::Array(vec![Value::Array(vec![
            Value::BulkString(b"rtb:r1:s".to_vec()),
            Value::Array(vec![
                entry("0-7", "message", "{}"),
                entry("1-1", "message", "{}"),
                entry("0-8", "bogus", "{}"),
                entry("0-9", "presence", "{\"users\":[]}"),
            ]),
        ])]);
        let s = parse_streams(v);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].0, "rtb:r1:s");
        let ids: Vec<u64> = s[0].1.iter().map(|e| e.0).collect();
        assert_eq!(ids, [7, 9], "foreign ids and unknown kinds are skipped");
        assert!(parse_streams(Value::Nil).is_empty());
        assert_eq!(
            redact("redis://:pw@127.0.0.1:6379/0"),
            "redis://***@127.0.0.1:6379/0"
        );
        assert_eq!(redact("redis://127.0.0.1:1"), "redis://127.0.0.1:1");
    }
}
