//! The report page: one self-contained `index.html` (inline CSS, charts as
//! PNG data URIs, no script, no external request), so it opens from disk,
//! from a CI artifact or an e-mail attachment alike.
//!
//! Every string that comes from a result file (scenario file names, host
//! names, OS strings, warnings, labels) goes through [`escape_html`]: result
//! files travel between machines and people, and a report must not run what
//! one of them contains.

mod network;

pub(crate) use network::{NetworkPage, RadioPage};

use crate::Stat;
use crate::charts::{Chart, color_hex};
use crate::findings::{Finding, Tone};
use crate::format;
use crate::headline::{self, HEADLINE, Row};
use crate::merge::{Comparison, Entry, Group};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use protocol::results::{Arrival, Machine, PublishVia, Scenario};
use std::fmt::Write;

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape_html(s: &str) -> String {
    escape_markup(s, "&#39;", |_| true)
}

/// The five markup characters as entities, `'` as `apos` (HTML 4 has no
/// `&apos;`, XML names it); any other character kept where `keep` says so.
pub(crate) fn escape_markup(s: &str, apos: &str, keep: impl Fn(char) -> bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str(apos),
            c if keep(c) => out.push(c),
            _ => {}
        }
    }
    out
}

/// `2026-11-29T06:31:00Z` → `2026-11-29 06:31:00 UTC`; anything else as is.
fn pretty_stamp(s: &str) -> String {
    match s.strip_suffix('Z') {
        Some(rest) if rest.len() >= 19 && rest.as_bytes().get(10) == Some(&b'T') => {
            format!("{} {} UTC", &rest[..10], &rest[11..])
        }
        _ => s.to_string(),
    }
}

/// Escaped text whose "number unit" pairs (`497 ms`, `1 s`, `100 B`) never
/// break across lines: a value split from its unit reads as two things.
fn prose(s: &str) -> String {
    let escaped = escape_html(s);
    let chars: Vec<char> = escaped.chars().collect();
    let mut out = String::with_capacity(escaped.len() + 16);
    for (i, &c) in chars.iter().enumerate() {
        // A number is digits (with , and .) not glued to a word: "p99 latency" is no number.
        let number = || {
            let start = chars[..i]
                .iter()
                .rposition(|d| !(d.is_ascii_digit() || *d == ',' || *d == '.'))
                .map_or(0, |p| p + 1);
            start < i
                && chars[i - 1].is_ascii_digit()
                && (start == 0 || !chars[start - 1].is_alphanumeric())
        };
        let glue = c == ' '
            && chars
                .get(i + 1)
                .is_some_and(|n| n.is_alphabetic() || *n == '%')
            && number();
        if glue {
            out.push_str("&nbsp;")
        } else {
            out.push(c)
        }
    }
    out
}

/// The scenario in a few words: `100 clients · 1 room · 10 msg/s Poisson · 100 B
/// messages`, and `· network lte` when it ran across an emulated network.
pub fn scenario_title(g: &Group) -> String {
    g.title.clone()
}

pub(crate) fn title_of(s: &Scenario) -> String {
    let network = s
        .network
        .as_ref()
        .map_or(String::new(), |n| format!(" · network {n}"));
    // A staged run's clients and rate are its peaks; the stages say how it got there.
    if let Some(stages) = &s.stages {
        return format!(
            "stages {stages} · {} room{} · {} B messages{network}",
            format::thousands(s.rooms),
            if s.rooms == 1 { "" } else { "s" },
            format::thousands(s.size_bytes)
        );
    }
    format!(
        "{} clients · {} room{} · {} msg/s {} · {} B messages{network}",
        format::thousands(s.clients),
        format::thousands(s.rooms),
        if s.rooms == 1 { "" } else { "s" },
        format::trimmed(s.rate_per_sec),
        match s.arrival {
            Arrival::Constant => "constant",
            Arrival::Poisson => "Poisson",
        },
        format::thousands(s.size_bytes)
    )
}

