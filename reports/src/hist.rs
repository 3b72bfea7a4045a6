//! HdrHistogram helpers for the report: the codec and summaries shared with
//! the load generator (`protocol::hist`), plus the percentile curve the
//! latency chart draws.

use hdrhistogram::Histogram;
pub use protocol::hist::{add, decode, empty, encode, round2, summarize};

/// Points of the percentile distribution as HdrHistogram's plotter draws it:
/// `(1 / (1 − quantile), value in µs)`, i.e. "1 in N" on the x axis. The last
/// point is the maximum at the "1 in count" position.
pub fn percentile_curve(h: &Histogram<u64>) -> Vec<(f64, f64)> {
    if h.is_empty() {
        return Vec::new();
    }
    let mut pts: Vec<(f64, f64)> = Vec::new();
    // Beyond "1 in count" there is no data: the iteration's finer quantiles
    // would only repeat the maximum.
    let n = h.len() as f64;
    // 5 ticks per half distance: the resolution of HdrHistogram's own
    // percentile output, dense enough for a smooth curve up to 99.999%.
    // A percentile curve never falls; the iteration's bucket edges and
    // `max()` (the exact maximum, not its bucket's top) can dip by a bucket,
    // so each point is at least the one before it.
    let mut top = 0.0f64;
    for v in h.iter_quantiles(5) {
        let q = v.quantile_iterated_to();
        if q >= 1.0 || 1.0 / (1.0 - q) >= n {
            break;
        }
        top = top.max(h.highest_equivalent(v.value_iterated_to()) as f64);
        pts.push((1.0 / (1.0 - q), top));
    }
    pts.push((
        n.max(pts.last().map_or(1.0, |p| p.0)),
        top.max(h.max() as f64),
    ));
    pts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_curve_never_falls() {
        let mut h = empty();
        let mut x = 12345u64;
        for _ in 0..100_000 {
            // A long-tailed spread across many buckets.
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            h.record(
                1 + (x >> 40) % 20_000
                    + ((x >> 20).is_multiple_of(7)) as u64 * ((x >> 30) % 900_000),
            )
            .ok();
        }
        let pts = percentile_curve(&h);
        assert!(pts.len() > 20);
        for w in pts.windows(2) {
            assert!(w[1].0 >= w[0].0 && w[1].1 >= w[0].1, "{w:?}");
        }
        assert!(
            pts.last().is_some_and(|p| p.1 >= h.max() as f64),
            "ends at the maximum"
        );
    }
}
