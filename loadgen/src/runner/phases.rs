//! The phases of a run once the targets answered: ramp-up, warm-up and the
//! measured window (publishing), drain, and stopping the clients.

use super::stats::{Snap, snapshot};
use super::{CONNECT_TIMEOUT, RunWarning};
use crate::coherence::{Expected, Receipts, Tally};
use crate::error::Error;
use crate::publisher::{PubOutcome, run_publisher};
use crate::transport::{Client, Outcome, Shared, run_client};
use protocol::results::Phase;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Spawn clients at `--ramp-up` per second, then wait (bounded) until each
/// finished its first connect attempt.
pub(super) async fn ramp_up(
    shared: &Arc<Shared>,
    cancel: &CancellationToken,
) -> Vec<JoinHandle<Outcome>> {
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

/// The warm-up and the measured window, fixed before the first publish.
pub(super) struct Window {
    /// Publishing (and warm-up) starts.
    pub_start: Instant,
    /// The measured window.
    pub(super) start: Instant,
    pub(super) end: Instant,
    /// `pub_start` and the window's end on the run clock (µs).
    start_us: u64,
    end_us: u64,
}

impl Window {
    /// Stamps and window bounds in whole µs from one origin: with
    /// --start-at, the same on every worker, so a message is in the window
    /// for all of them or for none.
    fn plan(shared: &Shared, warnings: &mut Vec<RunWarning>) -> Window {
        let (cfg, rec) = (&shared.cfg, &shared.rec);
        let pub_start = publish_start(cfg.start_at, warnings);
        let start = pub_start + cfg.warmup;
        let start_us = match cfg.start_at {
            Some(at) => (at * 1e6).round() as u64,
            None => rec.clock.at_us(pub_start),
        };
        let window_start_us = start_us + cfg.warmup.as_micros() as u64;
        let end_us = window_start_us + cfg.duration.as_micros() as u64;
        rec.set_window(window_start_us, end_us);
        if let Some(st) = &cfg.stages {
            let at = |secs: f64| window_start_us + (secs * 1e6).round() as u64;
            rec.set_stages(st.plan.segments.iter().map(|s| at(s.start)).collect());
        }
        Window {
            pub_start,
            start,
            end: start + cfg.duration,
            start_us,
            end_us,
        }
    }
}

/// When publishing starts: now, or at `--start-at` (a UNIX time shared by
/// the workers of a distributed run); a warning when that is already past.
fn publish_start(start_at: Option<f64>, warnings: &mut Vec<RunWarning>) -> Instant {
    let Some(at) = start_at else {
        return Instant::now();
    };
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    if at < now - 0.05 {
        warnings.push(RunWarning::LateStart { secs: now - at });
        Instant::now()
    } else {
        Instant::now() + Duration::from_secs_f64((at - now).max(0.0))
    }
}

/// Fix the window, enter warm-up and spawn the publishers.
pub(super) fn start_publishing(
    shared: &Arc<Shared>,
    cancel: &CancellationToken,
    warnings: &mut Vec<RunWarning>,
) -> (Window, Vec<JoinHandle<PubOutcome>>) {
    let window = Window::plan(shared, warnings);
    let (cfg, rec) = (&shared.cfg, &shared.rec);
    rec.set_phase(Phase::Warmup);
    let connected_now = rec.connected.load(Ordering::Relaxed).max(0) as u64;
    let staged_clients = cfg.stages.as_ref().is_some_and(|s| s.text.names_clients());
    if connected_now < cfg.clients && !staged_clients {
        warnings.push(RunWarning::NotAllConnected {
            connected: connected_now,
            clients: cfg.clients,
        });
    }
    let pub_cancel = cancel.child_token();
    let publishers = (0..cfg.publishers as u32)
        .map(|i| {
            tokio::spawn(run_publisher(
                i,
                shared.clone(),
                (window.pub_start, window.start_us),
                window.end_us,
                pub_cancel.clone(),
            ))
        })
        .collect();
    (window, publishers)
}

/// The measured window, between two snapshots.
pub(super) struct Measured {
    pub start: Snap,
    pub end: Snap,
    /// Its length as measured (from snapshot to snapshot).
    pub secs: f64,
    /// The run was cancelled before the window ended.
    pub cancelled: bool,
}

/// Wait through warm-up and the window; snapshot at both boundaries.
pub(super) async fn measure(
    shared: &Shared,
    window: &Window,
    cancel: &CancellationToken,
) -> Measured {
    let rec = &shared.rec;
    let mut cancelled = !sleep_until(window.start, cancel).await;
    rec.set_phase(Phase::Measure);
    let start = snapshot(rec, shared).await;
    if !cancelled {
        cancelled = !sleep_until(window.end, cancel).await;
    }
    rec.set_phase(Phase::Drain);
    let end = snapshot(rec, shared).await;
    let secs = end.at.saturating_duration_since(start.at).as_secs_f64();
    Measured {
        start,
        end,
        secs,
        cancelled,
    }
}

/// What the publishers acknowledged in the window.
pub(super) struct Published {
    /// Per room and publisher: the seqs every subscriber should get.
    pub expected: Expected,
    pub count: u64,
    pub errors: u64,
}

/// Publishers finish their last in-flight publish.
pub(super) async fn join_publishers(
    handles: Vec<JoinHandle<PubOutcome>>,
    rooms: usize,
) -> Result<Published, Error> {
    let mut p = Published {
        expected: Expected::new(rooms),
        count: 0,
        errors: 0,
    };
    for h in handles {
        let o = h
            .await
            .map_err(|e| Error::Internal(format!("publisher task: {e}")))?;
        p.count += o.published;
        p.errors += o.errors;
        for (room, starts) in o.stage_starts.into_iter().enumerate() {
            p.expected.add_stages(room, o.index, starts);
        }
        for (room, seqs) in o.acked.into_iter().enumerate() {
            p.expected.add(room, o.index, seqs);
        }
    }
    Ok(p)
}

/// A staged run's drain ends once no delivery came for this long.
const QUIET: Duration = Duration::from_millis(500);

/// Drain: until every expected delivery arrived, or the drain time is up.
/// Returns whether the run was cancelled (before or during the drain).
pub(super) async fn drain(
    shared: &Shared,
    window: &Window,
    published: &Published,
    mut cancelled: bool,
    cancel: &CancellationToken,
) -> bool {
    let (cfg, rec) = (&shared.cfg, &shared.rec);
    let drain_deadline = window.end + cfg.effective_drain();
    if cfg.stages.as_ref().is_some_and(|s| s.text.names_clients()) {
        // Who should still get what is not known while clients come and
        // go: wait until deliveries stop (or the drain time is up).
        let mut seen = rec.window_first_total();
        let mut quiet_since = Instant::now();
        while !cancelled && Instant::now() < drain_deadline && quiet_since.elapsed() < QUIET {
            tokio::select! {
                _ = cancel.cancelled() => cancelled = true,
                _ = tokio::time::sleep(Duration::from_millis(20)) => {}
            }
            let now_seen = rec.window_first_total();
            if now_seen != seen {
                (seen, quiet_since) = (now_seen, Instant::now());
            }
        }
        return cancelled;
    }
    let per_room = subscribers_per_room(cfg.clients, cfg.rooms);
    let expected_total: u64 = (0..shared.rooms.len())
        .map(|r| published.expected.in_room(r) * per_room[r])
        .sum();
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
        cancelled = !sleep_until(grace, cancel).await;
    }
    cancelled
}

