//! The load summary's per-stage table of a staged run (`--stages`).

use crate::summary::fmt_us;
use protocol::format::{thousands, trimmed};
use protocol::results::StageResult;
use std::io::{self, Write};

/// One row per stage: the target load, what was connected and published,
/// and the latency of the stage's messages. Nothing for a steady run.
pub fn print(out: &mut impl Write, stages: &[StageResult]) -> io::Result<()> {
    if stages.is_empty() {
        return Ok(());
    }
    let header = [
        "stage",
        "clients",
        "connected",
        "msg/s",
        "published",
        "delivered",
        "lost",
        "p50",
        "p99",
        "max",
        "errors",
    ];
    let rows: Vec<[String; 11]> = stages.iter().map(row).collect();
    let mut widths = header.map(str::len);
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    writeln!(out, "    stages:")?;
    let print_row = |out: &mut dyn Write, cells: &[&str]| {
        let mut text = String::from("     ");
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            let pad = w.saturating_sub(cell.chars().count());
            if i == 0 {
                text.push_str(&format!(" {cell}{}", " ".repeat(pad)));
            } else {
                text.push_str(&format!("  {}{cell}", " ".repeat(pad)));
            }
        }
        writeln!(out, "{}", text.trim_end())
    };
    print_row(out, &header)?;
    for r in &rows {
        print_row(out, &r.each_ref().map(String::as_str))?;
    }
    Ok(())
}

fn row(s: &StageResult) -> [String; 11] {
    let span = |a: String, b: String| if a == b { a } else { format!("{a}→{b}") };
    let lat = |us: u64| {
        if s.latency.count == 0 {
            "-".to_string()
        } else {
            fmt_us(us)
        }
    };
    [
        s.stage.clone(),
        span(thousands(s.clients_from), thousands(s.clients_to)),
        format!(
            "{} (max {})",
            trimmed(s.connected_mean.round()),
            thousands(s.connected_max)
        ),
        span(trimmed(s.rate_from), trimmed(s.rate_to)),
        thousands(s.published),
        thousands(s.deliveries),
        thousands(s.lost),
        lat(s.latency.p50_us),
        lat(s.latency.p99_us),
        lat(s.latency.max_us),
        thousands(s.errors),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_per_stage_with_ramps_shown() {
        let mut a = StageResult {
            stage: "10s:100c@10/s".into(),
            clients_to: 100,
            rate_to: 10.0,
            connected_mean: 49.6,
            connected_max: 98,
            deliveries: 2500,
            lost: 3,
            errors: 7,
            ..StageResult::default()
        };
        a.latency.count = 2500;
        a.latency.p99_us = 12_300;
        let b = StageResult {
            stage: "5s:100c".into(),
            clients_from: 100,
            clients_to: 100,
            ..StageResult::default()
        };
        let mut out = Vec::new();
        print(&mut out, &[a, b]).expect("write");
        let text = String::from_utf8(out).expect("utf-8");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        // Every column has its header: the last two are lost…max and errors.
        let header: Vec<&str> = lines[1].split_whitespace().collect();
        let cells: Vec<&str> = lines[2].split_whitespace().collect();
        assert_eq!(header.len(), 11, "{text}");
        assert_eq!((header[6], header[10]), ("lost", "errors"), "{text}");
        assert_eq!(cells.last(), Some(&"7"), "{text}");
        let delivered = cells.iter().position(|c| *c == "2,500");
        assert_eq!(delivered.map(|i| cells[i + 1]), Some("3"), "{text}");
        assert!(
            lines[2].contains("0→100") && lines[2].contains("0→10"),
            "{text}"
        );
        assert!(
            lines[2].contains("12.3 ms") && lines[2].contains("50 (max 98)"),
            "{text}"
        );
        assert!(
            lines[3].contains("5s:100c") && lines[3].contains(" - "),
            "{text}"
        );
        let mut none = Vec::new();
        print(&mut none, &[]).expect("write");
        assert!(none.is_empty());
    }
}
