//! Gates: how much a metric may get worse between baseline and current
//! before `compare` calls it a regression (`--max-regression p99=+10%`).

use crate::metric::{self, Metric, Worse};
use std::fmt;
use std::str::FromStr;

/// How far a metric may move for the worse.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Limit {
    /// A share of the baseline value (0.10 = 10%). From a baseline of 0,
    /// any change exceeds it.
    Relative(f64),
    /// An amount in the metric's stored unit (µs for latencies): `loss=+0`
    /// lets nothing through, `p99=+2ms` two milliseconds.
    Absolute(f64),
    /// `METRIC=off`: no gate; removes the metric's default (a stored
    /// baseline from another session gates only what does not drift).
    Off,
}

/// One gate: a metric and how far it may move for the worse.
#[derive(Debug, Clone, PartialEq)]
pub struct Gate {
    pub metric: &'static Metric,
    pub limit: Limit,
}

/// A `--max-regression` value that cannot be used: a usage error (exit 2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GateError {
    #[error(
        "gate '{expr}': {why}; write METRIC=CHANGE, e.g. p99=+10%, deliveries_per_sec=-5%, \
         loss=+0 or latency.p50=+2ms"
    )]
    Syntax { expr: String, why: String },
    #[error("gate '{expr}': unknown metric '{name}'\n{}", metric::names_help())]
    UnknownMetric { expr: String, name: String },
    #[error("gate '{expr}': {why}")]
    Value { expr: String, why: String },
    /// A sign that points the other way than the metric gets worse.
    #[error("gate '{expr}': {metric} gets worse when it {}: write {}{amount}",
        if *worse == Worse::Higher { "rises" } else { "falls" },
        if *worse == Worse::Higher { "+" } else { "-" })]
    Direction {
        expr: String,
        metric: &'static str,
        worse: Worse,
        amount: String,
    },
}

/// The default gates, chosen for noisy shared CI machines with 3 repeats:
/// median latency may drift 15% and the tail 25% before the range check is
/// even asked; throughput is set by the scenario, so 5% less is real; bytes
/// per delivery are nearly deterministic, so 3% is a real change of the wire
/// format; loss, duplicates, reordering and errors may not rise at all.
pub const DEFAULTS: &[&str] = &[
    "latency.p50=+15%",
    "latency.p99=+25%",
    "deliveries_per_sec=-5%",
    "bytes_per_delivery=+3%",
    "loss=+0",
    "duplicate=+0",
    "reordered=+0",
    "errors=+0",
];

impl Gate {
    /// Parses `METRIC=[+|-]AMOUNT[%|unit]`. A `%` is always relative to the
    /// baseline (also for shares: `empty_ratio=+10%` is 10% more than the
    /// baseline's share, not 10 points); without `%` the amount is absolute
    /// in the metric's unit (`p99=+2ms`, `loss=+0`, `empty_ratio=+0.05`). The
    /// sign may be left out; if given, it must point the way the metric gets
    /// worse (`-` for `deliveries_per_sec`, `+` for everything else).
    pub fn parse(expr: &str) -> Result<Gate, GateError> {
        let text = expr.trim();
        let syntax = |why: &str| GateError::Syntax {
            expr: text.to_string(),
            why: why.to_string(),
        };
        let Some((name, amount)) = text.split_once('=') else {
            return Err(syntax("no '='"));
        };
        let (name, amount) = (name.trim(), amount.trim());
        if name.is_empty() || amount.is_empty() {
            return Err(syntax("a metric and a change are needed"));
        }
        let m = metric::lookup(name).ok_or_else(|| GateError::UnknownMetric {
            expr: text.to_string(),
            name: name.to_string(),
        })?;
        if amount.eq_ignore_ascii_case("off") {
            return Ok(Gate {
                metric: m,
                limit: Limit::Off,
            });
        }
        let (sign, magnitude) = match amount.as_bytes()[0] {
            b'+' => (Some(1.0), amount[1..].trim()),
            b'-' => (Some(-1.0), amount[1..].trim()),
            _ => (None, amount),
        };
        let value_error = |why: String| GateError::Value {
            expr: text.to_string(),
            why,
        };
        let limit = if let Some(pct) = magnitude.strip_suffix('%') {
            let n: f64 = pct
                .trim()
                .parse()
                .ok()
                .filter(|n: &f64| n.is_finite() && *n >= 0.0)
                .ok_or_else(|| value_error(format!("'{amount}' is not a percentage")))?;
            Limit::Relative(n / 100.0)
        } else {
            let n = m
                .kind
                .parse_value(magnitude)
                .map_err(|why| value_error(format!("{} needs a % or {why}", m.name)))?;
            Limit::Absolute(n)
        };
        let amount_is_zero = match limit {
            Limit::Relative(v) | Limit::Absolute(v) => v == 0.0,
            Limit::Off => false,
        };
        if let Some(sign) = sign
            && sign != m.worse.sign()
            && !amount_is_zero
        {
            return Err(GateError::Direction {
                expr: text.to_string(),
                metric: m.name,
                worse: m.worse,
                amount: magnitude.to_string(),
            });
        }
        Ok(Gate { metric: m, limit })
    }

