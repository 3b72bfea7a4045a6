//! `rtbench server`: the reference chat server. Flag defaults come from
//! `server::Config::default()`, their one source, so `--help` shows what
//! the server really uses.

use super::out::errln;
use super::{CliError, cancel_on_signal};
use anyhow::Context;
use clap::Args;
use protocol::units::{ByteSize, Count, Dur};
use std::io::Write;
use std::net::SocketAddr;
use tokio_util::sync::CancellationToken;

/// `rtbench server`'s flags. Defaults come from `server::Config::default()`,
/// their one source, so `--help` shows what the server really uses.
#[derive(Args, Debug)]
pub struct ServerArgs {
    /// Address to listen on (TCP, and UDP on the same port for WebTransport);
    /// port 0 picks a free port (printed on stdout).
    #[arg(long, default_value = "127.0.0.1:3000")]
    addr: SocketAddr,
    /// Messages kept per room for pollers and reconnecting clients.
    #[arg(long, default_value_t = defaults().history, value_parser = parse_count_usize)]
    history: usize,
    /// Messages a push subscriber may fall behind before it is dropped with its cursor.
    #[arg(long, default_value_t = defaults().subscriber_queue, value_parser = parse_count_usize)]
    subscriber_queue: usize,
    /// SSE `: ping` and WebSocket ping interval.
    #[arg(long, default_value_t = Dur(defaults().heartbeat))]
    heartbeat: Dur,
    /// Socket.IO `pingInterval`: how often the server pings a session.
    #[arg(long, default_value_t = Dur(defaults().socketio_ping_interval))]
    socketio_ping_interval: Dur,
    /// Socket.IO `pingTimeout`: a session that leaves a ping unanswered this long is dropped.
    #[arg(long, default_value_t = Dur(defaults().socketio_ping_timeout))]
    socketio_ping_timeout: Dur,
    /// Longest a long poll is held (a client's `wait` is capped to this).
    #[arg(long, default_value_t = Dur(defaults().long_poll_max_wait))]
    long_poll_max_wait: Dur,
    /// Largest publish body or WebSocket message (e.g. 64k, 1M; sizes are binary).
    #[arg(long, default_value_t = size(defaults().max_message_bytes), value_parser = parse_message_size)]
    max_message_bytes: ByteSize,
    /// How long a user stays listed after their last connection or poll.
    #[arg(long, default_value_t = Dur(defaults().presence_timeout))]
    presence_timeout: Dur,
    /// Hard deadline for draining connections on SIGINT/SIGTERM.
    #[arg(long, default_value_t = Dur(defaults().shutdown_timeout))]
    shutdown_timeout: Dur,
    /// Fault knob for testing clients and regression gates, not a benchmark
    /// setting: every message becomes visible this much later on every
    /// transport (e.g. 5ms).
    #[arg(long, default_value_t = Dur(defaults().inject_latency), value_name = "DURATION")]
    inject_latency: Dur,
    /// With --inject-latency: extra random delay per message, up to this much.
    #[arg(long, default_value_t = Dur(defaults().inject_jitter), value_name = "DURATION")]
    inject_latency_jitter: Dur,
    /// Test knob, not a benchmark setting: every message becomes visible
    /// this much later for each live push subscriber (WebSocket, SSE,
    /// Socket.IO, WebTransport stream) of its room, at most 10s: a server
    /// whose latency grows with load, to try `load --stages` and its knee
    #[arg(long, default_value_t = Dur(defaults().inject_latency_per_subscriber), value_name = "DURATION")]
    inject_latency_per_subscriber: Dur,
    /// Fault knob for testing cost gates, not a benchmark setting: burn
    /// about this much CPU per delivery (e.g. 2us; a busy loop calibrated
    /// at start) [default: off]
    #[arg(long, value_name = "DURATION", conflicts_with = "inject_cost_rounds")]
    inject_cost: Option<Dur>,
    /// Like --inject-cost, as an exact count of busy-loop rounds per delivery
    /// (a few instructions each; the same on every machine) [default: off]
    #[arg(long, value_name = "N", value_parser = parse_rounds)]
    inject_cost_rounds: Option<u64>,
    /// Open connections beyond this are answered 503 (a WebSocket: close
    /// 1013); keep it below the process's descriptor limit (checked at start)
    #[arg(long, default_value_t = defaults().max_connections, value_parser = parse_count_usize)]
    max_connections: usize,
    /// Open connections from one client address (IPv6: per /64) beyond
    /// this are answered 429 with Retry-After before any upgrade, e.g. 100
    /// [default: off]
    #[arg(long, value_name = "N", value_parser = parse_count_usize)]
    max_connections_per_ip: Option<usize>,
    /// New connections per client address, a rate with an optional burst
    /// as --publish-rate-limit takes it, e.g. 20/s:50: past it a new
    /// connection is answered 429 with Retry-After before any upgrade
    /// [default: off]
    #[arg(long, value_name = "RATE", value_parser = server::limits::RateLimit::parse)]
    max_new_connections_per_ip: Option<server::limits::RateLimit>,
    /// Reverse proxies (addresses or CIDRs, comma-separated, e.g.
    /// 10.0.0.0/8,::1) whose X-Forwarded-For or Forwarded: for= names the
    /// client for the per-address limits (the right-most hop that is not one
    /// of them); from any other peer those headers are ignored. A listed
    /// proxy is not limited by --max-connections-per-ip [default: none]
    #[arg(long, value_name = "CIDRS", value_delimiter = ',', value_parser = server::limits::proxy::parse_cidr)]
    trusted_proxies: Vec<server::limits::proxy::IpNet>,
    /// Long polls held at once beyond this are answered 503
    #[arg(long, default_value_t = defaults().max_long_polls, value_parser = parse_count_usize)]
    max_long_polls: usize,
    /// Publishes per connection, e.g. 50/s or 50/s:100 (burst 100): past it
    /// HTTP answers 429 with Retry-After, a WebSocket gets an error frame and,
    /// after twice its burst of refusals in a row, close 1008 [default: off]
    #[arg(long, value_name = "RATE", value_parser = server::limits::RateLimit::parse)]
    publish_rate_limit: Option<server::limits::RateLimit>,
    /// Publish rate per client address over all its connections (IPv6: per
    /// /64), same syntax as --publish-rate-limit, e.g. 20/s:40: a client
    /// that reconnects for every publish is still limited. Clients behind
    /// one NAT share it [default: off]
    #[arg(long, value_name = "RATE", value_parser = server::limits::RateLimit::parse)]
    publish_rate_limit_per_ip: Option<server::limits::RateLimit>,
    /// Publish rate per authenticated user (the token's `sub`, with
    /// --auth-token-secret) from any address or connection, e.g. 10/s:20
    /// [default: off]
    #[arg(long, value_name = "RATE", value_parser = server::limits::RateLimit::parse)]
    publish_rate_limit_per_user: Option<server::limits::RateLimit>,
    /// Browser origins (besides this server's own) allowed to open a
    /// WebSocket or call the API, comma-separated, e.g.
    /// https://chat.example.com; others get 403 [default: any]
    #[arg(long, value_name = "ORIGINS", value_delimiter = ',')]
    allowed_origins: Option<Vec<String>>,
    /// Require an HS256 JWT signed with this secret on every room endpoint
    /// (`Authorization: Bearer` or `?token=`); its `sub` is the user name
    /// [default: off]. Prefer RTBENCH_AUTH_SECRET to keep it out of `ps`
    #[arg(
        long,
        value_name = "SECRET",
        env = "RTBENCH_AUTH_SECRET",
        hide_env_values = true
    )]
    auth_token_secret: Option<String>,
    /// Serve https and wss with this PEM certificate chain (with --tls-key);
    /// HTTP/2 is offered by ALPN for SSE and polling
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    tls_cert: Option<std::path::PathBuf>,
    /// The PEM private key of --tls-cert
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    tls_key: Option<std::path::PathBuf>,
    /// A client must send its request headers (and finish a TLS handshake)
    /// within this; also how long an HTTP keep-alive connection may sit idle
    /// between requests (slowloris guard)
    #[arg(long, default_value_t = Dur(defaults().header_read_timeout), value_name = "DURATION")]
    header_read_timeout: Dur,
    /// Where messages go: `memory` (this process only) or
    /// `redis://HOST:PORT[/DB]` to serve one feed from several instances
    /// (Redis Streams; any instance resumes any client's cursor)
    #[arg(long, default_value_t = Broker(defaults().broker), value_name = "BROKER", value_parser = parse_broker)]
    broker: Broker,
    /// WebTransport's UDP address [default: the --addr port, on UDP]
    #[arg(long, value_name = "ADDR", conflicts_with = "no_webtransport")]
    webtransport_addr: Option<SocketAddr>,
    /// Do not serve WebTransport (HTTP/3 on UDP)
    #[arg(long, default_value_t = !defaults().webtransport)]
    no_webtransport: bool,
    /// Shut down when standard input closes: `rtbench bench` starts its
    /// server this way so that the server never outlives it, even when the
    /// parent is killed. Such a child prints no banner, so whatever it
    /// writes to stderr is worth the parent showing.
    #[arg(long, hide = true)]
    exit_on_stdin_eof: bool,
}

