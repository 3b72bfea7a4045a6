//! JSON Pointers (RFC 6901) resolved in one streaming pass over borrowed
//! bytes: the load generator reads a cursor or a message list out of a
//! foreign server's answer without building a `serde_json::Value` tree per
//! message (that allocation would be most of a client's CPU).

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

    /// The value the pointer names, as raw JSON borrowed from `json`; `None`
    /// when the path does not exist. Errors only for invalid JSON.
    pub fn find<'a>(&self, json: &'a [u8]) -> Result<Option<&'a RawValue>, serde_json::Error> {
        let mut de = serde_json::Deserializer::from_slice(json);
        let found = Walk(&self.segments).deserialize(&mut de)?;
        de.end()?;
        Ok(found)
    }

    /// The value as text: a string's contents (unescaped), or a number's or
    /// boolean's literal. `None` for a missing path, `null`, or a container.
    pub fn find_str<'a>(&self, json: &'a [u8]) -> Result<Option<Cow<'a, str>>, serde_json::Error> {
        Ok(self.find(json)?.and_then(scalar_text))
    }
}

/// A scalar's text: strings unescaped (borrowed when they have no escapes).
pub fn scalar_text(raw: &RawValue) -> Option<Cow<'_, str>> {
    let text = raw.get();
    match text.as_bytes().first()? {
        b'"' => serde_json::from_str::<Str<'_>>(text).ok().map(|s| s.0),
        b'{' | b'[' | b'n' => None,
        _ => Some(Cow::Borrowed(text)),
    }
}

/// The elements of a JSON array, borrowed raw; `None` if `raw` is not an array.
pub fn array_items(raw: &RawValue) -> Option<Vec<&RawValue>> {
    serde_json::from_str::<Vec<&RawValue>>(raw.get()).ok()
}

/// A truthy value: `true`, a non-zero number, a non-empty string.
pub fn truthy(raw: &RawValue) -> bool {
    match raw.get() {
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
        let index: Option<usize> = (want == "0"
            || (!want.starts_with('0') && want.bytes().all(|b| b.is_ascii_digit())))
        .then(|| want.parse().ok())
        .flatten();
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

#[cfg(test)]
mod tests {
    use super::*;

    fn s(ptr: &str, json: &str) -> Option<String> {
        Pointer::parse(ptr)
            .expect("pointer")
            .find_str(json.as_bytes())
            .expect("json")
            .map(Cow::into_owned)
    }

    #[test]
    fn resolves_paths() {
        let doc = r#"{"a":{"b/c":[1,{"id":"x\"y"}],"n":7,"t":true},"cursor":"42","z":null}"#;
        assert_eq!(s("/cursor", doc), Some("42".into()));
        assert_eq!(s("/a/n", doc), Some("7".into()));
        assert_eq!(s("/a/t", doc), Some("true".into()));
        assert_eq!(s("/a/b~1c/1/id", doc), Some("x\"y".into()));
        assert_eq!(s("/a/b~1c/0", doc), Some("1".into()));
        assert_eq!(s("/a/b~1c/5", doc), None);
        assert_eq!(s("/a/b~1c/00", doc), None, "no leading zeros in an index");
        assert_eq!(s("/a/b~1c/+1", doc), None);
        assert_eq!(s("/z", doc), None);
        assert_eq!(s("/k", r#"{"k":"first","k":"last"}"#), Some("last".into()));
        assert_eq!(s("/a", doc), None, "containers have no text");
        assert_eq!(s("/missing/deeper", doc), None);
        assert_eq!(s("/cursor/x", doc), None);
        let p = Pointer::parse("").expect("root");
        assert!(p.is_root());
        assert_eq!(
            p.find(b" [1, 2] ").expect("json").map(RawValue::get),
            Some("[1, 2]")
        );
    }

    #[test]
    fn arrays_and_truth() {
        let doc = br#"{"messages":[{"id":1},"two",3],"gap":true}"#;
        let list = Pointer::parse("/messages")
            .expect("p")
            .find(doc)
            .expect("json")
            .expect("found");
        let items: Vec<&str> = array_items(list)
            .expect("array")
            .iter()
            .map(|r| r.get())
            .collect();
        assert_eq!(items, [r#"{"id":1}"#, r#""two""#, "3"]);
        let gap = Pointer::parse("/gap").expect("p").find(doc).expect("json");
        assert!(gap.is_some_and(truthy));
    }

    #[test]
    fn errors() {
        assert!(Pointer::parse("messages").is_err());
        let p = Pointer::parse("/a").expect("p");
        assert!(p.find(b"{\"a\":").is_err());
        assert!(p.find(b"{} trailing").is_err());
        assert!(p.find(b"not json").is_err());
    }
}
