//! The `[socketio]` section: how to speak Socket.IO v4 to a server (both
//! `socketio` and `socketio-polling` use it). Its own typed section, not
//! the fields of `[ws]`: Engine.IO paths, events, acknowledgements and
//! argument pointers have no equivalent there. The resume machinery every
//! transport shares (cursor rules, first and resume queries, the handshake
//! URL) is also compiled into a [`Sub`], so clients keep one code path for
//! cursors.

use super::compile::{Ctx, R};
use super::raw::{RawEmit, RawSocketIo};
use super::{Sub, Template, Var};
use crate::jsonptr::Pointer;
use protocol::Transport;
use serde_json::value::RawValue;
use toml::Spanned;

const VARS: &[Var] = &[Var::Room, Var::Client];
const PUB_VARS: &[Var] = &[Var::Room, Var::Pub, Var::Payload];

/// A compiled `[socketio]` section.
#[derive(Debug, Clone)]
pub struct SocketIo {
    /// Where the server serves Engine.IO (`/socket.io/`).
    pub path: String,
    /// The namespace the client connects (`/`).
    pub namespace: String,
    /// The CONNECT packet's auth object.
    pub auth: Option<Template>,
    /// Emitted after CONNECT, in order.
    pub emits: Vec<Emit>,
    /// Events that carry messages.
    pub events: Vec<String>,
    /// The message inside such an event's arguments.
    pub message: ArgPointer,
    pub lag_event: Option<String>,
    /// The resume cursor inside the lag event's arguments.
    pub lag_cursor: Option<ArgPointer>,
    pub gap_event: Option<String>,
    /// An event that reports a refused request: counted as an error.
    pub error_event: Option<String>,
    /// In an acknowledgement's arguments: present and truthy means refused.
    pub ack_error: Option<ArgPointer>,
    /// The server sends a socket's own published messages back to it.
    pub echo: bool,
    pub publish: Option<SioPublish>,
    pub line: usize,
}

/// An event emitted after CONNECT (`["join","{room}"]`).
#[derive(Debug, Clone)]
pub struct Emit {
    pub event: String,
    /// The arguments as a JSON array.
    pub args: Template,
    /// Wait for (and check) the acknowledgement before the next step.
    pub ack: bool,
}

/// Publishing by emitting an event with an acknowledgement.
#[derive(Debug, Clone)]
pub struct SioPublish {
    pub event: String,
    /// The arguments as a JSON array, carrying `{payload}`.
    pub args: Template,
    /// The message id inside the acknowledgement's arguments.
    pub id: Option<ArgPointer>,
}

/// A JSON pointer into an event's argument list: its first segment is the
/// argument's index, the rest points inside that argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgPointer {
    pub index: usize,
    pub rest: Pointer,
}

impl ArgPointer {
    pub fn parse(s: &str) -> Result<ArgPointer, String> {
        let err = || format!("'{s}' must start with an argument index, e.g. /0 or /0/id");
        let rest = s.strip_prefix('/').ok_or_else(err)?;
        let (first, tail) = rest.split_once('/').map_or((rest, ""), |(a, b)| (a, b));
        let index = first.parse::<usize>().map_err(|_| err())?;
        let rest = if tail.is_empty() {
            Pointer::default()
        } else {
            Pointer::parse(&format!("/{tail}"))?
        };
        Ok(ArgPointer { index, rest })
    }

    /// The value in `args`, as raw JSON; `None` when absent.
    pub fn find<'a>(&self, args: &[&'a RawValue]) -> Result<Option<&'a str>, serde_json::Error> {
        let Some(arg) = args.get(self.index) else {
            return Ok(None);
        };
        if self.rest.is_root() {
            return Ok(Some(arg.get()));
        }
        self.rest.find(arg.get().as_bytes())
    }

    /// The value as text (a string's contents, a number's literal).
    pub fn find_str(&self, args: &[&RawValue]) -> Option<String> {
        self.find(args)
            .ok()
            .flatten()
            .and_then(crate::jsonptr::scalar_text)
            .map(|c| c.into_owned())
    }
}

