//! One Socket.IO session's protocol state, the same over polling and
//! WebSocket: what each Engine.IO packet from the server means (a message
//! to measure, a ping to answer, a lag, gap or error notice, the end of the
//! session) and which packets the client must send in turn.

use super::super::{Client, End, Shared};
use crate::error::{ClientError, ErrorKind};
use crate::profile::SocketIo;
use protocol::socketio::{EnginePacket, Namespace, SioPacket};
use serde_json::value::RawValue;
use std::time::Instant;

/// A session's state (kept small: it lives in every client's future).
#[derive(Debug)]
pub struct State<'a> {
    sio: &'a SocketIo,
    /// Packets to send, oldest first (Engine.IO text, `4…`).
    pub out: Vec<String>,
    next_id: u64,
    /// The ack id of the connect emit being waited for.
    waiting: Option<u64>,
    /// Connect emits sent so far.
    emitted: usize,
    /// The server answered CONNECT.
    pub joined: bool,
    /// CONNECT answered and every connect emit sent (and acknowledged).
    pub ready: bool,
    started: Instant,
}

fn protocol(why: String) -> ClientError {
    ClientError::new(ErrorKind::Protocol, why)
}

impl<'a> State<'a> {
    /// A new session; the CONNECT packet is the first to send.
    pub fn new(c: &Client, sio: &'a SocketIo, started: Instant) -> State<'a> {
        let mut s = State {
            sio,
            out: Vec::new(),
            next_id: 0,
            waiting: None,
            emitted: 0,
            joined: false,
            ready: false,
            started,
        };
        let name = format!("c{}", c.index);
        let auth = sio.auth.as_ref().map(|t| t.render(&c.vars(&name)));
        let mut p = String::from("40");
        push_nsp(&mut p, &sio.namespace);
        p.push_str(auth.as_deref().unwrap_or_default());
        s.out.push(p);
        s
    }

    /// Act on every packet of a polling answer (records joined by 0x1E);
    /// `Some` ends the session.
    pub fn take_payload(
        &mut self,
        c: &mut Client,
        shared: &Shared,
        body: &[u8],
    ) -> Result<Option<End>, ClientError> {
        if body.is_empty() {
            return Ok(None);
        }
        let text = std::str::from_utf8(body)
            .map_err(|_| protocol("Engine.IO payload is not UTF-8".into()))?;
        for record in text.split('\u{1e}') {
            if let Some(end) = self.take(c, shared, record)? {
                return Ok(Some(end));
            }
        }
        Ok(None)
    }

    /// Act on one Engine.IO packet; `Some` ends the session.
    pub fn take(
        &mut self,
        c: &mut Client,
        shared: &Shared,
        text: &str,
    ) -> Result<Option<End>, ClientError> {
        let packet = EnginePacket::decode(text)
            .map_err(|e| protocol(format!("malformed Engine.IO packet {:?}: {e}", snip(text))))?;
        match packet {
            EnginePacket::Ping(d) => {
                self.out.push(format!("3{d}"));
                Ok(None)
            }
            EnginePacket::Close => Err(ClientError::new(
                ErrorKind::UnexpectedClose,
                "the server closed the Engine.IO session",
            )),
            EnginePacket::Message(m) => self.message(c, shared, m),
            EnginePacket::Pong(_) | EnginePacket::Noop | EnginePacket::Upgrade => Ok(None),
            EnginePacket::Open(_) => Err(protocol("a second Engine.IO open packet".into())),
        }
    }

    /// One Socket.IO packet.
    fn message(
        &mut self,
        c: &mut Client,
        shared: &Shared,
        text: &str,
    ) -> Result<Option<End>, ClientError> {
        let packet = SioPacket::decode(text)
            .map_err(|e| protocol(format!("malformed Socket.IO packet {:?}: {e}", snip(text))))?;
        if packet.namespace().as_str() != self.sio.namespace {
            return Ok(None);
        }
        match packet {
            SioPacket::Connect { .. } => {
                self.joined = true;
                self.queue_emits(c);
                Ok(None)
            }
            SioPacket::Disconnect { .. } => Err(ClientError::new(
                ErrorKind::UnexpectedClose,
                "the server disconnected the socket (41)",
            )),
            SioPacket::ConnectError { data, .. } => Err(ClientError::new(
                ErrorKind::HttpStatus,
                format!("the server refused CONNECT: {}", snip(data.get())),
            )),
            SioPacket::Ack { id, args, .. } => {
                self.ack(c, id, &args);
                Ok(None)
            }
            SioPacket::Event { event, args, .. } => self.event(c, shared, &event, &args),
        }
    }

    /// An event: a message, or a lag, gap or error notice, as the profile says.
    fn event(
        &mut self,
        c: &mut Client,
        shared: &Shared,
        event: &str,
        args: &[&RawValue],
    ) -> Result<Option<End>, ClientError> {
        let sio = self.sio;
        if sio.events.iter().any(|e| e == event) {
            let now_us = c.shared.rec.clock.now_us();
            let unit = sio
                .message
                .find(args)
                .map_err(|e| protocol(format!("event {event:?}: argument is not JSON: {e}")))?;
            let Some(unit) = unit else {
                return Err(protocol(format!(
                    "event {event:?} has no message where [socketio] message points"
                )));
            };
            if let Err(e) = c.take_unit(shared, now_us, unit.get().as_bytes()) {
                c.shared.rec.error(&e);
            }
        } else if sio.lag_event.as_deref() == Some(event) {
            let cursor = sio.lag_cursor.as_ref().and_then(|p| p.find_str(args));
            c.lagged(cursor.as_deref());
            return Ok(Some(End::Lagged));
        } else if sio.gap_event.as_deref() == Some(event) {
            c.gap();
        } else if sio.error_event.as_deref() == Some(event) {
            let detail = args.first().map_or("", |a| a.get());
            c.shared.rec.error(&protocol(format!(
                "server error event {event:?}: {}",
                snip(detail)
            )));
        }
        Ok(None)
    }

    /// The answer to a connect emit: check it, then send the next ones.
    fn ack(&mut self, c: &mut Client, id: u64, args: &[&RawValue]) {
        if self.waiting != Some(id) {
            return;
        }
        self.waiting = None;
        let refused = self
            .sio
            .ack_error
            .as_ref()
            .and_then(|p| p.find(args).ok().flatten());
        if let Some(why) = refused.filter(|r| crate::jsonptr::truthy(r)) {
            c.shared.rec.error(&protocol(format!(
                "the server refused a connect emit: {}",
                snip(why.get())
            )));
        }
        self.queue_emits(c);
    }

    /// Queue the connect emits, up to the first that waits for its ack;
    /// once all are out, the client counts as connected.
    fn queue_emits(&mut self, c: &mut Client) {
        let sio = self.sio;
        let name = format!("c{}", c.index);
        while self.waiting.is_none() && self.emitted < sio.emits.len() {
            let e = &sio.emits[self.emitted];
            self.emitted += 1;
            let id = e.ack.then(|| {
                self.next_id += 1;
                self.next_id
            });
            self.waiting = id;
            let args = e.args.render(&c.vars(&name));
            self.out
                .push(event_text(&sio.namespace, id, &e.event, &args));
        }
        if self.waiting.is_none() && !self.ready {
            self.ready = true;
            c.connected(self.started);
        }
    }
}

/// `42[nsp,][id]["event",args…]` with `args` a JSON array's text.
pub fn event_text(nsp: &str, id: Option<u64>, event: &str, args: &str) -> String {
    let mut out = String::with_capacity(args.len() + event.len() + 16);
    out.push_str("42");
    push_nsp(&mut out, nsp);
    if let Some(id) = id {
        out.push_str(&id.to_string());
    }
    let mut name = String::new();
    let nsp = Namespace::ROOT;
    protocol::socketio::encode_event_message(&mut name, nsp, event, "0");
    // `42["event",0]` → `["event"`: the name JSON-escaped as the codec does.
    out.push_str(&name[2..name.len() - 3]);
    let args = args.trim();
    let inner = args
        .strip_prefix('[')
        .and_then(|a| a.strip_suffix(']'))
        .unwrap_or(args)
        .trim();
    if !inner.is_empty() {
        out.push(',');
        out.push_str(inner);
    }
    out.push(']');
    out
}

fn push_nsp(out: &mut String, nsp: &str) {
    if nsp != "/" {
        out.push_str(nsp);
        out.push(',');
    }
}

/// At most 80 characters of a packet, for an error message.
fn snip(text: &str) -> &str {
    let mut end = text.len().min(80);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_text_frames_like_the_codec() {
        assert_eq!(
            event_text("/", None, "join", "[\"r1\"]"),
            "42[\"join\",\"r1\"]"
        );
        assert_eq!(event_text("/chat", Some(7), "x", "[]"), "42/chat,7[\"x\"]");
        let t = event_text("/", Some(1), "m", "[{\"a\":[1]}]");
        assert_eq!(t, "421[\"m\",{\"a\":[1]}]");
        assert_eq!(event_text("/", None, "n", "[[1],[2]]"), "42[\"n\",[1],[2]]");
        let p = SioPacket::decode(&t[1..]).expect("decodes");
        assert!(matches!(p, SioPacket::Event { id: Some(1), .. }));
    }
}
