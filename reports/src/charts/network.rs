//! Charts across networks: delivery latency (p50, p99) and wire cost (bytes
//! and requests per delivered message) per transport on each network, and
//! what the traffic costs a phone's radio (energy, radio-on time) under the
//! LTE and 3G models. Networks are categories, so these are grouped bars,
//! one cluster per network, one color per transport.

use super::grouped::{self, Grouped, Series};
use super::plot::Axis;
use super::{Chart, Swatch, bytes_label, color, header, legend, ms_label, png};
use crate::merge::{Comparison, Entry};
use crate::metric::{self, Metric};
use crate::network::{NetLine, category_labels};
use crate::{Error, Stat, format};

/// One series per transport (and setting) found in `groups`, in order of
/// first appearance, labeled and colored as in the first group that has it.
pub(crate) fn series_keys<'a>(c: &'a Comparison, groups: &[usize]) -> Vec<(&'a Entry, usize)> {
    let mut keys: Vec<(&Entry, usize)> = Vec::new();
    for &g in groups {
        for e in &c.groups[g].entries {
            if !keys.iter().any(|(k, _)| same(k, e)) {
                keys.push((e, g));
            }
        }
    }
    keys
}

/// The same transport with the same setting.
pub(crate) fn same(a: &Entry, b: &Entry) -> bool {
    a.transport == b.transport && a.setting_secs == b.setting_secs
}

/// `m` per transport per group, in the metric's unit × `scale`.
pub(crate) fn grouped(
    c: &Comparison,
    groups: &[usize],
    value: impl Fn(&Entry) -> Option<Stat>,
    scale: f64,
) -> Grouped {
    let series = series_keys(c, groups)
        .into_iter()
        .map(|(e, g)| Series {
            label: e.label.clone(),
            color: color(e, &c.groups[g]),
            values: groups
                .iter()
                .map(|&gi| {
                    let other = c.groups[gi].entries.iter().find(|o| same(o, e))?;
                    let s = value(other)?;
                    Some(Stat {
                        value: s.value * scale,
                        min: s.min * scale,
                        max: s.max * scale,
                        runs: s.runs,
                    })
                })
                .collect(),
        })
        .collect();
    Grouped {
        categories: category_labels(c, groups),
        series,
    }
}

fn metric_grouped(c: &Comparison, groups: &[usize], m: &Metric, scale: f64) -> Grouped {
    grouped(c, groups, |e| e.stat(m.value), scale)
}

/// One panel of a two-panel chart: heading, bars, y axis.
struct Half {
    heading: &'static str,
    bars: Grouped,
    y: Axis,
}

/// Texts of a chart.
struct Texts {
    file: String,
    title: &'static str,
    subtitle: &'static str,
    caption: &'static str,
}

/// Header, the transports' legend, two panels side by side.
fn two(t: Texts, left: Half, right: Half) -> Result<Chart, Error> {
    let items: Vec<_> = left
        .bars
        .series
        .iter()
        .map(|s| (s.label.clone(), s.color, Swatch::Box))
        .collect();
    png(&t.file, t.title, t.caption, |root| {
        let area = header(root, t.title, t.subtitle)?;
        let area = legend(&area, &items)?;
        let (l, r) = area.split_horizontally(area.dim_in_pixel().0 / 2);
        grouped::panel(&l, left.heading, &left.bars, &left.y)?;
        grouped::panel(&r, right.heading, &right.bars, &right.y)
    })
}

