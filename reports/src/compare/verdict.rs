//! One gate on one pair of transports: the values of each side, the change,
//! and the verdict by the noise rule of the parent module's docs.

use super::{Gate, Limit, Method, Row, Values, Verdict};
use crate::merge::Entry;
use crate::metric::{Kind, Metric};

fn unit_name(k: Kind) -> &'static str {
    match k {
        Kind::Latency => "us",
        Kind::Seconds => "s",
        Kind::Ratio => "ratio",
        Kind::Percent => "percent",
        Kind::Bytes => "bytes",
        Kind::Count => "count",
        Kind::Rate => "per_sec",
        Kind::Factor => "factor",
        Kind::Energy => "joules",
    }
}

/// One side's runs of a metric: the median and range, or for a count the
/// total and the total per run.
fn values(m: &Metric, e: &Entry) -> Option<Values> {
    let stat = e.stat(|r| m.of(r))?;
    let (value, total) = if m.is_count() {
        let total: f64 = e.runs.iter().filter_map(|r| m.of(r)).sum();
        (total / stat.runs as f64, Some(total))
    } else {
        (stat.value, None)
    };
    let show = |x: f64| m.kind.show(x);
    let text = match total {
        Some(t) if stat.runs > 1 => format!("{} in {} runs", show(t), stat.runs),
        Some(t) => show(t),
        None if stat.has_spread() => range_text(&show(value), &show(stat.min), &show(stat.max)),
        None => show(value),
    };
    Some(Values {
        value,
        min: stat.min,
        max: stat.max,
        runs: stat.runs,
        total,
        text,
    })
}

/// One gate on one pair of entries: the verdict by the rule of the module docs.
pub(super) fn judge(gate: &Gate, be: &Entry, ce: &Entry, scenario: Option<String>) -> Row {
    let m = gate.metric;
    let (bv, cv) = (values(m, be), values(m, ce));
    let mut row = Row {
        scenario,
        transport: ce.label.clone(),
        metric: m.name,
        gate: gate.change_text(),
        baseline: bv.clone(),
        current: cv.clone(),
        delta: None,
        change: None,
        change_text: "–".into(),
        verdict: Verdict::NotMeasured,
        method: Method::None,
        reason: String::new(),
        unit: unit_name(m.kind),
    };
    let (Some(bv), Some(cv)) = (bv, cv) else {
        row.reason = not_measured(&row, m, ce);
        return row;
    };
    let delta = cv.value - bv.value;
    let change = if bv.value != 0.0 {
        Some(delta / bv.value.abs())
    } else if delta == 0.0 {
        Some(0.0)
    } else {
        None
    };
    row.delta = Some(delta);
    row.change = change;
    row.change_text = change_text(m, &bv, &cv, delta, change);
    let worse_by = delta * m.worse.sign();
    let moved = Moved {
        worse: gate.exceeded_by(bv.value, worse_by),
        better: gate.exceeded_by(bv.value, -worse_by),
        beyond: format!("{} is beyond the gate {}", row.change_text, row.gate),
    };
    (row.verdict, row.method, row.reason) = if m.is_count() {
        by_count(gate, &bv, &cv, &moved)
    } else if bv.runs < 2 || cv.runs < 2 {
        by_single_run(&moved)
    } else {
        by_spread(m, &bv, &cv, &moved)
    };
    row
}

/// Which way the median moved past the gate, and the sentence that says so.
struct Moved {
    worse: bool,
    better: bool,
    /// `+40.2% is beyond the gate +25%`.
    beyond: String,
}

/// Why a row has no verdict: a side did not measure it, or it does not apply.
fn not_measured(row: &Row, m: &Metric, ce: &Entry) -> String {
    let side = match (row.baseline.is_some(), row.current.is_some()) {
        (false, false) => "either side",
        (false, true) => "the baseline",
        _ => "the current side",
    };
    if (m.applies)(ce.transport) {
        format!("not measured on {side}: {}", m.missing)
    } else {
        format!("{} does not apply to {}", m.name, ce.transport)
    }
}

