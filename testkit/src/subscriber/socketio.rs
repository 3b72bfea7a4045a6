//! The Socket.IO subscriber of both Socket.IO transports, on
//! `protocol::socketio`: a polling handshake and CONNECT, then either long
//! polling on (`socketio-polling`) or the WebSocket upgrade (`socketio`).

use super::{End, Got};
use crate::{TestServer, ws_connect};
use futures_util::{SinkExt, StreamExt};
use protocol::Transport;
use protocol::socketio::{EnginePacket, SioPacket, decode_payload};
use std::collections::VecDeque;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub(super) struct Sio {
    http: reqwest::Client,
    /// `http://…/socket.io/?EIO=4&transport=polling&sid=…`.
    poll_url: String,
    ws: Option<WebSocketStream<MaybeTlsStream<TcpStream>>>,
    got: VecDeque<Got>,
    pub gap: bool,
    connected: bool,
}

/// What one packet meant for the subscriber.
enum Seen {
    Nothing,
    Message(Got),
    End(End),
}

impl Sio {
    /// Handshake, CONNECT and (for `socketio`) the upgrade; returns once
    /// the server confirmed CONNECT, i.e. the socket is subscribed.
    pub(super) async fn open(t: Transport, srv: &TestServer, room: &str, q: &str) -> Sio {
        let http = reqwest::Client::new();
        let base = format!("{}/socket.io/?EIO=4&transport=polling", srv.url);
        let r = http
            .get(format!("{base}&room={room}&{q}"))
            .send()
            .await
            .expect("handshake");
        assert_eq!(r.status(), 200, "handshake answered {}", r.status());
        let body = r.text().await.expect("handshake body");
        let Ok(EnginePacket::Open(h)) = EnginePacket::decode(&body) else {
            panic!("not an open packet: {body}");
        };
        let mut s = Sio {
            http,
            poll_url: format!("{base}&sid={}", h.sid),
            ws: None,
            got: VecDeque::new(),
            gap: false,
            connected: false,
        };
        s.post("40").await;
        while !s.connected {
            s.read().await.expect("CONNECT answered");
        }
        if t == Transport::SocketIo {
            s.upgrade(srv, &h.sid).await;
        }
        s
    }

    async fn upgrade(&mut self, srv: &TestServer, sid: &str) {
        let path = format!("/socket.io/?EIO=4&transport=websocket&sid={sid}");
        let mut ws = ws_connect(srv.addr, &path).await;
        ws.send(WsMessage::text("2probe")).await.expect("probe");
        match ws.next().await {
            Some(Ok(WsMessage::Text(t))) => assert_eq!(t.as_str(), "3probe"),
            other => panic!("probe answered {other:?}"),
        }
        ws.send(WsMessage::text("5")).await.expect("upgrade");
        self.ws = Some(ws);
    }

    async fn post(&self, body: &str) {
        let r = self
            .http
            .post(&self.poll_url)
            .body(body.to_string())
            .send()
            .await
            .expect("post");
        assert_eq!(r.status(), 200, "POST {body} answered {}", r.status());
    }

    async fn send(&mut self, packet: &str) {
        match &mut self.ws {
            Some(ws) => ws.send(WsMessage::text(packet)).await.expect("ws send"),
            None => self.post(packet).await,
        }
    }

    /// The next message; lag notices and the end of the session end it.
    pub(super) async fn next_message(&mut self) -> Result<Got, End> {
        loop {
            if let Some(g) = self.got.pop_front() {
                return Ok(g);
            }
            self.read().await?;
        }
    }

    /// One poll or one frame; messages are queued.
    async fn read(&mut self) -> Result<(), End> {
        let packets = match &mut self.ws {
            Some(ws) => match ws.next().await {
                Some(Ok(WsMessage::Text(t))) => vec![t.as_str().to_string()],
                Some(Ok(WsMessage::Close(_))) | Some(Err(_)) | None => {
                    return Err(End::Closed(None));
                }
                Some(Ok(_)) => return Ok(()),
            },
            None => {
                let r = self.http.get(&self.poll_url).send().await;
                let Ok(r) = r else {
                    return Err(End::Closed(None));
                };
                if r.status() != 200 {
                    return Err(End::Closed(None));
                }
                let body = r.text().await.map_err(|_| End::Closed(None))?;
                let records = decode_payload(body.as_bytes(), usize::MAX).expect("payload");
                records
                    .map(|p| p.expect("engine packet").encode())
                    .collect()
            }
        };
        for p in packets {
            match self.on_packet(&p).await {
                Seen::Nothing => {}
                Seen::Message(g) => self.got.push_back(g),
                Seen::End(e) => return Err(e),
            }
        }
        Ok(())
    }

    async fn on_packet(&mut self, text: &str) -> Seen {
        let p = EnginePacket::decode(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        let m = match p {
            EnginePacket::Ping(_) => {
                self.send("3").await;
                return Seen::Nothing;
            }
            EnginePacket::Close => return Seen::End(End::Closed(None)),
            EnginePacket::Message(m) => m,
            _ => return Seen::Nothing,
        };
        match SioPacket::decode(m).unwrap_or_else(|e| panic!("{m}: {e}")) {
            SioPacket::Connect { .. } => self.connected = true,
            SioPacket::ConnectError { data, .. } => panic!("CONNECT refused: {}", data.get()),
            SioPacket::Disconnect { .. } => return Seen::End(End::Closed(None)),
            SioPacket::Event { event, args, .. } => {
                let arg = args.first().map_or("null", |a| a.get());
                match &*event {
                    "message" => return Seen::Message(Got::parse(arg)),
                    "gap" => self.gap = true,
                    "lagged" => {
                        let n: protocol::LagNotice = serde_json::from_str(arg).expect("lag notice");
                        return Seen::End(End::Lagged(n.cursor));
                    }
                    "error" => panic!("server error event: {arg}"),
                    _ => {}
                }
            }
            SioPacket::Ack { .. } => {}
        }
        Seen::Nothing
    }
}
