//! Arithmetic on [`TransportResult`]s: how the numbers of several files of one
//! transport and scenario add up. Two cases differ in what "per second" means:
//!
//! - **concurrent** parts (load workers that ran at the same time, on one
//!   machine or several): clients, counts and rates add up; the window is the
//!   longest; the per-second series are summed second by second.
//! - **sequential** parts (repeats of a run): counts add up, but rates are the
//!   time-weighted mean and the window is the total measured time; the series
//!   is the first repeat's (a sum of repeats' seconds would describe no run).
//!
//! Both add histograms exactly and recompute every summary and ratio from the
//! sums, never by averaging ratios.

use crate::hist;
use protocol::results::{
    Counts, LatencySummary, LinkDirection, LinkResult, LoadgenCost, RadioFigures, RadioResult,
    Rates, SecondSample, ServerCost, TransportResult, WireBytes,
};
use std::collections::BTreeMap;

/// One file's result for a transport, with the server it measured.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Part<'a> {
    pub result: &'a TransportResult,
    /// `target` of the file: shards that measured one server share its cost.
    pub target: &'a str,
}

/// Results of load workers that ran at the same time, as one run.
pub(crate) fn concurrent(parts: &[Part<'_>]) -> Result<TransportResult, String> {
    let Some(first) = parts.first() else {
        return Err("nothing to combine".into());
    };
    if parts.len() == 1 {
        return Ok(first.result.clone());
    }
    let results: Vec<&TransportResult> = parts.iter().map(|p| p.result).collect();
    let window = results.iter().map(|r| r.window_secs).fold(0.0, f64::max);
    let mut out = base(&results)?;
    if let Some(c) = cross_worker(&results) {
        out.counts.expected = c.expected;
        out.counts.delivered = c.delivered;
        out.counts.unexpected = c.unexpected;
        // A datagram transport's misses across workers are dropped by
        // design, as each worker counted its own.
        if out.transport.drops_by_design() {
            out.counts.dropped_by_design = c.lost;
            out.counts.lost = 0;
        } else {
            out.counts.lost = c.lost;
        }
    }
    out.worker = None;
    out.clients = results.iter().map(|r| r.clients).sum();
    out.window_secs = window;
    // Σ(rate × own window) / common window: the sum of the rates when the
    // windows are equal, and right when one worker's window was cut short.
    out.rates = pooled_rates(&results, window, &out.counts);
    out.series = sum_series(&results);
    out.server = concurrent_server(parts, window);
    out.loadgen = loadgen(&results, window, false);
    out.radio = pooled_radio(&results, |r| r.clients as f64);
    Ok(out)
}

/// Coherence of a distributed run's workers, all together.
#[derive(Debug, PartialEq, Eq)]
struct CrossWorker {
    expected: u64,
    delivered: u64,
    lost: u64,
    unexpected: u64,
}

/// The workers of one distributed run (every one of them, each once):
/// every acknowledged message of any worker's publishers was expected by
/// every subscriber of its room on any worker. Each worker's own `counts`
/// judge only its own publishers, so their sum would miss the messages that
/// crossed from one worker to another.
fn cross_worker(results: &[&TransportResult]) -> Option<CrossWorker> {
    let shards: Vec<&protocol::results::WorkerShard> = results
        .iter()
        .map(|r| r.worker.as_ref())
        .collect::<Option<_>>()?;
    let first = shards.first()?;
    let mut ids: Vec<u32> = shards.iter().map(|s| s.worker_id).collect();
    ids.sort_unstable();
    ids.dedup();
    if shards
        .iter()
        .any(|s| s.run != first.run || s.workers != first.workers)
        || ids.len() != shards.len()
        || ids.len() != first.workers as usize
    {
        return None;
    }
    let rooms = shards.iter().map(|s| s.rooms.len()).max().unwrap_or(0);
    let mut out = CrossWorker {
        expected: 0,
        delivered: 0,
        lost: 0,
        unexpected: 0,
    };
    for r in 0..rooms {
        let in_room = || shards.iter().filter_map(|s| s.rooms.get(r));
        let subscribers: u64 = in_room().map(|x| x.subscribers).sum();
        let mut got: std::collections::HashMap<(u32, u64), u64> = Default::default();
        for room in in_room() {
            for pc in &room.received {
                for (i, n) in pc.counts.iter().enumerate() {
                    *got.entry((pc.publisher, pc.base + i as u64)).or_default() += u64::from(*n);
                }
            }
        }
        let received: u64 = got.values().sum();
        let mut hits = 0;
        for room in in_room() {
            for pr in &room.acked {
                for [from, to] in &pr.ranges {
                    for seq in *from..*to {
                        let n = got
                            .get(&(pr.publisher, seq))
                            .copied()
                            .unwrap_or(0)
                            .min(subscribers);
                        out.expected += subscribers;
                        hits += n;
                        out.lost += subscribers - n;
                    }
                }
            }
        }
        out.delivered += received;
        out.unexpected += received.saturating_sub(hits);
    }
    Some(out)
}

/// Repeats of one run, pooled (see the module docs).
pub(crate) fn sequential(runs: &[TransportResult]) -> Result<TransportResult, String> {
    let Some(first) = runs.first() else {
        return Err("nothing to combine".into());
    };
    if runs.len() == 1 {
        return Ok(first.clone());
    }
    let results: Vec<&TransportResult> = runs.iter().collect();
    let total: f64 = runs.iter().map(|r| r.window_secs).sum();
    let mut out = base(&results)?;
    out.window_secs = total;
    // Σ(rate × own window) / Σ windows: the time-weighted mean rate.
    out.rates = pooled_rates(&results, total, &out.counts);
    let servers: Vec<&ServerCost> = runs.iter().filter_map(|r| r.server.as_ref()).collect();
    out.server = (servers.len() == runs.len()).then(|| {
        let mut s = sum_servers(&servers);
        s.cpu_percent = pct(s.cpu_seconds, total);
        // Repeats are one server measured K times, not K servers: keep sizes
        // per run (the highest), and the per-connection cost as the median.
        let highest = |f: fn(&ServerCost) -> u64| servers.iter().map(|c| f(c)).max().unwrap_or(0);
        s.rss_before_bytes = highest(|c| c.rss_before_bytes);
        s.rss_after_bytes = highest(|c| c.rss_after_bytes);
        s.rss_peak_bytes = highest(|c| c.rss_peak_bytes);
        s.connections = highest(|c| c.connections);
        s.rss_per_connection_bytes =
            crate::stats::median(servers.iter().filter_map(|c| c.rss_per_connection_bytes));
        s
    });
    out.loadgen = loadgen(&results, total, true);
    out.radio = pooled_radio(&results, |r| r.clients as f64 * r.window_secs);
    Ok(out)
}

/// Fields combined the same way in both cases: histograms, counts, bytes.
fn base(results: &[&TransportResult]) -> Result<TransportResult, String> {
    let first = results[0];
    let mut out = first.clone();
    let (latency, h) = add_histograms(results, |r| &r.latency_histogram)?;
    out.latency = latency;
    out.latency_histogram = h;
    let (publish, h) = add_histograms(results, |r| &r.publish_latency_histogram)?;
    out.publish_latency = publish;
    out.publish_latency_histogram = h;
    let (connect, h) = add_histograms(results, |r| &r.connect_time_histogram)?;
    out.connect_time = connect;
    out.connect_time_histogram = h;
    out.counts = sum_counts(results.iter().map(|r| &r.counts));
    out.wire_bytes = sum_wire(results.iter().map(|r| &r.wire_bytes));
    out.wire_bytes_total = sum_wire(results.iter().map(|r| &r.wire_bytes_total));
    Ok(out)
}

fn add_histograms(
    results: &[&TransportResult],
    field: fn(&TransportResult) -> &String,
) -> Result<(LatencySummary, String), String> {
    let mut sum = hist::empty();
    for r in results {
        hist::add(&mut sum, &hist::decode(field(r))?)?;
    }
    Ok((hist::summarize(&sum), hist::encode(&sum)))
}

pub(crate) fn sum_counts<'a>(counts: impl Iterator<Item = &'a Counts>) -> Counts {
    let mut out = Counts::default();
    for c in counts {
        out.published += c.published;
        out.publish_errors += c.publish_errors;
        out.expected += c.expected;
        out.delivered += c.delivered;
        out.lost += c.lost;
        out.duplicate += c.duplicate;
        out.reordered += c.reordered;
        out.unexpected += c.unexpected;
        out.requests += c.requests;
        out.empty_responses += c.empty_responses;
        out.reconnects += c.reconnects;
        out.lagged += c.lagged;
        out.gaps += c.gaps;
        out.foreign += c.foreign;
        out.engine_io_handshakes += c.engine_io_handshakes;
        out.engine_io_upgrades += c.engine_io_upgrades;
        out.dropped_by_design += c.dropped_by_design;
        out.recovered += c.recovered;
        for (kind, n) in &c.errors {
            *out.errors.entry(kind.clone()).or_default() += n;
        }
    }
    out
}

