//! The latency distribution of every transport on one chart, drawn the way
//! HdrHistogram's plotter does: latency against "1 in N" on a log axis, so
//! the median, the 99th and the 99.99th percentile get the same width and the
//! tail, where transports differ most, is not squeezed into the right edge.

use super::plot::{self, Axis, Line};
use super::{Chart, Swatch, color, entry_legend, header, legend, log_bounds_of, png};
use crate::Error;
use crate::hist;
use crate::merge::Group;

pub(crate) fn chart(g: &Group, prefix: &str) -> Result<Chart, Error> {
    let file = format!("{prefix}latency-percentiles.png");
    let title = "Latency by percentile";
    let curves: Vec<Line> = g
        .entries
        .iter()
        .map(|e| Line {
            color: color(e, g),
            points: hist::percentile_curve(&e.latency)
                .into_iter()
                .map(|(x, us)| (x, (us / 1e3).max(0.001)))
                .collect(),
            markers: false,
        })
        .collect();
    let all = || curves.iter().flat_map(|c| c.points.iter());
    let x_max = all().map(|p| p.0).fold(10.0, f64::max);
    // Up to the decade that holds the rarest measured quantile: 10,000
    // deliveries reach 99.99%, and an empty decade beyond would waste width.
    // (9,200 deliveries: up to 1 in 10,000, i.e. 99.99%).
    let x_hi = 10f64.powf((x_max.log10() - 0.02).ceil()).max(100.0);
    let (y_lo, y_hi) = log_bounds_of(all().map(|p| p.1));
    let deliveries: u64 = g.entries.iter().map(|e| e.latency.len()).sum();
    let subtitle = format!(
        "Delivery latency (receive − intended send) of {} deliveries in the measured window; lower is better",
        crate::format::thousands(deliveries)
    );
    let caption = "Each line is one transport's latency distribution. Read across: at 99% (1 in 100 deliveries) \
                   a line's height is its p99. Both axes are logarithmic; a flat line is a predictable transport, \
                   a steep right end is a tail of slow deliveries.";
    png(&file, title, caption, |root| {
        let area = header(root, title, &subtitle)?;
        let area = legend(&area, &entry_legend(g, Swatch::Line))?;
        let decades = x_hi.log10().round() as i32;
        let x = Axis {
            lo: 1.0,
            hi: x_hi,
            log: true,
            ticks: (0..=decades).map(|d| 10f64.powi(d)).collect(),
            label: Box::new(percentile_label),
            desc: "Percentile (log scale: 90% = 1 in 10 deliveries, 99% = 1 in 100, …)".into(),
        };
        let y = Axis::log_ms(y_lo, y_hi, "Latency (log scale)");
        plot::panel(&area, None, &x, &y, &curves, None)
    })
}

/// `1 in N` → the percentile it stands for: 1 → `0%`, 10 → `90%`, 1000 → `99.9%`.
fn percentile_label(x: f64) -> String {
    let p = 100.0 * (1.0 - 1.0 / x);
    if p <= 0.0 {
        return "0%".into();
    }
    let decimals = (x.log10().round() as i32 - 2).max(0) as usize;
    format!("{:.*}%", decimals, p)
}

#[cfg(test)]
mod tests {
    use super::percentile_label;

    #[test]
    fn labels() {
        assert_eq!(percentile_label(1.0), "0%");
        assert_eq!(percentile_label(10.0), "90%");
        assert_eq!(percentile_label(100.0), "99%");
        assert_eq!(percentile_label(1000.0), "99.9%");
        assert_eq!(percentile_label(100_000.0), "99.999%");
    }
}
