//! The fan-in loop: one `XREAD BLOCK` over every room this instance has
//! touched, committing what it reads to the local rooms.

use super::reply::{Entry, parse_entries, parse_streams};
use super::room::deliveries;
use super::{BrokerError, COMMAND_TIMEOUT, RedisBroker, stream_key};
use crate::hub::Room;
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Value};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How long the fan-in read blocks when nothing arrives.
const BLOCK_MS: u64 = 2000;
/// Entries per fan-in read.
const READ_COUNT: usize = 1024;

impl RedisBroker {
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
                crate::warn(format_args!("{e}; retrying in {wait:?}"));
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
            self.load_new_rooms(conn).await?;
            let (keys, ids) = self.followed();
            if keys.is_empty() {
                self.idle(conn).await?;
                continue;
            }
            let streams = self.read_streams(conn, &keys, &ids).await?;
            self.commit_streams(streams);
        }
        Ok(())
    }

    /// Rooms touched since the last read: their recent history
    /// (`XREVRANGE`) is committed, then they are followed from its end.
    async fn load_new_rooms(&self, conn: &mut MultiplexedConnection) -> Result<(), BrokerError> {
        let unloaded: Vec<(Arc<str>, Weak<Room>)> = self
            .active()
            .iter()
            .filter(|(_, a)| !a.loaded)
            .map(|(k, a)| (k.clone(), a.room.clone()))
            .collect();
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
                room.commit_external(deliveries(room.name(), entries));
                room.mark_loaded();
            }
            if let Some(a) = self.active().get_mut(&name) {
                a.last = a.last.max(last);
                a.loaded = true;
            }
        }
        Ok(())
    }

    /// The streams of every loaded room and the id each is read after.
    fn followed(&self) -> (Vec<String>, Vec<String>) {
        self.active()
            .iter()
            .filter(|(_, a)| a.loaded)
            .map(|(k, a)| (stream_key(k), format!("0-{}", a.last)))
            .unzip()
    }

    /// Nothing to follow yet: block on a dummy key so `CLIENT UNBLOCK` (a
    /// new room) still wakes the loop at once.
    async fn idle(&self, conn: &mut MultiplexedConnection) -> Result<(), BrokerError> {
        let _: Value = redis::cmd("BLPOP")
            .arg("rtb:never")
            .arg(BLOCK_MS as f64 / 1000.0)
            .query_async(conn)
            .await
            .map_err(|e| self.error(e))?;
        Ok(())
    }

    /// One blocking `XREAD` of `keys` after `ids`.
    async fn read_streams(
        &self,
        conn: &mut MultiplexedConnection,
        keys: &[String],
        ids: &[String],
    ) -> Result<Vec<(String, Vec<Entry>)>, BrokerError> {
        let mut cmd = redis::cmd("XREAD");
        cmd.arg("COUNT")
            .arg(READ_COUNT)
            .arg("BLOCK")
            .arg(BLOCK_MS)
            .arg("STREAMS")
            .arg(keys)
            .arg(ids);
        let v: Value = cmd.query_async(conn).await.map_err(|e| self.error(e))?;
        Ok(parse_streams(v))
    }

    /// Entries read, to their local rooms; each room's read position moves
    /// past them.
    fn commit_streams(&self, streams: Vec<(String, Vec<Entry>)>) {
        for (key, entries) in streams {
            let Some(name) = key.strip_prefix("rtb:").and_then(|k| k.strip_suffix(":s")) else {
                continue;
            };
            let room = {
                let mut rooms = self.active();
                let Some(a) = rooms.get_mut(name) else {
                    continue;
                };
                if let Some(e) = entries.last() {
                    a.last = a.last.max(e.0);
                }
                a.room.upgrade()
            };
            if let Some(room) = room {
                room.commit_external(deliveries(room.name(), entries));
            }
        }
    }
}