/// A count: totals per run against the gate, whatever the spread.
fn by_count(gate: &Gate, bv: &Values, cv: &Values, moved: &Moved) -> (Verdict, Method, String) {
    let m = gate.metric;
    let (verdict, reason) = if moved.worse {
        let allows = match gate.limit {
            Limit::Absolute(0.0) => "no increase".to_string(),
            Limit::Absolute(a) => format!("at most {} more per run", m.kind.show(a)),
            Limit::Off => "anything".to_string(),
            Limit::Relative(r) => format!(
                "at most {}% more per run",
                crate::format::trimmed(r * 100.0)
            ),
        };
        (
            Verdict::Regression,
            format!(
                "{} rose from {} to {}; the gate {} allows {allows}",
                m.name,
                bv.text,
                cv.text,
                gate.change_text()
            ),
        )
    } else if moved.better {
        (
            Verdict::Improvement,
            format!("{} fell from {} to {}", m.name, bv.text, cv.text),
        )
    } else {
        (Verdict::Pass, "within the gate".to_string())
    };
    (verdict, Method::Count, reason)
}

/// One run on a side: no noise estimate, the medians compared plainly.
fn by_single_run(moved: &Moved) -> (Verdict, Method, String) {
    let plain = |v| {
        (
            v,
            format!("{}; single run, no noise estimate", moved.beyond),
        )
    };
    let (verdict, reason) = if moved.worse {
        plain(Verdict::Regression)
    } else if moved.better {
        plain(Verdict::Improvement)
    } else {
        (
            Verdict::Pass,
            "within the gate (single run, no noise estimate)".to_string(),
        )
    };
    (verdict, Method::SingleRun, reason)
}

/// Several runs a side: beyond the gate counts only when the ranges are
/// separated (every current run on one side of every baseline run).
fn by_spread(m: &Metric, bv: &Values, cv: &Values, moved: &Moved) -> (Verdict, Method, String) {
    let higher = cv.min > bv.max;
    let lower = cv.max < bv.min;
    let (sep_worse, sep_better) = if m.worse.sign() > 0.0 {
        (higher, lower)
    } else {
        (lower, higher)
    };
    let ranges = format!(
        "baseline {}–{}, current {}–{}",
        m.kind.show(bv.min),
        m.kind.show(bv.max),
        m.kind.show(cv.min),
        m.kind.show(cv.max)
    );
    let beyond = &moved.beyond;
    let (verdict, reason) = match (moved.worse, moved.better) {
        (true, _) if sep_worse => (
            Verdict::Regression,
            format!("{beyond} and every current run is worse than every baseline run ({ranges})"),
        ),
        (_, true) if sep_better => (
            Verdict::Improvement,
            format!("{beyond} and every current run is better than every baseline run ({ranges})"),
        ),
        (true, _) | (_, true) => (
            Verdict::WithinNoise,
            format!("{beyond}, but the runs' ranges overlap ({ranges})"),
        ),
        _ => (Verdict::Pass, "within the gate".to_string()),
    };
    (verdict, Method::Spread, reason)
}

/// `+40.2%`; for counts the difference of totals (`+3`), per run when the
/// sides have different numbers of runs; `from 0` when there is no ratio.
fn change_text(m: &Metric, b: &Values, c: &Values, delta: f64, change: Option<f64>) -> String {
    if m.is_count() {
        return match (b.total, c.total) {
            (Some(bt), Some(ct)) if b.runs == c.runs => signed(m, ct - bt),
            _ => format!("{} per run", signed(m, delta)),
        };
    }
    match change {
        Some(0.0) => "±0%".to_string(),
        Some(r) => {
            let pct = r * 100.0;
            let sign = if pct > 0.0 { "+" } else { "-" };
            format!("{sign}{}%", crate::format::trimmed(pct.abs()))
        }
        None => format!("from 0 to {}", m.kind.show(c.value)),
    }
}

fn signed(m: &Metric, d: f64) -> String {
    if d == 0.0 {
        "±0".into()
    } else {
        m.kind.show_delta(d)
    }
}

/// `0.638 ms [0.626–0.689]`: the unit once when all three share it.
fn range_text(value: &str, min: &str, max: &str) -> String {
    let unit = |s: &str| {
        s.rsplit_once(' ')
            .map(|(n, u)| (n.to_string(), u.to_string()))
    };
    match (unit(value), unit(min), unit(max)) {
        (Some((_, u)), Some((lo, u1)), Some((hi, u2))) if u == u1 && u == u2 => {
            format!("{value} [{lo}–{hi}]")
        }
        _ => format!("{value} [{min}–{max}]"),
    }
}
