//! The page's network and radio sections: the same scenario across emulated
//! networks (findings, a table of medians with ranges, grouped-bar charts),
//! and what the traffic costs a phone's radio.

use super::{charts, escape_html, findings_list, title_of};
use crate::Stat;
use crate::charts::{Chart, color_hex, same, series_keys};
use crate::findings::{Finding, suspect};
use crate::format;
use crate::headline::{self, Better};
use crate::merge::{Comparison, Entry};
use crate::metric;
use crate::network::{self, NetLine, category_labels};
use std::fmt::Write;

/// One comparison across networks.
pub(crate) struct NetworkPage {
    pub line: NetLine,
    pub findings: Vec<Finding>,
    pub charts: Vec<Chart>,
}

/// The radio section: the groups with radio figures.
pub(crate) struct RadioPage {
    pub groups: Vec<usize>,
    pub findings: Vec<Finding>,
    pub charts: Vec<Chart>,
}

/// One row of a per-network table.
struct TableRow {
    key: &'static str,
    label: &'static str,
    value: fn(&Entry) -> Option<Stat>,
    show: fn(f64) -> String,
    better: Better,
}

/// A row of a metric of the metric table, lower being better.
macro_rules! row {
    ($key:literal, $label:literal, $m:expr) => {
        TableRow {
            key: $key,
            label: $label,
            value: |e| e.stat($m.value),
            show: |v| $m.kind.show(v),
            better: Better::Lower,
        }
    };
}

const NETWORK_ROWS: [TableRow; 4] = [
    row!("latency_p50_ms", "Latency p50", metric::LATENCY_P50),
    row!("latency_p99_ms", "Latency p99", metric::LATENCY_P99),
    row!(
        "bytes_per_delivery",
        "Bytes on the wire per delivered message",
        metric::BYTES_PER_DELIVERY
    ),
    TableRow {
        // A count per message reads as a plain number (`40.0`, `0`), not a factor.
        show: format::sig3,
        ..row!(
            "requests_per_delivery",
            "HTTP requests per delivered message",
            metric::REQUESTS_PER_DELIVERY
        )
    },
];

fn promotions(v: f64) -> String {
    format!("{}/h", format::sig3(v))
}

const RADIO_ROWS: [TableRow; 6] = [
    row!("radio_lte_on_ratio", "LTE: radio on", metric::RADIO_LTE_ON),
    row!(
        "radio_lte_joules_per_client_hour",
        "LTE: energy per client-hour",
        metric::RADIO_LTE_JOULES
    ),
    TableRow {
        key: "radio_lte_promotions_per_client_hour",
        label: "LTE: promotions out of idle per client-hour",
        value: |e| e.stat(|r| Some(r.radio.as_ref()?.lte.promotions_per_client_hour)),
        show: promotions,
        // An always-on radio is promoted once: fewer is not better.
        better: Better::Neither,
    },
    row!("radio_umts_on_ratio", "3G: radio on", metric::RADIO_UMTS_ON),
    row!(
        "radio_umts_joules_per_client_hour",
        "3G: energy per client-hour",
        metric::RADIO_UMTS_JOULES
    ),
    TableRow {
        key: "radio_umts_promotions_per_client_hour",
        label: "3G: promotions out of idle per client-hour",
        value: |e| e.stat(|r| Some(r.radio.as_ref()?.umts.promotions_per_client_hour)),
        show: promotions,
        // An always-on radio is promoted once: fewer is not better.
        better: Better::Neither,
    },
];

/// `lte · RTT 60 ms · 1% loss`: a network as a table's row group names it.
fn network_heading(c: &Comparison, g: usize, label: &str) -> String {
    let s = &c.groups[g].scenario;
    let mut parts = vec![label.to_string()];
    if let Some(rtt) = network::rtt_us(s) {
        parts.push(format!("RTT {}", format::secs(rtt / 1e6)));
    }
    if let Some(loss) = network::loss_percent(s).filter(|l| *l > 0.0) {
        parts.push(format!("{}% loss", format::trimmed(loss)));
    }
    parts.join(" · ")
}

