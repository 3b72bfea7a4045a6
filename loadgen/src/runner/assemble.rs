//! Results: the shards and snapshots of a finished run turned into the
//! result file (one transport result), and the reasons it was not clean.

use super::phases::{Collected, Measured, Published};
use super::stats::Snap;
use super::{RunResults, RunWarning};
use crate::config::Config;
use crate::error::ErrorKind;
use crate::record::{Recorder, WinCounts};
use crate::report;
use crate::sys;
use hdrhistogram::Histogram;
use protocol::results::{
    Counts, LoadgenCost, ResultFile, SCHEMA_VERSION, Scenario, SecondSample, ServerCost,
    TargetShare, TransportResult, WorkerShard,
};
use protocol::stats::ServerStats;
use std::collections::BTreeMap;

/// Everything a finished run measured.
pub(super) struct Finished<'a> {
    pub cfg: &'a Config,
    pub rec: &'a Recorder,
    /// When the run started (RFC 3339).
    pub created: String,
    pub run_tag: u32,
    pub cancelled: bool,
    /// Targets that stopped answering during the run.
    pub lost_targets: Vec<String>,
    pub warnings: Vec<RunWarning>,
    pub published: Published,
    pub collected: Collected,
    pub measured: Measured,
    pub wire_final: [u64; 4],
    pub series: Vec<SecondSample>,
    /// The server's stats before ramp-up.
    pub stats_ramp: Option<ServerStats>,
    /// This process's memory before the clients existed.
    pub rss_baseline: u64,
}

/// The result file, and whether (and why) the run was not clean.
pub(super) fn results(f: Finished<'_>) -> RunResults {
    let Finished {
        cfg,
        rec,
        mut warnings,
        ..
    } = f;
    let mut reasons = Vec::new();
    if f.cancelled {
        reasons.push("the run was interrupted".to_string());
    }
    if !f.lost_targets.is_empty() {
        reasons.push(format!(
            "the target {} stopped answering",
            f.lost_targets.join(", ")
        ));
    }
    let partial = !reasons.is_empty();
    for (kind, detail) in rec.first_errors() {
        warnings.push(RunWarning::FirstError { kind, detail });
    }
    let tally = f.collected.tally;
    let result = transport_result(TransportInputs {
        cfg,
        rec,
        counts: PubCounts {
            tally: tally.clone(),
            published: f.published.count,
            errors: f.published.errors,
        },
        measured: &f.measured,
        wire_final: f.wire_final,
        series: f.series,
        stats_ramp: f.stats_ramp.as_ref(),
        rss_baseline: f.rss_baseline,
        worker: f.collected.receipts.map(|r| {
            r.into_shard(
                &f.published.expected,
                format!("{:08x}", f.run_tag),
                cfg.worker_id,
                cfg.workers,
            )
        }),
    });
    if result.counts.gaps > 0 {
        warnings.push(RunWarning::Gaps {
            resumes: result.counts.gaps,
        });
    }
    let errors_total: u64 = result.counts.errors.values().sum();
    reasons.extend(report::problems(&tally, f.published.errors, errors_total));
    let file = ResultFile {
        schema_version: SCHEMA_VERSION,
        rtbench_version: env!("CARGO_PKG_VERSION").to_string(),
        created: f.created,
        target: cfg.targets_url(),
        target_addrs: cfg
            .targets
            .iter()
            .filter_map(|t| t.addr)
            .map(|a| a.to_string())
            .collect(),
        scenario: scenario(cfg),
        machine: sys::machine(),
        transports: vec![result],
        partial,
        warnings: warnings.iter().map(ToString::to_string).collect(),
        link: None,
    };
    RunResults {
        file,
        partial,
        cancelled: f.cancelled,
        problems: reasons,
        trace: rec.trace_lines(),
        warnings,
    }
}

