//! PNG charts drawn with plotters into an RGB buffer and encoded with the
//! `image` crate. Text is rendered by ab_glyph from the bundled DejaVu Sans
//! (`assets/`), so nothing here needs fontconfig or freetype.
//!
//! Every chart follows one layout, so a page of them reads as a set: a title
//! and subtitle at the top left, a legend strip under them (drawn here rather
//! than plotters' floating box, which can cover data), then the plot(s). Each
//! transport keeps one color everywhere ([`color`]), the HTML included.
//!
//! - `plot`: the one line-chart panel all line charts use (linear or log axes).
//! - `percentiles`: the latency distribution ("1 in N" axis).
//! - `time`: latency, deliveries/s and requests/s over the run.
//! - `load`: a staged run's latency against clients connected and publish rate.
//! - `bars`: bytes per message (payload vs overhead), server CPU and memory.
//! - `matrix`: p99 latency and bytes per message against a matrix axis.
//! - `grouped`: grouped bars over categories (networks), medians with ranges.
//! - `network`: latency and wire cost per network; radio energy and radio-on time.

mod bars;
mod grouped;
mod load;
mod matrix;
mod network;
mod percentiles;
mod plot;
mod time;

use crate::Error;
use crate::matrix::Line;
use crate::merge::{Comparison, Entry, Group};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;
use protocol::Transport;
use std::sync::OnceLock;

pub(crate) use matrix::matrix_charts;
pub(crate) use network::{network_charts, radio_charts, same, series_keys};

/// Size of every PNG: 16:9, large enough that text stays readable when the
/// HTML scales the image down to a column.
pub const WIDTH: u32 = 1400;
pub const HEIGHT: u32 = 788;

/// The bundled font (DejaVu Sans, Bitstream Vera license: assets/DejaVuSans-LICENSE.txt).
static FONT: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");
/// Registered under the name plotters uses by default, so every text finds it.
pub(crate) const FAMILY: &str = "sans-serif";

pub(crate) type DrawResult<T = ()> = Result<T, Box<dyn std::error::Error>>;
pub(crate) type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;

/// One chart, drawn and encoded.
#[derive(Debug, Clone)]
pub struct Chart {
    /// File name (`latency-percentiles.png`), also the stem of element ids.
    pub file: String,
    pub title: String,
    /// What to look at, for the figure caption.
    pub caption: String,
    pub png: Vec<u8>,
}

fn register_font() -> Result<(), Error> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED
        .get_or_init(|| plotters::style::register_font(FAMILY, FontStyle::Normal, FONT).is_ok());
    if ok {
        Ok(())
    } else {
        Err(Error::Chart {
            name: "font".into(),
            why: "the bundled DejaVu Sans does not load".into(),
        })
    }
}

/// Colorblind-safe (Okabe–Ito) colors, one per transport, as `#rrggbb` for the HTML.
pub fn color_hex(t: Transport) -> &'static str {
    match t {
        Transport::ShortPoll => "#d55e00",
        Transport::LongPoll => "#cc79a7",
        Transport::Sse => "#009e73",
        Transport::Ws => "#0072b2",
        Transport::SocketIo => "#e69f00",
        Transport::SocketIoPolling => "#56b4e9",
        Transport::WebTransport => "#000000",
        Transport::WebTransportDatagram => "#999999",
    }
}

/// The transport's color; a second entry of one transport (another poll
/// interval) gets a darker shade, a third a lighter one.
pub fn color(e: &Entry, group: &Group) -> RGBColor {
    let hex = color_hex(e.transport);
    let parse = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).unwrap_or(0);
    let (r, g, b) = (parse(1), parse(3), parse(5));
    let nth = group
        .entries
        .iter()
        .filter(|o| o.transport == e.transport)
        .position(|o| std::ptr::eq(o, e))
        .unwrap_or(0);
    let shade = |c: u8, f: f64| -> u8 {
        if f < 1.0 {
            (c as f64 * f) as u8
        } else {
            (c as f64 + (255.0 - c as f64) * (f - 1.0)) as u8
        }
    };
    let f = match nth {
        0 => 1.0,
        1 => 0.6,
        2 => 1.45,
        _ => 0.4,
    };
    RGBColor(shade(r, f), shade(g, f), shade(b, f))
}

