//! Thresholds: absolute pass/fail limits on a run's numbers, k6-style but
//! per transport, as `load` and `bench` take them (`--threshold EXPR`, or a
//! `[thresholds]` table in a scenario file).
//!
//! Syntax: `<transport|*>.<metric><op><value>[unit]`, e.g.
//! `ws.latency.p99<25ms`, `sse.loss==0`, `short-poll.bytes_per_delivery<900`,
//! `*.errors==0`. Operators `<`, `<=`, `>`, `>=`, `==`, `!=`; spaces around
//! the operator and the value are allowed. Metric names and units come from
//! [`crate::metric`] (a bare latency is ms, a share takes `%`, bytes take
//! `KiB`, …).
//!
//! Evaluation: the files are merged first ([`crate::merge()`]), and each
//! threshold is checked on every matching entry's **pooled** result: with
//! `bench --repeat K` that is the percentile of all K runs' histograms added,
//! the total count over all runs (so `loss==0` means no loss in any run), the
//! time-weighted rate. A threshold is an absolute limit on what was measured,
//! so it reads the measurement with the most data, not the median of K
//! smaller ones. `*` expands to every transport measured (skipping those a
//! metric does not apply to, e.g. `empty_ratio` on push transports). A value
//! that was not measured (no `/api/stats`, nothing delivered) fails, as does
//! a named transport that is absent from the results, or a `*` that matched
//! no transport: a limit you asked for never passes silently.

use crate::metric::{self, Metric};
use crate::{Error, merge};
use protocol::Transport;
use protocol::results::ResultFile;
use serde::Serialize;
use std::fmt;
use std::io::{self, Write};
use std::str::FromStr;

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl Op {
    /// Longest first, so `<=` is not read as `<` followed by `=`.
    const ALL: [(&'static str, Op); 6] = [
        ("<=", Op::Le),
        (">=", Op::Ge),
        ("==", Op::Eq),
        ("!=", Op::Ne),
        ("<", Op::Lt),
        (">", Op::Gt),
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Eq => "==",
            Op::Ne => "!=",
        }
    }

    /// Whether `actual op limit` holds. Equality allows for float rounding
    /// (a limit of `5%` is stored as 0.05000000000000000277).
    pub fn holds(self, actual: f64, limit: f64) -> bool {
        let equal = (actual - limit).abs() <= 1e-9 * actual.abs().max(limit.abs()).max(1.0);
        match self {
            Op::Lt => actual < limit && !equal,
            Op::Le => actual <= limit || equal,
            Op::Gt => actual > limit && !equal,
            Op::Ge => actual >= limit || equal,
            Op::Eq => equal,
            Op::Ne => !equal,
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A threshold expression that cannot be used: a usage error (exit 2). The
/// first line names the expression and what is wrong; indented lines under
/// it (each within 100 columns) list what is valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ThresholdError {
    /// Not of the form `TRANSPORT.METRIC OP VALUE`.
    #[error(
        "threshold '{expr}': {why}\n  write TRANSPORT.METRIC OP VALUE, e.g. ws.latency.p99<25ms \
         or *.loss==0\n{}\n  operators: < <= > >= == !=\n{}",
        transports_help(),
        metric::names_help()
    )]
    Syntax { expr: String, why: String },
    /// A metric without its transport (`p99<25ms`).
    #[error(
        "threshold '{expr}': no transport\n  write *.{metric} for every transport measured, \
         or name one, e.g. ws.{metric}"
    )]
    NoTransport { expr: String, metric: String },
    #[error(
        "threshold '{expr}': unknown metric '{name}'\n{}",
        metric::names_help()
    )]
    UnknownMetric { expr: String, name: String },
    #[error(
        "threshold '{expr}': unknown transport '{name}'\n{}",
        transports_help()
    )]
    UnknownTransport { expr: String, name: String },
    /// The value does not parse for the metric's unit.
    #[error("threshold '{expr}': {metric} needs {why}")]
    Value {
        expr: String,
        metric: &'static str,
        why: String,
    },
    /// The metric does not exist for that transport (`sse.empty_ratio`).
    #[error("threshold '{expr}': {metric} does not apply to {transport}\n  {metric}: {about}")]
    NotApplicable {
        expr: String,
        metric: &'static str,
        transport: Transport,
        about: &'static str,
    },
}

fn transports_help() -> String {
    let mut names: Vec<String> = protocol::Transport::ALL
        .iter()
        .map(|t| t.as_str().to_string())
        .collect();
    names.push("or * for every transport measured".to_string());
    metric::wrap_list("transports:", &names)
}

/// One parsed threshold.
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    /// The expression as written (trimmed), for output.
    pub expr: String,
    /// `None`: `*`, every transport measured.
    pub transport: Option<Transport>,
    pub metric: &'static Metric,
    pub op: Op,
    /// In the metric's stored unit (µs for latencies, 0–1 for shares).
    pub limit: f64,
}

