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
    /// Messages measured since the caller last reset it (a poll's answer
    /// without any is an empty one).
    pub measured: usize,
    started: Instant,
}

fn protocol(why: String) -> ClientError {
    ClientError::new(ErrorKind::Protocol, why)
}

impl<'a> State<'a> {
    /// A new session; the CONNECT packet is the first to send.
    pub fn new(c: &Client, sio: &'a SocketIo, started: Instant) -> Result<State<'a>, ClientError> {
        let mut s = State {
            sio,
            out: Vec::new(),
            next_id: 0,
            waiting: None,
            emitted: 0,
            joined: false,
            ready: false,
            measured: 0,
            started,
        };
        let name = format!("c{}", c.index);
        let auth = sio.auth.as_ref().map(|t| t.render(&c.vars(&name)));
        s.out.push(connect_text(&sio.namespace, auth.as_deref())?);
        Ok(s)
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
        c.shared
            .rec
            .trace(|| format!("Socket.IO ← {}", crate::record::snippet(text.as_bytes())));
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
                self.queue_emits(c)?;
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
                self.ack(c, id, &args)?;
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
            match c.take_unit(shared, now_us, unit.as_bytes()) {
                Ok(n) => self.measured += n,
                Err(e) => c.shared.rec.error(&e),
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
    fn ack(&mut self, c: &mut Client, id: u64, args: &[&RawValue]) -> Result<(), ClientError> {
        if self.waiting != Some(id) {
            return Ok(());
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
                snip(why)
            )));
        }
        self.queue_emits(c)
    }

    /// Queue the connect emits, up to the first that waits for its ack;
    /// once all are out, the client counts as connected.
    fn queue_emits(&mut self, c: &mut Client) -> Result<(), ClientError> {
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
                .push(event_text(&sio.namespace, id, &e.event, &args)?);
        }
        if self.waiting.is_none() && !self.ready {
            self.ready = true;
            c.connected(self.started);
        }
        Ok(())
    }
}

/// `42[nsp,][id]["event",args…]`, framed by the codec; `args` is the text
/// of a JSON array (a rendered template: checked here).
pub fn event_text(
    nsp: &str,
    id: Option<u64>,
    event: &str,
    args: &str,
) -> Result<String, ClientError> {
    let args: Vec<&RawValue> = serde_json::from_str(args).map_err(|e| {
        protocol(format!(
            "event {event:?}: the arguments are not a JSON array: {e}"
        ))
    })?;
    let nsp = Namespace::new(nsp).map_err(|e| protocol(format!("namespace {nsp:?}: {e}")))?;
    let event = std::borrow::Cow::Borrowed(event);
    Ok(SioPacket::Event {
        nsp,
        id,
        event,
        args,
    }
    .encode_message())
}

/// `40[nsp,][auth]`: CONNECT, with the rendered auth object.
pub fn connect_text(nsp: &str, auth: Option<&str>) -> Result<String, ClientError> {
    let data = auth
        .map(serde_json::from_str::<&RawValue>)
        .transpose()
        .map_err(|e| protocol(format!("the CONNECT auth is not JSON: {e}")))?;
    let nsp = Namespace::new(nsp).map_err(|e| protocol(format!("namespace {nsp:?}: {e}")))?;
    Ok(SioPacket::Connect { nsp, data }.encode_message())
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
        let t = |nsp, id, ev, args| event_text(nsp, id, ev, args).expect("frames");
        assert_eq!(t("/", None, "join", "[\"r1\"]"), "42[\"join\",\"r1\"]");
        assert_eq!(t("/chat", Some(7), "x", "[]"), "42/chat,7[\"x\"]");
        assert_eq!(
            t("/", Some(1), "m", "[{\"a\":[1]}]"),
            "421[\"m\",{\"a\":[1]}]"
        );
        assert_eq!(t("/", None, "n", "[[1],[2]]"), "42[\"n\",[1],[2]]");
        assert!(event_text("/", None, "m", "{\"not\":\"an array\"}").is_err());
        assert!(event_text("chat", None, "m", "[]").is_err());
        assert_eq!(connect_text("/", None).expect("c"), "40");
        let auth = Some("{\"user\":\"c1\"}");
        assert_eq!(
            connect_text("/a", auth).expect("c"),
            "40/a,{\"user\":\"c1\"}"
        );
        assert!(connect_text("/", Some("{broken")).is_err());
    }
}
