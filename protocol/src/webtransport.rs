//! WebTransport's framing (docs/webtransport.md): what the reference server
//! and its clients write on QUIC streams and datagrams.
//!
//! - Streams carry newline-delimited JSON: one object per line. JSON text
//!   never contains a raw newline, so a line is a frame and a reader needs
//!   no length prefix.
//! - A datagram carries one message's JSON, unframed: the datagram is the frame.
//!
//! Messages are the same bytes as on every other transport; frames that are
//! not messages carry a `type`, as on a WebSocket.

use crate::message::{
    ErrorBody, GapNotice, LagNotice, PollResponse, PublishRequest, PublishResponse,
};
use serde::{Deserialize, Serialize};

/// The end of a stream frame.
pub const FRAME_END: u8 = b'\n';

/// `?mode=` of a session: how the server sends messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// On one server-opened unidirectional stream, reliable and ordered.
    Stream,
    /// One message per datagram; a message too large for a datagram goes
    /// on the session's unidirectional stream instead.
    Datagram,
}

impl Mode {
    /// The name in `?mode=`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Mode::Stream => "stream",
            Mode::Datagram => "datagram",
        }
    }
}

/// A line a client writes on a bidirectional stream it opened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Request {
    /// Publish to the session's room; answered with [`Reply::Ack`].
    Message(PublishRequest),
    /// Show a typing indicator; `user` defaults to the session's `?user=`.
    Typing {
        #[serde(default)]
        user: Option<String>,
    },
    /// Read the room's messages after `since` (a datagram client's
    /// catch-up after a gap in ids); answered with [`Reply::Messages`].
    Fetch {
        since: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limit: Option<usize>,
    },
}

/// A line the server writes back on a client's bidirectional stream, one
/// per [`Request`] line that expects an answer, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Reply {
    /// The publish was accepted: its id and accept time.
    Ack(PublishResponse),
    /// The answer to a fetch, shaped as a poll's.
    Messages(PollResponse),
    /// The request was refused; the stream stays open.
    Error(ErrorBody),
}

/// A frame on the server's unidirectional stream besides messages (which
/// carry no `type`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Notice {
    /// Messages before the backlog are gone (the cursor was too old).
    Gap(GapNotice),
    /// The subscriber fell behind and the session ends: resume from `cursor`.
    Lagged(LagNotice),
    /// Something the client sent was refused.
    Error(ErrorBody),
}

/// Session close code for a subscriber dropped because it fell behind (as
/// on a WebSocket); the reason is a [`LagNotice`] as JSON.
pub const CLOSE_LAGGED: u32 = 4000;
/// Session close code when the server shuts down.
pub const CLOSE_GOING_AWAY: u32 = 1001;

/// Session close code of a session refused after it was accepted (HTTP/3
/// can only answer 403, 404 and 429 before): `4000 +` the HTTP status the
/// other transports answer (4400 bad request, 4401 no token, 4403 origin,
/// 4503 broker down), with the JSON error body as the reason.
pub const fn close_refused(status: u16) -> u32 {
    4000 + status as u32
}

/// The HTTP status a [`close_refused`] code stands for, if it is one.
pub const fn refused_status(code: u32) -> Option<u16> {
    if code > 4100 && code < 4600 {
        Some((code - 4000) as u16)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_and_reply_lines() {
        let r: Request =
            serde_json::from_str(r#"{"type":"message","user":"a","text":"x"}"#).expect("message");
        assert!(matches!(r, Request::Message(PublishRequest { .. })));
        let r: Request = serde_json::from_str(r#"{"type":"fetch","since":"7"}"#).expect("fetch");
        assert_eq!(
            r,
            Request::Fetch {
                since: "7".into(),
                limit: None
            }
        );
        assert!(serde_json::from_str::<Request>(r#"{"type":"fetch"}"#).is_err());
        let ack = Reply::Ack(PublishResponse {
            id: "3".into(),
            ts_us: 9,
        });
        assert_eq!(
            serde_json::to_string(&ack).unwrap_or_default(),
            r#"{"type":"ack","id":"3","ts_us":9}"#
        );
        let lag = Notice::Lagged(LagNotice { cursor: "5".into() });
        assert_eq!(
            serde_json::to_string(&lag).unwrap_or_default(),
            r#"{"type":"lagged","cursor":"5"}"#
        );
        assert_eq!(close_refused(401), 4401);
        assert_eq!(refused_status(4401), Some(401));
        assert_eq!(refused_status(CLOSE_LAGGED), None);
        // A message is not a notice.
        assert!(
            serde_json::from_str::<Notice>(r#"{"id":"1","room":"r","kind":"message","ts_us":1}"#)
                .is_err()
        );
    }
}
