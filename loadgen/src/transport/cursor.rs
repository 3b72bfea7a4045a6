//! Resume points: the cursors a client keeps (one per cursor rule of the
//! profile), where they come from in an answer, and how they travel back
//! on the next request (query parameters of the subscribe URL or headers).

use super::{Client, Shared};
use crate::jsonptr::Pointer;
use crate::profile::{CursorFrom, CursorTo};
use hyper::header::HeaderName;
use protocol::Transport;
use std::borrow::Cow;

impl Client {
    /// The subscribe path and query: the profile's URL, then either the
    /// cursors that travel as query parameters or, with no cursor yet, the
    /// profile's `first_query` (first connect) or `resume_query` (a
    /// reconnect before anything arrived).
    pub fn url(&self, base: &str) -> String {
        let sub = self.sub();
        let mut url = String::with_capacity(base.len() + 32);
        url.push_str(base);
        let mut sep = if base.contains('?') { '&' } else { '?' };
        let mut push = |url: &mut String, k: &str, v: Option<&str>| {
            url.push(sep);
            sep = '&';
            url.push_str(k);
            if let Some(v) = v {
                url.push('=');
                push_query_escaped(url, v);
            }
        };
        // Only a run with tokens pays for the client's name (and the HMAC).
        if self.shared.cfg.token.is_some()
            && let Some((CursorTo::Query(k), t)) =
                self.shared.token_placement(&format!("c{}", self.index))
        {
            push(&mut url, &k, Some(&t));
        }
        if self.has_cursor() {
            for (rule, value) in sub.cursors.iter().zip(self.cursors.iter()) {
                if let (CursorTo::Query(k), Some(v)) = (&rule.to, value) {
                    push(&mut url, k, Some(v));
                }
            }
        } else {
            let q = if self.sessions > 1 {
                &sub.resume_query
            } else {
                &sub.first_query
            };
            if let Some(q) = q {
                push(&mut url, q, None);
            }
        }
        url
    }

    /// Cursors that travel as request headers.
    pub fn cursor_headers(&self) -> impl Iterator<Item = (&HeaderName, &str)> {
        self.sub()
            .cursors
            .iter()
            .zip(self.cursors.iter())
            .filter_map(|(rule, v)| match (&rule.to, v) {
                (CursorTo::Header(h), Some(v)) => Some((h, v.as_str())),
                _ => None,
            })
    }

    /// Any cursor known?
    pub fn has_cursor(&self) -> bool {
        self.cursors.iter().any(Option::is_some)
    }

    /// Set every cursor whose rule takes its value from `from` (a kind of
    /// source; `get` reads the value for one rule).
    pub fn set_cursors<'v>(&mut self, mut get: impl FnMut(&CursorFrom) -> Option<Cow<'v, str>>) {
        // Disjoint borrows, no Arc clone: a refcount shared by every client
        // is a cache line bounced between cores on each message.
        let Client {
            shared, cursors, ..
        } = self;
        for (rule, slot) in shared.sub().cursors.iter().zip(cursors.iter_mut()) {
            if let Some(v) = get(&rule.from) {
                set_cursor(slot, &v);
            }
        }
    }

    /// Set the cursors whose rule `pick`s a JSON pointer, from `json`; an
    /// answer that is not the JSON the profile promised is an error.
    pub(super) fn cursors_from_json(
        &mut self,
        json: &[u8],
        pick: impl Fn(&CursorFrom) -> Option<&Pointer>,
    ) -> Result<(), serde_json::Error> {
        let mut broken = None;
        self.set_cursors(|from| {
            pick(from)?.find_str(json).unwrap_or_else(|e| {
                broken = Some(e);
                None
            })
        });
        broken.map_or(Ok(()), Err)
    }
}

/// Longest message kept for a later cursor read; a longer one is read at
/// once, so no client holds a large copy.
const KEEP_MAX: usize = 512;

/// A streaming session needs its message cursors only when the next
/// session starts (or a lag notice comes), so the last message is kept and
/// read then: scanning every message for them was a fifth of the load
/// generator's work per WebSocket delivery. The price: a message that is
/// not JSON is reported only when it is the one read.
#[derive(Debug)]
pub(super) struct LastMessage {
    /// Keeping applies: WebSocket, cursors from the message, no trace
    /// (which prints the cursors after every message).
    lazy: bool,
    kept: bool,
    bytes: Vec<u8>,
}

