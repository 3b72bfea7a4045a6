//! One run, phase by phase: preflight → ramp-up (connect at the set rate)
//! → warm-up (publishing, not recorded) → measured window → drain (wait
//! for in-flight messages) → results.

use crate::coherence::{Expected, Receipts, Tally};
use crate::config::Config;
use crate::error::{Error, ErrorKind};
use crate::http::get_once;
use crate::publisher::{PubOutcome, run_publisher};
use crate::record::{Clock, Recorder};
use crate::report;
use crate::rng::SplitMix64;
use crate::sampler::Sampler;
use crate::sys;
use crate::transport::{Client, Endpoint, Outcome, RampGate, Shared, run_client};
use hdrhistogram::Histogram;
use protocol::results::{
    Counts, LoadgenCost, Phase, ResultFile, SCHEMA_VERSION, Scenario, TransportResult,
};
use protocol::stats::ServerStats;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// What a run produced. `file` is complete even for a partial run, so the
/// CLI can write it and still exit non-zero.
#[derive(Debug, Clone)]
pub struct RunResults {
    pub file: ResultFile,
    /// Interrupted, or the target went away: numbers cover only part of the plan.
    pub partial: bool,
    /// The run was cancelled (Ctrl-C) before it finished.
    pub cancelled: bool,
    /// Human-readable reasons the run was not clean (partial, lost messages,
    /// failed publishes, client errors); empty for a clean run.
    pub problems: Vec<String>,
    /// The first exchanges in words, when `Config::trace` asked for them.
    pub trace: Vec<String>,
}

impl RunResults {
    /// No loss, no failed publish, no error, not partial.
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }
}

/// The preflight must answer within this (the issue: a clear error within 5 s).
const PREFLIGHT_LIMIT: Duration = Duration::from_secs(4);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const STATS_LIMIT: Duration = Duration::from_secs(2);
/// Sockets the process needs beyond one per client and publisher.
const FD_MARGIN: u64 = 64;

/// A point-in-time reading at a phase boundary.
struct Snap {
    at: Instant,
    wire: [u64; 4],
    cpu: f64,
    rss: u64,
    server: Option<ServerStats>,
    /// Clients connected at this moment.
    connected: u64,
    /// The same per target.
    per_target: Vec<u64>,
}

