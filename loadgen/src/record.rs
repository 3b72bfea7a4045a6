//! Recording: one clock, the phase boundaries, and sharded recorders
//! (HdrHistograms + counters) that clients write into without a global lock.
//!
//! A histogram with 3 significant digits costs ~100 KiB, far too much per
//! client, so recording is per *thread*: each worker thread writes to its
//! own shard behind a `std::sync::Mutex` that only the once-a-second sampler
//! ever contends for. Wire bytes are counted per client (see `net`).

use crate::error::{ClientError, ErrorKind};
use crate::net::WireCounter;
use crate::network::{RadioMeter, RadioSnap, radio_snapshot};
use hdrhistogram::Histogram;
use protocol::results::Phase;
use std::cell::Cell;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Microseconds since the UNIX epoch, derived from one monotonic clock so
/// that publisher stamps and receive times are exactly comparable.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    base: Instant,
    base_epoch_us: u64,
}

impl Clock {
    pub fn new() -> Self {
        let base_epoch_us = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_micros() as u64)
            .unwrap_or(0);
        Clock {
            base: Instant::now(),
            base_epoch_us,
        }
    }

    pub fn now_us(&self) -> u64 {
        self.at_us(Instant::now())
    }

    pub fn at_us(&self, t: Instant) -> u64 {
        self.base_epoch_us + t.saturating_duration_since(self.base).as_micros() as u64
    }

    /// The instant the run started.
    pub fn start(&self) -> Instant {
        self.base
    }
}

/// Latencies above this are clamped (keeps auto-resizing histograms bounded).
pub const MAX_LATENCY_US: u64 = 3_600_000_000;

fn histogram() -> Histogram<u64> {
    // 3 significant digits (docs/architecture.md); auto-resizing: memory
    // follows the largest value recorded, not a worst-case bound.
    Histogram::new(3).unwrap_or_else(|_| unreachable!("3 significant digits is valid"))
}

/// Counters for one second of the run.
#[derive(Debug, Default, Clone, Copy)]
pub struct SecCounts {
    pub deliveries: u64,
    pub published: u64,
    pub requests: u64,
    pub empty: u64,
    pub errors: u64,
}

/// Counters for the measured window (by receive/send time).
#[derive(Debug, Default, Clone, Copy)]
pub struct WinCounts {
    /// Messages received in the window (by receive time): what the
    /// window's wire bytes carried.
    pub deliveries: u64,
    /// First receipts of messages published in the window (by intended
    /// send time, from every publisher), whenever they arrived: the
    /// numerator of `deliveries_per_sec`, which a poll landing just inside
    /// or just outside the window edge cannot move.
    pub by_publish: u64,
    pub payload_bytes: u64,
    pub requests: u64,
    pub empty: u64,
    pub published: u64,
}

/// One thread's recorder.
#[derive(Debug)]
pub struct Shard {
    /// Delivery latency of first receipts of window messages.
    pub latency: Histogram<u64>,
    /// Publish round trips of window publishes.
    pub publish: Histogram<u64>,
    /// Every (re)connect of the run.
    pub connect: Histogram<u64>,
    /// This second's first receipts (any phase), for the series.
    pub sec_latency: Histogram<u64>,
    pub sec: SecCounts,
    pub win: WinCounts,
    /// First receipts of window messages so far (drain ends when this
    /// reaches the expected total).
    pub window_first: u64,
    pub errors: [u64; ErrorKind::ALL.len()],
    pub reconnects: u64,
    pub lagged: u64,
    /// Gap notices: a resume cursor older than the server's history.
    pub gaps: u64,
    /// Messages without this run's marker.
    pub foreign: u64,
    /// Engine.IO handshake requests and WebSocket upgrades (Socket.IO).
    pub sio_handshakes: u64,
    pub sio_upgrades: u64,
    /// A staged run's window messages by the stage they were published in.
    pub stages: Vec<StageShard>,
}

/// One stage's first receipts of this run's own window messages.
#[derive(Debug)]
pub struct StageShard {
    pub latency: Histogram<u64>,
    pub deliveries: u64,
}

impl Shard {
    /// Record a first receipt of a message published in stage `i`.
    pub fn stage_delivery(&mut self, i: usize, latency_us: u64) {
        while self.stages.len() <= i {
            self.stages.push(StageShard {
                latency: histogram(),
                deliveries: 0,
            });
        }
        record(&mut self.stages[i].latency, latency_us);
        self.stages[i].deliveries += 1;
    }
}

impl Shard {
    fn new() -> Self {
        Shard {
            latency: histogram(),
            publish: histogram(),
            connect: histogram(),
            sec_latency: histogram(),
            sec: SecCounts::default(),
            win: WinCounts::default(),
            window_first: 0,
            errors: [0; ErrorKind::ALL.len()],
            reconnects: 0,
            lagged: 0,
            gaps: 0,
            foreign: 0,
            sio_handshakes: 0,
            sio_upgrades: 0,
            stages: Vec::new(),
        }
    }
}

