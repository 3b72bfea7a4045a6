//! Writes the committed test fixtures of `reports/tests/fixtures/`: small but
//! realistic result files, made by simulating every transport (message
//! schedule, per-client poll phases, fan-out order, service times) and
//! recording real HdrHistograms, so that the report is tested on data shaped
//! like a real run's.
//!
//! ```text
//! cargo run -p rtbench-reports --example gen_fixtures -- reports/tests/fixtures
//! ```
//!
//! The output is deterministic (fixed seeds, fixed timestamps): rerunning it
//! changes no file unless this program changes.
//!
//! Written:
//! - `short-poll.json`, `long-poll.json`, `sse.json`, `ws.json`, `socketio.json`,
//!   `socketio-polling.json`, `webtransport.json`, `webtransport-datagram.json`: one transport
//!   each, one scenario (100 clients, one room, 10 msg/s Poisson, 100 B, 10 s),
//!   as one `rtbench load` run per transport would write them.
//! - `more/ws-repeat.json`: the WebSocket run again, a minute later (another seed).
//! - `more/ws-worker-b.json`: a second load worker on another host that ran at
//!   the same time as `ws.json` (concurrent: clients and rates add up).
//! - `matrix/*.json`: three scenarios as `bench` writes them (all transports
//!   in one file): 100 and 200 clients at 10 msg/s, and 100 clients at 1 msg/s.
//! - `network/*.json`: one scenario on four emulated networks as
//!   `bench --matrix network=lan,lte,3g,lossy-lte` writes it (one file per
//!   network, every transport in it, the link's counters and the radio
//!   figures filled in): see `network.rs`.
//!
//! With `compare` first, it writes the sets of `rtbench compare`'s tests
//! instead (`-- compare reports/tests/fixtures/compare`): SSE and WebSocket
//! runs as `bench --repeat 3` names them (`ws-r1.json` …), one directory per
//! set. All runs share one scenario and one publish schedule (a CI scenario
//! fixes its seed); they differ in per-delivery noise and in a per-run
//! slowness factor, the machine's run-to-run spread (±4%):
//! - `baseline/`: 3 repeats.
//! - `same/`: 3 more repeats of the same build (no change).
//! - `regressed/`: WebSocket latency ×1.4 in every repeat (SSE unchanged).
//! - `improved/`: WebSocket latency ×0.7.
//! - `noisy/`: WebSocket repeats at ×0.99, ×1.35, ×1.45: the median is 35%
//!   worse, but the best repeat is as good as the baseline.
//! - `other-scenario/`: 200 clients instead of 100, one run each.
//! - `lossy/`: one WebSocket run that lost 3 messages.

mod compare;
mod network;

use compare::compare_sets;
use hdrhistogram::Histogram;
use protocol::Transport;
use protocol::results::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Deterministic generator (splitmix64): fixtures must not change between runs.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn exp(&mut self, mean: f64) -> f64 {
        -mean * (1.0 - self.unit()).ln()
    }
}

#[derive(Clone)]
struct Setup {
    clients: u64,
    rate: f64,
    size: u64,
    seed: u64,
    created: &'static str,
    created_secs: u64,
    hostname: &'static str,
    file: Option<&'static str>,
    /// Seed of the per-delivery noise; the publish schedule follows `seed`.
    noise_seed: u64,
    /// Run-level slowness: every latency is multiplied by it.
    slow: f64,
    /// Deliveries to drop (client 0's first ones in the window).
    lost: u64,
}

const RAMP: u64 = 1;
const WARMUP: u64 = 2;
const MEASURE: u64 = 10;
const DRAIN: u64 = 3;
const POLL_SECS: f64 = 1.0;
const LONG_POLL_WAIT: f64 = 30.0;

fn hist() -> Histogram<u64> {
    let mut h = Histogram::new(3).expect("3 significant digits");
    h.auto(true);
    h
}

fn encode(h: &Histogram<u64>) -> String {
    protocol::hist::encode(h)
}

fn summary(h: &Histogram<u64>) -> LatencySummary {
    protocol::hist::summarize(h)
}

/// Bytes of one message's JSON on the wire (the object of the protocol in docs/architecture.md).
fn message_json_bytes(size: u64) -> u64 {
    size + 140
}