/// Run the scenario against the target until done or `cancel`.
pub async fn run(cfg: Config, cancel: CancellationToken) -> Result<RunResults, Error> {
    cfg.validate()?;
    let created = sys::rfc3339(SystemTime::now());
    let mut warnings = Vec::new();
    check_limits(&cfg, &mut warnings)?;
    let targets = Endpoint::all(&cfg, CONNECT_TIMEOUT)?;
    for ep in &targets {
        preflight(&cfg, ep).await?;
    }
    let stats_ramp = server_stats(&cfg, &targets).await;
    if stats_ramp.is_none() {
        warnings.push(match (&cfg.server_pid, &cfg.profile.stats) {
            (Some(pid), _) => format!("process {pid} could not be read from /proc: server cost not recorded"),
            (None, Some(path)) => format!("target did not answer {path}: server cost not recorded"),
            (None, None) => "server cost not recorded: give --server-pid PID of the server process (this machine only)".to_string(),
        });
    }
    // Workers of one distributed run share the tag (so each other's
    // messages are theirs, not foreign) and hence the room names.
    let run_tag = match cfg.start_at {
        Some(t) => SplitMix64::new((t * 1000.0) as u64 ^ 0x7274_6231).next_u64() as u32,
        None => run_tag(),
    };

    let rec = Arc::new(if cfg.trace {
        Recorder::with_trace(Clock::new())
    } else {
        Recorder::new(Clock::new())
    });
    sys::trim_heap();
    let (rss_baseline, _) = sys::rss_bytes();
    let shared = Arc::new(Shared {
        cfg: cfg.clone(),
        rec: rec.clone(),
        targets,
        rooms: room_names(run_tag, cfg.rooms),
        run_tag,
        ramp: RampGate::default(),
        cancel: cancel.child_token(),
    });
    let sampler = Sampler::spawn(rec.clone(), cfg.clients, cfg.progress);

    // Ramp-up.
    let clients = ramp_up(&shared, &cancel).await;

    // Warm-up and window: boundaries fixed before the first publish.
    let pub_start = match cfg.start_at {
        Some(at) => {
            let now = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64());
            if at < now - 0.05 {
                warnings.push(format!(
                    "publishing started {:.2} s after --start-at (ramp-up took longer): this worker's window is late",
                    now - at
                ));
                Instant::now()
            } else {
                Instant::now() + Duration::from_secs_f64((at - now).max(0.0))
            }
        }
        None => Instant::now(),
    };
    let window_start = pub_start + cfg.warmup;
    let window_end = window_start + cfg.duration;
    // Stamps and window bounds in whole µs from one origin: with
    // --start-at, the same on every worker, so a message is in the window
    // for all of them or for none.
    let start_us = match cfg.start_at {
        Some(at) => (at * 1e6).round() as u64,
        None => rec.clock.at_us(pub_start),
    };
    let window_start_us = start_us + cfg.warmup.as_micros() as u64;
    let end_us = window_start_us + cfg.duration.as_micros() as u64;
    rec.set_window(window_start_us, end_us);
    rec.set_phase(Phase::Warmup);
    let connected_now = rec.connected.load(Ordering::Relaxed).max(0) as u64;
    if connected_now < cfg.clients {
        warnings.push(format!(
            "only {connected_now} of {} clients were connected when publishing started",
            cfg.clients
        ));
    }
    let pub_cancel = cancel.child_token();
    let publishers: Vec<JoinHandle<PubOutcome>> = (0..cfg.publishers as u32)
        .map(|i| {
            tokio::spawn(run_publisher(
                i,
                shared.clone(),
                (pub_start, start_us),
                end_us,
                pub_cancel.clone(),
            ))
        })
        .collect();

    let mut cancelled = !sleep_until(window_start, &cancel).await;
    rec.set_phase(Phase::Measure);
    let snap_start = snapshot(&rec, &shared).await;
    if !cancelled {
        cancelled = !sleep_until(window_end, &cancel).await;
    }
    rec.set_phase(Phase::Drain);
    let snap_end = snapshot(&rec, &shared).await;
    let window_secs = snap_end
        .at
        .saturating_duration_since(snap_start.at)
        .as_secs_f64();

    // Publishers finish their last in-flight publish.
    let mut expected = Expected::new(shared.rooms.len());
    let (mut published, mut publish_errors) = (0, 0);
    for h in publishers {
        let o = h
            .await
            .map_err(|e| Error::Internal(format!("publisher task: {e}")))?;
        published += o.published;
        publish_errors += o.errors;
        for (room, seqs) in o.acked.into_iter().enumerate() {
            expected.add(room, o.index, seqs);
        }
    }
    let per_room = subscribers_per_room(cfg.clients, cfg.rooms);
    let expected_total: u64 = (0..shared.rooms.len())
        .map(|r| expected.in_room(r) * per_room[r])
        .sum();

    // Drain: until every expected delivery arrived, or the drain time is up.
    let drain_deadline = window_end + cfg.effective_drain();
    while !cancelled && rec.window_first_total() < expected_total && Instant::now() < drain_deadline
    {
        tokio::select! {
            _ = cancel.cancelled() => cancelled = true,
            _ = tokio::time::sleep(Duration::from_millis(20)) => {}
        }
    }
    if cfg.workers > 1 && !cancelled {
        // The other workers' last messages are in flight too, and we do not
        // know how many: a short grace (bounded by the drain deadline).
        let grace = (Instant::now() + Duration::from_secs(1)).min(drain_deadline);
        cancelled = !sleep_until(grace, &cancel).await;
    }

    // Stop clients and collect their coherence records.
    shared.cancel.cancel();
    let mut tally = Tally::default();
    let own = cfg.own_publishers();
    let mut receipts = (cfg.workers > 1).then(|| Receipts::new(shared.rooms.len()));
    let join_deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let mut stuck = 0;
    for (i, mut h) in clients.into_iter().enumerate() {
        let room = i % shared.rooms.len();
        match tokio::time::timeout_at(join_deadline, &mut h).await {
            Ok(Ok(Outcome { room, tracker })) => {
                tally.add(&expected, room as usize, &tracker, &own);
                if let Some(r) = receipts.as_mut() {
                    r.add(room as usize, &tracker);
                }
            }
            Ok(Err(e)) => return Err(Error::Internal(format!("client task: {e}"))),
            Err(_) => {
                h.abort();
                stuck += 1;
                tally.add(&expected, room, &Default::default(), &own);
                if let Some(r) = receipts.as_mut() {
                    r.add(room, &Default::default());
                }
            }
        }
    }
    if stuck > 0 {
        warnings.push(format!(
            "{stuck} clients did not stop in time; counted as receiving nothing"
        ));
    }
    let wire_final = rec.wire_totals();
    let series = sampler.finish().await;

    let mut lost_targets = Vec::new();
    for ep in &shared.targets {
        if preflight(&cfg, ep).await.is_err() {
            lost_targets.push(ep.url.clone());
        }
    }
    let target_lost = !lost_targets.is_empty();
    let mut reasons = Vec::new();
    if cancelled {
        reasons.push("the run was interrupted".to_string());
    }
    if target_lost {
        reasons.push(format!(
            "the target {} stopped answering",
            lost_targets.join(", ")
        ));
    }
    let partial = !reasons.is_empty();
    for (kind, detail) in rec.first_errors() {
        warnings.push(format!("first {kind} error: {detail}"));
    }

    let result = transport_result(TransportInputs {
        cfg: &cfg,
        rec: &rec,
        tally,
        published,
        publish_errors,
        window_secs,
        snap_start: &snap_start,
        snap_end: &snap_end,
        wire_final,
        series,
        stats_ramp: stats_ramp.as_ref(),
        rss_baseline,
        worker: receipts.map(|r| {
            r.into_shard(
                &expected,
                format!("{run_tag:08x}"),
                cfg.worker_id,
                cfg.workers,
            )
        }),
    });
    if result.counts.gaps > 0 {
        warnings.push(format!(
            "{} resumes got a gap notice: cursors older than the server's history (messages lost there)",
            result.counts.gaps
        ));
    }
    let errors_total: u64 = result.counts.errors.values().sum();
    reasons.extend(report::problems(&tally, publish_errors, errors_total));
    let file = ResultFile {
        schema_version: SCHEMA_VERSION,
        rtbench_version: env!("CARGO_PKG_VERSION").to_string(),
        created,
        target: cfg.targets_url(),
        scenario: scenario(&cfg),
        machine: sys::machine(),
        transports: vec![result],
        partial,
        warnings,
    };
    Ok(RunResults {
        file,
        partial,
        cancelled,
        problems: reasons,
        trace: rec.trace_lines(),
    })
}

