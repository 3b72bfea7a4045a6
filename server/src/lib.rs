//! rtbench reference chat server: one feed, four transports.
//!
//! Every room's messages reach subscribers over short polling, long
//! polling, Server-Sent Events and WebSockets with byte-identical JSON, so a
//! comparison between transports measures the transports and nothing else.
//!
//! # Layout
//! - [`config`]: [`Config`], the server's settings.
//! - [`hub`]: rooms, history, live fan-out; `hub::presence`: user lists.
//! - [`delay`]: `--inject-latency`, a fault knob for testing clients and gates.
//! - [`transport`]: one module per transport plus shared query parsing.
//! - [`publish`]: HTTP publish and typing.
//! - [`page`]: the browser chat page, `/metrics`, `/api/stats`, `/healthz`.
//! - [`metrics`]: counters per transport.
//! - [`net`]: byte counting at the socket.
//! - [`error`]: the JSON error body and [`Error`].
//! - [`sys`]: descriptor limit and process cost from /proc.

pub mod auth;
pub mod broker;
pub mod config;
pub mod delay;
pub mod error;
pub mod hub;
pub mod limits;
pub mod metrics;
pub mod net;
pub mod page;
pub mod publish;
pub mod sys;
pub mod tls;
pub mod transport;

pub use config::Config;
pub use error::{ApiError, Error};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use hub::Hub;
use hyper::server::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use metrics::Metrics;
use net::{ConnMeter, Counted};
use std::ops::Deref;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

/// Shared by every handler.
#[derive(Debug)]
pub struct Shared {
    pub config: Config,
    pub hub: Hub,
    pub metrics: Arc<Metrics>,
    pub limit_metrics: Arc<limits::LimitMetrics>,
    /// Cancelled on shutdown: long polls answer, streams end, sockets close.
    pub shutdown: CancellationToken,
    /// Tracks connection and WebSocket tasks so shutdown can drain them.
    pub tracker: TaskTracker,
}

/// Cheap handle to [`Shared`].
#[derive(Debug, Clone)]
pub struct AppState(Arc<Shared>);

impl Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    pub fn new(config: Config, shutdown: CancellationToken) -> Result<Self, Error> {
        Self::with_broker(config, shutdown, Arc::new(Metrics::default()), None)
    }

    /// State whose rooms publish through `broker` (Redis) when given.
    pub fn with_broker(
        config: Config,
        shutdown: CancellationToken,
        metrics: Arc<Metrics>,
        broker: Option<Arc<broker::RedisBroker>>,
    ) -> Result<Self, Error> {
        if broker.is_some() && !config.inject_latency.is_zero() {
            return Err(Error::Config(
                "--inject-latency works with --broker memory only".into(),
            ));
        }
        let delay = delay::DelayLine::start(config.inject_latency, config.inject_jitter)
            .map_err(Error::Thread)?;
        Ok(AppState(Arc::new(Shared {
            hub: Hub::with_parts(&config, metrics.clone(), delay, broker),
            config,
            metrics,
            limit_metrics: Arc::default(),
            shutdown,
            tracker: TaskTracker::new(),
        })))
    }
}

/// Every route of the server.
pub fn app(state: AppState) -> Router {
    let limit = state.config.max_message_bytes;
    Router::new()
        .route("/", get(page::index))
        .route(
            "/api/rooms/{room}/messages",
            get(transport::poll).post(publish::publish),
        )
        .route("/api/rooms/{room}/typing", post(publish::typing))
        .route("/api/rooms/{room}/events", get(transport::sse::handler))
        .route("/api/rooms/{room}/ws", get(transport::ws::handler))
        .route(protocol::paths::METRICS, get(page::metrics))
        .route(protocol::paths::STATS, get(page::stats))
        .route(protocol::paths::HEALTHZ, get(page::healthz))
        .fallback(page::not_found)
        .method_not_allowed_fallback(page::method_not_allowed)
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::check,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            limits::origins,
        ))
        .with_state(state)
}

