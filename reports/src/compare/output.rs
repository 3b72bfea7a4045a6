//! The four renderings of a [`CompareReport`]: an aligned terminal table, a
//! Markdown PR comment, JUnit XML for CI test tabs, and JSON for scripts.
//! All read the same rows and texts, so they never disagree.

use super::{CompareReport, Side, Verdict};
use serde_json::{Value, json};
use std::io::{self, Write};

/// The rule in one sentence, under every rendering.
const RULE: &str = "A change is a regression when the median moves beyond the gate and every \
current run is worse than every baseline run (with 3 runs per side that is a one-sided \
Mann–Whitney U test at p = 0.05); with a single run on a side, values are compared plainly. \
Counts (loss, errors, …) fail on any increase beyond their gate, whatever the spread.";

fn side_text(s: &Side) -> String {
    let files = if s.files == 1 { "file" } else { "files" };
    let runs = match (s.min_runs, s.runs) {
        (_, 0 | 1) => "1 run".to_string(),
        (lo, hi) if lo == hi => format!("{hi} runs"),
        (lo, hi) => format!("{lo}–{hi} runs"),
    };
    let what = format!("{} {files}, {runs} per transport", s.files);
    match &s.label {
        Some(l) => format!("{l} ({what})"),
        None => what,
    }
}

fn cell(v: &Option<super::Values>) -> String {
    v.as_ref()
        .map_or_else(|| "–".to_string(), |v| v.text.clone())
}

/// An aligned plain-text table: transport, metric, baseline (median
/// [min–max]), current, change, gate, verdict; then the notes.
pub fn print_table(report: &CompareReport, mut out: impl Write) -> io::Result<()> {
    writeln!(out, "rtbench compare: {}", report.summary_line())?;
    writeln!(out, "  baseline: {}", side_text(&report.baseline))?;
    writeln!(out, "  current:  {}", side_text(&report.current))?;
    let several = report.rows.iter().any(|r| r.scenario.is_some());
    let mut header = vec![
        "transport",
        "metric",
        "baseline",
        "current",
        "change",
        "gate",
        "verdict",
    ];
    if several {
        header.insert(0, "scenario");
    }
    let mut lines: Vec<Vec<String>> = vec![header.iter().map(|h| h.to_string()).collect()];
    for r in &report.rows {
        let verdict = match r.verdict {
            Verdict::Regression => r.verdict_text().replacen("regression", "REGRESSION", 1),
            _ => r.verdict_text(),
        };
        let mut line = vec![
            r.transport.clone(),
            r.metric.to_string(),
            cell(&r.baseline),
            cell(&r.current),
            r.change_text.clone(),
            r.gate.clone(),
            verdict,
        ];
        if several {
            line.insert(0, r.scenario.clone().unwrap_or_default());
        }
        lines.push(line);
    }
    let widths = crate::table::column_widths(&lines);
    writeln!(out)?;
    for line in &lines {
        let mut text = String::new();
        for (i, (c, w)) in line.iter().zip(&widths).enumerate() {
            if i + 1 == line.len() {
                text.push_str(c);
            } else {
                let pad = w - c.chars().count();
                text.push_str(c);
                text.push_str(&" ".repeat(pad + 2));
            }
        }
        writeln!(out, "{}", text.trim_end())?;
    }
    if !report.notes.is_empty() {
        writeln!(out)?;
        for n in &report.notes {
            writeln!(out, "note: {n}")?;
        }
    }
    Ok(())
}

fn icon(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass | Verdict::Improvement => "✅",
        Verdict::WithinNoise | Verdict::NotMeasured => "⚠️",
        Verdict::Regression => "❌",
    }
}

/// A Markdown table cell: no pipes, no line breaks, no raw HTML.
fn md(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('|', "\\|")
        .replace(['\n', '\r'], " ")
}