/// Rows are metrics grouped by network, columns transports; the best value
/// of a row is marked, a cell measured across a link that did not keep up
/// is marked †, and with repeats a cell shows the median over its range.
fn table(h: &mut String, c: &Comparison, groups: &[usize], rows: &[TableRow], kind: &str) {
    let columns = series_keys(c, groups);
    let _ = write!(
        h,
        "<div class=\"table-wrap\"><table class=\"headline {kind}\">\n<thead><tr><th scope=\"col\">Network and metric</th>"
    );
    for (e, _) in &columns {
        let _ = write!(
            h,
            "<th scope=\"col\" style=\"border-top-color:{0}\"><span class=\"dot\" style=\"background:{0}\"></span>{1}</th>",
            color_hex(e.transport),
            escape_html(&e.label)
        );
    }
    h.push_str("</tr></thead>\n<tbody>\n");
    let mut flagged = false;
    for (&g, label) in groups.iter().zip(category_labels(c, groups)) {
        let group = &c.groups[g];
        let _ = writeln!(
            h,
            "<tr class=\"section\"><th colspan=\"{}\" scope=\"rowgroup\">{}</th></tr>",
            columns.len() + 1,
            escape_html(&network_heading(c, g, &label))
        );
        let cells: Vec<Option<&Entry>> = columns
            .iter()
            .map(|(k, _)| group.entries.iter().find(|e| same(e, k)))
            .collect();
        for row in rows {
            let stats: Vec<Option<Stat>> = cells.iter().map(|e| e.and_then(row.value)).collect();
            if stats.iter().all(Option::is_none) {
                continue;
            }
            let best = headline::best(
                row.better,
                &stats.iter().map(|s| s.map(|s| s.value)).collect::<Vec<_>>(),
            );
            let _ = write!(
                h,
                "<tr data-network=\"{}\" data-metric=\"{}\"><th scope=\"row\">{}</th>",
                escape_html(&label),
                row.key,
                escape_html(row.label)
            );
            for ((s, is_best), e) in stats.iter().zip(best).zip(&cells) {
                let doubt = e.is_some_and(|e| suspect(group, e));
                flagged |= doubt && s.is_some();
                cell(h, row, s.as_ref(), is_best, doubt);
            }
            h.push_str("</tr>\n");
        }
    }
    h.push_str("</tbody>\n</table></div>\n");
    if flagged {
        h.push_str("<p class=\"note\">† Measured across an emulated link that did not keep up (it ran late or its queue overflowed): see the findings.</p>\n");
    }
}

fn cell(h: &mut String, row: &TableRow, s: Option<&Stat>, is_best: bool, doubt: bool) {
    let Some(s) = s else {
        h.push_str("<td class=\"na\">–</td>");
        return;
    };
    let mut classes = Vec::new();
    if is_best {
        classes.push("best");
    }
    if doubt {
        classes.push("suspect");
    }
    let class = if classes.is_empty() {
        String::new()
    } else {
        format!(" class=\"{}\"", classes.join(" "))
    };
    let mark = if doubt { "\u{a0}†" } else { "" };
    let spread = if s.has_spread() {
        format!(
            "<span class=\"spread\">{}–{}</span>",
            escape_html(&(row.show)(s.min)),
            escape_html(&(row.show)(s.max))
        )
    } else {
        String::new()
    };
    let _ = write!(
        h,
        "<td{class}>{}{mark}{spread}</td>",
        escape_html(&(row.show)(s.value))
    );
}

/// Every comparison across networks, in one section.
pub(super) fn network_section(h: &mut String, c: &Comparison, pages: &[NetworkPage]) {
    h.push_str("<section class=\"scenario\" id=\"network\">\n<h2>Networks: the transports across emulated networks</h2>\n");
    for (i, p) in pages.iter().enumerate() {
        let Some(&first) = p.line.groups.first() else {
            continue;
        };
        if pages.len() > 1 {
            let _ = writeln!(
                h,
                "<h3 id=\"network-{}\">{}</h3>",
                i + 1,
                escape_html(&title_of(&network::without_network(
                    &c.groups[first].scenario
                )))
            );
        }
        let names = category_labels(c, &p.line.groups);
        let _ = writeln!(
            h,
            "<p class=\"lead\">The same scenario on {} networks, by round-trip time: {}. \
             Each network is named by its canonical spec (docs/network.md).</p>",
            p.line.groups.len(),
            escape_html(&names.join(", "))
        );
        findings_list(h, &p.findings);
        h.push_str("<h4>Numbers per network</h4>\n");
        table(h, c, &p.line.groups, &NETWORK_ROWS, "network");
        charts(h, &p.charts);
    }
    h.push_str("</section>\n");
}

/// What the radio figures are and where the model comes from.
pub(crate) const RADIO_MODEL: &str = "Radio figures come from a model of one phone per simulated client, fed with the times that client sent or \
received data over the measured window: the LTE model is that of Huang et al., \u{201c}A Close Examination of Performance and \
Power Characteristics of 4G LTE Networks\u{201d} (MobiSys 2012), the 3G (UMTS) model that of Qian et al., \u{201c}Characterizing \
Radio Resource Allocation for 3G Networks\u{201d} (IMC 2010). It assumes one phone per simulated client and counts the radio \
alone (above the phone's idle base), scaled to one hour; the promotions are the radio's wake-ups out of idle.";

pub(super) fn radio_section(h: &mut String, c: &Comparison, p: &RadioPage) {
    h.push_str("<section class=\"scenario\" id=\"radio\">\n<h2>Radio: what the traffic costs a phone</h2>\n");
    let _ = writeln!(h, "<p class=\"lead\">{}</p>", escape_html(RADIO_MODEL));
    findings_list(h, &p.findings);
    h.push_str("<h4>Radio figures per network</h4>\n");
    table(h, c, &p.groups, &RADIO_ROWS, "radio");
    charts(h, &p.charts);
    h.push_str("</section>\n");
}
