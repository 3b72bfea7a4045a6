//! `rtbench compare BASELINE CURRENT`: relative regression gates between two
//! sets of result files, aware of run-to-run noise.
//!
//! **Pairing.** Each side is merged ([`crate::merge()`]); scenarios are paired
//! by every setting that shapes the workload (clients, rooms, publishers,
//! rate, arrival, size, phases, publish method — not the seed, the source
//! addresses or the scenario file's name), transports by name and setting
//! (the short-poll interval, the long-poll wait). Transports or matrix cells
//! present on one side only are left out with a note. If no scenario pairs
//! up, or one transport's setting differs, the sides measured different
//! workloads and [`compare`] refuses with [`Error::ScenarioMismatch`] unless
//! [`CompareOptions::allow_scenario_mismatch`]: then scenarios pair in order
//! and transports by name, and the report says so.
//!
//! **Values.** Each side gives one value per run (per repeat of
//! `bench --repeat K`; load workers of one run are combined first). The
//! compared value is the median over runs.
//!
//! **Verdict per gate** (the noise rule):
//! - *regression*: the median moved for the worse by more than the gate
//!   **and** the ranges of the two sides do not overlap — every current run
//!   is worse than every baseline run. This needs at least 2 runs per side.
//!   With 3 runs per side, complete separation is the most extreme outcome
//!   of a one-sided Mann–Whitney U test, p = 1/C(6,3) = 0.05 (2 vs 2 runs:
//!   p = 1/6; 5 vs 5: p = 1/252), so the rule is that test at the 5% level
//!   for the recommended 3 repeats, combined with a minimum effect size (the
//!   gate) so that a tiny but consistent shift does not fail a build.
//! - *within noise*: the median moved by more than the gate (either way) but
//!   the ranges overlap: not a regression.
//! - *improvement*: better by more than the gate, ranges separated.
//! - *pass*: the median moved less than the gate.
//! - With a single run on either side there is no noise estimate: the
//!   medians are compared plainly (beyond the gate is a regression or an
//!   improvement) and the row says "single run".
//! - Counts of things that should not happen (`loss`, `duplicate`,
//!   `reordered`, `errors`, …) are compared as totals per run (the total
//!   divided by the number of runs, so 3 repeats compare fairly with 1):
//!   more than the gate allows is a regression whatever the spread (`+0`:
//!   any increase).
//! - A metric a side did not measure (no `/api/stats`, nothing delivered) is
//!   skipped with a note ("not measured"), never a regression.

mod gate;
mod output;
mod pair;
mod verdict;

pub use gate::{DEFAULTS, Gate, GateError, Limit};
pub use output::{print_table, to_json, to_junit, to_markdown};

use crate::load::{Folder, load_path};
use crate::{Error, merge};
use pair::{machine_note, pair, side_info, transports_of};
use protocol::results::ResultFile;
use serde::Serialize;
use std::path::Path;
use verdict::judge;

/// How to compare.
#[derive(Debug, Clone)]
pub struct CompareOptions {
    pub gates: Vec<Gate>,
    /// Compare runs of different scenarios (pairing transports by name).
    pub allow_scenario_mismatch: bool,
}

impl Default for CompareOptions {
    fn default() -> Self {
        CompareOptions {
            gates: Gate::defaults(),
            allow_scenario_mismatch: false,
        }
    }
}

/// What a gate found for one transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    Improvement,
    /// Beyond the gate, but the runs' ranges overlap.
    WithinNoise,
    Regression,
    /// One side has no value for the metric; skipped.
    NotMeasured,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Improvement => "improvement",
            Verdict::WithinNoise => "within noise",
            Verdict::Regression => "regression",
            Verdict::NotMeasured => "not measured",
        }
    }
}

/// Which rule gave the verdict (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// ≥ 2 runs per side: the gate and the ranges.
    Spread,
    /// 1 run on a side: medians compared plainly, no noise estimate.
    SingleRun,
    /// A count: totals per run against the gate, spread ignored.
    Count,
    /// Nothing compared (not measured).
    None,
}

/// One side's values of a metric for one transport.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Values {
    /// The compared value: the median over runs (for counts: total ÷ runs).
    pub value: f64,
    pub min: f64,
    pub max: f64,
    /// Runs with a value.
    pub runs: usize,
    /// Counts only: the sum over runs.
    pub total: Option<f64>,
    /// `value` as it reads, unit and range included: `1.02 ms [0.98–1.10 ms]`.
    pub text: String,
}

/// One gate on one transport.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// The scenario, when several were compared (a matrix).
    pub scenario: Option<String>,
    /// `ws`, or `short-poll 250 ms` when a scenario has two short-poll settings.
    pub transport: String,
    pub metric: &'static str,
    /// The gate as given: `+25%`.
    pub gate: String,
    pub baseline: Option<Values>,
    pub current: Option<Values>,
    /// current − baseline in the stored unit (µs for latencies).
    pub delta: Option<f64>,
    /// The change relative to the baseline (0.4 = +40%); `None` from a baseline of 0.
    pub change: Option<f64>,
    /// The change as it reads: `+40.2%`, `+3`, `from 0`.
    pub change_text: String,
    pub verdict: Verdict,
    pub method: Method,
    /// One sentence: why this verdict.
    pub reason: String,
    /// Unit of `delta` and of the values (`us`, `bytes`, `count`, …).
    pub unit: &'static str,
}

impl Row {
    /// `regression`, `regression (single run)`, `within noise`, …
    pub fn verdict_text(&self) -> String {
        match (self.verdict, self.method) {
            (Verdict::NotMeasured, _) => self.verdict.as_str().into(),
            (v, Method::SingleRun) => format!("{} (single run)", v.as_str()),
            (v, _) => v.as_str().into(),
        }
    }
}