impl Threshold {
    /// Parses `ws.latency.p99<25ms` (see the module docs for the syntax).
    pub fn parse(expr: &str) -> Result<Threshold, ThresholdError> {
        let text = expr.trim();
        let (lhs, op, rhs) = split(text)?;
        let (transport, m) = subject(text, lhs)?;
        if let Some(t) = transport
            && !(m.applies)(t)
        {
            return Err(ThresholdError::NotApplicable {
                expr: text.to_string(),
                metric: m.name,
                transport: t,
                about: m.about,
            });
        }
        let limit = m
            .kind
            .parse_value(rhs)
            .map_err(|why| ThresholdError::Value {
                expr: text.to_string(),
                metric: m.name,
                why,
            })?;
        Ok(Threshold {
            expr: text.to_string(),
            transport,
            metric: m,
            op,
            limit,
        })
    }

    /// Parses every expression, stopping at the first bad one.
    pub fn parse_all<S: AsRef<str>>(exprs: &[S]) -> Result<Vec<Threshold>, ThresholdError> {
        exprs.iter().map(|e| Threshold::parse(e.as_ref())).collect()
    }

    /// Whether the threshold is about `t`: its transport, or `*` and a
    /// metric that applies to `t`. `load` runs one transport; a scenario
    /// file shared with `bench` may hold thresholds for the others, which
    /// the CLI can drop with this instead of failing them as not measured.
    pub fn applies_to(&self, t: Transport) -> bool {
        self.transport.is_none_or(|own| own == t) && (self.metric.applies)(t)
    }

    /// The limit as it reads: `< 25.0 ms`.
    pub fn limit_text(&self) -> String {
        format!("{} {}", self.op, self.metric.kind.show(self.limit))
    }
}

fn syntax(text: &str, why: &str) -> ThresholdError {
    ThresholdError::Syntax {
        expr: text.to_string(),
        why: why.to_string(),
    }
}

/// `ws.latency.p99 < 25ms` → (`ws.latency.p99`, `<`, `25ms`), trimmed.
fn split(text: &str) -> Result<(&str, Op, &str), ThresholdError> {
    if text.is_empty() {
        return Err(syntax(text, "empty expression"));
    }
    let Some(at) = text.find(['<', '>', '=', '!']) else {
        return Err(syntax(text, "no comparison operator"));
    };
    let (lhs, rest) = (text[..at].trim(), &text[at..]);
    let Some((sym, op)) = Op::ALL.iter().find(|(s, _)| rest.starts_with(s)) else {
        return Err(syntax(
            text,
            if rest.starts_with('=') {
                "'=' is not an operator (use == for equality)"
            } else {
                "unknown operator"
            },
        ));
    };
    let rhs = rest[sym.len()..].trim();
    if rhs.is_empty() {
        return Err(syntax(text, "no value after the operator"));
    }
    if rhs.starts_with(['<', '>', '=', '!']) {
        return Err(syntax(text, "unknown operator"));
    }
    Ok((lhs, *op, rhs))
}

/// `ws.latency.p99` → (`Some(ws)`, the metric); `*` is `None`, every transport.
fn subject(text: &str, lhs: &str) -> Result<(Option<Transport>, &'static Metric), ThresholdError> {
    let no_transport = || ThresholdError::NoTransport {
        expr: text.to_string(),
        metric: lhs.to_string(),
    };
    let Some((transport, name)) = lhs.split_once('.') else {
        return Err(if metric::lookup(lhs).is_some() {
            no_transport()
        } else {
            syntax(text, "no TRANSPORT. before the metric")
        });
    };
    let transport = match transport.trim() {
        "*" => None,
        t => match Transport::from_str(t) {
            Ok(t) => Some(t),
            // `latency.p99<25ms`: a whole metric name, the transport left out.
            Err(_) if metric::lookup(lhs).is_some() => return Err(no_transport()),
            Err(_) => {
                return Err(ThresholdError::UnknownTransport {
                    expr: text.to_string(),
                    name: t.to_string(),
                });
            }
        },
    };
    let m = metric::lookup(name).ok_or_else(|| ThresholdError::UnknownMetric {
        expr: text.to_string(),
        name: name.trim().to_string(),
    })?;
    Ok((transport, m))
}

impl FromStr for Threshold {
    type Err = ThresholdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Threshold::parse(s)
    }
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.expr)
    }
}

