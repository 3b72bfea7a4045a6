//! WebTransport (docs/webtransport.md): one HTTP/3 session per client over
//! QUIC, on one UDP socket per server instance shared by every client.
//!
//! - `webtransport`: messages and notices arrive as frames on the stream
//!   the server opens; cursor, resume, gap and lag are the WebSocket's.
//! - `webtransport-datagram`: each live message is one datagram; the same
//!   stream carries the backlog, notices and messages too large for a
//!   datagram. A datagram that never arrives is dropped by design; with
//!   `--datagram-catch-up` the holes in the room's ids are fetched on a
//!   bidirectional stream after a short reorder window.
//!
//! Bytes on the wire are QUIC's UDP payload counts of the session's
//! connection, sampled each tick and at the end. `trust` decides which
//! certificate a session accepts, `quic` owns the endpoint and opening a
//! session, `frames` splits stream bytes, `holes` and `fetch` are the
//! datagram catch-up.

mod fetch;
mod frames;
mod holes;
mod quic;
mod trust;

pub use frames::Frames;
pub use quic::{Quic, closed_error, quic};
pub use trust::parse_hash;

use super::{Client, End, REQUEST_TIMEOUT, Shared, bounded};
use crate::error::{ClientError, ErrorKind};
use crate::net::WireCounter;
use crate::profile::{Sub, WtSub};
use holes::Holes;
use protocol::webtransport::Mode;
use std::time::{Duration, Instant};
use wtransport::error::ConnectionError;

/// How often a session samples its byte counts (a timer per session:
/// not much more often than the run's per-second samples need).
const TICK: Duration = Duration::from_millis(250);
/// With catch-up: how often it also looks for holes past their window.
const CATCH_UP_TICK: Duration = Duration::from_millis(100);

/// UDP bytes of one connection already added to the client's counter.
#[derive(Debug, Default)]
pub struct UdpBytes {
    up: u64,
    down: u64,
}

impl UdpBytes {
    /// Add what the connection moved since the last sample.
    pub fn sample(&mut self, conn: &wtransport::Connection, counter: &WireCounter) {
        let s = conn.quic_connection().stats();
        let (up, down) = (s.udp_tx.bytes, s.udp_rx.bytes);
        // Through `moved`, so a phone's radio model hears of the activity
        // (to within a sample's period).
        counter.moved(true, up.saturating_sub(self.up) as usize);
        counter.moved(false, down.saturating_sub(self.down) as usize);
        self.up = up.max(self.up);
        self.down = down.max(self.down);
    }

    /// Close the session and count its last packet: the close goes out on
    /// the endpoint's next send, so wait (briefly) until the connection's
    /// sent bytes show it; the server counts it too.
    pub async fn close(&mut self, conn: &wtransport::Connection, counter: &WireCounter) {
        let sent = |c: &wtransport::Connection| c.quic_connection().stats().udp_tx.bytes;
        let before = sent(conn);
        conn.close(0u32.into(), b"");
        for _ in 0..CLOSE_POLLS {
            if sent(conn) > before {
                break;
            }
            tokio::time::sleep(CLOSE_POLL).await;
        }
        self.sample(conn, counter);
    }
}

/// How long [`UdpBytes::close`] waits for the close to go out, at most.
const CLOSE_POLLS: u32 = 50;
const CLOSE_POLL: Duration = Duration::from_millis(5);

/// The session path and query: the profile's URL with cursors (as every
/// transport), then the mode.
fn session_path(c: &Client, sub: &Sub, wt: &WtSub, name: &str) -> String {
    let mut path = c.url(&sub.url.render(&c.vars(name)));
    if let Some(q) = &wt.mode_query {
        path.push(if path.contains('?') { '&' } else { '?' });
        path.push_str(q);
        path.push('=');
        path.push_str(wt.mode.as_str());
    }
    path
}

/// Headers of the session's CONNECT: the profile's, the cursors that
/// travel as headers, the token.
fn session_headers(c: &Client, shared: &Shared, sub: &Sub, name: &str) -> Vec<(String, String)> {
    let vars = c.vars(name);
    let mut h: Vec<(String, String)> = sub
        .headers
        .iter()
        .map(|(k, t)| (k.as_str().to_string(), t.render(&vars)))
        .collect();
    h.extend(
        c.cursor_headers()
            .map(|(k, v)| (k.as_str().to_string(), v.to_string())),
    );
    if let Some((k, v)) = shared.token_header(name) {
        h.push((k.as_str().to_string(), v));
    }
    h
}

