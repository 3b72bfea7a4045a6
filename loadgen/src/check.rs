//! `rtbench profile check`: a dry run for writing a profile. Each transport
//! the profile defines gets one subscriber, one publisher and a few messages
//! through the very code a load run uses, with a trace of what went over the
//! wire and a verdict that points at the profile field to fix.

use crate::config::Config;
use crate::error::Error;
use crate::profile::Profile;
use crate::runner::{self, RunWarning};
use protocol::Transport;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// What the check saw on one transport.
#[derive(Debug, Clone)]
pub struct CheckOutcome {
    pub transport: Transport,
    pub ok: bool,
    /// One line: what worked or what failed.
    pub verdict: String,
    /// What to look at when it failed.
    pub hints: Vec<String>,
    /// The first exchanges, in words.
    pub trace: Vec<String>,
}

/// Check `transports` (all the profile defines when empty) against `target`.
pub async fn check(
    profile: Arc<Profile>,
    target: &str,
    transports: &[Transport],
    cancel: CancellationToken,
) -> Result<Vec<CheckOutcome>, Error> {
    let transports = if transports.is_empty() {
        profile.transports()
    } else {
        transports.to_vec()
    };
    let mut out = Vec::new();
    for t in transports {
        let mut cfg = Config::new(target, t)?;
        cfg.profile = profile.clone();
        cfg.clients = 1;
        cfg.publishers = 1;
        cfg.rate_per_sec = 4.0;
        cfg.warmup = Duration::from_millis(500);
        cfg.duration = Duration::from_millis(1500);
        cfg.drain = Duration::from_secs(3);
        cfg.poll_interval = Duration::from_millis(250);
        cfg.long_poll_wait = Duration::from_secs(2);
        cfg.seed = 1;
        cfg.trace = true;
        cfg.publish_via = profile.default_publish_via();
        let r = match runner::run(cfg, cancel.child_token()).await {
            Ok(r) => r,
            Err(Error::Unreachable { target, reason }) => {
                let hint = profile
                    .health
                    .as_ref()
                    .map(|h| format!(" (the profile's health check GET {h})"))
                    .unwrap_or_default();
                return Err(Error::Unreachable {
                    target,
                    reason: format!("{reason}{hint}"),
                });
            }
            Err(e) => return Err(e),
        };
        out.push(judge(&profile, t, r));
        if cancel.is_cancelled() {
            break;
        }
    }
    Ok(out)
}

fn judge(profile: &Profile, t: Transport, r: runner::RunResults) -> CheckOutcome {
    let Some(res) = r.file.transports.first() else {
        return CheckOutcome {
            transport: t,
            ok: false,
            verdict: "no result".into(),
            hints: r.problems,
            trace: r.trace,
        };
    };
    let c = &res.counts;
    let errors: u64 = c.errors.values().sum();
    let section = if t.is_socketio() {
        "[socketio]".to_string()
    } else {
        format!("[{t}]")
    };
    let url_line = profile.sub(t).map_or(0, |s| s.url_line);
    let at = |line: usize| format!("{}:{line}", profile.source_name);
    let mut hints: Vec<String> = r
        .warnings
        .iter()
        .filter(|w| matches!(w, RunWarning::FirstError { .. }))
        .map(ToString::to_string)
        .collect();
    // The server's answer (expanded request, status, body) beats a guess.
    let answered = !hints.is_empty();
    let ok = c.expected > 0 && c.delivered == c.expected && errors == 0 && c.publish_errors == 0;
    let verdict = if ok {
        format!(
            "ok: {}/{} messages delivered, latency p50 {} max {}; {} foreign message(s) ignored",
            c.delivered,
            c.expected,
            crate::fmt_us(res.latency.p50_us),
            crate::fmt_us(res.latency.max_us),
            c.foreign
        )
    } else if c.published == 0 {
        hints.extend((!answered).then(|| {
            format!(
                "no publish was accepted: check [publish] ({}) against the server's publish API",
                at(profile.publish.line)
            )
        }));
        "FAILED: nothing was published".into()
    } else if c.delivered == 0 && c.foreign > 0 {
        hints.push(format!(
            "messages arrived without this run's marker: the server must relay the {{payload}} text of [publish] ({}) unchanged, {section} messages must point at the messages, and frames that are not messages need [ws] message_if or [sse] events to be skipped",
            at(profile.publish.line)
        ));
        format!(
            "FAILED: {} message(s) arrived, none carried the marker",
            c.foreign
        )
    } else if c.delivered == 0 {
        hints.extend((!answered).then(|| format!(
            "nothing arrived: check that {section} url ({}) subscribes to the room [publish] sends to",
            at(url_line)
        )));
        "FAILED: no message arrived".into()
    } else if c.lost > 0 {
        hints.push(format!(
            "some messages never arrived: check {section} cursor (how a resume point is read and sent back) at {}",
            at(url_line)
        ));
        format!("FAILED: {} of {} messages lost", c.lost, c.expected)
    } else {
        format!(
            "FAILED: {} error(s), {} failed publish(es)",
            errors, c.publish_errors
        )
    };
    CheckOutcome {
        transport: t,
        ok,
        verdict,
        hints,
        trace: r.trace,
    }
}
