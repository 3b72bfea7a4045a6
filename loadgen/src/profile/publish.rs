//! The `[publish]` section (over HTTP, or a frame on the WebSocket) and
//! where a client's token goes.

use super::compile::{Ctx, R};
use super::raw::RawPublish;
use super::{CursorTo, HttpPublish, Publish, Var};
use hyper::header::HeaderName;
use toml::Spanned;

const PUB_VARS: &[Var] = &[Var::Room, Var::Pub];
const PUB_BODY_VARS: &[Var] = &[Var::Room, Var::Pub, Var::Payload];

/// Why a publish template must contain `{payload}`.
pub(super) const NEEDS_PAYLOAD: &str =
    "must contain {payload}: the marker that carries the latency stamps";

impl Ctx<'_> {
    /// `[publish]`: required, with url and body (HTTP) or frame (WebSocket,
    /// which needs the `[ws]` section: `has_ws`), each carrying `{payload}`.
    /// Without the section, a profile must publish by Socket.IO event or
    /// WebTransport frame (`other_publish`).
    pub(super) fn publish(
        &self,
        publish: Option<Spanned<RawPublish>>,
        has_ws: bool,
        other_publish: bool,
    ) -> R<Publish> {
        let Some(publish) = publish else {
            if other_publish {
                return Ok(Publish {
                    http: None,
                    frame: None,
                    line: 0,
                });
            }
            return Err(self.err(
                None,
                "[publish]",
                "missing: a profile must say how to publish (url and body, or frame; or [socketio] publish_event, or [webtransport] publish_frame)",
            ));
        };
        let line = self.line(publish.span().start);
        let p = publish.into_inner();
        let http = self.http_publish(&p)?;
        let frame = p
            .frame
            .as_ref()
            .map(|f| {
                if !has_ws {
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
            let span = p.body.as_ref().map_or(0..0, Spanned::span);
            return Err(self.err(Some(span), "[publish] body", NEEDS_PAYLOAD));
        }
        if !frame_uses_payload {
            let span = p.frame.as_ref().map(Spanned::span);
            return Err(self.err(span, "[publish] frame", NEEDS_PAYLOAD));
        }
        if http.is_none() && frame.is_none() {
            return Err(self.err(
                Some(line..line),
                "[publish]",
                "give url and body (HTTP), or frame (WebSocket)",
            ));
        }
        Ok(Publish { http, frame, line })
    }

    /// Publishing over HTTP: url and body both, or neither.
    fn http_publish(&self, p: &RawPublish) -> R<Option<HttpPublish>> {
        match (&p.url, &p.body) {
            (Some(url), Some(body)) => Ok(Some(HttpPublish {
                method: self.method(p.method.as_ref())?,
                url: self.path_template(url, "[publish] url", PUB_VARS)?,
                url_line: self.line(url.span().start),
                headers: self.headers(&p.headers, "publish", PUB_VARS)?,
                body: self.template(body, "[publish] body", PUB_BODY_VARS)?,
                ok_status: p.ok_status.clone(),
            })),
            (Some(url), None) => Err(self.err(
                Some(url.span()),
                "[publish] body",
                "missing: give the body template, e.g. body = \"{payload}\"",
            )),
            (None, Some(body)) => Err(self.err(
                Some(body.span()),
                "[publish] url",
                "missing: give the publish path, e.g. url = \"/pub/{room}\"",
            )),
            (None, None) => Ok(None),
        }
    }

    /// The publish method; POST when not given.
    fn method(&self, m: Option<&Spanned<String>>) -> R<hyper::Method> {
        let Some(m) = m else {
            return Ok(hyper::Method::POST);
        };
        hyper::Method::from_bytes(m.get_ref().to_ascii_uppercase().as_bytes()).map_err(|_| {
            self.err(
                Some(m.span()),
                "[publish] method",
                format!("'{}' is not an HTTP method", m.get_ref()),
            )
        })
    }

    /// `token = "header:NAME"` (sent as `Bearer <token>`) or `"query:NAME"`.
    pub(super) fn token(&self, t: &Spanned<String>) -> R<CursorTo> {
        let v = t.get_ref().as_str();
        match v.split_once(':') {
            Some(("header", h)) => HeaderName::from_bytes(h.trim().as_bytes())
                .map(CursorTo::Header)
                .map_err(|_| {
                    self.err(
                        Some(t.span()),
                        "token",
                        format!("'{h}' is not a valid header name"),
                    )
                }),
            Some(("query", q)) if !q.is_empty() && !q.contains(['&', '=', '?', '#', ' ']) => {
                Ok(CursorTo::Query(q.to_string()))
            }
            _ => Err(self.err(
                Some(t.span()),
                "token",
                format!(
                    "\"{v}\": use \"header:authorization\" (sent as `Bearer <token>`) or \"query:NAME\""
                ),
            )),
        }
    }
}