fn simulate(t: Transport, s: &Setup) -> TransportResult {
    // The schedule depends on the seed only, as in the load generator: the
    // four transports of one scenario see the same publishes.
    let mut schedule = Rng(s.seed);
    let mut rng = Rng(s.noise_seed ^ (t.index() as u64 + 1).wrapping_mul(0x1234_5678_9ABC));
    let total = RAMP + WARMUP + MEASURE + DRAIN;
    let win = ((RAMP + WARMUP) as f64, (RAMP + WARMUP + MEASURE) as f64);
    // Poisson publish schedule from the end of ramp-up to the start of drain.
    let mut sends = Vec::new();
    let mut at = RAMP as f64 + schedule.exp(1.0 / s.rate);
    while at < win.1 {
        sends.push(at);
        at += schedule.exp(1.0 / s.rate);
    }
    let phases: Vec<f64> = (0..s.clients).map(|_| rng.unit() * POLL_SECS).collect();
    let mut latency = hist();
    let mut per_second: BTreeMap<u64, Histogram<u64>> = BTreeMap::new();
    let mut deliveries: BTreeMap<u64, u64> = BTreeMap::new();
    let mut delivered_in_window = 0u64;
    let mut to_lose = s.lost;
    for &sent in &sends {
        let accept = sent + 0.000_35 + rng.exp(0.000_1);
        for (c, &phase) in phases.iter().enumerate() {
            let fan = c as f64 / s.clients as f64; // fan-out position, 0..1
            let us = match t {
                Transport::ShortPoll => {
                    let k = ((accept - phase) / POLL_SECS).ceil();
                    let poll = phase + k * POLL_SECS;
                    (poll - sent) * 1e6 + 500.0 + rng.exp(250.0)
                }
                Transport::LongPoll | Transport::SocketIoPolling => {
                    (accept - sent) * 1e6
                        + 700.0
                        + fan * 900.0 * (s.clients as f64 / 100.0)
                        + rng.exp(350.0)
                }
                Transport::Sse => {
                    (accept - sent) * 1e6
                        + 60.0
                        + fan * 160.0 * (s.clients as f64 / 100.0)
                        + rng.exp(90.0)
                }
                Transport::Ws => {
                    (accept - sent) * 1e6
                        + 40.0
                        + fan * 120.0 * (s.clients as f64 / 100.0)
                        + rng.exp(70.0)
                }
                // Engine.IO and Socket.IO framing on top of the WebSocket's.
                Transport::SocketIo => {
                    (accept - sent) * 1e6
                        + 50.0
                        + fan * 140.0 * (s.clients as f64 / 100.0)
                        + rng.exp(80.0)
                }
                // QUIC: encryption and packetization in user space.
                Transport::WebTransport | Transport::WebTransportDatagram => {
                    (accept - sent) * 1e6
                        + 60.0
                        + fan * 150.0 * (s.clients as f64 / 100.0)
                        + rng.exp(80.0)
                }
            };
            // A hiccup now and then (a scheduler pause on a shared
            // box): the tail beyond p99.9.
            let us = us
                + if rng.unit() < 0.002 {
                    500.0 + rng.unit() * 3_500.0
                } else {
                    0.0
                };
            let us = (us * s.slow).max(1.0) as u64;
            if c == 0 && to_lose > 0 && sent >= win.0 && sent < win.1 {
                to_lose -= 1;
                continue;
            }
            let recv = sent + us as f64 / 1e6;
            let second = recv.floor() as u64 + 1;
            *deliveries.entry(second).or_default() += 1;
            per_second
                .entry(second)
                .or_insert_with(hist)
                .record(us)
                .ok();
            if sent >= win.0 && sent < win.1 {
                latency.record(us).ok();
                delivered_in_window += 1;
            }
        }
    }
    let published = sends.iter().filter(|&&x| x >= win.0 && x < win.1).count() as u64;
    let clients = s.clients;
    let json = message_json_bytes(s.size);
    let per_msg_in_window = clients * published;

    // Requests and bytes in the measured window, by transport.
    let window = MEASURE as f64;
    let (requests, empty, up, down) = match t {
        Transport::ShortPoll => {
            let polls = (clients as f64 * window / POLL_SECS) as u64;
            // A poll is empty when no message arrived during its interval.
            let p_empty = (-s.rate * POLL_SECS).exp();
            let empty = (polls as f64 * p_empty).round() as u64;
            let up = polls * 92;
            let down = polls * 128 + (polls - empty) * 34 + per_msg_in_window * (json + 1);
            (polls, empty, up, down)
        }
        Transport::LongPoll | Transport::SocketIoPolling => {
            // One request per delivery (messages are 100 ms apart, answers take
            // ~2 ms), plus the rare answer that carries two.
            let requests = (per_msg_in_window as f64 * 0.985) as u64;
            (
                requests,
                0,
                requests * 100,
                requests * 162 + per_msg_in_window * (json + 1),
            )
        }
        Transport::Sse => (
            0,
            0,
            0,
            per_msg_in_window * (json + 16 + 7) + 2 * clients * 12,
        ),
        Transport::Ws => (0, 0, 0, per_msg_in_window * (json + 4)),
        // `42["message",…]` around the JSON.
        Transport::SocketIo => (0, 0, 0, per_msg_in_window * (json + 17)),
        // A QUIC short header, a STREAM or DATAGRAM frame and its AEAD tag,
        // with acknowledgements going up.
        Transport::WebTransport => (
            0,
            0,
            per_msg_in_window * 12,
            per_msg_in_window * (json + 30),
        ),
        Transport::WebTransportDatagram => (
            0,
            0,
            per_msg_in_window * 12,
            per_msg_in_window * (json + 28),
        ),
    };
    let wire = |up: u64, down: u64| {
        let r2 = |v: f64| (v * 100.0).round() / 100.0;
        WireBytes {
            subscribe_up_bytes: up,
            subscribe_down_bytes: down,
            publish_up_bytes: published * (175 + json - 40),
            publish_down_bytes: published * 131,
            payload_bytes: delivered_in_window * s.size,
            deliveries: delivered_in_window,
            bytes_per_delivery: r2((up + down) as f64 / delivered_in_window as f64),
            down_bytes_per_delivery: r2(down as f64 / delivered_in_window as f64),
            overhead_ratio: r2((up + down) as f64 / (delivered_in_window * s.size) as f64),
        }
    };
    let wire_bytes = wire(up, down);
    let scale = total as f64 / window;
    let handshake = match t {
        Transport::ShortPoll | Transport::LongPoll => 0,
        Transport::Sse => clients * 260,
        Transport::Ws => clients * 390,
        Transport::SocketIo => clients * 690,
        Transport::SocketIoPolling => clients * 300,
        Transport::WebTransport | Transport::WebTransportDatagram => clients * 5_200,
    };
    let wire_bytes_total = wire(
        (up as f64 * scale) as u64 + handshake / 2,
        (down as f64 * scale) as u64 + handshake / 2,
    );

    let mut series = Vec::new();
    for sec in 1..=total {
        let phase = match sec {
            s if s <= RAMP => Phase::RampUp,
            s if s <= RAMP + WARMUP => Phase::Warmup,
            s if s <= RAMP + WARMUP + MEASURE => Phase::Measure,
            _ => Phase::Drain,
        };
        let d = deliveries.get(&sec).copied().unwrap_or(0);
        let (req, emp) = match t {
            Transport::ShortPoll if sec > RAMP => (
                clients,
                if d == 0 {
                    clients
                } else {
                    (clients as f64 * (-s.rate).exp()).round() as u64
                },
            ),
            Transport::ShortPoll => (clients / 2, clients / 2),
            Transport::LongPoll if sec > RAMP => {
                // One request per delivery; a second with no message still
                // sees the requests whose wait ran out.
                let r = (d as f64 * 0.985) as u64;
                (
                    r.max(if sec > RAMP + WARMUP + MEASURE {
                        0
                    } else {
                        clients / 10
                    }),
                    0,
                )
            }
            Transport::LongPoll => (clients, 0),
            _ if sec == 1 => (clients, 0),
            _ => (0, 0),
        };
        let h = per_second.get(&sec);
        let sent_this = sends
            .iter()
            .filter(|&&x| x >= (sec - 1) as f64 && x < sec as f64)
            .count() as u64;
        let per_delivery = (up + down) as f64 / delivered_in_window as f64;
        series.push(SecondSample {
            t_secs: sec,
            phase: Some(phase),
            deliveries: d,
            published: sent_this,
            requests: req,
            empty: emp,
            errors: 0,
            down_bytes: (d as f64 * per_delivery * 0.8) as u64,
            up_bytes: (d as f64 * per_delivery * 0.2) as u64,
            connected: if sec == 1 { clients * 7 / 10 } else { clients },
            p50_us: h
                .filter(|h| !h.is_empty())
                .map(|h| h.value_at_quantile(0.5)),
            p99_us: h
                .filter(|h| !h.is_empty())
                .map(|h| h.value_at_quantile(0.99)),
        });
    }

    let mut publish = hist();
    let mut connect = hist();
    for _ in 0..published {
        publish.record((350.0 + rng.exp(180.0)) as u64).ok();
    }
    for _ in 0..clients {
        let base = if t.is_push() { 420.0 } else { 180.0 };
        connect.record((base + rng.exp(150.0)) as u64).ok();
    }
    // Server cost in the window: CPU per request and per delivery, by transport.
    let (cpu_per_req, cpu_per_delivery, rss_per_conn) = network::server_cost(t);
    let cpu = requests as f64 * cpu_per_req + delivered_in_window as f64 * cpu_per_delivery;
    let rss_before = 9_800_000u64;
    let rss_after = rss_before + (rss_per_conn * clients as f64) as u64;
    let lg_cpu = 0.05 + requests as f64 * 55e-6 + delivered_in_window as f64 * 11e-6;
    let lg_per_client = match t {
        Transport::ShortPoll => 11_800.0,
        Transport::LongPoll => 12_300.0,
        Transport::Sse => 14_100.0,
        Transport::Ws => 10_500.0,
        Transport::SocketIo => 11_500.0,
        Transport::SocketIoPolling => 12_800.0,
        Transport::WebTransport | Transport::WebTransportDatagram => 24_000.0,
    };
    let r2 = |v: f64| (v * 100.0).round() / 100.0;
    let rates = Rates {
        deliveries_per_sec: r2(delivered_in_window as f64 / window),
        requests_per_sec: r2(requests as f64 / window),
        publishes_per_sec: r2(published as f64 / window),
        empty_ratio: if requests == 0 {
            0.0
        } else {
            (empty as f64 / requests as f64 * 1e4).round() / 1e4
        },
    };
    TransportResult {
        transport: t,
        clients,
        window_secs: window,
        latency: summary(&latency),
        latency_histogram: encode(&latency),
        publish_latency: summary(&publish),
        publish_latency_histogram: encode(&publish),
        connect_time: summary(&connect),
        connect_time_histogram: encode(&connect),
        rates,
        counts: Counts {
            published,
            publish_errors: 0,
            expected: per_msg_in_window,
            delivered: delivered_in_window,
            lost: per_msg_in_window - delivered_in_window,
            duplicate: 0,
            reordered: 0,
            unexpected: 0,
            requests,
            empty_responses: empty,
            reconnects: 0,
            lagged: 0,
            gaps: 0,
            foreign: 0,
            engine_io_handshakes: 0,
            engine_io_upgrades: 0,
            dropped_by_design: 0,
            recovered: 0,
            errors: BTreeMap::new(),
        },
        wire_bytes,
        wire_bytes_total,
        series,
        server: Some(ServerCost {
            version: "0.1.0".into(),
            cpu_seconds: (cpu * 1000.0).round() / 1000.0,
            cpu_percent: r2(cpu / window * 100.0),
            rss_before_bytes: rss_after - 40_000,
            rss_after_bytes: rss_after,
            rss_peak_bytes: rss_after + 120_000,
            connections: clients,
            rss_per_connection_bytes: Some(r2(rss_per_conn)),
            deliveries: delivered_in_window,
            lagged: 0,
        }),
        loadgen: LoadgenCost {
            cpu_seconds: (lg_cpu * 1000.0).round() / 1000.0,
            cpu_percent: r2(lg_cpu / window * 100.0),
            rss_baseline_bytes: 7_400_000,
            rss_bytes: 7_400_000 + (lg_per_client * clients as f64) as u64,
            rss_peak_bytes: 7_500_000 + (lg_per_client * clients as f64) as u64,
            per_client_rss_bytes: lg_per_client,
        },
        targets: Vec::new(),
        worker: None,
        radio: None,
        stages: Vec::new(),
    }
}

