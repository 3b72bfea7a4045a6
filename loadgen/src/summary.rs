//! The end-of-run summary, laid out like k6's: one dotted line per metric,
//! aligned, so it reads the same on a terminal and in CI logs. Numbers are
//! written by `protocol::format`, as in the report (`12.3 ms`, `9.77 KiB`).

use protocol::format::{self, cpu_percent, factor, percent, rate, secs, sig3, thousands};
use protocol::results::{
    Counts, LatencySummary, LinkDirection, LinkResult, LoadgenCost, RadioResult, ResultFile,
    Scenario, ServerCost, TransportResult, WireBytes,
};
use std::io::{self, Write};

/// Bytes with binary units: `512 B`, `1.50 KiB`, `3.00 MiB`.
pub use protocol::format::bytes as fmt_bytes;

/// A duration in µs: `0.850 ms`, `12.3 ms`, `12.3 s`.
pub fn fmt_us(us: u64) -> String {
    format::duration_us(us as f64)
}

fn latency(l: &LatencySummary) -> String {
    if l.count == 0 {
        return "-".to_string();
    }
    format!(
        "mean={} p50={} p90={} p95={} p99={} p99.9={} max={} n={}",
        format::duration_us(l.mean_us),
        fmt_us(l.p50_us),
        fmt_us(l.p90_us),
        fmt_us(l.p95_us),
        fmt_us(l.p99_us),
        fmt_us(l.p999_us),
        fmt_us(l.max_us),
        thousands(l.count)
    )
}

fn line(out: &mut impl Write, name: &str, value: &str) -> io::Result<()> {
    let dots = ".".repeat(22usize.saturating_sub(name.len()));
    writeln!(out, "    {name}{dots}: {value}")
}

/// Print the summary table of a result file.
pub fn print_summary(file: &ResultFile, mut out: impl Write) -> io::Result<()> {
    writeln!(out)?;
    writeln!(out, "  rtbench load -> {}", target(file))?;
    writeln!(out, "  scenario: {}", scenario(&file.scenario))?;
    if let Some(stages) = &file.scenario.stages {
        writeln!(out, "  stages: {stages}")?;
    }
    if let Some(network) = &file.scenario.network {
        writeln!(out, "  network: {}", link_line(network, file.link.as_ref()))?;
    }
    writeln!(
        out,
        "  machine: {} cores, {}, kernel {}",
        file.machine.cores, file.machine.os, file.machine.kernel
    )?;
    for t in &file.transports {
        transport(&mut out, t)?;
    }
    if file.partial {
        writeln!(out)?;
        writeln!(
            out,
            "  PARTIAL RUN: the run did not complete as planned; numbers cover what was measured."
        )?;
    }
    if !file.warnings.is_empty() {
        writeln!(out)?;
        for w in &file.warnings {
            writeln!(out, "  warning: {w}")?;
        }
    }
    writeln!(out)
}

/// `http://example.com:80 (93.184.216.34:80)`: the URL, and where it was
/// reached.
fn target(file: &ResultFile) -> String {
    if file.target_addrs.is_empty() {
        return file.target.clone();
    }
    format!("{} ({})", file.target, file.target_addrs.join(", "))
}

fn scenario(s: &Scenario) -> String {
    format!(
        "{} clients, {} room(s), {} publisher(s), {} msg/s {}, {} B text, window {} (warmup {}, drain {}), publish via {}, seed {}",
        thousands(s.clients),
        thousands(s.rooms),
        thousands(s.publishers),
        format::trimmed(s.rate_per_sec),
        s.arrival,
        thousands(s.size_bytes),
        secs(s.duration_secs),
        secs(s.warmup_secs),
        secs(s.drain_secs),
        s.publish_via,
        s.seed
    )
}

