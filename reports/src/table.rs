//! The summary for terminals and scripts: a plain aligned ASCII table (CI
//! logs, `report` without `-o`) and the same numbers as JSON
//! (`--format json`). Both come from [`crate::headline::HEADLINE`].

use crate::headline::{HEADLINE, Row};
use crate::merge::{Comparison, Entry};
use serde_json::{Map, Value, json};
use std::io::{self, Write};

/// The headline numbers as JSON, for scripts:
///
/// ```json
/// {"files": 4, "groups": [{"scenario": {…}, "network": "lte", "link": {…}, "transports": [
///   {"transport": "ws", "label": "ws", "runs": 1, "files": 1, "partial": false,
///    "metrics": {"latency_p99_ms": {"value": 0.9, "min": 0.9, "max": 0.9}, …},
///    "radio": {"lte": {"radio_on_fraction": 0.23, …}, "umts": {…}}}]}]}
/// ```
///
/// Each metric is the median over runs with its range; a metric that was not
/// measured (no `/api/stats` on the server, no radio figures on loopback) is
/// `null`. `network` is the canonical spec (`null` on loopback); `link` the
/// emulated link's counters of the group's files added up, and `radio` the
/// radio figures of all runs pooled (both `null` when not recorded).
pub fn summary_json(c: &Comparison) -> Value {
    let groups: Vec<Value> = c
        .groups
        .iter()
        .map(|g| {
            let transports: Vec<Value> = g.entries.iter().map(entry_json).collect();
            json!({
                "scenario": g.scenario,
                "label": crate::html::scenario_title(g),
                "network": g.scenario.network,
                "link": g.link,
                "transports": transports,
            })
        })
        .collect();
    json!({
        "files": c.files,
        "created": {"first": c.created.0, "last": c.created.1},
        "rtbench_versions": c.rtbench_versions,
        "machines": c.machines,
        "warnings": c.warnings,
        "groups": groups,
    })
}

fn entry_json(e: &Entry) -> Value {
    let mut metrics = Map::new();
    for m in HEADLINE {
        let v = match e.stat(|r| m.json_value(r)) {
            Some(s) => {
                json!({"value": round6(s.value), "min": round6(s.min), "max": round6(s.max)})
            }
            None => Value::Null,
        };
        metrics.insert(m.key.to_string(), v);
    }
    let mut out = json!({
        "transport": e.transport,
        "label": e.label,
        "setting_secs": e.setting_secs,
        "runs": e.runs.len(),
        "files": e.files,
        "partial": e.partial,
        "metrics": metrics,
        "radio": e.merged.radio,
    });
    if let (Some(knee), Some(o)) = (crate::knee::summary(&e.merged), out.as_object_mut()) {
        o.insert("knee".into(), knee);
    }
    out
}

/// Six significant digits are plenty for a summary and keep float noise
/// (0.30000000000000004) out of scripts' diffs.
fn round6(v: f64) -> f64 {
    if v == 0.0 || !v.is_finite() {
        return v;
    }
    let scale = 10f64.powi(5 - v.abs().log10().floor() as i32);
    (v * scale).round() / scale
}

/// A plain aligned table per scenario: one line per transport, the headline
/// columns most useful in a log. With repeats, values are medians.
pub fn print_summary_table(c: &Comparison, mut out: impl Write) -> io::Result<()> {
    for (i, g) in c.groups.iter().enumerate() {
        if i > 0 {
            writeln!(out)?;
        }
        let columns: Vec<&Row> = HEADLINE
            .iter()
            .filter(|m| {
                m.terminal
                    && (!m.optional || g.entries.iter().any(|e| e.stat(|r| m.value(r)).is_some()))
            })
            .collect();
        writeln!(out, "{}", crate::html::scenario_title(g))?;
        let mut rows = vec![vec!["transport".to_string()]];
        rows[0].extend(columns.iter().map(|m| m.short.to_string()));
        rows.extend(g.entries.iter().map(|e| summary_row(e, &columns)));
        write_figures(&mut out, &rows)?;
    }
    if !c.warnings.is_empty() {
        writeln!(out)?;
        for w in &c.warnings {
            writeln!(out, "warning: {w}")?;
        }
    }
    Ok(())
}

fn summary_row(e: &Entry, columns: &[&Row]) -> Vec<String> {
    let mut row = vec![match e.runs.len() {
        1 => e.label.clone(),
        n => format!("{} (median of {n})", e.label),
    }];
    for m in columns {
        row.push(
            e.stat(|r| m.value(r))
                .map_or_else(|| "-".to_string(), |s| m.show(s.value)),
        );
    }
    row
}

/// The header row, a rule, then the rows: names left-aligned, numbers
/// right-aligned (columns of figures read best when their units line up).
fn write_figures(out: &mut impl Write, rows: &[Vec<String>]) -> io::Result<()> {
    let widths = column_widths(rows);
    for (n, row) in rows.iter().enumerate() {
        let mut line = String::new();
        for (col, cell) in row.iter().enumerate() {
            let pad = " ".repeat(widths[col] - cell.chars().count());
            if col == 0 {
                line.push_str(cell);
                line.push_str(&pad);
            } else {
                line.push_str("  ");
                line.push_str(&pad);
                line.push_str(cell);
            }
        }
        writeln!(out, "{}", line.trim_end())?;
        if n == 0 {
            let total = widths.iter().sum::<usize>() + 2 * (widths.len() - 1);
            writeln!(out, "{}", "-".repeat(total))?;
        }
    }
    Ok(())
}

/// The widest cell of each column, in characters.
pub(crate) fn column_widths(rows: &[Vec<String>]) -> Vec<usize> {
    let mut widths = vec![0; rows.first().map_or(0, Vec::len)];
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    widths
}
