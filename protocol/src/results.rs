//! The result file of one load run (docs/architecture.md, "The result file"): what
//! `rtbench load` writes with `--output` and what `report`, `compare` and
//! `bench` read. Serde types only; histograms travel as base64 strings of the
//! HdrHistogram V2 serialization (µs), so files from several runs or machines
//! merge exactly without this crate depending on a histogram library.
//!
//! The committed JSON Schema `protocol/results.schema.json` describes the same
//! document; the load generator's tests validate produced files against it, so
//! a field added here must be added there too.
//!
//! Scope of the numbers: message counts (`published`, `delivered`, `lost`, …)
//! and latency cover the messages whose intended send time fell in the
//! measured window; rates and wire bytes cover the measured window by clock;
//! `errors`, `reconnects` and `wire_bytes_total` cover the whole run.

pub use crate::staged::StageResult;
use crate::transport::Transport;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// Version of this document's shape; bumped on any incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

/// One run's results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultFile {
    pub schema_version: u32,
    /// Version of the rtbench that produced the file.
    pub rtbench_version: String,
    /// When the run started, RFC 3339 in UTC (`2026-11-29T06:31:00Z`).
    pub created: String,
    /// Base URL of the server under test.
    pub target: String,
    /// The address each target was reached at (`93.184.216.34:80`), in
    /// `target`'s order: a host name as resolved at the start of the run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub target_addrs: Vec<String>,
    pub scenario: Scenario,
    pub machine: Machine,
    /// One entry per transport measured (`load` writes one; `bench` merges).
    pub transports: Vec<TransportResult>,
    /// The run did not complete as planned (interrupted, or the target went
    /// away): the numbers cover only what was measured.
    pub partial: bool,
    /// Things a reader should know (limits that could not be raised, a
    /// missing `/api/stats`, …).
    #[serde(default)]
    pub warnings: Vec<String>,
    /// What the emulated link did during the run; none on loopback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<LinkResult>,
}

/// The emulated link's own account of the run: every packet it forwarded
/// or dropped, per direction, and what it cost, so a reader can tell the
/// network's effect from the transport's and check that the link kept up.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LinkResult {
    /// Server → clients.
    pub down: LinkDirection,
    /// Clients → server.
    pub up: LinkDirection,
    /// CPU seconds of the link's forwarding threads over the run (apart
    /// from the load generator's and the server's).
    pub cpu_seconds: f64,
}

/// One direction of the link, over the whole run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LinkDirection {
    pub packets: u64,
    /// IP bytes forwarded.
    pub bytes: u64,
    pub dropped_loss: u64,
    /// Drop-tail queue behind the rate limit was full.
    pub dropped_queue: u64,
    /// The idle-timeout middlebox had forgotten the packet's flow.
    pub dropped_middlebox: u64,
    /// A partition was on.
    pub dropped_partition: u64,
    /// Mean time a forwarded packet left after it was due: how well the
    /// link kept its timing (µs; near 0 when the machine kept up).
    pub mean_lateness_us: f64,
}

/// What the subscribers' traffic costs a phone's radio, per model: the
/// time the radio is out of idle and the energy it draws, as if each
/// simulated client were one phone.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RadioResult {
    /// LTE (Huang et al., MobiSys 2012).
    pub lte: RadioFigures,
    /// 3G/UMTS (Qian et al., IMC 2010).
    pub umts: RadioFigures,
}

/// One radio model's figures over the measured window, averaged over the
/// subscribing clients.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RadioFigures {
    /// Share of the window the radio was not idle (0–1).
    pub radio_on_fraction: f64,
    /// Energy of the radio, scaled to one hour.
    pub joules_per_client_hour: f64,
    /// Promotions out of idle, scaled to one hour.
    pub promotions_per_client_hour: f64,
}

/// How publish times are spaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Arrival {
    /// Evenly spaced sends.
    Constant,
    /// Exponentially distributed gaps (a Poisson process), as real users send.
    Poisson,
}

/// How publishers send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PublishVia {
    /// `POST /api/rooms/{room}/messages` over a keep-alive connection.
    Http,
    /// A `message` frame on a WebSocket.
    Ws,
    /// An event with an acknowledgement on a Socket.IO socket.
    SocketIo,
    /// A `message` request line on a WebTransport session's bidirectional
    /// stream, answered by an `ack` line.
    WebTransport,
}

