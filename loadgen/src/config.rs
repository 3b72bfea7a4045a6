//! The typed, validated settings of one run ([`Config`]), built from a
//! layered [`Scenario`] (flags, file, matrix cell or a worker's JSON) or,
//! by tests, from [`Config::new`] and then adjusted.

use crate::profile::Profile;
use crate::scenario::Scenario;
pub use crate::target::Target;
use protocol::Transport;
use protocol::results::{Arrival, PublishVia, PublishersAt};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Settings that cannot work, or a flag used with a transport it does not
/// apply to. `flag()` names the offending flag so the CLI can render a
/// clap-style usage error (exit code 2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A flag (or scenario key) that does not apply to the chosen transport or settings.
    #[error("{flag} cannot be used {why}")]
    Conflict { flag: &'static str, why: String },
    /// A value out of range or malformed.
    #[error("invalid value for {flag}: {why}")]
    Invalid { flag: &'static str, why: String },
    /// A required setting is missing (from flags and scenario file).
    #[error("{flag} is required (give it as a flag or in the --scenario file)")]
    Missing { flag: &'static str },
    /// The scenario file could not be read or parsed.
    #[error("scenario file {path}: {why}")]
    Scenario { path: String, why: String },
    /// The target profile is unreadable or invalid.
    #[error("profile {0}")]
    Profile(#[from] crate::profile::ProfileError),
}

impl ConfigError {
    /// The flag the error is about.
    pub fn flag(&self) -> &'static str {
        match self {
            ConfigError::Conflict { flag, .. }
            | ConfigError::Invalid { flag, .. }
            | ConfigError::Missing { flag } => flag,
            ConfigError::Scenario { .. } => "--scenario",
            ConfigError::Profile(_) => "--profile",
        }
    }

    /// The clap error kind to render this with: the CLI shows it as clap
    /// shows a bad flag, with the subcommand's usage line, and exits 2.
    pub fn clap_kind(&self) -> clap::error::ErrorKind {
        match self {
            ConfigError::Conflict { .. } => clap::error::ErrorKind::ArgumentConflict,
            ConfigError::Missing { .. } => clap::error::ErrorKind::MissingRequiredArgument,
            ConfigError::Invalid { .. }
            | ConfigError::Scenario { .. }
            | ConfigError::Profile(_) => clap::error::ErrorKind::ValueValidation,
        }
    }
}

/// Everything one run needs, validated by [`Config::validate`].
#[derive(Debug, Clone)]
pub struct Config {
    /// Every target (one, usually; never none): clients and publishers spread over them round-robin,
    /// as behind a load balancer with sticky sessions; a client whose
    /// connection fails moves on to the next one.
    pub targets: Vec<Target>,
    pub transport: Transport,
    /// Subscribing clients (one task and connection each).
    pub clients: u64,
    /// Rooms the clients are spread over evenly.
    pub rooms: u64,
    /// Rooms are named `<prefix><N>` (else after the run's tag).
    pub room_prefix: Option<String>,
    pub publishers: u64,
    /// Messages per second, total across publishers.
    pub rate_per_sec: f64,
    pub arrival: Arrival,
    /// Bytes of `text` per message.
    pub size_bytes: usize,
    /// The measured window.
    pub duration: Duration,
    /// `--stages`: clients and rate that change over the window (then
    /// `clients` and `rate_per_sec` are their peaks, `duration` their sum
    /// and `warmup` zero).
    pub stages: Option<Arc<crate::stages::Staged>>,
    /// Connect rate during ramp-up.
    pub ramp_up_per_sec: f64,
    /// Publishing before the window, not recorded (lets connections and caches settle).
    pub warmup: Duration,
    /// Longest wait for in-flight messages after the last publish.
    pub drain: Duration,
    /// Short poll: time between the starts of two polls.
    pub poll_interval: Duration,
    /// Long poll: the `wait` asked of the server.
    pub long_poll_wait: Duration,
    /// A push stream silent this long (no message, no heartbeat) is dead.
    pub stream_timeout: Duration,
    pub publish_via: PublishVia,
    /// Seeds publish schedules, poll phases and backoff jitter.
    pub seed: u64,
    /// Loopback addresses client sockets bind to, round-robin (empty: let the kernel pick).
    pub source_ips: Vec<IpAddr>,
    /// Show live progress: a live line on a terminal, else a plain line
    /// every `progress_interval` (zero: none).
    pub progress: bool,
    pub progress_interval: Duration,
    /// Where the live figures are served (`--metrics-addr`).
    pub metrics: Option<Arc<crate::live::LiveMetrics>>,
    /// Scenario file the settings came from (recorded in the result file).
    pub scenario_file: Option<PathBuf>,
    /// How to speak to the target (default: the built-in rtbench profile).
    pub profile: Arc<Profile>,
    /// Sample this local process's CPU and RSS from /proc as the server's
    /// cost (for servers without rtbench's `/api/stats`).
    pub server_pid: Option<u32>,
    /// Keep a trace of the first exchanges (`rtbench profile check`).
    pub trace: bool,
    /// Load workers of this run (processes or machines) and which one this is.
    pub workers: u32,
    pub worker_id: u32,
    /// When publishing starts (UNIX seconds): the same for every worker, so
    /// their windows line up; ramp-up happens before it.
    pub start_at: Option<f64>,
    /// Tokens for a server that wants them (see [`TokenSource`]).
    pub token: Option<TokenSource>,
    /// Certificates to trust and ALPN for `https://` targets.
    pub tls: crate::tls::TlsOptions,
    /// webtransport-datagram: fetch the messages behind a hole in ids.
    pub datagram_catch_up: bool,
    /// The emulated network between clients and server (`--network`): named
    /// in the result file, and it turns on the radio model.
    pub network: Option<netem::NetworkSpec>,
    /// Where the load generator's sockets are created: the client side of the
    /// emulated link. Not a setting: the CLI (or a test) that started the link
    /// fills it in. `None`: this process's own namespace (loopback, or a
    /// `--processes` worker that already runs inside the link).
    pub client_ns: Option<netem::Netns>,
    /// Which side of the link publishers are on (`--publishers-at`).
    pub publishers_at: PublishersAt,
    /// The link's server side, where publishers' sockets are created with
    /// `publishers_at` server; filled in as `client_ns`.
    pub server_ns: Option<netem::Netns>,
}

/// A malformed or out-of-range value of `flag`.
fn invalid(flag: &'static str, why: &str) -> Result<(), ConfigError> {
    Err(ConfigError::Invalid {
        flag,
        why: why.to_string(),
    })
}

/// Where clients' tokens come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    /// One token for every client (`--token`).
    Fixed(String),
    /// An HS256 secret: each client gets its own token whose `sub` is its
    /// name (`c17`, `p3`), as each browser user would (`--token-secret`).
    Secret(String),
}

/// Ports one source address can use (Linux's default ephemeral range,
/// 32768–60999) minus a margin.
pub const PORTS_PER_SOURCE_IP: u64 = 28_000;

/// Inputs of a run that are not scenario settings: how it is shown, which
/// worker of a distributed run this is, and where its settings came from.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub progress: bool,
    pub progress_interval: Duration,
    pub metrics: Option<Arc<crate::live::LiveMetrics>>,
    pub workers: u32,
    pub worker_id: u32,
    pub start_at: Option<f64>,
    pub scenario_file: Option<PathBuf>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            progress: false,
            progress_interval: Duration::from_secs(10),
            metrics: None,
            workers: 1,
            worker_id: 0,
            start_at: None,
            scenario_file: None,
        }
    }
}

