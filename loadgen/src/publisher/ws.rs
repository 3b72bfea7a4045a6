//! Publishing over WebSocket: one socket per (publisher, room). When the
//! profile says the server echoes, a publish counts as published only once
//! its echo came back (as only an accepted status does over HTTP), and the
//! time to the echo is its publish latency.

use super::PubOutcome;
use crate::error::{ClientError, ErrorKind};
use crate::net::{Stream, WireCounter};
use crate::profile::{Sub, Template, Vars};
use crate::record::{Recorder, record};
use crate::transport::{Endpoint, REQUEST_TIMEOUT, Shared, ws};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

/// A WebSocket a publisher sends frames on. A small task reads whatever
/// comes back (the room's feed), so the server never sees a stalled reader;
/// with echoes on, the publisher's own messages coming back are its
/// acknowledgements.
pub(super) struct WsPub {
    sink: SplitSink<WebSocketStream<Stream>, Message>,
    reader: JoinHandle<()>,
    echoes: Option<Echoes>,
}

impl Drop for WsPub {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// One room's WebSocket publishes awaiting their echo, and those echoed;
/// kept across reconnects.
#[derive(Debug, Default)]
pub(super) struct EchoLog {
    /// (seq, when sent, in the window), oldest first.
    pending: VecDeque<(u64, Instant, bool)>,
    /// Echoed seqs of window publishes: the acknowledged ones.
    echoed: Vec<u64>,
}

pub(super) type Echoes = Arc<Mutex<EchoLog>>;

/// The log, even if a reader panicked while holding it (its data is
/// still consistent: every change is one push or pop).
fn log(e: &Echoes) -> MutexGuard<'_, EchoLog> {
    e.lock().unwrap_or_else(|p| p.into_inner())
}

/// Longest wait for the last echoes after the last publish.
const ECHO_WAIT: Duration = Duration::from_secs(2);

/// Longest list of unechoed frames kept (a server that does not echo after
/// all must not grow the publisher's memory).
const MAX_PENDING_ECHOES: usize = 4096;

/// Read a publisher's socket until it closes; time echoes of `publisher`'s
/// frames against `pending`.
async fn read_echoes(
    mut stream: SplitStream<WebSocketStream<Stream>>,
    echoes: Option<Echoes>,
    rec: Arc<Recorder>,
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
            // The log's lock is released before the shard's is taken.
            let sent_at = echoed(&mut log(echoes), s.seq);
            if let Some(at) = sent_at {
                record(&mut rec.shard().publish, at.elapsed().as_micros() as u64);
            }
        }
    }
}

/// `seq` came back: acknowledge it (earlier ones never will be); when it
/// was a window publish, the time it was sent.
fn echoed(log: &mut EchoLog, seq: u64) -> Option<Instant> {
    while log.pending.front().is_some_and(|(s, ..)| *s < seq) {
        log.pending.pop_front(); // never echoed: not acknowledged
    }
    match log.pending.front().copied() {
        Some((s, at, in_window)) if s == seq => {
            log.pending.pop_front();
            if in_window {
                log.echoed.push(s);
            }
            in_window.then_some(at)
        }
        _ => None,
    }
}

/// Which message a WebSocket publish carries (for timing its echo).
pub(super) struct PubWs<'a> {
    pub publisher: u32,
    pub seq: u64,
    pub in_window: bool,
    /// Where its echo is awaited, when echoes acknowledge.
    pub echoes: Option<&'a Echoes>,
}

/// Send one publish frame on `conn` (opened first if there is none or it
/// closed); any failure drops the socket.
pub(super) async fn publish_ws(
    sh: &Shared,
    ep: &Endpoint,
    conn: &mut Option<WsPub>,
    slot: usize,
    counter: &Arc<WireCounter>,
    vars: &Vars<'_>,
    p: PubWs<'_>,
) -> Result<(), ClientError> {
    let profile = &sh.cfg.profile;
    let (Some(frame), Some(sub)) = (&profile.publish.frame, profile.sub(protocol::Transport::Ws))
    else {
        return Err(ClientError::new(
            ErrorKind::Protocol,
            "the profile has no WebSocket publish",
        ));
    };
    let fut = async {
        if conn.as_ref().is_none_or(|c| c.reader.is_finished()) {
            *conn = None;
            *conn = Some(connect(sh, ep, slot, counter, sub, vars, &p).await?);
        }
        let Some(c) = conn.as_mut() else {
            return Err(ClientError::new(ErrorKind::Io, "no connection"));
        };
        send(sh, c, frame, vars, &p).await
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

/// Open a publisher's socket to the room (the subscribe URL of `[ws]`,
/// live from now) and start reading what comes back.
async fn connect(
    sh: &Shared,
    ep: &Endpoint,
    slot: usize,
    counter: &Arc<WireCounter>,
    sub: &Sub,
    vars: &Vars<'_>,
    p: &PubWs<'_>,
) -> Result<WsPub, ClientError> {
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
    let echoes = p.echoes.cloned();
    let reader = tokio::spawn(read_echoes(
        stream,
        echoes.clone(),
        sh.rec.clone(),
        sh.run_tag,
        p.publisher,
    ));
    Ok(WsPub {
        sink,
        reader,
        echoes,
    })
}

/// Send the publish frame, noting it as awaiting its echo first.
async fn send(
    sh: &Shared,
    c: &mut WsPub,
    frame: &Template,
    vars: &Vars<'_>,
    p: &PubWs<'_>,
) -> Result<(), ClientError> {
    let text = frame.render(vars);
    sh.rec.trace(|| {
        format!(
            "publish WebSocket frame: {}",
            crate::record::snippet(text.as_bytes())
        )
    });
    if let Some(e) = &c.echoes {
        let mut log = log(e);
        if log.pending.len() >= MAX_PENDING_ECHOES {
            log.pending.pop_front();
        }
        log.pending.push_back((p.seq, Instant::now(), p.in_window));
    }
    c.sink
        .send(Message::text(text))
        .await
        .map_err(|e| ClientError::from_ws(&e))
}

/// The last frames' echoes are still on their way: wait for them
/// (bounded) before the sockets close.
pub(super) async fn await_echoes(
    conns: &[Option<WsPub>],
    echoes: &[Echoes],
    cancel: &CancellationToken,
) {
    let deadline = Instant::now() + ECHO_WAIT;
    while Instant::now() < deadline && !cancel.is_cancelled() {
        let waiting = conns.iter().flatten().any(|c| !c.reader.is_finished())
            && echoes
                .iter()
                .any(|e| log(e).pending.iter().any(|(_, _, w)| *w));
        if !waiting {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Echoed window publishes are the acknowledged ones; the others of the
/// window (`sent_in_window` in all) failed.
pub(super) fn count_echoes(
    out: &mut PubOutcome,
    echoes: &[Echoes],
    sent_in_window: u64,
    rec: &Recorder,
) {
    for (room, e) in echoes.iter().enumerate() {
        let echoed = std::mem::take(&mut log(e).echoed);
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
