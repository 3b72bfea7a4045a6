//! Publishing over Socket.IO (`--publish-via socketio`): one socket per
//! (publisher, room), opened as the `socketio` transport opens one
//! (polling handshake, CONNECT, upgrade, the profile's connect emits such
//! as `join`), and the profile's `publish_event` emitted with an
//! acknowledgement. A publish counts once acknowledged; its latency is the
//! time to the ack. A reader task owns the socket's receiving side from the
//! upgrade on: it answers pings, so a publisher that is quiet for longer
//! than the server's `pingTimeout` keeps its session, drops the room's
//! messages as they come, and hands acknowledgements over.

use crate::error::{ClientError, ErrorKind};
use crate::net::{Stream, WireCounter};
use crate::profile::{SocketIo, Vars};
use crate::transport::socketio::{self as sio, Polling};
use crate::transport::{Endpoint, REQUEST_TIMEOUT, Shared};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use protocol::socketio::{EnginePacket, SioPacket};
use std::sync::Arc;
use tokio::sync::{Mutex, mpsc};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

type Sink = Arc<Mutex<SplitSink<WebSocketStream<Stream>, Message>>>;
/// An acknowledgement (its id and Socket.IO text), or how the socket ended.
type Acked = Result<(u64, String), ClientError>;

/// A publisher's Socket.IO socket to one room.
pub(super) struct SioPub {
    sink: Sink,
    acks: mpsc::UnboundedReceiver<Acked>,
    reader: tokio::task::JoinHandle<()>,
    next_id: u64,
}

impl Drop for SioPub {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl SioPub {
    /// Hands the receiving side of an open socket to a reader task.
    fn start(ws: WebSocketStream<Stream>, next_id: u64, namespace: String) -> SioPub {
        let (sink, stream) = ws.split();
        let sink = Arc::new(Mutex::new(sink));
        let (tx, acks) = mpsc::unbounded_channel();
        let reader = tokio::spawn(read(stream, sink.clone(), tx, namespace));
        SioPub {
            sink,
            acks,
            reader,
            next_id,
        }
    }

    async fn send(&self, text: String) -> Result<(), ClientError> {
        let mut sink = self.sink.lock().await;
        sink.send(Message::text(text))
            .await
            .map_err(|e| ClientError::from_ws(&e))
    }

    /// The text of the acknowledgement with `id` (older ones are skipped).
    async fn ack(&mut self, id: u64) -> Result<String, ClientError> {
        loop {
            match self.acks.recv().await {
                Some(Ok((got, text))) if got == id => return Ok(text),
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e),
                None => return Err(ended("the publisher's socket reader stopped")),
            }
        }
    }
}

fn ended(why: &'static str) -> ClientError {
    ClientError::new(ErrorKind::UnexpectedClose, why)
}

/// The publisher socket's receiving side, for as long as it lives.
async fn read(
    mut stream: SplitStream<WebSocketStream<Stream>>,
    sink: Sink,
    acks: mpsc::UnboundedSender<Acked>,
    namespace: String,
) {
    let end = loop {
        let text = match stream.next().await {
            Some(Ok(Message::Text(t))) => t,
            Some(Ok(Message::Close(_))) | None => {
                break ended("the server closed the publisher's socket");
            }
            Some(Ok(_)) => continue,
            Some(Err(e)) => break ClientError::from_ws(&e),
        };
        let packet = match EnginePacket::decode(text.as_str()) {
            Ok(p) => p,
            Err(e) => break protocol(format!("malformed Engine.IO packet: {e}")),
        };
        match packet {
            EnginePacket::Ping(d) => {
                let pong = Message::text(format!("3{d}"));
                if let Err(e) = sink.lock().await.send(pong).await {
                    break ClientError::from_ws(&e);
                }
            }
            EnginePacket::Close => {
                break ended("the server closed the publisher's Engine.IO session");
            }
            EnginePacket::Message(m) => match SioPacket::decode(m) {
                Ok(SioPacket::Ack { id, nsp, .. }) if nsp.as_str() == namespace => {
                    let _ = acks.send(Ok((id, m.to_string())));
                }
                Ok(SioPacket::Disconnect { .. }) => {
                    break ended("the server disconnected the publisher (41)");
                }
                _ => {}
            },
            _ => {}
        }
    };
    let _ = acks.send(Err(end));
}

