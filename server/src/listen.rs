//! The listener: the accept loop, `--max-connections`, and shutdown (stop
//! accepting, then drain open connections within the deadline).

use crate::app::{AppState, app};
use crate::bind::{Listeners, Udp};
use crate::connection::connection;
use crate::error::{ApiError, Error};
use crate::metrics::Metrics;
use crate::net::ConnMeter;
use crate::transport::wt;
use crate::{Config, broker, limits, tls};
use axum::Router;
use axum::response::IntoResponse;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

/// How long a connection refused past `--max-connections` may take to read
/// its 503 (or 1013 close) before it is cut off.
const REFUSAL_DEADLINE: Duration = Duration::from_secs(10);

/// Serves `listeners` until `shutdown` is cancelled, then drains connections
/// for at most `config.shutdown_timeout`. A bare `TcpListener` serves
/// WebTransport on the same port number (see [`crate::bind`]).
pub async fn run(
    listeners: impl Into<Listeners>,
    config: Config,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    start(listeners, config, shutdown).await?.serve().await
}

/// A server whose sockets, certificates and broker are ready, not yet
/// accepting: what it will announce, then [`Started::serve`].
pub struct Started {
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    state: AppState,
    wt: Option<Arc<wt::WtEndpoint>>,
    shutdown: CancellationToken,
}

/// Everything [`run`] does before it accepts: a bad certificate path, a
/// taken UDP port or a Redis that is down fails here.
pub async fn start(
    listeners: impl Into<Listeners>,
    config: Config,
    shutdown: CancellationToken,
) -> Result<Started, Error> {
    let Listeners { tcp: listener, udp } = listeners.into();
    listener.local_addr().map_err(Error::Listener)?;
    // Certificates first: a typo in a path fails before Redis is dialled.
    let tls = match &config.tls {
        Some(files) => Some(TlsAcceptor::from(tls::server_config(files)?)),
        None => None,
    };
    let state = start_state(config, &shutdown).await?;
    let udp = udp_socket(&state.config, &listener, udp)?;
    let wt = match udp {
        Some(socket) => {
            let (endpoint, info) = wt::start(&state.config, socket).await?;
            let _ = state.webtransport.set(info);
            Some(Arc::new(endpoint))
        }
        None => None,
    };
    Ok(Started {
        listener,
        tls,
        state,
        wt,
        shutdown,
    })
}

impl Started {
    /// The TCP listener's address.
    pub fn local_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.listener.local_addr()
    }

    /// WebTransport's URL and certificate hash; `None` when it is off.
    pub fn webtransport(&self) -> Option<&protocol::WebTransportInfo> {
        self.state.webtransport.get()
    }

    /// Accepts until shutdown, then drains.
    pub async fn serve(self) -> Result<(), Error> {
        let Started {
            listener,
            tls,
            state,
            wt,
            shutdown,
        } = self;
        let accepting = wt
            .as_ref()
            .map(|endpoint| tokio::spawn(wt::serve(endpoint.clone(), state.clone())));
        let reaper = spawn_reaper(state.clone());
        let routers = Routers {
            app: app(state.clone()),
            busy: busy_router(),
        };
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                r = listener.accept() => match r {
                    Ok((stream, peer)) => admit(&state, &routers, (stream, peer), &tls),
                    Err(e) => {
                        // EMFILE and friends: back off instead of spinning; the
                        // listener stays usable once descriptors free up.
                        crate::warn(format_args!("accept failed: {e}"));
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
        }
        drop(listener);
        drain(&state).await;
        if let Some(task) = accepting {
            let _ = task.await;
        }
        if let Some(endpoint) = wt {
            endpoint.close(
                wtransport::VarInt::from_u32(protocol::webtransport::CLOSE_GOING_AWAY),
                b"server shutting down",
            );
            let _ = tokio::time::timeout(Duration::from_secs(1), endpoint.wait_idle()).await;
        }
        reaper.abort();
        Ok(())
    }
}

/// WebTransport's UDP socket, if it is on: `--webtransport-addr`, else the
/// one bound with the TCP listener, else one on the TCP listener's port.
fn udp_socket(
    config: &Config,
    tcp: &TcpListener,
    udp: Udp,
) -> Result<Option<std::net::UdpSocket>, Error> {
    if !config.webtransport {
        return Ok(None);
    }
    if let Some(addr) = config.webtransport_addr {
        let socket = std::net::UdpSocket::bind(addr)
            .map_err(|source| crate::bind::BindError::Udp { addr, source })?;
        return Ok(Some(with_buffers(socket)));
    }
    let socket = match udp {
        Udp::Bound(s) => Some(s),
        Udp::SamePort => Some(crate::bind::same_port(tcp)?),
        Udp::None => None,
    };
    Ok(socket.map(with_buffers))
}