impl TryFrom<Scenario> for Config {
    type Error = ConfigError;

    fn try_from(s: Scenario) -> Result<Config, ConfigError> {
        Config::from_scenario(s, RunOptions::default())
    }
}

impl Config {
    /// The built-in defaults ([`Scenario::defaults`]) for everything but
    /// target and transport, with seed 1 so that tests are reproducible;
    /// not validated, so tests can adjust fields first.
    pub fn new(target: &str, transport: Transport) -> Result<Config, ConfigError> {
        let s = Scenario {
            target: target.to_string(),
            transport: Some(transport),
            seed: Some(1),
            ..Scenario::defaults().clone()
        };
        Config::unchecked(s, RunOptions::default())
    }

    /// The validated settings of a run.
    pub fn from_scenario(s: Scenario, run: RunOptions) -> Result<Config, ConfigError> {
        let c = Config::unchecked(s, run)?;
        if c.rate_per_sec > 0.0 && c.publishers == 0 {
            return Err(ConfigError::Conflict {
                flag: "--publishers",
                why: "set to 0 with a --rate above 0".to_string(),
            });
        }
        c.validate()?;
        Ok(c)
    }

    fn unchecked(s: Scenario, run: RunOptions) -> Result<Config, ConfigError> {
        let transport = s.transport.ok_or(ConfigError::Missing {
            flag: "--transport",
        })?;
        let targets = parse_targets(&s.target)?;
        let profile = match &s.profile {
            Some(p) => Profile::load(p)?,
            None => Profile::builtin(),
        };
        let publish_via = s
            .publish_via
            .unwrap_or_else(|| profile.default_publish_via());
        let stages = crate::stages::Staged::from_scenario(&s)?.map(Arc::new);
        let (clients, rate_per_sec, duration, warmup) = crate::stages::shape(stages.as_deref(), &s);
        let size_bytes = usize::try_from(s.size.0).map_err(|_| ConfigError::Invalid {
            flag: "--size",
            why: "at most 1 MiB".into(),
        })?;
        Ok(Config {
            targets,
            transport,
            clients,
            rooms: s.rooms.0,
            room_prefix: s.room_prefix,
            publishers: s.publishers.0,
            rate_per_sec,
            arrival: s.arrival,
            size_bytes,
            duration,
            ramp_up_per_sec: match s.ramp_up {
                // Zero is refused by validate (as an infinite rate).
                Some(d) => clients as f64 / d.0.0.as_secs_f64(),
                None => s.connect_rate.0,
            },
            warmup,
            stages,
            drain: s.drain.0,
            poll_interval: s.poll_interval.0,
            long_poll_wait: s.long_poll_wait.0,
            stream_timeout: s.stream_timeout.0,
            publish_via,
            seed: s.seed.unwrap_or_else(random_seed),
            source_ips: s.source_ips.map(|ips| ips.0).unwrap_or_default(),
            progress: run.progress,
            progress_interval: run.progress_interval,
            metrics: run.metrics,
            scenario_file: run.scenario_file,
            profile: Arc::new(profile),
            server_pid: s.server_pid,
            trace: false,
            workers: run.workers,
            worker_id: run.worker_id,
            start_at: run.start_at,
            token: match (s.token, s.token_secret) {
                (Some(t), _) => Some(TokenSource::Fixed(t)),
                (None, Some(secret)) => Some(TokenSource::Secret(secret)),
                (None, None) => None,
            },
            tls: crate::tls::TlsOptions {
                insecure: s.insecure,
                ca_cert: s.ca_cert,
                http2: s.http2,
                cert_hash: s.cert_hash,
            },
            datagram_catch_up: s.datagram_catch_up,
            network: s.network,
            client_ns: None,
            publishers_at: s.publishers_at,
            server_ns: None,
        })
    }

