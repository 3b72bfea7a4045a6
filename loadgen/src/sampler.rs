//! The once-a-second sampler: drains every shard's per-second counters and
//! histogram into the time series, sums the per-client byte counters, and
//! drives the live output: the progress line (indicatif on a terminal, a
//! plain line every few seconds otherwise, e.g. in CI logs) and the
//! `--metrics-addr` endpoint.

use crate::config::Config;
use crate::record::{Recorder, SecCounts};
use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use protocol::results::{Phase, SecondSample};
use std::io::{IsTerminal, Write};
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
    pub fn spawn(rec: Arc<Recorder>, cfg: &Config) -> Sampler {
        let stop = CancellationToken::new();
        let token = stop.clone();
        let pb = progress_bar(cfg.progress);
        // Off a terminal: a plain line every `progress_interval` seconds.
        let every = match (&pb, cfg.progress) {
            (None, true) => cfg.progress_interval.as_secs(),
            _ => 0,
        };
        let live = cfg.metrics.clone();
        let clients = cfg.clients;
        let handle = tokio::spawn(async move {
            let mut state = State::new(rec, clients);
            let mut lines = PlainProgress::new(clients);
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
                if every > 0 {
                    lines.add(&s, &state.scratch);
                    if t.is_multiple_of(every) {
                        let _ = writeln!(std::io::stderr().lock(), "{}", lines.take(&s));
                    }
                }
                if let Some(live) = &live {
                    live.push(&s);
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

/// The plain progress line: figures of the seconds since the last line.
struct PlainProgress {
    clients: u64,
    secs: u64,
    deliveries: u64,
    errors: u64,
    latency: Histogram<u64>,
}

impl PlainProgress {
    fn new(clients: u64) -> Self {
        PlainProgress {
            clients,
            secs: 0,
            deliveries: 0,
            errors: 0,
            latency: Histogram::new(3).unwrap_or_else(|_| unreachable!("valid precision")),
        }
    }

    fn add(&mut self, s: &SecondSample, latency: &Histogram<u64>) {
        self.secs += 1;
        self.deliveries += s.deliveries;
        self.errors += s.errors;
        let _ = self.latency.add(latency);
    }

    /// The line for the seconds added since the last one, which it resets.
    fn take(&mut self, s: &SecondSample) -> String {
        let q = |q: f64| {
            if self.latency.is_empty() {
                "-".to_string()
            } else {
                crate::summary::fmt_us(self.latency.value_at_quantile(q))
            }
        };
        let line = format!(
            "rtbench: {}s {} connected {}/{} deliveries/s {} p50 {} p99 {} errors {}",
            s.t_secs,
            s.phase.map_or("", Phase::as_str),
            s.connected,
            self.clients,
            self.deliveries / self.secs.max(1),
            q(0.5),
            q(0.99),
            self.errors
        );
        *self = PlainProgress::new(self.clients);
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_line_covers_the_seconds_since_the_last() {
        let mut p = PlainProgress::new(100);
        let mut h = Histogram::<u64>::new(3).expect("histogram");
        h.record(2_000).expect("record");
        let mut s = SecondSample {
            t_secs: 1,
            phase: Some(Phase::Measure),
            deliveries: 300,
            published: 3,
            requests: 0,
            empty: 0,
            errors: 1,
            down_bytes: 0,
            up_bytes: 0,
            connected: 100,
            p50_us: Some(2_000),
            p99_us: Some(2_000),
        };
        p.add(&s, &h);
        s.t_secs = 2;
        s.deliveries = 100;
        p.add(&s, &Histogram::new(3).expect("histogram"));
        let line = p.take(&s);
        assert!(
            line.starts_with("rtbench: 2s measure connected 100/100 deliveries/s 200 p50 2.00 ms"),
            "{line}"
        );
        assert!(line.ends_with("p99 2.00 ms errors 2"), "{line}");
        let again = p.take(&s);
        assert!(
            again.contains("deliveries/s 0 p50 - p99 - errors 0"),
            "{again}"
        );
    }
}
