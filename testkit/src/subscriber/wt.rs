//! WebTransport for tests: a client that pins the test server's
//! certificate, a reader of newline-delimited JSON streams, and the
//! stream-mode subscriber.

use super::{End, FrameType, Got};
use crate::TestServer;
use protocol::webtransport::{CLOSE_LAGGED, FRAME_END, Mode, Notice};
use wtransport::error::ConnectionError;
use wtransport::tls::Sha256Digest;
use wtransport::{ClientConfig, Connection, Endpoint, RecvStream};

/// `cert_hash` (64 hex digits) as a digest.
pub fn digest(cert_hash: &str) -> Sha256Digest {
    assert_eq!(cert_hash.len(), 64, "{cert_hash}");
    let mut bytes = [0u8; 32];
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = u8::from_str_radix(&cert_hash[2 * i..2 * i + 2], 16).expect("hex");
    }
    Sha256Digest::new(bytes)
}

/// A client endpoint pinning `srv`'s WebTransport certificate.
pub fn wt_client(srv: &TestServer) -> Endpoint<wtransport::endpoint::endpoint_side::Client> {
    let info = srv
        .webtransport
        .as_ref()
        .expect("the server has WebTransport");
    let config = ClientConfig::builder()
        .with_bind_default()
        .with_server_certificate_hashes([digest(&info.cert_hash)])
        .build();
    Endpoint::client(config).expect("client endpoint")
}

/// A session on `srv` at `path_and_query` (e.g. `/api/rooms/r/wt?mode=stream`).
pub async fn wt_connect(
    srv: &TestServer,
    path_and_query: &str,
) -> Result<Connection, wtransport::error::ConnectingError> {
    let info = srv
        .webtransport
        .as_ref()
        .expect("the server has WebTransport");
    let client = wt_client(srv);
    client
        .connect(format!("{}{path_and_query}", info.url))
        .await
}

/// Lines of newline-delimited JSON from a stream.
pub struct Lines {
    pub recv: RecvStream,
    buf: Vec<u8>,
}

impl Lines {
    pub fn new(recv: RecvStream) -> Lines {
        Lines {
            recv,
            buf: Vec::new(),
        }
    }

    /// The next line (without its newline); `None` at the stream's end.
    pub async fn next(&mut self) -> Option<String> {
        let mut chunk = [0u8; 4096];
        loop {
            if let Some(at) = self.buf.iter().position(|&b| b == FRAME_END) {
                let line: Vec<u8> = self.buf.drain(..=at).collect();
                return Some(String::from_utf8(line[..at].to_vec()).expect("UTF-8 line"));
            }
            match self.recv.read(&mut chunk).await {
                Ok(Some(n)) => self.buf.extend_from_slice(&chunk[..n]),
                Ok(None) | Err(_) => return None,
            }
        }
    }
}

/// How a session ended: a lag close with its cursor, or the close code.
pub fn ended(e: ConnectionError) -> End {
    match e {
        ConnectionError::ApplicationClosed(c) => {
            let code = c.code().into_inner();
            if code == u64::from(CLOSE_LAGGED) {
                let n: protocol::LagNotice =
                    serde_json::from_slice(c.reason()).expect("lag notice");
                End::Lagged(n.cursor)
            } else {
                End::Closed(u16::try_from(code).ok())
            }
        }
        _ => End::Closed(None),
    }
}

/// A subscriber in either mode (datagram mode on loopback loses nothing).
pub(super) struct Wt {
    conn: Connection,
    lines: Lines,
    datagrams: bool,
    pub gap: bool,
    /// The endpoint lives as long as its session.
    _client: Endpoint<wtransport::endpoint::endpoint_side::Client>,
}

impl Wt {
    pub async fn open(srv: &TestServer, room: &str, mode: Mode, q: &str) -> Wt {
        let client = wt_client(srv);
        let info = srv.webtransport.as_ref().expect("webtransport");
        let url = format!(
            "{}{}?mode={}&{q}",
            info.url,
            protocol::paths::wt(room),
            mode.as_str()
        );
        let conn = client.connect(url).await.expect("webtransport session");
        let recv = conn.accept_uni().await.expect("the server's stream");
        Wt {
            conn,
            lines: Lines::new(recv),
            datagrams: mode == Mode::Datagram,
            gap: false,
            _client: client,
        }
    }

    /// The next message (a line or a datagram); a gap notice is noted, a
    /// lag or close ends it.
    pub async fn next_message(&mut self) -> Result<Got, End> {
        loop {
            let line = tokio::select! {
                l = self.lines.next() => l,
                d = self.conn.receive_datagram(), if self.datagrams => match d {
                    Ok(d) => {
                        let text = std::str::from_utf8(d.payload().as_ref()).map(str::to_string);
                        return Ok(Got::parse(&text.expect("UTF-8 datagram")));
                    }
                    Err(e) => return Err(ended(e)),
                },
            };
            let Some(line) = line else {
                return Err(ended(self.conn.closed().await));
            };
            let frame: FrameType =
                serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line}: {e}"));
            if frame.kind.is_none() {
                return Ok(Got::parse(&line));
            }
            match serde_json::from_str::<Notice>(&line) {
                Ok(Notice::Gap(_)) => self.gap = true,
                Ok(Notice::Lagged(n)) => return Err(End::Lagged(n.cursor)),
                Ok(Notice::Error(e)) => panic!("server error line: {e:?}"),
                Err(e) => panic!("bad server line {line}: {e}"),
            }
        }
    }
}