fn transport(out: &mut impl Write, t: &TransportResult) -> io::Result<()> {
    let (c, r) = (&t.counts, &t.rates);
    writeln!(out)?;
    writeln!(
        out,
        "  {}  ({} clients, window {})",
        t.transport,
        thousands(t.clients),
        secs(t.window_secs)
    )?;
    line(out, "latency", &latency(&t.latency))?;
    line(out, "publish_latency", &latency(&t.publish_latency))?;
    line(out, "connect_time", &latency(&t.connect_time))?;
    line(out, "deliveries", &rate(r.deliveries_per_sec))?;
    line(
        out,
        "requests",
        &format!(
            "{} {}, empty {}",
            thousands(c.requests),
            rate(r.requests_per_sec),
            percent(r.empty_ratio)
        ),
    )?;
    line(
        out,
        "published",
        &format!(
            "{} {}, failed {}",
            thousands(c.published),
            rate(r.publishes_per_sec),
            thousands(c.publish_errors)
        ),
    )?;
    line(out, "coherence", &coherence(c))?;
    line(out, "bytes_per_delivery", &per_delivery(&t.wire_bytes))?;
    line(out, "wire_bytes", &wire(&t.wire_bytes))?;
    line(out, "errors", &errors(c))?;
    line(
        out,
        "server",
        &t.server
            .as_ref()
            .map_or_else(|| "no /api/stats".to_string(), |s| server(s, t.clients)),
    )?;
    line(out, "loadgen", &loadgen(&t.loadgen))?;
    if let Some(r) = &t.radio {
        line(out, "radio", &radio(r))?;
    }
    crate::stage_table::print(out, &t.stages)
}

/// `lte; link down 1,234 packets (0 dropped), up …, cpu 120 ms`.
fn link_line(network: &str, link: Option<&LinkResult>) -> String {
    let Some(l) = link else {
        return network.to_string();
    };
    format!(
        "{network}; link down {}, up {}, cpu {}",
        direction(&l.down),
        direction(&l.up),
        secs(l.cpu_seconds)
    )
}

fn direction(d: &LinkDirection) -> String {
    let causes: Vec<String> = [
        ("loss", d.dropped_loss),
        ("queue", d.dropped_queue),
        ("middlebox", d.dropped_middlebox),
        ("partition", d.dropped_partition),
    ]
    .iter()
    .filter(|(_, n)| *n > 0)
    .map(|(cause, n)| format!("{cause} {}", thousands(*n)))
    .collect();
    let dropped = if causes.is_empty() {
        "0 dropped".to_string()
    } else {
        format!("dropped: {}", causes.join(", "))
    };
    format!("{} packets ({dropped})", thousands(d.packets))
}

/// A phone's radio per client: LTE first (the figure to compare), UMTS after.
fn radio(r: &RadioResult) -> String {
    format!(
        "LTE {} J/client-hour (on {}, {} promotions/client-hour), UMTS {} J/client-hour (on {})",
        sig3(r.lte.joules_per_client_hour),
        percent(r.lte.radio_on_fraction),
        sig3(r.lte.promotions_per_client_hour),
        sig3(r.umts.joules_per_client_hour),
        percent(r.umts.radio_on_fraction)
    )
}

fn coherence(c: &Counts) -> String {
    // Datagram runs only: what the transport dropped by design and what
    // catch-up fetched back (zero elsewhere).
    let by_design = if c.dropped_by_design > 0 || c.recovered > 0 {
        format!(
            " dropped_by_design={} recovered={}",
            thousands(c.dropped_by_design),
            thousands(c.recovered)
        )
    } else {
        String::new()
    };
    format!(
        "expected={} delivered={} lost={}{by_design} duplicate={} reordered={} unexpected={}",
        thousands(c.expected),
        thousands(c.delivered),
        thousands(c.lost),
        thousands(c.duplicate),
        thousands(c.reordered),
        thousands(c.unexpected)
    )
}

fn per_delivery(w: &WireBytes) -> String {
    format!(
        "{} (down {}), overhead {} vs {} payload",
        fmt_bytes(w.bytes_per_delivery),
        fmt_bytes(w.down_bytes_per_delivery),
        factor(w.overhead_ratio),
        fmt_bytes(w.payload_bytes.checked_div(w.deliveries).unwrap_or(0) as f64)
    )
}

