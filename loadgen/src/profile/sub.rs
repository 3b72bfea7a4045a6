//! The transport sections (`[short-poll]`, `[long-poll]`, `[sse]`, `[ws]`):
//! which fields apply to which transport, matchers, and cursor rules.

use super::compile::{Ctx, R};
use super::raw::{RawCursor, RawMatch, RawSub};
use super::{CursorFrom, CursorRule, CursorTo, Family, Match, PollSub, SseSub, Sub, Var, WsSub};
use hyper::header::HeaderName;
use memchr::memmem;
use protocol::Transport;
use std::ops::Range;
use toml::Spanned;

/// A field's place in the file (if given), its name, and the transports
/// it applies to.
type FieldScope<'a> = (Option<Range<usize>>, &'a str, &'a [Transport]);

const SUB_URL_VARS: &[Var] = &[Var::Room, Var::Client];
const LONG_POLL_URL_VARS: &[Var] = &[Var::Room, Var::Client, Var::Wait, Var::WaitMs];

impl Ctx<'_> {
    /// Every section the profile has; at least one is required.
    pub(super) fn subs(
        &self,
        sections: [(Transport, Option<Spanned<RawSub>>); 4],
        socketio: Option<Sub>,
        webtransport: Vec<(Transport, Sub)>,
    ) -> R<[Option<Sub>; Transport::COUNT]> {
        let mut subs: [Option<Sub>; Transport::COUNT] = Default::default();
        for (t, section) in sections {
            if let Some(s) = section {
                subs[t.index()] = Some(self.sub(t, s)?);
            }
        }
        if let Some(s) = socketio {
            subs[Transport::SocketIoPolling.index()] = Some(s.clone());
            subs[Transport::SocketIo.index()] = Some(s);
        }
        for (t, s) in webtransport {
            subs[t.index()] = Some(s);
        }
        if subs.iter().all(Option::is_none) {
            return Err(self.err(
                None,
                "transports",
                "the profile defines no transport: add at least one of [short-poll], [long-poll], [sse], [ws], [socketio], [webtransport]",
            ));
        }
        Ok(subs)
    }

    fn sub(&self, t: Transport, section: Spanned<RawSub>) -> R<Sub> {
        let tname = t.as_str();
        let span = section.span();
        let s = section.into_inner();
        let f = |name: &str| format!("[{tname}] {name}");
        self.fields_apply(t, &s)?;
        let Some(url) = &s.url else {
            return Err(self.err(
                Some(span),
                f("url"),
                "missing: the subscribe path, e.g. url = \"/sub/{room}\"",
            ));
        };
        let vars = if t == Transport::LongPoll {
            LONG_POLL_URL_VARS
        } else {
            SUB_URL_VARS
        };
        let cursors = s
            .cursor
            .iter()
            .map(|c| self.cursor_rule(t, c))
            .collect::<R<Vec<_>>>()?;
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
            cursors,
            family: self.family(t, s)?,
        })
    }

    /// The fields of `t`'s family (`fields_apply` refused the others).
    fn family(&self, t: Transport, s: RawSub) -> R<Family> {
        let f = |name: &str| format!("[{}] {name}", t.as_str());
        let lag_cursor = s
            .lag_cursor
            .as_ref()
            .map(|p| self.pointer(p, &f("lag_cursor")))
            .transpose()?;
        Ok(match t {
            Transport::ShortPoll | Transport::LongPoll => Family::Poll(PollSub {
                empty_status: s.empty_status.map(Spanned::into_inner).unwrap_or_default(),
                gap: self.matcher(&s.gap, &f("gap"))?,
            }),
            Transport::Sse => Family::Sse(SseSub {
                events: s
                    .events
                    .map(Spanned::into_inner)
                    .unwrap_or_else(|| vec!["message".into()]),
                lag_event: s.lag_event.map(Spanned::into_inner),
                gap_event: s.gap_event.map(Spanned::into_inner),
                lag_cursor,
            }),
            Transport::Ws => Family::Ws(WsSub {
                gap: self.matcher(&s.gap, &f("gap"))?,
                error: self.matcher(&s.error, &f("error"))?,
                message_if: self.matcher(&s.message_if, &f("message_if"))?,
                lag_close: s.lag_close.map(Spanned::into_inner),
                lag_cursor,
                subprotocols: s.subprotocols.map(Spanned::into_inner).unwrap_or_default(),
                on_open: s
                    .on_open
                    .map(Spanned::into_inner)
                    .unwrap_or_default()
                    .iter()
                    .map(|fr| self.template(fr, &f("on_open"), SUB_URL_VARS))
                    .collect::<R<Vec<_>>>()?,
                echo: s.echo.is_none_or(Spanned::into_inner),
            }),
            // Their own sections compile their subs (`[socketio]`,
            // `[webtransport]`), never a RawSub.
            Transport::SocketIo
            | Transport::SocketIoPolling
            | Transport::WebTransport
            | Transport::WebTransportDatagram => Family::SocketIo,
        })
    }

    /// Fields given in a section they do not apply to are refused (a typo
    /// in the section name must not silently change nothing).
    fn fields_apply(&self, t: Transport, s: &RawSub) -> R<()> {
        use Transport::*;
        fn at<T>(v: &Option<Spanned<T>>) -> Option<Range<usize>> {
            v.as_ref().map(Spanned::span)
        }
        let polling: &[Transport] = &[ShortPoll, LongPoll];
        let fields: [FieldScope; 12] = [
            (at(&s.empty_status), "empty_status", polling),
            (at(&s.events), "events", &[Sse]),
            (at(&s.lag_event), "lag_event", &[Sse]),
            (at(&s.gap_event), "gap_event", &[Sse]),
            (at(&s.lag_close), "lag_close", &[Ws]),
            (at(&s.subprotocols), "subprotocols", &[Ws]),
            (at(&s.on_open), "on_open", &[Ws]),
            (at(&s.echo), "echo", &[Ws]),
            (at(&s.error), "error", &[Ws]),
            (at(&s.message_if), "message_if", &[Ws]),
            (at(&s.gap), "gap", &[ShortPoll, LongPoll, Ws]),
            (at(&s.lag_cursor), "lag_cursor", &[Sse, Ws]),
        ];
        let tname = t.as_str();
        for (present, name, ok) in fields {
            match present {
                Some(sp) if !ok.contains(&t) => {
                    return Err(self.err(
                        Some(sp),
                        format!("[{tname}] {name}"),
                        format!(
                            "does not apply to {tname} (only to {})",
                            ok.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(", ")
                        ),
                    ));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// A gap or error matcher: a pointer naming a field, and the value it
    /// must have (or be truthy); the needle lets most units skip parsing.
    pub(super) fn matcher(&self, m: &Option<Spanned<RawMatch>>, field: &str) -> R<Option<Match>> {
        let Some(m) = m else { return Ok(None) };
        let raw = m.get_ref();
        let written = if raw.pointer.span().is_empty() {
            Spanned::new(m.span(), raw.pointer.get_ref().clone())
        } else {
            raw.pointer.clone()
        };
        let pointer = self.pointer(&written, field)?;
        if pointer.is_root() {
            return Err(self.err(
                Some(m.span()),
                field,
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
    }

    pub(super) fn cursor_rule(&self, t: Transport, c: &Spanned<RawCursor>) -> R<CursorRule> {
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
                    Transport::Ws
                    | Transport::SocketIo
                    | Transport::SocketIoPolling
                    | Transport::WebTransport
                    | Transport::WebTransportDatagram => "\"body:/ptr\" or \"message:/ptr\"",
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