pub(crate) const INK: RGBColor = RGBColor(0x1f, 0x29, 0x37);
pub(crate) const MUTED: RGBColor = RGBColor(0x5b, 0x65, 0x73);
pub(crate) const GRID: RGBColor = RGBColor(0xe5, 0xe7, 0xeb);
pub(crate) const BAND: RGBColor = RGBColor(0xee, 0xf2, 0xf7);

pub(crate) fn font(size: f64) -> TextStyle<'static> {
    (FAMILY, size).into_font().color(&INK)
}

pub(crate) fn muted(size: f64) -> TextStyle<'static> {
    (FAMILY, size).into_font().color(&MUTED)
}

/// Draws `f` on a WIDTH×HEIGHT white canvas and returns the PNG bytes.
pub(crate) fn png(
    file: &str,
    title: &str,
    caption: &str,
    f: impl FnOnce(&Area<'_>) -> DrawResult,
) -> Result<Chart, Error> {
    register_font()?;
    let err = |why: String| Error::Chart {
        name: file.to_string(),
        why,
    };
    let mut buf = vec![0u8; WIDTH as usize * HEIGHT as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
        f(&root).map_err(|e| err(e.to_string()))?;
        root.present().map_err(|e| err(e.to_string()))?;
    }
    let mut out = Vec::new();
    image::ImageEncoder::write_image(
        image::codecs::png::PngEncoder::new(&mut out),
        &buf,
        WIDTH,
        HEIGHT,
        image::ColorType::Rgb8,
    )
    .map_err(|e| err(format!("PNG encoding: {e}")))?;
    Ok(Chart {
        file: file.to_string(),
        title: title.to_string(),
        caption: caption.to_string(),
        png: out,
    })
}

/// Title and subtitle at the top left; returns the area below them.
pub(crate) fn header<'a>(root: &Area<'a>, title: &str, subtitle: &str) -> DrawResult<Area<'a>> {
    let (top, rest) = root.split_vertically(86);
    top.draw_text(title, &font(30.0), (28, 18))?;
    top.draw_text(subtitle, &muted(19.0), (28, 56))?;
    Ok(rest)
}

/// A panel's heading above its plot when given, its left edge at `x`;
/// returns the area below it.
pub(crate) fn headed<'a>(area: &Area<'a>, heading: Option<&str>, x: i32) -> DrawResult<Area<'a>> {
    Ok(match heading {
        Some(h) => {
            let (top, rest) = area.split_vertically(34);
            top.draw_text(h, &font(21.0), (x, 6))?;
            rest
        }
        None => area.clone(),
    })
}

/// Header and the transports' legend, then two panels side by side.
pub(crate) fn two_panels<'a>(
    root: &Area<'a>,
    title: &str,
    subtitle: &str,
    g: &Group,
    swatch: Swatch,
) -> DrawResult<(Area<'a>, Area<'a>)> {
    let area = header(root, title, subtitle)?;
    let area = legend(&area, &entry_legend(g, swatch))?;
    Ok(area.split_horizontally(area.dim_in_pixel().0 / 2))
}