fn check_limits(cfg: &Config, warnings: &mut Vec<String>) -> Result<(), Error> {
    let per_pub = match cfg.publish_via {
        protocol::results::PublishVia::Http => 1,
        protocol::results::PublishVia::Ws => cfg.rooms,
    };
    let need = cfg.clients + cfg.publishers * per_pub + FD_MARGIN;
    match sys::raise_nofile_limit(need) {
        Ok(limit) if limit >= need => Ok(()),
        Ok(limit) => Err(Error::Limits(format!(
            "this run needs ~{need} open files but this process may open at most {limit} \
             (the hard limit, not raisable here): run fewer clients per process"
        ))),
        Err(e) => {
            warnings.push(format!("could not raise the open-files limit: {e}"));
            Ok(())
        }
    }
}

/// The profile's health path must answer 2xx within [`PREFLIGHT_LIMIT`];
/// without one, the target must accept a TCP connection.
pub(crate) async fn preflight(cfg: &Config, ep: &Endpoint) -> Result<(), Error> {
    let (dialer, authority) = (&ep.dialer, &ep.authority);
    let unreachable = |reason: String| Error::Unreachable {
        target: ep.url.clone(),
        reason,
    };
    // It answered, but TLS did not agree: a settings problem, not a dead server.
    let failed = |e: crate::error::ClientError| {
        if e.detail.starts_with(crate::tls::HANDSHAKE_FAILED) {
            Error::BadTarget {
                target: ep.url.clone(),
                reason: e.detail.to_string(),
            }
        } else {
            unreachable(e.detail.to_string())
        }
    };
    let Some(path) = &cfg.profile.health else {
        let counter = Arc::new(crate::net::WireCounter::default());
        return match tokio::time::timeout(
            PREFLIGHT_LIMIT,
            dialer.dial(0, &counter, crate::net::Purpose::Http),
        )
        .await
        {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(failed(e)),
            Err(_) => Err(unreachable(format!(
                "no connection within {PREFLIGHT_LIMIT:?}"
            ))),
        };
    };
    match get_once(dialer, authority, path, PREFLIGHT_LIMIT).await {
        Ok((status, _)) if (200..300).contains(&status) => Ok(()),
        Ok((status, body)) => Err(Error::BadTarget {
            target: ep.url.clone(),
            reason: format!(
                "GET {path} (the profile's health) answered {status}{}",
                server_reason(&body)
            ),
        }),
        Err(e) => Err(failed(e)),
    }
}

