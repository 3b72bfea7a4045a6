//! Short plain-language findings computed from the numbers of a group (and of
//! a matrix): what a reader would otherwise work out from the table. Every
//! sentence is built from data; a finding whose data is missing is left out.
//!
//! - `network`: across networks, and the emulated link's own account.
//! - `radio`: what the traffic costs a phone's radio.
//! - `socketio`: what Socket.IO costs over a raw WebSocket.
//! - `webtransport`: what WebTransport changes against a WebSocket, and
//!   under loss.

mod network;
mod radio;
mod socketio;
mod webtransport;

pub(crate) use network::{network_findings, suspect};
pub(crate) use radio::radio_findings;

use crate::format::{self, duration_us};
use crate::matrix::Line;
use crate::merge::{Comparison, Entry, Group};
use crate::metric::{self, Metric};
use protocol::Transport;
use serde::Serialize;

/// How a finding should be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Tone {
    /// A fact about the comparison.
    Info,
    /// Something went as it should (no loss, theory agrees).
    Good,
    /// Something that limits the numbers (loss, errors, a busy load generator).
    Warn,
}

/// One observation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub tone: Tone,
    pub text: String,
}

fn info(text: String) -> Finding {
    Finding {
        tone: Tone::Info,
        text,
    }
}
fn good(text: String) -> Finding {
    Finding {
        tone: Tone::Good,
        text,
    }
}
fn warn(text: String) -> Finding {
    Finding {
        tone: Tone::Warn,
        text,
    }
}

/// The transport as a sentence names it, with its setting: "short polling at 1 s".
pub fn name(e: &Entry) -> String {
    match (e.transport, e.setting_secs) {
        (Transport::ShortPoll, Some(s)) => format!("short polling at {}", format::secs(s)),
        (Transport::ShortPoll, None) => "short polling".into(),
        (Transport::LongPoll, Some(s)) if e.label != "long-poll" => {
            format!("long polling (wait {})", format::secs(s))
        }
        (Transport::LongPoll, _) => "long polling".into(),
        (Transport::Sse, _) => "SSE".into(),
        (Transport::Ws, _) => "WebSocket".into(),
        (Transport::SocketIo, _) => "Socket.IO".into(),
        (Transport::SocketIoPolling, _) => "Socket.IO over polling".into(),
        (Transport::WebTransport, _) => "WebTransport".into(),
        (Transport::WebTransportDatagram, _) => "WebTransport datagrams".into(),
    }
}

/// The median over runs, as the headline table shows it.
fn value(e: &Entry, m: &Metric) -> Option<f64> {
    e.stat(m.value).map(|s| s.value)
}

/// Each figure of `e` against the WebSocket entry's, with the ratio: "p99
/// latency 1.2 ms against 1.0 ms (1.20× the WebSocket's)", or for a cost
/// "270 B on the wire per delivery against 244 B (…)".
fn against_websocket(e: &Entry, ws: &Entry, figures: &[(&Metric, &str)]) -> Vec<String> {
    figures
        .iter()
        .filter_map(|(m, what)| {
            let (a, b) = (value(e, m)?, value(ws, m)?);
            let ratio = if b > 0.0 {
                format!(" ({} the WebSocket's)", format::factor(a / b))
            } else {
                String::new()
            };
            let (a, b) = (m.kind.show(a), m.kind.show(b));
            Some(if m.kind == metric::Kind::Latency {
                format!("{what} {a} against {b}{ratio}")
            } else {
                format!("{a} {what} against {b}{ratio}")
            })
        })
        .collect()
}