    /// The default gates ([`DEFAULTS`]).
    pub fn defaults() -> Vec<Gate> {
        DEFAULTS
            .iter()
            .filter_map(|g| Gate::parse(g).ok())
            .collect()
    }

    /// The defaults, with each gate in `given` replacing the default of its
    /// metric and adding to them otherwise (`--max-regression p99=+10%`
    /// tightens the p99 gate and keeps the others); `METRIC=off` removes it.
    pub fn with_defaults(given: Vec<Gate>) -> Vec<Gate> {
        let mut out: Vec<Gate> = Gate::defaults()
            .into_iter()
            .filter(|d| given.iter().all(|g| g.metric != d.metric))
            .collect();
        for g in given {
            if let Some(same) = out.iter_mut().find(|o| o.metric == g.metric) {
                *same = g; // the last of two gates on one metric wins
            } else {
                out.push(g);
            }
        }
        out.retain(|g| g.limit != Limit::Off);
        out
    }

    /// The allowed change as written in tables: `+25%`, `-5%`, `+0`, `+2.00 ms`.
    pub fn change_text(&self) -> String {
        let sign = if self.metric.worse == Worse::Higher {
            "+"
        } else {
            "-"
        };
        match self.limit {
            Limit::Relative(r) => format!("{sign}{}%", crate::format::trimmed(r * 100.0)),
            Limit::Absolute(0.0) => format!("{sign}0"),
            Limit::Absolute(a) => format!("{sign}{}", self.metric.kind.show(a)),
            Limit::Off => "off".to_string(),
        }
    }

    /// How much worse than `baseline` a value `worse_by` (positive = worse)
    /// is allowed to be before it exceeds this gate.
    pub(crate) fn exceeded_by(&self, baseline: f64, worse_by: f64) -> bool {
        // Float noise (0.1 + 0.2) is not a change.
        let tolerance = 1e-9 * baseline.abs().max(1.0);
        if worse_by <= tolerance {
            return false;
        }
        match self.limit {
            Limit::Relative(r) => baseline == 0.0 || worse_by / baseline.abs() > r + 1e-12,
            Limit::Absolute(a) => worse_by > a + tolerance,
            Limit::Off => false,
        }
    }
}

impl fmt::Display for Gate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.metric.name, self.change_text())
    }
}

impl FromStr for Gate {
    type Err = GateError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Gate::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_parse() {
        assert_eq!(Gate::defaults().len(), DEFAULTS.len());
        let texts: Vec<String> = Gate::defaults().iter().map(Gate::to_string).collect();
        assert_eq!(texts, DEFAULTS);
    }

    #[test]
    fn exceeded() {
        let g = Gate::parse("p99=+10%").expect("gate");
        assert!(!g.exceeded_by(100.0, 10.0));
        assert!(g.exceeded_by(100.0, 10.5));
        assert!(g.exceeded_by(0.0, 1.0));
        assert!(!g.exceeded_by(0.0, 0.0));
        let g = Gate::parse("loss=+0").expect("gate");
        assert!(g.exceeded_by(0.0, 1.0));
        assert!(!g.exceeded_by(5.0, 0.0));
        let g = Gate::parse("p99=+2ms").expect("gate");
        assert!(!g.exceeded_by(10_000.0, 2_000.0));
        assert!(g.exceeded_by(10_000.0, 2_001.0));
    }

    #[test]
    fn off_removes_a_default_and_adds_nothing() {
        let given = ["latency.p50=off", "p99=OFF", "requests_per_delivery=off"]
            .iter()
            .map(|g| Gate::parse(g).expect("gate"))
            .collect();
        let names: Vec<&str> = Gate::with_defaults(given)
            .iter()
            .map(|g| g.metric.name)
            .collect();
        assert!(!names.contains(&"latency.p50") && !names.contains(&"latency.p99"));
        assert!(!names.contains(&"requests_per_delivery"));
        assert!(names.contains(&"bytes_per_delivery") && names.contains(&"loss"));
        assert_eq!(names.len(), DEFAULTS.len() - 2);
        assert!(Gate::parse("p99=of").is_err());
    }
}
