//! The knee of a staged run (`--stages`): the load at which latency broke
//! away from what the first stage had, or errors began. Read from the
//! per-second series of the measured window, so it names the clients
//! connected and the messages published in the second it happened.
//!
//! The rule: a second's p99 is *high* when it is above both
//! [`FACTOR`] × the baseline (the first stage's typical per-second p99,
//! see [`baseline_us`]) and [`FLOOR_US`]; the
//! knee is the first of [`SUSTAIN`] high seconds in a row (one slow second
//! is noise, not a limit), or the first second with errors, whichever
//! comes first. The floor keeps loopback's sub-millisecond jitter from
//! passing for a knee. Loss is counted per stage, so where it began is
//! named as a stage (alone when latency and errors never crossed).

use crate::findings::{Finding, Tone, name};
use crate::format;
use crate::merge::{Entry, Group};
use protocol::results::{Phase, SecondSample, StageResult, TransportResult};

/// p99 above this many times the baseline …
pub const FACTOR: f64 = 2.0;
/// … and above this (µs) is high.
pub const FLOOR_US: u64 = 10_000;
/// High seconds in a row that make a knee.
pub const SUSTAIN: usize = 2;

/// Why the knee is where it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// p99 crossed the threshold (µs).
    Latency { threshold_us: u64 },
    /// Clients or publishers saw errors.
    Errors,
}

/// Where a staged run's load broke it.
#[derive(Debug, Clone, PartialEq)]
pub struct Knee {
    pub cause: Cause,
    /// The second (since the run started) and the load in it.
    pub t_secs: u64,
    pub connected: u64,
    pub published: u64,
    /// That second's p99 (µs), when it had deliveries.
    pub p99_us: Option<u64>,
}

/// The knee of `series` given the baseline p99 (µs); `None` when the run
/// held up through its window.
pub fn find(series: &[SecondSample], baseline_us: u64) -> Option<Knee> {
    let threshold_us = ((baseline_us as f64 * FACTOR) as u64).max(FLOOR_US);
    let window: Vec<&SecondSample> = series
        .iter()
        .filter(|s| s.phase == Some(Phase::Measure))
        .collect();
    let high = |s: &SecondSample| s.p99_us.is_some_and(|p| p > threshold_us);
    let knee = |s: &SecondSample, cause| Knee {
        cause,
        t_secs: s.t_secs,
        connected: s.connected,
        published: s.published,
        p99_us: s.p99_us,
    };
    for (i, s) in window.iter().enumerate() {
        if s.errors > 0 {
            return Some(knee(s, Cause::Errors));
        }
        let run = window[i..].iter().take(SUSTAIN);
        if run.len() == SUSTAIN && window[i..i + SUSTAIN].iter().all(|s| high(s)) {
            return Some(knee(s, Cause::Latency { threshold_us }));
        }
    }
    None
}

/// The baseline: the median of the per-second p99s of the first stage's
/// seconds (one slow second among a few cannot move it; a second belongs
/// to the stage its middle falls in), or, when none of them had
/// deliveries, the lowest p99 of a stage that had.
pub fn baseline_us(series: &[SecondSample], stages: &[StageResult]) -> Option<u64> {
    let first = stages.first()?;
    let mut window = series
        .iter()
        .filter(|s| s.phase == Some(Phase::Measure))
        .peekable();
    let start = window.peek().map_or(0, |s| s.t_secs);
    let mut p99s: Vec<u64> = window
        .filter(|s| {
            (s.t_secs.saturating_sub(start) as f64 + 0.5) < first.start_secs + first.duration_secs
        })
        .filter_map(|s| s.p99_us)
        .collect();
    p99s.sort_unstable();
    if !p99s.is_empty() {
        return Some(p99s[p99s.len() / 2]);
    }
    stages
        .iter()
        .filter(|s| s.latency.count > 0)
        .map(|s| s.latency.p99_us)
        .min()
}