/// Serves `listener` until `shutdown` is cancelled, then drains connections
/// for at most `config.shutdown_timeout`.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    listener.local_addr().map_err(Error::Listener)?;
    // Certificates first: a typo in a path fails before Redis is dialled.
    let tls = match &config.tls {
        Some(files) => Some(tokio_rustls::TlsAcceptor::from(tls::server_config(files)?)),
        None => None,
    };
    let metrics = Arc::new(Metrics::default());
    let broker = match &config.broker {
        Some(url) => Some(broker::RedisBroker::connect(url, &config, metrics.clone()).await?),
        None => None,
    };
    let state = AppState::with_broker(config, shutdown.child_token(), metrics, broker.clone())?;
    if let Some(b) = broker {
        tokio::spawn(b.clone().run_fanin(state.shutdown.clone()));
        tokio::spawn(broker::run_presence_refresh(
            b,
            state.clone(),
            state.shutdown.clone(),
        ));
    }
    let router = app(state.clone());
    let busy = busy_router();
    let reaper = tokio::spawn({
        let state = state.clone();
        async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tokio::select! {
                    _ = state.shutdown.cancelled() => break,
                    _ = tick.tick() => state.hub.reap(),
                }
            }
        }
    });
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            r = listener.accept() => match r {
                Ok((stream, _)) => {
                    let open = state.limit_metrics.open_connections.fetch_add(1, Ordering::Relaxed);
                    // The place is given back when the socket closes, also
                    // after a WebSocket upgrade (the meter lives as long).
                    let slot = limits::OpenConnection(state.limit_metrics.clone());
                    let meter = Arc::new(ConnMeter::new(state.metrics.clone()).holding(slot));
                    if open >= state.config.max_connections as i64 {
                        state.limit_metrics.rejected_connections.fetch_add(1, Ordering::Relaxed);
                        // Bounded: a rejected peer gets its answer or is cut off.
                        let c = connection(stream, busy.clone(), state.clone(), meter, tls.clone());
                        state.tracker.spawn(tokio::time::timeout(Duration::from_secs(10), c));
                    } else {
                        state.tracker.spawn(connection(stream, router.clone(), state.clone(), meter, tls.clone()));
                    }
                }
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning; the
                    // listener stays usable once descriptors free up.
                    eprintln!("rtbench server: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }
    drop(listener);
    state.shutdown.cancel();
    state.tracker.close();
    if tokio::time::timeout(state.config.shutdown_timeout, state.tracker.wait())
        .await
        .is_err()
    {
        eprintln!(
            "rtbench server: {} connections still open after {:?}; closing them",
            state.tracker.len(),
            state.config.shutdown_timeout
        );
    }
    reaper.abort();
    Ok(())
}

/// What a connection past `--max-connections` is served: every request
/// answered 503 with a JSON error and `Retry-After`, a WebSocket upgrade
/// closed with 1013 ("try again later"), then the connection is closed.
fn busy_router() -> Router {
    Router::new().fallback(
        |upgrade: Result<
            axum::extract::ws::WebSocketUpgrade,
            axum::extract::ws::rejection::WebSocketUpgradeRejection,
        >| async move {
            let why = "the server is at its connection limit (--max-connections); retry later";
            match upgrade {
                Ok(u) => u.on_upgrade(move |mut ws| async move {
                    use axum::extract::ws::{CloseFrame, Message};
                    let _ = ws
                        .send(Message::Close(Some(CloseFrame {
                            code: 1013,
                            reason: why.into(),
                        })))
                        .await;
                }),
                Err(_) => {
                    let mut r = ApiError::TooBusy(why.into()).into_response();
                    r.headers_mut().insert(
                        axum::http::header::CONNECTION,
                        axum::http::HeaderValue::from_static("close"),
                    );
                    r
                }
            }
        },
    )
}

/// One accepted socket: bytes counted at the TCP level (TLS records and
/// all), then TLS if configured, then HTTP/2 if ALPN chose it, else
/// HTTP/1.1 with upgrades.
async fn connection(
    stream: TcpStream,
    router: Router,
    state: AppState,
    meter: Arc<ConnMeter>,
    tls: Option<tokio_rustls::TlsAcceptor>,
) {
    // Latency is the product: never let Nagle hold a small frame back.
    let _ = stream.set_nodelay(true);
    // Two heartbeats without write progress: the peer stopped reading.
    let counted = Counted::new(stream, meter.clone(), state.config.heartbeat * 2);
    let Some(acceptor) = tls else {
        return serve(TokioIo::new(counted), false, router, meter, &state).await;
    };
    // A peer that never finishes its handshake is cut off like a slowloris.
    let handshake = async {
        let mut first = [0u8; 1];
        counted.get_ref().peek(&mut first).await.ok()?;
        if first[0] != TLS_HANDSHAKE_RECORD {
            plain_http_on_tls_port(counted).await;
            return None;
        }
        acceptor.accept(counted).await.ok()
    };
    match tokio::time::timeout(state.config.header_read_timeout, handshake).await {
        Ok(Some(s)) => {
            let h2 = s.get_ref().1.alpn_protocol() == Some(b"h2");
            if h2 {
                state
                    .limit_metrics
                    .http2_connections
                    .fetch_add(1, Ordering::Relaxed);
            }
            serve(TokioIo::new(s), h2, router, meter, &state).await
        }
        _ => {
            state
                .limit_metrics
                .tls_failures
                .fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The first byte of every TLS connection (a handshake record).
const TLS_HANDSHAKE_RECORD: u8 = 0x16;

/// Plain HTTP sent to the TLS port: one 400 that says so (as nginx does),
/// instead of a TLS alert that clients report as garbage.
async fn plain_http_on_tls_port<S: tokio::io::AsyncWrite + Unpin>(mut stream: S) {
    use tokio::io::AsyncWriteExt;
    let body = serde_json::to_string(&protocol::ErrorBody {
        error: "this port speaks TLS: use https:// (or wss://)".into(),
        code: "tls_required".into(),
    })
    .unwrap_or_default();
    let resp = format!(
        "HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(resp.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// HTTP on an open connection until it ends or the server shuts down (then
/// gracefully: requests in flight finish, within the shutdown deadline).
async fn serve<I>(io: I, h2: bool, router: Router, meter: Arc<ConnMeter>, state: &AppState)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let service =
        hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(meter.clone());
            router.clone().oneshot(req)
        });
    macro_rules! drive {
        ($conn:expr) => {{
            let conn = $conn;
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = state.shutdown.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        }};
    }
    if h2 {
        drive!(
            http2::Builder::new(TokioExecutor::new())
                .timer(TokioTimer::new())
                .max_frame_size(16 * 1024)
                .serve_connection(io, service)
        );
    } else {
        drive!(
            http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(state.config.header_read_timeout)
                .serve_connection(io, service)
                .with_upgrades()
        );
    }
}
