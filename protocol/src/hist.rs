//! HdrHistograms as result files carry them: base64 of the V2 serialization,
//! values in µs. One codec and one summary for the load generator that writes
//! them and the reports that merge them, so a merged file and a single file
//! of the same data show the same percentiles. (Feature `hist`.)

use crate::results::LatencySummary;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer, V2Serializer};

/// Significant digits of every histogram rtbench records (docs/architecture.md, "Measurement").
pub const SIGFIG: u8 = 3;

/// An empty µs histogram that grows to fit whatever is added to it.
pub fn empty() -> Histogram<u64> {
    // Not file data: 3 significant digits is always a valid precision.
    let mut h = Histogram::new(SIGFIG).expect("3 significant digits is a valid precision");
    h.auto(true);
    h
}

/// Decodes base64 V2 (or V2 + DEFLATE). An empty string is an empty histogram:
/// a result file has one where nothing was measured (no publish round trips
/// when publishing over WebSocket).
pub fn decode(b64: &str) -> Result<Histogram<u64>, String> {
    if b64.trim().is_empty() {
        return Ok(empty());
    }
    let bytes = STANDARD
        .decode(b64.trim())
        .map_err(|e| format!("histogram is not base64: {e}"))?;
    let mut h: Histogram<u64> = Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(|e| format!("histogram does not deserialize: {e:?}"))?;
    // A deserialized histogram has the range of the file it came from; let
    // the addition of a file with a wider range (a slower machine) fit.
    h.auto(true);
    Ok(h)
}

/// Base64 of the uncompressed V2 serialization (the result file is JSON
/// text anyway, and V2 is what every HdrHistogram port reads).
pub fn encode(h: &Histogram<u64>) -> String {
    let mut buf = Vec::new();
    // Serializing into a Vec cannot fail for a valid histogram; an empty
    // string still decodes (as empty) rather than corrupting the file.
    if V2Serializer::new().serialize(h, &mut buf).is_err() {
        return String::new();
    }
    STANDARD.encode(buf)
}

/// Adds `b` into `a` exactly (every bucket count).
pub fn add(a: &mut Histogram<u64>, b: &Histogram<u64>) -> Result<(), String> {
    a.add(b)
        .map_err(|e| format!("histograms cannot be added: {e:?}"))
}

/// The summary the result file stores next to a histogram.
pub fn summarize(h: &Histogram<u64>) -> LatencySummary {
    if h.is_empty() {
        return LatencySummary::default();
    }
    LatencySummary {
        count: h.len(),
        min_us: h.min(),
        mean_us: round2(h.mean()),
        stdev_us: round2(h.stdev()),
        p50_us: h.value_at_quantile(0.5),
        p90_us: h.value_at_quantile(0.9),
        p95_us: h.value_at_quantile(0.95),
        p99_us: h.value_at_quantile(0.99),
        p999_us: h.value_at_quantile(0.999),
        max_us: h.max(),
    }
}

pub fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_add_and_summarize() {
        let mut a = empty();
        let mut b = empty();
        for v in 1..=1000u64 {
            a.record(v).ok();
            b.record(v * 100).ok();
        }
        let mut a2 = decode(&encode(&a)).expect("decodes");
        assert_eq!(summarize(&a2), summarize(&a));
        add(&mut a2, &decode(&encode(&b)).expect("decodes")).expect("adds");
        assert_eq!(a2.len(), 2000);
        assert_eq!(summarize(&a2).max_us, b.highest_equivalent(100_000));
        assert!(decode("not base64!").is_err());
        assert!(decode("").is_ok_and(|h| h.is_empty()));
    }
}