/// Findings for one scenario, most telling first.
pub fn findings(g: &Group) -> Vec<Finding> {
    let mut out = crate::knee::findings(g);
    for e in &g.entries {
        out.extend(polling(g, e));
    }
    out.extend(extremes(g, &metric::LATENCY_P99, "p99 latency"));
    out.extend(bytes(g));
    out.extend(coherence(g));
    out.extend(webtransport::dropped_findings(g));
    out.extend(extremes(
        g,
        &metric::SERVER_CPU_PER_1K,
        "server CPU per 1,000 deliveries",
    ));
    out.extend(extremes(
        g,
        &metric::SERVER_RSS_PER_CONNECTION,
        "server memory per connection",
    ));
    out.extend(socketio::socketio_findings(g));
    out.extend(webtransport::webtransport_findings(g));
    out.extend(network::link_findings(g));
    for e in &g.entries {
        out.extend(trouble(e));
    }
    out.extend(loadgen_bound(g));
    out.extend(repeats(g));
    out
}

/// The cost of polling: latency against the theory, requests and their waste.
fn polling(g: &Group, e: &Entry) -> Option<Finding> {
    let mean_us = value(e, &metric::LATENCY_MEAN)?;
    let req = value(e, &metric::REQUESTS_PER_SEC)?;
    let empty = value(e, &metric::EMPTY_RATIO).unwrap_or(0.0);
    match e.transport {
        Transport::ShortPoll => {
            let mut text = format!(
                "{}: mean latency {}, {} of its {} requests/s returned nothing",
                capitalize(&name(e)),
                duration_us(mean_us),
                format::percent(empty),
                format::sig3(req)
            );
            let Some(interval) = e.setting_secs else {
                return Some(info(text + "."));
            };
            // docs/architecture.md: mean latency ≈ T/2, request rate ≈ clients/T.
            // Across an emulated network a message also takes a round trip:
            // up from its publisher, down in the answer to the poll.
            let rtt_us = crate::network::rtt_us(&g.scenario).unwrap_or(0.0);
            let theory_us = interval * 1e6 / 2.0 + rtt_us;
            let theory_req = g.scenario.clients as f64 / interval;
            let off = ((mean_us - theory_us) / theory_us)
                .abs()
                .max(((req - theory_req) / theory_req).abs());
            text += &format!(
                " (theory: interval ÷ 2{} = {}, clients ÷ interval = {}/s)",
                if rtt_us > 0.0 { " + RTT" } else { "" },
                duration_us(theory_us),
                format::sig3(theory_req)
            );
            let own_server = g.scenario.profile.as_deref().is_none_or(|p| p == "rtbench");
            Some(if off <= 0.15 {
                good(text + ": measurement agrees with theory.")
            } else if own_server {
                warn(format!(
                    "{text}: off by {}, check the load generator.",
                    format::percent(off)
                ))
            } else {
                warn(format!(
                    "{text}: off by {}. The theory assumes every poll returns everything new; \
                     a server that answers fewer messages per poll falls behind (check its lost count).",
                    format::percent(off)
                ))
            })
        }
        Transport::LongPoll | Transport::SocketIoPolling => {
            let deliveries = value(e, &metric::DELIVERIES_PER_SEC)?;
            let per_client = deliveries / g.scenario.clients.max(1) as f64;
            (per_client > 0.0).then(|| {
                info(format!(
                    "{}: mean latency {}, {} HTTP requests per message delivered ({} requests/s for {} deliveries/s), {} returned nothing.",
                    capitalize(&name(e)),
                    duration_us(mean_us),
                    format::sig3(req / deliveries),
                    format::sig3(req),
                    format::sig3(deliveries),
                    format::percent(empty)
                ))
            })
        }
        Transport::Sse
        | Transport::Ws
        | Transport::SocketIo
        | Transport::WebTransport
        | Transport::WebTransportDatagram => None,
    }
}

/// The entries with the lowest and the highest `key`, when there are two
/// or more to compare.
fn lowest_highest<T>(values: &[T], key: impl Fn(&T) -> f64) -> Option<(&T, &T)> {
    if values.len() < 2 {
        return None;
    }
    let lo = values.iter().min_by(|a, b| key(a).total_cmp(&key(b)))?;
    let hi = values.iter().max_by(|a, b| key(a).total_cmp(&key(b)))?;
    Some((lo, hi))
}