/// Every setting of the scenario on one line (not escaped).
fn scenario_line(g: &Group) -> String {
    let s = &g.scenario;
    let mut parts = vec![
        scenario_title(g),
        format!(
            "{} publisher{} over {}",
            s.publishers,
            if s.publishers == 1 { "" } else { "s" },
            match s.publish_via {
                PublishVia::Http => "HTTP POST",
                PublishVia::Ws => "WebSocket",
                PublishVia::SocketIo => "Socket.IO",
                PublishVia::WebTransport => "WebTransport",
            }
        ),
        format!(
            "measured {} (ramp-up at {} clients/s, warm-up {}, drain {})",
            format::secs(s.duration_secs),
            format::trimmed(s.ramp_up_per_sec),
            format::secs(s.warmup_secs),
            format::secs(s.drain_secs)
        ),
    ];
    if let Some(t) = s.poll_interval_secs {
        parts.push(format!("short-poll interval {}", format::secs(t)));
    }
    if let Some(t) = s.long_poll_wait_secs {
        parts.push(format!("long-poll wait {}", format::secs(t)));
    }
    if let Some(f) = &s.scenario_file {
        parts.push(format!("scenario file {f}"));
    }
    if let Some(p) = &s.profile {
        parts.push(format!("target profile {p}"));
    }
    parts.join(" · ")
}

fn machine_line(machines: &[Machine]) -> String {
    machines
        .iter()
        .map(|m| {
            let mut parts = vec![
                m.hostname.clone(),
                format!("{} core{}", m.cores, if m.cores == 1 { "" } else { "s" }),
            ];
            if let Some(cpu) = &m.cpu_model {
                parts.push(cpu.clone());
            }
            parts.push(m.os.clone());
            parts.push(format!("kernel {}", m.kernel));
            parts.join(" · ")
        })
        .collect::<Vec<_>>()
        .join(" | ")
}

/// Everything the page shows for one scenario.
pub(crate) struct GroupPage<'a> {
    pub group: &'a Group,
    pub findings: Vec<Finding>,
    pub charts: Vec<Chart>,
}

/// Everything the page shows.
pub(crate) struct Page<'a> {
    pub title: &'a str,
    pub comparison: &'a Comparison,
    pub groups: Vec<GroupPage<'a>>,
    pub matrix_findings: Vec<Finding>,
    pub matrix_charts: Vec<Chart>,
    pub networks: Vec<NetworkPage>,
    pub radio: Option<RadioPage>,
    pub command: Option<&'a str>,
}

pub(crate) fn page(p: &Page<'_>) -> String {
    let c = p.comparison;
    let mut h = String::with_capacity(1 << 20);
    let _ = write!(
        h,
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"generator\" content=\"rtbench report\">\n<title>{}</title>\n<style>{}</style>\n</head>\n<body>\n<main>\n",
        escape_html(p.title),
        css()
    );
    let _ = write!(
        h,
        "<header class=\"top\">\n<p class=\"kicker\">rtbench report</p>\n<h1>{}</h1>\n<p class=\"meta\">{} result file{} · runs from {} to {} · rtbench {}</p>\n</header>\n",
        escape_html(p.title),
        c.files,
        if c.files == 1 { "" } else { "s" },
        escape_html(&pretty_stamp(&c.created.0)),
        escape_html(&pretty_stamp(&c.created.1)),
        escape_html(&c.rtbench_versions.join(", "))
    );
    if p.groups.len() > 1 || !p.matrix_charts.is_empty() || p.radio.is_some() {
        h.push_str("<nav class=\"toc\" aria-label=\"Contents\"><ol>\n");
        for (i, g) in p.groups.iter().enumerate() {
            let _ = writeln!(
                h,
                "<li><a href=\"#s{}\">{}</a></li>",
                i + 1,
                escape_html(&scenario_title(g.group))
            );
        }
        if !p.matrix_charts.is_empty() {
            h.push_str("<li><a href=\"#matrix\">Matrix: how the transports scale</a></li>\n");
        }
        if !p.networks.is_empty() {
            h.push_str("<li><a href=\"#network\">Networks: the transports across emulated networks</a></li>\n");
        }
        if p.radio.is_some() {
            h.push_str("<li><a href=\"#radio\">Radio: what the traffic costs a phone</a></li>\n");
        }
        h.push_str("<li><a href=\"#methodology\">Methodology</a></li>\n</ol></nav>\n");
    }
    if !c.warnings.is_empty() {
        h.push_str(
            "<section class=\"warnings\" id=\"warnings\">\n<h2>Warnings from the runs</h2>\n<ul>\n",
        );
        for w in &c.warnings {
            let _ = writeln!(h, "<li>{}</li>", escape_html(w));
        }
        h.push_str("</ul>\n</section>\n");
    }
    for (i, g) in p.groups.iter().enumerate() {
        group_section(&mut h, i, p.groups.len(), g);
    }
    if !p.matrix_charts.is_empty() {
        h.push_str("<section class=\"scenario\" id=\"matrix\">\n<h2>Matrix: how the transports scale</h2>\n");
        h.push_str("<p class=\"lead\">Scenarios above that differ in one setting only, side by side: one line per transport, one point per scenario.</p>\n");
        findings_list(&mut h, &p.matrix_findings);
        charts(&mut h, &p.matrix_charts);
        h.push_str("</section>\n");
    }
    if !p.networks.is_empty() {
        network::network_section(&mut h, c, &p.networks);
    }
    if let Some(radio) = &p.radio {
        network::radio_section(&mut h, c, radio);
    }
    let networked = c.groups.iter().any(|g| g.scenario.network.is_some());
    methodology(&mut h, p.command, networked);
    let _ = write!(
        h,
        "<footer>Generated by <code>rtbench report</code> from {} result file{}. Charts are also saved as PNG files next to this page.</footer>\n</main>\n</body>\n</html>\n",
        c.files,
        if c.files == 1 { "" } else { "s" }
    );
    h
}

