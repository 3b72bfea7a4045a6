//! The connection to Redis and the commands every request may issue:
//! publish, range reads, and waking the fan-in for a new room.

use super::reply::{Entry, kind_str, parse_entries};
use super::{Active, BrokerError, COMMAND_TIMEOUT, RedisBroker, counter_key, stream_key};
use crate::hub::Room;
use crate::metrics::Metrics;
use protocol::Kind;
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

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
        let client = redis::Client::open(url)
            .and_then(|c| redis::Client::open(abortive(c.get_connection_info())))
            .map_err(|e| err(e.to_string()))?;
        let broker = Arc::new(RedisBroker {
            client,
            url: shown.clone(),
            conn: Mutex::new(None),
            connecting: tokio::sync::Mutex::new(0),
            script: redis::Script::new(PUBLISH_LUA),
            history: config.history.max(1),
            instance: format!("{:016x}", instance_id()),
            rooms: Mutex::new(HashMap::new()),
            fanin_id: AtomicI64::new(0),
            metrics,
            presence_ttl: config.presence_timeout,
        });
        let pong: String = broker.command(redis::cmd("PING")).await?;
        if pong != "PONG" {
            return Err(err(format!("PING answered {pong:?}")));
        }
        Ok(broker)
    }

    pub(super) fn error(&self, why: impl std::fmt::Display) -> BrokerError {
        self.metrics.broker_errors.fetch_add(1, Relaxed);
        BrokerError {
            url: self.url.clone(),
            why: why.to_string(),
        }
    }

    /// The shared connection and its number, connecting first if there is
    /// none.
    async fn connection(&self) -> Result<(u64, MultiplexedConnection), BrokerError> {
        if let Some(c) = self.shared().clone() {
            return Ok(c);
        }
        let mut made = self.connecting.lock().await;
        if let Some(c) = self.shared().clone() {
            return Ok(c);
        }
        let cfg = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(COMMAND_TIMEOUT))
            .set_response_timeout(Some(COMMAND_TIMEOUT));
        let c = self
            .client
            .get_multiplexed_async_connection_with_config(&cfg)
            .await
            .map_err(|e| self.error(e))?;
        *made += 1;
        *self.shared() = Some((*made, c.clone()));
        Ok((*made, c))
    }

    fn shared(&self) -> MutexGuard<'_, Option<(u64, MultiplexedConnection)>> {
        // Only whole-value replacements happen under this lock.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Drops connection `number` if it is still the shared one: the next
    /// call reconnects, and once no request holds it its socket is reset.
    fn reset(&self, number: u64) {
        let mut slot = self.shared();
        if slot.as_ref().is_some_and(|(n, _)| *n == number) {
            *slot = None;
        }
    }

    /// Run one command; on failure the connection is dropped so the next
    /// call reconnects (Redis restarted, network blip).
    pub(super) async fn command<T: redis::FromRedisValue>(
        &self,
        cmd: redis::Cmd,
    ) -> Result<T, BrokerError> {
        self.call(|mut c| async move { cmd.query_async::<T>(&mut c).await })
            .await
    }

    /// Runs `op` on the shared connection, (re)connecting first if needed,
    /// all within [`COMMAND_TIMEOUT`]. One deadline for both: while Redis is
    /// unreachable, requests queued behind a reconnect would otherwise each
    /// wait for the one before and then spend a connect timeout of their own.
    pub(super) async fn call<T, F, Fut>(&self, op: F) -> Result<T, BrokerError>
    where
        F: FnOnce(MultiplexedConnection) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let mut used = None;
        let attempt = async {
            let (number, c) = self.connection().await?;
            used = Some(number);
            let started = Instant::now();
            let r = op(c).await;
            self.metrics.broker_rtt(started.elapsed());
            r.map_err(|e| self.error(e))
        };
        let r = match tokio::time::timeout(COMMAND_TIMEOUT, attempt).await {
            Ok(r) => r,
            Err(_) => Err(self.error(format_args!("no answer within {COMMAND_TIMEOUT:?}"))),
        };
        if let (Err(_), Some(number)) = (&r, used) {
            self.reset(number);
        }
        r
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
        let mut invocation = self.script.prepare_invoke();
        invocation
            .key(stream_key(room))
            .key(counter_key(room))
            .arg(floor)
            .arg(self.history)
            .arg(kind_str(kind))
            .arg(body);
        self.call(|mut c| async move { invocation.invoke_async(&mut c).await })
            .await
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
        self.active().entry(name).or_insert(Active {
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
}

/// The connection settings with `SO_LINGER` 0: a connection given up on
/// (a command timed out, the network to Redis is cut) is reset, its unsent
/// commands discarded. Closed gracefully, the kernel would keep
/// retransmitting them, and once the network heals Redis would run a
/// publish its server already answered 503 for.
fn abortive(info: &redis::ConnectionInfo) -> redis::ConnectionInfo {
    let tcp = info.tcp_settings().clone().set_linger_time(Duration::ZERO);
    info.clone().set_tcp_settings(tcp)
}

/// `redis://:secret@host` → `redis://***@host`.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}***{}", &url[..s + 3], &url[at..]),
        _ => url.to_string(),
    }
}

/// Tells instances apart: the clock and the process id, scattered.
fn instance_id() -> u64 {
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    protocol::rng::mix64(t ^ u64::from(std::process::id()).rotate_left(32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_shown_without_password() {
        assert_eq!(
            redact("redis://:pw@127.0.0.1:6379/0"),
            "redis://***@127.0.0.1:6379/0"
        );
        assert_eq!(redact("redis://127.0.0.1:1"), "redis://127.0.0.1:1");
    }
}
