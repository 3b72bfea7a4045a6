//! The workload whose instructions the gate counts: the real server and the
//! real load generator's subscribing clients in one current-thread tokio
//! runtime, talking over loopback sockets, with a publisher that sends the
//! next message only when every subscriber has the previous one.
//!
//! Why it counts the same instructions on every run:
//! - one thread, so no lock contention, no work stealing, and the order in
//!   which tasks run depends only on which sockets are readable;
//! - lockstep publishing: one message in flight, so each subscriber reads
//!   exactly one message per wakeup and nothing batches differently;
//! - fixed counts (clients, messages, payload size), fixed seeds and run tag;
//! - no timer fires while measuring: heartbeats, long-poll waits, presence
//!   expiry and header timeouts are set to an hour, and the driver waits by
//!   yielding to the runtime (each yield is one pass of the I/O driver),
//!   never by sleeping;
//! - warm-up messages first, so lazy initialization and buffer growth are
//!   paid before [`measure_begin`].
//!
//! Callgrind is told `--zero-before=*measure_begin --dump-before=*measure_end`,
//! so its dump holds exactly the measured messages.

use loadgen::bench_hook::Subscribers;
use loadgen::marker::Stamp;
use protocol::Transport;
use serde::Serialize;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

/// The shape of one workload run.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct Shape {
    pub transport: Transport,
    pub clients: u32,
    /// Messages measured (after the warm-up).
    pub messages: u32,
    pub warmup: u32,
    /// Payload bytes per message.
    pub size: usize,
    /// `--inject-cost-rounds` of the server (0: off).
    pub inject_cost_rounds: u64,
}

impl Shape {
    /// The gate's standard workload for `transport`.
    pub fn standard(transport: Transport) -> Shape {
        Shape {
            transport,
            clients: 20,
            messages: 200,
            warmup: 20,
            size: 100,
            inject_cost_rounds: 0,
        }
    }

    /// Deliveries in the measured part.
    pub fn deliveries(&self) -> u64 {
        u64::from(self.clients) * u64::from(self.messages)
    }
}

/// What a run did, printed as one JSON line.
#[derive(Debug, Serialize)]
pub struct Done {
    pub shape: Shape,
    /// First receipts during the measured part (must be `shape.deliveries()`).
    pub deliveries: u64,
    pub errors: u64,
}

