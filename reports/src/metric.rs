//! The one table of metrics: every number rtbench judges or shows, by the
//! name users write (`latency.p99`, `loss`, `server.cpu_percent`, …), each
//! with how to read it from a [`TransportResult`], its unit [`Kind`] (how a
//! limit is written and how a value reads) and which direction is worse.
//! [`crate::thresholds`], [`mod@crate::compare`] and the report's headline
//! rows ([`crate::headline`]) all take their numbers from here, so a name
//! means the same number in `--threshold`, `--max-regression` and the report.

mod kind;

pub use kind::Kind;
use protocol::Transport;
use protocol::results::{LatencySummary, RadioFigures, TransportResult};
use std::fmt;

/// Which direction of a metric is a change for the worse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Worse {
    /// More is worse (latency, bytes, loss, cost).
    Higher,
    /// Less is worse (throughput).
    Lower,
}

impl Worse {
    /// `+1` when higher is worse, `-1` when lower is: multiplying a change by
    /// it gives "how much worse" for either direction.
    pub fn sign(self) -> f64 {
        match self {
            Worse::Higher => 1.0,
            Worse::Lower => -1.0,
        }
    }
}

/// One named metric.
#[derive(Clone, Copy)]
pub struct Metric {
    /// The name users write (`latency.p99`).
    pub name: &'static str,
    pub kind: Kind,
    pub worse: Worse,
    /// What it is, one line (for `--help` texts and error messages).
    pub about: &'static str,
    /// The value of one run or of merged runs; `None`: not measured.
    pub value: fn(&TransportResult) -> Option<f64>,
    /// Why [`Metric::value`] can be `None`, as a reason a reader can act on.
    pub missing: &'static str,
    /// Transports the metric means something for (the polling waste of a
    /// push stream is not zero, it is undefined).
    pub applies: fn(Transport) -> bool,
}

impl fmt::Debug for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

impl PartialEq for Metric {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Metric {
    /// Counts of events that should not happen (loss, errors): compared as
    /// totals, where any increase matters, not as a distribution.
    pub fn is_count(&self) -> bool {
        self.kind == Kind::Count
    }