fn file(s: &Setup, transports: &[Transport]) -> ResultFile {
    let only = |t: Transport| transports.len() == 1 && transports[0] == t;
    let all = transports.len() > 1;
    ResultFile {
        schema_version: SCHEMA_VERSION,
        rtbench_version: "0.1.0".into(),
        created: s.created.into(),
        target: "http://127.0.0.1:8080".into(),
        target_addrs: Vec::new(),
        scenario: Scenario {
            scenario_file: s.file.map(String::from),
            clients: s.clients,
            rooms: 1,
            publishers: 1,
            rate_per_sec: s.rate,
            arrival: Arrival::Poisson,
            size_bytes: s.size,
            duration_secs: MEASURE as f64,
            ramp_up_per_sec: s.clients as f64 / RAMP as f64,
            warmup_secs: WARMUP as f64,
            drain_secs: DRAIN as f64,
            poll_interval_secs: (all || only(Transport::ShortPoll)).then_some(POLL_SECS),
            long_poll_wait_secs: (all || only(Transport::LongPoll)).then_some(LONG_POLL_WAIT),
            publish_via: PublishVia::Http,
            seed: s.seed,
            source_ips: vec![],
            profile: None,
            network: None,
            publishers_at: None,
            stages: None,
        },
        machine: Machine {
            cores: 2,
            os: "linux (Debian GNU/Linux 13 (trixie))".into(),
            kernel: "6.12.57+deb13-cloud-amd64".into(),
            hostname: s.hostname.into(),
            cpu_model: Some("AMD EPYC 7B13".into()),
        },
        transports: transports.iter().map(|&t| simulate(t, s)).collect(),
        partial: false,
        warnings: vec![],
        link: None,
    }
}

