//! Target profiles: how to speak to a server (TOML, documented in
//! `docs/profiles.md`). rtbench's own server is described by the built-in
//! profile `profiles/rtbench.toml` through exactly this mechanism, so the
//! four client modules have one code path for every server.
//!
//! A profile is parsed once into compiled templates, pointers and header
//! names; errors name the file, line and field, so writing a profile for a
//! new server is a short edit-and-check loop with `rtbench profile check`.

mod template;

pub use template::{Template, Var, Vars};

use crate::jsonptr::{self, Pointer};
use hyper::header::HeaderName;
use memchr::memmem;
use protocol::Transport;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;
use toml::Spanned;

/// The built-in profile's text: rtbench's own server.
pub const BUILTIN_TOML: &str = include_str!("../../../profiles/rtbench.toml");

/// A profile that cannot work: where and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{source_name}{}: {field}: {why}", line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct ProfileError {
    /// The file (or `built-in`).
    pub source_name: String,
    /// 1-based line of the offending value, when known.
    pub line: Option<usize>,
    /// The field, as written in the file (`[sse] url`).
    pub field: String,
    pub why: String,
}

/// A compiled profile.
#[derive(Debug, Clone)]
pub struct Profile {
    pub name: String,
    /// Where it came from: a path, or `built-in`.
    pub source_name: String,
    /// GET before (and after) a run; must answer 2xx.
    pub health: Option<String>,
    /// An rtbench-format `/api/stats` endpoint (server cost).
    pub stats: Option<String>,
    pub publish: Publish,
    /// Where a client's token goes (`--token`, `--token-secret`).
    pub token: Option<CursorTo>,
    subs: [Option<Sub>; 4],
}

/// How publishers send.
#[derive(Debug, Clone)]
pub struct Publish {
    pub http: Option<HttpPublish>,
    /// A frame template sent on the `[ws]` connection instead.
    pub frame: Option<Template>,
    pub line: usize,
}

#[derive(Debug, Clone)]
pub struct HttpPublish {
    pub method: hyper::Method,
    pub url: Template,
    pub url_line: usize,
    pub headers: Vec<(HeaderName, Template)>,
    pub body: Template,
    /// Statuses that mean "accepted"; empty: any 2xx.
    pub ok_status: Vec<u16>,
}

impl HttpPublish {
    pub fn accepted(&self, status: u16) -> bool {
        if self.ok_status.is_empty() {
            (200..300).contains(&status)
        } else {
            self.ok_status.contains(&status)
        }
    }
}

/// How one transport subscribes and what its answers look like.
#[derive(Debug, Clone)]
pub struct Sub {
    pub url: Template,
    pub url_line: usize,
    pub headers: Vec<(HeaderName, Template)>,
    /// Appended to the URL when the client has no cursor yet.
    pub first_query: Option<String>,
    /// Appended when reconnecting without a cursor (nothing received yet).
    pub resume_query: Option<String>,
    /// Where the messages are in a unit; `None`: the unit is one message.
    pub messages: Option<Pointer>,
    /// Polling: statuses meaning "nothing new".
    pub empty_status: Vec<u16>,
    pub cursors: Vec<CursorRule>,
    pub gap: Option<Match>,
    pub error: Option<Match>,
    /// SSE: event names that carry messages (`message` also matches unnamed events).
    pub events: Vec<String>,
    pub lag_event: Option<String>,
    pub gap_event: Option<String>,
    /// WebSocket close code meaning "you fell behind; resume".
    pub lag_close: Option<u16>,
    /// Where the resume cursor is in a lag notice (SSE data, close reason).
    pub lag_cursor: Option<Pointer>,
    pub subprotocols: Vec<String>,
    /// Frames sent right after the WebSocket opens.
    pub on_open: Vec<Template>,
    /// The server sends a connection's own published messages back to it.
    pub echo: bool,
}

impl Sub {
    /// Is `name` one of the events that carry messages?
    pub fn measures_event(&self, name: &str) -> bool {
        let name = if name.is_empty() { "message" } else { name };
        self.events.iter().any(|e| e == name)
    }
}

/// Where a cursor comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CursorFrom {
    /// A response header (polling).
    Header(HeaderName),
    /// A JSON pointer into the whole unit (poll body, WS frame, SSE data).
    Body(Pointer),
    /// A JSON pointer into the last message of the unit.
    Message(Pointer),
    /// The SSE `id:` field.
    SseId,
}

