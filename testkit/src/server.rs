//! The reference server in this process, and small loopback helpers.

use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;

/// `server::run` on `127.0.0.1:0` in this process; stopped when dropped
/// (cancelled, not awaited: call [`TestServer::shutdown`] to wait).
pub struct TestServer {
    pub addr: SocketAddr,
    /// Base URL: `http://127.0.0.1:PORT`, or `https://localhost:PORT` when
    /// the config has TLS (the name the test certificate carries).
    pub url: String,
    /// A plain-HTTP client (it cannot speak to a TLS server).
    pub http: reqwest::Client,
    /// WebTransport's URL and certificate hash (`None` with
    /// `webtransport: false`); the UDP port is the TCP one.
    pub webtransport: Option<protocol::WebTransportInfo>,
    token: CancellationToken,
    handle: Option<JoinHandle<Result<(), server::Error>>>,
}

/// A client that never reuses a connection the server may be closing: the
/// server ends a keep-alive connection idle for `header_read_timeout`, and a
/// request sent on it as the close crosses fails. The pool checks idleness
/// when it hands a connection out, so half the server's bound leaves margin
/// however late either side's timers run.
fn client_for(config: &server::Config) -> reqwest::Client {
    reqwest::Client::builder()
        .pool_idle_timeout(config.header_read_timeout / 2)
        .build()
        .expect("HTTP client")
}

impl TestServer {
    /// With the default config.
    pub async fn start() -> Self {
        Self::with(server::Config::default()).await
    }

    pub async fn with(config: server::Config) -> Self {
        Self::at("127.0.0.1:0".parse().expect("addr"), config).await
    }

    /// On another loopback address (`127.0.0.2:0`, `[::1]:0`).
    pub async fn at(addr: SocketAddr, config: server::Config) -> Self {
        let listeners = server::bind(addr)
            .await
            .unwrap_or_else(|e| panic!("bind {addr}: {e}"));
        let token = CancellationToken::new();
        let started = server::start(listeners, config.clone(), token.clone())
            .await
            .expect("server starts");
        let addr = started.local_addr().expect("local addr");
        let url = match config.tls {
            Some(_) => format!("https://localhost:{}", addr.port()),
            None => format!("http://{addr}"),
        };
        let webtransport = started.webtransport().cloned();
        let handle = tokio::spawn(started.serve());
        TestServer {
            addr,
            url,
            http: client_for(&config),
            webtransport,
            token,
            handle: Some(handle),
        }
    }

    /// Stops the server and waits for `run` to return (so the port is
    /// free): it must stop within its drain deadline and without an error.
    pub async fn shutdown(&mut self) {
        self.token.cancel();
        if let Some(h) = self.handle.take() {
            tokio::time::timeout(Duration::from_secs(10), h)
                .await
                .expect("server stops within its deadline")
                .expect("server task")
                .expect("server run ok");
        }
    }

    /// Publishes over HTTP (must be answered 201); the message's id.
    pub async fn publish(&self, room: &str, user: &str, text: &str) -> String {
        let r = self
            .http
            .post(format!("{}{}", self.url, protocol::paths::messages(room)))
            .json(&serde_json::json!({"user": user, "text": text}))
            .send()
            .await
            .expect("publish");
        assert_eq!(r.status(), 201, "publish answered {}", r.status());
        let p: protocol::PublishResponse = r.json().await.expect("publish body");
        p.id
    }

    /// `GET path_and_query` with the plain-HTTP client (any status).
    pub async fn get(&self, path_and_query: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path_and_query}", self.url))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path_and_query}: {e}"))
    }

    /// One poll of `room` with this query (e.g. `since=0`, `since=0&wait=30`).
    pub async fn poll(&self, room: &str, query: &str) -> protocol::PollResponse {
        let path = format!("{}?{query}", protocol::paths::messages(room));
        self.get(&path).await.json().await.expect("poll json")
    }

    pub async fn stats(&self) -> protocol::stats::ServerStats {
        let r = self.get(protocol::paths::STATS).await;
        r.json().await.expect("stats json")
    }

    /// The Prometheus text of `/metrics`.
    pub async fn metrics(&self) -> String {
        let r = self.get(protocol::paths::METRICS).await;
        r.text().await.expect("metrics text")
    }

    /// One unlabelled value of `/metrics`; panics when it is missing.
    pub async fn metric(&self, name: &str) -> i64 {
        let text = self.metrics().await;
        metric(&text, name).unwrap_or_else(|| panic!("{name} in /metrics:\n{text}"))
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.token.cancel();
    }
}

/// The value of the unlabelled series `name` in Prometheus `text`.
pub fn metric(text: &str, name: &str) -> Option<i64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

/// A plain WebSocket to `path_and_query` on `addr`.
pub async fn ws_connect(
    addr: SocketAddr,
    path_and_query: &str,
) -> WebSocketStream<MaybeTlsStream<TcpStream>> {
    let stream = TcpStream::connect(addr).await.expect("tcp connect");
    let (ws, _) = tokio_tungstenite::client_async(
        format!("ws://{addr}{path_and_query}"),
        MaybeTlsStream::Plain(stream),
    )
    .await
    .expect("websocket handshake");
    ws
}

/// A loopback port nothing listens on (bound, then let go).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// Serves a stand-in server written by a test on `127.0.0.1:0` for the
/// rest of the test; its base URL.
pub async fn serve_router(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}