/// "Lowest X: A, v; highest: B, w (n× the lowest)."
fn extremes(g: &Group, m: &Metric, what: &str) -> Option<Finding> {
    let show = |v| m.kind.show(v);
    let values: Vec<(&Entry, f64)> = g
        .entries
        .iter()
        .filter_map(|e| Some((e, value(e, m)?)))
        .collect();
    let (lo, hi) = lowest_highest(&values, |v| v.1)?;
    if hi.1 <= lo.1 * 1.005 {
        return Some(info(format!(
            "{}: about the same for every transport ({}).",
            capitalize(what),
            show(lo.1)
        )));
    }
    let times = if lo.1 > 0.0 {
        format!(" ({} the lowest)", format::factor(hi.1 / lo.1))
    } else {
        String::new()
    };
    Some(info(format!(
        "Lowest {what}: {}, {}; highest: {}, {}{times}.",
        name(lo.0),
        show(lo.1),
        name(hi.0),
        show(hi.1)
    )))
}

fn bytes(g: &Group) -> Option<Finding> {
    let values: Vec<(&Entry, f64, f64)> = g
        .entries
        .iter()
        .filter_map(|e| {
            Some((
                e,
                value(e, &metric::BYTES_PER_DELIVERY)?,
                value(e, &metric::OVERHEAD_RATIO)?,
            ))
        })
        .collect();
    let (lo, hi) = lowest_highest(&values, |v| v.1)?;
    Some(info(format!(
        "Fewest bytes on the wire per delivered message: {}, {} ({} the {} payload); most: {}, {} ({}).",
        name(lo.0),
        format::bytes(lo.1),
        format::factor(lo.2),
        format::bytes(g.scenario.size_bytes as f64),
        name(hi.0),
        format::bytes(hi.1),
        format::factor(hi.2),
    )))
}

/// Loss, duplicates and reordering: all clean in one sentence, else per transport.
fn coherence(g: &Group) -> Vec<Finding> {
    let bad: Vec<&Entry> = g
        .entries
        .iter()
        .filter(|e| {
            let c = &e.merged.counts;
            c.lost + c.duplicate + c.reordered > 0
        })
        .collect();
    if bad.is_empty() {
        // Datagrams that dropped some by design (said on their own) did not
        // deliver every expected message.
        let (dropping, whole): (Vec<&Entry>, Vec<&Entry>) = g
            .entries
            .iter()
            .partition(|e| e.merged.counts.dropped_by_design > 0);
        let checked: u64 = whole.iter().map(|e| e.merged.counts.expected).sum();
        if checked == 0 {
            return Vec::new();
        }
        let who = if dropping.is_empty() {
            "Every transport".to_string()
        } else {
            let names: Vec<String> = dropping.into_iter().map(name).collect();
            format!("Every transport but {}", names.join(" and "))
        };
        return vec![good(format!(
            "{who} delivered every expected message exactly once and in order ({} deliveries checked).",
            format::thousands(checked)
        ))];
    }
    bad.into_iter()
        .map(|e| {
            let c = &e.merged.counts;
            warn(format!(
                "{}: {} of {} expected deliveries lost ({}), {} duplicates, {} reordered.",
                capitalize(&name(e)),
                format::thousands(c.lost),
                format::thousands(c.expected),
                format::percent(if c.expected > 0 {
                    c.lost as f64 / c.expected as f64
                } else {
                    0.0
                }),
                format::thousands(c.duplicate),
                format::thousands(c.reordered)
            ))
        })
        .collect()
}

