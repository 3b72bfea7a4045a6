//! The report's headline rows: which metrics of [`crate::metric`] the HTML
//! table, the terminal table and the JSON summary show, in what order, under
//! which label. The numbers, their units and their direction come from the
//! metric table, so a row reads like the metric does in thresholds, `compare`
//! and the findings.

use crate::metric::{self, Kind, Metric, Worse};
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
pub struct Row {
    pub metric: &'static Metric,
    /// Key in the JSON summary (snake_case, unit last).
    pub key: &'static str,
    /// Row label in the HTML table.
    pub label: &'static str,
    /// Column header in the terminal table (short).
    pub short: &'static str,
    /// Row group in the HTML table.
    pub section: &'static str,
    /// In the terminal table too (it has room for a dozen columns).
    pub terminal: bool,
    /// The best value is highlighted; false for context that is no property
    /// of the transport (the load generator's own CPU).
    pub highlight: bool,
    /// A terminal column only when some transport of the scenario measured
    /// it: figures that exist for some runs only (the radio's, across an
    /// emulated network) would otherwise add empty columns to every table.
    pub optional: bool,
}

impl Row {
    /// The value from one run in the metric's stored unit (`None`: not
    /// measured). Unlike [`Metric::of`] it does not ask whether the metric
    /// applies: the table shows the 0% empty polls of a push stream.
    pub fn value(&self, r: &TransportResult) -> Option<f64> {
        (self.metric.value)(r)
    }

    /// The value from one run in the unit of [`Row::key`]: the JSON summary
    /// has latencies in ms (`latency_p99_ms`), the metric table in µs.
    pub fn json_value(&self, r: &TransportResult) -> Option<f64> {
        let v = self.value(r)?;
        Some(if self.metric.kind == Kind::Latency {
            v / 1e3
        } else {
            v
        })
    }

    /// A value in the stored unit as it reads, unit included.
    pub fn show(&self, v: f64) -> String {
        self.metric.kind.show(v)
    }

    pub fn better(&self) -> Better {
        match (self.highlight, self.metric.worse) {
            (false, _) => Better::Neither,
            (true, Worse::Higher) => Better::Lower,
            (true, Worse::Lower) => Better::Higher,
        }
    }
}

/// A row shown in the HTML table and the JSON summary only.
const fn row(
    metric: &'static Metric,
    key: &'static str,
    section: &'static str,
    label: &'static str,
    short: &'static str,
) -> Row {
    Row {
        metric,
        key,
        label,
        short,
        section,
        terminal: false,
        highlight: true,
        optional: false,
    }
}

/// A radio row: in the terminal table when measured.
const fn radio(r: Row) -> Row {
    Row {
        terminal: true,
        optional: true,
        ..r
    }
}

/// The same row, in the terminal table too.
const fn terminal(r: Row) -> Row {
    Row {
        terminal: true,
        ..r
    }
}

/// Every headline row, in table order.
pub const HEADLINE: &[Row] = &[
    terminal(row(
        &metric::LATENCY_P50,
        "latency_p50_ms",
        "Latency",
        "Latency p50",
        "p50",
    )),
    row(
        &metric::LATENCY_P90,
        "latency_p90_ms",
        "Latency",
        "Latency p90",
        "p90",
    ),
    row(
        &metric::LATENCY_P95,
        "latency_p95_ms",
        "Latency",
        "Latency p95",
        "p95",
    ),
    terminal(row(
        &metric::LATENCY_P99,
        "latency_p99_ms",
        "Latency",
        "Latency p99",
        "p99",
    )),
    terminal(row(
        &metric::LATENCY_P999,
        "latency_p999_ms",
        "Latency",
        "Latency p99.9",
        "p99.9",
    )),
    row(
        &metric::LATENCY_MAX,
        "latency_max_ms",
        "Latency",
        "Latency max",
        "max",
    ),
    row(
        &metric::LATENCY_MEAN,
        "latency_mean_ms",
        "Latency",
        "Latency mean",
        "mean",
    ),
    terminal(row(
        &metric::DELIVERIES_PER_SEC,
        "deliveries_per_sec",
        "Traffic",
        "Deliveries/s",
        "deliv/s",
    )),
    terminal(row(
        &metric::REQUESTS_PER_SEC,
        "requests_per_sec",
        "Traffic",
        "HTTP requests/s (subscribe)",
        "req/s",
    )),
    terminal(row(
        &metric::EMPTY_RATIO,
        "empty_ratio",
        "Traffic",
        "Requests that returned nothing",
        "empty",
    )),
    terminal(row(
        &metric::BYTES_PER_DELIVERY,
        "bytes_per_delivery",
        "Bandwidth",
        "Bytes on the wire per delivered message",
        "B/deliv",
    )),
    terminal(row(
        &metric::OVERHEAD_RATIO,
        "overhead_ratio",
        "Bandwidth",
        "Wire bytes ÷ payload bytes",
        "overhead",
    )),
    terminal(row(
        &metric::LOSS,
        "lost",
        "Coherence",
        "Lost messages",
        "lost",
    )),
    row(
        &metric::DUPLICATE,
        "duplicate",
        "Coherence",
        "Duplicates",
        "dup",
    ),
    row(
        &metric::REORDERED,
        "reordered",
        "Coherence",
        "Reordered",
        "reord",
    ),
    terminal(row(
        &metric::SERVER_CPU_PER_1K,
        "server_cpu_seconds_per_1k_deliveries",
        "Cost",
        "Server CPU per 1,000 deliveries",
        "srv CPU/1k",
    )),
    row(
        &metric::SERVER_CPU_PERCENT,
        "server_cpu_percent",
        "Cost",
        "Server CPU (100% = one core)",
        "srv CPU",
    ),
    row(
        &metric::SERVER_RSS_PER_CONNECTION,
        "server_rss_per_connection_bytes",
        "Cost",
        "Server RSS per connection",
        "srv RSS/conn",
    ),
    row(
        &metric::LOADGEN_RSS_PER_CLIENT,
        "loadgen_rss_per_client_bytes",
        "Cost",
        "Load generator RSS per client",
        "lg RSS/client",
    ),
    Row {
        highlight: false,
        ..row(
            &metric::LOADGEN_CPU_PERCENT,
            "loadgen_cpu_percent",
            "Cost",
            "Load generator CPU (100% = one core)",
            "lg CPU",
        )
    },
    radio(row(
        &metric::RADIO_LTE_ON,
        "radio_lte_on_ratio",
        "Radio (one phone per client)",
        "LTE radio on",
        "LTE on",
    )),
    radio(row(
        &metric::RADIO_LTE_JOULES,
        "radio_lte_joules_per_client_hour",
        "Radio (one phone per client)",
        "LTE radio energy per client-hour",
        "LTE J/h",
    )),
    radio(row(
        &metric::RADIO_UMTS_ON,
        "radio_umts_on_ratio",
        "Radio (one phone per client)",
        "3G radio on",
        "3G on",
    )),
    radio(row(
        &metric::RADIO_UMTS_JOULES,
        "radio_umts_joules_per_client_hour",
        "Radio (one phone per client)",
        "3G radio energy per client-hour",
        "3G J/h",
    )),
];

/// The row with this JSON key.
pub fn by_key(key: &str) -> Option<&'static Row> {
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

    #[test]
    fn json_units_match_the_keys() {
        for r in HEADLINE {
            assert_eq!(
                r.key.ends_with("_ms"),
                r.metric.kind == Kind::Latency,
                "{}",
                r.key
            );
        }
    }
}