/// Failures of the workload itself (not of a gate).
#[derive(Debug, thiserror::Error)]
pub enum WorkloadError {
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Bind(#[from] server::BindError),
    #[error("load generator: {0}")]
    Loadgen(#[from] loadgen::Error),
    #[error("load generator config: {0}")]
    Config(#[from] loadgen::ConfigError),
    #[error("{0}")]
    Stuck(String),
    #[error("publish answered: {0}")]
    Publish(String),
}

/// Marks the start of the measured part for Callgrind (`--zero-before`).
/// The two markers differ in their bodies: identical functions may be
/// folded into one, and Callgrind would see one name twice.
#[inline(never)]
pub fn measure_begin() -> u32 {
    std::hint::black_box(0x6265_6769)
}

/// Marks its end (`--dump-before`).
#[inline(never)]
pub fn measure_end() -> u32 {
    std::hint::black_box(0x656e_6421)
}

/// Most runtime passes a wait may take before the workload calls itself stuck.
const PATIENCE: u64 = 2_000_000;
/// Runtime passes after each message is in, so that every client is back
/// in the state it waits in (a long poll re-sent and parked) before the next.
const SETTLE: u32 = 8;
const RUN_TAG: u32 = 0x6761_7465;
const HOUR: Duration = Duration::from_secs(3600);

/// Runs `shape` on a new current-thread runtime.
pub fn run(shape: &Shape) -> Result<Done, WorkloadError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(drive(shape))
}

async fn drive(shape: &Shape) -> Result<Done, WorkloadError> {
    let listener = server::bind(std::net::SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let addr = listener.tcp.local_addr()?;
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(server::run(
        listener,
        server_config(shape),
        shutdown.clone(),
    ));
    let mut cfg = loadgen::Config::new(&format!("http://{addr}"), shape.transport)?;
    cfg.clients = u64::from(shape.clients);
    cfg.size_bytes = shape.size;
    cfg.long_poll_wait = HOUR;
    cfg.seed = 1;
    let subs = Subscribers::new(cfg, RUN_TAG)?;
    let clients: Vec<_> = (0..shape.clients)
        .map(|i| tokio::spawn(subs.client(i)))
        .collect();
    wait_for(
        || subs.connected() >= u64::from(shape.clients),
        "clients to connect",
    )
    .await?;
    settle().await;
    let mut publisher = Publisher::connect(addr, subs.room(), shape.size).await?;
    let per_message = u64::from(shape.clients);
    for seq in 0..u64::from(shape.warmup) {
        publisher.publish(seq).await?;
        let want = (seq + 1) * per_message;
        wait_for(|| subs.deliveries() >= want, "the warm-up messages").await?;
        settle().await;
    }
    let before = subs.deliveries();
    measure_begin();
    for k in 0..u64::from(shape.messages) {
        let seq = u64::from(shape.warmup) + k;
        publisher.publish(seq).await?;
        let want = before + (k + 1) * per_message;
        wait_for(
            || subs.deliveries() >= want,
            "a message to reach every client",
        )
        .await?;
        settle().await;
    }
    measure_end();
    let done = Done {
        shape: shape.clone(),
        deliveries: subs.deliveries() - before,
        errors: subs.errors(),
    };
    subs.stop();
    shutdown.cancel();
    for c in clients {
        let _ = c.await;
    }
    let _ = server.await;
    Ok(done)
}

/// The server's settings: no timer may fire while measuring, however slow
/// Callgrind makes the run.
fn server_config(shape: &Shape) -> server::Config {
    server::Config {
        heartbeat: HOUR,
        long_poll_max_wait: HOUR,
        presence_timeout: HOUR,
        header_read_timeout: HOUR,
        shutdown_timeout: Duration::from_secs(2),
        inject_cost_rounds: shape.inject_cost_rounds,
        ..server::Config::default()
    }
}

/// Yields to the runtime until `done()`; each yield lets the I/O driver run once.
async fn wait_for(done: impl Fn() -> bool, what: &str) -> Result<(), WorkloadError> {
    for _ in 0..PATIENCE {
        if done() {
            return Ok(());
        }
        tokio::task::yield_now().await;
    }
    Err(WorkloadError::Stuck(format!("gave up waiting for {what}")))
}

async fn settle() {
    for _ in 0..SETTLE {
        tokio::task::yield_now().await;
    }
}

/// A minimal HTTP/1.1 keep-alive publisher (its cost is neither side's).
struct Publisher {
    stream: TcpStream,
    path: String,
    size: usize,
    buf: Vec<u8>,
}

impl Publisher {
    async fn connect(
        addr: std::net::SocketAddr,
        room: &str,
        size: usize,
    ) -> Result<Publisher, WorkloadError> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Publisher {
            stream,
            path: format!("/api/rooms/{room}/messages"),
            size,
            buf: Vec::with_capacity(4096),
        })
    }

    async fn publish(&mut self, seq: u64) -> Result<(), WorkloadError> {
        let sent_us = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as u64);
        let text = Stamp {
            run: RUN_TAG,
            publisher: 0,
            seq,
            sent_us,
        }
        .payload(self.size);
        let body = format!(r#"{{"user":"gate","text":"{text}"}}"#);
        let head = format!(
            "POST {} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n\
             content-length: {}\r\n\r\n",
            self.path,
            body.len()
        );
        self.stream
            .write_all(format!("{head}{body}").as_bytes())
            .await?;
        self.read_answer().await
    }

    /// Reads one response (headers and a `content-length` body); a 201 is fine.
    async fn read_answer(&mut self) -> Result<(), WorkloadError> {
        self.buf.clear();
        loop {
            if let Some(end) = find(&self.buf, b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.buf[..end]).to_ascii_lowercase();
                let len = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                if self.buf.len() >= end + 4 + len {
                    if !head.starts_with("http/1.1 201") {
                        return Err(WorkloadError::Publish(head));
                    }
                    return Ok(());
                }
            }
            let mut chunk = [0u8; 2048];
            let n = self.stream.read(&mut chunk).await?;
            if n == 0 {
                return Err(WorkloadError::Publish("connection closed".into()));
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
