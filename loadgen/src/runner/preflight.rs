//! Before a run: can this process open the sockets it needs, and does
//! every target answer? After it: which targets stopped answering.

use super::RunWarning;
use crate::config::Config;
use crate::error::{ClientError, Error};
use crate::http::get_once;
use crate::net::{Purpose, WireCounter};
use crate::sys;
use crate::transport::Endpoint;
use protocol::results::PublishVia;
use std::sync::Arc;
use std::time::Duration;

/// The preflight must answer within this, so an unreachable target is a
/// clear error within 5 s.
const PREFLIGHT_LIMIT: Duration = Duration::from_secs(4);

/// Sockets the process needs beyond one per client and publisher.
const FD_MARGIN: u64 = 64;

/// Raise the open-files limit to what the scenario needs; an error when the
/// hard limit is too low, a warning when it could not be raised at all.
pub(super) fn check_limits(cfg: &Config, warnings: &mut Vec<RunWarning>) -> Result<(), Error> {
    let per_pub = match cfg.publish_via {
        PublishVia::Http => 1,
        // One socket per room (Socket.IO: its polling connection too).
        PublishVia::Ws => cfg.rooms,
        PublishVia::SocketIo => 2 * cfg.rooms,
        // Sessions share one UDP socket per target.
        PublishVia::WebTransport => 0,
    };
    let need = cfg.clients + cfg.publishers * per_pub + FD_MARGIN;
    match sys::raise_nofile_limit(need) {
        Ok(limit) if limit >= need => Ok(()),
        Ok(limit) => Err(Error::Limits(format!(
            "this run needs ~{need} open files but this process may open at most {limit} \
             (the hard limit, not raisable here): run fewer clients per process"
        ))),
        Err(e) => {
            warnings.push(RunWarning::NofileLimit { why: e.to_string() });
            Ok(())
        }
    }
}

/// Each target's address: a host name is asked of the system's resolver
/// once, now, so every connection of the run goes to one address (the one
/// the result file names); then the checks that need addresses run again.
pub(super) async fn resolve(cfg: &mut Config) -> Result<(), Error> {
    for t in &mut cfg.targets {
        t.resolve().await?;
    }
    cfg.validate()?;
    Ok(())
}

/// The profile's health path must answer 2xx within [`PREFLIGHT_LIMIT`];
/// without one, the target must accept a TCP connection.
pub(super) async fn preflight(cfg: &Config, ep: &Endpoint) -> Result<(), Error> {
    let unreachable = |reason: String| Error::Unreachable {
        target: ep.url.clone(),
        reason,
    };
    let Some(path) = &cfg.profile.health else {
        let counter = Arc::new(WireCounter::default());
        let dial = ep.dialer.dial(0, &counter, Purpose::Http);
        return match tokio::time::timeout(PREFLIGHT_LIMIT, dial).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(failed(ep, e)),
            Err(_) => Err(unreachable(format!(
                "no connection within {PREFLIGHT_LIMIT:?}"
            ))),
        };
    };
    match get_once(&ep.dialer, &ep.authority, path, PREFLIGHT_LIMIT).await {
        Ok((status, _)) if (200..300).contains(&status) => webtransport(cfg, ep).await,
        Ok((status, body)) => Err(Error::BadTarget {
            target: ep.url.clone(),
            reason: format!(
                "GET {path} (the profile's health) answered {status}{}",
                server_reason(&body)
            ),
        }),
        Err(e) => Err(failed(ep, e)),
    }
}

/// A WebTransport run learns where sessions go, and which certificate to
/// trust, once before it starts (the server's `GET /api/webtransport`).
async fn webtransport(cfg: &Config, ep: &Endpoint) -> Result<(), Error> {
    if !cfg.transport.is_webtransport() && cfg.publish_via != PublishVia::WebTransport {
        return Ok(());
    }
    let q = crate::transport::webtransport::quic(ep, cfg);
    match tokio::time::timeout(PREFLIGHT_LIMIT, q).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(Error::BadTarget {
            target: ep.url.clone(),
            reason: e.detail.to_string(),
        }),
        Err(_) => Err(Error::Unreachable {
            target: ep.url.clone(),
            reason: format!(
                "GET {} got no answer within {PREFLIGHT_LIMIT:?}",
                protocol::paths::WEBTRANSPORT_INFO
            ),
        }),
    }
}

/// A connection that failed: unreachable, unless it answered but TLS did
/// not agree (a settings problem, not a dead server).
fn failed(ep: &Endpoint, e: ClientError) -> Error {
    if e.tls.is_some() {
        Error::BadTarget {
            target: ep.url.clone(),
            reason: e.detail.to_string(),
        }
    } else {
        Error::Unreachable {
            target: ep.url.clone(),
            reason: e.detail.to_string(),
        }
    }
}

/// `: why` from a JSON error body's `error` field, if it has one.
fn server_reason(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct Why {
        error: String,
    }
    match serde_json::from_slice::<Why>(body) {
        Ok(w) => format!(": {}", w.error.chars().take(200).collect::<String>()),
        Err(_) => String::new(),
    }
}

/// The targets that no longer pass the preflight after the run (their
/// URLs): the run is then partial.
pub(super) async fn lost_targets(cfg: &Config, targets: &[Endpoint]) -> Vec<String> {
    let mut lost = Vec::new();
    for ep in targets {
        if preflight(cfg, ep).await.is_err() {
            lost.push(ep.url.clone());
        }
    }
    lost
}
