//! `GET /api/stats`: the server's counters plus its process cost, so a load
//! generator can charge CPU seconds and memory to the transport it measured.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Counters for one label (a transport, `publish`, or `other`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelCounters {
    /// Connections open now.
    pub connections: u64,
    /// HTTP requests answered (a WebSocket or SSE stream counts once).
    pub requests_total: u64,
    /// Messages written to subscribers.
    pub deliveries_total: u64,
    /// Bytes read from clients at the socket, headers and framing included.
    pub wire_bytes_in_total: u64,
    /// Bytes written to clients at the socket.
    pub wire_bytes_out_total: u64,
}

/// The whole `/api/stats` document.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerStats {
    /// rtbench version of the server.
    pub version: String,
    pub uptime_seconds: f64,
    /// User + system CPU time of the server process.
    pub cpu_seconds: f64,
    /// Resident set size of the server process.
    pub rss_bytes: u64,
    pub rooms: u64,
    pub publishes_total: u64,
    /// Subscribers dropped because they fell behind.
    pub lagged_total: u64,
    /// Keyed by transport name, `publish` (publish/typing requests) and
    /// `other` (page, metrics, errors).
    pub labels: BTreeMap<String, LabelCounters>,
}
