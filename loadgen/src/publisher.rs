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

use crate::error::{ClientError, ErrorKind};
use crate::http::{HttpConn, read_body};
use crate::marker::Stamp;
use crate::net::WireCounter;
use crate::profile::Vars;
use crate::record::record;
use crate::rng::SplitMix64;
use crate::transport::{Endpoint, REQUEST_TIMEOUT, Shared, ws};
use bytes::Bytes;
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use http_body_util::Full;
use protocol::Transport;
use protocol::results::{Arrival, PublishVia};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

/// What one publisher did in the measured window.
#[derive(Debug, Default)]
pub struct PubOutcome {
    pub index: u32,
    /// Per room: acknowledged seqs whose intended time fell in the window.
    pub acked: Vec<Vec<u64>>,
    pub published: u64,
    pub errors: u64,
}

/// Intended send times of one publisher, as offsets from the start of publishing.
#[derive(Debug)]
pub struct Schedule {
    next: f64,
    gap: f64,
    arrival: Arrival,
    rng: SplitMix64,
}

impl Schedule {
    /// `rate_per_sec` for this publisher; publishers are staggered by
    /// `index / count` of a gap so their constant schedules interleave.
    pub fn new(rate_per_sec: f64, arrival: Arrival, seed: u64, index: u32, count: u32) -> Self {
        let gap = if rate_per_sec > 0.0 {
            1.0 / rate_per_sec
        } else {
            f64::INFINITY
        };
        let mut rng = SplitMix64::derive(seed, 1, u64::from(index));
        let next = match arrival {
            Arrival::Constant => gap * f64::from(index) / f64::from(count.max(1)),
            Arrival::Poisson => rng.exp(gap),
        };
        Schedule {
            next,
            gap,
            arrival,
            rng,
        }
    }

    /// The next intended send time (seconds from the start).
    pub fn next_offset(&mut self) -> f64 {
        let t = self.next;
        self.next += match self.arrival {
            Arrival::Constant => self.gap,
            Arrival::Poisson => self.rng.exp(self.gap),
        };
        t
    }
}

/// A WebSocket a publisher sends frames on. A small task reads whatever
/// comes back (the room's feed), so the server never sees a stalled reader;
/// when the profile says the server echoes, the publisher's own messages
/// coming back are its acknowledgements: only an echoed publish counts as
/// published (as only a `201` does over HTTP), and the time to the echo is
/// its publish latency.
struct WsPub {
    sink: SplitSink<WebSocketStream<crate::net::Stream>, Message>,
    reader: JoinHandle<()>,
    echoes: Option<Echoes>,
}

/// One room's WebSocket publishes awaiting their echo, and those echoed;
/// kept across reconnects.
#[derive(Debug, Default)]
struct EchoLog {
    /// (seq, when sent, in the window), oldest first.
    pending: VecDeque<(u64, Instant, bool)>,
    /// Echoed seqs of window publishes: the acknowledged ones.
    echoed: Vec<u64>,
}

type Echoes = Arc<Mutex<EchoLog>>;

/// Longest wait for the last echoes after the last publish.
const ECHO_WAIT: Duration = Duration::from_secs(2);

/// Longest list of unechoed frames kept (a server that does not echo after
/// all must not grow the publisher's memory).
const MAX_PENDING_ECHOES: usize = 4096;

/// Read a publisher's socket until it closes; time echoes of `publisher`'s
/// frames against `pending`.
async fn read_echoes(
    mut stream: futures_util::stream::SplitStream<WebSocketStream<crate::net::Stream>>,
    echoes: Option<Echoes>,
    rec: Arc<crate::record::Recorder>,
    run: u32,
    publisher: u32,
) {
    while let Some(Ok(m)) = stream.next().await {
        let Some(echoes) = &echoes else { continue };
        let bytes: &[u8] = match &m {
            Message::Text(t) => t.as_bytes(),
            Message::Binary(b) => b,
            _ => continue,
        };
        for s in crate::marker::find_all(bytes) {
            if s.run != run || s.publisher != publisher {
                continue;
            }
            let sent_at = {
                let mut log = echoes.lock().unwrap_or_else(|p| p.into_inner());
                while log.pending.front().is_some_and(|(seq, ..)| *seq < s.seq) {
                    log.pending.pop_front(); // never echoed: not acknowledged
                }
                match log.pending.front().copied() {
                    Some((seq, at, in_window)) if seq == s.seq => {
                        log.pending.pop_front();
                        if in_window {
                            log.echoed.push(seq);
                        }
                        in_window.then_some(at)
                    }
                    _ => None,
                }
            };
            if let Some(at) = sent_at {
                record(&mut rec.shard().publish, at.elapsed().as_micros() as u64);
            }
        }
    }
}

