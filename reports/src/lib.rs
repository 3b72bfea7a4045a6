//! `rtbench report`: result files → a self-contained HTML report, PNG charts
//! and summary tables.
//!
//! ```text
//! load_results(paths) ─► merge(files) ─► Comparison ─┬─► render(…, dir)        index.html + *.png
//!                                                    ├─► summary_json(…)       serde_json::Value
//!                                                    └─► print_summary_table(…) aligned text
//! ```
//!
//! `bench` builds the [`Comparison`] from the files it just wrote with
//! [`merge()`] and calls [`render`] the same way `report` does.
//!
//! The CI half reads the same merged results:
//!
//! ```text
//! Threshold::parse(expr) ─► thresholds::evaluate(…, files) ─► print_outcomes   (load, bench: exit 99)
//! compare::load_side(path) ×2 ─► compare(base, cur, opts) ─► print_table / to_markdown / to_junit / to_json
//! ```
//!
//! # Layout
//! - [`load`]: reading files and directories; schema-version and histogram checks per file.
//! - [`mod@merge`]: grouping into scenarios and transports; repeats vs concurrent workers.
//! - `combine`: adding results up (histograms exactly, counts, bytes, rates, costs).
//! - [`metric`]: the one table of metrics (`latency.p99`, `loss`, …): value, unit, worse direction.
//! - [`headline`]: which metrics the report's tables show, in what order, under which label.
//! - [`thresholds`]: absolute limits (`ws.latency.p99<25ms`) checked on merged results.
//! - [`mod@compare`]: baseline vs current with relative gates and the noise rule; table, Markdown, JUnit, JSON.
//! - `matrix`: which scenarios form a matrix (differ in clients, rate or size only).
//! - `network`: which scenarios differ in their emulated network only; RTT and loss of a spec.
//! - `findings`: plain-language observations computed from the numbers.
//! - [`knee`]: where a staged run's load broke it (p99 or errors).
//! - `table`: the terminal table and the JSON summary.
//! - `charts`: PNG charts with plotters (bundled DejaVu Sans, no system font libraries).
//! - `html`: the single-file HTML page, with [`escape_html`] for every file-borne string.
//! - `render`: writing the report directory.
//! - [`mod@format`]: `protocol::format`, the number formatting the load
//!   generator's summary uses too, so a value reads the same in both.
//! - `stats`: medians, spreads, RFC 3339 stamps.
//! - `hist`: the percentile curve; codec and summaries from `protocol::hist`.
//! - [`Error`]: one error enum; every variant born of a file names the file.

mod charts;
mod combine;
pub mod compare;
mod error;
mod findings;
pub mod headline;
mod hist;
mod html;
pub mod knee;
pub mod load;
mod matrix;
pub mod merge;
pub mod metric;
mod network;
mod render;
mod stats;
mod table;
pub mod thresholds;

pub use compare::{CompareOptions, CompareReport, Gate, compare};
pub use error::Error;
pub use findings::{Finding, Tone, findings};
pub use html::escape_html;
pub use load::load_results;
pub use merge::{Comparison, Entry, Group, merge};
pub use protocol::format;
pub use render::{RenderOptions, RenderSummary, render};
pub use stats::Stat;
pub use table::{print_summary_table, summary_json};
pub use thresholds::{Outcome, Threshold, ThresholdError};
