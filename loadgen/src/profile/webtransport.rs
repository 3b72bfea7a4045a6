//! The `[webtransport]` section: one section for both WebTransport modes
//! (`webtransport` on the server's stream, `webtransport-datagram`), since a
//! server serves both on one session URL and tells them apart by a query
//! parameter. Notices and lag are matched on the stream's frames as on a
//! WebSocket's; the framing of the streams is newline-delimited JSON
//! (rtbench's, docs/webtransport.md) or a u32 big-endian length prefix.

use super::compile::{Ctx, R};
use super::raw::RawWebTransport;
use super::{Family, Match, Sub, Template, Var};
use crate::jsonptr::Pointer;
use protocol::Transport;
use protocol::webtransport::Mode;
use toml::Spanned;

const VARS: &[Var] = &[Var::Room, Var::Client];
const PUB_VARS: &[Var] = &[Var::Room, Var::Pub, Var::Payload];

/// How frames are delimited on a WebTransport stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// One JSON object per line (JSON text holds no raw newline).
    Newline,
    /// A u32 big-endian byte count, then that many bytes of JSON.
    Length,
}

/// The fields only WebTransport has.
#[derive(Debug, Clone)]
pub struct WtSub {
    pub mode: Mode,
    /// The query parameter that names the mode (`mode`): added to every
    /// session URL as `mode=stream|datagram`; `None`: the URL says it.
    pub mode_query: Option<String>,
    pub framing: Framing,
    pub gap: Option<Match>,
    pub error: Option<Match>,
    /// A frame meaning "you fell behind; the session ends, resume".
    pub lag: Option<Match>,
    /// Session close code meaning the same.
    pub lag_close: Option<u32>,
    /// Where the resume cursor is in the lag frame or close reason.
    pub lag_cursor: Option<Pointer>,
    pub publish: Option<WtPublish>,
}

/// Publishing on a bidirectional stream of the session: one frame out,
/// one answer back per publish, in order.
#[derive(Debug, Clone)]
pub struct WtPublish {
    pub frame: Template,
    /// The message id in the answer.
    pub id: Option<Pointer>,
    /// An answer meaning "refused".
    pub error: Option<Match>,
}

impl Ctx<'_> {
    /// `[webtransport]`: a [`Sub`] for each mode it lists.
    pub(super) fn webtransport(
        &self,
        section: Spanned<RawWebTransport>,
    ) -> R<Vec<(Transport, Sub)>> {
        let span = section.span();
        let s = section.into_inner();
        let f = |name: &str| format!("[webtransport] {name}");
        let Some(url) = &s.url else {
            return Err(self.err(
                Some(span),
                f("url"),
                "missing: the session path, e.g. url = \"/rooms/{room}/wt\"",
            ));
        };
        let modes = match &s.modes {
            None => vec![Mode::Stream],
            Some(m) => self.modes(m)?,
        };
        let framing = match s.framing.as_ref().map(|v| (v.get_ref().as_str(), v.span())) {
            None | Some(("newline", _)) => Framing::Newline,
            Some(("length", _)) => Framing::Length,
            Some((other, sp)) => {
                return Err(self.err(
                    Some(sp),
                    f("framing"),
                    format!("'{other}': use \"newline\" or \"length\""),
                ));
            }
        };
        let cursors = s
            .cursor
            .iter()
            .map(|c| self.cursor_rule(Transport::WebTransport, c))
            .collect::<R<Vec<_>>>()?;
        let base = Sub {
            url: self.path_template(url, &f("url"), VARS)?,
            url_line: self.line(url.span().start),
            headers: self.headers(&s.headers, "webtransport", VARS)?,
            first_query: self.query(&s.first_query, &f("first_query"))?,
            resume_query: self.query(&s.resume_query, &f("resume_query"))?,
            messages: None,
            cursors,
            family: Family::SocketIo,
        };
        let wt = WtSub {
            mode: Mode::Stream,
            mode_query: s.mode_query.as_ref().map(|q| q.get_ref().clone()),
            framing,
            gap: self.matcher(&s.gap, &f("gap"))?,
            error: self.matcher(&s.error, &f("error"))?,
            lag: self.matcher(&s.lag, &f("lag"))?,
            lag_close: s.lag_close.as_ref().map(|c| *c.get_ref()),
            lag_cursor: s
                .lag_cursor
                .as_ref()
                .map(|p| self.pointer(p, &f("lag_cursor")))
                .transpose()?,
            publish: self.wt_publish(&s)?,
        };
        Ok(modes
            .into_iter()
            .map(|mode| {
                let t = match mode {
                    Mode::Stream => Transport::WebTransport,
                    Mode::Datagram => Transport::WebTransportDatagram,
                };
                let family = Family::WebTransport(WtSub { mode, ..wt.clone() });
                (
                    t,
                    Sub {
                        family,
                        ..base.clone()
                    },
                )
            })
            .collect())
    }

    fn modes(&self, m: &Spanned<Vec<String>>) -> R<Vec<Mode>> {
        let mut out = Vec::new();
        for name in m.get_ref() {
            let mode = match name.as_str() {
                "stream" => Mode::Stream,
                "datagram" => Mode::Datagram,
                _ => {
                    return Err(self.err(
                        Some(m.span()),
                        "[webtransport] modes",
                        format!("'{name}': use \"stream\" and/or \"datagram\""),
                    ));
                }
            };
            if !out.contains(&mode) {
                out.push(mode);
            }
        }
        if out.is_empty() {
            return Err(self.err(
                Some(m.span()),
                "[webtransport] modes",
                "empty: list \"stream\", \"datagram\" or both",
            ));
        }
        Ok(out)
    }

    /// `publish_frame` (with `{payload}`), its answer's id and error.
    fn wt_publish(&self, s: &RawWebTransport) -> R<Option<WtPublish>> {
        let f = |name: &str| format!("[webtransport] {name}");
        let Some(frame) = &s.publish_frame else {
            return Ok(None);
        };
        let frame_t = self.template(frame, &f("publish_frame"), PUB_VARS)?;
        if !frame_t.uses(Var::Payload) {
            return Err(self.err(
                Some(frame.span()),
                f("publish_frame"),
                super::publish::NEEDS_PAYLOAD,
            ));
        }
        Ok(Some(WtPublish {
            frame: frame_t,
            id: s
                .publish_id
                .as_ref()
                .map(|p| self.pointer(p, &f("publish_id")))
                .transpose()?,
            error: self.matcher(&s.publish_error, &f("publish_error"))?,
        }))
    }
}
