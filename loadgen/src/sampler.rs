//! The once-a-second sampler: drains every shard's per-second counters and
//! histogram into the time series, sums the per-client byte counters, and
//! drives the live progress line (indicatif, only on a terminal).

use crate::record::{Recorder, SecCounts};
use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use protocol::results::{Phase, SecondSample};
use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A running sampler; [`Sampler::finish`] stops it and returns the series.
#[derive(Debug)]
pub struct Sampler {
    stop: CancellationToken,
    handle: JoinHandle<Vec<SecondSample>>,
}

/// Live progress on stderr when it is a terminal and progress is wanted.
fn progress_bar(enabled: bool) -> Option<ProgressBar> {
    if !enabled || !std::io::stderr().is_terminal() {
        return None;
    }
    let pb = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template("{spinner} {elapsed:>4} {msg}") {
        pb.set_style(style);
    }
    pb.enable_steady_tick(Duration::from_millis(250));
    Some(pb)
}

impl Sampler {
    pub fn spawn(rec: Arc<Recorder>, clients: u64, progress: bool) -> Sampler {
        let stop = CancellationToken::new();
        let token = stop.clone();
        let handle = tokio::spawn(async move {
            let pb = progress_bar(progress);
            let mut state = State::new(rec, clients);
            let start = tokio::time::Instant::from_std(state.rec.clock.start());
            let mut t = 1u64;
            loop {
                tokio::select! {
                    _ = token.cancelled() => break,
                    _ = tokio::time::sleep_until(start + Duration::from_secs(t)) => {}
                }
                let s = state.sample(t);
                if let Some(pb) = &pb {
                    pb.set_message(state.progress_line(&s));
                }
                state.series.push(s);
                t += 1;
            }
            if let Some(pb) = pb {
                pb.finish_and_clear();
            }
            state.series
        });
        Sampler { stop, handle }
    }

    /// Stop and return the per-second series.
    pub async fn finish(self) -> Vec<SecondSample> {
        self.stop.cancel();
        self.handle.await.unwrap_or_default()
    }
}

struct State {
    rec: Arc<Recorder>,
    clients: u64,
    scratch: Histogram<u64>,
    /// Window latencies so far, for the progress line's p99.
    so_far: Histogram<u64>,
    last_wire: [u64; 4],
    errors: u64,
    series: Vec<SecondSample>,
}

impl State {
    fn new(rec: Arc<Recorder>, clients: u64) -> Self {
        let h = || Histogram::new(3).unwrap_or_else(|_| unreachable!("valid precision"));
        State {
            rec,
            clients,
            scratch: h(),
            so_far: h(),
            last_wire: [0; 4],
            errors: 0,
            series: Vec::new(),
        }
    }

    fn sample(&mut self, t: u64) -> SecondSample {
        let mut sec = SecCounts::default();
        self.scratch.reset();
        let scratch = &mut self.scratch;
        self.rec.each_shard(|s| {
            let c = std::mem::take(&mut s.sec);
            sec.deliveries += c.deliveries;
            sec.published += c.published;
            sec.requests += c.requests;
            sec.empty += c.empty;
            sec.errors += c.errors;
            let _ = scratch.add(&s.sec_latency);
            s.sec_latency.reset();
        });
        let phase = self.rec.phase();
        if matches!(phase, Phase::Measure | Phase::Drain) {
            let _ = self.so_far.add(&self.scratch);
        }
        let wire = self.rec.wire_totals();
        let (up, down) = (wire[0] - self.last_wire[0], wire[1] - self.last_wire[1]);
        self.last_wire = wire;
        self.errors += sec.errors;
        let scratch = &self.scratch;
        let quantile = |q: f64| (!scratch.is_empty()).then(|| scratch.value_at_quantile(q));
        SecondSample {
            t_secs: t,
            phase: Some(phase),
            deliveries: sec.deliveries,
            published: sec.published,
            requests: sec.requests,
            empty: sec.empty,
            errors: sec.errors,
            down_bytes: down,
            up_bytes: up,
            connected: self.rec.connected.load(Ordering::Relaxed).max(0) as u64,
            p50_us: quantile(0.5),
            p99_us: quantile(0.99),
        }
    }

    fn progress_line(&self, s: &SecondSample) -> String {
        let p99 = if self.so_far.is_empty() {
            "-".to_string()
        } else {
            crate::summary::fmt_us(self.so_far.value_at_quantile(0.99))
        };
        format!(
            "{:<8} connected {}/{}  deliveries/s {}  published/s {}  p99 {}  errors {}",
            s.phase.map_or("", Phase::as_str),
            s.connected,
            self.clients,
            s.deliveries,
            s.published,
            p99,
            self.errors
        )
    }
}
