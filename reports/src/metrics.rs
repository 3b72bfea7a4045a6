//! The headline numbers: one [`Metric`] per table row, with how to take it
//! from a result and whether lower or higher is better. The HTML table, the
//! terminal table, the JSON summary and the findings all read this list, so
//! a number has one definition and one format.

use crate::format;
use protocol::results::TransportResult;

/// Which direction of a row is highlighted as best.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    Lower,
    Higher,
    /// Context, not a property of the transport (highlighting it would mislead).
    Neither,
}

/// One headline row.
#[derive(Debug, Clone, Copy)]
pub struct Metric {
    /// Key in the JSON summary (snake_case, unit last).
    pub key: &'static str,
    /// Row label in the HTML table.
    pub label: &'static str,
    /// Column header in the terminal table (short).
    pub short: &'static str,
    /// Row group in the HTML table.
    pub section: &'static str,
    pub better: Better,
    /// In the terminal table too (it has room for a dozen columns).
    pub terminal: bool,
    /// The value from one run (`None`: not measured, e.g. no `/api/stats`).
    pub value: fn(&TransportResult) -> Option<f64>,
    /// How the value reads, unit included.
    pub show: fn(f64) -> String,
}

fn ms(us: u64) -> Option<f64> {
    Some(us as f64 / 1e3)
}

fn show_ms(v: f64) -> String {
    format::latency_us(v * 1e3)
}

fn show_count(v: f64) -> String {
    format::thousands(v.round() as u64)
}

/// CPU seconds per 1,000 deliveries, by the server's own delivery count when
/// it has one (same scope as its CPU time), else by the load generator's.
pub fn server_cpu_per_1k(r: &TransportResult) -> Option<f64> {
    let s = r.server.as_ref()?;
    let deliveries = if s.deliveries > 0 {
        s.deliveries
    } else {
        r.wire_bytes.deliveries
    };
    (deliveries > 0).then(|| s.cpu_seconds / deliveries as f64 * 1000.0)
}