fn group_section(h: &mut String, index: usize, total: usize, gp: &GroupPage<'_>) {
    let g = gp.group;
    let heading = if total > 1 {
        format!("Scenario {}: {}", index + 1, scenario_title(g))
    } else {
        scenario_title(g)
    };
    let _ = write!(
        h,
        "<section class=\"scenario\" id=\"s{}\">\n<h2>{}</h2>\n<dl class=\"lines\">\n<dt>Scenario</dt><dd>{}</dd>\n<dt>Machine</dt><dd>{}</dd>\n</dl>\n",
        index + 1,
        escape_html(&heading),
        prose(&scenario_line(g)),
        escape_html(&machine_line(&g.machines))
    );
    h.push_str("<ul class=\"chips\" aria-label=\"Transport colors\">");
    for e in &g.entries {
        let _ = write!(
            h,
            "<li><span class=\"dot\" style=\"background:{}\"></span>{}</li>",
            color_hex(e.transport),
            escape_html(&e.label)
        );
    }
    h.push_str("</ul>\n<h3>Findings</h3>\n");
    findings_list(h, &gp.findings);
    h.push_str("<h3>Headline numbers</h3>\n");
    table(h, g);
    h.push_str("<h3>Charts</h3>\n");
    charts(h, &gp.charts);
    h.push_str("</section>\n");
}

fn findings_list(h: &mut String, findings: &[Finding]) {
    if findings.is_empty() {
        return;
    }
    h.push_str("<ul class=\"findings\">\n");
    for f in findings {
        let class = match f.tone {
            Tone::Info => "info",
            Tone::Good => "good",
            Tone::Warn => "warn",
        };
        let _ = writeln!(h, "<li class=\"{class}\">{}</li>", prose(&f.text));
    }
    h.push_str("</ul>\n");
}

