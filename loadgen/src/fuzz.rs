//! Fuzz targets for the parsers this crate wrote itself (driven for a
//! bounded time by `scripts/fuzz.sh`, not by the test suite). Each takes
//! arbitrary bytes, must not panic, and checks a property that a wrong
//! parser would break; a violated property panics with the input.

use crate::jsonptr::Pointer;
use crate::marker::{self, Stamp};
use crate::wire::SseParser;

/// Markers: never panic on any bytes; a valid marker inside noise (which
/// cannot contain one) is found with its exact fields.
pub fn marker(data: &[u8]) {
    let _ = marker::find_all(data).count();
    if data.len() < 24 {
        return;
    }
    let n = |i: usize| u64::from_le_bytes(data[i..i + 8].try_into().unwrap_or([0; 8]));
    let stamp = Stamp {
        run: n(0) as u32,
        publisher: (n(8) % 100_000) as u32,
        seq: n(16) >> 8,
        sent_us: n(8) >> 4,
    };
    let noise: Vec<u8> = data[24..]
        .iter()
        .map(|b| if *b == b'r' { b'q' } else { *b })
        .collect();
    let cut = noise.len() / 2;
    let mut text = noise[..cut].to_vec();
    text.extend_from_slice(stamp.payload(40 + cut % 64).as_bytes());
    text.extend_from_slice(&noise[cut..]);
    assert_eq!(
        marker::find_first(&text),
        Some(stamp),
        "marker lost in {text:?}"
    );
}

/// SSE: never panic; the same stream fed whole or split at any points
/// yields the same events.
pub fn sse(data: &[u8]) {
    let collect = |chunks: &[&[u8]]| {
        let mut p = SseParser::default();
        let mut out = Vec::new();
        for c in chunks {
            let r = p.feed(c, |e| {
                out.push((
                    e.event.to_string(),
                    e.data.to_vec(),
                    e.id.map(str::to_string),
                ))
            });
            if r.is_err() {
                return None;
            }
        }
        Some(out)
    };
    let whole = collect(&[data]);
    let mut chunks = Vec::new();
    let mut rest = data;
    let mut step = 1;
    while !rest.is_empty() {
        let k = step.min(rest.len());
        chunks.push(&rest[..k]);
        rest = &rest[k..];
        step = step * 3 % 17 + 1;
    }
    let split = collect(&chunks);
    if let (Some(a), Some(b)) = (whole, split) {
        assert_eq!(a, b, "chunking changed the events of {data:?}");
    }
}

/// JSON pointers: never panic; the fast scanner gives exactly the
/// serde_json path's answers (or fails where it fails); on valid JSON,
/// agree with serde_json's own `Value::pointer` for scalars.
pub fn json_pointer(data: &[u8]) {
    let (ptr, doc) = match data.iter().position(|b| *b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&b"/a"[..], data),
    };
    let Ok(ptr) = std::str::from_utf8(ptr) else {
        return;
    };
    let Ok(p) = Pointer::parse(ptr) else { return };
    let (fast, slow) = (p.find(doc), p.find_serde(doc));
    assert!(
        fast.as_ref().ok() == slow.as_ref().ok() && fast.is_err() == slow.is_err(),
        "pointer {ptr:?} in {doc:?}: fast {fast:?}, serde_json {slow:?}"
    );
    if let Ok(text) = std::str::from_utf8(doc) {
        let slow = serde_json::from_str::<Vec<&serde_json::value::RawValue>>(text)
            .ok()
            .map(|v| v.into_iter().map(|r| r.get()).collect::<Vec<_>>());
        assert_eq!(crate::jsonptr::array_items(text), slow, "items of {text:?}");
    }
    let mine = p.find_str(doc);
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(doc) {
        let theirs = v.pointer(ptr).and_then(|x| match x {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            serde_json::Value::Bool(b) => Some(b.to_string()),
            _ => None,
        });
        let mine = mine.ok().flatten().map(|c| c.into_owned());
        // Numbers may print differently (1.0 vs 1e0): compare as numbers then.
        let same = mine == theirs
            || matches!((&mine, &theirs), (Some(a), Some(b)) if a.parse::<f64>().ok().is_some() && a.parse::<f64>().ok() == b.parse::<f64>().ok());
        assert!(
            same,
            "pointer {ptr:?} in {doc:?}: mine {mine:?}, serde_json {theirs:?}"
        );
    }
}

/// Profiles: arbitrary text never panics the parser (errors are fine).
pub fn profile(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = crate::profile::Profile::parse(text, "fuzz.toml");
    }
}