fn sum_wire<'a>(bytes: impl Iterator<Item = &'a WireBytes>) -> WireBytes {
    let mut out = WireBytes::default();
    for b in bytes {
        out.subscribe_up_bytes += b.subscribe_up_bytes;
        out.subscribe_down_bytes += b.subscribe_down_bytes;
        out.publish_up_bytes += b.publish_up_bytes;
        out.publish_down_bytes += b.publish_down_bytes;
        out.payload_bytes += b.payload_bytes;
        out.deliveries += b.deliveries;
    }
    let sub = out.subscribe_up_bytes + out.subscribe_down_bytes;
    out.bytes_per_delivery = ratio(sub, out.deliveries);
    out.down_bytes_per_delivery = ratio(out.subscribe_down_bytes, out.deliveries);
    out.overhead_ratio = ratio(sub, out.payload_bytes);
    out
}

fn ratio(n: u64, by: u64) -> f64 {
    if by == 0 {
        0.0
    } else {
        hist::round2(n as f64 / by as f64)
    }
}

/// Rates of several results over `window` seconds: each result's events
/// (rate × its own window) added up, divided by `window`.
fn pooled_rates(results: &[&TransportResult], window: f64, counts: &Counts) -> Rates {
    let per_sec = |f: fn(&Rates) -> f64| {
        let n: f64 = results.iter().map(|r| f(&r.rates) * r.window_secs).sum();
        if window > 0.0 {
            hist::round2(n / window)
        } else {
            0.0
        }
    };
    Rates {
        deliveries_per_sec: per_sec(|r| r.deliveries_per_sec),
        requests_per_sec: per_sec(|r| r.requests_per_sec),
        publishes_per_sec: per_sec(|r| r.publishes_per_sec),
        empty_ratio: empty_ratio(counts),
    }
}

