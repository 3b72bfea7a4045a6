//! The state every handler shares and the router of every endpoint.

use crate::error::Error;
use crate::hub::Hub;
use crate::metrics::Metrics;
use crate::{Config, auth, broker, delay, limits, page, publish, transport};
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use std::ops::Deref;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Shared by every handler.
#[derive(Debug)]
pub struct Shared {
    pub config: Config,
    pub hub: Hub,
    pub metrics: Arc<Metrics>,
    pub limit_metrics: Arc<limits::LimitMetrics>,
    /// Publish budgets by address and by user.
    pub publishers: limits::keyed::Publishers,
    /// Open connections by address, for `--max-connections-per-ip`.
    pub open_per_ip: Arc<limits::per_ip::OpenPerIp>,
    /// New connections by address, for `--max-new-connections-per-ip`.
    pub new_per_ip: Option<limits::keyed::KeyedBuckets<std::net::IpAddr>>,
    /// Cancelled on shutdown: long polls answer, streams end, sockets close.
    pub shutdown: CancellationToken,
    /// Tracks connection and WebSocket tasks so shutdown can drain them.
    pub tracker: TaskTracker,
    /// Socket.IO sessions by sid.
    pub(crate) socketio: transport::socketio::Store,
    /// WebTransport's URL and certificate hash, once its endpoint is up.
    pub webtransport: std::sync::OnceLock<protocol::WebTransportInfo>,
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
    pub(crate) fn with_broker(
        config: Config,
        shutdown: CancellationToken,
        metrics: Arc<Metrics>,
        broker: Option<Arc<broker::RedisBroker>>,
    ) -> Result<Self, Error> {
        if broker.is_some()
            && !(config.inject_latency.is_zero() && config.inject_latency_per_subscriber.is_zero())
        {
            return Err(Error::Config(
                "--inject-latency works with --broker memory only".into(),
            ));
        }
        let delay = delay::DelayLine::start(
            config.inject_latency,
            config.inject_jitter,
            config.inject_latency_per_subscriber,
        )
        .map_err(Error::Thread)?;
        metrics.inject_cost_rounds.store(
            config.inject_cost_rounds,
            std::sync::atomic::Ordering::Relaxed,
        );
        Ok(AppState(Arc::new(Shared {
            new_per_ip: config
                .max_new_connections_per_ip
                .map(|l| limits::keyed::KeyedBuckets::new(l, limits::keyed::DEFAULT_CAPACITY)),
            hub: Hub::with_parts(&config, metrics.clone(), delay, broker),
            publishers: limits::keyed::Publishers::new(
                config.publish_rate_limit_per_ip,
                config.publish_rate_limit_per_user,
                limits::keyed::DEFAULT_CAPACITY,
            ),
            config,
            metrics,
            limit_metrics: Arc::default(),
            open_per_ip: Arc::default(),
            shutdown,
            tracker: TaskTracker::new(),
            socketio: transport::socketio::Store::default(),
            webtransport: std::sync::OnceLock::new(),
        })))
    }
}

/// Every route of the server.
pub fn app(state: AppState) -> Router {
    let limit = state.config.max_message_bytes;
    let mut router = Router::new()
        .route("/", get(page::index))
        .route(
            "/api/rooms/{room}/messages",
            get(transport::poll).post(publish::publish),
        )
        .route("/api/rooms/{room}/typing", post(publish::typing))
        .route("/api/rooms/{room}/events", get(transport::sse::handler))
        .route("/api/rooms/{room}/ws", get(transport::ws::handler))
        .route(
            protocol::socketio::PATH,
            get(transport::socketio::handler).post(transport::socketio::handler),
        )
        .route(protocol::paths::METRICS, get(page::metrics))
        .route(protocol::paths::STATS, get(page::stats))
        .route(protocol::paths::HEALTHZ, get(page::healthz))
        .route(protocol::paths::WEBTRANSPORT_INFO, get(page::webtransport))
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
        ));
    // Every request would pay for the layer; only proxies' need it.
    if !state.config.trusted_proxies.is_empty() {
        router = router.layer(axum::middleware::from_fn_with_state(
            state.clone(),
            limits::proxy::client_ip,
        ));
    }
    router.with_state(state)
}
