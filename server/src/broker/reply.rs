//! Redis replies to stream reads, as entries (id, kind, body).

use protocol::Kind;
use redis::Value;

pub(super) fn kind_str(kind: Kind) -> &'static str {
    match kind {
        Kind::Message => "message",
        Kind::System => "system",
        Kind::Presence => "presence",
        Kind::Typing => "typing",
    }
}

fn parse_kind(s: &[u8]) -> Option<Kind> {
    Some(match s {
        b"message" => Kind::Message,
        b"system" => Kind::System,
        b"presence" => Kind::Presence,
        b"typing" => Kind::Typing,
        _ => return None,
    })
}

/// One stream entry: (id N of `0-N`, kind, body JSON).
pub(super) type Entry = (u64, Kind, Vec<u8>);

fn bytes(v: &Value) -> Option<&[u8]> {
    match v {
        Value::BulkString(b) => Some(b),
        Value::SimpleString(s) => Some(s.as_bytes()),
        _ => None,
    }
}

fn items(v: Value) -> Vec<Value> {
    match v {
        Value::Array(a) | Value::Set(a) => a,
        Value::Map(m) => m.into_iter().flat_map(|(k, v)| [k, v]).collect(),
        _ => Vec::new(),
    }
}

/// `[[id, [field, value, ...]], ...]` → entries (malformed ones skipped).
pub(super) fn parse_entries(v: Value) -> Vec<Entry> {
    items(v)
        .into_iter()
        .filter_map(|e| {
            let mut e = items(e).into_iter();
            let id = e.next()?;
            let id = std::str::from_utf8(bytes(&id)?).ok()?;
            let n: u64 = id.strip_prefix("0-")?.parse().ok()?;
            let fields = items(e.next()?);
            let (mut kind, mut body) = (None, None);
            for pair in fields.chunks(2) {
                match (pair.first().and_then(bytes), pair.get(1).and_then(bytes)) {
                    (Some(b"k"), Some(k)) => kind = parse_kind(k),
                    (Some(b"b"), Some(b)) => body = Some(b.to_vec()),
                    _ => {}
                }
            }
            Some((n, kind?, body?))
        })
        .collect()
}

/// XREAD's answer: `[[key, entries], ...]` (or a map in RESP3); nil on timeout.
pub(super) fn parse_streams(v: Value) -> Vec<(String, Vec<Entry>)> {
    let list = items(v);
    let mut out = Vec::new();
    let mut it = list.into_iter().peekable();
    while let Some(x) = it.next() {
        // RESP2: each element is [key, entries]; RESP3 map: key, entries flattened.
        let (key, entries) = match x {
            Value::Array(pair) if pair.len() == 2 => {
                let mut p = pair.into_iter();
                match (p.next(), p.next()) {
                    (Some(k), Some(e)) => (k, e),
                    _ => continue,
                }
            }
            k => match it.next() {
                Some(e) => (k, e),
                None => break,
            },
        };
        let Some(key) = bytes(&key).and_then(|b| std::str::from_utf8(b).ok()) else {
            continue;
        };
        out.push((key.to_string(), parse_entries(entries)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stream_replies() {
        let entry = |id: &str, k: &str, b: &str| {
            Value::Array(vec![
                Value::BulkString(id.as_bytes().to_vec()),
                Value::Array(vec![
                    Value::BulkString(b"k".to_vec()),
                    Value::BulkString(k.as_bytes().to_vec()),
                    Value::BulkString(b"b".to_vec()),
                    Value::BulkString(b.as_bytes().to_vec()),
                ]),
            ])
        };
        let v = Value::Array(vec![Value::Array(vec![
            Value::BulkString(b"rtb:r1:s".to_vec()),
            Value::Array(vec![
                entry("0-7", "message", "{}"),
                entry("1-1", "message", "{}"),
                entry("0-8", "bogus", "{}"),
                entry("0-9", "presence", "{\"users\":[]}"),
            ]),
        ])]);
        let s = parse_streams(v);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].0, "rtb:r1:s");
        let ids: Vec<u64> = s[0].1.iter().map(|e| e.0).collect();
        assert_eq!(ids, [7, 9], "foreign ids and unknown kinds are skipped");
        assert!(parse_streams(Value::Nil).is_empty());
    }
}