fn scenario(cfg: &Config) -> Scenario {
    use protocol::Transport;
    Scenario {
        scenario_file: cfg.scenario_file.as_ref().map(|p| p.display().to_string()),
        clients: cfg.clients,
        rooms: cfg.rooms,
        publishers: cfg.publishers,
        rate_per_sec: cfg.rate_per_sec,
        arrival: cfg.arrival,
        size_bytes: cfg.size_bytes as u64,
        duration_secs: cfg.duration.as_secs_f64(),
        ramp_up_per_sec: cfg.ramp_up_per_sec,
        warmup_secs: cfg.warmup.as_secs_f64(),
        drain_secs: cfg.effective_drain().as_secs_f64(),
        poll_interval_secs: (cfg.transport == Transport::ShortPoll)
            .then_some(cfg.poll_interval.as_secs_f64()),
        long_poll_wait_secs: (cfg.transport == Transport::LongPoll)
            .then_some(cfg.long_poll_wait.as_secs_f64()),
        publish_via: cfg.publish_via,
        seed: cfg.seed,
        source_ips: cfg.source_ips.iter().map(ToString::to_string).collect(),
        network: cfg.network.as_ref().map(ToString::to_string),
        publishers_at: cfg.network.as_ref().map(|_| cfg.publishers_at),
        stages: cfg.stages.as_ref().map(|s| s.text.to_string()),
        profile: Some(if cfg.profile.source_name == "built-in" {
            cfg.profile.name.clone()
        } else {
            format!("{} ({})", cfg.profile.name, cfg.profile.source_name)
        }),
    }
}

/// Coherence and publish counts of the run.
struct PubCounts {
    tally: crate::coherence::Tally,
    published: u64,
    errors: u64,
}

struct TransportInputs<'a> {
    cfg: &'a Config,
    rec: &'a Recorder,
    counts: PubCounts,
    measured: &'a Measured,
    wire_final: [u64; 4],
    series: Vec<SecondSample>,
    stats_ramp: Option<&'a ServerStats>,
    rss_baseline: u64,
    worker: Option<WorkerShard>,
}

/// The sum of every thread's shard.
struct Totals {
    latency: Histogram<u64>,
    publish: Histogram<u64>,
    connect: Histogram<u64>,
    errors: [u64; ErrorKind::ALL.len()],
    reconnects: u64,
    lagged: u64,
    gaps: u64,
    foreign: u64,
    sio_handshakes: u64,
    sio_upgrades: u64,
    win: WinCounts,
}

fn totals(rec: &Recorder) -> Totals {
    let h = || Histogram::<u64>::new(3).unwrap_or_else(|_| unreachable!("valid precision"));
    let mut t = Totals {
        latency: h(),
        publish: h(),
        connect: h(),
        errors: [0; ErrorKind::ALL.len()],
        reconnects: 0,
        lagged: 0,
        gaps: 0,
        foreign: 0,
        sio_handshakes: 0,
        sio_upgrades: 0,
        win: WinCounts::default(),
    };
    rec.each_shard(|s| {
        let _ = t.latency.add(&s.latency);
        let _ = t.publish.add(&s.publish);
        let _ = t.connect.add(&s.connect);
        for (e, n) in t.errors.iter_mut().zip(s.errors) {
            *e += n;
        }
        t.reconnects += s.reconnects;
        t.lagged += s.lagged;
        t.gaps += s.gaps;
        t.foreign += s.foreign;
        t.sio_handshakes += s.sio_handshakes;
        t.sio_upgrades += s.sio_upgrades;
        t.win.deliveries += s.win.deliveries;
        t.win.by_publish += s.win.by_publish;
        t.win.payload_bytes += s.win.payload_bytes;
        t.win.requests += s.win.requests;
        t.win.empty += s.win.empty;
    });
    t
}

fn transport_result(i: TransportInputs<'_>) -> TransportResult {
    let t = totals(i.rec);
    let server = server_cost(&i, t.win.deliveries);
    let (start, end) = (&i.measured.start, &i.measured.end);
    let window_secs = i.measured.secs;
    let planned_secs = counted_window_secs(i.cfg, i.measured);
    TransportResult {
        transport: i.cfg.transport,
        clients: i.cfg.clients,
        window_secs: (window_secs * 1000.0).round() / 1000.0,
        latency: report::summarize(&t.latency),
        latency_histogram: report::encode_histogram(&t.latency),
        publish_latency: report::summarize(&t.publish),
        publish_latency_histogram: report::encode_histogram(&t.publish),
        connect_time: report::summarize(&t.connect),
        connect_time_histogram: report::encode_histogram(&t.connect),
        rates: report::rates(
            planned_secs,
            t.win.by_publish,
            t.win.requests,
            t.win.empty,
            i.counts.published,
        ),
        counts: counts(&i.counts, &t),
        wire_bytes: report::wire_bytes(start.wire, end.wire, t.win.payload_bytes, t.win.deliveries),
        wire_bytes_total: report::wire_bytes([0; 4], i.wire_final, 0, 0),
        stages: super::staged::stage_results(i.cfg, i.rec, &i.series, &i.counts.tally.stage_lost),
        series: i.series,
        server,
        targets: target_shares(i.cfg, end),
        worker: i.worker,
        loadgen: loadgen_cost(i.cfg, i.measured, i.rss_baseline),
        radio: match (&start.radio, &end.radio) {
            (Some(a), Some(b)) => {
                crate::network::radio_result(a, b, end.at.saturating_duration_since(start.at))
            }
            _ => None,
        },
    }
}

