//! Open-loop publishers (as wrk2): each has a schedule of intended send
//! times (constant or Poisson) fixed in advance and stamps `sent_us` with the
//! *intended* time, so a publish that goes out late, because the server or
//! the previous publish was slow, shows up as latency instead of silently
//! lowering the rate (coordinated omission). Failed publishes are counted,
//! never retried.
//!
//! Publisher `p`'s `k`-th message goes to room `(p + k·P) mod R`, so every
//! room gets an equal share, and `seq` counts per (publisher, room) so each
//! subscriber sees a gap-free sequence from every publisher (see `coherence`).
//!
//! `schedule` holds the intended times; `http`, `ws`, `socketio` and
//! `webtransport` send
//! one publish each way (`ws` also turns echoes into acknowledgements,
//! `socketio` and `webtransport` wait for the acknowledgement).

mod http;
mod schedule;
mod socketio;
mod webtransport;
mod ws;

use schedule::Schedule;

use crate::error::{ClientError, ErrorKind};
use crate::http::HttpConn;
use crate::marker::Stamp;
use crate::net::WireCounter;
use crate::profile::Vars;
use crate::record::record;
use crate::transport::Shared;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use protocol::Transport;
use protocol::results::PublishVia;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use ws::{Echoes, PubWs, WsPub};

/// What one publisher did in the measured window.
#[derive(Debug, Default)]
pub struct PubOutcome {
    pub index: u32,
    /// Per room: acknowledged seqs whose intended time fell in the window.
    pub acked: Vec<Vec<u64>>,
    /// A staged run, per room: the first seq of each stage (stage `k`'s
    /// messages are the seqs from its entry up to the next one's).
    pub stage_starts: Vec<Vec<u64>>,
    pub published: u64,
    pub errors: u64,
}

/// Run publisher `index` from `start` (`start_us` on the run clock) until
/// intended times reach `end_us`.
pub async fn run_publisher(
    index: u32,
    sh: Arc<Shared>,
    (start, start_us): (Instant, u64),
    end_us: u64,
    cancel: CancellationToken,
) -> PubOutcome {
    let mut p = Publisher::new(index, &sh);
    let mut in_flight = FuturesUnordered::new();
    'schedule: for k in 0u64.. {
        let offset = p.schedule.next_offset();
        if !offset.is_finite() || offset > 1e7 {
            break;
        }
        let intended = start + Duration::from_secs_f64(offset);
        let sent_us = start_us + (offset * 1e6).round() as u64;
        if sent_us >= end_us || p.gave_up(sent_us, start_us, end_us) {
            break;
        }
        // Until it is due, settle the HTTP publishes that finish meanwhile.
        let due = sleep_precise(intended);
        tokio::pin!(due);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break 'schedule,
                Some(done) = in_flight.next() => {
                    if !p.settle(done, &cancel) {
                        break 'schedule;
                    }
                }
                _ = idle_closed(&mut p.http), if in_flight.is_empty() => p.keep_warm().await,
                _ = &mut due => break,
            }
        }
        if sh.cfg.publish_via != PublishVia::Http {
            if !p.publish(k, sent_us, &cancel).await {
                break;
            }
            continue;
        }
        // At most `max_in_flight` at once: a publish due while all are busy
        // waits for one (and the wait shows as its latency).
        while in_flight.len() >= p.max_in_flight {
            let Some(done) = in_flight.next().await else {
                break;
            };
            if !p.settle(done, &cancel) {
                break 'schedule;
            }
        }
        in_flight.push(p.start_http(k, sent_us));
    }
    while let Some(done) = in_flight.next().await {
        p.settle(done, &cancel);
    }
    p.finish(&cancel).await
}

/// Connections a browser opens to one host at most (HTTP/1.1): a phone's
/// publishes may be in flight at once up to this.
const PHONE_CONNECTIONS: usize = 6;