/// Where publishers' sockets are, over an emulated network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PublishersAt {
    /// With the subscribers, across the link from the server (a phone
    /// that publishes): latency includes the publisher's uplink.
    #[default]
    Client,
    /// On the server's side of the link (a backend in the data centre that
    /// pushes to phones): latency is the downlink's.
    Server,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

macro_rules! str_enum {
    ($ty:ident, $what:literal, $($variant:ident => $name:literal),+) => {
        impl $ty {
            /// The name used on the command line and in result files.
            pub const fn as_str(self) -> &'static str {
                match self { $($ty::$variant => $name),+ }
            }
        }
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl FromStr for $ty {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s.to_ascii_lowercase().as_str() {
                    $($name => Ok($ty::$variant),)+
                    _ => Err(format!(
                        concat!("unknown ", $what, " '{}' (expected one of: {})"),
                        s,
                        [$($name),+].join(", ")
                    )),
                }
            }
        }
    };
}

str_enum!(Arrival, "arrival process", Constant => "constant", Poisson => "poisson");
str_enum!(PublishVia, "publish method", Http => "http", Ws => "ws", SocketIo => "socketio", WebTransport => "webtransport");
str_enum!(PublishersAt, "publisher side", Client => "client", Server => "server");

/// Every effective setting of the run (defaults, scenario file and flags merged).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scenario {
    /// Scenario file the settings started from, if any.
    pub scenario_file: Option<String>,
    pub clients: u64,
    pub rooms: u64,
    pub publishers: u64,
    /// Messages per second, total across publishers.
    pub rate_per_sec: f64,
    pub arrival: Arrival,
    /// Size of each message's `text`.
    pub size_bytes: u64,
    /// Length of the measured window.
    pub duration_secs: f64,
    /// Connect rate during ramp-up (clients per second).
    pub ramp_up_per_sec: f64,
    pub warmup_secs: f64,
    pub drain_secs: f64,
    /// Short poll only.
    pub poll_interval_secs: Option<f64>,
    /// Long poll only.
    pub long_poll_wait_secs: Option<f64>,
    pub publish_via: PublishVia,
    pub seed: u64,
    /// Loopback source addresses client sockets were spread over.
    pub source_ips: Vec<String>,
    /// The target profile: `rtbench` (built-in) or the profile's name and file.
    #[serde(default)]
    pub profile: Option<String>,
    /// The emulated network between clients and server (`--network`), in
    /// its canonical form (`lte`, `lte,loss=2%`, `rtt=80ms,down=12mbit`);
    /// none: loopback. Part of the scenario: runs on different networks are
    /// different workloads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    /// `--publishers-at` over a network; none: at the client side (and
    /// always in files from before the setting existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publishers_at: Option<PublishersAt>,
    /// `--stages` as given (canonical form); none: a steady run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stages: Option<String>,
}

/// Where the run happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Machine {
    pub cores: u32,
    /// e.g. `linux (Debian GNU/Linux 13 (trixie))`.
    pub os: String,
    pub kernel: String,
    pub hostname: String,
    pub cpu_model: Option<String>,
}

/// Results for one transport.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransportResult {
    pub transport: Transport,
    /// Simulated subscribing clients.
    pub clients: u64,
    /// Length of the measured window as it happened.
    pub window_secs: f64,
    /// Delivery latency: receive time − the publisher's intended send time.
    pub latency: LatencySummary,
    /// Base64 of the HdrHistogram V2 serialization of `latency`, in µs.
    pub latency_histogram: String,
    /// Publish round trip (request sent → `201` read); empty with `publish_via: ws`,
    /// which has no acknowledgement.
    pub publish_latency: LatencySummary,
    pub publish_latency_histogram: String,
    /// TCP connect + HTTP/WebSocket handshake, every (re)connect of the run.
    pub connect_time: LatencySummary,
    pub connect_time_histogram: String,
    pub rates: Rates,
    pub counts: Counts,
    /// At the socket during the measured window.
    pub wire_bytes: WireBytes,
    /// At the socket over the whole run (first connect to last close): this is
    /// what a server's own counters should agree with.
    pub wire_bytes_total: WireBytes,
    /// One sample per second of the whole run.
    pub series: Vec<SecondSample>,
    /// From the target's `/api/stats`; null when it has none.
    pub server: Option<ServerCost>,
    pub loadgen: LoadgenCost,
    /// With several `--target` instances: each one's connected clients at
    /// the end of the window (empty with one target).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<TargetShare>,
    /// One worker of a distributed run (`--workers N`): what merging the
    /// workers' files needs to count loss across workers exactly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker: Option<WorkerShard>,
    /// What the subscribers' traffic costs a phone's radio; recorded when
    /// the run crossed an emulated network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub radio: Option<RadioResult>,
    /// A staged run (`--stages`): each stage's load and figures.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<StageResult>,
}