/// The subscribers' coherence records, judged against what was published.
pub(super) struct Collected {
    pub tally: Tally,
    /// A distributed run's raw receipts, for merging across workers.
    pub receipts: Option<Receipts>,
    /// Clients that did not stop in time (counted as receiving nothing).
    pub stuck: u64,
}

/// Stop the clients and collect their coherence records.
pub(super) async fn stop_clients(
    shared: &Shared,
    clients: Vec<JoinHandle<Outcome>>,
    expected: &Expected,
) -> Result<Collected, Error> {
    shared.cancel.cancel();
    let cfg = &shared.cfg;
    let own = cfg.own_publishers();
    let mut c = Collected {
        tally: Tally {
            span_only: cfg.stages.as_ref().is_some_and(|s| s.text.names_clients()),
            ..Tally::for_transport(cfg.transport)
        },
        receipts: (cfg.workers > 1).then(|| Receipts::new(shared.rooms.len())),
        stuck: 0,
    };
    let join_deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    for (i, mut h) in clients.into_iter().enumerate() {
        let room = i % shared.rooms.len();
        match tokio::time::timeout_at(join_deadline, &mut h).await {
            Ok(Ok(Outcome { room, tracker })) => {
                c.tally.add(expected, room as usize, &tracker, &own);
                if let Some(r) = c.receipts.as_mut() {
                    r.add(room as usize, &tracker);
                }
            }
            Ok(Err(e)) => return Err(Error::Internal(format!("client task: {e}"))),
            Err(_) => {
                h.abort();
                c.stuck += 1;
                c.tally.add(expected, room, &Default::default(), &own);
                if let Some(r) = c.receipts.as_mut() {
                    r.add(room, &Default::default());
                }
            }
        }
    }
    Ok(c)
}

/// Sleep until `t`; false if cancelled first.
async fn sleep_until(t: Instant, cancel: &CancellationToken) -> bool {
    tokio::select! {
        _ = cancel.cancelled() => false,
        _ = tokio::time::sleep_until(t.into()) => true,
    }
}

fn subscribers_per_room(clients: u64, rooms: u64) -> Vec<u64> {
    (0..rooms)
        .map(|r| clients / rooms + u64::from(r < clients % rooms))
        .collect()
}