/// A staged run's knee for `summary.json` and `--format json`: where it
/// is (`found` false when none) and the first stage that lost messages;
/// `None` for a steady run.
pub fn summary(t: &TransportResult) -> Option<serde_json::Value> {
    let baseline = baseline_us(&t.series, &t.stages)?;
    let loss_stage = t.stages.iter().position(|s| s.lost > 0);
    let knee = find(&t.series, baseline);
    let (cause, threshold_us) = match knee.as_ref().map(|k| k.cause) {
        Some(Cause::Latency { threshold_us }) => (Some("latency"), Some(threshold_us)),
        Some(Cause::Errors) => (Some("errors"), None),
        None => (None, None),
    };
    Some(serde_json::json!({
        "found": knee.is_some() || loss_stage.is_some(),
        "baseline_p99_us": baseline,
        "cause": cause,
        "threshold_us": threshold_us,
        "t_secs": knee.as_ref().map(|k| k.t_secs),
        "connected": knee.as_ref().map(|k| k.connected),
        "published": knee.as_ref().map(|k| k.published),
        "p99_us": knee.as_ref().and_then(|k| k.p99_us),
        "loss_from_stage": loss_stage,
    }))
}

/// One finding per staged transport: its knee, or that it had none.
pub fn findings(g: &Group) -> Vec<Finding> {
    g.entries.iter().filter_map(finding).collect()
}

/// The first stage that lost messages, said with its load: where loss
/// began (a stage, not a second: loss is counted per stage).
fn loss_began(stages: &[StageResult]) -> Option<String> {
    let (i, s) = stages.iter().enumerate().find(|(_, s)| s.lost > 0)?;
    let span = |a: String, b: String| if a == b { a } else { format!("{a}→{b}") };
    Some(format!(
        "messages were lost from stage {} ({}: {} clients, {} msg/s; {} lost) on",
        i + 1,
        s.stage,
        span(
            format::thousands(s.clients_from),
            format::thousands(s.clients_to)
        ),
        span(format::trimmed(s.rate_from), format::trimmed(s.rate_to)),
        format::thousands(s.lost)
    ))
}