/// Summary of one HdrHistogram, all in µs; zeros when `count` is 0.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    pub count: u64,
    pub min_us: u64,
    pub mean_us: f64,
    pub stdev_us: f64,
    pub p50_us: u64,
    pub p90_us: u64,
    /// Absent from files written before it existed: loading recomputes it
    /// from the stored histogram.
    #[serde(default)]
    pub p95_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    pub max_us: u64,
}

/// Rates over the measured window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Rates {
    /// Messages received by subscribers per second (first receipts).
    pub deliveries_per_sec: f64,
    /// Subscribe-side HTTP requests per second (a stream counts once).
    pub requests_per_sec: f64,
    pub publishes_per_sec: f64,
    /// Share of subscribe requests that came back with no message (polling waste).
    pub empty_ratio: f64,
}

/// Exact counts. Message counts are per (publisher, seq) and subscriber,
/// for messages whose intended send time fell in the measured window.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Publishes acknowledged (`201`; for WebSocket publishing: frame written).
    pub published: u64,
    /// Publishes that failed (not retried; not counted as loss).
    pub publish_errors: u64,
    /// Σ over subscribers of the acknowledged publishes to their room.
    pub expected: u64,
    /// Distinct (subscriber, publisher, seq) received.
    pub delivered: u64,
    /// Expected but never received by the end of drain (by a transport
    /// that promises delivery; see `dropped_by_design`).
    pub lost: u64,
    /// Received again after a first receipt.
    pub duplicate: u64,
    /// Received after a higher seq of the same publisher.
    pub reordered: u64,
    /// Received but never acknowledged to its publisher (e.g. a publish that
    /// timed out yet reached the server).
    pub unexpected: u64,
    /// Subscribe-side HTTP requests in the window (a stream counts once).
    pub requests: u64,
    /// Of those, answers with no message.
    pub empty_responses: u64,
    /// Subscriber reconnects over the whole run.
    pub reconnects: u64,
    /// Times the server dropped a slow subscriber (`lagged`), whole run.
    pub lagged: u64,
    /// Resumes the server answered with a gap notice (the cursor was older
    /// than its history: messages were lost there), whole run.
    pub gaps: u64,
    /// Messages received without this run's marker (another client's
    /// traffic, history from an earlier run, server notices): not measured.
    #[serde(default)]
    pub foreign: u64,
    /// Socket.IO: Engine.IO handshake requests of the subscribers, whole
    /// run (one per session). Absent for other transports.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub engine_io_handshakes: u64,
    /// Socket.IO: sessions upgraded from polling to WebSocket, whole run.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub engine_io_upgrades: u64,
    /// WebTransport datagrams: messages a subscriber never received, which
    /// the transport does not resend (a datagram lost in the network or
    /// dropped from a full send buffer). Not part of `lost`. Absent for
    /// other transports.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub dropped_by_design: u64,
    /// Of `delivered`, messages a datagram subscriber fetched after seeing
    /// a hole in the room's ids (`--datagram-catch-up`): late, with the
    /// recovery in their latency. Absent otherwise.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub recovered: u64,
    /// Subscriber and publisher errors by kind over the whole run
    /// (`connect_refused`, `connect_timeout`, `timeout`, `http_status`,
    /// `protocol`, `unexpected_close`, `io`).
    pub errors: BTreeMap<String, u64>,
}

/// Bytes at the socket, headers and framing included.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WireBytes {
    /// Subscribers → server.
    pub subscribe_up_bytes: u64,
    /// Server → subscribers.
    pub subscribe_down_bytes: u64,
    /// Publishers → server.
    pub publish_up_bytes: u64,
    /// Server → publishers.
    pub publish_down_bytes: u64,
    /// `text` bytes of the messages delivered (first receipts).
    pub payload_bytes: u64,
    /// First receipts these bytes carried.
    pub deliveries: u64,
    /// (subscribe up + down) / deliveries; 0 when nothing was delivered.
    pub bytes_per_delivery: f64,
    /// subscribe down / deliveries.
    pub down_bytes_per_delivery: f64,
    /// (subscribe up + down) / payload bytes: 1.0 would be a wire with no overhead.
    pub overhead_ratio: f64,
}

