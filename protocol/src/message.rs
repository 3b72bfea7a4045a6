//! JSON bodies and frames of protocol v1 (docs/architecture.md, "The protocol").

use serde::{Deserialize, Serialize};

/// What a message is about; load clients only ever publish `message`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A chat message (the only kind a benchmark measures).
    Message,
    /// A user joined or left (`text` says which).
    System,
    /// A user is typing.
    Typing,
    /// The room's user list after a join or leave (`users`).
    Presence,
}

/// The one object every transport carries, byte-identical on all of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Opaque cursor, strictly increasing within a room.
    pub id: String,
    pub room: String,
    pub kind: Kind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Server accept time, µs since the UNIX epoch.
    pub ts_us: u64,
    /// The publisher's intended send time, relayed untouched (open-loop latency).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_us: Option<u64>,
    /// Publisher id, relayed untouched.
    #[serde(rename = "pub", default, skip_serializing_if = "Option::is_none")]
    pub publisher: Option<String>,
    /// Per-publisher sequence number, relayed untouched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    /// Present on `presence` messages: who is in the room.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users: Option<Vec<String>>,
}

/// `POST /api/rooms/{room}/messages`, and the body of a WebSocket `message` frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishRequest {
    pub user: String,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_us: Option<u64>,
    #[serde(rename = "pub", default, skip_serializing_if = "Option::is_none")]
    pub publisher: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
}

/// `201` answer to a publish.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishResponse {
    pub id: String,
    pub ts_us: u64,
}

/// `POST /api/rooms/{room}/typing`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TypingRequest {
    pub user: String,
}

/// Answer to a short or long poll.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PollResponse {
    pub messages: Vec<Message>,
    /// Pass back as `since` on the next poll.
    pub cursor: String,
    /// True when `since` was older than the kept history (or unknown to this
    /// server): messages between it and the first one returned are gone.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub gap: bool,
}

/// A frame a WebSocket client sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ClientFrame {
    /// Publish to the room the socket is subscribed to.
    Message(PublishRequest),
    /// Show a typing indicator; `user` defaults to the socket's `?user=`.
    Typing {
        #[serde(default)]
        user: Option<String>,
    },
}

/// Body of every HTTP error, and (with `"type":"error"`) of a WebSocket error frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Human-readable: what went wrong and what to do.
    pub error: String,
    /// Stable, low-cardinality code (`bad_room`, `bad_json`, `too_large`, …).
    pub code: String,
}

/// Sent by the server before it drops a subscriber that fell behind (SSE
/// `event: lagged` data, WebSocket close reason): resume from `cursor`.
/// Never a text frame, so it has no `type` and no [`ServerFrame`] variant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LagNotice {
    pub cursor: String,
}

/// Sent before the backlog when the client's cursor was older than the
/// kept history (the push twin of a poll's `"gap":true`): `cursor` is the
/// one the client asked for. SSE `event: gap` data, and [`ServerFrame::Gap`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GapNotice {
    pub cursor: String,
}

/// A WebSocket text frame the server sends besides messages; messages
/// carry no `type`, these always do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ServerFrame {
    /// `{"type":"gap","cursor":ID}`: messages before the backlog are gone.
    Gap(GapNotice),
    /// `{"type":"error","error":…,"code":…}`: a client frame was refused;
    /// the socket stays open.
    Error(ErrorBody),
}

/// WebSocket close code for a subscriber dropped because it fell behind
/// (private-use range 4000–4999); the reason is a [`LagNotice`] as JSON.
pub const WS_CLOSE_LAGGED: u16 = 4000;

/// SSE event name of a [`LagNotice`].
pub const SSE_EVENT_LAGGED: &str = "lagged";

/// SSE event name of a [`GapNotice`] (on a WebSocket: [`ServerFrame::Gap`]).
pub const SSE_EVENT_GAP: &str = "gap";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_wire_shape() {
        let m = Message {
            id: "42".into(),
            room: "lobby".into(),
            kind: Kind::Message,
            user: Some("alice".into()),
            text: Some("hi".into()),
            ts_us: 1_764_400_000_123_456,
            sent_us: Some(1_764_400_000_123_000),
            publisher: Some("p3".into()),
            seq: Some(17),
            users: None,
        };
        let json = serde_json::to_string(&m).unwrap_or_default();
        assert_eq!(
            json,
            r#"{"id":"42","room":"lobby","kind":"message","user":"alice","text":"hi","ts_us":1764400000123456,"sent_us":1764400000123000,"pub":"p3","seq":17}"#
        );
        let back: Message = serde_json::from_str(&json).expect("parses");
        assert_eq!(back, m);
    }

    #[test]
    fn client_frames() {
        let f: ClientFrame =
            serde_json::from_str(r#"{"type":"message","user":"a","text":"x","seq":3}"#)
                .expect("message frame");
        assert!(matches!(
            f,
            ClientFrame::Message(PublishRequest { seq: Some(3), .. })
        ));
        let f: ClientFrame = serde_json::from_str(r#"{"type":"typing"}"#).expect("typing");
        assert_eq!(f, ClientFrame::Typing { user: None });
        assert!(serde_json::from_str::<ClientFrame>(r#"{"type":"nope"}"#).is_err());
        assert!(serde_json::from_str::<PublishRequest>(r#"{"user":"a"}"#).is_err());
        assert!(serde_json::from_str::<PublishRequest>(r#"{"user":1,"text":"x"}"#).is_err());
    }

    /// The JSON the chat page, the built-in profile and older clients
    /// read: these bytes must not change.
    #[test]
    fn server_frames_wire_shape() {
        let gap = ServerFrame::Gap(GapNotice { cursor: "3".into() });
        let error = ServerFrame::Error(ErrorBody {
            error: "bad \"x\"".into(),
            code: "bad_json".into(),
        });
        let cases = [
            (&gap, r#"{"type":"gap","cursor":"3"}"#),
            (
                &error,
                r#"{"type":"error","error":"bad \"x\"","code":"bad_json"}"#,
            ),
        ];
        for (frame, wire) in cases {
            assert_eq!(serde_json::to_string(frame).unwrap_or_default(), wire);
            let back: ServerFrame = serde_json::from_str(wire).expect("parses");
            assert_eq!(&back, frame);
        }
        let notice = LagNotice { cursor: "7".into() };
        assert_eq!(
            serde_json::to_string(&notice).unwrap_or_default(),
            r#"{"cursor":"7"}"#
        );
        // A message is not a server frame.
        assert!(
            serde_json::from_str::<ServerFrame>(
                r#"{"id":"1","room":"r","kind":"message","ts_us":1}"#
            )
            .is_err()
        );
    }

    #[test]
    fn poll_response_omits_false_gap() {
        let r = PollResponse {
            messages: vec![],
            cursor: "0".into(),
            gap: false,
        };
        assert_eq!(
            serde_json::to_string(&r).unwrap_or_default(),
            r#"{"messages":[],"cursor":"0"}"#
        );
    }
}