fn empty_ratio(c: &Counts) -> f64 {
    if c.requests == 0 {
        0.0
    } else {
        (c.empty_responses as f64 / c.requests as f64 * 1e4).round() / 1e4
    }
}

/// Seconds to the millisecond, as the files write CPU time.
fn round_ms(secs: f64) -> f64 {
    (secs * 1000.0).round() / 1000.0
}

fn pct(cpu_seconds: f64, window: f64) -> f64 {
    if window > 0.0 {
        hist::round2(cpu_seconds / window * 100.0)
    } else {
        0.0
    }
}

/// Seconds aligned by `t_secs` and summed. The per-second p50/p99 of several
/// workers cannot be combined exactly (their histograms are not stored), so
/// the merged value is the deliveries-weighted mean: an approximation for the
/// chart only; the headline percentiles come from the exact histograms.
fn sum_series(results: &[&TransportResult]) -> Vec<SecondSample> {
    let mut by_second: BTreeMap<u64, (SecondSample, [f64; 2], [u64; 2])> = BTreeMap::new();
    for r in results {
        for s in &r.series {
            let (acc, weighted, weights) = by_second.entry(s.t_secs).or_insert_with(|| {
                (
                    SecondSample {
                        t_secs: s.t_secs,
                        phase: s.phase,
                        ..Default::default()
                    },
                    [0.0; 2],
                    [0; 2],
                )
            });
            acc.deliveries += s.deliveries;
            acc.published += s.published;
            acc.requests += s.requests;
            acc.empty += s.empty;
            acc.errors += s.errors;
            acc.down_bytes += s.down_bytes;
            acc.up_bytes += s.up_bytes;
            acc.connected += s.connected;
            acc.phase = acc.phase.or(s.phase);
            let w = s.deliveries.max(1);
            for (i, p) in [s.p50_us, s.p99_us].into_iter().enumerate() {
                if let Some(p) = p {
                    weighted[i] += p as f64 * w as f64;
                    weights[i] += w;
                }
            }
        }
    }
    by_second
        .into_values()
        .map(|(mut s, weighted, weights)| {
            let mean = |i: usize| {
                (weights[i] > 0).then(|| (weighted[i] / weights[i] as f64).round() as u64)
            };
            s.p50_us = mean(0);
            s.p99_us = mean(1);
            s
        })
        .collect()
}

fn sum_servers(servers: &[&ServerCost]) -> ServerCost {
    let mut out = ServerCost {
        version: servers
            .first()
            .map(|s| s.version.clone())
            .unwrap_or_default(),
        ..Default::default()
    };
    let (mut weighted, mut conns) = (0.0, 0u64);
    for s in servers {
        out.cpu_seconds += s.cpu_seconds;
        out.rss_before_bytes += s.rss_before_bytes;
        out.rss_after_bytes += s.rss_after_bytes;
        out.rss_peak_bytes += s.rss_peak_bytes;
        out.connections += s.connections;
        out.deliveries += s.deliveries;
        out.lagged += s.lagged;
        if let Some(per) = s.rss_per_connection_bytes {
            weighted += per * s.connections as f64;
            conns += s.connections;
        }
    }
    out.cpu_seconds = round_ms(out.cpu_seconds);
    out.rss_per_connection_bytes = (conns > 0).then(|| hist::round2(weighted / conns as f64));
    out
}

