//! Findings across networks and about the emulated link: which transport a
//! network hurts most, how much latency a network adds against the round
//! trip it adds, the tail a lossy network gives a TCP stream, and whether
//! the link itself kept up (a run on a link that fell behind measures the
//! emulator, not the network).

use super::{info, name, value, warn};
use crate::Finding;
use crate::charts::same;
use crate::format::{self, duration_us};
use crate::merge::{Comparison, Entry, Group};
use crate::metric::{self, Kind};
use crate::network::{self, NetLine};
use protocol::Transport;
use protocol::results::{LinkDirection, LinkResult};

/// Mean lateness of the link's packets above which its timing, and so the
/// latencies measured across it, cannot be trusted: a few ms, more than any
/// preset's jitter-free timing error and a sizable share of a short RTT.
pub(crate) const LATE_US: f64 = 2_000.0;

/// A change within this share of the added round trip reads as "≈ the added RTT".
const ABOUT: f64 = 0.15;

/// Findings of a network line, most telling first.
pub(crate) fn network_findings(c: &Comparison, line: &NetLine) -> Vec<Finding> {
    let mut out = Vec::new();
    for &g in &line.groups {
        out.extend(spread_on(&c.groups[g]));
    }
    out.extend(rtt_shift(c, line));
    for &g in &line.groups {
        out.extend(head_of_line(c, line, g));
    }
    out
}

/// "On 3g, p99 latency of short polling at 1 s is 4.10× that of SSE (…)."
fn spread_on(g: &Group) -> Option<Finding> {
    let values: Vec<(&Entry, f64)> = g
        .entries
        .iter()
        .filter_map(|e| Some((e, value(e, &metric::LATENCY_P99)?)))
        .collect();
    let (lo, hi) = super::lowest_highest(&values, |v| v.1)?;
    let net = network::label(&g.scenario);
    if lo.1 <= 0.0 || hi.1 < lo.1 * 1.1 {
        return Some(info(format!(
            "On {net}, p99 latency is about the same for every transport ({}–{}).",
            duration_us(lo.1),
            duration_us(hi.1)
        )));
    }
    Some(info(format!(
        "On {net}, p99 latency of {} is {} that of {} ({} vs {}).",
        name(hi.0),
        format::factor(hi.1 / lo.1),
        name(lo.0),
        duration_us(hi.1),
        duration_us(lo.1)
    )))
}

/// From the first network (the shortest round trip) to each other one: how
/// each transport's median moved, against the round trip the network adds.
fn rtt_shift(c: &Comparison, line: &NetLine) -> Vec<Finding> {
    let Some((&first, rest)) = line.groups.split_first() else {
        return Vec::new();
    };
    let a = &c.groups[first];
    let mut out = Vec::new();
    for &gb in rest {
        let b = &c.groups[gb];
        let added = match (network::rtt_us(&a.scenario), network::rtt_us(&b.scenario)) {
            (Some(x), Some(y)) if y > x => Some(y - x),
            _ => None,
        };
        let mut moves = Vec::new();
        for ea in &a.entries {
            let Some(eb) = b.entries.iter().find(|e| same(e, ea)) else {
                continue;
            };
            let (Some(x), Some(y)) = (
                value(ea, &metric::LATENCY_P50),
                value(eb, &metric::LATENCY_P50),
            ) else {
                continue;
            };
            let d = y - x;
            let against = match added {
                Some(rtt) if ((d / rtt) - 1.0).abs() <= ABOUT => " (≈ the added RTT)".to_string(),
                Some(rtt) => format!(" ({} the added RTT)", format::factor(d / rtt)),
                None => String::new(),
            };
            moves.push(format!(
                "{} {}{against}",
                name(ea),
                Kind::Latency.show_delta(d)
            ));
        }
        if moves.is_empty() {
            continue;
        }
        let rtt = added.map_or(String::new(), |r| {
            format!(", which adds {} of round-trip time", duration_us(r))
        });
        out.push(info(format!(
            "From {} to {}{rtt}, p50 latency: {}.",
            network::label(&a.scenario),
            network::label(&b.scenario),
            moves.join("; ")
        )));
    }
    out
}

/// A lossy network's long tail on a push stream: one lost packet holds back
/// every message behind it until TCP retransmits it. Said only when the
/// tail is long (p99 ≥ 2× p50) and, if the line has the same network without
/// loss, clearly longer there than without.
fn head_of_line(c: &Comparison, line: &NetLine, gi: usize) -> Vec<Finding> {
    let g = &c.groups[gi];
    let Some(loss) = network::loss_percent(&g.scenario).filter(|l| *l > 0.0) else {
        return Vec::new();
    };
    // The same round trip without loss, when the line has it (lte for lossy-lte).
    let lossless = line.groups.iter().map(|&o| &c.groups[o]).find(|o| {
        network::loss_percent(&o.scenario) == Some(0.0)
            && network::rtt_us(&o.scenario) == network::rtt_us(&g.scenario)
    });
    let tail = |e: &Entry| {
        let (p50, p99) = (
            value(e, &metric::LATENCY_P50)?,
            value(e, &metric::LATENCY_P99)?,
        );
        (p50 > 0.0).then_some((p50, p99, p99 / p50))
    };
    let net = network::label(&g.scenario);
    g.entries
        .iter()
        .filter(|e| matches!(e.transport, Transport::Sse | Transport::Ws))
        .filter_map(|e| {
            let (p50, p99, ratio) = tail(e)?;
            if ratio < 2.0 {
                return None;
            }
            let base = lossless.and_then(|o| o.entries.iter().find(|x| same(x, e)).and_then(tail));
            if base.is_some_and(|b| b.2 * 1.5 > ratio) {
                return None;
            }
            let compared = match (lossless, base) {
                (Some(o), Some(b)) => format!(
                    "; on {}: {}",
                    network::label(&o.scenario),
                    format::factor(b.2)
                ),
                _ => String::new(),
            };
            Some(info(format!(
                "Under {net} ({}% loss per direction), {}'s p99 is {} its p50 ({} vs {}{compared}): \
                 a message in a lost packet waits for TCP to retransmit it, and holds back every \
                 message behind it on the stream (head-of-line blocking).",
                format::trimmed(loss),
                name(e),
                format::factor(ratio),
                duration_us(p99),
                duration_us(p50),
            )))
        })
        .collect()
}