/// `: why` from a JSON error body's `error` field, if it has one.
fn server_reason(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct Why {
        error: String,
    }
    match serde_json::from_slice::<Why>(body) {
        Ok(w) => format!(": {}", w.error.chars().take(200).collect::<String>()),
        Err(_) => String::new(),
    }
}

/// The server's CPU and RSS (and, from rtbench's stats, its own counters):
/// from `--server-pid` when given, else from the profile's stats endpoint.
/// With several targets, their stats are summed (CPU, RSS, counters): the
/// cost of the whole deployment. `None` if any target cannot tell.
async fn server_stats(cfg: &Config, targets: &[Endpoint]) -> Option<ServerStats> {
    if let Some(pid) = cfg.server_pid {
        return sys::process_stats(pid);
    }
    let path = cfg.profile.stats.as_deref()?;
    let mut sum: Option<ServerStats> = None;
    for ep in targets {
        let s: ServerStats = match get_once(&ep.dialer, &ep.authority, path, STATS_LIMIT).await {
            Ok((200, body)) => serde_json::from_slice(&body).ok()?,
            _ => return None,
        };
        sum = Some(match sum {
            None => s,
            Some(mut a) => {
                a.cpu_seconds += s.cpu_seconds;
                a.rss_bytes += s.rss_bytes;
                a.publishes_total += s.publishes_total;
                a.lagged_total += s.lagged_total;
                a.rooms = a.rooms.max(s.rooms);
                for (k, v) in s.labels {
                    let e = a.labels.entry(k).or_default();
                    e.connections += v.connections;
                    e.requests_total += v.requests_total;
                    e.deliveries_total += v.deliveries_total;
                    e.wire_bytes_in_total += v.wire_bytes_in_total;
                    e.wire_bytes_out_total += v.wire_bytes_out_total;
                }
                a
            }
        });
    }
    sum
}