    /// Check the settings once, before anything connects.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.check_profile()?;
        self.check_connection()?;
        self.check_workload()?;
        self.check_sockets()
    }

    /// Token, TLS and worker settings that only make sense together.
    fn check_connection(&self) -> Result<(), ConfigError> {
        if self.token.is_some() && self.profile.token.is_none() {
            return Err(ConfigError::Conflict {
                flag: "--token",
                why: format!(
                    "with profile '{}': it does not say where a token goes (add token = \"header:authorization\" or \"query:token\")",
                    self.profile.name
                ),
            });
        }
        if self.tls.http2 && self.targets.iter().any(|t| !t.tls) {
            return invalid(
                "--http2",
                "needs https:// targets: HTTP/2 is chosen by TLS ALPN, as browsers do",
            );
        }
        // WebTransport is always TLS (QUIC), whatever the target's scheme.
        let tls_anyway =
            self.transport.is_webtransport() || self.publish_via == PublishVia::WebTransport;
        if (self.tls.insecure || self.tls.ca_cert.is_some())
            && !tls_anyway
            && !self.targets.iter().any(|t| t.tls)
        {
            let flag = if self.tls.insecure {
                "--insecure"
            } else {
                "--ca-cert"
            };
            return invalid(flag, "only applies to https:// targets");
        }
        if let Some(hash) = &self.tls.cert_hash {
            if !tls_anyway {
                return invalid(
                    "--cert-hash",
                    "only applies to WebTransport (--transport webtransport or webtransport-datagram, --publish-via webtransport)",
                );
            }
            crate::transport::webtransport::parse_hash(hash)?;
        }
        if self.workers == 0 || self.worker_id >= self.workers {
            return invalid("--worker-id", "must be below --workers (0 … N−1)");
        }
        if self.workers > 1 && self.stages.is_some() {
            return Err(ConfigError::Conflict {
                flag: "--stages",
                why: "with --workers or --processes (not supported yet): run one staged process"
                    .into(),
            });
        }
        if self.workers > 1 && self.start_at.is_none() {
            return invalid(
                "--start-at",
                "is required with --workers: give every worker the same UNIX time, e.g. $(( $(date +%s) + 30 ))",
            );
        }
        Ok(())
    }

    /// Counts, rates, sizes and durations within what a run can do.
    fn check_workload(&self) -> Result<(), ConfigError> {
        if self.clients == 0 {
            return invalid("--clients", "must be at least 1");
        }
        if self.rooms == 0 || self.rooms > self.clients {
            return invalid("--rooms", "must be between 1 and --clients");
        }
        if let Some(p) = &self.room_prefix {
            crate::rooms::check_prefix(p).map_err(|why| ConfigError::Invalid {
                flag: "--room-prefix",
                why: why.to_string(),
            })?;
        }
        if self.rate_per_sec > 0.0 && self.publishers == 0 {
            return invalid("--publishers", "must be at least 1 when --rate is above 0");
        }
        if self.publishers > 10_000 {
            return invalid("--publishers", "at most 10k");
        }
        if !self.rate_per_sec.is_finite() || self.rate_per_sec > 1e6 {
            return invalid("--rate", "at most 1M messages per second");
        }
        if self.size_bytes > 1 << 20 {
            return invalid("--size", "at most 1 MiB");
        }
        if self.duration.is_zero() {
            return invalid("--duration", "must be above 0");
        }
        if !self.ramp_up_per_sec.is_finite() {
            return invalid("--ramp-up", "must be above 0s");
        }
        if self.ramp_up_per_sec.is_nan() || self.ramp_up_per_sec <= 0.0 {
            return invalid("--connect-rate", "must be above 0 clients per second");
        }
        if !self.poll_interval.is_zero() && self.poll_interval < Duration::from_millis(10) {
            return invalid(
                "--poll-interval",
                "must be 0 (back to back, like wrk) or at least 10ms",
            );
        }
        if self.long_poll_wait < Duration::from_millis(100) {
            return invalid("--long-poll-wait", "must be at least 100ms");
        }
        if self.stream_timeout < Duration::from_millis(100) {
            return invalid("--stream-timeout", "must be at least 100ms");
        }
        Ok(())
    }

    /// Enough ephemeral ports, and source addresses that can reach the targets.
    fn check_sockets(&self) -> Result<(), ConfigError> {
        self.check_network()?;
        let source_ips = self.source_ips.len().max(1) as u64;
        if self.clients + self.publishers * self.rooms > source_ips * PORTS_PER_SOURCE_IP {
            return invalid(
                "--source-ips",
                &format!(
                    "{} clients need more than the ~{PORTS_PER_SOURCE_IP} ephemeral ports of {source_ips} source address(es): \
                     spread them with e.g. --source-ips 127.0.0.1-127.0.0.8",
                    self.clients
                ),
            );
        }
        if let Some(ip) = self.source_ips.iter().find(|ip| !ip.is_loopback()) {
            return invalid("--source-ips", &format!("{ip} is not loopback"));
        }
        let addrs = self.targets.iter().filter_map(|t| t.addr);
        if let Some(far) = addrs.clone().find(|a| !a.ip().is_loopback())
            && !self.source_ips.is_empty()
        {
            return invalid(
                "--source-ips",
                &format!("only with loopback targets: a loopback source cannot reach {far}"),
            );
        }
        if self
            .source_ips
            .iter()
            .any(|ip| addrs.clone().any(|a| ip.is_ipv4() != a.is_ipv4()))
        {
            return invalid("--source-ips", "must be of the same IP family as --target");
        }
        Ok(())
    }

    /// A run over the emulated link must reach its server through the link.
    fn check_network(&self) -> Result<(), ConfigError> {
        if self.network.is_none() {
            return match self.publishers_at {
                PublishersAt::Client => Ok(()),
                PublishersAt::Server => invalid(
                    "--publishers-at",
                    "server needs --network: without an emulated link, publishers and clients are on one side",
                ),
            };
        }
        if self
            .targets
            .iter()
            .any(|t| t.addr.is_some_and(|a| a.ip().is_loopback()))
        {
            return Err(ConfigError::Conflict {
                flag: "--target",
                why:
                    "on loopback with --network: loopback traffic never crosses the emulated link. \
                      Leave --target out to measure rtbench's own server over the link, or start \
                      your server on the link's server side with --server-cmd and give --target \
                      http://198.18.0.2:PORT"
                        .into(),
            });
        }
        if !self.source_ips.is_empty() {
            return Err(ConfigError::Conflict {
                flag: "--source-ips",
                why: "with --network (not supported yet): every client socket comes from the \
                      link's client address, 198.18.0.1"
                    .into(),
            });
        }
        Ok(())
    }

    /// The profile must define the transport and the publish path in use.
    fn check_profile(&self) -> Result<(), ConfigError> {
        let p = &self.profile;
        if let Some(max) = p.rooms.filter(|&max| self.rooms > max) {
            return Err(ConfigError::Conflict {
                flag: "--rooms",
                why: format!(
                    "above {max} with profile '{}' ({}): it says rooms = {max} (the server \
                     has no more; clients would hear other rooms' messages)",
                    p.name, p.source_name
                ),
            });
        }
        if p.sub(self.transport).is_none() {
            let defined: Vec<&str> = p.transports().iter().map(|t| t.as_str()).collect();
            return Err(ConfigError::Conflict {
                flag: "--profile",
                why: format!(
                    "with transport {}: profile '{}' ({}) defines only {}",
                    self.transport,
                    p.name,
                    p.source_name,
                    defined.join(", ")
                ),
            });
        }
        let (via_ok, missing) = match self.publish_via {
            PublishVia::Http => (p.publish.http.is_some(), "url and body"),
            PublishVia::Ws => (p.publish.frame.is_some(), "frame"),
            PublishVia::SocketIo => (
                p.publishes_over_socketio(),
                "equivalent: [socketio] publish_event and publish_args",
            ),
            PublishVia::WebTransport => (
                p.webtransport_publish().is_some(),
                "equivalent: [webtransport] publish_frame",
            ),
        };
        if !via_ok {
            return Err(ConfigError::Conflict {
                flag: "--publish-via",
                why: format!(
                    "here: profile '{}' ({}) has no [publish] {missing} for it",
                    p.name, p.source_name
                ),
            });
        }
        Ok(())
    }

    /// Global numbers of this worker's publishers.
    pub fn own_publishers(&self) -> std::ops::Range<u32> {
        let p = self.publishers as u32;
        self.worker_id * p..(self.worker_id + 1) * p
    }

    /// The targets as given: `http://a,http://b`.
    pub fn targets_url(&self) -> String {
        self.targets
            .iter()
            .map(|t| t.url.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// How long drain really lasts: polling clients need at least one more
    /// poll (or wait) after the last publish to see it.
    pub fn effective_drain(&self) -> Duration {
        match self.transport {
            Transport::ShortPoll => self.drain.max(self.poll_interval + Duration::from_secs(1)),
            _ => self.drain,
        }
    }
}

/// A seed below 2^53 so it survives a round trip through JavaScript.
fn random_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    crate::rng::SplitMix64::new(nanos ^ u64::from(std::process::id())).next_u64() >> 11
}

/// `--target`: one or more comma-separated base URLs.
fn parse_targets(list: &str) -> Result<Vec<Target>, ConfigError> {
    let targets = list
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(Target::parse)
        .collect::<Result<Vec<_>, _>>()?;
    if targets.is_empty() {
        return Err(ConfigError::Invalid {
            flag: "--target",
            why: "give at least one base URL".into(),
        });
    }
    Ok(targets)
}

#[cfg(test)]
mod tests;