/// Rows are metrics, columns transports; the best value of a row is marked,
/// and with repeats each cell shows the median over its range.
fn table(h: &mut String, g: &Group) {
    h.push_str("<div class=\"table-wrap\"><table class=\"headline\">\n<thead><tr><th scope=\"col\">Metric</th>");
    for e in &g.entries {
        let runs = if e.runs.len() > 1 {
            format!(
                "<span class=\"runs\">median of {} runs</span>",
                e.runs.len()
            )
        } else {
            String::new()
        };
        let _ = write!(
            h,
            "<th scope=\"col\" style=\"border-top-color:{}\"><span class=\"dot\" style=\"background:{}\"></span>{}{}</th>",
            color_hex(e.transport),
            color_hex(e.transport),
            escape_html(&e.label),
            runs
        );
    }
    h.push_str("</tr></thead>\n<tbody>\n");
    let mut section = "";
    for m in HEADLINE {
        let stats: Vec<_> = g
            .entries
            .iter()
            .map(|e: &Entry| e.stat(|r| m.value(r)))
            .collect();
        if stats.iter().all(Option::is_none) {
            continue;
        }
        if m.section != section {
            section = m.section;
            let _ = writeln!(
                h,
                "<tr class=\"section\"><th colspan=\"{}\" scope=\"rowgroup\">{}</th></tr>",
                g.entries.len() + 1,
                section
            );
        }
        let best = headline::best(
            m.better(),
            &stats.iter().map(|s| s.map(|s| s.value)).collect::<Vec<_>>(),
        );
        let _ = write!(
            h,
            "<tr data-metric=\"{}\"><th scope=\"row\">{}</th>",
            m.key,
            escape_html(m.label)
        );
        for (s, is_best) in stats.iter().zip(best) {
            cell(h, m, s.as_ref(), is_best);
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</tbody>\n</table></div>\n<p class=\"note\">Highlighted: the best value of a row (when the values differ by more than 0.5%). \
                With repeated runs a cell shows the median and, below it, the range. \
                Latency percentiles of one run come from its exact HdrHistogram; “–” means not measured.</p>\n");
}

/// One value of the table: the median, the range below it with repeats.
fn cell(h: &mut String, m: &Row, s: Option<&Stat>, is_best: bool) {
    let Some(s) = s else {
        h.push_str("<td class=\"na\">–</td>");
        return;
    };
    let class = if is_best { " class=\"best\"" } else { "" };
    let spread = if s.has_spread() {
        format!(
            "<span class=\"spread\">{}–{}</span>",
            escape_html(&m.show(s.min)),
            escape_html(&m.show(s.max))
        )
    } else {
        String::new()
    };
    let _ = write!(
        h,
        "<td{class}>{}{spread}</td>",
        escape_html(&m.show(s.value))
    );
}

fn charts(h: &mut String, charts: &[Chart]) {
    h.push_str("<div class=\"charts\">\n");
    for c in charts {
        let id = c.file.trim_end_matches(".png");
        let _ = write!(
            h,
            "<figure class=\"chart\" id=\"chart-{id}\">\n<img src=\"data:image/png;base64,{}\" width=\"{}\" height=\"{}\" alt=\"{}\">\n\
             <figcaption><strong>{}.</strong> {} <a href=\"{}\">PNG</a></figcaption>\n</figure>\n",
            STANDARD.encode(&c.png),
            crate::charts::WIDTH,
            crate::charts::HEIGHT,
            escape_html(&c.title),
            escape_html(&c.title),
            escape_html(&c.caption),
            escape_html(&c.file),
            id = escape_html(id),
        );
    }
    h.push_str("</div>\n");
}

fn methodology(h: &mut String, command: Option<&str>, networked: bool) {
    h.push_str(
        "<section class=\"methodology\" id=\"methodology\">\n<h2>Methodology</h2>\n<dl>\n\
<dt>Open-loop publishers</dt><dd>Publishers send on a fixed schedule (constant or Poisson) whatever the server does. \
Latency is measured from a message's <em>intended</em> send time, so a publish that stalls shows up as latency instead of \
silently slowing the test down (no coordinated omission, as in wrk2).</dd>\n\
<dt>One clock</dt><dd>Publishers and subscribers run in the same load-generator process: delivery latency is receive time \
minus intended send time on one clock, with no clock synchronization between machines involved. Latencies are recorded \
in HdrHistograms (µs, 3 significant digits); files are merged by adding the histograms exactly. When several load \
generators ran together, each measured its own deliveries on its own clock.</dd>\n\
<dt>Phases</dt><dd>Clients connect at a set rate (ramp-up), traffic runs unrecorded for a warm-up, then the measured \
window, then a drain that waits for messages still in flight. Counts, percentiles and rates cover the measured window; \
the charts over time show the whole run with the window shaded.</dd>\n\
<dt>Wire bytes at the socket</dt><dd>Bytes are counted by a wrapper around each TCP stream of the load generator: HTTP \
headers, chunked encoding, SSE and WebSocket framing, the JSON envelope and polls that returned nothing are all \
included (TCP/IP headers are not). “Bytes per delivered message” is subscribe-side bytes, both directions, divided by \
the messages delivered; the overhead ratio divides the same bytes by the payload (message text) bytes.</dd>\n\
<dt>Loss, duplicates, reordering</dt><dd>Every message carries its publisher and a sequence number. Each subscriber must \
receive every message published to its room during the measured window: one not received by the end of the drain is \
<em>lost</em>, one received twice a <em>duplicate</em>, one received after a later message of the same publisher \
<em>reordered</em>. These are exact counts, never estimates.</dd>\n\
<dt>Server and load-generator cost</dt><dd>CPU seconds and resident memory of the server come from its \
<code>/api/stats</code> before and after the window (100% CPU = one core busy). The load generator reports its own CPU and \
memory: when it is busier than the server, the numbers describe the load generator’s limit.</dd>\n\
<dt>Merged and repeated runs</dt><dd>Files of one scenario and transport whose measured windows overlap were load \
workers of one run: their counts and rates add up. Files that follow each other are repeats: the table shows the median \
over runs with the range, the percentile chart the histogram of all runs together, the charts over time the first run.</dd>\n",
    );
    if networked {
        h.push_str(
            "<dt>Emulated networks</dt><dd>With <code>--network</code>, every client reached the server through a user-space \
link between two network namespaces that delays, rate-limits and drops IP packets per direction as the spec says \
(docs/network.md). Runs on different networks are different scenarios. The link counts what it forwarded and dropped \
and how late packets left after their due time: a cell measured across a link that fell behind is marked.</dd>\n",
        );
    }
    if let Some(cmd) = command {
        let _ = writeln!(
            h,
            "<dt>Command</dt><dd><code>{}</code></dd>",
            escape_html(cmd)
        );
    }
    h.push_str("</dl>\n</section>\n");
}

fn css() -> String {
    let mut vars = String::new();
    for t in protocol::Transport::ALL {
        let _ = write!(vars, "--{}:{};", t.as_str(), color_hex(t));
    }
    format!(
        ":root{{{vars}--ink:#1f2937;--muted:#5b6573;--line:#e5e7eb;--soft:#f6f7f9;--accent:#0b5cad;--good:#0f7b4f;--warn:#b45309;}}\
*{{box-sizing:border-box}}\
html{{-webkit-text-size-adjust:100%}}\
body{{margin:0;background:#fff;color:var(--ink);font:16px/1.55 system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans','Helvetica Neue',Arial,sans-serif}}\
main{{max-width:1180px;margin:0 auto;padding:32px 24px 56px}}\
h1{{font-size:2rem;line-height:1.2;margin:.1em 0 .3em;letter-spacing:-.01em}}\
h2{{font-size:1.45rem;margin:0 0 .6em;line-height:1.3}}\
h3{{font-size:1.1rem;margin:1.8em 0 .6em;color:var(--ink)}}\
a{{color:var(--accent)}}\
code{{font-family:ui-monospace,'DejaVu Sans Mono',Menlo,Consolas,monospace;font-size:.92em;background:var(--soft);padding:.05em .3em;border-radius:4px}}\
.kicker{{text-transform:uppercase;letter-spacing:.08em;font-size:.78rem;font-weight:600;color:var(--muted);margin:0}}\
.meta{{color:var(--muted);margin:0}}\
header.top{{border-bottom:1px solid var(--line);padding-bottom:18px;margin-bottom:24px}}\
.toc ol{{margin:0 0 24px;padding-left:1.3em;columns:2 320px}}\
section{{margin:0 0 40px}}\
section.scenario{{border-top:3px solid var(--ink);padding-top:18px}}\
.warnings{{background:#fff8eb;border:1px solid #f3d8a7;border-radius:8px;padding:14px 18px}}\
.warnings h2{{font-size:1.1rem;color:var(--warn)}}\
.warnings ul{{margin:0;padding-left:1.2em}}\
dl.lines{{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;margin:0 0 12px}}\
dl.lines dt{{font-weight:600;color:var(--muted)}}\
dl.lines dd{{margin:0}}\
.lead{{color:var(--muted)}}\
.chips{{list-style:none;display:flex;flex-wrap:wrap;gap:8px 18px;padding:0;margin:10px 0 0}}\
.chips li{{display:flex;align-items:center;gap:7px;font-weight:600}}\
.dot{{display:inline-block;width:12px;height:12px;border-radius:50%;flex:none;margin-right:6px;vertical-align:-1px}}\
.chips .dot{{margin-right:0}}\
ul.findings{{list-style:none;padding:0;margin:0;display:grid;gap:8px}}\
ul.findings li{{padding:9px 14px;border-left:4px solid var(--accent);background:var(--soft);border-radius:0 6px 6px 0}}\
ul.findings li.good{{border-left-color:var(--good)}}\
ul.findings li.warn{{border-left-color:var(--warn);background:#fff8eb}}\
.table-wrap{{overflow-x:auto;border:1px solid var(--line);border-radius:8px}}\
table.headline{{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums;min-width:640px}}\
table.headline th,table.headline td{{padding:7px 14px;text-align:right;border-bottom:1px solid var(--line);white-space:nowrap}}\
table.headline thead th{{border-top:4px solid transparent;background:#fff;position:sticky;top:0;font-size:.95rem;vertical-align:bottom}}\
table.headline thead th:first-child,table.headline tbody th{{text-align:left;font-weight:500}}\
table.headline tbody th{{color:var(--ink);white-space:normal}}\
table.headline tr.section th{{background:var(--soft);text-align:left;font-size:.75rem;text-transform:uppercase;letter-spacing:.07em;color:var(--muted);font-weight:700;padding:5px 14px}}\
table.headline td.best{{background:#e7f6ee;font-weight:700;color:#0b5132}}\
table.headline td.na{{color:#9aa3ae}}\
table.headline td.suspect{{background:#fff3e0;color:var(--warn)}}\
table.network tr.section th,table.radio tr.section th{{text-transform:none;letter-spacing:0;font-size:.85rem}}\
h4{{font-size:1rem;margin:1.4em 0 .5em}}\
.runs,.spread{{display:block;font-size:.78rem;color:var(--muted);font-weight:400}}\
.note{{font-size:.86rem;color:var(--muted);margin:.6em 0 0}}\
.charts{{display:grid;grid-template-columns:1fr;gap:28px}}\
figure.chart{{margin:0;border:1px solid var(--line);border-radius:8px;padding:10px;background:#fff}}\
figure.chart img{{display:block;width:100%;height:auto}}\
figcaption{{font-size:.9rem;color:var(--muted);padding:8px 6px 2px}}\
figcaption strong{{color:var(--ink)}}\
section.methodology{{border-top:3px solid var(--ink);padding-top:18px}}\
.methodology dl{{margin:0}}\
.methodology dt{{font-weight:700;margin-top:12px}}\
.methodology dd{{margin:2px 0 0;color:#374151}}\
footer{{border-top:1px solid var(--line);padding-top:14px;color:var(--muted);font-size:.86rem}}\
@media (max-width:640px){{main{{padding:20px 14px 40px}}h1{{font-size:1.55rem}}dl.lines{{grid-template-columns:1fr}}dl.lines dt{{margin-top:6px}}}}\
@media print{{section{{break-inside:avoid-page}}figure.chart{{break-inside:avoid}}}}"
    )
}

#[cfg(test)]
mod tests {
    use super::escape_html;

    #[test]
    fn prose_glues_units() {
        assert_eq!(
            super::prose("mean 497 ms, 92% of 1,000 <x>"),
            "mean 497&nbsp;ms, 92% of 1,000 &lt;x&gt;"
        );
        assert_eq!(super::prose("p99 latency 1.5 s"), "p99 latency 1.5&nbsp;s");
        assert_eq!(
            super::pretty_stamp("2026-11-29T06:31:00Z"),
            "2026-11-29 06:31:00 UTC"
        );
        assert_eq!(super::pretty_stamp("yesterday"), "yesterday");
    }

    #[test]
    fn escapes() {
        assert_eq!(
            escape_html("<img src=x onerror=\"a('b')\">&"),
            "&lt;img src=x onerror=&quot;a(&#39;b&#39;)&quot;&gt;&amp;"
        );
        assert_eq!(escape_html("plain µs"), "plain µs");
    }
}