/// One publisher's state through the run.
struct Publisher<'a> {
    sh: &'a Shared,
    /// Across the workers of a distributed run, publisher numbers are
    /// global (worker K's are K·P … K·P+P−1), so their schedules interleave
    /// and every marker names one publisher.
    index: u32,
    /// Publishers of all workers.
    publishers: u32,
    schedule: Schedule,
    counter: Arc<WireCounter>,
    /// The name in templates (`{pub}`) and tokens.
    id: String,
    out: PubOutcome,
    /// The next seq per room.
    seqs: Vec<u64>,
    /// Idle HTTP connections.
    http: Vec<HttpConn>,
    /// HTTP publishes at once: 1 on loopback (the next publish waits for the
    /// previous answer, which comes at once), [`PHONE_CONNECTIONS`] over an
    /// emulated network, where each publisher is one phone and a publish
    /// takes a round trip.
    max_in_flight: usize,
    /// One socket per room.
    ws: Vec<Option<WsPub>>,
    /// One Socket.IO socket per room (`--publish-via socketio`).
    sio: Vec<Option<socketio::SioPub>>,
    /// One WebTransport session per room (`--publish-via webtransport`).
    wt: Vec<Option<webtransport::WtPub>>,
    /// WebSocket publishes acknowledged by their echo (see `ws`).
    echo_acks: bool,
    echoes: Vec<Echoes>,
    /// Window publishes sent, when echoes acknowledge them.
    sent_in_window: u64,
    /// Source address slot (after the clients').
    slot: usize,
    /// Which of the run's targets it publishes to now.
    target: usize,
}

impl<'a> Publisher<'a> {
    fn new(local: u32, sh: &'a Shared) -> Self {
        let cfg = &sh.cfg;
        let rooms = sh.rooms.len();
        let index = cfg.worker_id * cfg.publishers as u32 + local;
        let publishers = cfg.publishers as u32 * cfg.workers;
        let per_pub_rate = cfg.rate_per_sec / f64::from((cfg.publishers as u32).max(1));
        Publisher {
            sh,
            index,
            publishers,
            schedule: match &cfg.stages {
                Some(st) => Schedule::staged(st.clone(), cfg.arrival, cfg.seed, index, publishers),
                None => Schedule::new(per_pub_rate, cfg.arrival, cfg.seed, index, publishers),
            },
            counter: sh.rec.publisher_counter(),
            id: format!("p{index}"),
            out: PubOutcome {
                index,
                acked: vec![Vec::new(); rooms],
                stage_starts: vec![Vec::new(); rooms],
                ..PubOutcome::default()
            },
            seqs: vec![0u64; rooms],
            http: Vec::new(),
            max_in_flight: if cfg.network.is_some() {
                PHONE_CONNECTIONS
            } else {
                1
            },
            ws: (0..rooms).map(|_| None).collect(),
            sio: (0..rooms).map(|_| None).collect(),
            wt: (0..rooms).map(|_| None).collect(),
            echo_acks: cfg.publish_via == PublishVia::Ws
                && cfg.profile.sub(Transport::Ws).is_some_and(|s| s.ws().echo),
            echoes: (0..rooms).map(|_| Echoes::default()).collect(),
            sent_in_window: 0,
            slot: cfg.clients as usize + local as usize,
            target: local as usize % sh.pub_targets().len().max(1),
        }
    }

    /// A stalled server made us fall more than a second behind the end of
    /// the window: what is left of the schedule (from `sent_us` on) can no
    /// longer be sent in time. Count it as failed and stop, so the run ends
    /// on schedule.
    fn gave_up(&mut self, sent_us: u64, start_us: u64, end_us: u64) -> bool {
        let rec = &self.sh.rec;
        if rec.clock.now_us() <= end_us + 1_000_000 {
            return false;
        }
        let mut left = u64::from(rec.in_window(sent_us));
        loop {
            let offset = self.schedule.next_offset();
            if !offset.is_finite() {
                break;
            }
            let us = start_us + (offset * 1e6).round() as u64;
            if us >= end_us {
                break;
            }
            left += u64::from(rec.in_window(us));
        }
        self.out.errors += left;
        rec.error(&ClientError::new(
            ErrorKind::Timeout,
            format!("{left} publishes could not be sent before the window ended (the server was too slow to answer)"),
        ));
        true
    }

