//! Grouped vertical bars over a categorical axis: one cluster per category
//! (a network), one bar per transport in it, in the transport's color. With
//! repeated runs a bar is the median and a black whisker spans the range, as
//! the tables show median and range.

use super::plot::{Axis, Ticked, mesh};
use super::{Area, DrawResult, INK, headed, log_bounds_of, muted};
use crate::Stat;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// One bar per category, in one color.
pub(crate) struct Series {
    pub label: String,
    pub color: RGBColor,
    /// One per category, in the axis' unit; `None`: not measured there.
    pub values: Vec<Option<Stat>>,
}

/// What one panel shows.
pub(crate) struct Grouped {
    pub categories: Vec<String>,
    pub series: Vec<Series>,
}

impl Grouped {
    /// Every value drawn (medians and range ends), for the axis bounds.
    fn values(&self) -> impl Iterator<Item = f64> + Clone + '_ {
        self.series
            .iter()
            .flat_map(|s| s.values.iter().flatten())
            .flat_map(|s| [s.value, s.min, s.max])
    }

    /// A y axis that holds every value: log when the positive values span
    /// more than `spread` (a 1 s poll next to a 1 ms push), else linear from 0.
    pub(crate) fn axis(&self, spread: f64, label: fn(f64) -> String, desc: &str) -> Axis {
        let positive = self.values().filter(|v| *v > 0.0);
        let lo = positive.clone().fold(f64::INFINITY, f64::min);
        let hi = positive.fold(0.0, f64::max);
        if hi > 0.0 && hi / lo > spread {
            let (lo, hi) = log_bounds_of(self.values());
            Axis::log(lo, hi, label, &format!("{desc} (log scale)"))
        } else {
            Axis::linear(hi, label, desc)
        }
    }
}

/// Share of a category's width the bars fill (the rest separates clusters).
const CLUSTER: f64 = 0.8;

/// Draws one panel filling `area`, `heading` above it.
pub(crate) fn panel(area: &Area<'_>, heading: &str, g: &Grouped, y: &Axis) -> DrawResult {
    let area = headed(area, Some(heading), 110)?;
    let n = g.categories.len().max(1);
    let (y_lo, y_hi) = (y.to_plot(y.lo), y.to_plot(y.hi));
    let mut chart = ChartBuilder::on(&area)
        .margin_left(10)
        .margin_right(30)
        .margin_top(8)
        .margin_bottom(6)
        .x_label_area_size(52)
        .y_label_area_size(100)
        .build_cartesian_2d(
            Ticked {
                range: 0.0..n as f64,
                ticks: (0..n).map(|i| i as f64 + 0.5).collect(),
            },
            Ticked {
                range: y_lo..y_hi,
                ticks: y.ticks.iter().map(|&t| y.to_plot(t)).collect(),
            },
        )?;
    let x_fmt = |v: &f64| {
        g.categories
            .get(v.floor().max(0.0) as usize)
            .cloned()
            .unwrap_or_default()
    };
    let y_fmt = |v: &f64| (y.label)(y.back_from_plot(*v));
    mesh(&mut chart)
        .disable_x_mesh()
        .x_label_style(super::font(20.0))
        .y_label_style(muted(18.0))
        .y_desc(y.desc.as_str())
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&y_fmt)
        .draw()?;
    let k = g.series.len().max(1) as f64;
    let width = CLUSTER / k;
    // Values above the bars when they are wide enough to hold them.
    let px = chart.plotting_area().dim_in_pixel().0 as f64 * width * 0.84 / n as f64;
    let labeled = px >= LABEL_PX;
    for (j, s) in g.series.iter().enumerate() {
        for (i, v) in s.values.iter().enumerate() {
            let x0 = i as f64 + (1.0 - CLUSTER) / 2.0 + j as f64 * width;
            let bar = (x0 + width * 0.08, x0 + width * 0.92);
            draw_bar(&mut chart, y, bar, s.color, v.as_ref())?;
            if let Some(v) = v.as_ref().filter(|_| labeled) {
                value_label(&mut chart, y, (x0 + width / 2.0, v))?;
            }
        }
    }
    Ok(())
}

/// Narrowest bar, in pixels, that gets its value written above it.
const LABEL_PX: f64 = 64.0;

/// The median above its bar (above the whisker with repeats).
fn value_label(
    chart: &mut super::plot::Plot<'_, '_>,
    y: &Axis,
    (x, s): (f64, &Stat),
) -> DrawResult {
    if y.log && s.value <= 0.0 {
        return Ok(());
    }
    let top = y.to_plot(s.max.max(s.value).min(y.hi));
    let text = Text::new(
        (y.label)(s.value),
        (0, -6),
        super::font(16.0).pos(Pos::new(HPos::Center, VPos::Bottom)),
    );
    chart.draw_series(std::iter::once(EmptyElement::at((x, top)) + text))?;
    Ok(())
}

/// One bar from the bottom of the axis to the median, its whisker, or a
/// note at the bottom when there is nothing to draw.
fn draw_bar(
    chart: &mut super::plot::Plot<'_, '_>,
    y: &Axis,
    (x0, x1): (f64, f64),
    color: RGBColor,
    v: Option<&Stat>,
) -> DrawResult {
    let bottom = y.to_plot(y.lo);
    let mid = (x0 + x1) / 2.0;
    let note = |text: &str| {
        EmptyElement::at((mid, bottom))
            + Text::new(
                text.to_string(),
                (0, -6),
                muted(15.0).pos(Pos::new(HPos::Center, VPos::Bottom)),
            )
    };
    let Some(s) = v else {
        chart.draw_series(std::iter::once(note("n/a")))?;
        return Ok(());
    };
    if y.log && s.value <= 0.0 {
        chart.draw_series(std::iter::once(note("0")))?;
        return Ok(());
    }
    let top = y.to_plot(s.value).min(y.to_plot(y.hi));
    chart.draw_series(std::iter::once(Rectangle::new(
        [(x0, bottom), (x1, top)],
        color.filled(),
    )))?;
    if s.has_spread() {
        let (lo, hi) = (y.to_plot(s.min.max(y.lo)), y.to_plot(s.max.min(y.hi)));
        let cap = (x1 - x0) * 0.25;
        let style = INK.stroke_width(2);
        chart.draw_series([
            PathElement::new(vec![(mid, lo), (mid, hi)], style),
            PathElement::new(vec![(mid - cap, lo), (mid + cap, lo)], style),
            PathElement::new(vec![(mid - cap, hi), (mid + cap, hi)], style),
        ])?;
    }
    Ok(())
}
