//! Comparing a measurement with the baseline: per transport and side, the
//! change in instructions per delivery against a gate (+3% by default), and
//! for each regression the functions whose self cost grew most.
//!
//! The counts are deterministic to a small fraction of a percent (the
//! README's gate section gives the measured spread), so one run per side is
//! enough and there is no noise rule as in `rtbench compare`: beyond the
//! gate is a regression.

use crate::record::{Entry, Record, SCHEMA, Side};
use crate::workload::Shape;
use protocol::Transport;
use std::collections::HashMap;
use std::fmt::Write as _;

/// How to judge.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Allowed rise of instructions per delivery (0.03 = +3%).
    pub gate: f64,
    /// Functions named per regression.
    pub top: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options { gate: 0.03, top: 8 }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Pass,
    Regression,
    /// Cheaper by more than the gate: fine, but the baseline should follow,
    /// or a later regression of the same size would pass unseen.
    Improvement,
    /// The two sides measured different workloads; the reason.
    Incomparable(String),
}

/// One transport and side.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub transport: Transport,
    pub side: Side,
    pub baseline: f64,
    pub current: f64,
    /// current ÷ baseline − 1.
    pub change: f64,
    pub verdict: Verdict,
    /// Functions whose self instructions per delivery grew most: (name, growth).
    pub grew: Vec<(String, f64)>,
}

/// The whole comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct Judgement {
    pub gate: f64,
    pub rows: Vec<Row>,
    pub notes: Vec<String>,
}

/// Why two records cannot be compared at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JudgeError {
    #[error(
        "the baseline has schema {0}, this gate writes {SCHEMA}: the numbers mean something \
         else now; make a new baseline (scripts/perf/instructions.sh --update-baseline)"
    )]
    Schema(u32),
    #[error("no transport and side in common between the baseline and this measurement")]
    NothingInCommon,
}

/// Compares `current` with `baseline`.
pub fn judge(baseline: &Record, current: &Record, opts: Options) -> Result<Judgement, JudgeError> {
    if baseline.schema != SCHEMA {
        return Err(JudgeError::Schema(baseline.schema));
    }
    let mut notes = Vec::new();
    for (what, b, c) in [
        ("compiler", &baseline.rustc, &current.rustc),
        ("valgrind", &baseline.valgrind, &current.valgrind),
    ] {
        if b != c {
            notes.push(format!(
                "the baseline was measured with {what} '{b}', this run with '{c}': counts move \
                 with the toolchain, so if only that changed, update the baseline"
            ));
        }
    }
    let mut rows = Vec::new();
    for cur in &current.entries {
        match baseline.entry(cur.transport, cur.side) {
            Some(base) => rows.push(row(base, cur, opts)),
            None => notes.push(format!(
                "{} {}: not in the baseline, not judged",
                cur.transport, cur.side
            )),
        }
    }
    let unmeasured: Vec<String> = baseline
        .entries
        .iter()
        .filter(|b| current.entry(b.transport, b.side).is_none())
        .map(|b| format!("{} {}", b.transport, b.side))
        .collect();
    if !unmeasured.is_empty() {
        notes.push(format!(
            "in the baseline but not measured now: {}",
            unmeasured.join(", ")
        ));
    }
    if rows.is_empty() {
        return Err(JudgeError::NothingInCommon);
    }
    Ok(Judgement {
        gate: opts.gate,
        rows,
        notes,
    })
}

/// Float noise (103 ÷ 100 − 1 > 0.03) is not a change.
const EPSILON: f64 = 1e-9;

fn row(base: &Entry, cur: &Entry, opts: Options) -> Row {
    let (b, c) = (base.per_delivery(), cur.per_delivery());
    let change = if b > 0.0 { c / b - 1.0 } else { 0.0 };
    // The injected cost is a fault of the build under test, not another
    // workload: runs with and without it compare.
    let workload = |e: &Entry| Shape {
        inject_cost_rounds: 0,
        ..e.shape.clone()
    };
    let verdict = if workload(base) != workload(cur) {
        Verdict::Incomparable(format!(
            "the workload differs (baseline {:?}, now {:?})",
            base.shape, cur.shape
        ))
    } else if cur.deliveries != cur.shape.deliveries() {
        Verdict::Incomparable(format!(
            "the run delivered {} messages, not {}: it did not run as planned",
            cur.deliveries,
            cur.shape.deliveries()
        ))
    } else if change > opts.gate + EPSILON {
        Verdict::Regression
    } else if change < -opts.gate - EPSILON {
        Verdict::Improvement
    } else {
        Verdict::Pass
    };
    let grew = if verdict == Verdict::Regression {
        grew_most(base, cur, opts.top)
    } else {
        Vec::new()
    };
    Row {
        transport: cur.transport,
        side: cur.side,
        baseline: b,
        current: c,
        change,
        verdict,
        grew,
    }
}