/// Phase of the run a sample belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Clients connecting.
    RampUp,
    /// Publishing, not recorded.
    Warmup,
    /// The measured window.
    Measure,
    /// Publishers stopped; waiting for in-flight messages.
    Drain,
}

impl Phase {
    /// The name used in result files and the progress line.
    pub const fn as_str(self) -> &'static str {
        match self {
            Phase::RampUp => "ramp_up",
            Phase::Warmup => "warmup",
            Phase::Measure => "measure",
            Phase::Drain => "drain",
        }
    }
}

/// One second of the run (subscribe side unless named otherwise).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SecondSample {
    /// End of this second, seconds since the run started (1, 2, …).
    pub t_secs: u64,
    pub phase: Option<Phase>,
    /// First receipts.
    pub deliveries: u64,
    pub published: u64,
    pub requests: u64,
    pub empty: u64,
    pub errors: u64,
    pub down_bytes: u64,
    pub up_bytes: u64,
    /// Subscribers with an open connection at the end of the second.
    pub connected: u64,
    /// Latency of the deliveries of this second; null when there were none.
    pub p50_us: Option<u64>,
    pub p99_us: Option<u64>,
}

/// The server's cost over the measured window, from `/api/stats`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerCost {
    pub version: String,
    /// CPU seconds (user + system) spent during the window.
    pub cpu_seconds: f64,
    /// `cpu_seconds` / window length × 100 (100 = one core busy).
    pub cpu_percent: f64,
    pub rss_before_bytes: u64,
    pub rss_after_bytes: u64,
    /// Highest RSS seen in the samples taken.
    pub rss_peak_bytes: u64,
    /// Open connections with this transport's label at the end of the window.
    pub connections: u64,
    /// (RSS after − RSS before ramp-up) / connections; null when unknown or
    /// when not every client was connected at the end of the window.
    pub rss_per_connection_bytes: Option<f64>,
    /// Deliveries the server counted for this transport during the window.
    pub deliveries: u64,
    /// Subscribers the server dropped for lagging during the window.
    pub lagged: u64,
}

/// One load worker's share of a distributed run. This worker's `counts`
/// cover its own publishers only (one clock, one process); messages of the
/// other workers' publishers are recorded here per seq, so the merge can
/// count, for every acknowledged message, how many subscribers of all
/// workers got it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WorkerShard {
    /// The run's tag (shared by its workers: derived from `--start-at`).
    pub run: String,
    pub worker_id: u32,
    pub workers: u32,
    /// Indexed by room.
    pub rooms: Vec<RoomShard>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RoomShard {
    /// This worker's subscribers in the room.
    pub subscribers: u64,
    /// This worker's publishers: acknowledged window seqs, `[start, end)` ranges.
    pub acked: Vec<PubRanges>,
    /// Every publisher (any worker) whose window messages arrived here: how
    /// many of this worker's subscribers got seq `base + i`.
    pub received: Vec<PubCounts>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PubRanges {
    pub publisher: u32,
    pub ranges: Vec<[u64; 2]>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PubCounts {
    pub publisher: u32,
    pub base: u64,
    pub counts: Vec<u32>,
}

/// One server instance's share of a multi-target run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TargetShare {
    pub url: String,
    /// Clients connected to it at the end of the window.
    pub connected: u64,
}

/// The load generator's own cost, so a reader can see when it, not the
/// server, was the bottleneck.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LoadgenCost {
    /// CPU seconds (user + system) spent during the window.
    pub cpu_seconds: f64,
    pub cpu_percent: f64,
    /// RSS before any client connected.
    pub rss_baseline_bytes: u64,
    /// RSS at the end of the window.
    pub rss_bytes: u64,
    /// Highest RSS of the process.
    pub rss_peak_bytes: u64,
    /// (RSS at window end − baseline) / clients.
    pub per_client_rss_bytes: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_parse_and_print() {
        assert_eq!("poisson".parse::<Arrival>(), Ok(Arrival::Poisson));
        assert_eq!("WS".parse::<PublishVia>(), Ok(PublishVia::Ws));
        assert!("smoke".parse::<PublishVia>().is_err());
        assert_eq!(Arrival::Constant.to_string(), "constant");
        assert_eq!(
            serde_json::to_string(&Phase::RampUp).unwrap_or_default(),
            "\"ramp_up\""
        );
    }
}
