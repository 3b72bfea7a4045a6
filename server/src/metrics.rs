//! Server counters, per label (each transport, `publish`, `other`),
//! rendered as Prometheus text (`/metrics`) and JSON (`/api/stats`).
//!
//! Relaxed atomics: the figures are sampled, never used for control, so no
//! ordering is needed and the hot path pays one uncontended-ish add each.

use protocol::Transport;
use protocol::stats::{LabelCounters, ServerStats};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::time::Instant;

/// A per-label metric: name, type, help, and how to read it.
type Family = (
    &'static str,
    &'static str,
    &'static str,
    fn(&LabelCounters) -> u64,
);

/// What a connection or request is charged to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Label {
    Transport(Transport),
    /// Publish and typing requests.
    Publish,
    /// The page, metrics, stats, health and errors.
    Other,
}

impl Label {
    pub const COUNT: usize = Transport::ALL.len() + 2;

    pub const fn index(self) -> usize {
        match self {
            Label::Transport(t) => t.index(),
            Label::Publish => Transport::ALL.len(),
            Label::Other => Transport::ALL.len() + 1,
        }
    }

    pub fn from_index(i: usize) -> Label {
        match Transport::ALL.get(i) {
            Some(t) => Label::Transport(*t),
            None if i == Transport::ALL.len() => Label::Publish,
            None => Label::Other,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Label::Transport(t) => t.as_str(),
            Label::Publish => "publish",
            Label::Other => "other",
        }
    }
}

/// Counters of one label. The per-delivery and per-write ones are
/// [`Counter`]s: every connection of a transport adds to them from every
/// worker thread, and one shared atomic bounced its cache line between the
/// cores on each socket write.
#[derive(Debug, Default)]
pub struct LabelMetrics {
    pub connections: AtomicI64,
    pub requests: Counter,
    pub deliveries: Counter,
    pub bytes_in: Counter,
    pub bytes_out: Counter,
}

const SHARDS: usize = 8;

/// A counter that many threads add to: one cache line per shard (a thread
/// keeps its shard), summed when read.
#[derive(Debug, Default)]
pub struct Counter {
    shards: [Shard; SHARDS],
}

#[derive(Debug, Default)]
#[repr(align(128))]
struct Shard(AtomicU64);

impl Counter {
    pub fn add(&self, n: u64) {
        self.shards[shard()].0.fetch_add(n, Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.shards.iter().map(|s| s.0.load(Relaxed)).sum()
    }
}

/// This thread's shard, handed out round-robin on first use.
fn shard() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static SHARD: usize = NEXT.fetch_add(1, Relaxed) % SHARDS;
    }
    SHARD.with(|s| *s)
}

/// All server counters; one per process, shared by `Arc`.
#[derive(Debug)]
pub struct Metrics {
    labels: [LabelMetrics; Label::COUNT],
    pub publishes: AtomicU64,
    pub lagged: AtomicU64,
    pub rooms: AtomicU64,
    /// Redis broker: failed commands, and round trips (count, total µs).
    pub broker_errors: AtomicU64,
    broker_ops: AtomicU64,
    broker_rtt_us: AtomicU64,
    started: Instant,
    /// `--inject-cost`: busy-loop rounds spent per delivery (0: none).
    pub inject_cost_rounds: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            labels: Default::default(),
            publishes: AtomicU64::new(0),
            lagged: AtomicU64::new(0),
            rooms: AtomicU64::new(0),
            broker_errors: AtomicU64::new(0),
            broker_ops: AtomicU64::new(0),
            broker_rtt_us: AtomicU64::new(0),
            started: Instant::now(),
            inject_cost_rounds: AtomicU64::new(0),
        }
    }
}

impl Metrics {
    pub fn label(&self, l: Label) -> &LabelMetrics {
        &self.labels[l.index()]
    }

    /// One broker round trip took `d`.
    pub fn broker_rtt(&self, d: std::time::Duration) {
        self.broker_ops.fetch_add(1, Relaxed);
        self.broker_rtt_us.fetch_add(d.as_micros() as u64, Relaxed);
    }

    pub fn delivered(&self, t: Transport, n: u64) {
        self.label(Label::Transport(t)).deliveries.add(n);
        crate::delay::spend(self.inject_cost_rounds.load(Relaxed).saturating_mul(n));
    }

