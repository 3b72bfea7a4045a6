//! Tokens per client (`--token`, `--token-secret`): a fixed token, or one
//! minted (HMAC-signed, a day's expiry) for each client name, placed where
//! the profile says (a `Bearer` header or a query parameter).

use super::Shared;
use super::cursor::push_query_escaped;
use crate::config::TokenSource;
use crate::profile::CursorTo;
use hyper::header::HeaderName;

/// How long a minted token stays valid: longer than any run.
const TOKEN_LIFETIME_SECS: u64 = 24 * 3600;

impl Shared {
    /// The token client `name` sends, if the run has tokens.
    pub fn token_for(&self, name: &str) -> Option<String> {
        match self.cfg.token.as_ref()? {
            TokenSource::Fixed(t) => Some(t.clone()),
            TokenSource::Secret(s) => {
                let exp = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs())
                    + TOKEN_LIFETIME_SECS;
                Some(protocol::token::mint(s.as_bytes(), name, Some(exp)))
            }
        }
    }

    /// Where the token goes, with its value: a header (`Bearer …`) or a
    /// query parameter, per the profile.
    pub fn token_placement(&self, name: &str) -> Option<(CursorTo, String)> {
        let to = self.cfg.profile.token.clone()?;
        let t = self.token_for(name)?;
        Some(match to {
            CursorTo::Header(h) => (CursorTo::Header(h), format!("Bearer {t}")),
            q @ CursorTo::Query(_) => (q, t),
        })
    }

    /// Append `name`'s token to a path when the profile sends it in the query.
    pub fn with_token_query(&self, mut path: String, name: &str) -> String {
        if let Some((CursorTo::Query(k), t)) = self.token_placement(name) {
            path.push(if path.contains('?') { '&' } else { '?' });
            path.push_str(&k);
            path.push('=');
            push_query_escaped(&mut path, &t);
        }
        path
    }

    /// `name`'s token header, when the profile sends it as one.
    pub fn token_header(&self, name: &str) -> Option<(HeaderName, String)> {
        match self.token_placement(name)? {
            (CursorTo::Header(h), v) => Some((h, v)),
            _ => None,
        }
    }
}