/// Legend items (swatch + label), left-aligned under the header, in as many
/// rows as the width needs; returns the area below them.
pub(crate) fn legend<'a>(
    area: &Area<'a>,
    items: &[(String, RGBColor, Swatch)],
) -> DrawResult<Area<'a>> {
    const ROW: i32 = 44;
    let style = font(20.0);
    let width = area.dim_in_pixel().0 as i32;
    // Each item's place: (x, row).
    let mut places = Vec::with_capacity(items.len());
    let (mut x, mut row) = (28, 0);
    for (label, _, _) in items {
        let (w, _) = area.estimate_text_size(label, &style)?;
        let need = 40 + w as i32;
        if x > 28 && x + need > width - 20 {
            (x, row) = (28, row + 1);
        }
        places.push((x, row * ROW));
        x += need + 36;
    }
    let (strip, rest) = area.split_vertically((row + 1) * ROW);
    for ((label, color, swatch), (x, y)) in items.iter().zip(places) {
        match swatch {
            Swatch::Line => {
                strip.draw(&PathElement::new(
                    vec![(x, y + 18), (x + 30, y + 18)],
                    color.stroke_width(4),
                ))?;
            }
            Swatch::Box => {
                strip.draw(&Rectangle::new(
                    [(x + 4, y + 8), (x + 26, y + 28)],
                    color.filled(),
                ))?;
            }
        }
        strip.draw_text(label, &style, (x + 40, y + 7))?;
    }
    Ok(rest)
}

/// Legend swatch shape: lines for line charts, boxes for bars.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Swatch {
    Line,
    Box,
}

pub(crate) fn entry_legend(g: &Group, swatch: Swatch) -> Vec<(String, RGBColor, Swatch)> {
    g.entries
        .iter()
        .map(|e| (e.label.clone(), color(e, g), swatch))
        .collect()
}

/// "Nice" tick values for a log axis from `lo` to `hi`: powers of ten, with
/// 2 and 5 between them when the range spans few decades.
pub(crate) fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let (a, b) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
    // About eight labels: 1-2-5 over up to 2.5 decades, 1-3 up to 4.5, then powers of ten.
    let span = (hi / lo).log10();
    let steps: &[f64] = if span <= 2.5 {
        &[1.0, 2.0, 5.0]
    } else if span <= 4.5 {
        &[1.0, 3.0]
    } else {
        &[1.0]
    };
    let mut out = Vec::new();
    for e in a..=b {
        for s in steps {
            // Divide for negative exponents: 3 / 10 is 0.3, 3 × 0.1 is not.
            let v = if e < 0 {
                s / 10f64.powi(-e)
            } else {
                s * 10f64.powi(e)
            };
            if v >= lo * 0.999 && v <= hi * 1.001 {
                out.push(v);
            }
        }
    }
    out
}

/// Bounds of a log axis that contain `lo..hi` with a little air, snapped out
/// to 1, 2 or 5 × a power of ten so the end ticks are round numbers.
pub(crate) fn log_bounds(lo: f64, hi: f64) -> (f64, f64) {
    let lo = lo.max(1e-9);
    let hi = hi.max(lo * 10.0);
    let down = |v: f64| {
        let p = 10f64.powf(v.log10().floor());
        [5.0, 2.0, 1.0]
            .into_iter()
            .map(|m| m * p)
            .find(|c| *c <= v)
            .unwrap_or(p)
    };
    let up = |v: f64| {
        let p = 10f64.powf(v.log10().floor());
        [1.0, 2.0, 5.0, 10.0]
            .into_iter()
            .map(|m| m * p)
            .find(|c| *c >= v)
            .unwrap_or(10.0 * p)
    };
    (down(lo / 1.15), up(hi * 1.15))
}

/// [`log_bounds`] around the positive `values` (a log axis has no 0).
pub(crate) fn log_bounds_of(values: impl Iterator<Item = f64> + Clone) -> (f64, f64) {
    let positive = values.filter(|v| *v > 0.0);
    log_bounds(
        positive.clone().fold(f64::INFINITY, f64::min).min(1e9),
        positive.fold(0.0, f64::max),
    )
}

