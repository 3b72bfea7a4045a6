//! Hot-path parsing: strings borrowed from the received bytes (owned only
//! when the JSON has escapes), and an incremental SSE event parser.
//!
//! Public so that the workspace's test kit and third-party tools read
//! streams exactly as the load generator does (CRLF line ends, multi-line
//! `data:`, events split across chunks) instead of keeping parsers of
//! their own.

use serde::de::{self, Deserialize, Deserializer, Visitor};
use std::borrow::Cow;
use std::fmt;
use std::ops::Deref;

/// A string borrowed from the input when it has no escapes, owned otherwise.
/// (`Option<Cow<str>>` would always own: serde's `borrow` does not reach
/// through `Option`.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Str<'a>(pub Cow<'a, str>);

impl Deref for Str<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Str<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Str<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Str(Cow::Owned(v.to_string())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Str(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// One dispatched SSE event.
#[derive(Debug, PartialEq, Eq)]
pub struct SseEvent<'a> {
    /// `event:` field; empty for the default `message`.
    pub event: &'a str,
    pub data: &'a [u8],
    /// `id:` of this event, if it had one.
    pub id: Option<&'a str>,
}

/// Incremental parser for `text/event-stream` (WHATWG HTML §9.2.6): feed it
/// chunks as they arrive; complete events come out in order. Memory stays
/// bounded by the largest event (buffers shrink back after a big one).
#[derive(Debug, Default)]
pub struct SseParser {
    line: Vec<u8>,
    data: Vec<u8>,
    event: String,
    /// The event's `id:` when `has_id`; kept between events so that an id
    /// costs no allocation.
    id: String,
    has_id: bool,
    has_data: bool,
    /// The previous chunk ended in `\r`: a `\n` starting the next one belongs to it.
    skip_lf: bool,
}

/// Events above this size are refused (a protocol error, not a memory blow-up).
pub const MAX_SSE_EVENT_BYTES: usize = 4 << 20;

/// Why [`SseParser::feed`] refused a stream.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SseError {
    #[error("SSE line too long")]
    LineTooLong,
    #[error("SSE event too large")]
    EventTooLarge,
    #[error("SSE id is not UTF-8")]
    IdNotUtf8,
    #[error("SSE event name is not UTF-8")]
    EventNameNotUtf8,
}

/// The load generator records a refused stream as a protocol error with
/// this text.
impl From<SseError> for Cow<'static, str> {
    fn from(e: SseError) -> Self {
        Cow::Owned(e.to_string())
    }
}

/// Keep buffers no bigger than this between events (memory per client).
const KEEP_CAPACITY: usize = 4096;

