//! One line-chart panel: axes that are linear or log (log axes are drawn as
//! linear axes over log10 of the values, so one code path and one set of
//! hand-picked ticks serve both), an optional shaded band (the measured
//! window), and lines with optional point markers.

use super::{Area, BAND, DrawResult, GRID, MUTED, font, headed, log_ticks, ms_label, muted};
use plotters::chart::MeshStyle;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::prelude::*;
use std::ops::Range;

/// A linear f64 axis with exactly the ticks given. plotters' own
/// `with_key_points` over f64 cannot take a label formatter in 0.3.7 (its
/// format option is "none"), so this is the same idea with default formatting.
#[derive(Debug, Clone)]
pub(crate) struct Ticked {
    pub range: Range<f64>,
    pub ticks: Vec<f64>,
}

impl Ranged for Ticked {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let span = self.range.end - self.range.start;
        if span == 0.0 {
            return limit.0;
        }
        let f = (v - self.range.start) / span;
        limit.0 + (f * (limit.1 - limit.0) as f64).round() as i32
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        // Bold lines and labels at the ticks; no light lines in between.
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.range.clone()
    }
}

/// One axis: range and ticks in data units; `label` formats a tick.
pub(crate) struct Axis {
    pub lo: f64,
    pub hi: f64,
    pub log: bool,
    pub ticks: Vec<f64>,
    pub label: Box<dyn Fn(f64) -> String>,
    pub desc: String,
}

impl Axis {
    /// A log axis of milliseconds, `lo` to `hi`, with round ticks.
    pub(crate) fn log_ms(lo: f64, hi: f64, desc: &str) -> Axis {
        Axis::log(lo, hi, ms_label, desc)
    }

    /// A log axis from `lo` to `hi` with ticks at round values.
    pub(crate) fn log(lo: f64, hi: f64, label: fn(f64) -> String, desc: &str) -> Axis {
        Axis {
            lo,
            hi,
            log: true,
            ticks: log_ticks(lo, hi),
            label: Box::new(label),
            desc: desc.into(),
        }
    }

    /// A linear axis from 0 up to a round value at or above `hi`, five ticks.
    pub(crate) fn linear(hi: f64, label: fn(f64) -> String, desc: &str) -> Axis {
        let (hi, ticks) = super::linear_ticks(hi, 5);
        Axis {
            lo: 0.0,
            hi,
            log: false,
            ticks,
            label: Box::new(label),
            desc: desc.into(),
        }
    }

    pub(crate) fn to_plot(&self, v: f64) -> f64 {
        if self.log { v.max(1e-12).log10() } else { v }
    }
    pub(crate) fn back_from_plot(&self, v: f64) -> f64 {
        if self.log { 10f64.powf(v) } else { v }
    }
}

/// One line.
pub(crate) struct Line {
    pub color: RGBColor,
    pub points: Vec<(f64, f64)>,
    /// Dots at the points: for sparse data (a matrix has 2–5 points per line).
    pub markers: bool,
}

/// Draws a panel filling `area`, with `heading` above the plot when given.
pub(crate) fn panel(
    area: &Area<'_>,
    heading: Option<&str>,
    x: &Axis,
    y: &Axis,
    lines: &[Line],
    band: Option<(f64, f64)>,
) -> DrawResult {
    let area = headed(area, heading, 110)?;
    let (x_lo, x_hi) = (x.to_plot(x.lo), x.to_plot(x.hi));
    let (y_lo, y_hi) = (y.to_plot(y.lo), y.to_plot(y.hi));
    let x_ticks: Vec<f64> = x.ticks.iter().map(|&t| x.to_plot(t)).collect();
    let y_ticks: Vec<f64> = y.ticks.iter().map(|&t| y.to_plot(t)).collect();
    let mut chart = ChartBuilder::on(&area)
        .margin_left(10)
        .margin_right(50)
        .margin_top(8)
        .margin_bottom(6)
        .x_label_area_size(62)
        .y_label_area_size(100)
        .build_cartesian_2d(
            Ticked {
                range: x_lo..x_hi,
                ticks: x_ticks,
            },
            Ticked {
                range: y_lo..y_hi,
                ticks: y_ticks,
            },
        )?;
    if let Some((from, to)) = band {
        let (from, to) = (x.to_plot(from).max(x_lo), x.to_plot(to).min(x_hi));
        chart.draw_series(std::iter::once(Rectangle::new(
            [(from, y_lo), (to, y_hi)],
            BAND.filled(),
        )))?;
    }
    let x_fmt = |v: &f64| (x.label)(x.back_from_plot(*v));
    let y_fmt = |v: &f64| (y.label)(y.back_from_plot(*v));
    mesh(&mut chart)
        .label_style(muted(18.0))
        .x_desc(x.desc.as_str())
        .y_desc(y.desc.as_str())
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&y_fmt)
        .draw()?;
    for line in lines {
        draw_line(&mut chart, x, y, line)?;
    }
    Ok(())
}

/// The grid and axes of every panel: grid lines at the ticks only, muted
/// axes, the house font for axis titles.
pub(crate) fn mesh<'a, 'b, 'c>(
    chart: &'c mut Plot<'a, 'b>,
) -> MeshStyle<'a, 'c, Ticked, Ticked, BitMapBackend<'b>> {
    let mut style = chart.configure_mesh();
    style
        .bold_line_style(GRID.stroke_width(1))
        .light_line_style(TRANSPARENT)
        .axis_style(MUTED.stroke_width(1))
        .set_all_tick_mark_size(6)
        .axis_desc_style(font(20.0));
    style
}

/// A panel's plot, both axes [`Ticked`].
pub(crate) type Plot<'a, 'b> = ChartContext<'a, BitMapBackend<'b>, Cartesian2d<Ticked, Ticked>>;

/// One line in plot coordinates, leaving out points a log axis cannot show.
fn draw_line(chart: &mut Plot<'_, '_>, x: &Axis, y: &Axis, line: &Line) -> DrawResult {
    let pts: Vec<(f64, f64)> = line
        .points
        .iter()
        .filter(|(a, b)| {
            a.is_finite() && b.is_finite() && (!x.log || *a > 0.0) && (!y.log || *b > 0.0)
        })
        .map(|&(a, b)| (x.to_plot(a), y.to_plot(b)))
        .collect();
    chart.draw_series(LineSeries::new(
        pts.iter().copied(),
        line.color.stroke_width(3),
    ))?;
    if line.markers {
        // A white halo keeps a dot readable where lines cross.
        chart.draw_series(pts.iter().map(|&p| Circle::new(p, 9, WHITE.filled())))?;
        chart.draw_series(pts.iter().map(|&p| Circle::new(p, 7, line.color.filled())))?;
    }
    Ok(())
}
