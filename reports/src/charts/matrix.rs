//! Matrix charts: how p99 latency and bytes per message change along a
//! scenario setting (clients, publish rate, message size), one line per
//! transport across the groups of a [`Line`].

use super::plot::{self, Axis, Line as PlotLine};
use super::{Chart, Swatch, bytes_label, color, header, legend, log_bounds, log_bounds_of, png};
use crate::Error;
use crate::format;
use crate::matrix::{Axis as MatrixAxis, Line};
use crate::merge::{Comparison, Entry, Group};
use crate::metric::{self, Metric};

/// One line per transport (as labeled in the first group of the line), in
/// the metric's stored unit divided by `per` (1,000: µs to ms).
fn series(c: &Comparison, line: &Line, metric: &Metric, per: f64) -> Vec<(String, PlotLine)> {
    let Some(&first) = line.groups.first() else {
        return Vec::new();
    };
    let first = &c.groups[first];
    first
        .entries
        .iter()
        .map(|e| {
            let points =
                line.groups
                    .iter()
                    .filter_map(|&gi| {
                        let g: &Group = &c.groups[gi];
                        let other: &Entry = g.entries.iter().find(|o| {
                            o.transport == e.transport && o.setting_secs == e.setting_secs
                        })?;
                        Some((
                            line.axis.value(&g.scenario),
                            other.stat(metric.value)?.value / per,
                        ))
                    })
                    .collect();
            (
                e.label.clone(),
                PlotLine {
                    color: color(e, first),
                    points,
                    markers: true,
                },
            )
        })
        .collect()
}

fn x_axis(c: &Comparison, line: &Line) -> Axis {
    let values: Vec<f64> = line
        .groups
        .iter()
        .map(|&g| line.axis.value(&c.groups[g].scenario))
        .collect();
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(0.0, f64::max);
    let axis = line.axis;
    // Matrices usually grow geometrically (100, 1k, 10k clients): log when the
    // range spans more than a decade, else linear with air on both sides.
    let log = lo > 0.0 && hi / lo > 10.0;
    let (a, b) = if log {
        log_bounds(lo, hi)
    } else {
        let pad = (hi - lo).max(hi * 0.1) * 0.12;
        ((lo - pad).max(0.0), hi + pad)
    };
    Axis {
        lo: a,
        hi: b,
        log,
        ticks: values,
        label: Box::new(move |v| match axis {
            MatrixAxis::Clients | MatrixAxis::Size => format::thousands(v.round() as u64),
            MatrixAxis::Rate => format::trimmed(v),
        }),
        desc: line.axis.title().into(),
    }
}

/// What one matrix chart shows: texts, one series per transport, the y axis.
struct Plan {
    file: String,
    title: String,
    subtitle: String,
    caption: String,
    series: Vec<(String, PlotLine)>,
    y: Axis,
}

/// The two charts of a matrix line: p99 latency and bytes per message
/// against the line's setting.
pub(crate) fn matrix_charts(c: &Comparison, line: &Line) -> Result<Vec<Chart>, Error> {
    let along = line
        .axis
        .title()
        .split(" (")
        .next()
        .unwrap_or("")
        .to_lowercase();
    Ok(vec![
        draw(c, line, p99_plan(c, line, &along))?,
        draw(c, line, bytes_plan(c, line, &along))?,
    ])
}

fn p99_plan(c: &Comparison, line: &Line, along: &str) -> Plan {
    let series = series(c, line, &metric::LATENCY_P99, 1e3);
    let (lo, hi) = log_bounds_of(
        series
            .iter()
            .flat_map(|(_, l)| l.points.iter().map(|p| p.1)),
    );
    Plan {
        file: format!("matrix-p99-vs-{}.png", line.axis.slug()),
        title: format!("p99 latency vs {along}"),
        subtitle: "One point per scenario, all other settings equal; p99 of the delivery latency, lower is better".into(),
        caption: format!(
            "How each transport's tail latency scales with {along}. A line that rises steeply marks the transport that stops scaling first."
        ),
        y: Axis::log_ms(lo, hi, "Latency p99 (log scale)"),
        series,
    }
}

fn bytes_plan(c: &Comparison, line: &Line, along: &str) -> Plan {
    let series = series(c, line, &metric::BYTES_PER_DELIVERY, 1.0);
    let hi = series
        .iter()
        .flat_map(|(_, l)| l.points.iter().map(|p| p.1))
        .fold(0.0, f64::max);
    Plan {
        file: format!("matrix-bytes-vs-{}.png", line.axis.slug()),
        title: format!("Bytes per message vs {along}"),
        subtitle: "Bytes on the wire (subscribe side) per delivered message, one point per scenario; lower is better".into(),
        caption: format!(
            "How the wire cost of one delivered message changes with {along}: polling amortizes its headers over the messages each poll returns."
        ),
        y: Axis::linear(hi, bytes_label, "Bytes per delivered message"),
        series,
    }
}

fn draw(c: &Comparison, line: &Line, plan: Plan) -> Result<Chart, Error> {
    let (names, lines): (Vec<String>, Vec<PlotLine>) = plan.series.into_iter().unzip();
    let items: Vec<_> = names
        .into_iter()
        .zip(&lines)
        .map(|(n, l)| (n, l.color, Swatch::Line))
        .collect();
    png(&plan.file, &plan.title, &plan.caption, |root| {
        let area = header(root, &plan.title, &plan.subtitle)?;
        let area = legend(&area, &items)?;
        plot::panel(&area, None, &x_axis(c, line), &plan.y, &lines, None)
    })
}
