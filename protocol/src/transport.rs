//! The transports compared by rtbench, with the names used on the
//! command line, in metrics labels and in result files.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// How a client receives the feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Transport {
    /// `GET …/messages?since=ID` repeated at a fixed interval.
    ShortPoll,
    /// `GET …/messages?since=ID&wait=S`, held by the server until news arrives.
    LongPoll,
    /// Server-Sent Events: one `text/event-stream` response per client.
    Sse,
    /// One WebSocket per client.
    Ws,
    /// Socket.IO v4 as its official client connects by default: an
    /// Engine.IO polling handshake, then an upgrade to WebSocket.
    #[serde(rename = "socketio")]
    SocketIo,
    /// Socket.IO v4 over Engine.IO long polling only (a proxy that blocks
    /// WebSockets): a held `GET` for what the server sends, a `POST` for
    /// what the client sends.
    #[serde(rename = "socketio-polling")]
    SocketIoPolling,
    /// WebTransport over HTTP/3: messages on one server-opened
    /// unidirectional QUIC stream, reliable and ordered.
    #[serde(rename = "webtransport")]
    WebTransport,
    /// WebTransport over HTTP/3: one message per QUIC datagram, unreliable
    /// by design (a message lost on the way is dropped, not retransmitted).
    #[serde(rename = "webtransport-datagram")]
    WebTransportDatagram,
}

impl Transport {
    /// Every transport, in the order reports list them (polling first, push last).
    pub const ALL: [Transport; 8] = [
        Transport::ShortPoll,
        Transport::LongPoll,
        Transport::Sse,
        Transport::Ws,
        Transport::SocketIo,
        Transport::SocketIoPolling,
        Transport::WebTransport,
        Transport::WebTransportDatagram,
    ];

    /// How many there are: the length of per-transport arrays.
    pub const COUNT: usize = Transport::ALL.len();

    /// The stable name used in flags, metrics labels and result files.
    pub const fn as_str(self) -> &'static str {
        match self {
            Transport::ShortPoll => "short-poll",
            Transport::LongPoll => "long-poll",
            Transport::Sse => "sse",
            Transport::Ws => "ws",
            Transport::SocketIo => "socketio",
            Transport::SocketIoPolling => "socketio-polling",
            Transport::WebTransport => "webtransport",
            Transport::WebTransportDatagram => "webtransport-datagram",
        }
    }

    /// Dense index into per-transport arrays (`0..ALL.len()`).
    pub const fn index(self) -> usize {
        self as usize
    }

    /// Push transports keep one long-lived stream; polling ones make requests.
    pub const fn is_push(self) -> bool {
        matches!(
            self,
            Transport::Sse
                | Transport::Ws
                | Transport::SocketIo
                | Transport::WebTransport
                | Transport::WebTransportDatagram
        )
    }

    /// Socket.IO's transports, which share one profile section and one
    /// server endpoint.
    pub const fn is_socketio(self) -> bool {
        matches!(self, Transport::SocketIo | Transport::SocketIoPolling)
    }

    /// WebTransport's modes, which share one profile section and one
    /// server endpoint (over QUIC, not TCP).
    pub const fn is_webtransport(self) -> bool {
        matches!(
            self,
            Transport::WebTransport | Transport::WebTransportDatagram
        )
    }

    /// A transport that may drop a message on purpose (a lost datagram is
    /// not resent): what it misses is dropped by design, not lost.
    pub const fn drops_by_design(self) -> bool {
        matches!(self, Transport::WebTransportDatagram)
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown transport name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseTransportError(pub String);

impl fmt::Display for ParseTransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown transport '{}' (expected one of: {})",
            self.0,
            Transport::ALL.map(Transport::as_str).join(", ")
        )
    }
}

impl std::error::Error for ParseTransportError {}

impl FromStr for Transport {
    type Err = ParseTransportError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "short-poll" | "short_poll" | "shortpoll" | "poll" => Ok(Transport::ShortPoll),
            "long-poll" | "long_poll" | "longpoll" => Ok(Transport::LongPoll),
            "sse" | "eventsource" => Ok(Transport::Sse),
            "ws" | "websocket" => Ok(Transport::Ws),
            "socketio" | "socket.io" | "socket-io" => Ok(Transport::SocketIo),
            "socketio-polling" | "socket.io-polling" | "socket-io-polling" => {
                Ok(Transport::SocketIoPolling)
            }
            "webtransport" | "wt" => Ok(Transport::WebTransport),
            "webtransport-datagram" | "wt-datagram" => Ok(Transport::WebTransportDatagram),
            _ => Err(ParseTransportError(s.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for t in Transport::ALL {
            assert_eq!(t.as_str().parse::<Transport>(), Ok(t));
            assert_eq!(serde_json::to_string(&t).ok(), Some(format!("\"{t}\"")));
            assert_eq!(Transport::ALL[t.index()], t);
        }
        assert!("carrier-pigeon".parse::<Transport>().is_err());
    }

    /// The committed result schema names exactly these transports.
    #[test]
    fn schema_lists_every_transport() {
        fn find<'a>(v: &'a serde_json::Value, key: &str) -> Option<&'a serde_json::Value> {
            match v {
                serde_json::Value::Object(m) => m
                    .get(key)
                    .filter(|t| t.get("enum").is_some())
                    .or_else(|| m.values().find_map(|c| find(c, key))),
                serde_json::Value::Array(a) => a.iter().find_map(|c| find(c, key)),
                _ => None,
            }
        }
        let schema: serde_json::Value =
            serde_json::from_str(include_str!("../results.schema.json")).expect("schema parses");
        let names = find(&schema, "transport").and_then(|t| t.get("enum"));
        let expected: Vec<&str> = Transport::ALL.iter().map(|t| t.as_str()).collect();
        assert_eq!(names, Some(&serde_json::json!(expected)));
    }
}
