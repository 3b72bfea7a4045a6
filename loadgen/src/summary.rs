//! The end-of-run summary, laid out like k6's: one dotted line per metric,
//! aligned, plain ASCII, so it reads the same on a terminal and in CI logs.

use protocol::results::{LatencySummary, ResultFile, TransportResult};
use std::io::{self, Write};

/// `850us`, `12.34ms`, `1.50s`.
pub fn fmt_us(us: u64) -> String {
    fmt_us_f(us as f64)
}

fn fmt_us_f(us: f64) -> String {
    if us < 1000.0 {
        format!("{us:.0}us")
    } else if us < 1_000_000.0 {
        format!("{:.2}ms", us / 1000.0)
    } else {
        format!("{:.2}s", us / 1e6)
    }
}

/// `512 B`, `1.5 KiB`, `3.2 MiB`, `1.1 GiB`.
pub fn fmt_bytes(b: f64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if b < 1024.0 {
        return format!("{b:.0} B");
    }
    let mut v = b / 1024.0;
    let mut i = 0;
    while v >= 1024.0 && i + 1 < UNITS.len() {
        v /= 1024.0;
        i += 1;
    }
    format!("{v:.1} {}", UNITS[i])
}

fn latency(l: &LatencySummary) -> String {
    if l.count == 0 {
        return "-".to_string();
    }
    format!(
        "mean={} p50={} p90={} p99={} p99.9={} max={} n={}",
        fmt_us_f(l.mean_us),
        fmt_us(l.p50_us),
        fmt_us(l.p90_us),
        fmt_us(l.p99_us),
        fmt_us(l.p999_us),
        fmt_us(l.max_us),
        l.count
    )
}

fn line(out: &mut impl Write, name: &str, value: &str) -> io::Result<()> {
    let dots = ".".repeat(22usize.saturating_sub(name.len()));
    writeln!(out, "    {name}{dots}: {value}")
}

/// Print the summary table of a result file.
pub fn print_summary(file: &ResultFile, mut out: impl Write) -> io::Result<()> {
    let s = &file.scenario;
    writeln!(out)?;
    writeln!(out, "  rtbench load -> {}", file.target)?;
    writeln!(
        out,
        "  scenario: {} clients, {} room(s), {} publisher(s), {} msg/s {}, {} B text, window {}s (warmup {}s, drain {}s), publish via {}, seed {}",
        s.clients,
        s.rooms,
        s.publishers,
        s.rate_per_sec,
        s.arrival,
        s.size_bytes,
        s.duration_secs,
        s.warmup_secs,
        s.drain_secs,
        s.publish_via,
        s.seed
    )?;
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

fn transport(out: &mut impl Write, t: &TransportResult) -> io::Result<()> {
    let c = &t.counts;
    let r = &t.rates;
    let w = &t.wire_bytes;
    writeln!(out)?;
    writeln!(
        out,
        "  {}  ({} clients, window {:.1}s)",
        t.transport, t.clients, t.window_secs
    )?;
    line(out, "latency", &latency(&t.latency))?;
    line(out, "publish_latency", &latency(&t.publish_latency))?;
    line(out, "connect_time", &latency(&t.connect_time))?;
    line(out, "deliveries", &format!("{}/s", r.deliveries_per_sec))?;
    line(
        out,
        "requests",
        &format!(
            "{} {}/s, empty {:.1}%",
            c.requests,
            r.requests_per_sec,
            r.empty_ratio * 100.0
        ),
    )?;
    line(
        out,
        "published",
        &format!(
            "{} {}/s, failed {}",
            c.published, r.publishes_per_sec, c.publish_errors
        ),
    )?;
    line(
        out,
        "coherence",
        &format!(
            "expected={} delivered={} lost={} duplicate={} reordered={} unexpected={}",
            c.expected, c.delivered, c.lost, c.duplicate, c.reordered, c.unexpected
        ),
    )?;
    line(
        out,
        "bytes_per_delivery",
        &format!(
            "{} (down {}), overhead x{:.2} vs {} B payload",
            fmt_bytes(w.bytes_per_delivery),
            fmt_bytes(w.down_bytes_per_delivery),
            w.overhead_ratio,
            w.payload_bytes.checked_div(w.deliveries).unwrap_or(0)
        ),
    )?;
    line(
        out,
        "wire_bytes",
        &format!(
            "subscribe down {} up {}, publish up {} down {}",
            fmt_bytes(w.subscribe_down_bytes as f64),
            fmt_bytes(w.subscribe_up_bytes as f64),
            fmt_bytes(w.publish_up_bytes as f64),
            fmt_bytes(w.publish_down_bytes as f64)
        ),
    )?;
    let errors: u64 = c.errors.values().sum();
    let kinds: Vec<String> = c
        .errors
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(k, n)| format!("{k}={n}"))
        .collect();
    line(
        out,
        "errors",
        &format!(
            "{errors}{} reconnects={} lagged={} gaps={} foreign={}",
            if kinds.is_empty() {
                String::new()
            } else {
                format!(" ({})", kinds.join(" "))
            },
            c.reconnects,
            c.lagged,
            c.gaps,
            c.foreign
        ),
    )?;
    if let Some(s) = &t.server {
        line(
            out,
            "server",
            &format!(
                "cpu {:.2}s ({:.1}%), rss {} -> {}, {} connections{}",
                s.cpu_seconds,
                s.cpu_percent,
                fmt_bytes(s.rss_before_bytes as f64),
                fmt_bytes(s.rss_after_bytes as f64),
                s.connections,
                s.rss_per_connection_bytes
                    .map(|b| format!(", {}/connection", fmt_bytes(b)))
                    .unwrap_or_default()
            ),
        )?;
    } else {
        line(out, "server", "no /api/stats")?;
    }
    let l = &t.loadgen;
    line(
        out,
        "loadgen",
        &format!(
            "cpu {:.2}s ({:.1}%), rss {} (peak {}), {}/client",
            l.cpu_seconds,
            l.cpu_percent,
            fmt_bytes(l.rss_bytes as f64),
            fmt_bytes(l.rss_peak_bytes as f64),
            fmt_bytes(l.per_client_rss_bytes)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(fmt_us(850), "850us");
        assert_eq!(fmt_us(12_345), "12.35ms");
        assert_eq!(fmt_us(1_500_000), "1.50s");
        assert_eq!(fmt_bytes(512.0), "512 B");
        assert_eq!(fmt_bytes(1536.0), "1.5 KiB");
        assert_eq!(fmt_bytes(3.0 * 1024.0 * 1024.0), "3.0 MiB");
    }
}
