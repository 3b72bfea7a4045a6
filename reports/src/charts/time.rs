//! The run second by second: latency (p50 and p99 per second) and traffic
//! (deliveries/s, subscribe requests/s). Two panels side by side sharing the
//! time axis, the measured window shaded: ramp-up and warm-up before it and
//! drain after it are shown because trouble often starts there.

use super::plot::{self, Axis, Line};
use super::{Chart, Swatch, color, log_bounds_of, measured_window, png, two_panels};
use crate::Error;
use crate::format;
use crate::merge::Group;
use protocol::results::SecondSample;

fn time_axis(g: &Group) -> Axis {
    let t_max = g
        .entries
        .iter()
        .flat_map(|e| e.merged.series.iter().map(|s| s.t_secs))
        .max()
        .unwrap_or(1) as f64;
    let step = [1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0]
        .into_iter()
        .find(|s| t_max / s <= 10.0)
        .unwrap_or(t_max / 10.0);
    Axis {
        lo: 0.0,
        hi: t_max,
        log: false,
        ticks: (0..=(t_max / step) as u64)
            .map(|i| i as f64 * step)
            .collect(),
        label: Box::new(|v| format!("{v:.0}")),
        desc: "Time since the run started (s)".into(),
    }
}

fn lines(g: &Group, f: fn(&SecondSample) -> Option<f64>) -> Vec<Line> {
    g.entries
        .iter()
        .map(|e| Line {
            color: color(e, g),
            points: e
                .merged
                .series
                .iter()
                .filter_map(|s| Some((s.t_secs as f64, f(s)?)))
                .collect(),
            markers: false,
        })
        .collect()
}

fn band(g: &Group) -> Option<(f64, f64)> {
    // The first transport with a measured window: all ran the same phases.
    g.entries.iter().find_map(measured_window)
}

const SHADED: &str = "shaded: the measured window (before it ramp-up and warm-up, after it drain)";

/// Latency per second, p50 left and p99 right, on one log scale.
pub(crate) fn latency(g: &Group, prefix: &str) -> Result<Chart, Error> {
    let file = format!("{prefix}latency-over-time.png");
    let title = "Latency over time";
    let p50 = lines(g, |s| s.p50_us.map(|v| v as f64 / 1e3));
    let p99 = lines(g, |s| s.p99_us.map(|v| v as f64 / 1e3));
    let (lo, hi) = log_bounds_of(
        p50.iter()
            .chain(&p99)
            .flat_map(|l| l.points.iter().map(|p| p.1)),
    );
    let subtitle = format!(
        "Per-second median and 99th percentile of the deliveries received in that second; {SHADED}"
    );
    let caption = "A transport whose lines stay flat delivers at a steady speed; steps or spikes mark \
                   moments of congestion. The shared logarithmic scale keeps both panels comparable.";
    png(&file, title, caption, |root| {
        let (left, right) = two_panels(root, title, &subtitle, g, Swatch::Line)?;
        let y = |desc: &str| Axis::log_ms(lo, hi, desc);
        plot::panel(
            &left,
            Some("p50 (median)"),
            &time_axis(g),
            &y("Latency, p50 (log scale)"),
            &p50,
            band(g),
        )?;
        plot::panel(
            &right,
            Some("p99"),
            &time_axis(g),
            &y("Latency, p99 (log scale)"),
            &p99,
            band(g),
        )
    })
}

/// Deliveries/s left, subscribe HTTP requests/s right.
pub(crate) fn rates(g: &Group, prefix: &str) -> Result<Chart, Error> {
    let file = format!("{prefix}rates-over-time.png");
    let title = "Deliveries and requests over time";
    let deliveries = lines(g, |s| Some(s.deliveries as f64));
    let requests = lines(g, |s| Some(s.requests as f64));
    let max = |ls: &[Line]| {
        ls.iter()
            .flat_map(|l| l.points.iter().map(|p| p.1))
            .fold(0.0, f64::max)
    };
    let subtitle = format!(
        "Messages received by all subscribers, and subscribe-side HTTP requests, per second; {SHADED}"
    );
    let caption = "Deliveries/s should be the same for every transport (the same messages reach the same clients). \
                   Requests/s is the cost of getting them: polling pays one HTTP request per poll, push transports \
                   one per connection.";
    png(&file, title, caption, |root| {
        let (left, right) = two_panels(root, title, &subtitle, g, Swatch::Line)?;
        let y = |hi: f64, desc: &str| Axis::linear(hi, format::sig3, desc);
        plot::panel(
            &left,
            Some("Deliveries/s"),
            &time_axis(g),
            &y(max(&deliveries), "Deliveries per second"),
            &deliveries,
            band(g),
        )?;
        plot::panel(
            &right,
            Some("HTTP requests/s"),
            &time_axis(g),
            &y(max(&requests), "Requests per second"),
            &requests,
            band(g),
        )
    })
}
