//! What every client of a run shares: the settings, the recorder, the
//! server instances and the ramp-up gate.

use crate::config::{Config, ConfigError, Target};
use crate::error::ClientError;
use crate::net::Dialer;
use crate::profile::Sub;
use crate::record::Recorder;
use crate::tls::TlsClient;
use protocol::results::PublishersAt;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64};
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Counts clients that finished their first connect attempt (ramp-up waits on it).
#[derive(Debug, Default)]
pub struct RampGate {
    pub done: AtomicU64,
    pub notify: Notify,
}

/// One server instance of the run.
#[derive(Debug)]
pub struct Endpoint {
    pub url: String,
    /// The target, resolved.
    pub target: Target,
    pub dialer: Dialer,
    pub authority: Arc<str>,
    /// Clients connected to it now.
    pub connected: AtomicI64,
    /// Its WebTransport endpoint, made on first use.
    pub quic: tokio::sync::OnceCell<super::webtransport::Quic>,
}

impl Endpoint {
    /// `tls`: the run's connectors, used when `t` is `https://`; sockets come
    /// from `cfg`'s source addresses, in namespace `ns`.
    pub fn new(
        t: &Target,
        cfg: &Config,
        timeout: Duration,
        tls: Option<&TlsClient>,
        ns: Option<&netem::Netns>,
    ) -> Result<Self, ConfigError> {
        let tls = match tls {
            Some(client) if t.tls => Some(crate::net::TlsTarget {
                client: client.clone(),
                name: crate::tls::server_name(&t.host)?,
            }),
            _ => None,
        };
        // The run resolves its targets before it makes endpoints.
        let addr = t.addr.ok_or_else(|| ConfigError::Invalid {
            flag: "--target",
            why: format!("{} is not resolved", t.url),
        })?;
        Ok(Endpoint {
            url: t.url.clone(),
            target: t.clone(),
            dialer: Dialer::new(addr, cfg.source_ips.clone(), timeout)
                .with_tls(tls)
                .in_netns(ns.cloned()),
            authority: t.authority.as_str().into(),
            connected: AtomicI64::new(0),
            quic: tokio::sync::OnceCell::new(),
        })
    }

    /// Every target of `cfg`, for clients (in its client namespace), TLS
    /// set up once for all of them.
    pub fn all(cfg: &Config, timeout: Duration) -> Result<Vec<Endpoint>, ConfigError> {
        Self::all_in(cfg, timeout, cfg.client_ns.as_ref())
    }

    /// Publishers' own endpoints when their sockets are on the link's server
    /// side; `None`: they share the clients'.
    pub fn for_publishers(
        cfg: &Config,
        timeout: Duration,
    ) -> Result<Option<Vec<Endpoint>>, ConfigError> {
        if cfg.publishers_at == PublishersAt::Client || cfg.network.is_none() {
            return Ok(None);
        }
        let Some(ns) = &cfg.server_ns else {
            return Err(ConfigError::Invalid {
                flag: "--publishers-at",
                why: "server: this process has no handle on the link's server side".into(),
            });
        };
        Self::all_in(cfg, timeout, Some(ns)).map(Some)
    }

    fn all_in(
        cfg: &Config,
        timeout: Duration,
        ns: Option<&netem::Netns>,
    ) -> Result<Vec<Endpoint>, ConfigError> {
        let tls = if cfg.targets.iter().any(|t| t.tls) {
            Some(TlsClient::new(&cfg.tls)?)
        } else {
            None
        };
        cfg.targets
            .iter()
            .map(|t| Endpoint::new(t, cfg, timeout, tls.as_ref(), ns))
            .collect()
    }
}

/// What every client of a run shares.
#[derive(Debug)]
pub struct Shared {
    pub cfg: Config,
    pub rec: Arc<Recorder>,
    /// The server instances, in `--target` order.
    pub targets: Vec<Endpoint>,
    /// The same for publishers, when their sockets are elsewhere
    /// ([`Endpoint::for_publishers`]); see [`Shared::pub_targets`].
    pub publisher_targets: Option<Vec<Endpoint>>,
    pub rooms: Vec<String>,
    /// This run's tag in every marker (and room name).
    pub run_tag: u32,
    pub ramp: RampGate,
    /// Cancelled when the run ends (clients only; publishers have their own).
    pub cancel: CancellationToken,
}

impl Shared {
    /// The endpoints publishers use: their own, or the clients'.
    pub fn pub_targets(&self) -> &[Endpoint] {
        self.publisher_targets.as_deref().unwrap_or(&self.targets)
    }

    /// Tie an error of the subscribe request to the profile's `url` field.
    pub fn url_error(&self, e: ClientError) -> ClientError {
        let field = format!("[{}] url", self.cfg.transport);
        e.in_field(&self.cfg.profile, &field, self.sub().url_line)
    }

    /// The profile's section for this run's transport (checked by `Config::validate`).
    pub fn sub(&self) -> &Sub {
        self.cfg.profile.sub(self.cfg.transport).unwrap_or_else(|| {
            unreachable!("Config::validate checks the profile defines the transport")
        })
    }
}
