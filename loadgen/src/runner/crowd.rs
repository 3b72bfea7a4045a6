//! A staged run's clients: they join and leave during the window so that
//! the connected count follows the stages' target (`--stages 1m:500c`).
//! The highest-numbered client leaves first, and a client that comes back
//! later is a new one (a new task, a new coherence record).

use crate::stages::Plan;
use crate::transport::{Client, Outcome, Shared, run_client};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How often the target count is looked at: at 1000 joins per second, 20
/// at a time.
const TICK: Duration = Duration::from_millis(20);

/// Follow `plan`'s client count from `start` until `end` (or `cancel`),
/// then leave the clients of the last moment connected (the drain needs
/// them; the run stops them). Returns every client task it started.
pub(super) async fn follow(
    shared: Arc<Shared>,
    plan: Plan,
    (start, end): (Instant, Instant),
    cancel: CancellationToken,
) -> Vec<JoinHandle<Outcome>> {
    let rooms = shared.cfg.rooms;
    let mut handles = Vec::new();
    let mut present: Vec<CancellationToken> = Vec::new();
    let mut tick = tokio::time::interval_at(start.into(), TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = tick.tick() => {}
        }
        let now = Instant::now();
        let t = now.saturating_duration_since(start).as_secs_f64();
        let want = plan.clients_at(t) as usize;
        while present.len() < want {
            let i = present.len() as u64;
            let client = Client::new(i as u32, (i % rooms) as u32, shared.clone());
            present.push(client.cancel().clone());
            handles.push(tokio::spawn(run_client(client)));
        }
        while present.len() > want {
            if let Some(leaving) = present.pop() {
                leaving.cancel();
            }
        }
        if now >= end {
            break;
        }
    }
    handles
}
