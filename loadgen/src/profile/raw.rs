//! The profile file format as written: TOML with spans, so every error
//! can name its line.

use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawProfile {
    pub name: Option<String>,
    pub health: Option<Spanned<String>>,
    pub stats: Option<Spanned<String>>,
    pub token: Option<Spanned<String>>,
    pub rooms: Option<Spanned<u64>>,
    pub publish: Option<Spanned<RawPublish>>,
    #[serde(rename = "short-poll")]
    pub short_poll: Option<Spanned<RawSub>>,
    #[serde(rename = "long-poll")]
    pub long_poll: Option<Spanned<RawSub>>,
    pub sse: Option<Spanned<RawSub>>,
    pub ws: Option<Spanned<RawSub>>,
    pub socketio: Option<Spanned<RawSocketIo>>,
    pub webtransport: Option<Spanned<RawWebTransport>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPublish {
    pub method: Option<Spanned<String>>,
    pub url: Option<Spanned<String>>,
    #[serde(default)]
    pub headers: BTreeMap<String, Spanned<String>>,
    pub body: Option<Spanned<String>>,
    #[serde(default)]
    pub ok_status: Vec<u16>,
    pub frame: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSub {
    pub url: Option<Spanned<String>>,
    #[serde(default)]
    pub headers: BTreeMap<String, Spanned<String>>,
    pub first_query: Option<Spanned<String>>,
    pub resume_query: Option<Spanned<String>>,
    pub messages: Option<Spanned<String>>,
    pub empty_status: Option<Spanned<Vec<u16>>>,
    #[serde(default)]
    pub cursor: Vec<Spanned<RawCursor>>,
    pub gap: Option<Spanned<RawMatch>>,
    pub error: Option<Spanned<RawMatch>>,
    pub message_if: Option<Spanned<RawMatch>>,
    pub events: Option<Spanned<Vec<String>>>,
    pub lag_event: Option<Spanned<String>>,
    pub gap_event: Option<Spanned<String>>,
    pub lag_close: Option<Spanned<u16>>,
    pub lag_cursor: Option<Spanned<String>>,
    pub subprotocols: Option<Spanned<Vec<String>>>,
    pub on_open: Option<Spanned<Vec<Spanned<String>>>>,
    pub echo: Option<Spanned<bool>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCursor {
    pub from: Spanned<String>,
    pub to: Spanned<String>,
}

/// A matcher: `{ pointer = "/type", equals = "gap" }`, or the same as one
/// string, `"/type == \"gap\""` (`"/gap"` alone: truthy). A string's
/// pointer has an empty span; the matcher's own span stands for it.
pub(super) struct RawMatch {
    pub pointer: Spanned<String>,
    pub equals: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMatchTable {
    pointer: Spanned<String>,
    equals: Option<String>,
}

impl<'de> Deserialize<'de> for RawMatch {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(MatchVisitor)
    }
}

struct MatchVisitor;

impl<'de> serde::de::Visitor<'de> for MatchVisitor {
    type Value = RawMatch;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(r#"a matcher: "/pointer == \"value\"", "/pointer", or { pointer = "/pointer", equals = "value" }"#)
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RawMatch, E> {
        let (pointer, equals) = match v.split_once("==") {
            None => (v.trim(), None),
            Some((p, value)) => {
                let value = value.trim();
                let quoted = value
                    .strip_prefix('"')
                    .and_then(|v| v.strip_suffix('"'))
                    .filter(|v| !v.contains('"'));
                match quoted {
                    Some(q) => (p.trim(), Some(q.to_string())),
                    None => {
                        return Err(E::custom(format!(
                            "'{value}': put the value in double quotes, e.g. /type == \"message\""
                        )));
                    }
                }
            }
        };
        Ok(RawMatch {
            pointer: Spanned::new(0..0, pointer.to_string()),
            equals,
        })
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<RawMatch, A::Error> {
        let t = RawMatchTable::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
        Ok(RawMatch {
            pointer: t.pointer,
            equals: t.equals,
        })
    }
}

/// `[socketio]`: one section for both Socket.IO transports.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSocketIo {
    pub path: Option<Spanned<String>>,
    pub query: Option<Spanned<String>>,
    #[serde(default)]
    pub headers: BTreeMap<String, Spanned<String>>,
    pub first_query: Option<Spanned<String>>,
    pub resume_query: Option<Spanned<String>>,
    pub namespace: Option<Spanned<String>>,
    pub auth: Option<Spanned<String>>,
    #[serde(default)]
    pub emit: Vec<Spanned<RawEmit>>,
    pub events: Option<Spanned<Vec<String>>>,
    pub message: Option<Spanned<String>>,
    #[serde(default)]
    pub cursor: Vec<Spanned<RawCursor>>,
    pub lag_event: Option<Spanned<String>>,
    pub lag_cursor: Option<Spanned<String>>,
    pub gap_event: Option<Spanned<String>>,
    pub error_event: Option<Spanned<String>>,
    pub ack_error: Option<Spanned<String>>,
    pub echo: Option<Spanned<bool>>,
    pub publish_event: Option<Spanned<String>>,
    pub publish_args: Option<Spanned<String>>,
    pub publish_id: Option<Spanned<String>>,
}

/// An event a Socket.IO client emits right after CONNECT (`join`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEmit {
    pub event: Spanned<String>,
    /// The arguments, a JSON array template: `'["{room}"]'`.
    pub args: Option<Spanned<String>>,
    /// Wait for the acknowledgement before going on.
    #[serde(default)]
    pub ack: bool,
}

/// `[webtransport]`: one section for both WebTransport modes.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWebTransport {
    pub url: Option<Spanned<String>>,
    #[serde(default)]
    pub headers: BTreeMap<String, Spanned<String>>,
    pub modes: Option<Spanned<Vec<String>>>,
    pub mode_query: Option<Spanned<String>>,
    pub framing: Option<Spanned<String>>,
    pub first_query: Option<Spanned<String>>,
    pub resume_query: Option<Spanned<String>>,
    #[serde(default)]
    pub cursor: Vec<Spanned<RawCursor>>,
    pub gap: Option<Spanned<RawMatch>>,
    pub error: Option<Spanned<RawMatch>>,
    pub lag: Option<Spanned<RawMatch>>,
    pub lag_close: Option<Spanned<u32>>,
    pub lag_cursor: Option<Spanned<String>>,
    pub publish_frame: Option<Spanned<String>>,
    pub publish_id: Option<Spanned<String>>,
    pub publish_error: Option<Spanned<RawMatch>>,
}