impl LastMessage {
    pub(super) fn new(shared: &Shared) -> Self {
        let from_message = shared
            .sub()
            .cursors
            .iter()
            .any(|r| matches!(r.from, CursorFrom::Message(_)));
        LastMessage {
            lazy: shared.cfg.transport == Transport::Ws && from_message && !shared.rec.tracing(),
            kept: false,
            bytes: Vec::new(),
        }
    }
}

impl Client {
    /// The cursors a message carries: kept for later where that is
    /// allowed (see [`LastMessage`]), read now otherwise.
    pub(super) fn message_cursors(&mut self, unit: &[u8]) -> Result<(), serde_json::Error> {
        if self.last.lazy && unit.len() <= KEEP_MAX {
            self.last.bytes.clear();
            self.last.bytes.extend_from_slice(unit);
            self.last.kept = true;
            return Ok(());
        }
        self.last.kept = false;
        self.cursors_from_json(unit, message_pointer)
    }

    /// Read the kept message's cursors, if one is kept; before anything
    /// looks at the cursors.
    pub fn settle_cursors(&mut self) -> Result<(), serde_json::Error> {
        if !std::mem::take(&mut self.last.kept) {
            return Ok(());
        }
        let bytes = std::mem::take(&mut self.last.bytes);
        let r = self.cursors_from_json(&bytes, message_pointer);
        self.last.bytes = bytes;
        r
    }
}

fn message_pointer(from: &CursorFrom) -> Option<&Pointer> {
    match from {
        CursorFrom::Message(p) => Some(p),
        _ => None,
    }
}

/// Overwrite a cursor in place (its buffer is reused: no allocation per message).
fn set_cursor(cursor: &mut Option<String>, id: &str) {
    match cursor {
        Some(c) => {
            c.clear();
            c.push_str(id);
        }
        None => *cursor = Some(id.to_string()),
    }
}

/// Percent-encode what a query value cannot hold as is (cursors such as
/// HTTP dates contain spaces and commas).
pub(super) fn push_query_escaped(url: &mut String, v: &str) {
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~:".contains(&b) {
            url.push(b as char);
        } else {
            url.push_str(&format!("%{b:02X}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::shared;
    use super::{Client, KEEP_MAX};
    use crate::record::{Clock, Recorder};
    use protocol::Transport;

    fn client(transport: Transport, rec: Recorder) -> Client {
        Client::new(0, 0, shared(transport, rec))
    }

    #[test]
    fn a_websocket_message_is_read_for_its_cursor_only_when_asked() {
        let mut c = client(Transport::Ws, Recorder::new(Clock::new()));
        c.message_cursors(br#"{"id":"6","text":"a"}"#)
            .expect("kept");
        c.message_cursors(br#"{"id":"7","text":"b"}"#)
            .expect("kept");
        assert!(!c.has_cursor(), "nothing read yet");
        c.settle_cursors().expect("valid JSON");
        assert_eq!(c.cursors[0].as_deref(), Some("7"));
        c.settle_cursors().expect("nothing kept");
        assert_eq!(c.cursors[0].as_deref(), Some("7"));
    }

    #[test]
    fn a_kept_message_that_is_not_json_is_an_error_when_read() {
        let mut c = client(Transport::Ws, Recorder::new(Clock::new()));
        c.message_cursors(br#"{"id":"6"}"#).expect("kept");
        c.settle_cursors().expect("valid JSON");
        c.message_cursors(b"not json").expect("kept, unread");
        assert!(c.settle_cursors().is_err());
        assert_eq!(c.cursors[0].as_deref(), Some("6"), "the cursor stays");
    }

    #[test]
    fn long_messages_traced_runs_and_other_transports_are_read_at_once() {
        let long = format!(r#"{{"id":"8","text":"{}"}}"#, "x".repeat(KEEP_MAX));
        let mut c = client(Transport::Ws, Recorder::new(Clock::new()));
        c.message_cursors(long.as_bytes()).expect("read");
        assert_eq!(c.cursors[0].as_deref(), Some("8"));
        assert!(c.message_cursors(b"not json").is_ok(), "short: kept");
        let mut c = client(Transport::Ws, Recorder::with_trace(Clock::new()));
        assert!(c.message_cursors(b"not json").is_err(), "traced: read");
        let mut c = client(Transport::WebTransport, Recorder::new(Clock::new()));
        assert!(c.message_cursors(b"not json").is_err(), "not ws: read");
    }
}
