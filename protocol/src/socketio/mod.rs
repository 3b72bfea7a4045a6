//! The wire codec of Socket.IO v4: Engine.IO protocol 4 carrying Socket.IO
//! protocol 5. Pure (no I/O, no runtime), so that rtbench's Socket.IO server
//! and client frame bytes identically over their own byte-counting streams.
//!
//! # Two layers
//!
//! **Engine.IO** ([`engine`]) is the session: one packet is a type digit
//! followed by optional UTF-8 data, `<digit>[<data>]`:
//!
//! | digit | packet    | data                                      |
//! |-------|-----------|-------------------------------------------|
//! | `0`   | open      | the handshake JSON ([`Handshake`])        |
//! | `1`   | close     | none                                      |
//! | `2`   | ping      | none, or `probe` during an upgrade        |
//! | `3`   | pong      | none, or `probe` during an upgrade        |
//! | `4`   | message   | one Socket.IO packet (any text)           |
//! | `5`   | upgrade   | none                                      |
//! | `6`   | noop      | none                                      |
//!
//! On a WebSocket every packet is its own text frame. Over HTTP long-polling
//! a request or response body (a *payload*) holds one or more packets joined
//! by the record separator byte 0x1E, e.g. `4hello\x1e2\x1e4world`; the
//! server answers `413` to a `POST` body larger than its `maxPayload` bytes.
//! Binary data (a `b`-prefixed base64 record in a payload, a binary frame
//! on a WebSocket) is refused with a typed error.
//!
//! A session: `GET /socket.io/?EIO=4&transport=polling` answers
//! `0{"sid":"…","upgrades":["websocket"],"pingInterval":25000,
//! "pingTimeout":20000,"maxPayload":1000000}`; later requests add `&sid=…`.
//! The *server* sends `2` every `pingInterval` ms and drops a client that
//! has not answered `3` within `pingTimeout` ms; a client drops a server it
//! has not heard a ping from within `pingInterval + pingTimeout`. To upgrade,
//! the client stops polling, opens `…&transport=websocket&sid=…`, sends
//! `2probe`, receives `3probe` (while the server answers a pending `GET`
//! with `6`), then sends `5`; from then on only the WebSocket is used.
//!
//! **Socket.IO** ([`packet`]) rides in Engine.IO message packets, so on the
//! wire it follows a `4`. One packet is
//! `<type digit>[<namespace>,][<ack id>][<JSON data>]`:
//!
//! | digit | packet        | JSON data                                   |
//! |-------|---------------|---------------------------------------------|
//! | `0`   | CONNECT       | optional object (client: auth; server: `{"sid":…}`) |
//! | `1`   | DISCONNECT    | none                                        |
//! | `2`   | EVENT         | array, a string event name first: `["chat",{…}]` |
//! | `3`   | ACK           | array (maybe empty) of the answer's arguments |
//! | `4`   | CONNECT_ERROR | object (`{"message":…}`) or string          |
//! | `5`/`6` | BINARY_EVENT / BINARY_ACK | refused (binary)              |
//!
//! The namespace is written only when it is not the main one `/`, and then
//! always ends with a comma (`1/admin,`); the ack id is a decimal number
//! written right before the data (`212["foo"]`: EVENT, id 12). So
//! `42/chat,7["message",{"text":"hi"}]` is an Engine.IO message holding an
//! EVENT in namespace `/chat` that asks for acknowledgement 7. A client
//! first sends CONNECT (`40`) for each namespace and waits for CONNECT (or
//! CONNECT_ERROR) before sending events there.
//!
//! Valid JSON never contains a raw 0x1E byte (control characters are escaped
//! inside strings), which is what makes the payload separator safe.

pub mod engine;
pub mod packet;

#[cfg(test)]
mod tests;

pub use engine::{
    EngineError, Fit, Handshake, Packet as EnginePacket, PacketType as EnginePacketType,
    PayloadBuilder, Records, WsFrame, decode_payload, encode_payload,
};
pub use packet::{
    Namespace, Packet as SioPacket, PacketError, PacketType as SioPacketType, encode_event_message,
    event_message,
};

/// Where Socket.IO serves Engine.IO (Engine.IO alone uses `/engine.io/`).
pub const PATH: &str = "/socket.io/";
/// The `EIO` query parameter of every request.
pub const ENGINE_IO_VERSION: u32 = 4;
/// The Socket.IO protocol revision these packets follow.
pub const SOCKET_IO_VERSION: u32 = 5;

/// Appends `s` as a JSON string the way JavaScript's `JSON.stringify` writes
/// it (only `"`, `\` and control characters escaped), so that event names and
/// handshake fields are byte-identical to the reference implementation's.
pub(crate) fn push_json_str(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let short = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0x00..=0x1f => "",
            _ => continue,
        };
        // Escaped bytes are ASCII, so `i` is a character boundary.
        out.push_str(&s[start..i]);
        if short.is_empty() {
            out.push_str("\\u00");
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        } else {
            out.push_str(short);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}