/// An optional value as a trace shows it: the value, or `none`.
pub fn or_none<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or_else(|| "none".to_string(), |v| v.to_string())
}

/// Bytes as a short, printable snippet for a trace.
pub fn snippet(bytes: &[u8]) -> String {
    const MAX: usize = 160;
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(MAX)]);
    // Quotes stay as they are (JSON reads as JSON); only control
    // characters are escaped, so one trace entry stays one line.
    let mut s = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            s.extend(c.escape_default());
        } else {
            s.push(c);
        }
    }
    if bytes.len() > MAX {
        s.push_str(&format!("… ({} bytes)", bytes.len()));
    }
    s
}

/// Record a value, clamped to the histogram's sane range.
pub fn record(h: &mut Histogram<u64>, us: u64) {
    let _ = h.record(us.clamp(1, MAX_LATENCY_US));
}

/// Shards: more than worker threads so two threads rarely share one.
const SHARDS: usize = 8;

static NEXT_THREAD: AtomicUsize = AtomicUsize::new(0);
thread_local! {
    static THREAD_SLOT: Cell<usize> = const { Cell::new(usize::MAX) };
}

fn thread_slot() -> usize {
    THREAD_SLOT.with(|s| {
        if s.get() == usize::MAX {
            s.set(NEXT_THREAD.fetch_add(1, Ordering::Relaxed));
        }
        s.get()
    })
}

/// Shared recorder of one run.
#[derive(Debug)]
pub struct Recorder {
    shards: Box<[Mutex<Shard>]>,
    pub clock: Clock,
    window_start_us: AtomicU64,
    window_end_us: AtomicU64,
    /// A staged run's stage starts on the run clock (set with the window).
    stage_starts_us: std::sync::OnceLock<Vec<u64>>,
    phase: AtomicU8,
    /// Subscribers with an open connection now.
    pub connected: AtomicI64,
    sub_wire: Mutex<Vec<Arc<WireCounter>>>,
    pub_wire: Mutex<Vec<Arc<WireCounter>>>,
    first_errors: Mutex<BTreeMap<ErrorKind, String>>,
    error_seen: [AtomicBool; ErrorKind::ALL.len()],
    /// What went over the wire, in words (`rtbench profile check`); `None`
    /// in load runs, where it costs one branch per unit.
    trace: Option<Mutex<Vec<String>>>,
    created: Instant,
    /// Give every subscriber a phone radio model (runs over `--network`).
    radio: bool,
}

/// Lines a trace keeps: enough to see a few round trips.
const TRACE_LINES: usize = 24;