/// Growth below this (instructions per delivery) is allocator noise, not news.
const MIN_GROWTH: f64 = 0.5;

/// The functions whose self instructions per delivery rose most. A name
/// missing from the baseline's list counts from zero (it is new, or was
/// below the list's cut-off).
pub fn grew_most(base: &Entry, cur: &Entry, n: usize) -> Vec<(String, f64)> {
    let per = |e: &Entry, cost: u64| cost as f64 / e.deliveries.max(1) as f64;
    let before: HashMap<&str, f64> = base
        .functions
        .iter()
        .map(|(f, c)| (f.as_str(), per(base, *c)))
        .collect();
    let mut deltas: Vec<(String, f64)> = cur
        .functions
        .iter()
        .map(|(f, c)| {
            let was = before.get(f.as_str()).copied().unwrap_or(0.0);
            (f.clone(), per(cur, *c) - was)
        })
        .filter(|(_, d)| *d >= MIN_GROWTH)
        .collect();
    deltas.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    deltas.truncate(n);
    deltas
}

impl Judgement {
    pub fn has_regression(&self) -> bool {
        self.rows.iter().any(|r| r.verdict == Verdict::Regression)
    }

    /// Some row could not be judged: the baseline is out of date.
    pub fn is_incomparable(&self) -> bool {
        self.rows
            .iter()
            .any(|r| matches!(r.verdict, Verdict::Incomparable(_)))
    }

    /// The table, then one paragraph per regression: what rose, by how
    /// much, and the functions that grew most.
    pub fn text(&self) -> String {
        let mut out = format!(
            "instructions per delivery under Callgrind (gate +{}%)\n{:<10} {:<8} {:>12} {:>12} {:>9}  verdict\n",
            trim(self.gate * 100.0),
            "transport",
            "side",
            "baseline",
            "current",
            "change"
        );
        for r in &self.rows {
            let _ = writeln!(
                out,
                "{:<10} {:<8} {:>12} {:>12} {:>9}  {}",
                r.transport.as_str(),
                r.side.as_str(),
                thousands(r.baseline),
                thousands(r.current),
                signed_pct(r.change),
                verdict_text(&r.verdict)
            );
        }
        for r in self
            .rows
            .iter()
            .filter(|r| r.verdict == Verdict::Regression)
        {
            let _ = writeln!(
                out,
                "\nREGRESSION: {} {} costs {} instructions per delivery, was {} ({}; the gate allows +{}%)",
                r.transport.as_str(),
                r.side,
                thousands(r.current),
                thousands(r.baseline),
                signed_pct(r.change),
                trim(self.gate * 100.0)
            );
            if !r.grew.is_empty() {
                out.push_str("  functions that grew most (self instructions per delivery):\n");
                for (f, d) in &r.grew {
                    let _ = writeln!(out, "    +{:<10} {}", one_decimal(*d), short(f));
                }
            }
        }
        for n in &self.notes {
            let _ = writeln!(out, "note: {n}");
        }
        out
    }
}

fn verdict_text(v: &Verdict) -> String {
    match v {
        Verdict::Pass => "pass".into(),
        Verdict::Regression => "REGRESSION".into(),
        Verdict::Improvement => "improvement (update the baseline)".into(),
        Verdict::Incomparable(why) => format!("not comparable: {why}"),
    }
}

/// Long generic names cut to a readable length.
fn short(name: &str) -> String {
    const MAX: usize = 160;
    if name.chars().count() <= MAX {
        return name.to_string();
    }
    let cut: String = name.chars().take(MAX).collect();
    format!("{cut}…")
}

