//! Simulated subscribing clients: one module per transport behind one small
//! interface, so pacing, recording and transport stay separate axes.
//!
//! The interface is [`Client`]: a transport module exports
//! `async fn session(&mut Client) -> Result<End, ClientError>` that opens one
//! connection (via [`Client::dial`]), subscribes from [`Client::cursor`],
//! reports what arrives through [`Client::receive`] and [`Client::request`],
//! and returns when the connection ends. [`run_client`] owns everything
//! else: reconnecting with backoff, counting errors and reconnects, and
//! handing the coherence record back at the end.

pub mod long_poll;
mod poll;
pub mod short_poll;
pub mod sse;
pub mod ws;

use crate::coherence::Tracker;
use crate::config::Config;
use crate::error::{ClientError, ErrorKind};
use crate::net::{CountingStream, Dialer, WireCounter};
use crate::record::{Recorder, record};
use crate::rng::SplitMix64;
use crate::wire::MsgRef;
use protocol::Transport;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// How a session ended without an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// The run is over.
    Cancelled,
    /// The server dropped us for falling behind; resume at once.
    Lagged,
}

/// Messages a push client asks for when it must resume without a cursor
/// (connected, but nothing received yet): the server's default history, so
/// nothing published while it was away is missed.
const RESUME_HISTORY: u32 = 1024;

/// Longest silence on a push stream before it counts as dead (the server
/// sends heartbeats far more often).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Longest wait for a poll or publish answer beyond what was asked for.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Counts clients that finished their first connect attempt (ramp-up waits on it).
#[derive(Debug, Default)]
pub struct RampGate {
    pub done: AtomicU64,
    pub notify: Notify,
}

/// What every client of a run shares.
#[derive(Debug)]
pub struct Shared {
    pub cfg: Config,
    pub rec: Arc<Recorder>,
    pub dialer: Dialer,
    pub authority: Arc<str>,
    pub rooms: Vec<String>,
    pub ramp: RampGate,
    /// Cancelled when the run ends (clients only; publishers have their own).
    pub cancel: CancellationToken,
}

/// One simulated subscriber.
#[derive(Debug)]
pub struct Client {
    pub index: u32,
    pub room: u32,
    pub shared: Arc<Shared>,
    pub counter: Arc<WireCounter>,
    /// Id of the last message received; resume point.
    pub cursor: Option<String>,
    pub tracker: Tracker,
    pub rng: SplitMix64,
    /// Short poll: when the next poll is due (kept across reconnects, so the
    /// random phase survives).
    pub next_poll: Option<Instant>,
    connected: bool,
    ever_connected: bool,
    ramp_signalled: bool,
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
        Client {
            index,
            room,
            shared,
            counter,
            cursor: None,
            tracker: Tracker::default(),
            rng,
            next_poll: None,
            connected: false,
            ever_connected: false,
            ramp_signalled: false,
        }
    }

    pub fn room_name(&self) -> &str {
        &self.shared.rooms[self.room as usize]
    }

    pub fn cancel(&self) -> &CancellationToken {
        &self.shared.cancel
    }

    /// Query to subscribe with: `since=ID` to resume, `history=0` the first
    /// time (live from now), a full history when resuming without a cursor.
    pub fn subscribe_query(&self) -> String {
        match &self.cursor {
            Some(c) => format!("since={c}"),
            None if self.ever_connected => format!("history={RESUME_HISTORY}"),
            None => "history=0".to_string(),
        }
    }

    /// Open a TCP connection (waiting for a handshake slot first).
    pub async fn dial(&self) -> Result<CountingStream<TcpStream>, ClientError> {
        self.shared
            .dialer
            .dial(self.index as usize, &self.counter)
            .await
    }

    pub fn dialer(&self) -> &Dialer {
        &self.shared.dialer
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
        }
        self.ever_connected = true;
        self.ramp_done();
    }

    fn disconnected(&mut self) {
        if self.connected {
            self.connected = false;
            self.shared.rec.connected.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Tell ramp-up this client's first attempt is over (once).
    fn ramp_done(&mut self) {
        if !self.ramp_signalled {
            self.ramp_signalled = true;
            self.shared.ramp.done.fetch_add(1, Ordering::Relaxed);
            self.shared.ramp.notify.notify_one();
        }
    }

    /// One subscribe request (or stream) answered; `empty` when it carried no message.
    pub fn request(&self, empty: bool) {
        let rec = &self.shared.rec;
        let in_window = rec.in_window(rec.clock.now_us());
        let mut s = rec.shard();
        s.sec.requests += 1;
        s.sec.empty += u64::from(empty);
        if in_window {
            s.win.requests += 1;
            s.win.empty += u64::from(empty);
        }
    }

    /// Messages that arrived together at `now_us`: update the cursor, the
    /// coherence record and the histograms.
    pub fn receive<'a>(&mut self, now_us: u64, msgs: impl IntoIterator<Item = &'a MsgRef<'a>>) {
        let rec = self.shared.rec.clone();
        let recv_in_window = rec.in_window(now_us);
        let publishers = self.shared.cfg.publishers;
        let mut s = rec.shard();
        for m in msgs {
            if let Some(id) = &m.id {
                set_cursor(&mut self.cursor, id);
            }
            let Some((p, seq, sent_us, text_len)) = m.stamp() else {
                continue;
            };
            if u64::from(p) >= publishers {
                continue; // someone else's publisher in our room: not ours to judge
            }
            let latency = now_us.saturating_sub(sent_us);
            if rec.in_window(sent_us) {
                if !self.tracker.receive(p, seq) {
                    continue; // duplicate: counted by the tracker, not a delivery
                }
                record(&mut s.latency, latency);
                s.window_first += 1;
            }
            record(&mut s.sec_latency, latency);
            s.sec.deliveries += 1;
            if recv_in_window {
                s.win.deliveries += 1;
                s.win.payload_bytes += text_len as u64;
            }
        }
    }

    /// The server reported a lag: count it; the next session resumes.
    pub fn lagged(&mut self, cursor: Option<&str>) {
        self.shared.rec.shard().lagged += 1;
        if let (None, Some(c)) = (&self.cursor, cursor) {
            self.cursor = Some(c.to_string());
        }
    }

    /// The server said our resume cursor was older than its history.
    pub fn gap(&self) {
        self.shared.rec.shard().gaps += 1;
    }

    /// Backoff before reconnect attempt `n` (1-based): 100 ms doubling to 5 s,
    /// with jitter so a restarted server is not hit by every client at once.
    fn backoff(&mut self, n: u32) -> Duration {
        let base = 100u64.saturating_mul(1 << n.min(6)).min(5000);
        Duration::from_millis(base / 2 + (self.rng.next_f64() * (base / 2) as f64) as u64)
    }
}