fn protocol(why: String) -> ClientError {
    ClientError::new(ErrorKind::Protocol, why)
}

/// Emit one publish on `conn` (opened first if there is none) and wait for
/// its ack; any failure drops the socket.
pub(super) async fn publish(
    sh: &Shared,
    ep: &Endpoint,
    conn: &mut Option<SioPub>,
    slot: usize,
    counter: &Arc<WireCounter>,
    vars: &Vars<'_>,
) -> Result<(), ClientError> {
    let s = sio::section(sh)?;
    let Some(p) = &s.publish else {
        return Err(protocol(
            "the profile has no [socketio] publish_event".into(),
        ));
    };
    let fut = async {
        if conn.is_none() {
            *conn = Some(connect(sh, s, ep, slot, counter, vars).await?);
        }
        let Some(c) = conn.as_mut() else {
            return Err(ClientError::new(ErrorKind::Io, "no connection"));
        };
        c.next_id += 1;
        let id = c.next_id;
        let args = p.args.render(vars);
        let text = sio::event_text(&s.namespace, Some(id), &p.event, &args)?;
        sh.rec.trace(|| {
            format!(
                "publish Socket.IO: {}",
                crate::record::snippet(text.as_bytes())
            )
        });
        c.send(text).await?;
        let ack = c.ack(id).await?;
        check_ack(s, &ack)?;
        if let Some(ptr) = &p.id {
            let acked = sio_args(&ack).and_then(|a| ptr.find_str(&a));
            sh.rec
                .trace(|| format!("  acknowledged, id {}", crate::record::or_none(acked)));
        }
        Ok(())
    };
    let res = match tokio::time::timeout(REQUEST_TIMEOUT, fut).await {
        Ok(r) => r,
        Err(_) => Err(ClientError::new(
            ErrorKind::Timeout,
            "Socket.IO publish got no acknowledgement",
        )),
    };
    if res.is_err() {
        *conn = None;
    }
    res
}

/// The arguments of an ACK packet's text (`43[…]`, without the `4`).
fn sio_args(ack: &str) -> Option<Vec<&serde_json::value::RawValue>> {
    match SioPacket::decode(ack).ok()? {
        SioPacket::Ack { args, .. } => Some(args),
        _ => None,
    }
}

/// A refusal in the ack (the profile's `ack_error`) is a failed publish.
fn check_ack(s: &SocketIo, ack: &str) -> Result<(), ClientError> {
    let args = sio_args(ack).ok_or_else(|| protocol(format!("bad ack {ack:?}")))?;
    let refused = s
        .ack_error
        .as_ref()
        .and_then(|p| p.find(&args).ok().flatten());
    match refused.filter(|r| crate::jsonptr::truthy(r)) {
        Some(why) => Err(ClientError::new(
            ErrorKind::HttpStatus,
            format!("the server refused the publish: {why}"),
        )),
        None => Ok(()),
    }
}

/// Read until the ACK with `id` (its Socket.IO text), answering pings;
/// a closed session is an error.
async fn await_ack(
    ws: &mut WebSocketStream<Stream>,
    s: &SocketIo,
    id: u64,
) -> Result<String, ClientError> {
    loop {
        let text = match ws.next().await {
            Some(Ok(Message::Text(t))) => t,
            Some(Ok(Message::Close(_))) | None => {
                return Err(ClientError::new(
                    ErrorKind::UnexpectedClose,
                    "the server closed the publisher's socket",
                ));
            }
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(ClientError::from_ws(&e)),
        };
        let packet = EnginePacket::decode(text.as_str())
            .map_err(|e| protocol(format!("malformed Engine.IO packet: {e}")))?;
        match packet {
            EnginePacket::Ping(d) => sio::send(ws, &format!("3{d}")).await?,
            EnginePacket::Close => {
                return Err(ClientError::new(
                    ErrorKind::UnexpectedClose,
                    "the server closed the publisher's Engine.IO session",
                ));
            }
            EnginePacket::Message(m) => match SioPacket::decode(m) {
                Ok(SioPacket::Ack { id: got, nsp, .. })
                    if got == id && nsp.as_str() == s.namespace =>
                {
                    return Ok(m.to_string());
                }
                Ok(SioPacket::Disconnect { .. }) => {
                    return Err(ClientError::new(
                        ErrorKind::UnexpectedClose,
                        "the server disconnected the publisher (41)",
                    ));
                }
                _ => {}
            },
            _ => {}
        }
    }
}