/// Errors, reconnects, lagging, partial runs.
fn trouble(e: &Entry) -> Option<Finding> {
    let c = &e.merged.counts;
    let errors: u64 = c.errors.values().sum();
    let mut parts = Vec::new();
    if errors > 0 {
        let kinds: Vec<String> = c
            .errors
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(k, n)| format!("{k}: {}", format::thousands(*n)))
            .collect();
        parts.push(format!(
            "{} client errors ({})",
            format::thousands(errors),
            kinds.join(", ")
        ));
    }
    if c.publish_errors > 0 {
        parts.push(format!(
            "{} failed publishes",
            format::thousands(c.publish_errors)
        ));
    }
    if c.reconnects > 0 {
        parts.push(format!("{} reconnects", format::thousands(c.reconnects)));
    }
    if c.lagged > 0 {
        parts.push(format!(
            "{} subscribers dropped by the server for lagging",
            format::thousands(c.lagged)
        ));
    }
    if e.partial {
        parts.push("the run did not complete".into());
    }
    (!parts.is_empty()).then(|| warn(format!("{}: {}.", capitalize(&name(e)), parts.join(", "))))
}

/// The load generator shares the machine: when it was busier than the server,
/// the numbers may describe the load generator's limit.
fn loadgen_bound(g: &Group) -> Vec<Finding> {
    g.entries
        .iter()
        .filter_map(|e| {
            let lg = value(e, &metric::LOADGEN_CPU_PERCENT)?;
            let server = value(e, &metric::SERVER_CPU_PERCENT).unwrap_or(0.0);
            (lg >= 50.0 && lg > server).then(|| {
                warn(format!(
                    "{}: the load generator used {} CPU, more than the server ({}): the results may show the load generator's limit, not the server's.",
                    capitalize(&name(e)),
                    format::cpu_percent(lg),
                    format::cpu_percent(server)
                ))
            })
        })
        .collect()
}

fn repeats(g: &Group) -> Vec<Finding> {
    g.entries
        .iter()
        .filter(|e| e.runs.len() > 1)
        .filter_map(|e| {
            let s = e.stat(metric::LATENCY_P99.value)?;
            Some(info(format!(
                "{}: {} runs; p99 latency median {}, range {}–{}.",
                capitalize(&name(e)),
                e.runs.len(),
                duration_us(s.value),
                duration_us(s.min),
                duration_us(s.max)
            )))
        })
        .collect()
}

/// How p99 latency and bytes per message move along each matrix axis.
pub(crate) fn matrix_findings(c: &Comparison, lines: &[Line]) -> Vec<Finding> {
    let mut out = Vec::new();
    for line in lines {
        let (Some(&first), Some(&last)) = (line.groups.first(), line.groups.last()) else {
            continue;
        };
        let (a, b) = (&c.groups[first], &c.groups[last]);
        let (va, vb) = (line.axis.value(&a.scenario), line.axis.value(&b.scenario));
        for (metric, what) in [
            (&metric::LATENCY_P99, "p99 latency"),
            (&metric::BYTES_PER_DELIVERY, "bytes per message"),
        ] {
            let show = |v| metric.kind.show(v);
            let mut moves = Vec::new();
            for ea in &a.entries {
                let Some(eb) = b
                    .entries
                    .iter()
                    .find(|e| e.transport == ea.transport && e.setting_secs == ea.setting_secs)
                else {
                    continue;
                };
                let (Some(x), Some(y)) = (ea.stat(metric.value), eb.stat(metric.value)) else {
                    continue;
                };
                let change = if x.value > 0.0 {
                    format!(" ({})", format::factor(y.value / x.value))
                } else {
                    String::new()
                };
                moves.push(format!(
                    "{} {} → {}{change}",
                    name(ea),
                    show(x.value),
                    show(y.value)
                ));
            }
            if !moves.is_empty() {
                out.push(info(format!(
                    "From {} to {}, {what}: {}.",
                    line.axis.show(va),
                    line.axis.show(vb),
                    moves.join("; ")
                )));
            }
        }
    }
    out
}

pub(crate) fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}