fn trim(x: f64) -> String {
    let s = format!("{x:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn signed_pct(r: f64) -> String {
    format!("{:+.2}%", r * 100.0)
}

fn one_decimal(x: f64) -> String {
    format!("{x:.1}")
}

/// `31234.56` → `31,235`.
fn thousands(x: f64) -> String {
    let n = x.round() as i64;
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    if n < 0 { format!("-{out}") } else { out }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(t: Transport, side: Side, instructions: u64, functions: &[(&str, u64)]) -> Entry {
        let shape = Shape::standard(t);
        Entry {
            transport: t,
            side,
            deliveries: shape.deliveries(),
            shape,
            instructions,
            functions: functions.iter().map(|(f, c)| (f.to_string(), *c)).collect(),
        }
    }

    fn record(entries: Vec<Entry>) -> Record {
        Record {
            schema: SCHEMA,
            rustc: "rustc 1.95.0".into(),
            valgrind: "valgrind-3.19.0".into(),
            entries,
        }
    }

    const N: u64 = 4000; // deliveries of the standard shape

    #[test]
    fn thresholds() {
        let base = record(vec![
            entry(Transport::Ws, Side::Server, 100 * N, &[]),
            entry(Transport::Ws, Side::Loadgen, 100 * N, &[]),
            entry(Transport::Sse, Side::Server, 100 * N, &[]),
        ]);
        let cur = record(vec![
            entry(Transport::Ws, Side::Server, 103 * N, &[]), // exactly +3%: pass
            entry(Transport::Ws, Side::Loadgen, 10_400 * N / 100, &[]), // +4%
            entry(Transport::Sse, Side::Server, 96 * N, &[]), // -4%
        ]);
        let j = judge(&base, &cur, Options::default()).expect("judge");
        let v: Vec<&Verdict> = j.rows.iter().map(|r| &r.verdict).collect();
        assert_eq!(
            v,
            [&Verdict::Pass, &Verdict::Regression, &Verdict::Improvement]
        );
        assert!(j.has_regression());
        let text = j.text();
        assert!(text.contains("REGRESSION: ws loadgen"), "{text}");
        assert!(text.contains("+4.00%"), "{text}");
        let loose = judge(&base, &cur, Options { gate: 0.05, top: 3 }).expect("judge");
        assert!(!loose.has_regression());
    }

    #[test]
    fn a_regression_names_the_functions_that_grew_most() {
        let base = record(vec![entry(
            Transport::Ws,
            Side::Server,
            100 * N,
            &[("write", 50 * N), ("parse", 30 * N), ("other", 20 * N)],
        )]);
        let cur = record(vec![entry(
            Transport::Ws,
            Side::Server,
            120 * N,
            &[
                ("write", 51 * N),
                ("spend", 15 * N),
                ("parse", 34 * N),
                ("other", 20 * N),
            ],
        )]);
        let j = judge(&base, &cur, Options::default()).expect("judge");
        let grew: Vec<(&str, f64)> = j.rows[0]
            .grew
            .iter()
            .map(|(f, d)| (f.as_str(), *d))
            .collect();
        assert_eq!(grew, [("spend", 15.0), ("parse", 4.0), ("write", 1.0)]);
        let text = j.text();
        assert!(text.contains("+15.0       spend"), "{text}");
    }

    #[test]
    fn different_workloads_and_schemas_are_not_compared() {
        let base = record(vec![entry(Transport::Ws, Side::Server, 100 * N, &[])]);
        let mut other = entry(Transport::Ws, Side::Server, 100 * N, &[]);
        other.shape.clients = 10;
        other.deliveries = other.shape.deliveries();
        let j = judge(&base, &record(vec![other]), Options::default()).expect("judge");
        assert!(j.is_incomparable() && !j.has_regression());

        let mut injected = entry(Transport::Ws, Side::Server, 110 * N, &[]);
        injected.shape.inject_cost_rounds = 50;
        let j = judge(&base, &record(vec![injected]), Options::default()).expect("judge");
        assert!(
            j.has_regression() && !j.is_incomparable(),
            "a fault, not a new workload"
        );

        let mut short = entry(Transport::Ws, Side::Server, 100 * N, &[]);
        short.deliveries -= 1;
        let j = judge(&base, &record(vec![short]), Options::default()).expect("judge");
        assert!(j.is_incomparable());

        let mut old = base.clone();
        old.schema = 0;
        assert_eq!(
            judge(&old, &base, Options::default()),
            Err(JudgeError::Schema(0))
        );
        let sse = record(vec![entry(Transport::Sse, Side::Server, N, &[])]);
        assert_eq!(
            judge(&base, &sse, Options::default()),
            Err(JudgeError::NothingInCommon)
        );
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(thousands(31234.56), "31,235");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(thousands(-1234.0), "-1,234");
        assert_eq!(trim(3.0), "3");
        assert_eq!(trim(2.5), "2.5");
        assert_eq!(signed_pct(-0.0412), "-4.12%");
    }
}