/// Open a publisher's socket: handshake, CONNECT, upgrade, connect emits.
async fn connect(
    sh: &Shared,
    s: &SocketIo,
    ep: &Endpoint,
    slot: usize,
    counter: &Arc<WireCounter>,
    vars: &Vars<'_>,
) -> Result<SioPub, ClientError> {
    let (uri, headers) = handshake_request(sh, vars)?;
    let stream = ep
        .dialer
        .dial(slot, counter, crate::net::Purpose::Http)
        .await?;
    let conn = crate::http::HttpConn::handshake(stream, &ep.authority).await?;
    let (mut p, _) = sio::handshake(conn, &s.path, &uri, &headers).await?;
    let auth = s.auth.as_ref().map(|t| t.render(vars));
    let connect = sio::connect_text(&s.namespace, auth.as_deref())?;
    sio::post(&mut p, connect).await?;
    await_connect(&mut p).await?;
    let stream = ep
        .dialer
        .dial(slot, counter, crate::net::Purpose::Ws)
        .await?;
    let ws = sio::ws_upgrade(stream, &ep.authority, &p, &headers, &mut Vec::new()).await?;
    drop(p);
    let mut ws = ws;
    let mut next_id = 0;
    for e in &s.emits {
        let id = e.ack.then(|| {
            next_id += 1;
            next_id
        });
        let text = sio::event_text(&s.namespace, id, &e.event, &e.args.render(vars))?;
        sio::send(&mut ws, &text).await?;
        if let Some(id) = id {
            let ack = await_ack(&mut ws, s, id).await?;
            check_ack(s, &ack)?;
        }
    }
    Ok(SioPub::start(ws, next_id, s.namespace.clone()))
}

/// Poll until the server answers CONNECT, answering pings.
async fn await_connect(p: &mut Polling) -> Result<(), ClientError> {
    loop {
        let body = sio::poll(p).await?;
        let text = std::str::from_utf8(&body).map_err(|_| protocol("payload not UTF-8".into()))?;
        for record in text.split('\u{1e}') {
            if record.starts_with("40") {
                return Ok(());
            }
            if record.starts_with("44") {
                return Err(ClientError::new(
                    ErrorKind::HttpStatus,
                    format!("the server refused CONNECT: {record}"),
                ));
            }
            if record == "2" {
                sio::post(p, "3".into()).await?;
            }
        }
    }
}

/// The publisher's handshake URL (live from now: `first_query`) and headers.
fn handshake_request(
    sh: &Shared,
    vars: &Vars<'_>,
) -> Result<(String, Vec<(hyper::header::HeaderName, String)>), ClientError> {
    let sub = sh
        .cfg
        .profile
        .sub(protocol::Transport::SocketIo)
        .ok_or_else(|| protocol("the profile has no [socketio]".into()))?;
    let mut uri = sub.url.render(vars);
    if let Some(q) = &sub.first_query {
        uri.push('&');
        uri.push_str(q);
    }
    let uri = sh.with_token_query(uri, vars.client);
    let mut headers: Vec<_> = sub
        .headers
        .iter()
        .map(|(k, t)| (k.clone(), t.render(vars)))
        .collect();
    headers.extend(sh.token_header(vars.client));
    Ok((uri, headers))
}