/// The length of the window the rates count over: the planned one, which
/// the clock-stamped counts (publishes and deliveries by intended send
/// time, requests by receive time) cover exactly; the snapshot-to-snapshot
/// time (`window_secs`) is late by however long the snapshot task took to
/// wake, which on a busy machine skewed every rate. A cancelled run counted
/// only up to its end.
fn counted_window_secs(cfg: &Config, m: &Measured) -> f64 {
    let planned = cfg.duration.as_secs_f64();
    if m.cancelled {
        m.secs.min(planned)
    } else {
        planned
    }
}

fn counts(p: &PubCounts, t: &Totals) -> Counts {
    let errors: BTreeMap<String, u64> = ErrorKind::ALL
        .iter()
        .map(|k| (k.as_str().to_string(), t.errors[k.index()]))
        .collect();
    let c = &p.tally;
    Counts {
        published: p.published,
        publish_errors: p.errors,
        expected: c.expected,
        delivered: c.delivered,
        lost: c.lost,
        dropped_by_design: c.dropped_by_design,
        recovered: c.recovered,
        duplicate: c.duplicate,
        reordered: c.reordered,
        unexpected: c.unexpected,
        requests: t.win.requests,
        empty_responses: t.win.empty,
        reconnects: t.reconnects,
        lagged: t.lagged,
        gaps: t.gaps,
        foreign: t.foreign,
        engine_io_handshakes: t.sio_handshakes,
        engine_io_upgrades: t.sio_upgrades,
        errors,
    }
}

/// The server's cost in the window; with `--server-pid`, connections and
/// deliveries come from the clients (`/proc` knows nothing of them).
fn server_cost(i: &TransportInputs<'_>, deliveries: u64) -> Option<ServerCost> {
    let (start, end) = (&i.measured.start, &i.measured.end);
    let mut cost = report::server_cost(
        i.cfg.transport.as_str(),
        i.stats_ramp,
        start.server.as_ref(),
        end.server.as_ref(),
        i.measured.secs,
    )?;
    if i.cfg.server_pid.is_some() {
        cost.connections = end.connected;
        cost.deliveries = deliveries;
        cost.rss_per_connection_bytes = i.stats_ramp.and_then(|b| {
            (cost.connections > 0).then(|| {
                protocol::hist::round2(
                    cost.rss_after_bytes.saturating_sub(b.rss_bytes) as f64
                        / cost.connections as f64,
                )
            })
        });
    }
    // Before every client connected (a ramp cut short by Ctrl-C), the few
    // connections would carry all of the server's own memory: 261 KiB each.
    if end.connected < i.cfg.clients {
        cost.rss_per_connection_bytes = None;
    }
    Some(cost)
}

/// Clients per target at the end of the window (only with several targets).
fn target_shares(cfg: &Config, end: &Snap) -> Vec<TargetShare> {
    if cfg.targets.len() <= 1 {
        return Vec::new();
    }
    cfg.targets
        .iter()
        .zip(&end.per_target)
        .map(|(t, n)| TargetShare {
            url: t.url.clone(),
            connected: *n,
        })
        .collect()
}

/// This process's own CPU in the window and its memory per client.
fn loadgen_cost(cfg: &Config, m: &Measured, rss_baseline: u64) -> LoadgenCost {
    let rss_end = m.end.rss;
    // VmHWM is synced lazily by the kernel; never report a peak below a reading.
    let rss_peak = sys::rss_bytes().1.max(rss_end);
    let cpu = (m.end.cpu - m.start.cpu).max(0.0);
    LoadgenCost {
        cpu_seconds: (cpu * 1000.0).round() / 1000.0,
        cpu_percent: if m.secs > 0.0 {
            (cpu / m.secs * 1000.0).round() / 10.0
        } else {
            0.0
        },
        rss_baseline_bytes: rss_baseline,
        rss_bytes: rss_end,
        rss_peak_bytes: rss_peak,
        per_client_rss_bytes: (rss_end.saturating_sub(rss_baseline) as f64
            / cfg.clients.max(1) as f64)
            .round(),
    }
}