/// Kernel buffer asked for on the UDP socket, each way: it carries every
/// session, and a datagram the kernel drops for want of room would count
/// against the transport. Not getting it is no error (the default applies).
fn with_buffers(socket: std::net::UdpSocket) -> std::net::UdpSocket {
    let _ = protocol::sys::set_socket_buffers(&socket, 8 << 20);
    socket
}

/// The shared state, with the Redis broker (when configured) connected and
/// its fan-in and presence refresh running.
async fn start_state(config: Config, shutdown: &CancellationToken) -> Result<AppState, Error> {
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
    Ok(state)
}

/// Presence expiry, once a second until shutdown.
fn spawn_reaper(state: AppState) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                _ = state.shutdown.cancelled() => break,
                _ = tick.tick() => state.hub.reap(),
            }
        }
    })
}

/// The router of every endpoint, and those for connections over a limit.
struct Routers {
    app: Router,
    busy: Router,
}

/// One accepted socket: served by the app, or past `--max-connections`
/// (503) or `--max-connections-per-ip` (429) answered by a refusing router
/// within a bounded time.
fn admit(
    state: &AppState,
    routers: &Routers,
    (stream, peer): (TcpStream, std::net::SocketAddr),
    tls: &Option<TlsAcceptor>,
) {
    let limits = &state.limit_metrics;
    let open = limits.open_connections.fetch_add(1, Ordering::Relaxed);
    // The place is given back when the socket closes, also after a
    // WebSocket upgrade (the meter lives as long).
    let slot = limits::OpenConnection(limits.clone());
    let mut meter = ConnMeter::new(state.metrics.clone())
        .holding(slot)
        .with_peer(peer.ip());
    let refusal = if open >= state.config.max_connections as i64 {
        limits.rejected_connections.fetch_add(1, Ordering::Relaxed);
        Some(routers.busy.clone())
    } else {
        per_address(state, peer.ip(), &mut meter)
    };
    let meter = Arc::new(meter);
    match refusal {
        Some(router) => {
            let c = connection(stream, router, state.clone(), meter, tls.clone());
            state
                .tracker
                .spawn(tokio::time::timeout(REFUSAL_DEADLINE, c));
        }
        None => {
            let c = connection(
                stream,
                routers.app.clone(),
                state.clone(),
                meter,
                tls.clone(),
            );
            state.tracker.spawn(c);
        }
    }
}

/// The per-address limits for a TCP peer (see [`limits::per_ip::admit`]):
/// the router that refuses it, or `None` (its place, if counted, is kept
/// by `meter`).
fn per_address(state: &AppState, ip: std::net::IpAddr, meter: &mut ConnMeter) -> Option<Router> {
    match limits::per_ip::admit(state, ip) {
        Ok(slot) => {
            if let Some(slot) = slot {
                meter.hold_ip(slot);
            }
            None
        }
        Err(refused) => Some(refusing_router(refused.why(), refused.retry_after_s())),
    }
}

/// After the listener closed: end every session, then wait for the
/// connections to finish, at most `--shutdown-timeout`.
async fn drain(state: &AppState) {
    state.shutdown.cancel();
    state.tracker.close();
    if tokio::time::timeout(state.config.shutdown_timeout, state.tracker.wait())
        .await
        .is_err()
    {
        crate::warn(format_args!(
            "{} connections still open after {:?}; closing them",
            state.tracker.len(),
            state.config.shutdown_timeout
        ));
    }
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

/// What a connection past a per-address limit is served: every request, a
/// WebSocket upgrade included (it is not upgraded), answered 429 with a
/// JSON error and `Retry-After`, then the connection is closed.
fn refusing_router(why: String, retry_after_s: u64) -> Router {
    Router::new().fallback(move || async move {
        let mut r = ApiError::TooManyConnections { why, retry_after_s }.into_response();
        r.headers_mut().insert(
            axum::http::header::CONNECTION,
            axum::http::HeaderValue::from_static("close"),
        );
        r
    })
}
