//! Socket.IO protocol 5 packets, the text inside an Engine.IO message
//! (framing in the [module overview](super)).
//!
//! JSON data stays raw ([`RawValue`]): a decoder hands each event argument
//! over as the exact text the peer sent, for the application to parse into
//! its own types once, and an encoder writes argument text as given.

use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt::Write as _;

/// The type digit that starts every packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketType {
    Connect,
    Disconnect,
    Event,
    Ack,
    ConnectError,
    BinaryEvent,
    BinaryAck,
}

impl PacketType {
    /// The digit on the wire.
    pub fn digit(self) -> char {
        match self {
            PacketType::Connect => '0',
            PacketType::Disconnect => '1',
            PacketType::Event => '2',
            PacketType::Ack => '3',
            PacketType::ConnectError => '4',
            PacketType::BinaryEvent => '5',
            PacketType::BinaryAck => '6',
        }
    }

    fn from_byte(b: u8) -> Option<PacketType> {
        Some(match b {
            b'0' => PacketType::Connect,
            b'1' => PacketType::Disconnect,
            b'2' => PacketType::Event,
            b'3' => PacketType::Ack,
            b'4' => PacketType::ConnectError,
            b'5' => PacketType::BinaryEvent,
            b'6' => PacketType::BinaryAck,
            _ => return None,
        })
    }

    /// Packets whose JSON data is mandatory.
    fn needs_data(self) -> bool {
        matches!(
            self,
            PacketType::Event | PacketType::Ack | PacketType::ConnectError
        )
    }
}

/// Why text is not a Socket.IO packet.
#[derive(Debug, thiserror::Error)]
pub enum PacketError {
    #[error("empty Socket.IO packet")]
    Empty,
    #[error("unknown Socket.IO packet type {0:?}")]
    UnknownType(char),
    #[error("binary Socket.IO packets are not supported")]
    BinaryNotSupported,
    #[error("Socket.IO namespace not followed by a comma")]
    UnterminatedNamespace,
    #[error("invalid Socket.IO namespace")]
    InvalidNamespace,
    #[error("Socket.IO ack id out of range")]
    BadAckId,
    #[error("Socket.IO ACK without an ack id")]
    MissingAckId,
    #[error("Socket.IO {0:?} packet with an ack id")]
    UnexpectedAckId(PacketType),
    #[error("Socket.IO {0:?} packet without data")]
    MissingData(PacketType),
    #[error("Socket.IO {0:?} packet with unexpected data")]
    UnexpectedData(PacketType),
    #[error("Socket.IO packet data is not JSON: {0}")]
    BadJson(#[source] serde_json::Error),
    #[error("Socket.IO {packet:?} data must be {expected}")]
    WrongDataType {
        packet: PacketType,
        expected: &'static str,
    },
    #[error("Socket.IO EVENT without an event name")]
    MissingEventName,
    #[error("Socket.IO event name is not a string")]
    EventNameNotString,
}

/// A namespace: `/`, or a path-like name starting with `/` that holds no
/// comma (the comma ends it on the wire) and no control character (which
/// could be the payload separator).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Namespace<'a>(&'a str);

impl<'a> Namespace<'a> {
    /// The main namespace, left out on the wire.
    pub const ROOT: Namespace<'static> = Namespace("/");

    pub fn new(name: &'a str) -> Result<Namespace<'a>, PacketError> {
        let ok = name.starts_with('/') && !name.bytes().any(|b| b == b',' || b < 0x20);
        if ok {
            Ok(Namespace(name))
        } else {
            Err(PacketError::InvalidNamespace)
        }
    }

    pub fn as_str(&self) -> &'a str {
        self.0
    }

    pub fn is_root(&self) -> bool {
        self.0 == "/"
    }

    /// `/chat,` (nothing for the main namespace).
    fn push_prefix(&self, out: &mut String) {
        if !self.is_root() {
            out.push_str(self.0);
            out.push(',');
        }
    }
}

impl Default for Namespace<'_> {
    fn default() -> Self {
        Namespace::ROOT
    }
}

/// One Socket.IO packet; text borrows from the decoded input.
#[derive(Debug, Clone)]
pub enum Packet<'a> {
    /// Client: join `nsp`, with optional auth data. Server: joined, with
    /// `{"sid":…}`. The data, when present, is a JSON object.
    Connect {
        nsp: Namespace<'a>,
        data: Option<&'a RawValue>,
    },
    Disconnect {
        nsp: Namespace<'a>,
    },
    /// `emit(event, args…)`; `id` asks the receiver for an ACK.
    Event {
        nsp: Namespace<'a>,
        id: Option<u64>,
        event: Cow<'a, str>,
        args: Vec<&'a RawValue>,
    },
    /// The answer to the EVENT that carried `id`.
    Ack {
        nsp: Namespace<'a>,
        id: u64,
        args: Vec<&'a RawValue>,
    },
    /// The server refused a CONNECT; the data is a JSON object
    /// (`{"message":…}`) or, from older servers, a string.
    ConnectError {
        nsp: Namespace<'a>,
        data: &'a RawValue,
    },
}

