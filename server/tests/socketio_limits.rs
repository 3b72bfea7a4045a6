//! Socket.IO under the per-address publish limit behind a trusted proxy:
//! a session keeps the client address of its handshake on later polling
//! requests and on its WebSocket upgrade, whatever those carry, so the
//! proxy's own address is never charged; sessions of one address share
//! its budget. The rate is one a minute, so no token comes back meanwhile.

use futures_util::{SinkExt, StreamExt};
use protocol::socketio::{EnginePacket, Handshake};
use server::limits::RateLimit;
use server::limits::proxy::parse_cidr;
use testkit::{SOON, TestServer, ws_connect};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

fn server_config(trusted: &str) -> server::Config {
    server::Config {
        publish_rate_limit_per_ip: Some(RateLimit::parse("1/m:2").expect("limit")),
        trusted_proxies: vec![parse_cidr(trusted).expect("cidr")],
        ..server::Config::default()
    }
}

/// A Socket.IO session over polling (requests from 127.0.0.1).
struct Polling {
    http: reqwest::Client,
    url: String,
}

impl Polling {
    /// Handshake into `room` with `X-Forwarded-For: xff`, then the
    /// namespace connect (sent without the header).
    async fn open(srv: &TestServer, room: &str, xff: &str) -> (Polling, Handshake) {
        let http = reqwest::Client::new();
        let url = format!(
            "{}/socket.io/?EIO=4&transport=polling&room={room}&history=0",
            srv.url
        );
        let r = http
            .get(url)
            .header("x-forwarded-for", xff)
            .send()
            .await
            .expect("handshake");
        assert_eq!(r.status(), 200);
        let body = r.text().await.expect("body");
        let Ok(EnginePacket::Open(h)) = EnginePacket::decode(&body) else {
            panic!("not an open packet: {body}");
        };
        let url = format!(
            "{}/socket.io/?EIO=4&transport=polling&sid={}",
            srv.url, h.sid
        );
        let s = Polling { http, url };
        s.post("40", None).await;
        s.until("40{").await;
        (s, h)
    }

    async fn post(&self, body: &str, xff: Option<&str>) {
        let mut r = self.http.post(&self.url).body(body.to_string());
        if let Some(xff) = xff {
            r = r.header("x-forwarded-for", xff);
        }
        let r = r.send().await.expect("post");
        assert_eq!(r.status(), 200);
    }

    /// Polls until a packet starting with `prefix` arrives; that packet.
    async fn until(&self, prefix: &str) -> String {
        tokio::time::timeout(SOON, async {
            loop {
                let r = self.http.get(&self.url).send().await.expect("get");
                let body = r.text().await.expect("body");
                if let Some(p) = body.split('\u{1e}').find(|p| p.starts_with(prefix)) {
                    return p.to_string();
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("no {prefix} packet in time"))
    }

    /// A publish with ack id `id`, sent with `xff`; its ack.
    async fn publish(&self, id: u64, xff: Option<&str>) -> String {
        self.post(&message(id), xff).await;
        self.until(&format!("43{id}[")).await
    }
}

fn message(id: u64) -> String {
    format!(r#"42{id}["message",{{"user":"u","text":"m{id}"}}]"#)
}

fn accepted(ack: &str) {
    assert!(ack.contains(r#"[{"id":""#), "{ack}");
}

fn refused_by_address(ack: &str) {
    assert!(
        ack.contains(r#""code":"rate_limited""#) && ack.contains("per address"),
        "{ack}"
    );
}

/// Upgrades session `sid` to a WebSocket (no forwarding header on it).
async fn upgrade(srv: &TestServer, sid: &str) -> Ws {
    let path = format!("/socket.io/?EIO=4&transport=websocket&sid={sid}");
    let mut ws = ws_connect(srv.addr, &path).await;
    ws.send(Message::text("2probe")).await.expect("probe");
    assert_eq!(next_with(&mut ws, "3").await, "3probe");
    ws.send(Message::text("5")).await.expect("upgrade");
    ws
}

/// The next text frame starting with `prefix` (pings answered).
async fn next_with(ws: &mut Ws, prefix: &str) -> String {
    tokio::time::timeout(SOON, async {
        loop {
            let m = ws.next().await.expect("open").expect("frame");
            let Message::Text(t) = m else { continue };
            if t.as_str() == "2" {
                ws.send(Message::text("3")).await.expect("pong");
            } else if t.starts_with(prefix) {
                return t.to_string();
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no {prefix} frame in time"))
}

async fn ws_publish(ws: &mut Ws, id: u64) -> String {
    ws.send(Message::text(message(id))).await.expect("send");
    next_with(ws, &format!("43{id}[")).await
}

#[tokio::test]
async fn a_session_keeps_its_forwarded_address_on_polling_and_after_the_upgrade() {
    let srv = TestServer::with(server_config("127.0.0.1")).await;
    let client = "203.0.113.7";
    let (a, _) = Polling::open(&srv, "sio", client).await;
    let (_, hb) = Polling::open(&srv, "sio", client).await;
    // A later polling request forwarded for someone else is still the
    // handshake's client.
    accepted(&a.publish(1, Some("198.51.100.9")).await);
    let mut ws = upgrade(&srv, &hb.sid).await;
    accepted(&ws_publish(&mut ws, 2).await);
    // The address's budget of two is spent, across both sessions.
    refused_by_address(&ws_publish(&mut ws, 3).await);
    refused_by_address(&a.publish(4, None).await);
    assert_eq!(
        srv.metric("rtbench_server_rate_limited_total{key=\"address\"}")
            .await,
        2
    );
    // Nothing was charged to the proxy (127.0.0.1, no header), nor to
    // another client behind it.
    srv.publish("sio", "u", "from the proxy").await;
    srv.publish("sio", "u", "from the proxy again").await;
    let (c, _) = Polling::open(&srv, "sio", "203.0.113.8").await;
    accepted(&c.publish(5, None).await);
}

#[tokio::test]
async fn an_untrusted_peers_forwarded_address_is_ignored() {
    let srv = TestServer::with(server_config("127.0.0.2")).await;
    let (a, _) = Polling::open(&srv, "sio", "203.0.113.7").await;
    let (b, _) = Polling::open(&srv, "sio", "203.0.113.8").await;
    accepted(&a.publish(1, None).await);
    accepted(&b.publish(2, None).await);
    // Both are 127.0.0.1, whatever they claimed.
    refused_by_address(&a.publish(3, None).await);
    assert_eq!(
        srv.metric("rtbench_server_rate_limited_total{key=\"address\"}")
            .await,
        1
    );
}
