//! Target profiles: how to speak to a server (TOML, documented in
//! `docs/profiles.md`). rtbench's own server is described by the built-in
//! profile `profiles/rtbench.toml` through exactly this mechanism, so the
//! client modules have one code path for every server.
//!
//! A profile is parsed once into compiled templates, pointers and header
//! names; errors name the file, line and field, so writing a profile for a
//! new server is a short edit-and-check loop with `rtbench profile check`.
//!
//! `raw` is the file format as written, `compile` the checks and
//! compilation shared by every section, `publish`, `sub` and `socketio`
//! those of the `[publish]` section, the per-transport sections and
//! `[socketio]`. A compiled section ([`Sub`]) keeps what every transport
//! has (URL, cursors) apart from what only its family has ([`Family`]).

mod compile;
mod publish;
mod raw;
mod socketio;
mod sub;
mod template;
mod webtransport;

pub use socketio::{ArgPointer, Emit, SioPublish, SocketIo};
pub use template::{Template, Var, Vars};
pub use webtransport::{Framing, WtPublish, WtSub};

use crate::jsonptr::{self, Pointer};
use compile::Ctx;
use hyper::header::HeaderName;
use memchr::memmem;
use protocol::Transport;
use std::path::Path;

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
    /// Most rooms the server has (`rooms = 1`: one global room, which
    /// ignores `{room}`); more would silently multiply deliveries.
    pub rooms: Option<u64>,
    /// `[socketio]`: both Socket.IO transports.
    pub socketio: Option<SocketIo>,
    subs: [Option<Sub>; Transport::COUNT],
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

/// How one transport subscribes and what its answers look like: what
/// every transport has (the subscribe URL and the resume machinery), and
/// what only its family has ([`Family`]).
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
    pub cursors: Vec<CursorRule>,
    pub family: Family,
}

/// The fields of one family of transports (one per section of a profile,
/// so the size of its variants does not matter).
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)]
pub enum Family {
    Poll(PollSub),
    Sse(SseSub),
    Ws(WsSub),
    /// The rest is `Profile::socketio`.
    SocketIo,
    /// `[webtransport]`, one mode of it.
    WebTransport(WtSub),
}

/// Short and long polling.
#[derive(Debug, Clone)]
pub struct PollSub {
    /// Statuses meaning "nothing new".
    pub empty_status: Vec<u16>,
    pub gap: Option<Match>,
}

#[derive(Debug, Clone)]
pub struct SseSub {
    /// Event names that carry messages (`message` also matches unnamed events).
    pub events: Vec<String>,
    pub lag_event: Option<String>,
    pub gap_event: Option<String>,
    /// Where the resume cursor is in a lag notice's data.
    pub lag_cursor: Option<Pointer>,
}

#[derive(Debug, Clone)]
pub struct WsSub {
    pub gap: Option<Match>,
    pub error: Option<Match>,
    /// Only frames it matches carry messages; the others (history, user
    /// lists, system notices) are ignored, as SSE's other events are.
    pub message_if: Option<Match>,
    /// Close code meaning "you fell behind; resume".
    pub lag_close: Option<u16>,
    /// Where the resume cursor is in the lag close's reason.
    pub lag_cursor: Option<Pointer>,
    pub subprotocols: Vec<String>,
    /// Frames sent right after the WebSocket opens.
    pub on_open: Vec<Template>,
    /// The server sends a connection's own published messages back to it.
    pub echo: bool,
}

/// What another family's section has of a family's fields: nothing.
static NO_POLL: PollSub = PollSub {
    empty_status: Vec::new(),
    gap: None,
};
static NO_SSE: SseSub = SseSub {
    events: Vec::new(),
    lag_event: None,
    gap_event: None,
    lag_cursor: None,
};
static NO_WS: WsSub = WsSub {
    gap: None,
    error: None,
    message_if: None,
    lag_close: None,
    lag_cursor: None,
    subprotocols: Vec::new(),
    on_open: Vec::new(),
    echo: true,
};

impl Sub {
    /// The polling fields (empty for another family).
    pub fn poll(&self) -> &PollSub {
        match &self.family {
            Family::Poll(p) => p,
            _ => &NO_POLL,
        }
    }

    /// The SSE fields (empty for another family).
    pub fn sse(&self) -> &SseSub {
        match &self.family {
            Family::Sse(s) => s,
            _ => &NO_SSE,
        }
    }

    /// The WebSocket fields (empty for another family).
    pub fn ws(&self) -> &WsSub {
        match &self.family {
            Family::Ws(w) => w,
            _ => &NO_WS,
        }
    }

    /// The WebTransport fields (`None` for another family).
    pub fn wt(&self) -> Option<&WtSub> {
        match &self.family {
            Family::WebTransport(w) => Some(w),
            _ => None,
        }
    }

    /// Is `name` one of the SSE events that carry messages?
    pub fn measures_event(&self, name: &str) -> bool {
        let name = if name.is_empty() { "message" } else { name };
        self.sse().events.iter().any(|e| e == name)
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
        let raw: raw::RawProfile = toml::from_str(text).map_err(|e| ProfileError {
            source_name: source_name.to_string(),
            line: e.span().map(|s| ctx.line(s.start)),
            field: "TOML".into(),
            why: e.message().trim_end().to_string(),
        })?;
        ctx.compile(raw)
    }

    /// The section for `t`, if the profile defines it.
    pub fn sub(&self, t: Transport) -> Option<&Sub> {
        self.subs.get(t.index()).and_then(Option::as_ref)
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

    /// How publishers send unless told: over HTTP, else the one way the
    /// profile has (a WebSocket frame, a Socket.IO event, a WebTransport
    /// frame).
    pub fn default_publish_via(&self) -> protocol::results::PublishVia {
        use protocol::results::PublishVia;
        match (&self.publish.http, &self.publish.frame) {
            (Some(_), _) => PublishVia::Http,
            (None, Some(_)) => PublishVia::Ws,
            (None, None) if self.publishes_over_socketio() => PublishVia::SocketIo,
            (None, None) if self.webtransport_publish().is_some() => PublishVia::WebTransport,
            (None, None) => PublishVia::Ws,
        }
    }

    /// The `[webtransport]` publishing fields, if the profile has them.
    pub fn webtransport_publish(&self) -> Option<&WtPublish> {
        [Transport::WebTransport, Transport::WebTransportDatagram]
            .into_iter()
            .find_map(|t| self.sub(t).and_then(Sub::wt))
            .and_then(|w| w.publish.as_ref())
    }

    /// Can publishers emit a Socket.IO event?
    pub fn publishes_over_socketio(&self) -> bool {
        self.socketio.as_ref().is_some_and(|s| s.publish.is_some())
    }
}

#[cfg(test)]
mod tests;