impl Recorder {
    pub fn new(clock: Clock) -> Self {
        Recorder {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::new())).collect(),
            clock,
            window_start_us: AtomicU64::new(u64::MAX),
            window_end_us: AtomicU64::new(u64::MAX),
            stage_starts_us: std::sync::OnceLock::new(),
            phase: AtomicU8::new(0),
            connected: AtomicI64::new(0),
            sub_wire: Mutex::new(Vec::new()),
            pub_wire: Mutex::new(Vec::new()),
            first_errors: Mutex::new(BTreeMap::new()),
            error_seen: Default::default(),
            trace: None,
            created: Instant::now(),
            radio: false,
        }
    }

    /// Subscribers created from now on get a phone radio model.
    pub fn with_radio(mut self) -> Self {
        self.radio = true;
        self
    }

    /// A recorder that also keeps a trace of the first exchanges.
    pub fn with_trace(clock: Clock) -> Self {
        Recorder {
            trace: Some(Mutex::new(Vec::new())),
            ..Recorder::new(clock)
        }
    }

    /// Add a trace line (built only when tracing).
    pub fn trace(&self, line: impl FnOnce() -> String) {
        if let Some(t) = &self.trace {
            let mut t = t.lock().unwrap_or_else(|p| p.into_inner());
            if t.len() < TRACE_LINES {
                let at = self.created.elapsed().as_secs_f64();
                t.push(format!("{at:>7.3}s {}", line()));
            }
        }
    }

    /// The trace so far.
    pub fn trace_lines(&self) -> Vec<String> {
        self.trace
            .as_ref()
            .map(|t| t.lock().unwrap_or_else(|p| p.into_inner()).clone())
            .unwrap_or_default()
    }

    /// This thread's shard. Held only for a few hundred nanoseconds, never across `.await`.
    pub fn shard(&self) -> MutexGuard<'_, Shard> {
        let i = thread_slot() % self.shards.len();
        self.shards[i].lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Visit every shard (sampler and final merge).
    pub fn each_shard(&self, mut f: impl FnMut(&mut Shard)) {
        for s in self.shards.iter() {
            f(&mut s.lock().unwrap_or_else(|p| p.into_inner()));
        }
    }

    /// Fix the measured window (called once, before publishers start).
    pub fn set_window(&self, start_us: u64, end_us: u64) {
        self.window_end_us.store(end_us, Ordering::Release);
        self.window_start_us.store(start_us, Ordering::Release);
    }

    /// Where the measured window starts on the run clock.
    pub fn window_start_us(&self) -> u64 {
        self.window_start_us.load(Ordering::Acquire)
    }

    /// True when `t_us` falls in the measured window.
    pub fn in_window(&self, t_us: u64) -> bool {
        t_us >= self.window_start_us.load(Ordering::Acquire)
            && t_us < self.window_end_us.load(Ordering::Acquire)
    }

    /// Fix where the stages start (a staged run, once, with the window).
    pub fn set_stages(&self, starts_us: Vec<u64>) {
        let _ = self.stage_starts_us.set(starts_us);
    }

    /// The stage a window message published at `sent_us` belongs to.
    pub fn stage_of(&self, sent_us: u64) -> Option<usize> {
        let starts = self.stage_starts_us.get()?;
        starts.partition_point(|&s| s <= sent_us).checked_sub(1)
    }

    pub fn set_phase(&self, p: Phase) {
        self.phase.store(p as u8, Ordering::Release);
    }

    pub fn phase(&self) -> Phase {
        match self.phase.load(Ordering::Acquire) {
            0 => Phase::RampUp,
            1 => Phase::Warmup,
            2 => Phase::Measure,
            _ => Phase::Drain,
        }
    }

    /// A new subscriber's byte counter (summed by the sampler), with its
    /// radio when the run models one.
    pub fn subscriber_counter(&self) -> Arc<WireCounter> {
        let c = Arc::new(WireCounter {
            radio: self.radio.then(|| RadioMeter::new(self.clock.start())),
            ..WireCounter::default()
        });
        self.sub_wire
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(c.clone());
        c
    }

    /// A new publisher's byte counter.
    pub fn publisher_counter(&self) -> Arc<WireCounter> {
        let c = Arc::new(WireCounter::default());
        self.pub_wire
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(c.clone());
        c
    }

    /// Total bytes so far: (subscribe up, subscribe down, publish up, publish down).
    pub fn wire_totals(&self) -> [u64; 4] {
        let sum = |v: &Mutex<Vec<Arc<WireCounter>>>| {
            v.lock()
                .unwrap_or_else(|p| p.into_inner())
                .iter()
                .map(|c| c.get())
                .fold((0, 0), |(u, d), (cu, cd)| (u + cu, d + cd))
        };
        let (su, sd) = sum(&self.sub_wire);
        let (pu, pd) = sum(&self.pub_wire);
        [su, sd, pu, pd]
    }

    /// Every subscriber's radio usage until `at`; `None` without radios.
    pub fn radio_snapshot(&self, at: Instant) -> Option<RadioSnap> {
        if !self.radio {
            return None;
        }
        let subs = self.sub_wire.lock().unwrap_or_else(|p| p.into_inner());
        Some(radio_snapshot(
            subs.iter().filter_map(|c| c.radio.as_ref()),
            at,
        ))
    }

    /// Count an error; remember the first detail of each kind.
    pub fn error(&self, e: &ClientError) {
        self.trace(|| format!("error ({}): {}", e.kind, e.detail));
        {
            let mut s = self.shard();
            s.errors[e.kind.index()] += 1;
            s.sec.errors += 1;
        }
        if !self.error_seen[e.kind.index()].swap(true, Ordering::Relaxed) {
            self.first_errors
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(e.kind, e.detail.to_string());
        }
    }

    /// The first error of each kind, with its detail.
    pub fn first_errors(&self) -> BTreeMap<ErrorKind, String> {
        self.first_errors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Sum of `window_first` over shards.
    pub fn window_first_total(&self) -> u64 {
        let mut n = 0;
        self.each_shard(|s| n += s.window_first);
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_and_shards() {
        let r = Recorder::new(Clock::new());
        assert!(!r.in_window(5));
        r.set_window(10, 20);
        assert!(r.in_window(10) && r.in_window(19));
        assert!(!r.in_window(20) && !r.in_window(9));
        record(&mut r.shard().latency, 1500);
        r.shard().window_first += 2;
        assert_eq!(r.window_first_total(), 2);
        let mut n = 0;
        r.each_shard(|s| n += s.latency.len());
        assert_eq!(n, 1);
        r.error(&ClientError::new(ErrorKind::Timeout, "slow"));
        r.error(&ClientError::new(ErrorKind::Timeout, "slower"));
        assert_eq!(
            r.first_errors()
                .get(&ErrorKind::Timeout)
                .map(String::as_str),
            Some("slow")
        );
    }
}