async fn snapshot(rec: &Recorder, shared: &Shared) -> Snap {
    let wire = rec.wire_totals();
    let at = Instant::now();
    let cpu = sys::cpu_seconds();
    let (rss, _) = sys::rss_bytes();
    let server = server_stats(&shared.cfg, &shared.targets).await;
    Snap {
        connected: rec.connected.load(Ordering::Relaxed).max(0) as u64,
        per_target: shared
            .targets
            .iter()
            .map(|t| t.connected.load(Ordering::Relaxed).max(0) as u64)
            .collect(),
        at,
        wire,
        cpu,
        rss,
        server,
    }
}

/// Sleep until `t`; false if cancelled first.
async fn sleep_until(t: Instant, cancel: &CancellationToken) -> bool {
    tokio::select! {
        _ = cancel.cancelled() => false,
        _ = tokio::time::sleep_until(t.into()) => true,
    }
}

/// Spawn clients at `--ramp-up` per second, then wait (bounded) until each
/// finished its first connect attempt.
async fn ramp_up(shared: &Arc<Shared>, cancel: &CancellationToken) -> Vec<JoinHandle<Outcome>> {
    let cfg = &shared.cfg;
    let n = cfg.clients;
    let rooms = cfg.rooms;
    let start = Instant::now();
    let mut handles = Vec::with_capacity(n as usize);
    let mut i = 0u64;
    while i < n && !cancel.is_cancelled() {
        let due = ((start.elapsed().as_secs_f64() * cfg.ramp_up_per_sec) as u64 + 1).min(n);
        while i < due {
            let client = Client::new(i as u32, (i % rooms) as u32, shared.clone());
            handles.push(tokio::spawn(run_client(client)));
            i += 1;
        }
        if i < n {
            let next = start + Duration::from_secs_f64(i as f64 / cfg.ramp_up_per_sec);
            sleep_until(next, cancel).await;
        }
    }
    let deadline = Instant::now() + CONNECT_TIMEOUT + Duration::from_secs(10);
    while shared.ramp.done.load(Ordering::Relaxed) < i && Instant::now() < deadline {
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = shared.ramp.notify.notified() => {}
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
    }
    handles
}

fn subscribers_per_room(clients: u64, rooms: u64) -> Vec<u64> {
    (0..rooms)
        .map(|r| clients / rooms + u64::from(r < clients % rooms))
        .collect()
}

/// A tag unique to this run: in every marker and room name, so runs
/// against one server never mix.
fn run_tag() -> u32 {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    SplitMix64::new(nanos ^ u64::from(std::process::id())).next_u64() as u32
}

fn room_names(tag: u32, rooms: u64) -> Vec<String> {
    (0..rooms).map(|r| format!("load-{tag:08x}-{r}")).collect()
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
        profile: Some(if cfg.profile.source_name == "built-in" {
            cfg.profile.name.clone()
        } else {
            format!("{} ({})", cfg.profile.name, cfg.profile.source_name)
        }),
    }
}

struct TransportInputs<'a> {
    cfg: &'a Config,
    rec: &'a Recorder,
    tally: Tally,
    published: u64,
    publish_errors: u64,
    window_secs: f64,
    snap_start: &'a Snap,
    snap_end: &'a Snap,
    wire_final: [u64; 4],
    series: Vec<protocol::results::SecondSample>,
    stats_ramp: Option<&'a ServerStats>,
    rss_baseline: u64,
    worker: Option<protocol::results::WorkerShard>,
}

