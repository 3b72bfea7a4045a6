//! `--metrics-addr`: the load generator's live figures in Prometheus text
//! format at `/metrics`, for a dashboard beside the server's own.
//!
//! The sampler publishes each second's sample here as it appends it to the
//! series, so a scrape that reads `rtbench_loadgen_elapsed_seconds` = t
//! shows exactly the sums of the result file's series up to second t.

use crate::config::ConfigError;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use protocol::Transport;
use protocol::results::{Phase, SecondSample};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use tokio_util::sync::CancellationToken;

/// Every metric family this endpoint serves: name, type, help. The one
/// list the renderer, the docs and the dashboard test read.
pub const METRICS: [(&str, &str, &str); 11] = [
    (
        "rtbench_loadgen_elapsed_seconds",
        "gauge",
        "Seconds of the run sampled so far (the series' last second)",
    ),
    (
        "rtbench_loadgen_phase",
        "gauge",
        "1 for the run's current phase, 0 for the others",
    ),
    (
        "rtbench_loadgen_clients",
        "gauge",
        "Subscribing clients planned",
    ),
    (
        "rtbench_loadgen_connected_clients",
        "gauge",
        "Subscribing clients connected now",
    ),
    (
        "rtbench_loadgen_deliveries_total",
        "counter",
        "Messages received by subscribers since the run started",
    ),
    (
        "rtbench_loadgen_published_total",
        "counter",
        "Messages published since the run started",
    ),
    (
        "rtbench_loadgen_requests_total",
        "counter",
        "Poll requests answered since the run started",
    ),
    (
        "rtbench_loadgen_errors_total",
        "counter",
        "Client and publisher errors since the run started",
    ),
    (
        "rtbench_loadgen_wire_bytes_total",
        "counter",
        "Bytes on the wire (down: to the clients, up: to the server)",
    ),
    (
        "rtbench_loadgen_latency_seconds",
        "gauge",
        "Delivery latency of the last second, by quantile (absent without deliveries)",
    ),
    (
        "rtbench_loadgen_run_info",
        "gauge",
        "1; the run's transport and target as labels",
    ),
];

/// The running sums of the series so far.
#[derive(Debug, Default, Clone)]
struct Sums {
    transport: Option<Transport>,
    target: String,
    clients: u64,
    last: Option<SecondSample>,
    deliveries: u64,
    published: u64,
    requests: u64,
    errors: u64,
    down_bytes: u64,
    up_bytes: u64,
}

/// A bound `/metrics` endpoint and the figures it serves. Bound once by the
/// CLI (so a busy address fails before any run), served from the first run on.
#[derive(Debug)]
pub struct LiveMetrics {
    listener: std::net::TcpListener,
    sums: Mutex<Sums>,
    serving: AtomicBool,
    /// Ends the serving task when the endpoint is dropped.
    stop: CancellationToken,
}

impl Drop for LiveMetrics {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl LiveMetrics {
    /// Listen on `addr` (not yet serving: see [`LiveMetrics::serve`]).
    pub fn bind(addr: SocketAddr) -> Result<Arc<LiveMetrics>, ConfigError> {
        let bad = |e: std::io::Error| ConfigError::Invalid {
            flag: "--metrics-addr",
            why: format!("cannot listen on {addr}: {e}"),
        };
        let listener = std::net::TcpListener::bind(addr).map_err(bad)?;
        listener.set_nonblocking(true).map_err(bad)?;
        Ok(Arc::new(LiveMetrics {
            listener,
            sums: Mutex::new(Sums::default()),
            serving: AtomicBool::new(false),
            stop: CancellationToken::new(),
        }))
    }

    /// The address it listens on (the port chosen for `:0`).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.listener.local_addr().ok()
    }

    /// Start a run's figures from zero.
    pub(crate) fn start_run(&self, transport: Transport, target: &str, clients: u64) {
        *self.lock() = Sums {
            transport: Some(transport),
            target: target.to_string(),
            clients,
            ..Sums::default()
        };
    }

    /// Add one second of the series.
    pub(crate) fn push(&self, s: &SecondSample) {
        let mut m = self.lock();
        m.deliveries += s.deliveries;
        m.published += s.published;
        m.requests += s.requests;
        m.errors += s.errors;
        m.down_bytes += s.down_bytes;
        m.up_bytes += s.up_bytes;
        m.last = Some(s.clone());
    }