fn defaults() -> server::Config {
    server::Config::default()
}

fn size(bytes: usize) -> ByteSize {
    ByteSize(bytes as u64)
}

/// `--broker`: in memory, or a Redis URL.
#[derive(Debug, Clone)]
struct Broker(Option<String>);

impl std::fmt::Display for Broker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.as_deref().unwrap_or("memory"))
    }
}

fn parse_broker(s: &str) -> Result<Broker, String> {
    if s == "memory" {
        return Ok(Broker(None));
    }
    if s.starts_with("redis://") {
        return Ok(Broker(Some(s.to_string())));
    }
    Err(format!(
        "'{s}': use memory or redis://HOST:PORT[/DB] (e.g. redis://127.0.0.1:6379)"
    ))
}

fn parse_count_usize(s: &str) -> Result<usize, String> {
    let n = s.parse::<Count>().map_err(|e| e.to_string())?.0;
    if n == 0 {
        return Err("must be at least 1".into());
    }
    usize::try_from(n).map_err(|e| e.to_string())
}

fn parse_rounds(s: &str) -> Result<u64, String> {
    s.parse::<Count>().map(|c| c.0).map_err(|e| e.to_string())
}

fn parse_message_size(s: &str) -> Result<ByteSize, String> {
    let n = s.parse::<ByteSize>().map_err(|e| e.to_string())?;
    if n.0 < 64 {
        return Err("must be at least 64 bytes".into());
    }
    usize::try_from(n.0).map_err(|e| e.to_string())?;
    Ok(n)
}

