//! Simulated subscribing clients: one module per transport behind one small
//! interface, so pacing, recording and transport stay separate axes.
//!
//! The interface is [`Client`]: a transport module exports
//! `async fn session(&mut Client) -> Result<End, ClientError>` that opens one
//! connection (via [`Client::dial`]), subscribes at [`Client::url`] with
//! [`Client::cursor_headers`], reports what arrives through
//! [`Client::take_unit`] and [`Client::request`], and returns when the
//! connection ends. What the server's answers look like comes from the
//! target profile ([`crate::profile`]), the same for every server. [`run_client`] owns everything
//! else: reconnecting with backoff, counting errors and reconnects, and
//! handing the coherence record back at the end.

pub mod long_poll;
mod poll;
pub mod short_poll;
mod silence;
pub mod sse;
pub mod ws;

pub use silence::Silence;

use crate::coherence::Tracker;
use crate::config::Config;
use crate::error::{ClientError, ErrorKind};
use crate::marker::{self, Stamp};
use crate::net::{Dialer, Purpose, Stream, WireCounter};
use crate::profile::{CursorFrom, CursorTo, Sub, Vars};
use crate::record::{Recorder, record};
use crate::rng::SplitMix64;
use hyper::header::HeaderName;
use protocol::Transport;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};
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

/// One server instance of the run.
#[derive(Debug)]
pub struct Endpoint {
    pub url: String,
    pub dialer: Dialer,
    pub authority: Arc<str>,
    /// Clients connected to it now.
    pub connected: AtomicI64,
}

impl Endpoint {
    /// `tls`: the run's connectors, used when `t` is `https://`.
    pub fn new(
        t: &crate::config::Target,
        source_ips: Vec<std::net::IpAddr>,
        timeout: Duration,
        tls: Option<&crate::tls::TlsClient>,
    ) -> Result<Self, crate::config::ConfigError> {
        let tls = match tls {
            Some(client) if t.tls => Some(crate::net::TlsTarget {
                client: client.clone(),
                name: crate::tls::server_name(&t.host)?,
            }),
            _ => None,
        };
        Ok(Endpoint {
            url: t.url.clone(),
            dialer: Dialer::new(t.addr, source_ips, timeout).with_tls(tls),
            authority: t.authority.as_str().into(),
            connected: AtomicI64::new(0),
        })
    }

    /// Every target of `cfg`, TLS set up once for all of them.
    pub fn all(
        cfg: &Config,
        timeout: Duration,
    ) -> Result<Vec<Endpoint>, crate::config::ConfigError> {
        let tls = if cfg.targets.iter().any(|t| t.tls) {
            Some(crate::tls::TlsClient::new(&cfg.tls)?)
        } else {
            None
        };
        cfg.targets
            .iter()
            .map(|t| Endpoint::new(t, cfg.source_ips.clone(), timeout, tls.as_ref()))
            .collect()
    }
}

