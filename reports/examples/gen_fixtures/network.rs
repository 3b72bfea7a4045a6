//! The network set (`network/*.json`): one chat-like scenario on four
//! emulated networks, as `bench --matrix network=lan,lte,3g,lossy-lte` writes
//! it: one file per network with every transport, the link's counters and
//! the radio figures.
//!
//! The scenario is quiet on purpose, so the radio can go idle: 200 clients in
//! 20 rooms, one message per room every 40 s (0.5 msg/s in all), 120 s
//! measured. Each client is simulated on its own: its poll schedule or its
//! long-poll request cycle (a timed-out wait costs a round trip before the
//! next request is at the server), each packet crossing the link's one-way
//! delay, the fan-out of a message serialized at the link's down rate, and on
//! a lossy link a retransmission timeout for a lost packet, with everything
//! behind it on a stream held back (head-of-line blocking); on QUIC the loss
//! timer replaces TCP's, and a lost datagram is dropped by design. The radio figures
//! come from the emulator's own models (`netem::radio`), fed with the times
//! each client sent or received data, as the load generator feeds them.

mod figures;

pub(crate) use figures::cost as server_cost;

use crate::{Rng, encode, hist, message_json_bytes, summary, write};
use figures::{link_of, radio, server, sum_links};
use hdrhistogram::Histogram;
use protocol::Transport;
use protocol::results::*;
use std::collections::BTreeMap;
use std::path::Path;

const CLIENTS: u64 = 200;
const ROOMS: u64 = 20;
/// Messages per second over all rooms: one per room every 40 s.
const RATE: f64 = 0.5;
const SIZE: u64 = 100;
const RAMP: f64 = 2.0;
const WARMUP: f64 = 3.0;
const MEASURE: f64 = 120.0;
const DRAIN: f64 = 5.0;
const POLL: f64 = 1.0;
const WAIT: f64 = 30.0;
/// Linux's floor on TCP's retransmission timeout.
const MIN_RTO: f64 = 0.2;
/// TCP/IP headers per packet, for the link's byte counts.
const HEADERS: u64 = 52;
const SEED: u64 = 40;

/// One emulated network, as its preset in docs/network.md sets it.
struct Net {
    name: &'static str,
    rtt: f64,
    loss: f64,
    /// Bits per second.
    down: f64,
    up: f64,
    /// Mean lateness of the link's packets, µs (it kept up).
    late_us: f64,
}

const NETS: [Net; 4] = [
    Net {
        name: "lan",
        rtt: 0.0,
        loss: 0.0,
        down: 1e9,
        up: 1e9,
        late_us: 6.0,
    },
    Net {
        name: "lte",
        rtt: 0.060,
        loss: 0.0,
        down: 9e6,
        up: 1.5e6,
        late_us: 21.0,
    },
    Net {
        name: "3g",
        rtt: 0.300,
        loss: 0.0,
        down: 1.6e6,
        up: 768e3,
        late_us: 24.0,
    },
    Net {
        name: "lossy-lte",
        rtt: 0.060,
        loss: 0.01,
        down: 9e6,
        up: 1.5e6,
        late_us: 23.0,
    },
];

impl Net {
    /// Extra time a packet takes when it is lost: TCP resends it after its
    /// retransmission timeout (at least 200 ms, about 2 RTT here).
    fn lost(&self, rng: &mut Rng) -> f64 {
        if rng.unit() < self.loss {
            MIN_RTO.max(2.0 * self.rtt)
        } else {
            0.0
        }
    }
    /// The same on QUIC: a quiet session notices the loss when its probe
    /// timeout fires (RFC 9002: about the smoothed RTT plus variance plus
    /// the peer's 25 ms ACK delay), with no 200 ms floor.
    fn lost_quic(&self, rng: &mut Rng) -> f64 {
        if rng.unit() < self.loss {
            1.5 * self.rtt + 0.025
        } else {
            0.0
        }
    }
    /// Whether a packet is dropped (a datagram's is never resent).
    fn drops(&self, rng: &mut Rng) -> bool {
        rng.unit() < self.loss
    }
    fn down_delay(&self, bytes: u64, queued: u64) -> f64 {
        self.rtt / 2.0 + (queued + 1) as f64 * (bytes + HEADERS) as f64 * 8.0 / self.down
    }
    fn up_delay(&self, bytes: u64) -> f64 {
        self.rtt / 2.0 + (bytes + HEADERS) as f64 * 8.0 / self.up
    }
}