fn write(dir: &Path, name: &str, f: &ResultFile) {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("create fixture dir");
    }
    let mut text = serde_json::to_string_pretty(f).expect("serialize");
    text.push('\n');
    std::fs::write(&path, text).expect("write fixture");
    println!("wrote {}", path.display());
}

fn stamp(base: u64, plus: u64) -> (u64, &'static str) {
    let t = base + plus;
    let (h, m, s) = ((t / 3600) % 24, (t / 60) % 60, t % 60);
    let text = format!("2026-11-29T{h:02}:{m:02}:{s:02}Z");
    (t, Box::leak(text.into_boxed_str()))
}

fn main() {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "reports/tests/fixtures".into()),
    );
    let start = 6 * 3600 + 31 * 60; // 06:31:00 UTC
    let base = |plus: u64, seed: u64| {
        let (created_secs, created) = stamp(start, plus);
        Setup {
            clients: 100,
            rate: 10.0,
            size: 100,
            seed,
            created,
            created_secs,
            hostname: "bench-1",
            file: Some("scenarios/fixture.toml"),
            noise_seed: seed,
            slow: 1.0,
            lost: 0,
        }
    };
    if dir == Path::new("compare") {
        let out = std::env::args()
            .nth(2)
            .unwrap_or_else(|| "reports/tests/fixtures/compare".into());
        compare_sets(Path::new(&out), &base(0, 1));
        return;
    }
    // Four `load` runs one after the other (20 s apart: 16 s run + start-up).
    for (i, t) in Transport::ALL.into_iter().enumerate() {
        write(
            &dir,
            &format!("{t}.json"),
            &file(&base(i as u64 * 20, 1), &[t]),
        );
    }
    write(
        &dir,
        "more/ws-repeat.json",
        &file(&base(80, 2), &[Transport::Ws]),
    );
    let mut worker = base(60, 3);
    worker.hostname = "bench-2";
    write(
        &dir,
        "more/ws-worker-b.json",
        &file(&worker, &[Transport::Ws]),
    );

    // A matrix as `bench` writes it: every transport in one file per scenario.
    for (i, (clients, rate)) in [(100u64, 10.0f64), (200, 10.0), (100, 1.0)]
        .into_iter()
        .enumerate()
    {
        let mut s = base(200 + i as u64 * 80, 10 + i as u64);
        s.clients = clients;
        s.rate = rate;
        s.file = Some("scenarios/matrix.toml");
        let _ = s.created_secs;
        write(
            &dir,
            &format!("matrix/clients-{clients}-rate-{rate}.json"),
            &file(&s, &Transport::ALL),
        );
    }
    network::write_set(&dir);
}