fn set_cursor(cursor: &mut Option<String>, id: &str) {
    match cursor {
        Some(c) => {
            c.clear();
            c.push_str(id);
        }
        None => *cursor = Some(id.to_string()),
    }
}

/// Run one client until the run is cancelled, reconnecting after drops.
pub async fn run_client(mut c: Client) -> Outcome {
    let mut failures = 0u32;
    loop {
        if c.cancel().is_cancelled() {
            break;
        }
        // Boxed: a client's task then holds only its own transport's
        // session state, not the largest of the four (~2 KiB saved per
        // client on every transport but WebSocket).
        let res = match c.shared.cfg.transport {
            Transport::ShortPoll => Box::pin(short_poll::session(&mut c)).await,
            Transport::LongPoll => Box::pin(long_poll::session(&mut c)).await,
            Transport::Sse => Box::pin(sse::session(&mut c)).await,
            Transport::Ws => Box::pin(ws::session(&mut c)).await,
        };
        let was_connected = c.connected;
        c.disconnected();
        match res {
            Ok(End::Cancelled) => break,
            Ok(End::Lagged) => failures = 0,
            Err(_) if c.cancel().is_cancelled() => break,
            Err(e) => {
                c.shared.rec.error(&e);
                c.ramp_done();
                failures = if was_connected { 1 } else { failures + 1 };
                let wait = c.backoff(failures);
                tokio::select! {
                    _ = c.shared.cancel.cancelled() => break,
                    _ = tokio::time::sleep(wait) => {}
                }
            }
        }
    }
    c.disconnected();
    Outcome {
        room: c.room,
        tracker: c.tracker,
    }
}

/// Await `fut` unless the run is cancelled or `limit` passes.
pub async fn bounded<T>(
    cancel: &CancellationToken,
    limit: Duration,
    what: &'static str,
    fut: impl Future<Output = Result<T, ClientError>>,
) -> Result<Option<T>, ClientError> {
    tokio::select! {
        _ = cancel.cancelled() => Ok(None),
        r = tokio::time::timeout(limit, fut) => match r {
            Ok(v) => v.map(Some),
            Err(_) => Err(ClientError::new(ErrorKind::Timeout, what)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Memory per client is the scale limit: each client's task must hold
    /// only its own (boxed) session, never the largest of the four.
    #[test]
    fn client_task_stays_small() {
        fn size<F: Future>(_: &F) -> usize {
            std::mem::size_of::<F>()
        }
        let cfg = Config::new("http://127.0.0.1:1", Transport::Ws).expect("cfg");
        let shared = Arc::new(Shared {
            dialer: Dialer::new(cfg.target.addr, vec![], Duration::from_secs(1)),
            cfg,
            rec: Arc::new(Recorder::new(crate::record::Clock::new())),
            authority: "x".into(),
            rooms: vec!["r".into()],
            ramp: RampGate::default(),
            cancel: CancellationToken::new(),
        });
        let task = size(&run_client(Client::new(1, 0, shared.clone())));
        assert!(task <= 1024, "run_client future is {task} bytes");
        let mut c = Client::new(0, 0, shared);
        let short = size(&short_poll::session(&mut c));
        let long = size(&long_poll::session(&mut c));
        let sse = size(&sse::session(&mut c));
        let ws = size(&ws::session(&mut c));
        let sizes = [
            ("short-poll", short),
            ("long-poll", long),
            ("sse", sse),
            ("ws", ws),
        ];
        for (name, n) in sizes {
            assert!(n <= 6 * 1024, "{name} session future is {n} bytes");
        }
    }
}