    /// The room and seq of the `k`-th message (intended at `sent_us`).
    fn next_message(&mut self, k: u64, sent_us: u64) -> (usize, u64) {
        let rooms = self.sh.rooms.len() as u64;
        let room = ((u64::from(self.index) + k * u64::from(self.publishers)) % rooms) as usize;
        let seq = self.seqs[room];
        self.seqs[room] += 1;
        if let Some(stage) = self.sh.rec.stage_of(sent_us) {
            let starts = &mut self.out.stage_starts[room];
            while starts.len() <= stage {
                starts.push(seq);
            }
        }
        (room, seq)
    }

    /// Publish the `k`-th message (intended at `sent_us`) over the
    /// WebSocket or Socket.IO and count it; false when it failed because the run was
    /// cancelled.
    async fn publish(&mut self, k: u64, sent_us: u64, cancel: &CancellationToken) -> bool {
        let (room, seq) = self.next_message(k, sent_us);
        let sh = self.sh;
        let payload = self.payload(seq, sent_us);
        let vars = Vars {
            room: &sh.rooms[room],
            client: &self.id,
            payload: &payload,
            wait_secs: 0.0,
        };
        let sent_at = Instant::now();
        let ep = &sh.pub_targets()[self.target];
        let pubws = PubWs {
            publisher: self.index,
            seq,
            in_window: sh.rec.in_window(sent_us),
            echoes: self.echo_acks.then(|| &self.echoes[room]),
        };
        let res = if sh.cfg.publish_via == PublishVia::SocketIo {
            let conn = &mut self.sio[room];
            socketio::publish(sh, ep, conn, self.slot, &self.counter, &vars).await
        } else if sh.cfg.publish_via == PublishVia::WebTransport {
            let conn = &mut self.wt[room];
            webtransport::publish(sh, ep, conn, &self.counter, &vars).await
        } else {
            let conn = &mut self.ws[room];
            ws::publish_ws(sh, ep, conn, self.slot, &self.counter, &vars, pubws).await
        };
        let in_window = sh.rec.in_window(sent_us);
        match res {
            Ok(()) => self.acknowledged(room, seq, in_window, sent_at.elapsed()),
            Err(_) if cancel.is_cancelled() => return false,
            Err(e) => self.failed(&e, in_window),
        }
        true
    }