/// A PR comment: a one-line verdict header, the sides, a table (metric,
/// baseline, current, change, gate, verdict with ✅/❌/⚠️), the notes and the
/// rule.
pub fn to_markdown(report: &CompareReport) -> String {
    let mut s = String::new();
    let mark = if report.has_regression() {
        "❌"
    } else {
        "✅"
    };
    s.push_str(&format!(
        "### {mark} rtbench compare: {}\n\n",
        md(&report.summary_line())
    ));
    s.push_str(&format!(
        "**Baseline:** {} · **Current:** {}",
        md(&side_text(&report.baseline)),
        md(&side_text(&report.current))
    ));
    if let [one] = report.current.scenarios.as_slice() {
        s.push_str(&format!(" · {}", md(one)));
    }
    s.push_str("\n\n");
    let several = report.rows.iter().any(|r| r.scenario.is_some());
    if several {
        s.push_str(
            "| scenario | transport | metric | baseline | current | change | gate | verdict |\n",
        );
        s.push_str("|---|---|---|---:|---:|---:|---:|---|\n");
    } else {
        s.push_str("| transport | metric | baseline | current | change | gate | verdict |\n");
        s.push_str("|---|---|---:|---:|---:|---:|---|\n");
    }
    for r in &report.rows {
        if let Some(sc) = r.scenario.as_deref().filter(|_| several) {
            s.push_str(&format!("| {} ", md(sc)));
        }
        s.push_str(&format!(
            "| {} | `{}` | {} | {} | {} | {} | {} {} |\n",
            md(&r.transport),
            r.metric,
            md(&cell(&r.baseline)),
            md(&cell(&r.current)),
            md(&r.change_text),
            md(&r.gate),
            icon(r.verdict),
            md(&r.verdict_text()),
        ));
    }
    if !report.notes.is_empty() {
        s.push('\n');
        for n in &report.notes {
            s.push_str(&format!("- ⚠️ {}\n", md(n)));
        }
    }
    s.push_str(&format!("\n<sub>{}</sub>\n", md(RULE)));
    s
}

/// Text for XML attributes and content: the five entities escaped, and the
/// characters XML 1.0 cannot hold at all dropped.
fn xml(s: &str) -> String {
    crate::html::escape_markup(s, "&apos;", |c| {
        matches!(c, '\t' | '\n' | '\r')
            || !((c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}')
    })
}

/// JUnit XML: one `<testsuite name="rtbench compare">`, one `<testcase>` per
/// gate and transport (`classname` the transport, `name` "metric gate"), a
/// `<failure>` for each regression, `<skipped>` where not measured.
pub fn to_junit(report: &CompareReport) -> String {
    let failures = report.with_verdict(Verdict::Regression).count();
    let skipped = report.with_verdict(Verdict::NotMeasured).count();
    let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    s.push_str(&format!(
        "<testsuite name=\"rtbench compare\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"0\">\n",
        report.rows.len()
    ));
    for r in &report.rows {
        let class = match &r.scenario {
            Some(sc) => format!("{sc} / {}", r.transport),
            None => r.transport.clone(),
        };
        let detail = format!(
            "baseline {}, current {}, change {}, gate {}: {}",
            cell(&r.baseline),
            cell(&r.current),
            r.change_text,
            r.gate,
            r.reason
        );
        s.push_str(&format!(
            "  <testcase classname=\"{}\" name=\"{} {}\" time=\"0\"",
            xml(&class),
            xml(r.metric),
            xml(&r.gate)
        ));
        match r.verdict {
            Verdict::Regression => s.push_str(&format!(
                ">\n    <failure message=\"{}\" type=\"regression\">{}</failure>\n  </testcase>\n",
                xml(&format!(
                    "{} {} {} (gate {})",
                    r.transport, r.metric, r.change_text, r.gate
                )),
                xml(&detail)
            )),
            Verdict::NotMeasured => s.push_str(&format!(
                ">\n    <skipped message=\"{}\"/>\n  </testcase>\n",
                xml(&r.reason)
            )),
            Verdict::Pass => s.push_str("/>\n"),
            Verdict::Improvement | Verdict::WithinNoise => s.push_str(&format!(
                ">\n    <system-out>{}</system-out>\n  </testcase>\n",
                xml(&format!("{}: {detail}", r.verdict_text()))
            )),
        }
    }
    let mut out_text = vec![report.summary_line()];
    out_text.extend(report.notes.iter().map(|n| format!("note: {n}")));
    out_text.push(RULE.to_string());
    s.push_str(&format!(
        "  <system-out>{}</system-out>\n",
        xml(&out_text.join("\n"))
    ));
    s.push_str("</testsuite>\n");
    s
}

/// Everything in the report, plus `verdict` (`pass` or `regression`) and
/// the one-line `summary`, for scripts.
pub fn to_json(report: &CompareReport) -> Value {
    let mut v = serde_json::to_value(report).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut v {
        m.insert(
            "verdict".into(),
            json!(if report.has_regression() {
                "regression"
            } else {
                "pass"
            }),
        );
        m.insert("summary".into(), json!(report.summary_line()));
        m.insert("rule".into(), json!(RULE));
    }
    v
}