impl ServerArgs {
    fn tls_files(&self) -> Option<server::tls::TlsFiles> {
        Some(server::tls::TlsFiles {
            cert: self.tls_cert.clone()?,
            key: self.tls_key.clone()?,
        })
    }

    /// `--inject-cost-rounds`, or `--inject-cost` calibrated to rounds now.
    fn inject_cost_rounds(&self) -> u64 {
        match (self.inject_cost_rounds, &self.inject_cost) {
            (Some(n), _) => n,
            (None, Some(d)) if !d.0.is_zero() => server::rounds_for(d.0),
            _ => 0,
        }
    }

    fn config(&self) -> server::Config {
        server::Config {
            history: self.history,
            subscriber_queue: self.subscriber_queue,
            heartbeat: self.heartbeat.0,
            socketio_ping_interval: self.socketio_ping_interval.0,
            socketio_ping_timeout: self.socketio_ping_timeout.0,
            long_poll_max_wait: self.long_poll_max_wait.0,
            // Checked to fit by `parse_message_size`.
            max_message_bytes: usize::try_from(self.max_message_bytes.0).unwrap_or(usize::MAX),
            presence_timeout: self.presence_timeout.0,
            shutdown_timeout: self.shutdown_timeout.0,
            inject_latency: self.inject_latency.0,
            inject_jitter: self.inject_latency_jitter.0,
            inject_latency_per_subscriber: self.inject_latency_per_subscriber.0,
            inject_cost_rounds: self.inject_cost_rounds(),
            broker: self.broker.0.clone(),
            max_connections: self.max_connections,
            max_long_polls: self.max_long_polls,
            max_connections_per_ip: self.max_connections_per_ip,
            trusted_proxies: self.trusted_proxies.clone(),
            max_new_connections_per_ip: self.max_new_connections_per_ip,
            publish_rate_limit: self.publish_rate_limit,
            publish_rate_limit_per_ip: self.publish_rate_limit_per_ip,
            publish_rate_limit_per_user: self.publish_rate_limit_per_user,
            allowed_origins: self.allowed_origins.clone(),
            auth_secret: self.auth_token_secret.clone(),
            header_read_timeout: self.header_read_timeout.0,
            tls: self.tls_files(),
            webtransport: !self.no_webtransport,
            webtransport_addr: self.webtransport_addr,
            ..server::Config::default()
        }
    }
}

