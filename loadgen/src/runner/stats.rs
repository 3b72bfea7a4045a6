//! The server's cost, sampled at the phase boundaries: its CPU and memory
//! (from `/proc` with `--server-pid`, else from the profile's stats
//! endpoint), beside the load generator's own.

use super::RunWarning;
use crate::config::Config;
use crate::http::get_once;
use crate::record::Recorder;
use crate::sys;
use crate::transport::{Endpoint, Shared};
use protocol::stats::ServerStats;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Longest wait for one target's stats.
const STATS_LIMIT: Duration = Duration::from_secs(2);

/// A point-in-time reading at a phase boundary.
pub(super) struct Snap {
    pub at: Instant,
    pub wire: [u64; 4],
    pub cpu: f64,
    pub rss: u64,
    pub server: Option<ServerStats>,
    /// Clients connected at this moment.
    pub connected: u64,
    /// The same per target.
    pub per_target: Vec<u64>,
    /// The subscribers' radios (runs over `--network`).
    pub radio: Option<crate::network::RadioSnap>,
}

/// The server's CPU and RSS (and, from rtbench's stats, its own counters):
/// from `--server-pid` when given, else from the profile's stats endpoint.
/// With several targets, their stats are summed (CPU, RSS, counters): the
/// cost of the whole deployment. `None` if any target cannot tell.
pub(super) async fn server_stats(cfg: &Config, targets: &[Endpoint]) -> Option<ServerStats> {
    if let Some(pid) = cfg.server_pid {
        return sys::process_stats(pid);
    }
    let path = cfg.profile.stats.as_deref()?;
    let mut sum: Option<ServerStats> = None;
    for ep in targets {
        let s: ServerStats = match get_once(&ep.dialer, &ep.authority, path, STATS_LIMIT).await {
            Ok((200, body)) => serde_json::from_slice(&body).ok()?,
            _ => return None,
        };
        sum = Some(match sum {
            None => s,
            Some(a) => add(a, s),
        });
    }
    sum
}

/// Two instances' stats as one deployment's.
fn add(mut a: ServerStats, s: ServerStats) -> ServerStats {
    a.cpu_seconds += s.cpu_seconds;
    a.rss_bytes += s.rss_bytes;
    a.publishes_total += s.publishes_total;
    a.lagged_total += s.lagged_total;
    a.rooms = a.rooms.max(s.rooms);
    for (k, v) in s.labels {
        let e = a.labels.entry(k).or_default();
        e.connections += v.connections;
        e.requests_total += v.requests_total;
        e.deliveries_total += v.deliveries_total;
        e.wire_bytes_in_total += v.wire_bytes_in_total;
        e.wire_bytes_out_total += v.wire_bytes_out_total;
    }
    a
}

/// Why the server's cost is missing from the results.
pub(super) fn not_recorded(cfg: &Config) -> RunWarning {
    match (cfg.server_pid, &cfg.profile.stats) {
        (Some(pid), _) => RunWarning::ServerPidUnreadable { pid },
        (None, Some(path)) => RunWarning::StatsUnanswered { path: path.clone() },
        (None, None) => RunWarning::ServerCostUnknown,
    }
}

/// Wire bytes, our CPU and memory, the server's stats and who is connected, now.
pub(super) async fn snapshot(rec: &Recorder, shared: &Shared) -> Snap {
    let wire = rec.wire_totals();
    let at = Instant::now();
    let radio = rec.radio_snapshot(at);
    let cpu = sys::cpu_seconds();
    let (rss, _) = sys::rss_bytes();
    let server = server_stats(&shared.cfg, &shared.targets).await;
    Snap {
        connected: rec.connected.load(Ordering::Relaxed).max(0) as u64,
        per_target: shared
            .targets
            .iter()
            .map(|t| t.connected.load(Ordering::Relaxed).max(0) as u64)
            .collect(),
        at,
        wire,
        cpu,
        rss,
        server,
        radio,
    }
}