fn window() -> (f64, f64) {
    (RAMP + WARMUP, RAMP + WARMUP + MEASURE)
}

fn end() -> f64 {
    window().1 + DRAIN
}

/// A message: intended send time, room, when the server had it.
struct Msg {
    sent: f64,
    room: u64,
    accept: f64,
}

fn schedule(net: &Net, rng: &mut Rng) -> Vec<Msg> {
    let mut out = Vec::new();
    let mut sent = RAMP + 0.5;
    let mut i = 0;
    while sent < window().1 {
        let publish = message_json_bytes(SIZE) + 175;
        let accept = sent + net.up_delay(publish) + net.lost(rng) + 0.000_35 + rng.exp(0.000_1);
        out.push(Msg {
            sent,
            room: i % ROOMS,
            accept,
        });
        i += 1;
        sent += 1.0 / RATE;
    }
    out
}

/// What one transport's clients did: the receipts, the requests and the
/// bytes by time, and each client's activity for the radio.
#[derive(Default)]
struct Traffic {
    /// (intended send, receive) of every first receipt.
    receipts: Vec<(f64, f64)>,
    /// (time, answered with nothing) of every subscribe request's answer.
    requests: Vec<(f64, bool)>,
    /// (time, up bytes, down bytes) at the socket.
    bytes: Vec<(f64, u64, u64)>,
    /// Per client: when it sent or received anything.
    activity: Vec<Vec<f64>>,
}

fn json() -> u64 {
    message_json_bytes(SIZE)
}

/// One client on a push stream: each message leaves the server after its
/// fan-out position, crosses the link, and waits behind a lost one. A
/// WebTransport stream does so on QUIC (its own loss timer, no TCP floor);
/// a datagram waits for nothing, and a lost one is gone.
fn push(t: Transport, net: &Net, msgs: &[Msg], rng: &mut Rng, out: &mut Traffic) {
    // Frame bytes besides the JSON: SSE's `data:` and blank line, a
    // WebSocket's header; on QUIC a short header, a STREAM or DATAGRAM
    // frame and the AEAD tag.
    let (frame, base, per) = match t {
        Transport::Sse => (json() + 23, 60e-6, 16e-6),
        Transport::WebTransport => (json() + 30, 60e-6, 15e-6),
        Transport::WebTransportDatagram => (json() + 28, 55e-6, 14e-6),
        _ => (json() + 4, 40e-6, 12e-6),
    };
    for c in 0..CLIENTS {
        let (room, k) = (c % ROOMS, c / ROOMS);
        let mut free = 0.0f64;
        let mut act = Vec::new();
        for m in msgs.iter().filter(|m| m.room == room) {
            let ready = m.accept + base + k as f64 * per + rng.exp(per * 5.0);
            let arrive = ready + net.down_delay(frame, k);
            let recv = match t {
                Transport::WebTransportDatagram if net.drops(rng) => continue,
                Transport::WebTransportDatagram => arrive,
                Transport::WebTransport => (arrive + net.lost_quic(rng)).max(free),
                _ => (arrive + net.lost(rng)).max(free),
            };
            free = recv;
            out.receipts.push((m.sent, recv));
            out.bytes.push((recv, 0, frame));
            act.push(recv);
        }
        out.activity.push(act);
    }
}