/// Workers that measured the same server (same `target`) all sampled its one
/// `/api/stats`: that cost is counted once. Different targets (several server
/// instances behind a broker) add up.
fn concurrent_server(parts: &[Part<'_>], window: f64) -> Option<ServerCost> {
    let mut per_target: Vec<(&str, &ServerCost)> = Vec::new();
    for p in parts {
        let server = p.result.server.as_ref()?;
        if !per_target.iter().any(|(t, _)| *t == p.target) {
            per_target.push((p.target, server));
        }
    }
    let servers: Vec<&ServerCost> = per_target.into_iter().map(|(_, s)| s).collect();
    let mut out = sum_servers(&servers);
    out.cpu_percent = pct(out.cpu_seconds, window);
    Some(out)
}

fn loadgen(results: &[&TransportResult], window: f64, sequential: bool) -> LoadgenCost {
    let mut out = LoadgenCost::default();
    let (mut weighted, mut clients) = (0.0, 0u64);
    for r in results {
        let l = &r.loadgen;
        out.cpu_seconds += l.cpu_seconds;
        if sequential {
            out.rss_baseline_bytes = out.rss_baseline_bytes.max(l.rss_baseline_bytes);
            out.rss_bytes = out.rss_bytes.max(l.rss_bytes);
            out.rss_peak_bytes = out.rss_peak_bytes.max(l.rss_peak_bytes);
        } else {
            out.rss_baseline_bytes += l.rss_baseline_bytes;
            out.rss_bytes += l.rss_bytes;
            out.rss_peak_bytes += l.rss_peak_bytes;
        }
        weighted += l.per_client_rss_bytes * r.clients as f64;
        clients += r.clients;
    }
    out.cpu_seconds = round_ms(out.cpu_seconds);
    out.cpu_percent = pct(out.cpu_seconds, window);
    out.per_client_rss_bytes = if clients > 0 {
        hist::round2(weighted / clients as f64)
    } else {
        0.0
    };
    out
}

/// Radio figures are averages per client over the window: several results
/// pool into the mean weighted by `weight` (clients for concurrent workers,
/// client-seconds for repeats). `None` unless every result has them: a mean
/// over some of the clients would pass for all of them.
fn pooled_radio(
    results: &[&TransportResult],
    weight: impl Fn(&TransportResult) -> f64,
) -> Option<RadioResult> {
    let radios: Vec<(&RadioResult, f64)> = results
        .iter()
        .map(|r| Some((r.radio.as_ref()?, weight(r))))
        .collect::<Option<_>>()?;
    let total: f64 = radios.iter().map(|(_, w)| w).sum();
    let mean = |model: fn(&RadioResult) -> &RadioFigures| {
        let avg = |f: fn(&RadioFigures) -> f64| {
            if total > 0.0 {
                radios.iter().map(|(r, w)| f(model(r)) * w).sum::<f64>() / total
            } else {
                crate::stats::median(radios.iter().map(|(r, _)| f(model(r)))).unwrap_or(0.0)
            }
        };
        RadioFigures {
            radio_on_fraction: avg(|f| f.radio_on_fraction),
            joules_per_client_hour: avg(|f| f.joules_per_client_hour),
            promotions_per_client_hour: avg(|f| f.promotions_per_client_hour),
        }
    };
    Some(RadioResult {
        lte: mean(|r| &r.lte),
        umts: mean(|r| &r.umts),
    })
}

/// The links of several files, added up: packets, bytes, drops and CPU time
/// sum; the mean lateness is weighted by the packets forwarded. `None` when
/// no file crossed an emulated link.
pub(crate) fn sum_links<'a>(links: impl Iterator<Item = &'a LinkResult>) -> Option<LinkResult> {
    let mut out: Option<LinkResult> = None;
    for l in links {
        let acc = out.get_or_insert_with(LinkResult::default);
        add_direction(&mut acc.down, &l.down);
        add_direction(&mut acc.up, &l.up);
        acc.cpu_seconds = round_ms(acc.cpu_seconds + l.cpu_seconds);
    }
    out
}

fn add_direction(acc: &mut LinkDirection, d: &LinkDirection) {
    let packets = acc.packets + d.packets;
    acc.mean_lateness_us = if packets > 0 {
        (acc.mean_lateness_us * acc.packets as f64 + d.mean_lateness_us * d.packets as f64)
            / packets as f64
    } else {
        acc.mean_lateness_us.max(d.mean_lateness_us)
    };
    acc.packets = packets;
    acc.bytes += d.bytes;
    acc.dropped_loss += d.dropped_loss;
    acc.dropped_queue += d.dropped_queue;
    acc.dropped_middlebox += d.dropped_middlebox;
    acc.dropped_partition += d.dropped_partition;
}