    /// The latest second of the series: what a watcher in this process
    /// (a test that breaks the network mid-run) times its actions by.
    pub fn last_second(&self) -> Option<SecondSample> {
        self.lock().last.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Sums> {
        self.sums.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Answer scrapes from now on, until this endpoint is dropped: after a
    /// run its final figures stay up (a last scrape sees the whole series),
    /// and `bench`'s runs take turns on one endpoint.
    pub(crate) fn serve(self: &Arc<Self>) {
        if self.serving.swap(true, Ordering::Relaxed) {
            return;
        }
        let Ok(listener) = self
            .listener
            .try_clone()
            .and_then(tokio::net::TcpListener::from_std)
        else {
            return;
        };
        let (me, stop) = (Arc::downgrade(self), self.stop.clone());
        tokio::spawn(async move {
            loop {
                let stream = tokio::select! {
                    _ = stop.cancelled() => break,
                    r = listener.accept() => match r {
                        Ok((s, _)) => s,
                        Err(_) => continue,
                    },
                };
                let (me, stop) = (me.clone(), stop.clone());
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req| {
                        let resp = match me.upgrade() {
                            Some(live) => live.answer(&req),
                            None => Response::new(String::new()),
                        };
                        async move { Ok::<_, std::convert::Infallible>(resp) }
                    });
                    let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), svc);
                    tokio::select! {
                        _ = stop.cancelled() => {}
                        _ = conn => {}
                    }
                });
            }
        });
    }

    fn answer(&self, req: &Request<Incoming>) -> Response<String> {
        let (status, body) = if req.uri().path() == "/metrics" {
            (StatusCode::OK, self.render())
        } else {
            (StatusCode::NOT_FOUND, "see /metrics\n".to_string())
        };
        let mut resp = Response::new(body);
        *resp.status_mut() = status;
        resp.headers_mut().insert(
            hyper::header::CONTENT_TYPE,
            hyper::header::HeaderValue::from_static("text/plain; version=0.0.4"),
        );
        resp
    }

    /// The Prometheus text of the figures so far.
    pub fn render(&self) -> String {
        let m = self.lock().clone();
        let transport = m.transport.map_or("", Transport::as_str);
        let label = format!("transport=\"{transport}\"");
        let last = m.last.as_ref();
        let mut out = String::new();
        for (name, kind, help) in METRICS {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            let mut one = |extra: &str, v: String| {
                let _ = writeln!(out, "{name}{{{label}{extra}}} {v}");
            };
            match name {
                "rtbench_loadgen_elapsed_seconds" => {
                    one("", last.map_or(0, |s| s.t_secs).to_string())
                }
                "rtbench_loadgen_phase" => {
                    for p in [Phase::RampUp, Phase::Warmup, Phase::Measure, Phase::Drain] {
                        let on = last.and_then(|s| s.phase) == Some(p);
                        one(
                            &format!(",phase=\"{}\"", p.as_str()),
                            u8::from(on).to_string(),
                        );
                    }
                }
                "rtbench_loadgen_clients" => one("", m.clients.to_string()),
                "rtbench_loadgen_connected_clients" => {
                    one("", last.map_or(0, |s| s.connected).to_string())
                }
                "rtbench_loadgen_deliveries_total" => one("", m.deliveries.to_string()),
                "rtbench_loadgen_published_total" => one("", m.published.to_string()),
                "rtbench_loadgen_requests_total" => one("", m.requests.to_string()),
                "rtbench_loadgen_errors_total" => one("", m.errors.to_string()),
                "rtbench_loadgen_wire_bytes_total" => {
                    one(",direction=\"down\"", m.down_bytes.to_string());
                    one(",direction=\"up\"", m.up_bytes.to_string());
                }
                "rtbench_loadgen_latency_seconds" => {
                    for (q, v) in [
                        ("0.5", last.and_then(|s| s.p50_us)),
                        ("0.99", last.and_then(|s| s.p99_us)),
                    ] {
                        if let Some(us) = v {
                            one(
                                &format!(",quantile=\"{q}\""),
                                format!("{}", us as f64 / 1e6),
                            );
                        }
                    }
                }
                "rtbench_loadgen_run_info" => {
                    one(&format!(",target=\"{}\"", escape(&m.target)), "1".into())
                }
                _ => unreachable!("every name of METRICS has its arm (tested)"),
            }
        }
        out
    }
}

/// A label value in Prometheus text: backslash, quote and newline escaped.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_renders_with_the_run_labels() {
        let live = LiveMetrics::bind("127.0.0.1:0".parse().expect("addr")).expect("bind");
        live.start_run(Transport::Sse, "http://127.0.0.1:1/\"x\"", 7);
        let sample = |t, deliveries, p99_us| SecondSample {
            t_secs: t,
            phase: Some(Phase::Measure),
            deliveries,
            published: 1,
            requests: 0,
            empty: 0,
            errors: 0,
            down_bytes: 10,
            up_bytes: 1,
            connected: 7,
            p50_us: p99_us,
            p99_us,
        };
        live.push(&sample(1, 5, Some(2_500)));
        live.push(&sample(2, 6, None));
        let text = live.render();
        for (name, _, _) in METRICS {
            assert!(text.contains(&format!("# TYPE {name} ")), "{name}");
        }
        assert!(text.contains("rtbench_loadgen_deliveries_total{transport=\"sse\"} 11\n"));
        assert!(text.contains("rtbench_loadgen_phase{transport=\"sse\",phase=\"measure\"} 1\n"));
        assert!(text.contains("rtbench_loadgen_phase{transport=\"sse\",phase=\"drain\"} 0\n"));
        assert!(
            text.contains(r#"target="http://127.0.0.1:1/\"x\""} 1"#),
            "{text}"
        );
        // The last second had no delivery: no latency sample, not a stale one.
        assert!(!text.contains("rtbench_loadgen_latency_seconds{"), "{text}");
        live.push(&sample(3, 1, Some(2_500)));
        let text = live.render();
        assert!(text.contains("quantile=\"0.99\"} 0.0025\n"), "{text}");
    }
}