/// Equal when the wire text would be: raw JSON compares as text.
impl PartialEq for Packet<'_> {
    fn eq(&self, other: &Self) -> bool {
        fn same(a: &[&RawValue], b: &[&RawValue]) -> bool {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.get() == y.get())
        }
        use Packet as P;
        match (self, other) {
            (P::Connect { nsp: a, data: x }, P::Connect { nsp: b, data: y }) => {
                a == b && x.map(RawValue::get) == y.map(RawValue::get)
            }
            (P::Disconnect { nsp: a }, P::Disconnect { nsp: b }) => a == b,
            (
                P::Event {
                    nsp: a,
                    id: i,
                    event: e,
                    args: x,
                },
                P::Event {
                    nsp: b,
                    id: j,
                    event: f,
                    args: y,
                },
            ) => a == b && i == j && e == f && same(x, y),
            (
                P::Ack {
                    nsp: a,
                    id: i,
                    args: x,
                },
                P::Ack {
                    nsp: b,
                    id: j,
                    args: y,
                },
            ) => a == b && i == j && same(x, y),
            (P::ConnectError { nsp: a, data: x }, P::ConnectError { nsp: b, data: y }) => {
                a == b && x.get() == y.get()
            }
            _ => false,
        }
    }
}

impl<'a> Packet<'a> {
    pub fn packet_type(&self) -> PacketType {
        match self {
            Packet::Connect { .. } => PacketType::Connect,
            Packet::Disconnect { .. } => PacketType::Disconnect,
            Packet::Event { .. } => PacketType::Event,
            Packet::Ack { .. } => PacketType::Ack,
            Packet::ConnectError { .. } => PacketType::ConnectError,
        }
    }

    pub fn namespace(&self) -> Namespace<'a> {
        match self {
            Packet::Connect { nsp, .. }
            | Packet::Disconnect { nsp }
            | Packet::Event { nsp, .. }
            | Packet::Ack { nsp, .. }
            | Packet::ConnectError { nsp, .. } => *nsp,
        }
    }

    /// Decodes the text of an Engine.IO message packet (without its `4`).
    /// Stricter than the reference parser where it would accept nonsense
    /// (an ACK without an id, an id on a CONNECT), as lenient where real
    /// clients differ (a namespace that ends the packet needs no comma).
    pub fn decode(text: &'a str) -> Result<Packet<'a>, PacketError> {
        let first = *text.as_bytes().first().ok_or(PacketError::Empty)?;
        let kind = match PacketType::from_byte(first) {
            Some(PacketType::BinaryEvent | PacketType::BinaryAck) => {
                return Err(PacketError::BinaryNotSupported);
            }
            Some(k) => k,
            None => {
                let c = text.chars().next().unwrap_or_default();
                return Err(PacketError::UnknownType(c));
            }
        };
        // The type is one ASCII byte, so 1 is a character boundary.
        let (nsp, rest) = split_namespace(kind, &text[1..])?;
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (id, rest) = if digits == 0 {
            (None, rest)
        } else {
            let id = rest[..digits]
                .parse::<u64>()
                .map_err(|_| PacketError::BadAckId)?;
            (Some(id), &rest[digits..])
        };
        let data = if rest.is_empty() {
            None
        } else {
            Some(serde_json::from_str::<&RawValue>(rest).map_err(PacketError::BadJson)?)
        };
        if id.is_some() && !matches!(kind, PacketType::Event | PacketType::Ack) {
            return Err(PacketError::UnexpectedAckId(kind));
        }
        let data = match data {
            None if kind.needs_data() => return Err(PacketError::MissingData(kind)),
            None => None,
            Some(_) if kind == PacketType::Disconnect => {
                return Err(PacketError::UnexpectedData(kind));
            }
            Some(d) => Some(d),
        };
        with_data(kind, nsp, id, data)
    }

    /// Appends `<digit>[<nsp>,][<id>][<data>]`, the text that follows an
    /// Engine.IO message's `4`.
    pub fn encode_into(&self, out: &mut String) {
        out.push(self.packet_type().digit());
        self.namespace().push_prefix(out);
        match self {
            Packet::Connect { data, .. } => {
                if let Some(d) = data {
                    out.push_str(d.get());
                }
            }
            Packet::Disconnect { .. } => {}
            Packet::Event {
                id, event, args, ..
            } => {
                push_id(out, *id);
                out.push('[');
                super::push_json_str(out, event);
                for a in args {
                    out.push(',');
                    out.push_str(a.get());
                }
                out.push(']');
            }
            Packet::Ack { id, args, .. } => {
                push_id(out, Some(*id));
                out.push('[');
                for (i, a) in args.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(a.get());
                }
                out.push(']');
            }
            Packet::ConnectError { data, .. } => out.push_str(data.get()),
        }
    }

    /// The packet's text (without the Engine.IO `4`).
    pub fn encode(&self) -> String {
        let mut out = String::new();
        self.encode_into(&mut out);
        out
    }

    /// The packet as a whole Engine.IO message, `4` included: a WebSocket
    /// text frame or a payload record.
    pub fn encode_message(&self) -> String {
        let mut out = String::from("4");
        self.encode_into(&mut out);
        out
    }
}