    /// The `k`-th message over HTTP, on an idle connection (or a new one):
    /// a future that owns what it needs, so several can be in flight.
    fn start_http(&mut self, k: u64, sent_us: u64) -> impl Future<Output = http::Sent> + 'a {
        let (room, seq) = self.next_message(k, sent_us);
        let sh = self.sh;
        let send = http::Send {
            payload: self.payload(seq, sent_us),
            id: self.id.clone(),
            room,
            seq,
            in_window: sh.rec.in_window(sent_us),
            slot: self.slot,
            counter: self.counter.clone(),
            target: self.target,
        };
        http::send(sh, self.http.pop(), send)
    }

    /// Count a finished HTTP publish and keep its connection; false when it
    /// failed because the run was cancelled.
    fn settle(&mut self, done: http::Sent, cancel: &CancellationToken) -> bool {
        if let Some(conn) = done.conn
            && done.target == self.target
        {
            self.http.push(conn);
        }
        match done.res {
            Ok(()) => self.acknowledged(done.room, done.seq, done.in_window, done.took),
            Err(_) if cancel.is_cancelled() => return false,
            Err(e) => self.failed(&e, done.in_window),
        }
        true
    }

    /// The server closed the idle connection kept for the next publish
    /// (its keep-alive timeout): open a new one now rather than when the
    /// next publish is due, so that a quiet publisher's handshake is not
    /// counted as delivery latency of the transport under test (over a
    /// network it would add a round trip to every message). A failure is
    /// left to the next publish, which dials again and counts it.
    async fn keep_warm(&mut self) {
        // The one that closed (`idle_closed` watched the last), and any other.
        self.http.pop();
        self.http.retain(|c| !c.is_closed());
        if !self.http.is_empty() {
            return;
        }
        let ep = &self.sh.pub_targets()[self.target];
        let connect = HttpConn::connect(&ep.dialer, self.slot, &self.counter, &ep.authority);
        if let Ok(Ok(conn)) = tokio::time::timeout(ep.dialer.connect_timeout, connect).await {
            self.http.push(conn);
        }
    }

    fn payload(&self, seq: u64, sent_us: u64) -> String {
        Stamp {
            run: self.sh.run_tag,
            publisher: self.index,
            seq,
            sent_us,
        }
        .payload(self.sh.cfg.size_bytes)
    }

    /// A publish went out (over HTTP: was accepted).
    fn acknowledged(&mut self, room: usize, seq: u64, in_window: bool, took: Duration) {
        let mut s = self.sh.rec.shard();
        s.sec.published += 1;
        if in_window {
            s.win.published += 1;
            // Over HTTP and Socket.IO: the time to the acknowledgement.
            if self.sh.cfg.publish_via != PublishVia::Ws {
                record(&mut s.publish, took.as_micros() as u64);
            }
            if self.echo_acks {
                self.sent_in_window += 1; // acknowledged when echoed
            } else {
                self.out.acked[room].push(seq);
                self.out.published += 1;
            }
        }
    }

    /// A publish failed: count it, and with several targets fail over, as a
    /// client behind a load balancer would.
    fn failed(&mut self, e: &ClientError, in_window: bool) {
        self.sh.rec.error(e);
        let targets = self.sh.pub_targets().len();
        if targets > 1 {
            self.target = (self.target + 1) % targets;
            self.http.clear();
            self.ws.iter_mut().for_each(|c| *c = None);
            self.sio.iter_mut().for_each(|c| *c = None);
            self.wt.iter_mut().for_each(|c| *c = None);
        }
        if in_window {
            self.out.errors += 1;
        }
    }

    /// After the last publish: with echoes on, wait for the last ones and
    /// count what they acknowledged.
    async fn finish(mut self, cancel: &CancellationToken) -> PubOutcome {
        if self.echo_acks {
            ws::await_echoes(&self.ws, &self.echoes, cancel).await;
            let rec = &self.sh.rec;
            ws::count_echoes(&mut self.out, &self.echoes, self.sent_in_window, rec);
        }
        self.out
    }
}

/// Completes when the idle connection the next publish would use closes;
/// never without one.
async fn idle_closed(http: &mut [HttpConn]) {
    match http.last_mut() {
        Some(conn) => conn.closed().await,
        None => std::future::pending().await,
    }
}

/// Sleep until `t`, precisely. tokio's timer wheel has millisecond ticks and
/// wakes up to 1–2 ms late; an open-loop publisher would stamp that as
/// latency no server caused. So: coarse sleep until 2 ms before, then a
/// nanosleep on the blocking pool for the rest (~0.1 ms late at worst).
async fn sleep_precise(t: Instant) {
    const COARSE_MARGIN: Duration = Duration::from_millis(2);
    if let Some(coarse) = t.checked_sub(COARSE_MARGIN)
        && coarse > Instant::now()
    {
        tokio::time::sleep_until(coarse.into()).await;
    }
    let rest = t.saturating_duration_since(Instant::now());
    if !rest.is_zero() {
        let _ = tokio::task::spawn_blocking(move || std::thread::sleep(rest)).await;
    }
}