fn finding(e: &Entry) -> Option<Finding> {
    let t = &e.merged;
    let baseline = baseline_us(&t.series, &t.stages)?;
    let ms = |us: u64| format::duration_us(us as f64);
    let loss = loss_began(&t.stages);
    if let (None, Some(loss)) = (find(&t.series, baseline), &loss) {
        return Some(Finding {
            tone: Tone::Warn,
            text: format!("Knee of {}: {loss}.", name(e)),
        });
    }
    let loss = loss.map_or(String::new(), |l| format!("; {l}"));
    Some(match find(&t.series, baseline) {
        Some(k) => {
            let what = match k.cause {
                Cause::Latency { threshold_us } => format!(
                    "p99 latency rose above {} ({FACTOR}× the first stage's per-second p99 of {}, at least {}) and stayed there",
                    ms(threshold_us),
                    ms(baseline),
                    ms(FLOOR_US)
                ),
                Cause::Errors => "errors began".to_string(),
            };
            let p99 = k
                .p99_us
                .map_or(String::new(), |p| format!(", p99 {}", ms(p)));
            Finding {
                tone: Tone::Warn,
                text: format!(
                    "Knee of {}: {what} at {} connected clients and {} msg/s published (second {}{p99}){loss}.",
                    name(e),
                    format::thousands(k.connected),
                    format::thousands(k.published),
                    k.t_secs
                ),
            }
        }
        None => {
            let window = t.series.iter().filter(|s| s.phase == Some(Phase::Measure));
            let (clients, rate) =
                window.fold((0, 0), |(c, r), s| (c.max(s.connected), r.max(s.published)));
            Finding {
                tone: Tone::Good,
                text: format!(
                    "No knee for {}: p99 stayed within {FACTOR}× the first stage's per-second p99 of {} (or under {}) with no errors, up to {} connected clients and {} msg/s.",
                    name(e),
                    ms(baseline),
                    ms(FLOOR_US),
                    format::thousands(clients),
                    format::thousands(rate)
                ),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A second of the window: `connected` clients, p99 in ms.
    fn sec(t: u64, connected: u64, p99_ms: Option<u64>) -> SecondSample {
        SecondSample {
            t_secs: t,
            phase: Some(Phase::Measure),
            connected,
            published: connected / 10,
            p99_us: p99_ms.map(|m| m * 1000),
            ..SecondSample::default()
        }
    }

    /// Latency that grows with clients past 50: p99 = 1 ms + 1 ms per client above 50.
    fn ramp() -> Vec<SecondSample> {
        (1..=20)
            .map(|t| {
                let c = t * 10;
                sec(t, c, Some(1 + c.saturating_sub(50)))
            })
            .collect()
    }

    #[test]
    fn the_knee_is_where_p99_stays_above_the_threshold() {
        // Threshold max(2 × 1 ms, 10 ms) = 10 ms: first crossed at 60 clients (11 ms).
        let k = find(&ramp(), 1000).expect("knee");
        assert_eq!((k.t_secs, k.connected, k.published), (6, 60, 6));
        assert_eq!(
            k.cause,
            Cause::Latency {
                threshold_us: 10_000
            }
        );
        // A higher baseline moves it: 2 × 30 ms = 60 ms, crossed at 110 clients (61 ms).
        assert_eq!(find(&ramp(), 30_000).map(|k| k.connected), Some(110));
    }

    #[test]
    fn one_slow_second_is_not_a_knee_and_flat_is_none() {
        let mut flat: Vec<SecondSample> = (1..=10).map(|t| sec(t, t * 10, Some(2))).collect();
        assert_eq!(find(&flat, 2000), None);
        flat[4].p99_us = Some(50_000);
        assert_eq!(find(&flat, 2000), None);
        // Seconds without deliveries are not high either.
        flat[5].p99_us = None;
        assert_eq!(find(&flat, 2000), None);
        // Outside the window nothing counts.
        let mut before = sec(0, 0, Some(900));
        before.phase = Some(Phase::RampUp);
        before.errors = 3;
        flat.insert(0, before);
        assert_eq!(find(&flat, 2000), None);
    }

    #[test]
    fn loss_is_named_by_its_first_stage() {
        let stage = |name: &str, lost| StageResult {
            stage: name.into(),
            clients_from: 10,
            clients_to: 100,
            rate_from: 20.0,
            rate_to: 20.0,
            lost,
            ..StageResult::default()
        };
        assert_eq!(loss_began(&[stage("a", 0)]), None);
        let text = loss_began(&[stage("a", 0), stage("10s:100c", 7)]).expect("loss");
        assert!(
            text.contains("stage 2 (10s:100c: 10→100 clients, 20 msg/s; 7 lost)"),
            "{text}"
        );
    }

    #[test]
    fn errors_make_a_knee_before_latency_does() {
        let mut s = ramp();
        s[3].errors = 1;
        let k = find(&s, 1000).expect("knee");
        assert_eq!((k.cause, k.connected), (Cause::Errors, 40));
    }

    #[test]
    fn the_baseline_is_the_first_stages_typical_second() {
        let stage = |start, secs, count, p99| {
            let mut s = StageResult {
                start_secs: start,
                duration_secs: secs,
                ..StageResult::default()
            };
            s.latency.count = count;
            s.latency.p99_us = p99;
            s
        };
        let stages = [stage(0.0, 3.0, 50, 20_000), stage(3.0, 5.0, 90, 900)];
        // Seconds 4–6 are the first stage's: 2 ms, one slow 20 ms, 3 ms.
        let mut series = vec![sec(4, 1, Some(2)), sec(5, 2, Some(20)), sec(6, 3, Some(3))];
        series.push(sec(7, 9, Some(50)));
        let mut ramp_up = sec(3, 0, Some(99));
        ramp_up.phase = Some(Phase::RampUp);
        series.insert(0, ramp_up);
        assert_eq!(baseline_us(&series, &stages), Some(3000));
        // No second with deliveries: the stages' lowest p99.
        let quiet: Vec<SecondSample> = series
            .iter()
            .map(|s| SecondSample {
                p99_us: None,
                ..s.clone()
            })
            .collect();
        assert_eq!(baseline_us(&quiet, &stages), Some(900));
        assert_eq!(baseline_us(&series, &[]), None);
    }
}