/// Where a cursor goes on the next request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CursorTo {
    Header(HeaderName),
    Query(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CursorRule {
    pub from: CursorFrom,
    pub to: CursorTo,
}

/// "This unit is a gap notice / an error": the value at `pointer` equals
/// `equals`, or is truthy when `equals` is absent.
#[derive(Debug, Clone)]
pub struct Match {
    pointer: Pointer,
    equals: Option<String>,
    /// A byte string every matching unit contains: most units are rejected
    /// by one `memmem` without parsing (the searcher is built once).
    needle: Option<memmem::Finder<'static>>,
}

impl Match {
    pub fn matches(&self, unit: &[u8]) -> bool {
        if self.needle.as_ref().is_some_and(|n| n.find(unit).is_none()) {
            return false;
        }
        match self.pointer.find(unit) {
            Ok(Some(raw)) => match &self.equals {
                Some(want) => jsonptr::scalar_text(raw).is_some_and(|v| v == want.as_str()),
                None => jsonptr::truthy(raw),
            },
            _ => false,
        }
    }
}

impl Profile {
    /// rtbench's own server.
    pub fn builtin() -> Profile {
        Profile::parse(BUILTIN_TOML, "built-in")
            .unwrap_or_else(|e| unreachable!("the built-in profile is tested: {e}"))
    }

    /// `rtbench` (the built-in) or a path to a TOML file.
    pub fn load(name_or_path: &str) -> Result<Profile, ProfileError> {
        if name_or_path == "rtbench" && !Path::new(name_or_path).exists() {
            return Ok(Profile::builtin());
        }
        let text = std::fs::read_to_string(name_or_path).map_err(|e| ProfileError {
            source_name: name_or_path.to_string(),
            line: None,
            field: "file".into(),
            why: format!("cannot read it: {e}"),
        })?;
        Profile::parse(&text, name_or_path)
    }

    /// Parse and check a profile's text.
    pub fn parse(text: &str, source_name: &str) -> Result<Profile, ProfileError> {
        let ctx = Ctx { text, source_name };
        let raw: RawProfile = toml::from_str(text).map_err(|e| ProfileError {
            source_name: source_name.to_string(),
            line: e.span().map(|s| ctx.line(s.start)),
            field: "TOML".into(),
            why: e.message().trim_end().to_string(),
        })?;
        ctx.compile(raw)
    }

    /// The section for `t`, if the profile defines it.
    pub fn sub(&self, t: Transport) -> Option<&Sub> {
        self.subs[t.index()].as_ref()
    }

    /// Transports this profile defines, in the usual order.
    pub fn transports(&self) -> Vec<Transport> {
        Transport::ALL
            .into_iter()
            .filter(|t| self.sub(*t).is_some())
            .collect()
    }

    /// Can publishers use the WebSocket?
    pub fn publishes_over_ws(&self) -> bool {
        self.publish.frame.is_some()
    }
}

// ---- the file format ----------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    name: Option<String>,
    health: Option<Spanned<String>>,
    stats: Option<Spanned<String>>,
    token: Option<Spanned<String>>,
    publish: Option<Spanned<RawPublish>>,
    #[serde(rename = "short-poll")]
    short_poll: Option<Spanned<RawSub>>,
    #[serde(rename = "long-poll")]
    long_poll: Option<Spanned<RawSub>>,
    sse: Option<Spanned<RawSub>>,
    ws: Option<Spanned<RawSub>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPublish {
    method: Option<Spanned<String>>,
    url: Option<Spanned<String>>,
    #[serde(default)]
    headers: BTreeMap<String, Spanned<String>>,
    body: Option<Spanned<String>>,
    #[serde(default)]
    ok_status: Vec<u16>,
    frame: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSub {
    url: Option<Spanned<String>>,
    #[serde(default)]
    headers: BTreeMap<String, Spanned<String>>,
    first_query: Option<Spanned<String>>,
    resume_query: Option<Spanned<String>>,
    messages: Option<Spanned<String>>,
    empty_status: Option<Spanned<Vec<u16>>>,
    #[serde(default)]
    cursor: Vec<Spanned<RawCursor>>,
    gap: Option<Spanned<RawMatch>>,
    error: Option<Spanned<RawMatch>>,
    events: Option<Spanned<Vec<String>>>,
    lag_event: Option<Spanned<String>>,
    gap_event: Option<Spanned<String>>,
    lag_close: Option<Spanned<u16>>,
    lag_cursor: Option<Spanned<String>>,
    subprotocols: Option<Spanned<Vec<String>>>,
    on_open: Option<Spanned<Vec<Spanned<String>>>>,
    echo: Option<Spanned<bool>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCursor {
    from: Spanned<String>,
    to: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMatch {
    pointer: Spanned<String>,
    equals: Option<String>,
}

struct Ctx<'a> {
    text: &'a str,
    source_name: &'a str,
}

type R<T> = Result<T, ProfileError>;

const SUB_URL_VARS: &[Var] = &[Var::Room, Var::Client];
const LONG_POLL_URL_VARS: &[Var] = &[Var::Room, Var::Client, Var::Wait, Var::WaitMs];
const PUB_VARS: &[Var] = &[Var::Room, Var::Pub];
const PUB_BODY_VARS: &[Var] = &[Var::Room, Var::Pub, Var::Payload];

impl Ctx<'_> {
    fn line(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text.as_bytes()[..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }

    fn err(
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

    fn template(&self, s: &Spanned<String>, field: &str, vars: &[Var]) -> R<Template> {
        Template::compile(s.get_ref(), vars).map_err(|why| self.err(Some(s.span()), field, why))
    }

    fn path_template(&self, s: &Spanned<String>, field: &str, vars: &[Var]) -> R<Template> {
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

    fn headers(
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

    fn pointer(&self, s: &Spanned<String>, field: &str) -> R<Pointer> {
        Pointer::parse(s.get_ref()).map_err(|why| self.err(Some(s.span()), field, why))
    }

    fn query(&self, s: &Option<Spanned<String>>, field: &str) -> R<Option<String>> {
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

    fn compile(&self, raw: RawProfile) -> R<Profile> {
        let name = raw.name.unwrap_or_else(|| {
            Path::new(self.source_name)
                .file_stem()
                .map_or_else(|| "custom".into(), |s| s.to_string_lossy().into_owned())
        });
        let health = raw
            .health
            .map(|h| {
                self.path_template(&h, "health", &[])
                    .map(|_| h.into_inner())
            })
            .transpose()?;
        let stats = raw
            .stats
            .map(|h| self.path_template(&h, "stats", &[]).map(|_| h.into_inner()))
            .transpose()?;
        let sections = [
            (Transport::ShortPoll, raw.short_poll),
            (Transport::LongPoll, raw.long_poll),
            (Transport::Sse, raw.sse),
            (Transport::Ws, raw.ws),
        ];
        let mut subs: [Option<Sub>; 4] = [None, None, None, None];
        for (t, section) in sections {
            if let Some(s) = section {
                subs[t.index()] = Some(self.sub(t, s)?);
            }
        }
        if subs.iter().all(Option::is_none) {
            return Err(self.err(
                None,
                "transports",
                "the profile defines no transport: add at least one of [short-poll], [long-poll], [sse], [ws]",
            ));
        }
        let Some(publish) = raw.publish else {
            return Err(self.err(
                None,
                "[publish]",
                "missing: a profile must say how to publish (url and body, or frame)",
            ));
        };
        let line = self.line(publish.span().start);
        let p = publish.into_inner();
        let http = match (&p.url, &p.body) {
            (Some(url), Some(body)) => {
                let method = match &p.method {
                    None => hyper::Method::POST,
                    Some(m) => {
                        hyper::Method::from_bytes(m.get_ref().to_ascii_uppercase().as_bytes())
                            .map_err(|_| {
                                self.err(
                                    Some(m.span()),
                                    "[publish] method",
                                    format!("'{}' is not an HTTP method", m.get_ref()),
                                )
                            })?
                    }
                };
                Some(HttpPublish {
                    method,
                    url: self.path_template(url, "[publish] url", PUB_VARS)?,
                    url_line: self.line(url.span().start),
                    headers: self.headers(&p.headers, "publish", PUB_VARS)?,
                    body: self.template(body, "[publish] body", PUB_BODY_VARS)?,
                    ok_status: p.ok_status.clone(),
                })
            }
            (Some(url), None) => {
                return Err(self.err(
                    Some(url.span()),
                    "[publish] body",
                    "missing: give the body template, e.g. body = \"{payload}\"",
                ));
            }
            (None, Some(body)) => {
                return Err(self.err(
                    Some(body.span()),
                    "[publish] url",
                    "missing: give the publish path, e.g. url = \"/pub/{room}\"",
                ));
            }
            (None, None) => None,
        };
        let frame = p
            .frame
            .as_ref()
            .map(|f| {
                if subs[Transport::Ws.index()].is_none() {
                    return Err(self.err(
                        Some(f.span()),
                        "[publish] frame",
                        "publishing over the WebSocket needs a [ws] section",
                    ));
                }
                self.template(f, "[publish] frame", PUB_BODY_VARS)
            })
            .transpose()?;
        let frame_uses_payload = frame.as_ref().is_none_or(|f| f.uses(Var::Payload));
        if let Some(h) = &http
            && !h.body.uses(Var::Payload)
        {
            return Err(self.err(
                Some(p.body.as_ref().map_or(0..0, Spanned::span)),
                "[publish] body",
                "must contain {payload}: the marker that carries the latency stamps",
            ));
        }
        if !frame_uses_payload {
            return Err(self.err(
                p.frame.as_ref().map(Spanned::span),
                "[publish] frame",
                "must contain {payload}: the marker that carries the latency stamps",
            ));
        }
        if http.is_none() && frame.is_none() {
            return Err(self.err(
                Some(line..line),
                "[publish]",
                "give url and body (HTTP), or frame (WebSocket)",
            ));
        }
        let token = raw
            .token
            .as_ref()
            .map(|t| {
                let v = t.get_ref().as_str();
                match v.split_once(':') {
                    Some(("header", h)) => HeaderName::from_bytes(h.trim().as_bytes())
                        .map(CursorTo::Header)
                        .map_err(|_| self.err(Some(t.span()), "token", format!("'{h}' is not a valid header name"))),
                    Some(("query", q)) if !q.is_empty() && !q.contains(['&', '=', '?', '#', ' ']) => {
                        Ok(CursorTo::Query(q.to_string()))
                    }
                    _ => Err(self.err(
                        Some(t.span()),
                        "token",
                        format!("\"{v}\": use \"header:authorization\" (sent as `Bearer <token>`) or \"query:NAME\""),
                    )),
                }
            })
            .transpose()?;
        Ok(Profile {
            name,
            source_name: self.source_name.to_string(),
            health,
            stats,
            publish: Publish { http, frame, line },
            token,
            subs,
        })
    }

    fn sub(&self, t: Transport, section: Spanned<RawSub>) -> R<Sub> {
        let tname = t.as_str();
        let span = section.span();
        let s = section.into_inner();
        let f = |name: &str| format!("[{tname}] {name}");
        let only = |present: Option<Range<usize>>, name: &str, ok: &[Transport]| -> R<()> {
            match present {
                Some(sp) if !ok.contains(&t) => Err(self.err(
                    Some(sp),
                    f(name),
                    format!(
                        "does not apply to {tname} (only to {})",
                        ok.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(", ")
                    ),
                )),
                _ => Ok(()),
            }
        };
        use Transport::*;
        only(
            s.empty_status.as_ref().map(Spanned::span),
            "empty_status",
            &[ShortPoll, LongPoll],
        )?;
        only(s.events.as_ref().map(Spanned::span), "events", &[Sse])?;
        only(s.lag_event.as_ref().map(Spanned::span), "lag_event", &[Sse])?;
        only(s.gap_event.as_ref().map(Spanned::span), "gap_event", &[Sse])?;
        only(s.lag_close.as_ref().map(Spanned::span), "lag_close", &[Ws])?;
        only(
            s.subprotocols.as_ref().map(Spanned::span),
            "subprotocols",
            &[Ws],
        )?;
        only(s.on_open.as_ref().map(Spanned::span), "on_open", &[Ws])?;
        only(s.echo.as_ref().map(Spanned::span), "echo", &[Ws])?;
        only(s.error.as_ref().map(Spanned::span), "error", &[Ws])?;
        only(
            s.gap.as_ref().map(Spanned::span),
            "gap",
            &[ShortPoll, LongPoll, Ws],
        )?;
        only(
            s.lag_cursor.as_ref().map(Spanned::span),
            "lag_cursor",
            &[Sse, Ws],
        )?;

        let Some(url) = &s.url else {
            return Err(self.err(
                Some(span),
                f("url"),
                "missing: the subscribe path, e.g. url = \"/sub/{room}\"",
            ));
        };
        let vars = if t == LongPoll {
            LONG_POLL_URL_VARS
        } else {
            SUB_URL_VARS
        };
        let cursors = s
            .cursor
            .iter()
            .map(|c| self.cursor_rule(t, c))
            .collect::<R<Vec<_>>>()?;
        let matcher = |m: &Option<Spanned<RawMatch>>, name: &str| -> R<Option<Match>> {
            let Some(m) = m else { return Ok(None) };
            let raw = m.get_ref();
            let pointer = self.pointer(&raw.pointer, &f(name))?;
            if pointer.is_root() {
                return Err(self.err(
                    Some(m.span()),
                    f(name),
                    "pointer must name a field, e.g. /type",
                ));
            }
            let needle = match &raw.equals {
                Some(v) => v.as_bytes().to_vec(),
                None => raw
                    .pointer
                    .get_ref()
                    .rsplit('/')
                    .next()
                    .unwrap_or_default()
                    .as_bytes()
                    .to_vec(),
            };
            Ok(Some(Match {
                pointer,
                equals: raw.equals.clone(),
                needle: (!needle.is_empty()).then(|| memmem::Finder::new(&needle).into_owned()),
            }))
        };
        Ok(Sub {
            url: self.path_template(url, &f("url"), vars)?,
            url_line: self.line(url.span().start),
            headers: self.headers(&s.headers, tname, SUB_URL_VARS)?,
            first_query: self.query(&s.first_query, &f("first_query"))?,
            resume_query: self.query(&s.resume_query, &f("resume_query"))?,
            messages: s
                .messages
                .as_ref()
                .map(|m| self.pointer(m, &f("messages")))
                .transpose()?
                .filter(|p| !p.is_root()),
            empty_status: s.empty_status.map(Spanned::into_inner).unwrap_or_default(),
            cursors,
            gap: matcher(&s.gap, "gap")?,
            error: matcher(&s.error, "error")?,
            events: s
                .events
                .map(Spanned::into_inner)
                .unwrap_or_else(|| vec!["message".into()]),
            lag_event: s.lag_event.map(Spanned::into_inner),
            gap_event: s.gap_event.map(Spanned::into_inner),
            lag_close: s.lag_close.map(Spanned::into_inner),
            lag_cursor: s
                .lag_cursor
                .as_ref()
                .map(|p| self.pointer(p, &f("lag_cursor")))
                .transpose()?,
            subprotocols: s.subprotocols.map(Spanned::into_inner).unwrap_or_default(),
            on_open: s
                .on_open
                .map(Spanned::into_inner)
                .unwrap_or_default()
                .iter()
                .map(|fr| self.template(fr, &f("on_open"), SUB_URL_VARS))
                .collect::<R<Vec<_>>>()?,
            echo: s.echo.is_none_or(Spanned::into_inner),
        })
    }

    fn cursor_rule(&self, t: Transport, c: &Spanned<RawCursor>) -> R<CursorRule> {
        let field = format!("[{}] cursor", t.as_str());
        let raw = c.get_ref();
        let (from_s, to_s) = (raw.from.get_ref().as_str(), raw.to.get_ref().as_str());
        let header = |name: &str, sp: &Spanned<String>| {
            HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| {
                self.err(
                    Some(sp.span()),
                    &field,
                    format!("'{name}' is not a valid header name"),
                )
            })
        };
        let polling = matches!(t, Transport::ShortPoll | Transport::LongPoll);
        let from = match from_s.split_once(':') {
            Some(("header", h)) if polling => CursorFrom::Header(header(h, &raw.from)?),
            Some(("body", p)) => CursorFrom::Body(
                self.pointer(&Spanned::new(raw.from.span(), p.to_string()), &field)?,
            ),
            Some(("message", p)) => CursorFrom::Message(
                self.pointer(&Spanned::new(raw.from.span(), p.to_string()), &field)?,
            ),
            None if from_s == "sse-id" && t == Transport::Sse => CursorFrom::SseId,
            _ => {
                let forms = match t {
                    Transport::Sse => "\"sse-id\", \"body:/ptr\" or \"message:/ptr\"",
                    Transport::Ws => "\"body:/ptr\" or \"message:/ptr\"",
                    _ => "\"header:NAME\", \"body:/ptr\" or \"message:/ptr\"",
                };
                return Err(self.err(
                    Some(raw.from.span()),
                    &field,
                    format!("from = \"{from_s}\": for {} use {forms}", t.as_str()),
                ));
            }
        };
        let to = match to_s.split_once(':') {
            Some(("header", h)) => CursorTo::Header(header(h, &raw.to)?),
            Some(("query", q)) if !q.is_empty() && !q.contains(['&', '=', '?', '#', ' ']) => {
                CursorTo::Query(q.to_string())
            }
            _ => {
                return Err(self.err(
                    Some(raw.to.span()),
                    &field,
                    format!("to = \"{to_s}\": use \"header:NAME\" or \"query:NAME\""),
                ));
            }
        };
        Ok(CursorRule { from, to })
    }
}

#[cfg(test)]
mod tests;