/// One threshold checked on one transport's results.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    /// The threshold as written.
    pub expr: String,
    /// The entry checked: `ws`, or `short-poll 250 ms` when one scenario has
    /// two short-poll settings.
    pub transport: String,
    /// The scenario, when the results hold several (a matrix).
    pub scenario: Option<String>,
    /// Canonical metric name (`latency.p99` for `p99`).
    pub metric: &'static str,
    /// The measured value in the metric's stored unit; `None`: not measured.
    pub actual: Option<f64>,
    /// The value as it reads, unit included, or `not measured`.
    pub shown: String,
    pub passed: bool,
    /// Why it failed (empty when it passed).
    pub reason: String,
}

/// Checks every threshold on the merged `files` (see the module docs).
/// Errors only when the files cannot be merged (no files, bad histograms).
pub fn evaluate(thresholds: &[Threshold], files: &[ResultFile]) -> Result<Vec<Outcome>, Error> {
    let comparison = merge(files)?;
    let several = comparison.groups.len() > 1;
    let mut out = Vec::new();
    for th in thresholds {
        let before = out.len();
        for g in &comparison.groups {
            let scenario = several.then(|| crate::html::scenario_title(g));
            for e in &g.entries {
                if th.transport.is_some_and(|t| t != e.transport)
                    || !(th.metric.applies)(e.transport)
                {
                    continue;
                }
                let actual = th.metric.of(&e.merged);
                let (shown, passed, reason) = match actual {
                    Some(v) => {
                        let shown = th.metric.kind.show(v);
                        let passed = th.op.holds(v, th.limit);
                        let reason = if passed {
                            String::new()
                        } else {
                            format!("{shown} is not {}", th.limit_text())
                        };
                        (shown, passed, reason)
                    }
                    None => (
                        "not measured".to_string(),
                        false,
                        format!("not measured: {}", th.metric.missing),
                    ),
                };
                out.push(Outcome {
                    expr: th.expr.clone(),
                    transport: e.label.clone(),
                    scenario: scenario.clone(),
                    metric: th.metric.name,
                    actual,
                    shown,
                    passed,
                    reason,
                });
            }
        }
        if out.len() == before {
            // Nothing to check is not a pass: the limit was asked for.
            let (transport, why) = match th.transport {
                Some(t) => (t.to_string(), format!("the results have no {t} run")),
                None => (
                    "*".to_string(),
                    format!("no transport measured that {} applies to", th.metric.name),
                ),
            };
            out.push(Outcome {
                expr: th.expr.clone(),
                transport,
                scenario: None,
                metric: th.metric.name,
                actual: None,
                shown: "not measured".into(),
                passed: false,
                reason: format!("not measured: {why}"),
            });
        }
    }
    Ok(out)
}

/// Whether any threshold failed (the CLI then exits 99).
pub fn any_failed(outcomes: &[Outcome]) -> bool {
    outcomes.iter().any(|o| !o.passed)
}

/// k6-style lines: `✓`/`✗`, the expression, the transport, the value (and
/// why it failed), then a one-line count.
pub fn print_outcomes(outcomes: &[Outcome], mut out: impl Write) -> io::Result<()> {
    if outcomes.is_empty() {
        return Ok(());
    }
    let who = |o: &Outcome| match &o.scenario {
        Some(s) => format!("{} ({s})", o.transport),
        None => o.transport.clone(),
    };
    let expr_w = outcomes.iter().map(|o| o.expr.chars().count()).max();
    let who_w = outcomes.iter().map(|o| who(o).chars().count()).max();
    let (expr_w, who_w) = (expr_w.unwrap_or(0), who_w.unwrap_or(0));
    writeln!(out, "thresholds")?;
    for o in outcomes {
        let detail = if o.passed {
            o.shown.clone()
        } else {
            o.reason.clone()
        };
        writeln!(
            out,
            "  {} {:<expr_w$}  {:<who_w$}  {detail}",
            if o.passed { "✓" } else { "✗" },
            o.expr,
            who(o),
        )?;
    }
    let failed = outcomes.iter().filter(|o| !o.passed).count();
    if failed == 0 {
        writeln!(out, "all {} thresholds passed", outcomes.len())
    } else {
        writeln!(out, "{failed} of {} thresholds failed", outcomes.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operators() {
        assert!(Op::Lt.holds(1.0, 2.0) && !Op::Lt.holds(2.0, 2.0));
        assert!(Op::Le.holds(2.0, 2.0) && !Op::Le.holds(2.1, 2.0));
        assert!(Op::Gt.holds(3.0, 2.0) && !Op::Gt.holds(2.0, 2.0));
        assert!(Op::Ge.holds(2.0, 2.0) && !Op::Ge.holds(1.9, 2.0));
        assert!(Op::Eq.holds(0.05, 5.0 * 0.01) && !Op::Eq.holds(1.0, 0.0));
        assert!(Op::Ne.holds(1.0, 0.0) && !Op::Ne.holds(0.0, 0.0));
    }
}
