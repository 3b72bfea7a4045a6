//! Engine.IO protocol 4 packets and long-polling payloads (framing in the
//! [module overview](super)).

use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

/// Joins packets in a long-polling payload.
pub const SEPARATOR: char = '\u{1e}';
/// The data of the ping and pong that test a WebSocket before an upgrade.
pub const PROBE: &str = "probe";
/// The reference server's `pingInterval`, ms.
pub const DEFAULT_PING_INTERVAL_MS: u64 = 25_000;
/// The reference server's `pingTimeout`, ms.
pub const DEFAULT_PING_TIMEOUT_MS: u64 = 20_000;
/// The reference server's `maxPayload` (its `maxHttpBufferSize`), bytes.
pub const DEFAULT_MAX_PAYLOAD: usize = 1_000_000;

/// The type digit that starts every packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketType {
    Open,
    Close,
    Ping,
    Pong,
    Message,
    Upgrade,
    Noop,
}

impl PacketType {
    /// The digit on the wire.
    pub fn digit(self) -> char {
        match self {
            PacketType::Open => '0',
            PacketType::Close => '1',
            PacketType::Ping => '2',
            PacketType::Pong => '3',
            PacketType::Message => '4',
            PacketType::Upgrade => '5',
            PacketType::Noop => '6',
        }
    }

    fn from_byte(b: u8) -> Option<PacketType> {
        Some(match b {
            b'0' => PacketType::Open,
            b'1' => PacketType::Close,
            b'2' => PacketType::Ping,
            b'3' => PacketType::Pong,
            b'4' => PacketType::Message,
            b'5' => PacketType::Upgrade,
            b'6' => PacketType::Noop,
            _ => return None,
        })
    }
}

/// The data of the `open` packet, with the spec's field names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Handshake {
    /// Session id: the `sid` query parameter of every later request.
    pub sid: String,
    /// Transports the client may upgrade to (`["websocket"]` on polling,
    /// `[]` on a WebSocket opened directly).
    pub upgrades: Vec<String>,
    /// How often the server pings, ms.
    pub ping_interval: u64,
    /// How long the server waits for the pong, ms.
    pub ping_timeout: u64,
    /// Largest long-polling `POST` body the server accepts, bytes.
    pub max_payload: u64,
}

impl Handshake {
    /// The handshake's JSON as the reference server writes it (same field
    /// order, same escaping), without going through serde.
    fn push_json(&self, out: &mut String) {
        out.push_str("{\"sid\":");
        super::push_json_str(out, &self.sid);
        out.push_str(",\"upgrades\":[");
        for (i, u) in self.upgrades.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            super::push_json_str(out, u);
        }
        // Writing to a String cannot fail.
        let _ = write!(
            out,
            "],\"pingInterval\":{},\"pingTimeout\":{},\"maxPayload\":{}}}",
            self.ping_interval, self.ping_timeout, self.max_payload
        );
    }
}

/// One Engine.IO packet; text data borrows from the decoded input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet<'a> {
    Open(Handshake),
    Close,
    /// Sent by the server (protocol 4 reversed v3's direction); data is
    /// empty, or [`PROBE`] from a client testing a WebSocket.
    Ping(&'a str),
    /// The answer to a ping, echoing its data.
    Pong(&'a str),
    /// Application data: one Socket.IO packet.
    Message(&'a str),
    Upgrade,
    Noop,
}

/// Why bytes are not an Engine.IO packet or payload (or cannot become one).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("empty Engine.IO packet")]
    Empty,
    #[error("unknown Engine.IO packet type {0:?}")]
    UnknownType(char),
    #[error("binary Engine.IO packets are not supported")]
    BinaryNotSupported,
    #[error("Engine.IO {0:?} packet with unexpected data")]
    UnexpectedData(PacketType),
    #[error("bad Engine.IO handshake: {0}")]
    BadHandshake(#[source] serde_json::Error),
    #[error("Engine.IO payload is not UTF-8")]
    NotUtf8,
    #[error("Engine.IO payload of {len} bytes exceeds the maximum of {max}")]
    PayloadTooLarge { len: usize, max: usize },
    #[error("Engine.IO packet data contains the payload separator 0x1E")]
    SeparatorInData,
}

impl<'a> Packet<'a> {
    pub fn packet_type(&self) -> PacketType {
        match self {
            Packet::Open(_) => PacketType::Open,
            Packet::Close => PacketType::Close,
            Packet::Ping(_) => PacketType::Ping,
            Packet::Pong(_) => PacketType::Pong,
            Packet::Message(_) => PacketType::Message,
            Packet::Upgrade => PacketType::Upgrade,
            Packet::Noop => PacketType::Noop,
        }
    }

    /// Decodes one packet: a WebSocket text frame, or one record of a
    /// payload. Data on close, upgrade and noop is refused: no
    /// implementation sends any, so it means the stream is misframed.
    pub fn decode(text: &'a str) -> Result<Packet<'a>, EngineError> {
        let first = *text.as_bytes().first().ok_or(EngineError::Empty)?;
        if first == b'b' {
            return Err(EngineError::BinaryNotSupported);
        }
        let Some(kind) = PacketType::from_byte(first) else {
            let c = text.chars().next().unwrap_or_default();
            return Err(EngineError::UnknownType(c));
        };
        // The type is one ASCII byte, so 1 is a character boundary.
        let data = &text[1..];
        let bare = |p: Packet<'a>| {
            if data.is_empty() {
                Ok(p)
            } else {
                Err(EngineError::UnexpectedData(kind))
            }
        };
        match kind {
            PacketType::Open => serde_json::from_str(data)
                .map(Packet::Open)
                .map_err(EngineError::BadHandshake),
            PacketType::Close => bare(Packet::Close),
            PacketType::Ping => Ok(Packet::Ping(data)),
            PacketType::Pong => Ok(Packet::Pong(data)),
            PacketType::Message => Ok(Packet::Message(data)),
            PacketType::Upgrade => bare(Packet::Upgrade),
            PacketType::Noop => bare(Packet::Noop),
        }
    }

    /// Appends `<digit><data>`.
    pub fn encode_into(&self, out: &mut String) {
        out.push(self.packet_type().digit());
        match self {
            Packet::Open(h) => h.push_json(out),
            Packet::Ping(d) | Packet::Pong(d) | Packet::Message(d) => out.push_str(d),
            Packet::Close | Packet::Upgrade | Packet::Noop => {}
        }
    }

    /// The packet as one WebSocket text frame (or one payload record).
    pub fn encode(&self) -> String {
        let mut out = String::new();
        self.encode_into(&mut out);
        out
    }
}

/// A WebSocket frame as the transport delivered it: text frames carry
/// packets, binary frames carry binary messages (unsupported here).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WsFrame<'a> {
    Text(&'a str),
    Binary(&'a [u8]),
}

impl<'a> WsFrame<'a> {
    /// The packet in this frame.
    pub fn decode(self) -> Result<Packet<'a>, EngineError> {
        match self {
            WsFrame::Text(t) => Packet::decode(t),
            WsFrame::Binary(_) => Err(EngineError::BinaryNotSupported),
        }
    }
}

/// The packets of a long-polling body, after its size and encoding were
/// checked: each record decodes lazily (no allocation), so a reader can stop
/// at the first error as the reference implementation does.
#[derive(Debug, Clone)]
pub struct Records<'a>(std::str::Split<'a, char>);

impl<'a> Iterator for Records<'a> {
    type Item = Result<Packet<'a>, EngineError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(Packet::decode)
    }
}