/// The two charts of a network line: latency, then wire cost.
pub(crate) fn network_charts(
    c: &Comparison,
    line: &NetLine,
    prefix: &str,
) -> Result<Vec<Chart>, Error> {
    let g = &line.groups;
    let latency = |m: &Metric, heading| {
        let bars = metric_grouped(c, g, m, 1e-3);
        let y = bars.axis(10.0, ms_label, "Latency");
        Half { heading, bars, y }
    };
    let bytes = metric_grouped(c, g, &metric::BYTES_PER_DELIVERY, 1.0);
    let requests = metric_grouped(c, g, &metric::REQUESTS_PER_DELIVERY, 1.0);
    Ok(vec![
        two(
            Texts {
                file: format!("{prefix}network-latency.png"),
                title: "Delivery latency per network",
                subtitle: "One cluster per emulated network (by round-trip time), one bar per transport; lower is better",
                caption: "How much of each transport's latency the network adds: a push stream pays about one round trip per message, \
                          a poll also waits for its next request. A whisker spans the range over repeated runs.",
            },
            latency(&metric::LATENCY_P50, "p50 (median)"),
            latency(&metric::LATENCY_P99, "p99"),
        )?,
        two(
            Texts {
                file: format!("{prefix}network-traffic.png"),
                title: "Wire cost per network",
                subtitle: "Subscribe side, per delivered message: bytes at the socket (left) and HTTP requests (right); lower is better",
                caption: "What each delivered message costs on the wire on each network. A stream counts one request, at connect \
                          (outside the measured window), so push transports show none.",
            },
            Half {
                y: bytes.axis(20.0, bytes_label, "Bytes per delivered message"),
                bars: bytes,
                heading: "Bytes per delivered message",
            },
            Half {
                y: requests.axis(20.0, format::trimmed, "Requests per delivered message"),
                bars: requests,
                heading: "HTTP requests per delivered message",
            },
        )?,
    ])
}

/// Joules as an axis label: `900 J`, `1.5 kJ`.
fn energy_label(j: f64) -> String {
    if j >= 1000.0 {
        format!("{} kJ", format::trimmed(j / 1e3))
    } else {
        format!("{} J", format::trimmed(j))
    }
}

/// A share axis from 0 to 100%.
fn share_axis(desc: &str) -> Axis {
    Axis {
        lo: 0.0,
        // Air above 100%: an always-on radio's bar should not touch the frame.
        hi: 1.06,
        log: false,
        ticks: vec![0.0, 0.25, 0.5, 0.75, 1.0],
        label: Box::new(format::percent),
        desc: desc.into(),
    }
}

/// Radio energy and radio-on time per transport on each network that
/// recorded them, LTE model left, 3G right.
pub(crate) fn radio_charts(c: &Comparison, groups: &[usize]) -> Result<Vec<Chart>, Error> {
    let energy = |m: &Metric, heading| {
        let bars = metric_grouped(c, groups, m, 1.0);
        Half {
            y: bars.axis(f64::INFINITY, energy_label, "Joules per client-hour"),
            bars,
            heading,
        }
    };
    let on = |m: &Metric, heading| Half {
        bars: metric_grouped(c, groups, m, 1.0),
        y: share_axis("Share of the time the radio is on"),
        heading,
    };
    Ok(vec![
        two(
            Texts {
                file: "radio-energy.png".into(),
                title: "Phone radio energy per client-hour",
                subtitle: "Radio energy of one simulated phone per transport, scaled to an hour; lower is better",
                caption: "What the subscribers' traffic costs a phone's cellular radio: every wake-up pays a promotion and \
                          seconds of high-power tail, so traffic that arrives often keeps the radio on.",
            },
            energy(
                &metric::RADIO_LTE_JOULES,
                "LTE (Huang et al., MobiSys 2012)",
            ),
            energy(
                &metric::RADIO_UMTS_JOULES,
                "3G / UMTS (Qian et al., IMC 2010)",
            ),
        )?,
        two(
            Texts {
                file: "radio-on.png".into(),
                title: "Time the phone radio is on",
                subtitle: "Share of the measured window the radio of one simulated phone was out of idle; lower is better",
                caption: "A radio that never reaches idle draws high power all the time, whatever the bytes.",
            },
            on(&metric::RADIO_LTE_ON, "LTE"),
            on(&metric::RADIO_UMTS_ON, "3G / UMTS"),
        )?,
    ])
}
