//! One run, phase by phase: preflight → ramp-up (connect at the set rate)
//! → warm-up (publishing, not recorded) → measured window → drain (wait
//! for in-flight messages) → results.
//!
//! `preflight` checks the process and the targets before anything starts,
//! `phases` drives the run through its phases, `stats` reads the server's
//! cost at the phase boundaries, `assemble` turns it all into the result
//! file, and `warning` says what the results should be read with.

mod assemble;
mod crowd;
mod phases;
mod preflight;
mod staged;
mod stats;
mod warning;

pub(crate) use warning::RunWarning;

use crate::config::Config;
use crate::error::Error;
use crate::record::{Clock, Recorder};
use crate::rng::SplitMix64;
use crate::sampler::Sampler;
use crate::sys;
use crate::transport::{Endpoint, RampGate, Shared};
use protocol::results::ResultFile;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
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
    /// `file.warnings`, typed.
    pub(crate) warnings: Vec<RunWarning>,
}

impl RunResults {
    /// No loss, no failed publish, no error, not partial.
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Longest TCP connect (and TLS handshake) of a client.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Run the scenario against the target until done or `cancel`.
pub async fn run(mut cfg: Config, cancel: CancellationToken) -> Result<RunResults, Error> {
    cfg.validate()?;
    let created = sys::rfc3339(SystemTime::now());
    let mut warnings = Vec::new();
    preflight::check_limits(&cfg, &mut warnings)?;
    preflight::resolve(&mut cfg).await?;
    let targets = Endpoint::all(&cfg, CONNECT_TIMEOUT)?;
    let pub_targets = Endpoint::for_publishers(&cfg, CONNECT_TIMEOUT)?;
    for ep in targets.iter().chain(pub_targets.iter().flatten()) {
        preflight::preflight(&cfg, ep).await?;
    }
    let stats_ramp = stats::server_stats(&cfg, &targets).await;
    if stats_ramp.is_none() {
        warnings.push(stats::not_recorded(&cfg));
    }
    let (shared, rss_baseline) = share(&cfg, (targets, pub_targets), &cancel);
    let rec = shared.rec.clone();
    if let Some(live) = &cfg.metrics {
        let targets: Vec<&str> = cfg.targets.iter().map(|t| t.url.as_str()).collect();
        live.start_run(cfg.transport, &targets.join(","), cfg.clients);
        live.serve();
    }
    let sampler = Sampler::spawn(rec.clone(), &cfg);

    // Staged clients join and leave in the window; the others connect first.
    let crowd_plan = cfg.stages.as_ref().filter(|s| s.text.names_clients());
    let mut clients = match crowd_plan {
        Some(_) => Vec::new(),
        None => phases::ramp_up(&shared, &cancel).await,
    };
    let (window, publishers) = phases::start_publishing(&shared, &cancel, &mut warnings);
    let crowd = crowd_plan.map(|s| {
        let bounds = (window.start, window.end);
        tokio::spawn(crowd::follow(
            shared.clone(),
            s.plan.clone(),
            bounds,
            cancel.clone(),
        ))
    });
    let measured = phases::measure(&shared, &window, &cancel).await;
    if let Some(crowd) = crowd {
        clients = crowd
            .await
            .map_err(|e| Error::Internal(format!("staged clients: {e}")))?;
    }
    let published = phases::join_publishers(publishers, shared.rooms.len()).await?;
    let cancelled = phases::drain(&shared, &window, &published, measured.cancelled, &cancel).await;
    let collected = phases::stop_clients(&shared, clients, &published.expected).await?;
    if collected.stuck > 0 {
        warnings.push(RunWarning::StuckClients {
            count: collected.stuck,
        });
    }
    let wire_final = rec.wire_totals();
    let series = sampler.finish().await;
    let lost_targets = preflight::lost_targets(&cfg, &shared.targets).await;

    Ok(assemble::results(assemble::Finished {
        cfg: &cfg,
        rec: &rec,
        created,
        run_tag: shared.run_tag,
        cancelled,
        lost_targets,
        warnings,
        published,
        collected,
        measured,
        wire_final,
        series,
        stats_ramp,
        rss_baseline,
    }))
}

/// What the clients and publishers of the run share, and the process's
/// memory just before they exist (the baseline of per-client memory).
/// `targets`: the clients' endpoints and the publishers' own (if any).
fn share(
    cfg: &Config,
    targets: (Vec<Endpoint>, Option<Vec<Endpoint>>),
    cancel: &CancellationToken,
) -> (Arc<Shared>, u64) {
    let (targets, publisher_targets) = targets;
    // Workers of one distributed run share the tag (so each other's
    // messages are theirs, not foreign) and hence the room names.
    let run_tag = match cfg.start_at {
        Some(t) => SplitMix64::new((t * 1000.0) as u64 ^ 0x7274_6231).next_u64() as u32,
        None => run_tag(),
    };
    let rec = if cfg.trace {
        Recorder::with_trace(Clock::new())
    } else {
        Recorder::new(Clock::new())
    };
    // Each subscriber is a phone only where the network is a phone's.
    let rec = Arc::new(if cfg.network.is_some() {
        rec.with_radio()
    } else {
        rec
    });
    sys::trim_heap();
    let (rss_baseline, _) = sys::rss_bytes();
    let shared = Arc::new(Shared {
        cfg: cfg.clone(),
        rec,
        targets,
        publisher_targets,
        rooms: crate::rooms::names(run_tag, cfg.rooms, cfg.room_prefix.as_deref()),
        run_tag,
        ramp: RampGate::default(),
        cancel: cancel.child_token(),
    });
    (shared, rss_baseline)
}

/// A tag unique to this run: in every marker and room name, so runs
/// against one server never mix.
fn run_tag() -> u32 {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    SplitMix64::new(nanos ^ u64::from(std::process::id())).next_u64() as u32
}