/// One client's long-poll cycle: a request waits at the server for a
/// message or for `WAIT`; after an answer the next request is a round trip
/// away, and a message that comes meanwhile waits for it.
fn long_poll(net: &Net, msgs: &[Msg], rng: &mut Rng, out: &mut Traffic) {
    const UP: u64 = 100;
    const HEAD: u64 = 162;
    fn answer(out: &mut Traffic, act: &mut Vec<f64>, at: f64, body: u64, empty: bool) {
        out.requests.push((at, empty));
        out.bytes.push((at, UP, HEAD + body));
        act.push(at);
    }
    for c in 0..CLIENTS {
        let (room, k) = (c % ROOMS, c / ROOMS);
        let mut act = vec![rng.unit() * RAMP];
        let mut at_server = act[0] + net.up_delay(UP);
        for m in msgs.iter().filter(|m| m.room == room) {
            while at_server + WAIT < m.accept {
                let back = at_server + WAIT + net.down_delay(HEAD, 0);
                answer(out, &mut act, back, 2, true);
                at_server = back + net.up_delay(UP) + net.lost(rng);
            }
            let serve = m.accept.max(at_server) + 700e-6 + k as f64 * 9e-6 + rng.exp(350e-6);
            let recv = serve + net.down_delay(HEAD + json(), k) + net.lost(rng);
            out.receipts.push((m.sent, recv));
            answer(out, &mut act, recv, json() + 2, false);
            at_server = recv + net.up_delay(UP) + net.lost(rng);
        }
        while at_server + WAIT < end() {
            let back = at_server + WAIT + net.down_delay(HEAD, 0);
            answer(out, &mut act, back, 2, true);
            at_server = back + net.up_delay(UP);
        }
        act.sort_by(f64::total_cmp);
        out.activity.push(act);
    }
}

/// One client polling every `POLL` from a random phase: a poll answers
/// every message the server had when the request got there.
fn short_poll(net: &Net, msgs: &[Msg], rng: &mut Rng, out: &mut Traffic) {
    let (up, head) = (92u64, 128u64);
    for c in 0..CLIENTS {
        let room = c % ROOMS;
        let mine: Vec<&Msg> = msgs.iter().filter(|m| m.room == room).collect();
        let mut next = 0;
        let mut act = Vec::new();
        let mut poll = RAMP * rng.unit();
        while poll < end() {
            let at_server = poll + net.up_delay(up) + net.lost(rng);
            let mut body = 2;
            let start = next;
            while next < mine.len() && mine[next].accept <= at_server {
                next += 1;
            }
            let answered = &mine[start..next];
            if !answered.is_empty() {
                body = 34 + answered.len() as u64 * (json() + 1);
            }
            let recv = at_server
                + 500e-6
                + rng.exp(250e-6)
                + net.down_delay(head + body, 0)
                + net.lost(rng);
            for m in answered {
                out.receipts.push((m.sent, recv));
            }
            out.requests.push((recv, answered.is_empty()));
            out.bytes.push((recv, up, head + body));
            act.extend([poll, recv]);
            poll += POLL;
        }
        out.activity.push(act);
    }
}

fn simulate(t: Transport, net: &Net, seed: u64) -> Traffic {
    let mut rng = Rng(seed ^ (t.index() as u64 + 1).wrapping_mul(0x9E37_79B9));
    let msgs = schedule(net, &mut Rng(seed));
    let mut out = Traffic::default();
    match t {
        Transport::ShortPoll => short_poll(net, &msgs, &mut rng, &mut out),
        Transport::LongPoll | Transport::SocketIoPolling => {
            long_poll(net, &msgs, &mut rng, &mut out)
        }
        Transport::Sse
        | Transport::Ws
        | Transport::SocketIo
        | Transport::WebTransport
        | Transport::WebTransportDatagram => push(t, net, &msgs, &mut rng, &mut out),
    }
    out
}

fn round(v: f64, decimals: i32) -> f64 {
    let p = 10f64.powi(decimals);
    (v * p).round() / p
}

fn in_window(t: f64) -> bool {
    let (a, b) = window();
    t >= a && t < b
}

fn wire(up: u64, down: u64, deliveries: u64) -> WireBytes {
    let per = |n: u64, by: u64| {
        if by == 0 {
            0.0
        } else {
            round(n as f64 / by as f64, 2)
        }
    };
    WireBytes {
        subscribe_up_bytes: up,
        subscribe_down_bytes: down,
        publish_up_bytes: 0,
        publish_down_bytes: 0,
        payload_bytes: deliveries * SIZE,
        deliveries,
        bytes_per_delivery: per(up + down, deliveries),
        down_bytes_per_delivery: per(down, deliveries),
        overhead_ratio: per(up + down, deliveries * SIZE),
    }
}

