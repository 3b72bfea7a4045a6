//! Turning what was recorded into the result file's [`TransportResult`]:
//! histogram summaries, base64 V2 histograms, rates, wire bytes, costs.

use crate::coherence::Tally;
use protocol::results::{Rates, ServerCost, WireBytes};
use protocol::stats::ServerStats;

use protocol::hist::round2;
pub use protocol::hist::{decode as decode_histogram, encode as encode_histogram, summarize};

/// Bytes moved between two snapshots of `[sub up, sub down, pub up, pub down]`.
pub fn wire_bytes(from: [u64; 4], to: [u64; 4], payload_bytes: u64, deliveries: u64) -> WireBytes {
    let d = |i: usize| to[i].saturating_sub(from[i]);
    let (up, down) = (d(0), d(1));
    let per = |n: u64, by: u64| {
        if by == 0 {
            0.0
        } else {
            round2(n as f64 / by as f64)
        }
    };
    WireBytes {
        subscribe_up_bytes: up,
        subscribe_down_bytes: down,
        publish_up_bytes: d(2),
        publish_down_bytes: d(3),
        payload_bytes,
        deliveries,
        bytes_per_delivery: per(up + down, deliveries),
        down_bytes_per_delivery: per(down, deliveries),
        overhead_ratio: per(up + down, payload_bytes),
    }
}

/// Window rates over the planned window of `window_secs`: `deliveries`
/// are first receipts of messages published in the window (by intended send
/// time, delivered by the end of the drain), so short polling's rate does
/// not jump with how many polls fell inside the window; `requests` and
/// `published` are counted by the same clock's window.
pub fn rates(
    window_secs: f64,
    deliveries: u64,
    requests: u64,
    empty: u64,
    published: u64,
) -> Rates {
    let per_sec = |n: u64| {
        if window_secs > 0.0 {
            round2(n as f64 / window_secs)
        } else {
            0.0
        }
    };
    Rates {
        deliveries_per_sec: per_sec(deliveries),
        requests_per_sec: per_sec(requests),
        publishes_per_sec: per_sec(published),
        empty_ratio: if requests == 0 {
            0.0
        } else {
            (empty as f64 / requests as f64 * 1e4).round() / 1e4
        },
    }
}

/// Server cost from `/api/stats` snapshots: before ramp-up, at window start and end.
pub fn server_cost(
    label: &str,
    before_ramp: Option<&ServerStats>,
    start: Option<&ServerStats>,
    end: Option<&ServerStats>,
    window_secs: f64,
) -> Option<ServerCost> {
    let (start, end) = (start?, end?);
    let cpu = (end.cpu_seconds - start.cpu_seconds).max(0.0);
    let conns = end.labels.get(label).map_or(0, |l| l.connections);
    let deliveries = |s: &ServerStats| s.labels.get(label).map_or(0, |l| l.deliveries_total);
    let base_rss = before_ramp.map(|s| s.rss_bytes);
    Some(ServerCost {
        version: end.version.clone(),
        cpu_seconds: (cpu * 1000.0).round() / 1000.0,
        cpu_percent: if window_secs > 0.0 {
            round2(cpu / window_secs * 100.0)
        } else {
            0.0
        },
        rss_before_bytes: start.rss_bytes,
        rss_after_bytes: end.rss_bytes,
        rss_peak_bytes: start
            .rss_bytes
            .max(end.rss_bytes)
            .max(base_rss.unwrap_or(0)),
        connections: conns,
        rss_per_connection_bytes: match (base_rss, conns) {
            (Some(b), c) if c > 0 => {
                Some(round2(end.rss_bytes.saturating_sub(b) as f64 / c as f64))
            }
            _ => None,
        },
        deliveries: deliveries(end).saturating_sub(deliveries(start)),
        lagged: end.lagged_total.saturating_sub(start.lagged_total),
    })
}

/// Everything that makes a run "not as planned", for `RunResults`.
pub fn problems(tally: &Tally, publish_errors: u64, errors: u64) -> Vec<String> {
    let mut p = Vec::new();
    if tally.lost > 0 {
        p.push(format!("{} messages lost", tally.lost));
    }
    if publish_errors > 0 {
        p.push(format!("{publish_errors} publishes failed"));
    }
    if errors > 0 {
        p.push(format!("{errors} client errors"));
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_ratios() {
        let w = wire_bytes([0, 0, 0, 0], [100, 900, 50, 40], 500, 5);
        assert_eq!(w.bytes_per_delivery, 200.0);
        assert_eq!(w.down_bytes_per_delivery, 180.0);
        assert_eq!(w.overhead_ratio, 2.0);
        let r = rates(2.0, 10, 4, 1, 6);
        assert_eq!(
            (r.deliveries_per_sec, r.requests_per_sec, r.empty_ratio),
            (5.0, 2.0, 0.25)
        );
    }
}
