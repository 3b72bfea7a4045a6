//! For the instruction-count gate's workload (the `gatebench` crate), not
//! for users: this crate's own subscribing clients, started without the
//! runner's clock-paced phases, so a driver can publish in lockstep and
//! every message costs the same instructions on every run. Every message
//! of this run's tag counts (the window is all time).

use crate::config::Config;
use crate::error::Error;
use crate::record::{Clock, Recorder};
use crate::transport::{Client, Endpoint, RampGate, Shared, run_client};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The subscribers of one workload, all in room 0 of the run.
#[derive(Debug)]
pub struct Subscribers {
    shared: Arc<Shared>,
}

impl Subscribers {
    /// Clients of `cfg` (its transport, profile and target), tagged `run_tag`.
    pub fn new(cfg: Config, run_tag: u32) -> Result<Self, Error> {
        cfg.validate()?;
        let targets = Endpoint::all(&cfg, Duration::from_secs(5))?;
        let rec = Arc::new(Recorder::new(Clock::new()));
        rec.set_window(0, u64::MAX);
        Ok(Subscribers {
            shared: Arc::new(Shared {
                rooms: vec![format!("gate-{run_tag:08x}")],
                cfg,
                rec,
                targets,
                publisher_targets: None,
                run_tag,
                ramp: RampGate::default(),
                cancel: CancellationToken::new(),
            }),
        })
    }

    /// Client `index`'s whole life (connect, subscribe, reconnect), to spawn.
    pub fn client(&self, index: u32) -> impl Future<Output = ()> + Send + 'static {
        let c = Client::new(index, 0, self.shared.clone());
        async move {
            run_client(c).await;
        }
    }

    /// The room the clients subscribe to.
    pub fn room(&self) -> &str {
        &self.shared.rooms[0]
    }

    /// Clients connected now.
    pub fn connected(&self) -> u64 {
        self.shared.rec.connected.load(Ordering::Relaxed).max(0) as u64
    }

    /// First receipts of this run's messages so far, over all clients.
    pub fn deliveries(&self) -> u64 {
        self.shared.rec.window_first_total()
    }

    /// Client errors so far (any kind): a clean workload has none.
    pub fn errors(&self) -> u64 {
        let mut n = 0;
        self.shared
            .rec
            .each_shard(|s| n += s.errors.iter().sum::<u64>());
        n
    }

    /// Ends every client (they return at their next await).
    pub fn stop(&self) {
        self.shared.cancel.cancel();
    }
}