fn wire(w: &WireBytes) -> String {
    format!(
        "subscribe down {} up {}, publish up {} down {}",
        fmt_bytes(w.subscribe_down_bytes as f64),
        fmt_bytes(w.subscribe_up_bytes as f64),
        fmt_bytes(w.publish_up_bytes as f64),
        fmt_bytes(w.publish_down_bytes as f64)
    )
}

fn errors(c: &Counts) -> String {
    let total: u64 = c.errors.values().sum();
    let kinds: Vec<String> = c
        .errors
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(k, n)| format!("{k}={}", thousands(*n)))
        .collect();
    let kinds = if kinds.is_empty() {
        String::new()
    } else {
        format!(" ({})", kinds.join(" "))
    };
    // Socket.IO only: its handshakes and upgrades (zero elsewhere).
    let engine_io = if c.engine_io_handshakes > 0 {
        format!(
            " engine.io handshakes={} upgrades={}",
            thousands(c.engine_io_handshakes),
            thousands(c.engine_io_upgrades)
        )
    } else {
        String::new()
    };
    format!(
        "{}{kinds} reconnects={} lagged={} gaps={} foreign={}{engine_io}",
        thousands(total),
        thousands(c.reconnects),
        thousands(c.lagged),
        thousands(c.gaps),
        thousands(c.foreign)
    )
}

/// `cpu 75 ms (0.750%)`: CPU time in the window and its share of one core.
fn cpu(seconds: f64, percent: f64) -> String {
    format!("cpu {} ({})", secs(seconds), cpu_percent(percent))
}

/// The server's cost; memory per connection only when every planned client
/// was connected (a few connections would carry all of the server's own).
fn server(s: &ServerCost, clients: u64) -> String {
    let per_connection = match s.rss_per_connection_bytes {
        Some(b) => format!(", {}/connection", fmt_bytes(b)),
        None if s.connections < clients => format!(
            " of {} planned: no memory per connection",
            thousands(clients)
        ),
        None => String::new(),
    };
    format!(
        "{}, rss {} -> {}, {} connections{per_connection}",
        cpu(s.cpu_seconds, s.cpu_percent),
        fmt_bytes(s.rss_before_bytes as f64),
        fmt_bytes(s.rss_after_bytes as f64),
        thousands(s.connections),
    )
}

fn loadgen(l: &LoadgenCost) -> String {
    format!(
        "{}, rss {} (peak {}), {}/client",
        cpu(l.cpu_seconds, l.cpu_percent),
        fmt_bytes(l.rss_bytes as f64),
        fmt_bytes(l.rss_peak_bytes as f64),
        fmt_bytes(l.per_client_rss_bytes)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_link_line_names_the_spec_drops_by_cause_and_cpu() {
        let link = LinkResult {
            down: LinkDirection {
                packets: 12_345,
                dropped_loss: 3,
                ..LinkDirection::default()
            },
            up: LinkDirection {
                packets: 999,
                ..LinkDirection::default()
            },
            cpu_seconds: 0.12,
        };
        assert_eq!(
            link_line("lossy-lte", Some(&link)),
            "lossy-lte; link down 12,345 packets (dropped: loss 3), up 999 packets (0 dropped), cpu 120 ms"
        );
        assert_eq!(link_line("lte", None), "lte");
    }

    #[test]
    fn engine_io_counts_show_only_for_socketio() {
        let mut c = Counts::default();
        assert!(!errors(&c).contains("engine.io"), "{}", errors(&c));
        c.engine_io_handshakes = 1_200;
        c.engine_io_upgrades = 1_000;
        assert!(
            errors(&c).ends_with(" foreign=0 engine.io handshakes=1,200 upgrades=1,000"),
            "{}",
            errors(&c)
        );
    }

    #[test]
    fn formats() {
        assert_eq!(fmt_us(850), "0.850 ms");
        assert_eq!(fmt_us(12_345), "12.3 ms");
        assert_eq!(fmt_us(1_500_000), "1,500 ms");
        assert_eq!(fmt_bytes(512.0), "512 B");
        assert_eq!(fmt_bytes(1536.0), "1.50 KiB");
        assert_eq!(fmt_bytes(3.0 * 1024.0 * 1024.0), "3.00 MiB");
    }
}
