//! One simulated subscriber's state, and the connection bookkeeping every
//! transport shares (connect time, reconnects, who is connected, ramp-up).

use super::{Endpoint, Shared};
use crate::coherence::Tracker;
use crate::error::ClientError;
use crate::net::{Dialer, Purpose, Stream, WireCounter};
use crate::profile::{Sub, Vars};
use crate::record::record;
use crate::rng::SplitMix64;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;
use tokio_util::sync::CancellationToken;

/// One simulated subscriber.
#[derive(Debug)]
pub struct Client {
    pub index: u32,
    pub room: u32,
    /// Which of `Shared::targets` this client talks to.
    pub target: u32,
    pub shared: Arc<Shared>,
    pub counter: Arc<WireCounter>,
    /// One resume value per cursor rule of the profile.
    pub cursors: Box<[Option<String>]>,
    pub tracker: Tracker,
    pub rng: SplitMix64,
    /// Short poll: when the next poll is due (kept across reconnects, so the
    /// random phase survives).
    pub next_poll: Option<Instant>,
    pub(super) connected: bool,
    ever_connected: bool,
    /// Sessions started; from the second on, a client without a cursor
    /// resumes (`resume_query`) instead of starting live (`first_query`).
    pub(super) sessions: u32,
    ramp_signalled: bool,
    /// Cancelled when the run ends or, in a staged run, when this client
    /// leaves (a child of `Shared::cancel`).
    leave: CancellationToken,
}

/// What a finished client hands back.
#[derive(Debug)]
pub struct Outcome {
    pub room: u32,
    pub tracker: Tracker,
}

impl Client {
    pub fn new(index: u32, room: u32, shared: Arc<Shared>) -> Self {
        let counter = shared.rec.subscriber_counter();
        let rng = SplitMix64::derive(shared.cfg.seed, 2, u64::from(index));
        let rules = shared.sub().cursors.len();
        let target = index % shared.targets.len().max(1) as u32;
        Client {
            index,
            room,
            target,
            // A token of its own only where clients leave one by one: a
            // child token costs memory per client, a clone does not.
            leave: match &shared.cfg.stages {
                Some(st) if st.text.names_clients() => shared.cancel.child_token(),
                _ => shared.cancel.clone(),
            },
            shared,
            counter,
            cursors: vec![None; rules].into_boxed_slice(),
            tracker: Tracker::default(),
            rng,
            next_poll: None,
            connected: false,
            ever_connected: false,
            sessions: 0,
            ramp_signalled: false,
        }
    }

    pub fn room_name(&self) -> &str {
        &self.shared.rooms[self.room as usize]
    }

    /// Cancelled when this client should stop: the run ended, or (in a
    /// staged run) the client count came down past it.
    pub fn cancel(&self) -> &CancellationToken {
        &self.leave
    }

    /// The profile's section for this run's transport.
    pub fn sub(&self) -> &Sub {
        self.shared.sub()
    }

    /// Template values for this client.
    pub fn vars<'a>(&'a self, name: &'a str) -> Vars<'a> {
        Vars {
            room: self.room_name(),
            client: name,
            payload: "",
            wait_secs: self.shared.cfg.long_poll_wait.as_secs_f64(),
        }
    }

    /// The server instance this client talks to now.
    pub fn endpoint(&self) -> &Endpoint {
        &self.shared.targets[self.target as usize]
    }

    /// Open a connection for `purpose` (TLS if the target is https).
    pub async fn dial(&self, purpose: Purpose) -> Result<Stream, ClientError> {
        self.endpoint()
            .dialer
            .dial(self.index as usize, &self.counter, purpose)
            .await
    }

    pub fn dialer(&self) -> &Dialer {
        &self.endpoint().dialer
    }

    pub fn authority(&self) -> &Arc<str> {
        &self.endpoint().authority
    }

    /// The connection is up (after the handshake that makes it usable).
    pub fn connected(&mut self, started: Instant) {
        let us = started.elapsed().as_micros() as u64;
        {
            let mut s = self.shared.rec.shard();
            record(&mut s.connect, us);
            if self.ever_connected {
                s.reconnects += 1;
            }
        }
        if !self.connected {
            self.connected = true;
            self.shared.rec.connected.fetch_add(1, Ordering::Relaxed);
            self.endpoint().connected.fetch_add(1, Ordering::Relaxed);
        }
        self.ever_connected = true;
        self.ramp_done();
    }

    pub(super) fn disconnected(&mut self) {
        if self.connected {
            self.connected = false;
            self.shared.rec.connected.fetch_sub(1, Ordering::Relaxed);
            self.endpoint().connected.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Tell ramp-up this client's first attempt is over (once).
    pub(super) fn ramp_done(&mut self) {
        if !self.ramp_signalled {
            self.ramp_signalled = true;
            self.shared.ramp.done.fetch_add(1, Ordering::Relaxed);
            self.shared.ramp.notify.notify_one();
        }
    }
}