/// One session: connect (the QUIC handshake and the CONNECT are the
/// connect time), then read until it ends.
pub async fn session(c: &mut Client) -> Result<End, ClientError> {
    let cancel = c.cancel().clone();
    let shared = c.shared.clone();
    let sub = shared.sub();
    let Some(wt) = sub.wt() else {
        return Err(ClientError::new(
            ErrorKind::Protocol,
            "the profile has no [webtransport] section",
        ));
    };
    let ep = &shared.targets[c.target as usize];
    let Some(quic) = bounded(
        &cancel,
        REQUEST_TIMEOUT,
        "GET /api/webtransport timed out",
        quic::quic(ep, &shared.cfg),
    )
    .await?
    else {
        return Ok(End::Cancelled);
    };
    let name = format!("c{}", c.index);
    let path = session_path(c, sub, wt, &name);
    let headers = session_headers(c, &shared, sub, &name);
    let started = Instant::now();
    let connecting = async {
        let _permit = c.dialer().permit().await;
        quic.connect(&path, headers).await
    };
    let conn = tokio::select! {
        _ = cancel.cancelled() => return Ok(End::Cancelled),
        r = tokio::time::timeout(REQUEST_TIMEOUT, connecting) => match r {
            Ok(conn) => conn.map_err(|e| match e.kind {
                ErrorKind::HttpStatus => shared.url_error(e),
                _ => e,
            })?,
            Err(_) => return Err(ClientError::new(
                ErrorKind::ConnectTimeout,
                format!(
                    "no answer over UDP/QUIC at {} within {REQUEST_TIMEOUT:?}: is WebTransport on, and UDP allowed?",
                    quic.addr
                ),
            )),
        },
    };
    c.shared
        .rec
        .trace(|| format!("WebTransport session {}{path} open", quic.base));
    c.connected(started);
    c.request(false);
    let cursor = c.cursors.first().and_then(|v| v.as_deref()?.parse().ok());
    // Boxed: the session's state lives on the heap only while it is open.
    let mut s = Box::new(Session {
        conn,
        frames: Frames::new(wt.framing),
        bytes: UdpBytes::default(),
        holes: Holes::after(cursor),
        fetch: None,
    });
    let res = s.run(c, &shared, wt).await;
    if matches!(res, Ok(End::Lagged)) {
        s.bytes.close(&s.conn, &c.counter).await;
    } else {
        s.bytes.sample(&s.conn, &c.counter);
    }
    res
}

/// An open session's state.
struct Session {
    conn: wtransport::Connection,
    frames: Frames,
    bytes: UdpBytes,
    holes: Holes,
    /// The catch-up stream, opened on the first fetch.
    fetch: Option<fetch::FetchStream>,
}

/// What woke the session up.
enum Event {
    Cancelled,
    Tick,
    Uni(Result<wtransport::RecvStream, ConnectionError>),
    Read(Result<Option<usize>, wtransport::error::StreamReadError>),
    Datagram(Result<wtransport::datagram::Datagram, ConnectionError>),
}

impl Session {
    async fn run(
        &mut self,
        c: &mut Client,
        shared: &Shared,
        wt: &WtSub,
    ) -> Result<End, ClientError> {
        let own = c.cancel().child_token();
        let cancelled = own.cancelled();
        tokio::pin!(cancelled);
        let datagrams = wt.mode == Mode::Datagram;
        let every = if datagrams && shared.cfg.datagram_catch_up {
            CATCH_UP_TICK
        } else {
            TICK
        };
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut uni: Option<wtransport::RecvStream> = None;
        loop {
            let (conn, frames) = (&self.conn, &mut self.frames);
            let ev = tokio::select! {
                _ = &mut cancelled => Event::Cancelled,
                _ = tick.tick() => Event::Tick,
                u = conn.accept_uni(), if uni.is_none() => Event::Uni(u),
                r = async { match uni.as_mut() {
                    Some(u) => u.read(frames.spare()).await,
                    None => std::future::pending().await,
                } } => Event::Read(r),
                d = conn.receive_datagram(), if datagrams => Event::Datagram(d),
            };
            let end = match ev {
                Event::Cancelled => {
                    self.bytes.close(&self.conn, &c.counter).await;
                    Some(End::Cancelled)
                }
                Event::Tick => {
                    self.bytes.sample(&self.conn, &c.counter);
                    self.catch_up(c, shared, wt).await?;
                    None
                }
                Event::Uni(Ok(u)) => {
                    uni = Some(u);
                    None
                }
                Event::Uni(Err(e)) | Event::Datagram(Err(e)) => Some(self.ended(c, wt, &e)?),
                Event::Read(Ok(Some(n))) => {
                    self.frames.filled(n);
                    self.take_frames(c, shared, wt)?
                }
                Event::Read(_) => Some(self.stream_ended(c, wt).await?),
                Event::Datagram(Ok(d)) => {
                    take_message(&mut self.holes, c, shared, wt, &d);
                    None
                }
            };
            if let Some(end) = end {
                return Ok(end);
            }
        }
    }