    /// A snapshot as the `/api/stats` document.
    pub fn stats(&self) -> ServerStats {
        let cost = crate::sys::process_cost();
        let labels: BTreeMap<String, LabelCounters> = (0..Label::COUNT)
            .map(|i| {
                let m = &self.labels[i];
                (
                    Label::from_index(i).as_str().to_string(),
                    LabelCounters {
                        connections: m.connections.load(Relaxed).max(0) as u64,
                        requests_total: m.requests.get(),
                        deliveries_total: m.deliveries.get(),
                        wire_bytes_in_total: m.bytes_in.get(),
                        wire_bytes_out_total: m.bytes_out.get(),
                    },
                )
            })
            .collect();
        ServerStats {
            version: env!("CARGO_PKG_VERSION").to_string(),
            uptime_seconds: self.started.elapsed().as_secs_f64(),
            cpu_seconds: cost.cpu_seconds,
            rss_bytes: cost.rss_bytes,
            rooms: self.rooms.load(Relaxed),
            publishes_total: self.publishes.load(Relaxed),
            lagged_total: self.lagged.load(Relaxed),
            labels,
        }
    }

    /// Prometheus text exposition format 0.0.4.
    pub fn prometheus(&self) -> String {
        let s = self.stats();
        let mut out = String::with_capacity(4096);
        for (name, kind, help, get) in PER_LABEL {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (label, c) in &s.labels {
                let _ = writeln!(out, "{name}{{transport=\"{label}\"}} {}", get(c));
            }
        }
        wire_bytes(&mut out, &s);
        for (name, kind, help, value) in self.scalars(&s) {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        }
        out
    }

    /// The metrics without a label: name, type, help, value.
    fn scalars(&self, s: &ServerStats) -> [(&'static str, &'static str, &'static str, String); 8] {
        [
            (
                "rtbench_broker_roundtrip_seconds_sum",
                "counter",
                "Total time of Redis broker round trips (publish, presence, unblock).",
                format!("{}", self.broker_rtt_us.load(Relaxed) as f64 / 1e6),
            ),
            (
                "rtbench_broker_roundtrip_seconds_count",
                "counter",
                "Redis broker round trips.",
                self.broker_ops.load(Relaxed).to_string(),
            ),
            (
                "rtbench_broker_errors_total",
                "counter",
                "Redis broker commands that failed (unreachable, error reply, timeout).",
                self.broker_errors.load(Relaxed).to_string(),
            ),
            (
                "rtbench_server_publishes_total",
                "counter",
                "Messages accepted.",
                s.publishes_total.to_string(),
            ),
            (
                "rtbench_server_lagged_total",
                "counter",
                "Push subscribers dropped (with their cursor) for falling behind.",
                s.lagged_total.to_string(),
            ),
            (
                "rtbench_server_rooms",
                "gauge",
                "Rooms in memory.",
                s.rooms.to_string(),
            ),
            (
                "process_cpu_seconds_total",
                "counter",
                "User and system CPU time of the server process.",
                format!("{}", s.cpu_seconds),
            ),
            (
                "process_resident_memory_bytes",
                "gauge",
                "Resident set size of the server process.",
                s.rss_bytes.to_string(),
            ),
        ]
    }
}

/// The per-label metrics, one line per label each.
const PER_LABEL: [Family; 3] = [
    (
        "rtbench_server_connections",
        "gauge",
        "Open connections by transport.",
        |c| c.connections,
    ),
    (
        "rtbench_server_requests_total",
        "counter",
        "HTTP requests (a stream counts once) by transport.",
        |c| c.requests_total,
    ),
    (
        "rtbench_server_deliveries_total",
        "counter",
        "Messages written to subscribers by transport.",
        |c| c.deliveries_total,
    ),
];

/// Bytes at the socket, per label and direction.
fn wire_bytes(out: &mut String, s: &ServerStats) {
    let name = "rtbench_server_wire_bytes_total";
    let _ = writeln!(
        out,
        "# HELP {name} Bytes on the wire at the socket, headers and framing included.\n# TYPE {name} counter"
    );
    for (label, c) in &s.labels {
        let _ = writeln!(
            out,
            "{name}{{transport=\"{label}\",direction=\"in\"}} {}",
            c.wire_bytes_in_total
        );
        let _ = writeln!(
            out,
            "{name}{{transport=\"{label}\",direction=\"out\"}} {}",
            c.wire_bytes_out_total
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_declares_every_sample() {
        let m = Metrics::default();
        m.delivered(Transport::Ws, 3);
        let text = m.prometheus();
        let mut declared = std::collections::HashSet::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                declared.insert(rest.split(' ').next().unwrap_or_default().to_string());
            } else if !line.starts_with('#') {
                let name = line.split(['{', ' ']).next().unwrap_or_default();
                assert!(declared.contains(name), "undeclared sample: {line}");
            }
        }
        assert!(text.contains("rtbench_server_deliveries_total{transport=\"ws\"} 3\n"));
        assert!(
            text.contains(
                "rtbench_server_wire_bytes_total{transport=\"sse\",direction=\"out\"} 0\n"
            )
        );
    }
}
