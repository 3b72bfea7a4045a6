//! A staged run's latency against its load: every second of the measured
//! window as a point, p99 (full color) and p50 (pale) against the clients
//! connected (left) and the messages published (right) in that second. The
//! points are joined in time order, so a ramp down shows as a second
//! path. Past the knee (`crate::knee`) is shaded.

use super::plot::{self, Axis, Line};
use super::{Chart, Swatch, color, log_bounds_of, png, two_panels};
use crate::Error;
use crate::format;
use crate::knee;
use crate::merge::{Entry, Group};
use plotters::style::RGBColor;
use protocol::results::{Phase, SecondSample};

/// The chart, for a group with a staged run; `None` otherwise.
pub(crate) fn latency_vs_load(g: &Group, prefix: &str) -> Result<Option<Chart>, Error> {
    if g.entries.iter().all(|e| e.merged.stages.is_empty()) {
        return Ok(None);
    }
    let file = format!("{prefix}latency-vs-load.png");
    let title = "Latency against load";
    let by_clients = lines(g, |s| s.connected as f64);
    let by_rate = lines(g, |s| s.published as f64);
    let (lo, hi) = log_bounds_of(by_clients.iter().flat_map(|l| l.points.iter().map(|p| p.1)));
    let x_max = |ls: &[Line]| {
        ls.iter()
            .flat_map(|l| l.points.iter().map(|p| p.0))
            .fold(1.0, f64::max)
    };
    let knees: Vec<knee::Knee> = g.entries.iter().filter_map(knee_of).collect();
    let past = |x: fn(&knee::Knee) -> u64, max: f64| {
        knees
            .iter()
            .map(x)
            .min()
            .map(|k| (k as f64, max.max(k as f64)))
    };
    let subtitle = format!(
        "Each second of the window: p99 (dark) and p50 (pale) of its deliveries; shaded: past the knee (p99 above {}× the first stage's typical second and {}, or errors)",
        knee::FACTOR,
        format::duration_us(knee::FLOOR_US as f64)
    );
    let caption = "Where the points turn upward the server stopped keeping up with the load: \
                   the knee, named in the findings. Left and right are the same seconds, placed \
                   by the clients then connected and by the messages then published.";
    let chart = png(&file, title, caption, |root| {
        let (left, right) = two_panels(root, title, &subtitle, g, Swatch::Line)?;
        let y = || Axis::log_ms(lo, hi, "Latency per second (log scale)");
        let cx = x_max(&by_clients);
        plot::panel(
            &left,
            Some("Against connected clients"),
            &Axis::linear(cx, format::sig3, "Clients connected"),
            &y(),
            &by_clients,
            past(|k| k.connected, cx),
        )?;
        let rx = x_max(&by_rate);
        plot::panel(
            &right,
            Some("Against publish rate"),
            &Axis::linear(rx, format::sig3, "Messages published per second"),
            &y(),
            &by_rate,
            past(|k| k.published, rx),
        )
    })?;
    Ok(Some(chart))
}

fn knee_of(e: &Entry) -> Option<knee::Knee> {
    let baseline = knee::baseline_us(&e.merged.series, &e.merged.stages)?;
    knee::find(&e.merged.series, baseline)
}

/// Two lines per staged entry: p99 in its color, p50 paler.
fn lines(g: &Group, x: fn(&SecondSample) -> f64) -> Vec<Line> {
    let window = |e: &Entry| -> Vec<SecondSample> {
        e.merged
            .series
            .iter()
            .filter(|s| s.phase == Some(Phase::Measure))
            .cloned()
            .collect()
    };
    let mut out = Vec::new();
    for e in g.entries.iter().filter(|e| !e.merged.stages.is_empty()) {
        let secs = window(e);
        let c = color(e, g);
        let pale = RGBColor(pale(c.0), pale(c.1), pale(c.2));
        for (col, q) in [(pale, 0), (c, 1)] {
            out.push(Line {
                color: col,
                points: secs
                    .iter()
                    .filter_map(|s| {
                        let v = if q == 0 { s.p50_us } else { s.p99_us }?;
                        Some((x(s), v as f64 / 1e3))
                    })
                    .collect(),
                markers: true,
            });
        }
    }
    out
}

fn pale(c: u8) -> u8 {
    ((u16::from(c) + 2 * 255) / 3) as u8
}