    /// Every complete frame read so far.
    fn take_frames(
        &mut self,
        c: &mut Client,
        shared: &Shared,
        wt: &WtSub,
    ) -> Result<Option<End>, ClientError> {
        // Disjoint borrows: the frame stays in the buffer while it is
        // recorded (no copy per message).
        let Session { frames, holes, .. } = self;
        loop {
            let frame = frames
                .next_frame()
                .map_err(|e| ClientError::new(ErrorKind::Protocol, e.to_string()))?;
            let Some(frame) = frame else { return Ok(None) };
            if frame.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            c.shared
                .rec
                .trace(|| format!("WebTransport frame: {}", crate::record::snippet(frame)));
            if wt.error.as_ref().is_some_and(|m| m.matches(frame)) {
                c.shared.rec.error(&ClientError::new(
                    ErrorKind::Protocol,
                    format!("server error frame: {}", String::from_utf8_lossy(frame)),
                ));
            } else if wt.gap.as_ref().is_some_and(|m| m.matches(frame)) {
                c.gap();
            } else if wt.lag.as_ref().is_some_and(|m| m.matches(frame)) {
                let cursor = wt
                    .lag_cursor
                    .as_ref()
                    .and_then(|p| p.find_str(frame).ok().flatten());
                c.lagged(cursor.as_deref());
                return Ok(Some(End::Lagged));
            } else {
                take_message(holes, c, shared, wt, frame);
            }
        }
    }

    /// The server's stream ended or failed: the session is closing; why?
    async fn stream_ended(&mut self, c: &mut Client, wt: &WtSub) -> Result<End, ClientError> {
        match tokio::time::timeout(Duration::from_secs(2), self.conn.closed()).await {
            Ok(e) => self.ended(c, wt, &e),
            Err(_) => Err(ClientError::new(
                ErrorKind::UnexpectedClose,
                "the server's WebTransport stream ended",
            )),
        }
    }

    /// The session closed with `e`: a lag close resumes at once.
    fn ended(
        &mut self,
        c: &mut Client,
        wt: &WtSub,
        e: &ConnectionError,
    ) -> Result<End, ClientError> {
        if let ConnectionError::ApplicationClosed(close) = e
            && wt
                .lag_close
                .is_some_and(|code| u64::from(code) == close.code().into_inner())
        {
            let cursor = wt
                .lag_cursor
                .as_ref()
                .and_then(|p| p.find_str(close.reason()).ok().flatten());
            c.lagged(cursor.as_deref());
            return Ok(End::Lagged);
        }
        Err(closed_error(e, true))
    }

    /// With `--datagram-catch-up`: fetch the holes past their window.
    async fn catch_up(
        &mut self,
        c: &mut Client,
        shared: &Shared,
        wt: &WtSub,
    ) -> Result<(), ClientError> {
        if wt.mode != Mode::Datagram || !shared.cfg.datagram_catch_up || self.holes.is_empty() {
            return Ok(());
        }
        let due = self.holes.due(Instant::now());
        if due.is_empty() {
            return Ok(());
        }
        if self.fetch.is_none() {
            self.fetch = Some(fetch::FetchStream::open(&self.conn).await?);
        }
        let Some(stream) = self.fetch.as_mut() else {
            return Ok(());
        };
        let reply = stream.fetch(&due).await?;
        fetch::take_fetched(c, shared, &reply, &due)
    }
}

/// Record one message (a stream frame or a datagram); in datagram mode
/// the cursor is the highest id seen, whatever the arrival order.
fn take_message(holes: &mut Holes, c: &mut Client, shared: &Shared, wt: &WtSub, msg: &[u8]) {
    let now_us = c.shared.rec.clock.now_us();
    if let Err(e) = c.take_unit(shared, now_us, msg) {
        c.shared.rec.error(&e);
        return;
    }
    if wt.mode != Mode::Datagram {
        return;
    }
    let Some(id) = c
        .cursors
        .first()
        .and_then(|v| v.as_deref()?.parse::<u64>().ok())
    else {
        return;
    };
    holes.saw(id, Instant::now(), shared.cfg.datagram_catch_up);
    if let (Some(h), Some(Some(slot))) = (holes.highest, c.cursors.first_mut())
        && h != id
    {
        slot.clear();
        let _ = std::fmt::Write::write_fmt(slot, format_args!("{h}"));
    }
}