/// A linear axis from 0 that holds `hi` with a little air: about `target`
/// steps of 1, 2, 2.5 or 5 × 10^n. Returns the upper bound and the ticks.
pub(crate) fn linear_ticks(hi: f64, target: usize) -> (f64, Vec<f64>) {
    let hi = if hi > 0.0 && hi.is_finite() {
        hi * 1.06
    } else {
        1.0
    };
    let raw = hi / target.max(1) as f64;
    let p = 10f64.powf(raw.log10().floor());
    // The step whose tick count is closest to the target (then the tighter bound).
    let count = |step: f64| (hi / step).ceil().max(1.0) as usize;
    let step = [1.0, 2.0, 2.5, 5.0, 10.0, 20.0]
        .into_iter()
        .map(|m| m * p)
        .min_by_key(|&st| (count(st).abs_diff(target), count(st)))
        .unwrap_or(p);
    let n = count(step);
    (n as f64 * step, (0..=n).map(|i| i as f64 * step).collect())
}

/// Milliseconds as an axis label: `0.1 ms`, `20 ms`, `1 s`.
pub(crate) fn ms_label(ms: f64) -> String {
    crate::format::secs(ms / 1e3)
}

/// Whole bytes as an axis label: `750 B`, `1,250 B` (one unit along the axis).
pub(crate) fn bytes_label(b: f64) -> String {
    format!("{} B", crate::format::thousands(b.round() as u64))
}

/// The measured window of an entry's series, in seconds since the run started.
pub(crate) fn measured_window(e: &Entry) -> Option<(f64, f64)> {
    use protocol::results::Phase;
    let m: Vec<u64> = e
        .merged
        .series
        .iter()
        .filter(|s| s.phase == Some(Phase::Measure))
        .map(|s| s.t_secs)
        .collect();
    Some(((*m.first()?).saturating_sub(1) as f64, *m.last()? as f64))
}

/// File names get a `sN-` prefix when a report holds several scenarios.
pub(crate) fn prefix(c: &Comparison, group: usize) -> String {
    if c.groups.len() > 1 {
        format!("s{}-", group + 1)
    } else {
        String::new()
    }
}

/// Every chart of one scenario, in page order.
pub(crate) fn group_charts(c: &Comparison, index: usize) -> Result<Vec<Chart>, Error> {
    let g = &c.groups[index];
    let p = prefix(c, index);
    let mut out = vec![
        percentiles::chart(g, &p)?,
        time::latency(g, &p)?,
        time::rates(g, &p)?,
        bars::bytes(g, &p)?,
    ];
    if g.entries.iter().any(|e| e.merged.server.is_some()) {
        out.push(bars::server(g, &p)?);
    }
    out.extend(load::latency_vs_load(g, &p)?);
    Ok(out)
}

/// Matrix charts, one pair per axis line.
pub(crate) fn all_matrix_charts(c: &Comparison, lines: &[Line]) -> Result<Vec<Chart>, Error> {
    let mut out = Vec::new();
    for line in lines {
        out.extend(matrix_charts(c, line)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes() {
        assert_eq!(
            log_ticks(0.1, 1000.0),
            [0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0]
        );
        assert_eq!(
            log_ticks(0.01, 10000.0),
            [0.01, 0.1, 1.0, 10.0, 100.0, 1000.0, 10000.0]
        );
        assert_eq!(log_ticks(1.0, 50.0), [1.0, 2.0, 5.0, 10.0, 20.0, 50.0]);
        assert_eq!(log_bounds(0.3, 900.0), (0.2, 2000.0));
        assert_eq!(
            linear_ticks(1270.0, 5),
            (
                1500.0,
                vec![0.0, 250.0, 500.0, 750.0, 1000.0, 1250.0, 1500.0]
            )
        );
        assert_eq!(linear_ticks(100.0, 5).0, 125.0);
        assert_eq!(linear_ticks(0.0, 5).1.len(), 6);
        assert_eq!(ms_label(0.5), "0.5 ms");
        assert_eq!(ms_label(2000.0), "2 s");
    }
}