/// Every headline row, in table order.
pub const HEADLINE: &[Metric] = &[
    Metric {
        key: "latency_p50_ms",
        label: "Latency p50",
        section: "Latency",
        short: "p50",
        better: Better::Lower,
        terminal: true,
        value: |r| {
            (r.latency.count > 0)
                .then(|| ms(r.latency.p50_us))
                .flatten()
        },
        show: show_ms,
    },
    Metric {
        key: "latency_p90_ms",
        label: "Latency p90",
        section: "Latency",
        short: "p90",
        better: Better::Lower,
        terminal: false,
        value: |r| {
            (r.latency.count > 0)
                .then(|| ms(r.latency.p90_us))
                .flatten()
        },
        show: show_ms,
    },
    Metric {
        key: "latency_p99_ms",
        label: "Latency p99",
        section: "Latency",
        short: "p99",
        better: Better::Lower,
        terminal: true,
        value: |r| {
            (r.latency.count > 0)
                .then(|| ms(r.latency.p99_us))
                .flatten()
        },
        show: show_ms,
    },
    Metric {
        key: "latency_p999_ms",
        label: "Latency p99.9",
        section: "Latency",
        short: "p99.9",
        better: Better::Lower,
        terminal: true,
        value: |r| {
            (r.latency.count > 0)
                .then(|| ms(r.latency.p999_us))
                .flatten()
        },
        show: show_ms,
    },
    Metric {
        key: "latency_max_ms",
        label: "Latency max",
        section: "Latency",
        short: "max",
        better: Better::Lower,
        terminal: false,
        value: |r| {
            (r.latency.count > 0)
                .then(|| ms(r.latency.max_us))
                .flatten()
        },
        show: show_ms,
    },
    Metric {
        key: "latency_mean_ms",
        label: "Latency mean",
        section: "Latency",
        short: "mean",
        better: Better::Lower,
        terminal: false,
        value: |r| (r.latency.count > 0).then_some(r.latency.mean_us / 1e3),
        show: show_ms,
    },
    Metric {
        key: "deliveries_per_sec",
        label: "Deliveries/s",
        section: "Traffic",
        short: "deliv/s",
        better: Better::Higher,
        terminal: true,
        value: |r| Some(r.rates.deliveries_per_sec),
        show: format::rate,
    },
    Metric {
        key: "requests_per_sec",
        label: "HTTP requests/s (subscribe)",
        section: "Traffic",
        short: "req/s",
        better: Better::Lower,
        terminal: true,
        value: |r| Some(r.rates.requests_per_sec),
        show: format::rate,
    },
    Metric {
        key: "empty_ratio",
        label: "Requests that returned nothing",
        section: "Traffic",
        short: "empty",
        better: Better::Lower,
        terminal: true,
        value: |r| (r.counts.requests > 0).then_some(r.rates.empty_ratio),
        show: format::percent,
    },
    Metric {
        key: "bytes_per_delivery",
        label: "Bytes on the wire per delivered message",
        section: "Bandwidth",
        short: "B/deliv",
        better: Better::Lower,
        terminal: true,
        value: |r| (r.wire_bytes.deliveries > 0).then_some(r.wire_bytes.bytes_per_delivery),
        show: format::bytes,
    },
    Metric {
        key: "overhead_ratio",
        label: "Wire bytes ÷ payload bytes",
        section: "Bandwidth",
        short: "overhead",
        better: Better::Lower,
        terminal: true,
        value: |r| (r.wire_bytes.payload_bytes > 0).then_some(r.wire_bytes.overhead_ratio),
        show: |v| format!("{}×", format::sig3(v)),
    },
    Metric {
        key: "lost",
        label: "Lost messages",
        section: "Coherence",
        short: "lost",
        better: Better::Lower,
        terminal: true,
        value: |r| Some(r.counts.lost as f64),
        show: show_count,
    },
    Metric {
        key: "duplicate",
        label: "Duplicates",
        section: "Coherence",
        short: "dup",
        better: Better::Lower,
        terminal: false,
        value: |r| Some(r.counts.duplicate as f64),
        show: show_count,
    },
    Metric {
        key: "reordered",
        label: "Reordered",
        section: "Coherence",
        short: "reord",
        better: Better::Lower,
        terminal: false,
        value: |r| Some(r.counts.reordered as f64),
        show: show_count,
    },
    Metric {
        key: "server_cpu_seconds_per_1k_deliveries",
        label: "Server CPU per 1,000 deliveries",
        section: "Cost",
        short: "srv CPU/1k",
        better: Better::Lower,
        terminal: true,
        value: server_cpu_per_1k,
        show: |v| format!("{} s", format::sig3(v)),
    },
    Metric {
        key: "server_cpu_percent",
        label: "Server CPU (100% = one core)",
        section: "Cost",
        short: "srv CPU",
        better: Better::Lower,
        terminal: false,
        value: |r| r.server.as_ref().map(|s| s.cpu_percent),
        show: |v| format!("{}%", format::sig3(v)),
    },
    Metric {
        key: "server_rss_per_connection_bytes",
        label: "Server RSS per connection",
        section: "Cost",
        short: "srv RSS/conn",
        better: Better::Lower,
        terminal: false,
        value: |r| r.server.as_ref().and_then(|s| s.rss_per_connection_bytes),
        show: format::bytes,
    },
    Metric {
        key: "loadgen_rss_per_client_bytes",
        label: "Load generator RSS per client",
        section: "Cost",
        short: "lg RSS/client",
        better: Better::Lower,
        terminal: false,
        value: |r| (r.clients > 0).then_some(r.loadgen.per_client_rss_bytes),
        show: format::bytes,
    },
    Metric {
        key: "loadgen_cpu_percent",
        label: "Load generator CPU (100% = one core)",
        section: "Cost",
        short: "lg CPU",
        better: Better::Neither,
        terminal: false,
        value: |r| Some(r.loadgen.cpu_percent),
        show: |v| format!("{}%", format::sig3(v)),
    },
];

/// The metric with this JSON key.
pub fn by_key(key: &str) -> Option<&'static Metric> {
    HEADLINE.iter().find(|m| m.key == key)
}

/// Index of the best value of a row, when the values differ (a row where all
/// transports tie highlights nothing), ties going to every equal value.
pub fn best(better: Better, values: &[Option<f64>]) -> Vec<bool> {
    let present: Vec<f64> = values.iter().flatten().copied().collect();
    let mut out = vec![false; values.len()];
    if present.len() < 2 {
        return out;
    }
    let (lo, hi) = present
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    // Differences below 0.5% are measurement noise, not a winner.
    if hi - lo <= hi.abs() * 0.005 {
        return out;
    }
    let target = match better {
        Better::Lower => lo,
        Better::Higher => hi,
        Better::Neither => return out,
    };
    for (slot, v) in out.iter_mut().zip(values) {
        *slot = v.is_some_and(|v| v == target);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn best_values() {
        assert_eq!(
            best(Better::Lower, &[Some(2.0), Some(1.0), None]),
            [false, true, false]
        );
        assert_eq!(best(Better::Higher, &[Some(2.0), Some(1.0)]), [true, false]);
        assert_eq!(best(Better::Lower, &[Some(1.0), Some(1.0)]), [false, false]);
        assert_eq!(
            best(Better::Neither, &[Some(1.0), Some(2.0)]),
            [false, false]
        );
        assert_eq!(
            best(Better::Lower, &[Some(0.0), Some(5.0), Some(0.0)]),
            [true, false, true]
        );
        let keys: Vec<&str> = HEADLINE.iter().map(|m| m.key).collect();
        let mut dedup = keys.clone();
        dedup.dedup();
        assert_eq!(keys, dedup);
        assert!(by_key("latency_p99_ms").is_some());
    }
}