/// How a link's timing or capacity undermines the numbers measured across it.
pub(crate) enum Trouble {
    /// Packets left late: the emulator fell behind (the text says by how much).
    Late(String),
    /// The queue behind a rate limit overflowed: the traffic exceeded the
    /// link's rate, so the run measured a congested link.
    Overflow(String),
}

/// What went wrong with a link; empty when it kept up.
pub(crate) fn link_trouble(l: &LinkResult) -> Vec<Trouble> {
    let mut out = Vec::new();
    for (dir, d) in [("downstream", &l.down), ("upstream", &l.up)] {
        if d.mean_lateness_us > LATE_US {
            out.push(Trouble::Late(format!(
                "its packets left {} after their due time on average ({dir})",
                duration_us(d.mean_lateness_us)
            )));
        }
    }
    let queue = l.down.dropped_queue + l.up.dropped_queue;
    if queue > 0 {
        out.push(Trouble::Overflow(format!(
            "{} packets were dropped because the queue behind its rate limit was full ({})",
            format::thousands(queue),
            per_direction(l, |d| d.dropped_queue)
        )));
    }
    out
}

fn per_direction(l: &LinkResult, f: fn(&LinkDirection) -> u64) -> String {
    format!(
        "{} down, {} up",
        format::thousands(f(&l.down)),
        format::thousands(f(&l.up))
    )
}

/// The link's own account of a scenario: trouble (per transport when each
/// ran on its own link, else for the scenario), then the drops it was asked
/// for (random loss) or that a middlebox or partition caused.
pub(crate) fn link_findings(g: &Group) -> Vec<Finding> {
    let Some(link) = &g.link else {
        return Vec::new();
    };
    let net = network::label(&g.scenario);
    let mut out = Vec::new();
    let own: Vec<(&Entry, &LinkResult)> = g
        .entries
        .iter()
        .filter_map(|e| Some((e, e.link.as_ref()?)))
        .collect();
    if own.len() == g.entries.len() {
        for (e, l) in own {
            out.extend(distrust(
                &net,
                &format!("during the run of {}", name(e)),
                link_trouble(l),
            ));
        }
    } else {
        out.extend(distrust(
            &net,
            "during this scenario's runs",
            link_trouble(link),
        ));
    }
    out.extend(drops(&net, link));
    out
}

/// One warning per kind of trouble: an emulator that fell behind adds its
/// own delay; a queue that overflowed means the traffic exceeded the rate.
fn distrust(net: &str, when: &str, trouble: Vec<Trouble>) -> Vec<Finding> {
    let (mut late, mut overflow) = (Vec::new(), Vec::new());
    for t in trouble {
        match t {
            Trouble::Late(why) => late.push(why),
            Trouble::Overflow(why) => overflow.push(why),
        }
    }
    let mut out = Vec::new();
    if !late.is_empty() {
        out.push(warn(format!(
            "On {net}, the emulated link did not keep up {when}: {}. Distrust these numbers: \
             they include the emulator's own delay, not only the network's.",
            late.join("; ")
        )));
    }
    if !overflow.is_empty() {
        out.push(warn(format!(
            "On {net}, the link's queue overflowed {when}: {}. The traffic exceeded the link's rate: \
             these numbers describe a congested link, distrust them as the transport's own.",
            overflow.join("; ")
        )));
    }
    out
}

/// Drops by random loss, middlebox and partition, as counted by the link.
fn drops(net: &str, l: &LinkResult) -> Vec<Finding> {
    let packets = l.down.packets + l.up.packets;
    let total = |f: fn(&LinkDirection) -> u64| f(&l.down) + f(&l.up);
    let mut out = Vec::new();
    let lost = total(|d| d.dropped_loss);
    if lost > 0 {
        out.push(info(format!(
            "On {net}, the link dropped {} packets at random ({} of the {} it handled; {}), as its loss setting asks.",
            format::thousands(lost),
            format::percent(lost as f64 / (packets + lost).max(1) as f64),
            format::thousands(packets + lost),
            per_direction(l, |d| d.dropped_loss)
        )));
    }
    let middlebox = total(|d| d.dropped_middlebox);
    if middlebox > 0 {
        out.push(warn(format!(
            "On {net}, the idle-timeout middlebox dropped {} packets of connections it had forgotten ({}): \
             a connection idle longer than its timeout was cut without notice.",
            format::thousands(middlebox),
            per_direction(l, |d| d.dropped_middlebox)
        )));
    }
    let partition = total(|d| d.dropped_partition);
    if partition > 0 {
        out.push(warn(format!(
            "On {net}, {} packets were dropped while the network was partitioned ({}).",
            format::thousands(partition),
            per_direction(l, |d| d.dropped_partition)
        )));
    }
    out
}

/// Whether the numbers of `e` in `g` came across a link that did not keep up.
pub(crate) fn suspect(g: &Group, e: &Entry) -> bool {
    e.link
        .as_ref()
        .or(g.link.as_ref())
        .is_some_and(|l| !link_trouble(l).is_empty())
}
