//! Resume points: the cursors a client keeps (one per cursor rule of the
//! profile), where they come from in an answer, and how they travel back
//! on the next request (query parameters of the subscribe URL or headers).

use super::Client;
use crate::jsonptr::Pointer;
use crate::profile::{CursorFrom, CursorTo};
use hyper::header::HeaderName;
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