fn transport_result(i: TransportInputs<'_>) -> TransportResult {
    let h = || Histogram::<u64>::new(3).unwrap_or_else(|_| unreachable!("valid precision"));
    let (mut latency, mut publish, mut connect) = (h(), h(), h());
    let mut errors = [0u64; ErrorKind::ALL.len()];
    let (mut reconnects, mut lagged, mut gaps, mut foreign) = (0, 0, 0, 0);
    let mut win = crate::record::WinCounts::default();
    i.rec.each_shard(|s| {
        let _ = latency.add(&s.latency);
        let _ = publish.add(&s.publish);
        let _ = connect.add(&s.connect);
        for (e, n) in errors.iter_mut().zip(s.errors) {
            *e += n;
        }
        reconnects += s.reconnects;
        lagged += s.lagged;
        gaps += s.gaps;
        foreign += s.foreign;
        win.deliveries += s.win.deliveries;
        win.payload_bytes += s.win.payload_bytes;
        win.requests += s.win.requests;
        win.empty += s.win.empty;
    });
    let t = &i.tally;
    let errors: BTreeMap<String, u64> = ErrorKind::ALL
        .iter()
        .map(|k| (k.as_str().to_string(), errors[k.index()]))
        .collect();
    let rss_end = i.snap_end.rss;
    // VmHWM is synced lazily by the kernel; never report a peak below a reading.
    let rss_peak = sys::rss_bytes().1.max(rss_end);
    let cpu = (i.snap_end.cpu - i.snap_start.cpu).max(0.0);
    TransportResult {
        transport: i.cfg.transport,
        clients: i.cfg.clients,
        window_secs: (i.window_secs * 1000.0).round() / 1000.0,
        latency: report::summarize(&latency),
        latency_histogram: report::encode_histogram(&latency),
        publish_latency: report::summarize(&publish),
        publish_latency_histogram: report::encode_histogram(&publish),
        connect_time: report::summarize(&connect),
        connect_time_histogram: report::encode_histogram(&connect),
        rates: report::rates(
            i.window_secs,
            win.deliveries,
            win.requests,
            win.empty,
            i.published,
        ),
        counts: Counts {
            published: i.published,
            publish_errors: i.publish_errors,
            expected: t.expected,
            delivered: t.delivered,
            lost: t.lost,
            duplicate: t.duplicate,
            reordered: t.reordered,
            unexpected: t.unexpected,
            requests: win.requests,
            empty_responses: win.empty,
            reconnects,
            lagged,
            gaps,
            foreign,
            errors,
        },
        wire_bytes: report::wire_bytes(
            i.snap_start.wire,
            i.snap_end.wire,
            win.payload_bytes,
            win.deliveries,
        ),
        wire_bytes_total: report::wire_bytes([0; 4], i.wire_final, 0, 0),
        series: i.series,
        server: report::server_cost(
            i.cfg.transport.as_str(),
            i.stats_ramp,
            i.snap_start.server.as_ref(),
            i.snap_end.server.as_ref(),
            i.window_secs,
        )
        .map(|mut cost| {
            if i.cfg.server_pid.is_some() {
                // /proc knows nothing of connections or deliveries: take
                // what the clients saw.
                cost.connections = i.snap_end.connected;
                cost.deliveries = win.deliveries;
                cost.rss_per_connection_bytes = i.stats_ramp.and_then(|b| {
                    (cost.connections > 0).then(|| {
                        protocol::hist::round2(
                            cost.rss_after_bytes.saturating_sub(b.rss_bytes) as f64
                                / cost.connections as f64,
                        )
                    })
                });
            }
            cost
        }),
        targets: if i.cfg.targets.len() > 1 {
            i.cfg
                .targets
                .iter()
                .zip(&i.snap_end.per_target)
                .map(|(t, n)| protocol::results::TargetShare {
                    url: t.url.clone(),
                    connected: *n,
                })
                .collect()
        } else {
            Vec::new()
        },
        worker: i.worker,
        loadgen: LoadgenCost {
            cpu_seconds: (cpu * 1000.0).round() / 1000.0,
            cpu_percent: if i.window_secs > 0.0 {
                (cpu / i.window_secs * 1000.0).round() / 10.0
            } else {
                0.0
            },
            rss_baseline_bytes: i.rss_baseline,
            rss_bytes: rss_end,
            rss_peak_bytes: rss_peak,
            per_client_rss_bytes: (rss_end.saturating_sub(i.rss_baseline) as f64
                / i.cfg.clients.max(1) as f64)
                .round(),
        },
    }
}