impl SseParser {
    /// Feed one chunk; `on_event` sees each complete event. Returns an error
    /// when an event exceeds [`MAX_SSE_EVENT_BYTES`] or is not UTF-8.
    pub fn feed(
        &mut self,
        mut chunk: &[u8],
        mut on_event: impl FnMut(SseEvent<'_>),
    ) -> Result<(), SseError> {
        if self.skip_lf {
            self.skip_lf = false;
            if chunk.first() == Some(&b'\n') {
                chunk = &chunk[1..];
            }
        }
        while let Some(pos) = memchr::memchr2(b'\n', b'\r', chunk) {
            let (head, rest) = chunk.split_at(pos);
            if self.line.is_empty() {
                self.line_done(head, &mut on_event)?;
            } else {
                self.line.extend_from_slice(head);
                let mut buf = std::mem::take(&mut self.line);
                let r = self.line_done(&buf, &mut on_event);
                if buf.capacity() <= KEEP_CAPACITY {
                    buf.clear();
                    self.line = buf;
                }
                r?;
            }
            chunk = if rest[0] == b'\r' {
                match rest.get(1) {
                    Some(b'\n') => &rest[2..],
                    Some(_) => &rest[1..],
                    None => {
                        self.skip_lf = true;
                        &rest[1..]
                    }
                }
            } else {
                &rest[1..]
            };
        }
        if self.line.len() + chunk.len() > MAX_SSE_EVENT_BYTES {
            return Err(SseError::LineTooLong);
        }
        self.line.extend_from_slice(chunk);
        Ok(())
    }

    fn line_done(
        &mut self,
        line: &[u8],
        on_event: &mut impl FnMut(SseEvent<'_>),
    ) -> Result<(), SseError> {
        if line.is_empty() {
            if self.has_data {
                on_event(SseEvent {
                    event: &self.event,
                    data: &self.data,
                    id: self.has_id.then_some(self.id.as_str()),
                });
            }
            self.has_data = false;
            self.has_id = false;
            self.event.clear();
            if self.data.capacity() > KEEP_CAPACITY {
                self.data = Vec::new();
            } else {
                self.data.clear();
            }
            if self.id.capacity() > KEEP_CAPACITY || self.event.capacity() > KEEP_CAPACITY {
                self.id = String::new();
                self.event = String::new();
            }
            return Ok(());
        }
        if line[0] == b':' {
            return Ok(()); // comment (`: ping`)
        }
        let (field, value) = match memchr::memchr(b':', line) {
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &b""[..]),
        };
        match field {
            b"data" => {
                if self.has_data {
                    self.data.push(b'\n');
                }
                if self.data.len() + value.len() > MAX_SSE_EVENT_BYTES {
                    return Err(SseError::EventTooLarge);
                }
                self.data.extend_from_slice(value);
                self.has_data = true;
            }
            b"id" => {
                let v = std::str::from_utf8(value).map_err(|_| SseError::IdNotUtf8)?;
                if !v.contains('\0') {
                    self.id.clear();
                    self.id.push_str(v);
                    self.has_id = true;
                }
            }
            b"event" => {
                let v = std::str::from_utf8(value).map_err(|_| SseError::EventNameNotUtf8)?;
                self.event.clear();
                self.event.push_str(v);
            }
            _ => {} // `retry:` and unknown fields: nothing to do for a load client
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(chunks: &[&[u8]]) -> Vec<(String, String, Option<String>)> {
        let mut p = SseParser::default();
        let mut out = Vec::new();
        for c in chunks {
            p.feed(c, |e| {
                out.push((
                    e.event.to_string(),
                    String::from_utf8_lossy(e.data).to_string(),
                    e.id.map(str::to_string),
                ))
            })
            .expect("valid");
        }
        out
    }

    #[test]
    fn sse_events_across_chunks() {
        let got = events(&[
            b"retry: 1000\n\n: ping\n\nid: 1\nda",
            b"ta: {\"a\":1}\n\nid: 2\r\ndata: x\r",
            b"\ndata: y\r\n\r\nevent: lagged\ndata: {\"cursor\":\"2\"}\n\n",
        ]);
        assert_eq!(
            got,
            vec![
                ("".into(), "{\"a\":1}".into(), Some("1".into())),
                ("".into(), "x\ny".into(), Some("2".into())),
                ("lagged".into(), "{\"cursor\":\"2\"}".into(), None),
            ]
        );
        // Byte at a time gives the same.
        let all = b"id: 7\ndata: hello\n\n";
        let chunks: Vec<&[u8]> = all.chunks(1).collect();
        assert_eq!(
            events(&chunks),
            vec![("".into(), "hello".into(), Some("7".into()))]
        );
    }

    #[test]
    fn ids_and_names_belong_to_their_event() {
        let big = "9".repeat(KEEP_CAPACITY + 1);
        let stream = format!(
            "id: 1\nevent: a\ndata: x\n\ndata: y\n\nid: 2\nid: b\0c\ndata: z\n\nid: {big}\ndata: w\n\nevent: e\ndata: v\n\n"
        );
        assert_eq!(
            events(&[stream.as_bytes()]),
            vec![
                ("a".into(), "x".into(), Some("1".into())),
                ("".into(), "y".into(), None),
                ("".into(), "z".into(), Some("2".into())),
                ("".into(), "w".into(), Some(big)),
                ("e".into(), "v".into(), None),
            ]
        );
    }

    #[test]
    fn strings_borrow_unless_escaped() {
        let s: Str<'_> = serde_json::from_str(r#""42""#).expect("parse");
        assert!(matches!(s, Str(Cow::Borrowed("42"))));
        let esc: Str<'_> = serde_json::from_str(r#""4\u0032""#).expect("escaped");
        assert_eq!(&*esc, "42");
        assert!(matches!(esc, Str(Cow::Owned(_))));
    }
}