/// Splits a long-polling body into its packets. A body over `max_payload`
/// bytes is refused before it is looked at (the reference server answers
/// `413` to such a `POST`); an empty body is one empty, invalid, packet.
pub fn decode_payload(body: &[u8], max_payload: usize) -> Result<Records<'_>, EngineError> {
    if body.len() > max_payload {
        return Err(EngineError::PayloadTooLarge {
            len: body.len(),
            max: max_payload,
        });
    }
    let text = std::str::from_utf8(body).map_err(|_| EngineError::NotUtf8)?;
    Ok(Records(text.split(SEPARATOR)))
}

/// Whether [`PayloadBuilder`] took a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Fit {
    Added,
    /// The payload is full: send it, then push the packet into a new one.
    Full,
}

/// Batches packets into one long-polling body of at most `max_payload`
/// bytes, as the reference client does with the server's `maxPayload`.
#[derive(Debug, Clone)]
pub struct PayloadBuilder {
    body: String,
    max: usize,
    count: usize,
}

impl PayloadBuilder {
    pub fn new(max_payload: usize) -> PayloadBuilder {
        PayloadBuilder {
            body: String::new(),
            max: max_payload,
            count: 0,
        }
    }

    /// Appends a packet if it fits. A packet too large for even an empty
    /// payload is [`EngineError::PayloadTooLarge`]: it can never be sent.
    pub fn push(&mut self, packet: &Packet<'_>) -> Result<Fit, EngineError> {
        let mark = self.body.len();
        if self.count > 0 {
            self.body.push(SEPARATOR);
        }
        packet.encode_into(&mut self.body);
        self.settle(mark)
    }

    /// Appends an already encoded packet (`42[…]` serialized once and shared
    /// by every subscriber). It must be one packet, starting with its type
    /// digit and without a separator.
    pub fn push_encoded(&mut self, encoded: &str) -> Result<Fit, EngineError> {
        match encoded.as_bytes().first() {
            None => return Err(EngineError::Empty),
            Some(b) if PacketType::from_byte(*b).is_none() => {
                let c = encoded.chars().next().unwrap_or_default();
                return Err(EngineError::UnknownType(c));
            }
            Some(_) => {}
        }
        let mark = self.body.len();
        if self.count > 0 {
            self.body.push(SEPARATOR);
        }
        self.body.push_str(encoded);
        self.settle(mark)
    }

    /// Keeps the packet appended after `mark`, or takes it back out.
    fn settle(&mut self, mark: usize) -> Result<Fit, EngineError> {
        let start = if self.count > 0 { mark + 1 } else { mark };
        let refuse = if self.body[start..].contains(SEPARATOR) {
            Some(Err(EngineError::SeparatorInData))
        } else if self.body.len() <= self.max {
            None
        } else if self.count == 0 {
            Some(Err(EngineError::PayloadTooLarge {
                len: self.body.len(),
                max: self.max,
            }))
        } else {
            Some(Ok(Fit::Full))
        };
        match refuse {
            Some(answer) => {
                self.body.truncate(mark);
                answer
            }
            None => {
                self.count += 1;
                Ok(Fit::Added)
            }
        }
    }

    /// Packets in the payload so far.
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The body so far.
    pub fn as_str(&self) -> &str {
        &self.body
    }

    pub fn finish(self) -> String {
        self.body
    }
}

/// All `packets` as one body, or an error if they do not fit in
/// `max_payload` bytes together.
pub fn encode_payload(packets: &[Packet<'_>], max_payload: usize) -> Result<String, EngineError> {
    let mut b = PayloadBuilder::new(max_payload);
    for p in packets {
        if b.push(p)? == Fit::Full {
            let records: usize = packets.iter().map(|p| p.encode().len()).sum();
            return Err(EngineError::PayloadTooLarge {
                len: records + packets.len() - 1,
                max: max_payload,
            });
        }
    }
    Ok(b.finish())
}
