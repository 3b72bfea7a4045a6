//! The figures besides the traffic: the radio models fed with each
//! client's activity, the server's cost, and the link's counters.

use super::{CLIENTS, HEADERS, MEASURE, Net, round, window};
use crate::Rng;
use netem::radio::{RadioAccumulator, RadioModel, RadioUsage};
use protocol::Transport;
use protocol::results::*;
use std::time::Duration;

/// Radio figures of every client, averaged: the window's share of the run,
/// as the difference of the model fed up to the window's end and up to its start.
pub(super) fn radio(activity: &[Vec<f64>]) -> RadioResult {
    let (from, to) = window();
    let usage = |model: fn() -> RadioModel, until: f64, times: &[f64]| -> RadioUsage {
        let mut acc = RadioAccumulator::new(model());
        for &t in times.iter().filter(|&&t| t < until) {
            acc.on_activity(Duration::from_secs_f64(t));
        }
        acc.finish(Duration::from_secs_f64(until))
    };
    let figures = |model: fn() -> RadioModel| {
        let (mut on, mut joules, mut promotions) = (0.0, 0.0, 0.0);
        for times in activity {
            let (all, before) = (usage(model, to, times), usage(model, from, times));
            on += all.radio_on_secs - before.radio_on_secs;
            joules += all.energy_joules - before.energy_joules;
            promotions += (all.promotions - before.promotions) as f64;
        }
        let per_client_hour = |v: f64| round(v / activity.len() as f64 / MEASURE * 3600.0, 1);
        RadioFigures {
            radio_on_fraction: round(on / activity.len() as f64 / MEASURE, 4).min(1.0),
            joules_per_client_hour: per_client_hour(joules),
            promotions_per_client_hour: per_client_hour(promotions),
        }
    };
    RadioResult {
        lte: figures(RadioModel::lte),
        umts: figures(RadioModel::umts),
    }
}

/// Server CPU seconds per request and per delivery, and RSS bytes per connection.
pub(crate) fn cost(t: Transport) -> (f64, f64, f64) {
    match t {
        Transport::ShortPoll => (90e-6, 4e-6, 8_950.0),
        Transport::LongPoll => (48e-6, 6e-6, 10_400.0),
        Transport::Sse => (0.0, 9.5e-6, 9_300.0),
        Transport::Ws => (0.0, 8.2e-6, 6_150.0),
        Transport::SocketIo => (0.0, 9.0e-6, 7_400.0),
        Transport::SocketIoPolling => (52e-6, 6.5e-6, 11_000.0),
        Transport::WebTransport => (0.0, 14e-6, 22_000.0),
        Transport::WebTransportDatagram => (0.0, 13e-6, 22_000.0),
    }
}

pub(super) fn server(t: Transport, requests: u64, delivered: u64) -> ServerCost {
    let (per_req, per_delivery, per_conn) = cost(t);
    let cpu = round(
        requests as f64 * per_req + delivered as f64 * per_delivery,
        3,
    );
    let after = 9_800_000 + (per_conn * CLIENTS as f64) as u64;
    ServerCost {
        version: "0.1.0".into(),
        cpu_seconds: cpu,
        cpu_percent: round(cpu / MEASURE * 100.0, 2),
        rss_before_bytes: 9_800_000,
        rss_after_bytes: after,
        rss_peak_bytes: after + 120_000,
        connections: CLIENTS,
        rss_per_connection_bytes: Some(per_conn),
        deliveries: delivered,
        lagged: 0,
    }
}

/// The link's counters of one transport's run: a packet per message,
/// request and answer, an ACK for every other packet the other way, the
/// loss the spec asks for, and timing that kept up.
pub(super) fn link_of(r: &TransportResult, net: &Net, rng: &mut Rng) -> LinkResult {
    let w = &r.wire_bytes_total;
    let down_msgs = w.deliveries.max(r.counts.requests);
    let up_msgs = r.counts.requests + r.counts.published;
    let direction = |data: u64, acks: u64, bytes: u64, rng: &mut Rng| {
        let packets = data + acks;
        LinkDirection {
            packets,
            bytes: bytes + packets * HEADERS,
            dropped_loss: (packets as f64 * net.loss).round() as u64,
            mean_lateness_us: round(net.late_us * (0.9 + 0.2 * rng.unit()), 1),
            ..Default::default()
        }
    };
    let down = direction(
        down_msgs,
        up_msgs / 2,
        w.subscribe_down_bytes + w.publish_down_bytes,
        rng,
    );
    let up = direction(
        up_msgs,
        down_msgs / 2,
        w.subscribe_up_bytes + w.publish_up_bytes,
        rng,
    );
    LinkResult {
        cpu_seconds: round((down.packets + up.packets) as f64 * 6e-6, 3),
        down,
        up,
    }
}

/// Two runs' link counters added up (a bench file holds every transport).
pub(super) fn sum_links(mut a: LinkResult, b: LinkResult) -> LinkResult {
    for (x, y) in [(&mut a.down, &b.down), (&mut a.up, &b.up)] {
        let packets = x.packets + y.packets;
        x.mean_lateness_us = round(
            (x.mean_lateness_us * x.packets as f64 + y.mean_lateness_us * y.packets as f64)
                / packets.max(1) as f64,
            1,
        );
        x.packets = packets;
        x.bytes += y.bytes;
        x.dropped_loss += y.dropped_loss;
    }
    a.cpu_seconds = round(a.cpu_seconds + b.cpu_seconds, 3);
    a
}
