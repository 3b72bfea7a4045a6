//! A message's JSON, serialized once; every subscriber gets the same
//! `Arc<Delivery>`, and each transport's framing of it is made at most once,
//! on first use, by that transport's module (`crate::transport::Framing`).

use axum::extract::ws::Utf8Bytes;
use protocol::{Kind, Transport};
use serde::Serialize;
use std::sync::{Arc, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

/// One message, encoded once.
#[derive(Debug)]
pub struct Delivery {
    pub id: u64,
    pub kind: Kind,
    /// The message object: poll bodies embed it, WebSocket text is it, and
    /// every other framing is made from it. UTF-8, so text transports need
    /// no check per subscriber.
    pub json: Utf8Bytes,
    /// Each transport's framing, by [`Transport::index`]: filled by the
    /// first subscriber of that transport that writes the message.
    framed: [OnceLock<Utf8Bytes>; Transport::ALL.len()],
}

/// The fields of a new message; the room adds id, room and time.
#[derive(Debug, Default)]
pub struct Draft<'a> {
    pub user: Option<&'a str>,
    pub text: Option<&'a str>,
    pub sent_us: Option<u64>,
    pub publisher: Option<&'a str>,
    pub seq: Option<u64>,
    pub users: Option<Vec<&'a str>>,
}

/// Borrowed twin of `protocol::Message`: same fields, same order, so the
/// bytes are what a client deserializes into it, without owned copies.
#[derive(Serialize)]
struct Wire<'a> {
    id: &'a str,
    room: &'a str,
    #[serde(flatten)]
    body: StoredBody<'a>,
}

/// The message without `id` and `room`: what the Redis broker stores (each
/// instance adds them when it commits the entry, serializing once).
#[derive(Serialize)]
struct StoredBody<'a> {
    kind: Kind,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<&'a str>,
    ts_us: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    sent_us: Option<u64>,
    #[serde(rename = "pub", skip_serializing_if = "Option::is_none")]
    publisher: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    seq: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    users: Option<&'a [&'a str]>,
}

impl<'a> StoredBody<'a> {
    fn new(kind: Kind, d: &'a Draft<'a>, ts_us: u64) -> Self {
        StoredBody {
            kind,
            user: d.user,
            text: d.text,
            ts_us,
            sent_us: d.sent_us,
            publisher: d.publisher,
            seq: d.seq,
            users: d.users.as_deref(),
        }
    }
}

/// The message body without `id` and `room`, as a broker stores it.
pub(crate) fn body_json(kind: Kind, draft: &Draft<'_>, ts_us: u64) -> String {
    // Serializing plain strings and integers cannot fail.
    serde_json::to_string(&StoredBody::new(kind, draft, ts_us)).unwrap_or_default()
}

/// Microseconds since the UNIX epoch.
pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

impl Delivery {
    /// Message `id` of `room`, accepted at `ts_us`, serialized once.
    pub(crate) fn message(
        id: u64,
        room: &str,
        kind: Kind,
        draft: &Draft<'_>,
        ts_us: u64,
    ) -> Arc<Delivery> {
        let idbuf = itoa_buf(id);
        let wire = Wire {
            id: idbuf.as_str(),
            room,
            body: StoredBody::new(kind, draft, ts_us),
        };
        // Serializing plain strings and integers cannot fail.
        let json = serde_json::to_string(&wire).unwrap_or_default();
        Self::new(id, kind, Utf8Bytes::from(json))
    }

    /// A message whose JSON object is already made (a broker's entry).
    pub(crate) fn new(id: u64, kind: Kind, json: Utf8Bytes) -> Arc<Delivery> {
        Arc::new(Delivery {
            id,
            kind,
            json,
            framed: Default::default(),
        })
    }

    /// `t`'s framing of this message: `encode`d by the first caller, the
    /// same bytes for every later one.
    pub(crate) fn framed(
        &self,
        t: Transport,
        encode: impl FnOnce(&Delivery) -> Utf8Bytes,
    ) -> &Utf8Bytes {
        self.framed[t.index()].get_or_init(|| encode(self))
    }
}

/// Stack buffer for a decimal id, to avoid a heap string per message.
pub(crate) struct IdBuf {
    buf: [u8; 20],
    start: usize,
}

impl IdBuf {
    pub(crate) fn as_str(&self) -> &str {
        // Only ASCII digits are written.
        std::str::from_utf8(&self.buf[self.start..]).unwrap_or("0")
    }
}

pub(crate) fn itoa_buf(mut n: u64) -> IdBuf {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    IdBuf { buf, start: i }
}