    /// The value of `r`, `None` when not measured or when the metric does not
    /// apply to `r`'s transport.
    pub fn of(&self, r: &TransportResult) -> Option<f64> {
        if !(self.applies)(r.transport) {
            return None;
        }
        (self.value)(r).filter(|v| v.is_finite())
    }
}

fn all(_: Transport) -> bool {
    true
}

fn polling(t: Transport) -> bool {
    !t.is_push()
}

/// A number of a latency summary, `None` when it holds no sample.
fn sampled(l: &LatencySummary, f: fn(&LatencySummary) -> f64) -> Option<f64> {
    (l.count > 0).then(|| f(l))
}

const NO_DELIVERY: &str = "no message was delivered in the measured window";
const NO_PUBLISH: &str =
    "no publish was acknowledged (publishing over WebSocket has no acknowledgement)";
const NO_CONNECT: &str = "no connection was made";
const NO_SERVER: &str = "the server reported no cost (it has no /api/stats)";

/// CPU seconds per 1,000 deliveries, by the server's own delivery count when
/// it has one (same scope as its CPU time), else by the load generator's.
fn server_cpu_per_1k(r: &TransportResult) -> Option<f64> {
    let s = r.server.as_ref()?;
    let deliveries = if s.deliveries > 0 {
        s.deliveries
    } else {
        r.wire_bytes.deliveries
    };
    (deliveries > 0).then(|| s.cpu_seconds / deliveries as f64 * 1000.0)
}

macro_rules! latency {
    ($name:literal, $about:literal, $summary:ident, $missing:expr, $f:expr) => {
        Metric {
            name: $name,
            kind: Kind::Latency,
            worse: Worse::Higher,
            about: $about,
            value: |r| sampled(&r.$summary, $f),
            missing: $missing,
            applies: all,
        }
    };
}

macro_rules! count {
    ($name:literal, $about:literal, $value:expr) => {
        Metric {
            name: $name,
            kind: Kind::Count,
            worse: Worse::Higher,
            about: $about,
            value: $value,
            missing: "",
            applies: all,
        }
    };
}

pub const LATENCY_MEAN: Metric = latency!(
    "latency.mean",
    "mean delivery latency",
    latency,
    NO_DELIVERY,
    |l| l.mean_us
);
pub const LATENCY_P50: Metric = latency!(
    "latency.p50",
    "median delivery latency",
    latency,
    NO_DELIVERY,
    |l| l.p50_us as f64
);
pub const LATENCY_P90: Metric = latency!(
    "latency.p90",
    "90th percentile delivery latency",
    latency,
    NO_DELIVERY,
    |l| l.p90_us as f64
);
pub const LATENCY_P95: Metric = latency!(
    "latency.p95",
    "95th percentile delivery latency",
    latency,
    NO_DELIVERY,
    |l| l.p95_us as f64
);
pub const LATENCY_P99: Metric = latency!(
    "latency.p99",
    "99th percentile delivery latency",
    latency,
    NO_DELIVERY,
    |l| l.p99_us as f64
);
pub const LATENCY_P999: Metric = latency!(
    "latency.p999",
    "99.9th percentile delivery latency",
    latency,
    NO_DELIVERY,
    |l| l.p999_us as f64
);
pub const LATENCY_MAX: Metric = latency!(
    "latency.max",
    "highest delivery latency",
    latency,
    NO_DELIVERY,
    |l| l.max_us as f64
);
pub const PUBLISH_LATENCY_P50: Metric = latency!(
    "publish_latency.p50",
    "median publish round trip",
    publish_latency,
    NO_PUBLISH,
    |l| l.p50_us as f64
);
pub const PUBLISH_LATENCY_P95: Metric = latency!(
    "publish_latency.p95",
    "95th percentile publish round trip",
    publish_latency,
    NO_PUBLISH,
    |l| l.p95_us as f64
);
pub const PUBLISH_LATENCY_P99: Metric = latency!(
    "publish_latency.p99",
    "99th percentile publish round trip",
    publish_latency,
    NO_PUBLISH,
    |l| l.p99_us as f64
);
pub const PUBLISH_LATENCY_MAX: Metric = latency!(
    "publish_latency.max",
    "highest publish round trip",
    publish_latency,
    NO_PUBLISH,
    |l| l.max_us as f64
);
pub const CONNECT_TIME_P50: Metric = latency!(
    "connect_time.p50",
    "median connect + handshake time",
    connect_time,
    NO_CONNECT,
    |l| l.p50_us as f64
);
pub const CONNECT_TIME_P95: Metric = latency!(
    "connect_time.p95",
    "95th percentile connect + handshake time",
    connect_time,
    NO_CONNECT,
    |l| l.p95_us as f64
);
pub const CONNECT_TIME_P99: Metric = latency!(
    "connect_time.p99",
    "99th percentile connect + handshake time",
    connect_time,
    NO_CONNECT,
    |l| l.p99_us as f64
);
pub const CONNECT_TIME_MAX: Metric = latency!(
    "connect_time.max",
    "highest connect + handshake time",
    connect_time,
    NO_CONNECT,
    |l| l.max_us as f64
);
pub const DELIVERIES_PER_SEC: Metric = Metric {
    name: "deliveries_per_sec",
    kind: Kind::Rate,
    worse: Worse::Lower,
    about: "messages published in the window and delivered by the end of the drain (first \
            receipts, all subscribers), per second of window",
    value: |r| Some(r.rates.deliveries_per_sec),
    missing: "",
    applies: all,
};
pub const REQUESTS_PER_SEC: Metric = Metric {
    name: "requests_per_sec",
    kind: Kind::Rate,
    worse: Worse::Higher,
    about: "subscribe-side HTTP requests per second",
    value: |r| Some(r.rates.requests_per_sec),
    missing: "",
    applies: all,
};
pub const EMPTY_RATIO: Metric = Metric {
    name: "empty_ratio",
    kind: Kind::Ratio,
    worse: Worse::Higher,
    about: "share of polls that came back empty (polling transports only)",
    value: |r| (r.counts.requests > 0).then_some(r.rates.empty_ratio),
    missing: "no subscribe request was made in the measured window",
    applies: polling,
};
pub const BYTES_PER_DELIVERY: Metric = Metric {
    name: "bytes_per_delivery",
    kind: Kind::Bytes,
    worse: Worse::Higher,
    about: "subscribe-side wire bytes per delivered message",
    value: |r| (r.wire_bytes.deliveries > 0).then_some(r.wire_bytes.bytes_per_delivery),
    missing: NO_DELIVERY,
    applies: all,
};
pub const REQUESTS_PER_DELIVERY: Metric = Metric {
    name: "requests_per_delivery",
    kind: Kind::Factor,
    worse: Worse::Higher,
    about: "subscribe-side HTTP requests per message received, both in the window (a stream \
            counts once, at connect)",
    // Both by receive time: a window edge that cuts a poll cycle moves
    // requests and the messages they carried together, so the ratio holds
    // (requests ÷ deliveries by publish time would jump with the edge).
    value: |r| {
        (r.wire_bytes.deliveries > 0)
            .then(|| r.counts.requests as f64 / r.wire_bytes.deliveries as f64)
    },
    missing: NO_DELIVERY,
    applies: all,
};
pub const OVERHEAD_RATIO: Metric = Metric {
    name: "overhead_ratio",
    kind: Kind::Factor,
    worse: Worse::Higher,
    about: "subscribe-side wire bytes ÷ payload bytes",
    value: |r| (r.wire_bytes.payload_bytes > 0).then_some(r.wire_bytes.overhead_ratio),
    missing: NO_DELIVERY,
    applies: all,
};
pub const LOSS: Metric = count!("loss", "messages expected but never received", |r| Some(
    r.counts.lost as f64
));
pub const DUPLICATE: Metric = count!("duplicate", "messages received twice", |r| Some(
    r.counts.duplicate as f64
));
pub const REORDERED: Metric = count!("reordered", "messages received out of order", |r| Some(
    r.counts.reordered as f64
));
pub const ERRORS: Metric = count!(
    "errors",
    "subscriber and publisher errors, all kinds",
    |r| { Some(r.counts.errors.values().sum::<u64>() as f64) }
);
pub const RECONNECTS: Metric = count!("reconnects", "subscriber reconnects", |r| Some(
    r.counts.reconnects as f64
));
pub const PUBLISH_ERRORS: Metric = count!("publish_errors", "publishes that failed", |r| Some(
    r.counts.publish_errors as f64
));
pub const SERVER_CPU_PER_1K: Metric = Metric {
    name: "server.cpu_per_1k_deliveries",
    kind: Kind::Seconds,
    worse: Worse::Higher,
    about: "server CPU seconds per 1,000 deliveries",
    value: server_cpu_per_1k,
    missing: NO_SERVER,
    applies: all,
};
pub const SERVER_CPU_PERCENT: Metric = Metric {
    name: "server.cpu_percent",
    kind: Kind::Percent,
    worse: Worse::Higher,
    about: "server CPU during the window (100 = one core)",
    value: |r| r.server.as_ref().map(|s| s.cpu_percent),
    missing: NO_SERVER,
    applies: all,
};
pub const SERVER_RSS_PER_CONNECTION: Metric = Metric {
    name: "server.rss_per_connection",
    kind: Kind::Bytes,
    worse: Worse::Higher,
    about: "server memory per open connection",
    value: |r| r.server.as_ref().and_then(|s| s.rss_per_connection_bytes),
    missing: "no memory per connection (no /api/stats, or not every client connected)",
    applies: all,
};
pub const LOADGEN_RSS_PER_CLIENT: Metric = Metric {
    name: "loadgen.rss_per_client",
    kind: Kind::Bytes,
    worse: Worse::Higher,
    about: "load generator memory per simulated client",
    value: |r| (r.clients > 0).then_some(r.loadgen.per_client_rss_bytes),
    missing: "the run had no clients",
    applies: all,
};
pub const LOADGEN_CPU_PERCENT: Metric = Metric {
    name: "loadgen.cpu_percent",
    kind: Kind::Percent,
    worse: Worse::Higher,
    about: "load generator CPU during the window (100 = one core)",
    value: |r| Some(r.loadgen.cpu_percent),
    missing: "",
    applies: all,
};

const NO_RADIO: &str =
    "no radio figures: they are recorded only for runs across an emulated network (--network)";

/// The radio model's figures of a run, when it crossed an emulated network.
fn radio(
    r: &TransportResult,
    model: fn(&protocol::results::RadioResult) -> &RadioFigures,
) -> Option<&RadioFigures> {
    r.radio.as_ref().map(model)
}

macro_rules! radio {
    ($name:literal, $about:literal, $kind:expr, $model:ident, $field:ident) => {
        Metric {
            name: $name,
            kind: $kind,
            worse: Worse::Higher,
            about: $about,
            value: |r| radio(r, |x| &x.$model).map(|f| f.$field),
            missing: NO_RADIO,
            applies: all,
        }
    };
}

pub const RADIO_LTE_JOULES: Metric = radio!(
    "radio.lte.joules_per_client_hour",
    "LTE radio energy per simulated phone, scaled to an hour (Huang et al., MobiSys 2012)",
    Kind::Energy,
    lte,
    joules_per_client_hour
);
pub const RADIO_LTE_ON: Metric = radio!(
    "radio.lte.radio_on",
    "share of the window an LTE radio was out of idle, per simulated phone",
    Kind::Ratio,
    lte,
    radio_on_fraction
);
pub const RADIO_UMTS_JOULES: Metric = radio!(
    "radio.umts.joules_per_client_hour",
    "3G (UMTS) radio energy per simulated phone, scaled to an hour (Qian et al., IMC 2010)",
    Kind::Energy,
    umts,
    joules_per_client_hour
);
pub const RADIO_UMTS_ON: Metric = radio!(
    "radio.umts.radio_on",
    "share of the window a 3G (UMTS) radio was out of idle, per simulated phone",
    Kind::Ratio,
    umts,
    radio_on_fraction
);

/// Every metric, in the order error messages and docs list them.
pub const METRICS: &[Metric] = &[
    LATENCY_MEAN,
    LATENCY_P50,
    LATENCY_P90,
    LATENCY_P95,
    LATENCY_P99,
    LATENCY_P999,
    LATENCY_MAX,
    PUBLISH_LATENCY_P50,
    PUBLISH_LATENCY_P95,
    PUBLISH_LATENCY_P99,
    PUBLISH_LATENCY_MAX,
    CONNECT_TIME_P50,
    CONNECT_TIME_P95,
    CONNECT_TIME_P99,
    CONNECT_TIME_MAX,
    DELIVERIES_PER_SEC,
    REQUESTS_PER_SEC,
    EMPTY_RATIO,
    BYTES_PER_DELIVERY,
    REQUESTS_PER_DELIVERY,
    OVERHEAD_RATIO,
    LOSS,
    DUPLICATE,
    REORDERED,
    ERRORS,
    RECONNECTS,
    PUBLISH_ERRORS,
    SERVER_CPU_PER_1K,
    SERVER_CPU_PERCENT,
    SERVER_RSS_PER_CONNECTION,
    LOADGEN_RSS_PER_CLIENT,
    LOADGEN_CPU_PERCENT,
    RADIO_LTE_JOULES,
    RADIO_LTE_ON,
    RADIO_UMTS_JOULES,
    RADIO_UMTS_ON,
];

/// Short names accepted for the common ones.
pub const ALIASES: &[(&str, &str)] = &[
    ("mean", "latency.mean"),
    ("p50", "latency.p50"),
    ("p90", "latency.p90"),
    ("p95", "latency.p95"),
    ("p99", "latency.p99"),
    ("p999", "latency.p999"),
    ("p99.9", "latency.p999"),
    ("latency.p99.9", "latency.p999"),
    ("max", "latency.max"),
    ("lost", "loss"),
    (
        "radio.3g.joules_per_client_hour",
        "radio.umts.joules_per_client_hour",
    ),
    ("radio.3g.radio_on", "radio.umts.radio_on"),
];

/// The metric called `name` (or an alias of it); case-insensitive. k6's
/// `p(95)` spelling is accepted for every percentile (`connect_time.p(99)`).
pub fn lookup(name: &str) -> Option<&'static Metric> {
    let name = k6_percentile(&name.trim().to_ascii_lowercase());
    let name = ALIASES
        .iter()
        .find(|(alias, _)| *alias == name)
        .map_or(name.as_str(), |(_, full)| full);
    METRICS.iter().find(|m| m.name == name)
}