/// One sample per second of the run.
fn series(tr: &Traffic) -> Vec<SecondSample> {
    let seconds = end().ceil() as u64;
    let mut out: Vec<SecondSample> = (1..=seconds)
        .map(|s| SecondSample {
            t_secs: s,
            phase: Some(match s as f64 {
                x if x <= RAMP => Phase::RampUp,
                x if x <= RAMP + WARMUP => Phase::Warmup,
                x if x <= window().1 => Phase::Measure,
                _ => Phase::Drain,
            }),
            connected: if s as f64 <= RAMP {
                CLIENTS / 2
            } else {
                CLIENTS
            },
            ..Default::default()
        })
        .collect();
    let last = out.len() - 1;
    let at = |t: f64| (t.floor() as usize).min(last);
    let mut hists: BTreeMap<usize, Histogram<u64>> = BTreeMap::new();
    for &(sent, recv) in &tr.receipts {
        out[at(recv)].deliveries += 1;
        let us = ((recv - sent) * 1e6) as u64;
        hists
            .entry(at(recv))
            .or_insert_with(hist)
            .record(us.max(1))
            .ok();
    }
    for &(t, empty) in &tr.requests {
        out[at(t)].requests += 1;
        out[at(t)].empty += u64::from(empty);
    }
    for &(t, up, down) in &tr.bytes {
        out[at(t)].up_bytes += up;
        out[at(t)].down_bytes += down;
    }
    for (i, h) in hists {
        out[i].p50_us = Some(h.value_at_quantile(0.5));
        out[i].p99_us = Some(h.value_at_quantile(0.99));
    }
    out
}

/// The result of one transport on one network.
fn result(t: Transport, net: &Net, seed: u64) -> TransportResult {
    let tr = simulate(t, net, seed);
    let mut latency = hist();
    for &(sent, recv) in tr.receipts.iter().filter(|r| in_window(r.0)) {
        latency.record(((recv - sent) * 1e6).max(1.0) as u64).ok();
    }
    let delivered = latency.len();
    let requests = tr.requests.iter().filter(|r| in_window(r.0)).count() as u64;
    let empty = tr.requests.iter().filter(|r| in_window(r.0) && r.1).count() as u64;
    let sum = |f: fn(&(f64, u64, u64)) -> u64, all: bool| -> u64 {
        tr.bytes
            .iter()
            .filter(|b| all || in_window(b.0))
            .map(f)
            .sum()
    };
    let received = tr.receipts.iter().filter(|r| in_window(r.1)).count() as u64;
    let published = (MEASURE * RATE) as u64;
    let rates = Rates {
        deliveries_per_sec: round(received as f64 / MEASURE, 2),
        requests_per_sec: round(requests as f64 / MEASURE, 2),
        publishes_per_sec: RATE,
        empty_ratio: if requests == 0 {
            0.0
        } else {
            round(empty as f64 / requests as f64, 4)
        },
    };
    let mut r = base_result(t, net, published, delivered);
    r.latency = summary(&latency);
    r.latency_histogram = encode(&latency);
    r.rates = rates;
    r.counts.requests = requests;
    r.counts.empty_responses = empty;
    r.wire_bytes = wire(sum(|b| b.1, false), sum(|b| b.2, false), received);
    r.wire_bytes_total = wire(
        sum(|b| b.1, true),
        sum(|b| b.2, true),
        tr.receipts.len() as u64,
    );
    r.series = series(&tr);
    r.server = Some(server(t, requests, delivered));
    r.radio = Some(radio(&tr.activity));
    r
}

