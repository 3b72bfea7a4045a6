//! Horizontal bar charts, one bar per transport (first transport on top, as
//! in the table): bytes per delivered message split into payload and
//! overhead, and the server's CPU time and memory.

use super::plot::{Plot, Ticked, mesh};
use super::{
    Area, Chart, DrawResult, Swatch, color, font, headed, header, legend, linear_ticks, muted, png,
};
use crate::Error;
use crate::format;
use crate::merge::Group;
use crate::metric::{self, Metric};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// Neutral gray for the payload part: the same bytes for every transport.
const PAYLOAD: RGBColor = RGBColor(0xc7, 0xcd, 0xd6);

struct Bar {
    label: String,
    /// Stacked parts, left to right; empty: not measured.
    parts: Vec<(f64, RGBColor)>,
    note: String,
}

fn bar_panel(
    area: &Area<'_>,
    heading: Option<&str>,
    x_desc: &str,
    bars: &[Bar],
    tick: fn(f64) -> String,
) -> DrawResult {
    let area = headed(area, heading, 150)?;
    let n = bars.len().max(1);
    let total = |b: &Bar| b.parts.iter().map(|p| p.0).sum::<f64>();
    // Room on the right of the longest bar for its note.
    let (hi, ticks) = linear_ticks(bars.iter().map(total).fold(0.0, f64::max) * 1.25, 5);
    let rows: Vec<f64> = (0..n).map(|i| i as f64).collect();
    let labels: Vec<String> = bars.iter().map(|b| b.label.clone()).collect();
    let mut chart = ChartBuilder::on(&area)
        .margin_left(10)
        .margin_right(48)
        .margin_top(8)
        .margin_bottom(6)
        .x_label_area_size(62)
        .y_label_area_size(140)
        .build_cartesian_2d(
            Ticked {
                range: 0.0..hi,
                ticks,
            },
            Ticked {
                range: -0.6..n as f64 - 0.4,
                ticks: rows,
            },
        )?;
    let y_fmt = |v: &f64| {
        // Row i from the top is drawn at y = n − 1 − i.
        let i = n as i64 - 1 - v.round() as i64;
        usize::try_from(i)
            .ok()
            .and_then(|i| labels.get(i))
            .cloned()
            .unwrap_or_default()
    };
    let x_fmt = |v: &f64| tick(*v);
    mesh(&mut chart)
        .disable_y_mesh()
        .x_label_style(muted(18.0))
        .y_label_style(font(20.0))
        .x_desc(x_desc)
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&y_fmt)
        .draw()?;
    for (i, bar) in bars.iter().enumerate() {
        draw_bar(&mut chart, bar, (n - 1 - i) as f64)?;
    }
    Ok(())
}

/// One bar at row `y`: its parts stacked left to right, its note after them.
fn draw_bar(chart: &mut Plot<'_, '_>, bar: &Bar, y: f64) -> DrawResult {
    let mut x = 0.0;
    for &(w, c) in &bar.parts {
        chart.draw_series(std::iter::once(Rectangle::new(
            [(x, y - 0.3), (x + w, y + 0.3)],
            c.filled(),
        )))?;
        x += w;
    }
    let note = Text::new(
        bar.note.clone(),
        (12, 0),
        font(19.0).pos(Pos::new(HPos::Left, VPos::Center)),
    );
    chart.draw_series(std::iter::once(EmptyElement::at((x, y)) + note))?;
    Ok(())
}

/// Bytes on the wire per delivered message: payload (gray) + overhead (color).
pub(crate) fn bytes(g: &Group, prefix: &str) -> Result<Chart, Error> {
    let file = format!("{prefix}bytes-per-message.png");
    let title = "Bytes on the wire per delivered message";
    let bars: Vec<Bar> = g
        .entries
        .iter()
        .map(|e| {
            let w = &e.merged.wire_bytes;
            let payload = if w.deliveries > 0 {
                w.payload_bytes as f64 / w.deliveries as f64
            } else {
                0.0
            };
            match e.stat(metric::BYTES_PER_DELIVERY.value) {
                Some(total) => Bar {
                    label: e.label.clone(),
                    parts: vec![
                        (payload.min(total.value), PAYLOAD),
                        ((total.value - payload).max(0.0), color(e, g)),
                    ],
                    note: format!(
                        "{} ({} payload)",
                        format::bytes(total.value),
                        format::factor(if payload > 0.0 {
                            total.value / payload
                        } else {
                            0.0
                        })
                    ),
                },
                None => Bar {
                    label: e.label.clone(),
                    parts: Vec::new(),
                    note: "nothing delivered".into(),
                },
            }
        })
        .collect();
    let subtitle = format!(
        "Subscribe side, both directions, headers and framing included; gray: the {} payload, color: overhead",
        format::bytes(g.scenario.size_bytes as f64)
    );
    let caption = "The gray part is the message text itself; everything colored is what the transport adds: \
                   HTTP headers of every request and response, SSE or WebSocket framing, the JSON envelope, \
                   and the bytes of polls that returned nothing.";
    let mut items = vec![("payload (message text)".to_string(), PAYLOAD, Swatch::Box)];
    items.extend(
        g.entries
            .iter()
            .map(|e| (format!("{} overhead", e.label), color(e, g), Swatch::Box)),
    );
    png(&file, title, caption, |root| {
        let area = header(root, title, &subtitle)?;
        let area = legend(&area, &items)?;
        bar_panel(
            &area,
            None,
            "Bytes per delivered message",
            &bars,
            super::bytes_label,
        )
    })
}

/// Server CPU per 1,000 deliveries (left) and RSS per connection (right).
pub(crate) fn server(g: &Group, prefix: &str) -> Result<Chart, Error> {
    let file = format!("{prefix}server-cost.png");
    let title = "Server cost per transport";
    // Bars in the axis unit (ms, KiB), notes as the metric reads everywhere else.
    let bars = |m: &Metric, scale: f64| -> Vec<Bar> {
        g.entries
            .iter()
            .map(|e| match e.stat(m.value) {
                Some(s) => Bar {
                    label: e.label.clone(),
                    parts: vec![(s.value * scale, color(e, g))],
                    note: m.kind.show(s.value),
                },
                None => Bar {
                    label: e.label.clone(),
                    parts: Vec::new(),
                    note: "not measured".into(),
                },
            })
            .collect()
    };
    let cpu = bars(&metric::SERVER_CPU_PER_1K, 1e3);
    let rss = bars(&metric::SERVER_RSS_PER_CONNECTION, 1.0 / 1024.0);
    let subtitle = "From the server's /api/stats during the measured window; shorter is cheaper";
    let caption = "CPU time the server spent per 1,000 messages delivered, and the growth of its resident memory \
                   per open connection. Polling pays per request, push transports per open connection.";
    png(&file, title, caption, |root| {
        let (left, right) = super::two_panels(root, title, subtitle, g, Swatch::Box)?;
        bar_panel(
            &left,
            Some("CPU time per 1,000 deliveries"),
            "CPU milliseconds per 1,000 deliveries",
            &cpu,
            format::trimmed,
        )?;
        bar_panel(
            &right,
            Some("Memory per connection"),
            "Server RSS per connection (KiB)",
            &rss,
            format::trimmed,
        )
    })
}
