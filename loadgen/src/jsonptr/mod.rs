//! JSON Pointers (RFC 6901) resolved in one streaming pass over borrowed
//! bytes: the load generator reads a cursor or a message list out of a
//! foreign server's answer without building a `serde_json::Value` tree per
//! message (that allocation would be most of a client's CPU). A
//! hand-written scanner (`scan`) answers first; serde_json decides whatever
//! the scanner is not certain of, so both give the same answers and errors.

mod scan;
#[cfg(test)]
mod tests;

use crate::wire::Str;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;

/// A parsed pointer: `/messages/0/id` → `["messages", "0", "id"]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Pointer {
    segments: Vec<String>,
}

impl Pointer {
    /// `""` is the whole document; otherwise it must start with `/`.
    pub fn parse(s: &str) -> Result<Pointer, String> {
        if s.is_empty() {
            return Ok(Pointer::default());
        }
        let Some(rest) = s.strip_prefix('/') else {
            return Err(format!(
                "'{s}' is not a JSON pointer: it must start with '/' (e.g. /messages or /data/id)"
            ));
        };
        let segments = rest
            .split('/')
            .map(|seg| seg.replace("~1", "/").replace("~0", "~"))
            .collect();
        Ok(Pointer { segments })
    }

    /// The whole document.
    pub fn is_root(&self) -> bool {
        self.segments.is_empty()
    }

    /// The value the pointer names, as raw JSON text borrowed from `json`;
    /// `None` when the path does not exist. Errors only for invalid JSON.
    pub fn find<'a>(&self, json: &'a [u8]) -> Result<Option<&'a str>, serde_json::Error> {
        if let Ok(found) = scan::find(json, &self.segments)
            && let Ok(raw) = found.map(|at| std::str::from_utf8(&json[at])).transpose()
        {
            return Ok(raw);
        }
        self.find_serde(json)
    }

    /// [`Pointer::find`] by serde_json alone: the reference the scanner
    /// must agree with.
    pub(crate) fn find_serde<'a>(
        &self,
        json: &'a [u8],
    ) -> Result<Option<&'a str>, serde_json::Error> {
        let mut de = serde_json::Deserializer::from_slice(json);
        let found = Walk(&self.segments).deserialize(&mut de)?;
        de.end()?;
        Ok(found.map(RawValue::get))
    }

    /// The value as text: a string's contents (unescaped), or a number's or
    /// boolean's literal. `None` for a missing path, `null`, or a container.
    pub fn find_str<'a>(&self, json: &'a [u8]) -> Result<Option<Cow<'a, str>>, serde_json::Error> {
        Ok(self.find(json)?.and_then(scalar_text))
    }
}

/// A scalar's text: strings unescaped (borrowed when they have no escapes).
pub fn scalar_text(raw: &str) -> Option<Cow<'_, str>> {
    match raw.as_bytes().first()? {
        b'"' => match raw[1..].strip_suffix('"') {
            // Nothing to unescape or refuse: serde_json would borrow the
            // same text.
            Some(inner) if !inner.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) => {
                Some(Cow::Borrowed(inner))
            }
            _ => serde_json::from_str::<Str<'_>>(raw).ok().map(|s| s.0),
        },
        b'{' | b'[' | b'n' => None,
        _ => Some(Cow::Borrowed(raw)),
    }
}

/// The elements of a JSON array, as raw text borrowed from `raw`; `None` if
/// `raw` is not an array.
pub fn array_items(raw: &str) -> Option<Vec<&str>> {
    if let Ok(spans) = scan::array_items(raw.as_bytes())
        && let Some(items) = spans.into_iter().map(|at| raw.get(at)).collect()
    {
        return Some(items);
    }
    let items = serde_json::from_str::<Vec<&RawValue>>(raw).ok()?;
    Some(items.into_iter().map(RawValue::get).collect())
}

/// A truthy value: `true`, a non-zero number, a non-empty string.
pub fn truthy(raw: &str) -> bool {
    match raw {
        "true" => true,
        "false" | "null" | "\"\"" | "0" => false,
        t => !t.starts_with('{') && !t.starts_with('['),
    }
}

struct Walk<'p>(&'p [String]);

impl<'de, 'p> DeserializeSeed<'de> for Walk<'p> {
    type Value = Option<&'de RawValue>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        if self.0.is_empty() {
            return <&'de RawValue as serde::Deserialize>::deserialize(d).map(Some);
        }
        d.deserialize_any(self)
    }
}

impl<'de, 'p> Visitor<'de> for Walk<'p> {
    type Value = Option<&'de RawValue>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let (want, rest) = self
            .0
            .split_first()
            .unwrap_or_else(|| unreachable!("non-empty"));
        let mut found = None;
        while let Some(key) = map.next_key::<Str<'de>>()? {
            // A repeated key: the last one wins, as in JavaScript and
            // serde_json (found by fuzzing).
            if *key == **want {
                found = map.next_value_seed(Walk(rest))?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let (want, rest) = self
            .0
            .split_first()
            .unwrap_or_else(|| unreachable!("non-empty"));
        // RFC 6901: "0" or digits without a leading zero (found by fuzzing).
        let index = scan::index(want);
        let mut found = None;
        let mut i = 0;
        loop {
            if Some(i) == index {
                match seq.next_element_seed(Walk(rest))? {
                    Some(v) => found = v,
                    None => break,
                }
            } else if seq.next_element::<IgnoredAny>()?.is_none() {
                break;
            }
            i += 1;
        }
        Ok(found)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}