/// Splits `[<nsp>,]` off the text after the type digit.
fn split_namespace(kind: PacketType, text: &str) -> Result<(Namespace<'_>, &str), PacketError> {
    if !text.starts_with('/') {
        return Ok((Namespace::ROOT, text));
    }
    match text.find(',') {
        Some(i) => Ok((Namespace::new(&text[..i])?, &text[i + 1..])),
        // `1/admin` from a client that leaves the comma out: fine when
        // nothing needs to follow, a cut-off packet otherwise.
        None if kind.needs_data() => Err(PacketError::UnterminatedNamespace),
        None => Ok((Namespace::new(text)?, "")),
    }
}

fn push_id(out: &mut String, id: Option<u64>) {
    if let Some(id) = id {
        // Writing to a String cannot fail.
        let _ = write!(out, "{id}");
    }
}

/// The JSON kind of raw data, from its first byte (raw values carry no
/// leading whitespace).
fn first_byte(raw: &RawValue) -> u8 {
    raw.get().as_bytes().first().copied().unwrap_or_default()
}

/// Checks the data's shape for the packet type and builds the packet.
fn with_data<'a>(
    kind: PacketType,
    nsp: Namespace<'a>,
    id: Option<u64>,
    data: Option<&'a RawValue>,
) -> Result<Packet<'a>, PacketError> {
    let wrong = |expected| PacketError::WrongDataType {
        packet: kind,
        expected,
    };
    match (kind, data) {
        (PacketType::Connect, None) => Ok(Packet::Connect { nsp, data: None }),
        (PacketType::Connect, Some(d)) if first_byte(d) == b'{' => {
            Ok(Packet::Connect { nsp, data: Some(d) })
        }
        (PacketType::Connect, Some(_)) => Err(wrong("an object")),
        (PacketType::Disconnect, _) => Ok(Packet::Disconnect { nsp }),
        (PacketType::Event, Some(d)) => {
            let (event, args) = event_args(d)?;
            Ok(Packet::Event {
                nsp,
                id,
                event,
                args,
            })
        }
        (PacketType::Ack, Some(d)) => Ok(Packet::Ack {
            nsp,
            id: id.ok_or(PacketError::MissingAckId)?,
            args: array(d).ok_or(wrong("an array"))?,
        }),
        (PacketType::ConnectError, Some(d)) if matches!(first_byte(d), b'{' | b'"') => {
            Ok(Packet::ConnectError { nsp, data: d })
        }
        (PacketType::ConnectError, Some(_)) => Err(wrong("an object or a string")),
        // Binary types were refused and the others have data by now.
        (k, _) => Err(PacketError::MissingData(k)),
    }
}

/// The elements of a raw JSON array, each still raw.
fn array(raw: &RawValue) -> Option<Vec<&RawValue>> {
    if first_byte(raw) != b'[' {
        return None;
    }
    serde_json::from_str(raw.get()).ok()
}

/// `["name", args…]`: the event name, unescaped only when it has escapes.
fn event_args(raw: &RawValue) -> Result<(Cow<'_, str>, Vec<&RawValue>), PacketError> {
    let mut items = array(raw).ok_or(PacketError::WrongDataType {
        packet: PacketType::Event,
        expected: "an array",
    })?;
    if items.is_empty() {
        return Err(PacketError::MissingEventName);
    }
    let name = items.remove(0).get();
    if !name.starts_with('"') {
        return Err(PacketError::EventNameNotString);
    }
    let event = match serde_json::from_str::<&str>(name) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => Cow::Owned(serde_json::from_str::<String>(name).map_err(PacketError::BadJson)?),
    };
    Ok((event, items))
}

/// Appends the Engine.IO message `42["<event>",<payload>]` (`42/chat,[…]` in
/// another namespace), writing `payload` verbatim: a server serializes a
/// chat message once and reuses the text for every subscriber. `payload`
/// must be one valid JSON value; it is not checked, to keep fan-out free
/// of parsing.
pub fn encode_event_message(out: &mut String, nsp: Namespace<'_>, event: &str, payload: &str) {
    out.push_str("42");
    nsp.push_prefix(out);
    out.push('[');
    super::push_json_str(out, event);
    out.push(',');
    out.push_str(payload);
    out.push(']');
}

/// [`encode_event_message`] into a new string of the exact size.
pub fn event_message(nsp: Namespace<'_>, event: &str, payload: &str) -> String {
    let nsp_len = if nsp.is_root() { 0 } else { nsp.0.len() + 1 };
    // `42` `[` `"…"` `,` payload `]`; escapes may grow the name, rarely.
    let mut out = String::with_capacity(2 + nsp_len + event.len() + payload.len() + 5);
    encode_event_message(&mut out, nsp, event, payload);
    out
}