/// What one side held.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Side {
    /// What the side was read from (the CLI sets it to the path given);
    /// shown in the outputs when set.
    pub label: Option<String>,
    pub files: usize,
    /// Most runs of any transport on this side (3 for `bench --repeat 3`).
    pub runs: usize,
    /// Fewest runs of any transport on this side.
    pub min_runs: usize,
    /// One line per scenario.
    pub scenarios: Vec<String>,
    pub rtbench_versions: Vec<String>,
    /// Earliest and latest `created` stamp.
    pub created: (String, String),
}

/// The outcome of [`compare`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CompareReport {
    pub baseline: Side,
    pub current: Side,
    /// Every gate applied, as `metric=change`.
    pub gates: Vec<String>,
    /// One row per transport pair and gate, scenario by scenario.
    pub rows: Vec<Row>,
    /// What a reader must know: transports on one side only, single runs,
    /// different machines, partial runs, an allowed scenario mismatch.
    pub notes: Vec<String>,
    /// Scenario differences that `allow_scenario_mismatch` let through.
    pub scenario_differences: Vec<String>,
}

impl CompareReport {
    /// Some gate found a regression (the CLI then exits 99).
    pub fn has_regression(&self) -> bool {
        self.rows.iter().any(|r| r.verdict == Verdict::Regression)
    }

    /// The rows with this verdict.
    pub fn with_verdict(&self, v: Verdict) -> impl Iterator<Item = &Row> {
        self.rows.iter().filter(move |r| r.verdict == v)
    }

    /// One line: `REGRESSION: 1 of 16 gates (ws latency.p99 +40.2%)` or
    /// `pass: 16 gates, no regression (1 improvement)`.
    pub fn summary_line(&self) -> String {
        let count = |v| self.with_verdict(v).count();
        let regressions: Vec<String> = self
            .with_verdict(Verdict::Regression)
            .map(|r| format!("{} {} {}", r.transport, r.metric, r.change_text))
            .collect();
        let mut extra = Vec::new();
        for (v, what) in [
            (Verdict::Improvement, "improvement"),
            (Verdict::WithinNoise, "within noise"),
            (Verdict::NotMeasured, "not measured"),
        ] {
            let n = count(v);
            if n > 0 {
                let plural = if n > 1 && v == Verdict::Improvement {
                    "s"
                } else {
                    ""
                };
                extra.push(format!("{n} {what}{plural}"));
            }
        }
        let extra = if extra.is_empty() {
            String::new()
        } else {
            format!(" ({})", extra.join(", "))
        };
        if regressions.is_empty() {
            format!(
                "pass: {} gates, no regression{extra}",
                self.rows.len() - count(Verdict::NotMeasured)
            )
        } else {
            const SHOWN: usize = 3;
            let mut named = regressions[..regressions.len().min(SHOWN)].join(", ");
            if regressions.len() > SHOWN {
                named.push_str(&format!(", and {} more", regressions.len() - SHOWN));
            }
            format!(
                "REGRESSION: {} of {} gates: {named}{extra}",
                regressions.len(),
                self.rows.len() - count(Verdict::NotMeasured)
            )
        }
    }
}

/// Reads one side of a comparison: a result file, or a directory of them
/// (`*.json` in it, and in its `results/` subfolder, which is where `bench`
/// writes them). Other JSON files in a directory (`summary.json`) are skipped.
pub fn load_side(path: &Path) -> Result<Vec<ResultFile>, Error> {
    load_path(path, Folder::BenchOutput)
}

/// Compares `current` against `baseline` with the gates of `opts` (see the
/// module docs). Errors: empty sides, files that do not merge, different
/// scenarios (unless allowed), nothing in common to compare.
pub fn compare(
    baseline: &[ResultFile],
    current: &[ResultFile],
    opts: &CompareOptions,
) -> Result<CompareReport, Error> {
    let side = |files: &[ResultFile], name: &str| {
        if files.is_empty() {
            return Err(Error::NoInput(format!("the {name} holds no result file")));
        }
        merge(files)
    };
    let b = side(baseline, "baseline")?;
    let c = side(current, "current side")?;
    let mut notes = Vec::new();
    let mut differences = Vec::new();
    let pairs = pair(
        &b,
        &c,
        opts.allow_scenario_mismatch,
        &mut notes,
        &mut differences,
    )?;
    if pairs.is_empty() {
        return Err(Error::NothingToCompare(format!(
            "the baseline measured {}, the current side {}: no transport in common",
            transports_of(&b),
            transports_of(&c)
        )));
    }
    let several = pairs
        .iter()
        .map(|p| p.group)
        .collect::<std::collections::BTreeSet<_>>()
        .len()
        > 1;
    let mut rows = Vec::new();
    let mut single = false;
    for p in &pairs {
        let scenario = several.then(|| crate::html::scenario_title(&c.groups[p.group]));
        for gate in &opts.gates {
            let row = judge(gate, p.baseline, p.current, scenario.clone());
            single |= row.method == Method::SingleRun;
            rows.push(row);
        }
        for (e, name) in [(p.baseline, "baseline"), (p.current, "current")] {
            if e.partial {
                notes.push(format!(
                    "{name} {}: a run did not complete (partial): its numbers cover only what was measured",
                    e.label
                ));
            }
        }
    }
    if single {
        notes.push(
            "a side has a single run of some transport: those verdicts compare the two values \
             plainly, without a noise estimate (use bench --repeat 3 on both sides)"
                .into(),
        );
    }
    machine_note(&b, &c, &mut notes);
    Ok(CompareReport {
        baseline: side_info(&b),
        current: side_info(&c),
        gates: opts.gates.iter().map(Gate::to_string).collect(),
        rows,
        notes,
        scenario_differences: differences,
    })
}
