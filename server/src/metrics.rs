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

    /// Takes back `n` added earlier (bytes moved to another label).
    pub fn sub(&self, n: u64) {
        self.shards[shard()].0.fetch_sub(n, Relaxed);
    }

    /// Wrapping: after a [`Counter::sub`] one shard may be "below zero".
    pub fn get(&self) -> u64 {
        self.shards
            .iter()
            .fold(0u64, |a, s| a.wrapping_add(s.0.load(Relaxed)))
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
    /// Malformed packets per transport (each ended its session).
    protocol_errors: [AtomicU64; Transport::COUNT],
    /// Socket.IO sessions open now (polling or upgraded).
    pub socketio_sessions: AtomicI64,
    /// Socket.IO sessions dropped for not answering a ping in time.
    pub socketio_ping_timeouts: AtomicU64,
    /// WebTransport sessions open now.
    pub webtransport_sessions: AtomicI64,
    /// WebTransport datagrams by [`Datagram`] outcome.
    webtransport_datagrams: [AtomicU64; 3],
}

/// What became of a message a datagram-mode session was to send as a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Datagram {
    Sent,
    /// Not sent, or pushed an older one out of a full send buffer.
    Dropped,
    /// Larger than the path allows: it went on the session's stream instead.
    TooLarge,
}

impl Datagram {
    const ALL: [Datagram; 3] = [Datagram::Sent, Datagram::Dropped, Datagram::TooLarge];

    fn as_str(self) -> &'static str {
        match self {
            Datagram::Sent => "sent",
            Datagram::Dropped => "dropped",
            Datagram::TooLarge => "too_large",
        }
    }
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
            protocol_errors: Default::default(),
            socketio_sessions: AtomicI64::new(0),
            socketio_ping_timeouts: AtomicU64::new(0),
            webtransport_sessions: AtomicI64::new(0),
            webtransport_datagrams: Default::default(),
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

    /// A peer of `t` sent something that is not its protocol.
    pub fn protocol_error(&self, t: Transport) {
        self.protocol_errors[t.index()].fetch_add(1, Relaxed);
    }

    /// One datagram-mode message went `how`.
    pub fn datagram(&self, how: Datagram) {
        self.webtransport_datagrams[how as usize].fetch_add(1, Relaxed);
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
        self.socketio_lines(&mut out);
        self.webtransport_lines(&mut out);
        for (name, kind, help, value) in self.scalars(&s) {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        }
        out
    }

    /// Protocol errors by transport, and the Socket.IO session figures.
    fn socketio_lines(&self, out: &mut String) {
        let name = "rtbench_server_protocol_errors_total";
        let _ = writeln!(
            out,
            "# HELP {name} Malformed packets by transport (each ended its session).\n# TYPE {name} counter"
        );
        for t in Transport::ALL {
            let n = self.protocol_errors[t.index()].load(Relaxed);
            let _ = writeln!(out, "{name}{{transport=\"{t}\"}} {n}");
        }
        let rows = [
            (
                "rtbench_server_socketio_sessions",
                "gauge",
                "Socket.IO sessions open now.",
                self.socketio_sessions.load(Relaxed).max(0) as u64,
            ),
            (
                "rtbench_server_socketio_ping_timeouts_total",
                "counter",
                "Socket.IO sessions dropped for not answering a ping within pingTimeout.",
                self.socketio_ping_timeouts.load(Relaxed),
            ),
        ];
        for (name, kind, help, v) in rows {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}"
            );
        }
    }

    /// The WebTransport session gauge and datagram outcomes.
    fn webtransport_lines(&self, out: &mut String) {
        let name = "rtbench_server_webtransport_sessions";
        let _ = writeln!(
            out,
            "# HELP {name} WebTransport sessions open now.\n# TYPE {name} gauge\n{name} {}",
            self.webtransport_sessions.load(Relaxed).max(0)
        );
        let name = "rtbench_server_webtransport_datagrams_total";
        let _ = writeln!(
            out,
            "# HELP {name} Messages of datagram-mode sessions by outcome: sent as a datagram, dropped (send buffer full or no datagrams), too large for one (sent on the stream).\n# TYPE {name} counter"
        );
        for d in Datagram::ALL {
            let n = self.webtransport_datagrams[d as usize].load(Relaxed);
            let _ = writeln!(out, "{name}{{result=\"{}\"}} {n}", d.as_str());
        }
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