/// Cancels `token` when standard input reaches end of file (the parent
/// that holds its other end exited, however it exited).
fn cancel_on_stdin_eof(token: CancellationToken) {
    tokio::spawn(async move {
        let mut stdin = tokio::io::stdin();
        let mut buf = [0u8; 64];
        loop {
            match tokio::io::AsyncReadExt::read(&mut stdin, &mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => continue,
            }
        }
        token.cancel();
    });
}

/// Says on stderr that latency is being injected (a test, not a benchmark).
fn latency_knobs(args: &ServerArgs) {
    if !(args.inject_latency.0.is_zero() && args.inject_latency_jitter.0.is_zero()) {
        errln!(
            "rtbench server: injecting {:?} (+ up to {:?}) of latency into every delivery: \
             for testing clients and gates, not a benchmark",
            args.inject_latency.0,
            args.inject_latency_jitter.0
        );
    }
    if !args.inject_latency_per_subscriber.0.is_zero() {
        errln!(
            "rtbench server: injecting {:?} of latency per push subscriber of a room into \
             its deliveries: for testing, not a benchmark",
            args.inject_latency_per_subscriber.0
        );
    }
}

pub async fn run(args: ServerArgs) -> Result<(), CliError> {
    match server::sys::raise_nofile_limit() {
        Ok(n) if n < 4096 => errln!(
            "rtbench server: only {n} file descriptors allowed; expect failures past ~{n} connections"
        ),
        Ok(n) if n <= args.max_connections as u64 => errln!(
            "rtbench server: --max-connections {} is not below this process's descriptor limit ({n}); \
             past ~{n} connections, accepts fail instead of answering 503",
            args.max_connections
        ),
        Ok(_) => {}
        Err(e) => errln!("rtbench server: cannot raise the descriptor limit: {e}"),
    }
    let config = args.config();
    // UDP on the same port only when WebTransport goes there.
    let listeners = if config.webtransport && config.webtransport_addr.is_none() {
        server::bind(args.addr).await.map_err(anyhow::Error::new)?
    } else {
        let tcp = tokio::net::TcpListener::bind(args.addr)
            .await
            .map_err(|source| server::BindError::Tcp {
                addr: args.addr,
                source,
            })
            .map_err(anyhow::Error::new)?;
        server::Listeners::tcp_only(tcp)
    };
    let scheme = if config.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let token = CancellationToken::new();
    // Certificates, sockets and the broker are checked before anything is announced.
    let started = server::start(listeners, config.clone(), token.clone())
        .await
        .context("cannot start the server")?;
    let addr = started.local_addr().context("reading the bound address")?;
    let wt = started.webtransport();
    // One machine-readable line first, for scripts and `rtbench bench`.
    let line = serde_json::to_string(&protocol::Listening {
        listening: format!("{scheme}://{addr}"),
        webtransport: wt.map(|w| w.url.clone()),
        cert_hash: wt.map(|w| w.cert_hash.clone()),
    })?;
    let mut out = super::out::stdout();
    writeln!(out, "{line}")?;
    out.flush()?;
    drop(out);
    let banner = !args.exit_on_stdin_eof;
    if banner {
        errln!("rtbench server: chat page at {scheme}://{addr}/ (Ctrl-C stops)");
    }
    latency_knobs(&args);
    if config.inject_cost_rounds > 0 {
        errln!(
            "rtbench server: spending {} busy-loop rounds of CPU on every delivery: for testing \
             gates, not a benchmark",
            config.inject_cost_rounds
        );
    }
    cancel_on_signal(token.clone());
    if args.exit_on_stdin_eof {
        cancel_on_stdin_eof(token.clone());
    }
    started.serve().await?;
    if banner {
        errln!("rtbench server: stopped");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        server: ServerArgs,
    }

    #[test]
    fn flags_not_given_are_the_config_defaults() {
        let cli = Cli::try_parse_from(["server"]).expect("no flags");
        assert_eq!(
            format!("{:?}", cli.server.config()),
            format!("{:?}", server::Config::default())
        );
        let cli = Cli::try_parse_from([
            "server",
            "--max-message-bytes",
            "1k",
            "--heartbeat",
            "1m30s",
        ])
        .expect("flags");
        let c = cli.server.config();
        assert_eq!(c.max_message_bytes, 1024);
        assert_eq!(c.heartbeat, std::time::Duration::from_secs(90));
        assert!(Cli::try_parse_from(["server", "--max-message-bytes", "63"]).is_err());
        assert!(Cli::try_parse_from(["server", "--history", "0"]).is_err());
    }
}