/// `p(95)` → `p95`, `latency.p(99.9)` → `latency.p99.9`; other names as they are.
fn k6_percentile(name: &str) -> String {
    match (name.find("p("), name.strip_suffix(')')) {
        (Some(at), Some(head)) => format!("{}p{}", &name[..at], head[at + 2..].trim()),
        _ => name.to_string(),
    }
}

/// Every metric name and alias, as lines of at most 100 columns under the
/// first line of an error message.
pub fn names_help() -> String {
    let names: Vec<String> = METRICS.iter().map(|m| m.name.to_string()).collect();
    let mut aliases: Vec<String> = ALIASES
        .iter()
        .map(|(a, full)| format!("{a} = {full}"))
        .collect();
    aliases.push("p(N) = pN".to_string());
    format!(
        "{}\n{}",
        wrap_list("valid metrics:", &names),
        wrap_list("aliases:", &aliases)
    )
}

/// `label a, b, c`, indented two columns and wrapped at 100 columns, the
/// continuation lines aligned under the first item.
pub fn wrap_list(label: &str, items: &[String]) -> String {
    const WIDTH: usize = 100;
    let indent = " ".repeat(3 + label.chars().count());
    let mut out = format!("  {label}");
    let mut col = out.chars().count();
    for (i, item) in items.iter().enumerate() {
        let piece = if i + 1 < items.len() {
            format!("{item},")
        } else {
            item.clone()
        };
        let len = piece.chars().count();
        if col + 1 + len > WIDTH && col > indent.len() {
            out.push('\n');
            out.push_str(&indent);
            out.push_str(&piece);
            col = indent.len() + len;
        } else {
            out.push(' ');
            out.push_str(&piece);
            col += 1 + len;
        }
    }
    out
}

#[cfg(test)]
mod tests;
