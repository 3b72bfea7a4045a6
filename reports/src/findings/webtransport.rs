//! What WebTransport (QUIC) changes against a WebSocket (TCP), the question
//! a team weighing it asks: latency, bytes, server CPU and memory, each
//! against the WebSocket entry of the same group; under an emulated lossy
//! network, the tail that head-of-line blocking gives a TCP stream against
//! datagrams that are never held back (and what datagrams drop instead).

use super::{capitalize, info, name, value};
use crate::Finding;
use crate::format::{self, duration_us};
use crate::merge::{Entry, Group};
use crate::metric::{self, Metric};
use crate::network;
use protocol::Transport;

/// The figures compared, as a sentence names them.
const FIGURES: [(&Metric, &str); 5] = [
    (&metric::LATENCY_P50, "p50 latency"),
    (&metric::LATENCY_P99, "p99 latency"),
    (&metric::BYTES_PER_DELIVERY, "on the wire per delivery"),
    (
        &metric::SERVER_CPU_PER_1K,
        "server CPU per 1,000 deliveries",
    ),
    (
        &metric::SERVER_RSS_PER_CONNECTION,
        "server memory per connection",
    ),
];

/// Tails within this share of each other read as "about the same".
const SAME_TAIL: f64 = 0.10;

fn ws(g: &Group) -> Option<&Entry> {
    g.entries.iter().find(|e| e.transport == Transport::Ws)
}

fn webtransport(g: &Group) -> impl Iterator<Item = &Entry> {
    g.entries.iter().filter(|e| e.transport.is_webtransport())
}

/// One sentence per WebTransport entry when the group also ran WebSockets,
/// then, on a lossy network, the tails compared.
pub(crate) fn webtransport_findings(g: &Group) -> Vec<Finding> {
    let Some(ws) = ws(g) else {
        return Vec::new();
    };
    let mut out: Vec<Finding> = webtransport(g).filter_map(|e| against(e, ws)).collect();
    if !out.is_empty() {
        out.extend(under_loss(g, ws));
    }
    out
}

fn against(wt: &Entry, ws: &Entry) -> Option<Finding> {
    let parts = super::against_websocket(wt, ws, &FIGURES);
    (!parts.is_empty()).then(|| {
        info(format!(
            "{} against WebSocket: {}.",
            capitalize(&name(wt)),
            parts.join("; ")
        ))
    })
}

/// Under random loss: each WebTransport mode's p99 against the TCP
/// streams' (WebSocket, SSE), why they differ, and the share of deliveries
/// datagrams dropped by design.
fn under_loss(g: &Group, ws: &Entry) -> Option<Finding> {
    let loss = network::loss_percent(&g.scenario).filter(|l| *l > 0.0)?;
    let ws_p99 = value(ws, &metric::LATENCY_P99).filter(|v| *v > 0.0)?;
    let sse = g
        .entries
        .iter()
        .find(|e| e.transport == Transport::Sse)
        .and_then(|e| value(e, &metric::LATENCY_P99));
    let mut ratios = Vec::new();
    let mut parts = Vec::new();
    for e in webtransport(g) {
        let Some(p99) = value(e, &metric::LATENCY_P99) else {
            continue;
        };
        ratios.push(p99 / ws_p99);
        let mut part = format!(
            "{} {} ({} the WebSocket's",
            name(e),
            duration_us(p99),
            format::factor(p99 / ws_p99)
        );
        if let Some(d) = dropped(e) {
            part += &format!("; {d}");
        }
        parts.push(part + ")");
    }
    if parts.is_empty() {
        return None;
    }
    let tcp = match sse {
        Some(s) => format!("WebSocket {}, SSE {}", duration_us(ws_p99), duration_us(s)),
        None => format!("WebSocket {}", duration_us(ws_p99)),
    };
    let verdict = if ratios.iter().all(|r| (r - 1.0).abs() <= SAME_TAIL) {
        " The tails are about the same here: what delays them is common to every \
         transport (such as the publish's own trip across the lossy link)."
    } else {
        ""
    };
    Some(info(format!(
        "Under {} ({}% loss per direction), p99 latency: {}; {tcp}. On TCP a lost packet \
         holds back every message behind it until it is retransmitted (head-of-line \
         blocking); WebTransport's stream is ordered too, but QUIC resends on its own loss \
         timer; a datagram is never held back: a lost one is gone, not resent.{verdict}",
        network::label(&g.scenario),
        format::trimmed(loss),
        parts.join("; "),
    )))
}

/// "8 of 600 expected deliveries (1.3%) dropped by design", for a transport
/// that drops on purpose and did.
fn dropped(e: &Entry) -> Option<String> {
    let c = &e.merged.counts;
    (e.transport.drops_by_design() && c.dropped_by_design > 0).then(|| {
        format!(
            "{} of {} expected deliveries ({}) dropped by design",
            format::thousands(c.dropped_by_design),
            format::thousands(c.expected),
            format::percent(c.dropped_by_design as f64 / c.expected.max(1) as f64)
        )
    })
}

/// What datagrams dropped, on any network: not loss (a reliable transport's
/// failure), but not every expected message either.
pub(crate) fn dropped_findings(g: &Group) -> Vec<Finding> {
    g.entries
        .iter()
        .filter_map(|e| {
            let d = dropped(e)?;
            Some(info(format!(
                "{}: {d}: a datagram lost in the network or dropped from a full send buffer is not resent.",
                capitalize(&name(e))
            )))
        })
        .collect()
}
