//! Server settings, validated once by the CLI and passed to [`crate::run`].

use std::time::Duration;

/// Everything `rtbench server` can be told. `Default` is the one source of
/// the defaults: the CLI's flags take theirs from it (and show them).
#[derive(Debug, Clone)]
pub struct Config {
    /// Messages kept per room so pollers and reconnecting clients lose nothing.
    pub history: usize,
    /// Messages a push subscriber may fall behind before it is dropped with
    /// its cursor (bounds memory per slow client).
    pub subscriber_queue: usize,
    /// Recent messages sent to a subscriber that joins without `since`.
    pub join_history: usize,
    /// SSE `: ping` and WebSocket ping interval; also how long a silent
    /// WebSocket peer may stay before it is considered dead (twice this).
    pub heartbeat: Duration,
    /// Upper bound for a long poll's `wait`.
    pub long_poll_max_wait: Duration,
    /// Largest publish body, WebSocket frame or message.
    pub max_message_bytes: usize,
    /// `retry:` hint sent to EventSource clients.
    pub sse_retry: Duration,
    /// How long a user stays in the user list after their last push
    /// connection closed or their last poll (covers reconnects and poll gaps).
    pub presence_timeout: Duration,
    /// Hard deadline for draining connections on shutdown.
    pub shutdown_timeout: Duration,
    /// Slow clients that trickle request headers are cut off after this;
    /// it also bounds how long a keep-alive connection may sit idle between
    /// requests (hyper starts it when a response is done).
    pub header_read_timeout: Duration,
    /// Fault knob: every message becomes visible this much later (testing
    /// clients and regression gates; never a benchmark setting).
    pub inject_latency: Duration,
    /// Extra random delay per message, uniform in `0..=inject_jitter`.
    pub inject_jitter: Duration,
    /// Test knob: extra delay per message for each live push subscriber of
    /// its room (at most [`crate::delay::MAX_LOAD_DELAY`]): a server whose
    /// latency grows with load, for testing a staged run's knee.
    pub inject_latency_per_subscriber: Duration,
    /// Fault knob: busy-loop rounds of real work spent per delivery (see
    /// [`crate::spend`]): a known CPU cost for proving that cost gates catch
    /// a slowdown; never a benchmark setting.
    pub inject_cost_rounds: u64,
    /// `redis://HOST:PORT[/DB]` to scale out on Redis; `None`: in memory.
    pub broker: Option<String>,
    /// Open connections beyond this are answered 503 (WebSocket: close 1013).
    pub max_connections: usize,
    /// Open connections per client address (IPv6: per /64) beyond this are
    /// answered 429; `None`: no limit.
    pub max_connections_per_ip: Option<usize>,
    /// New connections per client address (a token bucket); `None`: no limit.
    pub max_new_connections_per_ip: Option<crate::limits::RateLimit>,
    /// Reverse proxies whose `X-Forwarded-For` / `Forwarded` name the
    /// client for the per-address limits; empty: the TCP peer is the client.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Long polls held at once beyond this are answered 503.
    pub max_long_polls: usize,
    /// Publishes per connection (HTTP keep-alive or WebSocket); `None`: no limit.
    pub publish_rate_limit: Option<crate::limits::RateLimit>,
    /// Publishes per client address (IPv6: per /64), over all its connections.
    pub publish_rate_limit_per_ip: Option<crate::limits::RateLimit>,
    /// Publishes per authenticated user (the token's `sub`), from anywhere.
    pub publish_rate_limit_per_user: Option<crate::limits::RateLimit>,
    /// Browser origins allowed besides the server's own; `None`: any.
    pub allowed_origins: Option<Vec<String>>,
    /// HS256 secret: every room endpoint then wants a JWT whose `sub` is the user.
    pub auth_secret: Option<String>,
    /// `--tls-cert`/`--tls-key`: serve https and wss (HTTP/2 by ALPN).
    pub tls: Option<crate::tls::TlsFiles>,
    /// Socket.IO `pingInterval`: how often the server pings a session.
    pub socketio_ping_interval: Duration,
    /// Socket.IO `pingTimeout`: how long a ping may go unanswered before
    /// the session is dropped.
    pub socketio_ping_timeout: Duration,
    /// Serve WebTransport over HTTP/3 on UDP (docs/webtransport.md).
    pub webtransport: bool,
    /// WebTransport's UDP address; `None`: the TCP listener's (same port number).
    pub webtransport_addr: Option<std::net::SocketAddr>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            history: 1024,
            subscriber_queue: 1024,
            join_history: 50,
            heartbeat: Duration::from_secs(15),
            long_poll_max_wait: Duration::from_secs(30),
            max_message_bytes: 64 * 1024,
            sse_retry: Duration::from_secs(2),
            presence_timeout: Duration::from_secs(10),
            shutdown_timeout: Duration::from_secs(5),
            header_read_timeout: Duration::from_secs(30),
            inject_latency: Duration::ZERO,
            inject_jitter: Duration::ZERO,
            inject_latency_per_subscriber: Duration::ZERO,
            inject_cost_rounds: 0,
            broker: None,
            // Fits a 20,000-descriptor limit with room for listeners, Redis
            // and logs; the CLI warns when the process's limit is lower.
            max_connections: 19_500,
            max_long_polls: 10_000,
            max_connections_per_ip: None,
            trusted_proxies: Vec::new(),
            max_new_connections_per_ip: None,
            publish_rate_limit: None,
            publish_rate_limit_per_ip: None,
            publish_rate_limit_per_user: None,
            allowed_origins: None,
            auth_secret: None,
            tls: None,
            // Socket.IO's own defaults, so its clients behave as usual.
            socketio_ping_interval: Duration::from_millis(
                protocol::socketio::engine::DEFAULT_PING_INTERVAL_MS,
            ),
            socketio_ping_timeout: Duration::from_millis(
                protocol::socketio::engine::DEFAULT_PING_TIMEOUT_MS,
            ),
            webtransport: true,
            webtransport_addr: None,
        }
    }
}