/// Everything but the traffic: publish and connect times, counts, costs.
fn base_result(t: Transport, net: &Net, published: u64, delivered: u64) -> TransportResult {
    let mut rng = Rng(t.index() as u64 + 77);
    let (mut publish, mut connect) = (hist(), hist());
    for _ in 0..published {
        let us = (net.rtt + 350e-6 + rng.exp(180e-6)) * 1e6;
        publish.record(us as u64).ok();
    }
    let trips = if t.is_push() { 2.0 } else { 1.0 };
    for _ in 0..CLIENTS {
        connect
            .record(((trips * net.rtt + 420e-6 + rng.exp(150e-6)) * 1e6) as u64)
            .ok();
    }
    let expected = published * CLIENTS / ROOMS;
    let lg_cpu = round(0.05 + delivered as f64 * 11e-6, 3);
    TransportResult {
        transport: t,
        clients: CLIENTS,
        window_secs: MEASURE,
        latency: LatencySummary::default(),
        latency_histogram: String::new(),
        publish_latency: summary(&publish),
        publish_latency_histogram: encode(&publish),
        connect_time: summary(&connect),
        connect_time_histogram: encode(&connect),
        rates: Rates::default(),
        counts: if t.drops_by_design() {
            Counts {
                published,
                expected,
                delivered,
                dropped_by_design: expected.saturating_sub(delivered),
                ..Default::default()
            }
        } else {
            Counts {
                published,
                expected,
                delivered,
                lost: expected.saturating_sub(delivered),
                ..Default::default()
            }
        },
        wire_bytes: WireBytes::default(),
        wire_bytes_total: WireBytes::default(),
        series: Vec::new(),
        server: None,
        loadgen: LoadgenCost {
            cpu_seconds: lg_cpu,
            cpu_percent: round(lg_cpu / MEASURE * 100.0, 2),
            rss_baseline_bytes: 7_400_000,
            rss_bytes: 7_400_000 + 11_000 * CLIENTS,
            rss_peak_bytes: 7_500_000 + 11_000 * CLIENTS,
            per_client_rss_bytes: 11_000.0,
        },
        targets: Vec::new(),
        worker: None,
        radio: None,
        stages: Vec::new(),
    }
}

fn file(net: &Net, index: u64) -> ResultFile {
    let (_, created) = crate::stamp(7 * 3600, index * 600);
    let mut rng = Rng(index + 900);
    let transports: Vec<TransportResult> = Transport::ALL
        .into_iter()
        // One seed for every network, as a matrix run keeps it: the same
        // publishes and poll phases, so what differs is the network.
        .map(|t| result(t, net, SEED))
        .collect();
    let link = transports
        .iter()
        .map(|r| link_of(r, net, &mut rng))
        .reduce(sum_links);
    ResultFile {
        schema_version: SCHEMA_VERSION,
        rtbench_version: "0.1.0".into(),
        created: created.into(),
        target: "http://198.18.0.2:8080".into(),
        target_addrs: Vec::new(),
        scenario: scenario(net),
        machine: Machine {
            cores: 2,
            os: "linux (Debian GNU/Linux 13 (trixie))".into(),
            kernel: "6.12.57+deb13-cloud-amd64".into(),
            hostname: "bench-1".into(),
            cpu_model: Some("AMD EPYC 7B13".into()),
        },
        transports,
        partial: false,
        warnings: vec![],
        link,
    }
}

fn scenario(net: &Net) -> Scenario {
    Scenario {
        scenario_file: Some("scenarios/network.toml".into()),
        clients: CLIENTS,
        rooms: ROOMS,
        publishers: ROOMS,
        rate_per_sec: RATE,
        arrival: Arrival::Constant,
        size_bytes: SIZE,
        duration_secs: MEASURE,
        ramp_up_per_sec: CLIENTS as f64 / RAMP,
        warmup_secs: WARMUP,
        drain_secs: DRAIN,
        poll_interval_secs: Some(POLL),
        long_poll_wait_secs: Some(WAIT),
        publish_via: PublishVia::Http,
        seed: SEED,
        source_ips: vec![],
        profile: None,
        network: Some(net.name.into()),
        publishers_at: None,
        stages: None,
    }
}

/// Writes `network/NAME.json` for each network.
pub(crate) fn write_set(dir: &Path) {
    for (i, net) in NETS.iter().enumerate() {
        write(
            dir,
            &format!("network/{}.json", net.name),
            &file(net, i as u64),
        );
    }
}
