//! What compiling every section shares: errors that name the file, line
//! and field; templates, paths, headers, pointers and query strings checked
//! once; and the whole profile put together.

use super::raw::RawProfile;
use super::{Profile, ProfileError, Template, Var};
use crate::jsonptr::Pointer;
use hyper::header::HeaderName;
use protocol::Transport;
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;
use toml::Spanned;

/// One profile's text being compiled: errors point into it.
pub(super) struct Ctx<'a> {
    pub text: &'a str,
    pub source_name: &'a str,
}

pub(super) type R<T> = Result<T, ProfileError>;

impl Ctx<'_> {
    /// The whole profile, section by section; the first problem found is
    /// the error.
    pub(super) fn compile(&self, raw: RawProfile) -> R<Profile> {
        let name = raw.name.unwrap_or_else(|| {
            Path::new(self.source_name)
                .file_stem()
                .map_or_else(|| "custom".into(), |s| s.to_string_lossy().into_owned())
        });
        let health = self.plain_path(raw.health, "health")?;
        let stats = self.plain_path(raw.stats, "stats")?;
        let socketio = raw.socketio.map(|s| self.socketio(s)).transpose()?;
        let (socketio, sio_sub) = socketio.map_or((None, None), |(s, sub)| (Some(s), Some(sub)));
        let wt = raw
            .webtransport
            .map(|s| self.webtransport(s))
            .transpose()?
            .unwrap_or_default();
        let subs = self.subs(
            [
                (Transport::ShortPoll, raw.short_poll),
                (Transport::LongPoll, raw.long_poll),
                (Transport::Sse, raw.sse),
                (Transport::Ws, raw.ws),
            ],
            sio_sub,
            wt,
        )?;
        let has_ws = subs[Transport::Ws.index()].is_some();
        let sio_publish = socketio.as_ref().is_some_and(|s| s.publish.is_some());
        let wt_publish = subs
            .iter()
            .flatten()
            .any(|s| s.wt().is_some_and(|w| w.publish.is_some()));
        let publish = self.publish(raw.publish, has_ws, sio_publish || wt_publish)?;
        let token = raw.token.as_ref().map(|t| self.token(t)).transpose()?;
        let rooms = match raw.rooms {
            Some(r) if *r.get_ref() == 0 => {
                return Err(self.err(Some(r.span()), "rooms", "must be at least 1"));
            }
            r => r.map(Spanned::into_inner),
        };
        Ok(Profile {
            name,
            source_name: self.source_name.to_string(),
            health,
            stats,
            publish,
            token,
            rooms,
            socketio,
            subs,
        })
    }

    /// A fixed path (no placeholders), such as `health`.
    fn plain_path(&self, s: Option<Spanned<String>>, field: &str) -> R<Option<String>> {
        s.map(|s| self.path_template(&s, field, &[]).map(|_| s.into_inner()))
            .transpose()
    }

    pub(super) fn line(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text.as_bytes()[..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }

    pub(super) fn err(
        &self,
        span: Option<Range<usize>>,
        field: impl Into<String>,
        why: impl Into<String>,
    ) -> ProfileError {
        ProfileError {
            source_name: self.source_name.to_string(),
            line: span.map(|s| self.line(s.start)),
            field: field.into(),
            why: why.into(),
        }
    }

    pub(super) fn template(&self, s: &Spanned<String>, field: &str, vars: &[Var]) -> R<Template> {
        Template::compile(s.get_ref(), vars).map_err(|why| self.err(Some(s.span()), field, why))
    }

    pub(super) fn path_template(
        &self,
        s: &Spanned<String>,
        field: &str,
        vars: &[Var],
    ) -> R<Template> {
        let v = s.get_ref();
        if !v.starts_with('/') {
            return Err(self.err(
                Some(s.span()),
                field,
                format!("'{v}' must be a path starting with '/' (the host comes from --target)"),
            ));
        }
        if v.contains(char::is_whitespace) {
            return Err(self.err(Some(s.span()), field, "a URL cannot contain spaces"));
        }
        self.template(s, field, vars)
    }

    pub(super) fn headers(
        &self,
        raw: &BTreeMap<String, Spanned<String>>,
        section: &str,
        vars: &[Var],
    ) -> R<Vec<(HeaderName, Template)>> {
        raw.iter()
            .map(|(k, v)| {
                let field = format!("[{section}] headers.{k}");
                let name = HeaderName::from_bytes(k.as_bytes()).map_err(|_| {
                    self.err(
                        Some(v.span()),
                        &field,
                        format!("'{k}' is not a valid header name"),
                    )
                })?;
                if v.get_ref().contains(['\r', '\n']) {
                    return Err(self.err(
                        Some(v.span()),
                        &field,
                        "a header value cannot contain a line break",
                    ));
                }
                Ok((name, self.template(v, &field, vars)?))
            })
            .collect()
    }

    pub(super) fn pointer(&self, s: &Spanned<String>, field: &str) -> R<Pointer> {
        Pointer::parse(s.get_ref()).map_err(|why| self.err(Some(s.span()), field, why))
    }

    pub(super) fn query(&self, s: &Option<Spanned<String>>, field: &str) -> R<Option<String>> {
        let Some(s) = s else { return Ok(None) };
        let v = s.get_ref().trim_start_matches(['?', '&']);
        if v.contains(char::is_whitespace) || v.contains('#') {
            return Err(self.err(
                Some(s.span()),
                field,
                format!("'{v}' is not a query string like history=0"),
            ));
        }
        Ok((!v.is_empty()).then(|| v.to_string()))
    }
}