impl Drop for WsPub {
    fn drop(&mut self) {
        self.reader.abort();
    }
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
    let cfg = &sh.cfg;
    let rec = sh.rec.clone();
    let rooms = sh.rooms.len();
    let local = index;
    // Across the workers of a distributed run, publisher numbers are global
    // (worker K's are K·P … K·P+P−1), so their schedules interleave and
    // every marker names one publisher.
    let index = cfg.worker_id * cfg.publishers as u32 + local;
    let publishers = cfg.publishers as u32 * cfg.workers;
    let per_pub_rate = cfg.rate_per_sec / f64::from((cfg.publishers as u32).max(1));
    let mut schedule = Schedule::new(per_pub_rate, cfg.arrival, cfg.seed, index, publishers);
    let counter = rec.publisher_counter();
    let id = format!("p{index}");
    let mut out = PubOutcome {
        index,
        acked: vec![Vec::new(); rooms],
        ..PubOutcome::default()
    };
    let mut seqs = vec![0u64; rooms];
    let mut http: Option<HttpConn> = None;
    let mut ws: Vec<Option<WsPub>> = (0..rooms).map(|_| None).collect();
    // WebSocket publishes acknowledged by their echo (see `WsPub`).
    let echo_acks =
        cfg.publish_via == PublishVia::Ws && cfg.profile.sub(Transport::Ws).is_some_and(|s| s.echo);
    let echoes: Vec<Echoes> = (0..rooms).map(|_| Echoes::default()).collect();
    let mut sent_in_window = 0u64;
    let slot = cfg.clients as usize + local as usize;
    let mut target = local as usize % sh.targets.len().max(1);
    for k in 0u64.. {
        let offset = schedule.next_offset();
        if !offset.is_finite() || offset > 1e7 {
            break;
        }
        let intended = start + Duration::from_secs_f64(offset);
        let sent_us = start_us + (offset * 1e6).round() as u64;
        if sent_us >= end_us {
            break;
        }
        // A stalled server made us fall more than a second behind the end
        // of the window: what is left of the schedule can no longer be sent
        // in time. Count it as failed and stop, so the run ends on schedule.
        let now_us = rec.clock.now_us();
        if now_us > end_us + 1_000_000 {
            let mut left = u64::from(rec.in_window(sent_us));
            loop {
                let us = start_us + (schedule.next_offset() * 1e6).round() as u64;
                if us >= end_us {
                    break;
                }
                left += u64::from(rec.in_window(us));
            }
            out.errors += left;
            rec.error(&ClientError::new(
                ErrorKind::Timeout,
                format!("{left} publishes could not be sent before the window ended (the server was too slow to answer)"),
            ));
            break;
        }
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = sleep_precise(intended) => {}
        }
        let room = ((u64::from(index) + k * u64::from(publishers)) % rooms as u64) as usize;
        let seq = seqs[room];
        seqs[room] += 1;
        let payload = Stamp {
            run: sh.run_tag,
            publisher: index,
            seq,
            sent_us,
        }
        .payload(cfg.size_bytes);
        let vars = Vars {
            room: &sh.rooms[room],
            client: &id,
            payload: &payload,
            wait_secs: 0.0,
        };
        let sent_at = Instant::now();
        let ep = &sh.targets[target];
        let res = match cfg.publish_via {
            PublishVia::Http => publish_http(&sh, ep, &mut http, slot, &counter, &vars).await,
            PublishVia::Ws => {
                let pubws = PubWs {
                    publisher: index,
                    seq,
                    in_window: rec.in_window(sent_us),
                    echoes: echo_acks.then(|| &echoes[room]),
                };
                publish_ws(&sh, ep, &mut ws[room], slot, &counter, &vars, pubws).await
            }
        };
        let in_window = rec.in_window(sent_us);
        match res {
            Ok(()) => {
                let mut s = rec.shard();
                s.sec.published += 1;
                if in_window {
                    s.win.published += 1;
                    if cfg.publish_via == PublishVia::Http {
                        record(&mut s.publish, sent_at.elapsed().as_micros() as u64);
                    }
                    if echo_acks {
                        sent_in_window += 1; // acknowledged when echoed
                    } else {
                        out.acked[room].push(seq);
                        out.published += 1;
                    }
                }
            }
            Err(e) => {
                if cancel.is_cancelled() {
                    break;
                }
                rec.error(&e);
                if sh.targets.len() > 1 {
                    // Fail over, as a client behind a load balancer would.
                    target = (target + 1) % sh.targets.len();
                    http = None;
                    ws.iter_mut().for_each(|c| *c = None);
                }
                if in_window {
                    out.errors += 1;
                }
            }
        }
    }
    // The last frames' echoes are still on their way: wait for them
    // (bounded) before the sockets close.
    let deadline = Instant::now() + ECHO_WAIT;
    while echo_acks && Instant::now() < deadline && !cancel.is_cancelled() {
        let waiting = ws.iter().flatten().any(|c| !c.reader.is_finished())
            && echoes.iter().any(|e| {
                e.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .pending
                    .iter()
                    .any(|(_, _, w)| *w)
            });
        if !waiting {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    if echo_acks {
        for (room, e) in echoes.iter().enumerate() {
            let echoed = std::mem::take(&mut e.lock().unwrap_or_else(|p| p.into_inner()).echoed);
            out.published += echoed.len() as u64;
            out.acked[room].extend(echoed);
        }
        let missing = sent_in_window.saturating_sub(out.published);
        if missing > 0 {
            out.errors += missing;
            rec.error(&ClientError::new(
                ErrorKind::Timeout,
                format!(
                    "{missing} WebSocket publishes were never echoed back, so not acknowledged (the profile says [ws] echo = true)"
                ),
            ));
        }
    }
    out
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

/// Which message a WebSocket publish carries (for timing its echo).
struct PubWs<'a> {
    publisher: u32,
    seq: u64,
    in_window: bool,
    /// Where its echo is awaited, when echoes acknowledge.
    echoes: Option<&'a Echoes>,
}

async fn publish_http(
    sh: &Shared,
    ep: &Endpoint,
    conn: &mut Option<HttpConn>,
    slot: usize,
    counter: &Arc<WireCounter>,
    vars: &Vars<'_>,
) -> Result<(), ClientError> {
    let Some(spec) = &sh.cfg.profile.publish.http else {
        return Err(ClientError::new(
            ErrorKind::Protocol,
            "the profile has no HTTP publish",
        ));
    };
    let fut = async {
        if conn.as_ref().is_none_or(HttpConn::is_closed) {
            *conn = None;
            *conn = Some(HttpConn::connect(&ep.dialer, slot, counter, &ep.authority).await?);
        }
        let Some(c) = conn.as_mut() else {
            return Err(ClientError::new(ErrorKind::Io, "no connection"));
        };
        let path = sh.with_token_query(spec.url.render(vars), vars.client);
        let mut req = c.request(spec.method.clone(), &path);
        for (k, t) in &spec.headers {
            req = req.header(k, t.render(vars));
        }
        if let Some((k, v)) = sh.token_header(vars.client) {
            req = req.header(k, v);
        }
        let req = req
            .body(Full::new(Bytes::from(spec.body.render(vars))))
            .map_err(|e| ClientError::new(ErrorKind::Protocol, format!("building request: {e}")))?;
        let resp = c.send(req).await?;
        let status = resp.status();
        // Read the body even when we do not need it: the connection is reused.
        let answer = read_body(resp.into_body()).await?;
        sh.rec.trace(|| {
            format!(
                "publish {} {} {} → {status} {}",
                spec.method,
                spec.url.render(vars),
                crate::record::snippet(spec.body.render(vars).as_bytes()),
                crate::record::snippet(&answer)
            )
        });
        if !spec.accepted(status.as_u16()) {
            return Err(ClientError::new(
                ErrorKind::HttpStatus,
                format!(
                    "publish answered {status}: {}",
                    crate::record::snippet(&answer)
                ),
            )
            .in_field(&sh.cfg.profile, "[publish] url", spec.url_line));
        }
        Ok(())
    };
    let res = match tokio::time::timeout(REQUEST_TIMEOUT, fut).await {
        Ok(r) => r,
        Err(_) => Err(ClientError::new(
            ErrorKind::Timeout,
            "publish got no answer in time",
        )),
    };
    if res.is_err() {
        *conn = None; // a fresh connection for the next publish
    }
    res
}

async fn publish_ws(
    sh: &Shared,
    ep: &Endpoint,
    conn: &mut Option<WsPub>,
    slot: usize,
    counter: &Arc<WireCounter>,
    vars: &Vars<'_>,
    PubWs {
        publisher,
        seq,
        in_window,
        echoes,
    }: PubWs<'_>,
) -> Result<(), ClientError> {
    let profile = &sh.cfg.profile;
    let (Some(frame), Some(sub)) = (&profile.publish.frame, profile.sub(Transport::Ws)) else {
        return Err(ClientError::new(
            ErrorKind::Protocol,
            "the profile has no WebSocket publish",
        ));
    };
    let fut = async {
        if conn.as_ref().is_none_or(|c| c.reader.is_finished()) {
            *conn = None;
            let stream = ep
                .dialer
                .dial(slot, counter, crate::net::Purpose::Ws)
                .await?;
            let mut path = sub.url.render(vars);
            if let Some(q) = &sub.first_query {
                path.push(if path.contains('?') { '&' } else { '?' });
                path.push_str(q);
            }
            let path = sh.with_token_query(path, vars.client);
            let token = sh.token_header(vars.client);
            let extra = token.as_ref().map(|(k, v)| (k, v.as_str())).into_iter();
            let ws = ws::open(stream, &ep.authority, &path, sub, vars, extra).await?;
            let (sink, stream) = ws.split();
            let echoes = echoes.cloned();
            let reader = tokio::spawn(read_echoes(
                stream,
                echoes.clone(),
                sh.rec.clone(),
                sh.run_tag,
                publisher,
            ));
            *conn = Some(WsPub {
                sink,
                reader,
                echoes,
            });
        }
        let Some(c) = conn.as_mut() else {
            return Err(ClientError::new(ErrorKind::Io, "no connection"));
        };
        let text = frame.render(vars);
        sh.rec.trace(|| {
            format!(
                "publish WebSocket frame: {}",
                crate::record::snippet(text.as_bytes())
            )
        });
        if let Some(e) = &c.echoes {
            let mut log = e.lock().unwrap_or_else(|p| p.into_inner());
            if log.pending.len() >= MAX_PENDING_ECHOES {
                log.pending.pop_front();
            }
            log.pending.push_back((seq, Instant::now(), in_window));
        }
        c.sink
            .send(Message::text(text))
            .await
            .map_err(|e| ClientError::from_ws(&e))
    };
    let res = match tokio::time::timeout(REQUEST_TIMEOUT, fut).await {
        Ok(r) => r,
        Err(_) => Err(ClientError::new(
            ErrorKind::Timeout,
            "WebSocket publish stalled",
        )),
    };
    if res.is_err() {
        *conn = None;
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_schedules_interleave() {
        let mut a = Schedule::new(2.0, Arrival::Constant, 1, 0, 2);
        let mut b = Schedule::new(2.0, Arrival::Constant, 1, 1, 2);
        assert_eq!((a.next_offset(), a.next_offset()), (0.0, 0.5));
        assert_eq!((b.next_offset(), b.next_offset()), (0.25, 0.75));
    }

    #[test]
    fn poisson_rate_holds() {
        let mut s = Schedule::new(100.0, Arrival::Poisson, 9, 0, 1);
        let mut n = 0;
        while s.next_offset() < 100.0 {
            n += 1;
        }
        assert!((9_500..10_500).contains(&n), "{n}");
    }
}
