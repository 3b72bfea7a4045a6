//! A staged run's per-stage figures for the result file: latency,
//! deliveries and loss exactly (by each message's intended send time), connected
//! clients, publishes and errors from the per-second series.

use crate::config::Config;
use crate::record::{Recorder, StageShard};
use crate::report;
use hdrhistogram::Histogram;
use protocol::results::{SecondSample, StageResult};

/// One entry per stage; empty for a steady run.
pub(super) fn stage_results(
    cfg: &Config,
    rec: &Recorder,
    series: &[SecondSample],
    lost: &[u64],
) -> Vec<StageResult> {
    let Some(st) = &cfg.stages else {
        return Vec::new();
    };
    let segments = &st.plan.segments;
    let mut merged: Vec<StageShard> = segments
        .iter()
        .map(|_| StageShard {
            latency: Histogram::new(3).unwrap_or_else(|_| unreachable!("valid precision")),
            deliveries: 0,
        })
        .collect();
    rec.each_shard(|s| {
        for (m, one) in merged.iter_mut().zip(&s.stages) {
            let _ = m.latency.add(&one.latency);
            m.deliveries += one.deliveries;
        }
    });
    let start_us = rec.clock.at_us(rec.clock.start());
    let window_secs = rec.window_start_us().saturating_sub(start_us) as f64 / 1e6;
    let mut out: Vec<StageResult> = segments
        .iter()
        .zip(&st.text.0)
        .zip(&merged)
        .enumerate()
        .map(|(i, ((seg, stage), m))| StageResult {
            stage: stage.to_string(),
            start_secs: seg.start,
            duration_secs: seg.secs,
            clients_from: seg.clients.0.round() as u64,
            clients_to: seg.clients.1.round() as u64,
            rate_from: seg.rate.0,
            rate_to: seg.rate.1,
            deliveries: m.deliveries,
            latency: report::summarize(&m.latency),
            lost: lost.get(i).copied().unwrap_or(0),
            ..StageResult::default()
        })
        .collect();
    let mut seconds = vec![0u64; out.len()];
    for s in series {
        let at = s.t_secs as f64 - 0.5 - window_secs;
        if at < 0.0 || at >= st.plan.secs() {
            continue;
        }
        let i = st.plan.stage_of(at);
        let o = &mut out[i];
        seconds[i] += 1;
        o.connected_mean += s.connected as f64;
        o.connected_max = o.connected_max.max(s.connected);
        o.published += s.published;
        o.errors += s.errors;
    }
    for (o, n) in out.iter_mut().zip(seconds) {
        if n > 0 {
            o.connected_mean /= n as f64;
        }
    }
    out
}