/// What every client of a run shares.
#[derive(Debug)]
pub struct Shared {
    pub cfg: Config,
    pub rec: Arc<Recorder>,
    /// The server instances, in `--target` order.
    pub targets: Vec<Endpoint>,
    pub rooms: Vec<String>,
    /// This run's tag in every marker (and room name).
    pub run_tag: u32,
    pub ramp: RampGate,
    /// Cancelled when the run ends (clients only; publishers have their own).
    pub cancel: CancellationToken,
}

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
    connected: bool,
    ever_connected: bool,
    /// Sessions started; from the second on, a client without a cursor
    /// resumes (`resume_query`) instead of starting live (`first_query`).
    sessions: u32,
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
        let rules = shared.sub().cursors.len();
        let target = index % shared.targets.len().max(1) as u32;
        Client {
            index,
            room,
            target,
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

    pub fn cancel(&self) -> &CancellationToken {
        &self.shared.cancel
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

    /// The subscribe path and query: the profile's URL, then either the
    /// cursors that travel as query parameters or, with no cursor yet, the
    /// profile's `first_query` (first connect) or `resume_query` (a
    /// reconnect before anything arrived).
    pub fn url(&self, base: &str) -> String {
        let sub = self.sub();
        let mut url = String::with_capacity(base.len() + 32);
        url.push_str(base);
        let mut sep = if base.contains('?') { '&' } else { '?' };
        let mut push = |url: &mut String, k: &str, v: Option<&str>| {
            url.push(sep);
            sep = '&';
            url.push_str(k);
            if let Some(v) = v {
                url.push('=');
                push_query_escaped(url, v);
            }
        };
        // Only a run with tokens pays for the client's name (and the HMAC).
        if self.shared.cfg.token.is_some()
            && let Some((CursorTo::Query(k), t)) =
                self.shared.token_placement(&format!("c{}", self.index))
        {
            push(&mut url, &k, Some(&t));
        }
        if self.has_cursor() {
            for (rule, value) in sub.cursors.iter().zip(self.cursors.iter()) {
                if let (CursorTo::Query(k), Some(v)) = (&rule.to, value) {
                    push(&mut url, k, Some(v));
                }
            }
        } else {
            let q = if self.sessions > 1 {
                &sub.resume_query
            } else {
                &sub.first_query
            };
            if let Some(q) = q {
                push(&mut url, q, None);
            }
        }
        url
    }

    /// Cursors that travel as request headers.
    pub fn cursor_headers(&self) -> impl Iterator<Item = (&HeaderName, &str)> {
        self.sub()
            .cursors
            .iter()
            .zip(self.cursors.iter())
            .filter_map(|(rule, v)| match (&rule.to, v) {
                (CursorTo::Header(h), Some(v)) => Some((h, v.as_str())),
                _ => None,
            })
    }

    /// Any cursor known?
    pub fn has_cursor(&self) -> bool {
        self.cursors.iter().any(Option::is_some)
    }

    /// Set every cursor whose rule takes its value from `from` (a kind of
    /// source; `get` reads the value for one rule).
    pub fn set_cursors<'v>(
        &mut self,
        mut get: impl FnMut(&CursorFrom) -> Option<std::borrow::Cow<'v, str>>,
    ) {
        // Disjoint borrows, no Arc clone: a refcount shared by every client
        // is a cache line bounced between cores on each message.
        let Client {
            shared, cursors, ..
        } = self;
        for (rule, slot) in shared.sub().cursors.iter().zip(cursors.iter_mut()) {
            if let Some(v) = get(&rule.from) {
                set_cursor(slot, &v);
            }
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

    fn disconnected(&mut self) {
        if self.connected {
            self.connected = false;
            self.shared.rec.connected.fetch_sub(1, Ordering::Relaxed);
            self.endpoint().connected.fetch_sub(1, Ordering::Relaxed);
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

    /// One received unit (a poll body, an SSE event's data, a WebSocket
    /// frame) at `now_us`: split it into messages as the profile says, find
    /// each one's marker, record them, and move the cursors that come from
    /// the body or the last message. Returns how many messages it held.
    /// `shared` is the caller's handle on `self.shared` (taken once per
    /// session): cloning the `Arc` here, per unit, was contended.
    pub fn take_unit(
        &mut self,
        shared: &Shared,
        now_us: u64,
        unit: &[u8],
    ) -> Result<usize, ClientError> {
        let sub = shared.sub();
        let bad = |e: serde_json::Error| {
            ClientError::new(
                ErrorKind::Protocol,
                format!("answer is not the JSON the profile expects: {e}"),
            )
        };
        let count = match &sub.messages {
            Some(ptr) => {
                let items = match ptr.find(unit).map_err(bad)? {
                    None => Vec::new(),
                    Some(raw) => crate::jsonptr::array_items(raw).ok_or_else(|| {
                        ClientError::new(
                            ErrorKind::Protocol,
                            "the profile's messages pointer does not name an array",
                        )
                    })?,
                };
                self.record_stamps(
                    now_us,
                    items.iter().map(|m| marker::find_first(m.get().as_bytes())),
                );
                if let Some(last) = items.last() {
                    self.set_cursors(|from| match from {
                        CursorFrom::Message(p) => p.find_str(last.get().as_bytes()).ok().flatten(),
                        _ => None,
                    });
                }
                items.len()
            }
            None if unit.iter().all(u8::is_ascii_whitespace) => 0,
            None => {
                let mut n = 0;
                self.record_stamps(now_us, marker::find_all(unit).inspect(|_| n += 1).map(Some));
                if n == 0 {
                    self.record_stamps(now_us, [None]);
                }
                self.cursors_from_json(unit, |from| match from {
                    CursorFrom::Message(p) => Some(p),
                    _ => None,
                })
                .map_err(bad)?;
                n.max(1)
            }
        };
        let broken = self
            .cursors_from_json(unit, |from| match from {
                CursorFrom::Body(p) => Some(p),
                _ => None,
            })
            .err();
        self.shared.rec.trace(|| {
            let ours = marker::find_all(unit)
                .filter(|m| m.run == self.shared.run_tag)
                .count();
            format!(
                "  = {count} message(s), {ours} with this run's marker; cursors now {:?}",
                self.cursors
            )
        });
        match broken {
            Some(e) => Err(bad(e)),
            None => Ok(count),
        }
    }

    /// Set the cursors whose rule `pick`s a JSON pointer, from `json`; an
    /// answer that is not the JSON the profile promised is an error.
    fn cursors_from_json(
        &mut self,
        json: &[u8],
        pick: impl Fn(&CursorFrom) -> Option<&crate::jsonptr::Pointer>,
    ) -> Result<(), serde_json::Error> {
        let mut broken = None;
        self.set_cursors(|from| {
            pick(from)?.find_str(json).unwrap_or_else(|e| {
                broken = Some(e);
                None
            })
        });
        broken.map_or(Ok(()), Err)
    }

    /// Record messages by their markers (`None`: a message without one).
    fn record_stamps(&mut self, now_us: u64, stamps: impl IntoIterator<Item = Option<Stamp>>) {
        let rec = &self.shared.rec;
        let recv_in_window = rec.in_window(now_us);
        let cfg = &self.shared.cfg;
        let all = cfg.publishers * u64::from(cfg.workers);
        let own = cfg.own_publishers();
        let run = self.shared.run_tag;
        let payload_len = cfg.size_bytes as u64;
        let mut s = rec.shard();
        for stamp in stamps {
            let Some(Stamp {
                publisher: p,
                seq,
                sent_us,
                ..
            }) = stamp.filter(|m| m.run == run && u64::from(m.publisher) < all)
            else {
                s.foreign += 1;
                continue;
            };
            // Another worker's publisher: its clock is not ours, so no
            // latency; it still counts for loss (see `WorkerShard`).
            let ours = own.contains(&p);
            let latency = now_us.saturating_sub(sent_us);
            if rec.in_window(sent_us) {
                if !self.tracker.receive(p, seq) {
                    continue; // duplicate: counted by the tracker, not a delivery
                }
                if ours {
                    record(&mut s.latency, latency);
                    s.window_first += 1;
                }
            }
            if ours {
                record(&mut s.sec_latency, latency);
            }
            s.sec.deliveries += 1;
            if recv_in_window {
                s.win.deliveries += 1;
                s.win.payload_bytes += payload_len;
            }
        }
    }

    /// The server reported a lag: count it; the next session resumes (from
    /// the notice's cursor when none is known yet).
    pub fn lagged(&mut self, cursor: Option<&str>) {
        self.shared.rec.shard().lagged += 1;
        if let (false, Some(c), Some(slot)) = (self.has_cursor(), cursor, self.cursors.first_mut())
        {
            *slot = Some(c.to_string());
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

/// Percent-encode what a query value cannot hold as is (cursors such as
/// HTTP dates contain spaces and commas).
fn push_query_escaped(url: &mut String, v: &str) {
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~:".contains(&b) {
            url.push(b as char);
        } else {
            url.push_str(&format!("%{b:02X}"));
        }
    }
}

impl Shared {
    /// The token client `name` sends, if the run has tokens.
    pub fn token_for(&self, name: &str) -> Option<String> {
        match self.cfg.token.as_ref()? {
            crate::config::TokenSource::Fixed(t) => Some(t.clone()),
            crate::config::TokenSource::Secret(s) => {
                let exp = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs())
                    + 24 * 3600;
                Some(protocol::token::mint(s.as_bytes(), name, Some(exp)))
            }
        }
    }

    /// Where the token goes, with its value: a header (`Bearer …`) or a
    /// query parameter, per the profile.
    pub fn token_placement(&self, name: &str) -> Option<(CursorTo, String)> {
        let to = self.cfg.profile.token.clone()?;
        let t = self.token_for(name)?;
        Some(match to {
            CursorTo::Header(h) => (CursorTo::Header(h), format!("Bearer {t}")),
            q @ CursorTo::Query(_) => (q, t),
        })
    }

    /// Append `name`'s token to a path when the profile sends it in the query.
    pub fn with_token_query(&self, mut path: String, name: &str) -> String {
        if let Some((CursorTo::Query(k), t)) = self.token_placement(name) {
            path.push(if path.contains('?') { '&' } else { '?' });
            path.push_str(&k);
            path.push('=');
            push_query_escaped(&mut path, &t);
        }
        path
    }

    /// `name`'s token header, when the profile sends it as one.
    pub fn token_header(&self, name: &str) -> Option<(HeaderName, String)> {
        match self.token_placement(name)? {
            (CursorTo::Header(h), v) => Some((h, v)),
            _ => None,
        }
    }

    /// Tie an error of the subscribe request to the profile's `url` field.
    pub fn url_error(&self, e: ClientError) -> ClientError {
        let field = format!("[{}] url", self.cfg.transport);
        e.in_field(&self.cfg.profile, &field, self.sub().url_line)
    }

    /// The profile's section for this run's transport (checked by `Config::validate`).
    pub fn sub(&self) -> &Sub {
        self.cfg.profile.sub(self.cfg.transport).unwrap_or_else(|| {
            unreachable!("Config::validate checks the profile defines the transport")
        })
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
        c.sessions = c.sessions.saturating_add(1);
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
                // Another instance serves the same feed: fail over to it
                // (the cursor is valid there too).
                c.target = (c.target + 1) % c.shared.targets.len().max(1) as u32;
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
            targets: Endpoint::all(&cfg, Duration::from_secs(1)).expect("endpoints"),
            cfg,
            rec: Arc::new(Recorder::new(crate::record::Clock::new())),
            rooms: vec!["r".into()],
            run_tag: 1,
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