impl Ctx<'_> {
    /// `[socketio]`, and the [`Sub`] both Socket.IO transports share.
    pub(super) fn socketio(&self, section: Spanned<RawSocketIo>) -> R<(SocketIo, Sub)> {
        let line = self.line(section.span().start);
        let s = section.into_inner();
        let f = |name: &str| format!("[socketio] {name}");
        let path = match &s.path {
            Some(p) => {
                self.path_template(p, &f("path"), &[])?;
                p.get_ref().clone()
            }
            None => protocol::socketio::PATH.to_string(),
        };
        let namespace = match &s.namespace {
            Some(n) if !n.get_ref().starts_with('/') || n.get_ref().contains(',') => {
                return Err(self.err(
                    Some(n.span()),
                    f("namespace"),
                    "a namespace starts with '/' and has no comma, e.g. \"/\" or \"/chat\"",
                ));
            }
            Some(n) => n.get_ref().clone(),
            None => "/".to_string(),
        };
        let sio = SocketIo {
            path: path.clone(),
            namespace,
            auth: self.json_template(&s.auth, &f("auth"), VARS, b'{')?,
            emits: s.emit.iter().map(|e| self.emit(e)).collect::<R<_>>()?,
            events: s
                .events
                .as_ref()
                .map(|e| e.get_ref().clone())
                .unwrap_or_else(|| vec!["message".into()]),
            message: match &s.message {
                Some(m) => self.arg_pointer(m, &f("message"))?,
                None => ArgPointer {
                    index: 0,
                    rest: Pointer::default(),
                },
            },
            lag_event: s.lag_event.as_ref().map(|e| e.get_ref().clone()),
            lag_cursor: self.opt_arg_pointer(&s.lag_cursor, &f("lag_cursor"))?,
            gap_event: s.gap_event.as_ref().map(|e| e.get_ref().clone()),
            error_event: s.error_event.as_ref().map(|e| e.get_ref().clone()),
            ack_error: self.opt_arg_pointer(&s.ack_error, &f("ack_error"))?,
            echo: s.echo.as_ref().is_none_or(|e| *e.get_ref()),
            publish: self.sio_publish(&s)?,
            line,
        };
        Ok((sio, self.sio_sub(&s, &path, line)?))
    }

    /// The cursor machinery of `[socketio]` as a [`Sub`]: its URL is the
    /// Engine.IO handshake's (`{path}?EIO=4&transport=polling&{query}`).
    fn sio_sub(&self, s: &RawSocketIo, path: &str, line: usize) -> R<Sub> {
        let f = |name: &str| format!("[socketio] {name}");
        let mut url = format!("{path}?EIO=4&transport=polling");
        if let Some(q) = &s.query {
            let v = q.get_ref().trim_start_matches(['?', '&']);
            if v.contains(char::is_whitespace) || v.contains('#') {
                return Err(self.err(
                    Some(q.span()),
                    f("query"),
                    format!("'{v}' is not a query string like room={{room}}"),
                ));
            }
            url.push('&');
            url.push_str(v);
        }
        let at = s.query.as_ref().map_or(0..0, Spanned::span);
        let cursors = s
            .cursor
            .iter()
            .map(|c| self.cursor_rule(Transport::SocketIo, c))
            .collect::<R<Vec<_>>>()?;
        Ok(Sub {
            url: self.template(&Spanned::new(at, url), &f("query"), VARS)?,
            url_line: s.query.as_ref().map_or(line, |q| self.line(q.span().start)),
            headers: self.headers(&s.headers, "socketio", VARS)?,
            first_query: self.query(&s.first_query, &f("first_query"))?,
            resume_query: self.query(&s.resume_query, &f("resume_query"))?,
            messages: None,
            cursors,
            family: super::Family::SocketIo,
        })
    }

    fn emit(&self, e: &Spanned<RawEmit>) -> R<Emit> {
        let raw = e.get_ref();
        let event = raw.event.get_ref();
        if event.is_empty() {
            return Err(self.err(
                Some(raw.event.span()),
                "[socketio] emit",
                "empty event name",
            ));
        }
        let args = self
            .json_template(&raw.args, "[socketio] emit args", VARS, b'[')?
            .unwrap_or_else(|| Template::compile("[]", &[]).unwrap_or_default());
        Ok(Emit {
            event: event.clone(),
            args,
            ack: raw.ack,
        })
    }

    /// Publishing by event: `publish_event` and `publish_args` (with
    /// `{payload}`) both, or neither.
    fn sio_publish(&self, s: &RawSocketIo) -> R<Option<SioPublish>> {
        let f = |name: &str| format!("[socketio] {name}");
        match (&s.publish_event, &s.publish_args) {
            (None, None) => Ok(None),
            (Some(e), None) => Err(self.err(
                Some(e.span()),
                f("publish_args"),
                "missing: the event's arguments, e.g. '[{\"text\":\"{payload}\"}]'",
            )),
            (None, Some(a)) => Err(self.err(
                Some(a.span()),
                f("publish_event"),
                "missing: the event to emit, e.g. \"message\"",
            )),
            (Some(e), Some(a)) => {
                let args = self
                    .json_template(&s.publish_args, &f("publish_args"), PUB_VARS, b'[')?
                    .unwrap_or_default();
                if !args.uses(Var::Payload) {
                    return Err(self.err(
                        Some(a.span()),
                        f("publish_args"),
                        super::publish::NEEDS_PAYLOAD,
                    ));
                }
                Ok(Some(SioPublish {
                    event: e.get_ref().clone(),
                    args,
                    id: self.opt_arg_pointer(&s.publish_id, &f("publish_id"))?,
                }))
            }
        }
    }

    /// A JSON template that must start with `open` (`{` or `[`).
    fn json_template(
        &self,
        s: &Option<Spanned<String>>,
        field: &str,
        vars: &[Var],
        open: u8,
    ) -> R<Option<Template>> {
        let Some(s) = s else { return Ok(None) };
        if s.get_ref().trim_start().as_bytes().first() != Some(&open) {
            let what = if open == b'[' {
                "a JSON array"
            } else {
                "a JSON object"
            };
            return Err(self.err(Some(s.span()), field, format!("must be {what}")));
        }
        self.template(s, field, vars).map(Some)
    }

    fn arg_pointer(&self, s: &Spanned<String>, field: &str) -> R<ArgPointer> {
        ArgPointer::parse(s.get_ref()).map_err(|why| self.err(Some(s.span()), field, why))
    }

    fn opt_arg_pointer(&self, s: &Option<Spanned<String>>, field: &str) -> R<Option<ArgPointer>> {
        s.as_ref().map(|p| self.arg_pointer(p, field)).transpose()
    }
}
