//! Publishing over WebTransport (`--publish-via webtransport`): one session
//! per (publisher, room) at the room's session URL, and one bidirectional
//! stream on it carrying the profile's `publish_frame` out and one answer
//! back per publish (rtbench: `Request::Message` → `Reply::Ack`). A publish
//! counts once answered; its latency is the time to the answer. A task
//! drains the server's stream of the room's messages (a session that never
//! read it would fall behind and be closed as lagged).

use crate::error::{ClientError, ErrorKind};
use crate::net::WireCounter;
use crate::profile::{Framing, Sub, Vars, WtPublish, WtSub};
use crate::transport::webtransport::{Frames, UdpBytes, closed_error, quic};
use crate::transport::{Endpoint, REQUEST_TIMEOUT, Shared};
use protocol::Transport;
use std::sync::Arc;

/// A publisher's session to one room.
pub(super) struct WtPub {
    conn: wtransport::Connection,
    send: wtransport::SendStream,
    recv: wtransport::RecvStream,
    frames: Frames,
    bytes: UdpBytes,
    counter: Arc<WireCounter>,
    drain: tokio::task::JoinHandle<()>,
}

impl Drop for WtPub {
    fn drop(&mut self) {
        self.drain.abort();
        self.bytes.sample(&self.conn, &self.counter);
        self.conn.close(0u32.into(), b"");
    }
}

fn protocol(why: impl Into<std::borrow::Cow<'static, str>>) -> ClientError {
    ClientError::new(ErrorKind::Protocol, why)
}

/// The profile's WebTransport section (stream mode if it has it).
fn section(sh: &Shared) -> Result<(&Sub, &WtSub, &WtPublish), ClientError> {
    let sub = [Transport::WebTransport, Transport::WebTransportDatagram]
        .into_iter()
        .find_map(|t| sh.cfg.profile.sub(t))
        .ok_or_else(|| protocol("the profile has no [webtransport] section"))?;
    let wt = sub
        .wt()
        .ok_or_else(|| protocol("the profile has no [webtransport] section"))?;
    let p = wt
        .publish
        .as_ref()
        .ok_or_else(|| protocol("the profile has no [webtransport] publish_frame"))?;
    Ok((sub, wt, p))
}

/// Send one publish on `conn` (opened first if there is none) and wait
/// for its answer; any failure drops the session.
pub(super) async fn publish(
    sh: &Shared,
    ep: &Endpoint,
    conn: &mut Option<WtPub>,
    counter: &Arc<WireCounter>,
    vars: &Vars<'_>,
) -> Result<(), ClientError> {
    let (sub, wt, p) = section(sh)?;
    let fut = async {
        if conn.is_none() {
            *conn = Some(connect(sh, ep, sub, wt, counter, vars).await?);
        }
        let Some(c) = conn.as_mut() else {
            return Err(ClientError::new(ErrorKind::Io, "no session"));
        };
        let body = p.frame.render(vars);
        sh.rec.trace(|| format!("publish WebTransport: {body}"));
        let mut out = Vec::with_capacity(body.len() + 4);
        match wt.framing {
            Framing::Newline => {
                out.extend_from_slice(body.as_bytes());
                out.push(b'\n');
            }
            Framing::Length => {
                out.extend_from_slice(&(body.len() as u32).to_be_bytes());
                out.extend_from_slice(body.as_bytes());
            }
        }
        c.send.write_all(&out).await.map_err(|e| stream(&e))?;
        let answer = c.answer().await?;
        c.bytes.sample(&c.conn, counter);
        if p.error.as_ref().is_some_and(|m| m.matches(&answer)) {
            return Err(ClientError::new(
                ErrorKind::HttpStatus,
                format!(
                    "the server refused the publish: {}",
                    String::from_utf8_lossy(&answer)
                ),
            ));
        }
        if let Some(ptr) = &p.id {
            let id = ptr.find_str(&answer).ok().flatten();
            sh.rec
                .trace(|| format!("  acknowledged, id {}", crate::record::or_none(id)));
        }
        Ok(())
    };
    let res = match tokio::time::timeout(REQUEST_TIMEOUT, fut).await {
        Ok(r) => r,
        Err(_) => Err(ClientError::new(
            ErrorKind::Timeout,
            "WebTransport publish got no answer",
        )),
    };
    if res.is_err() {
        *conn = None;
    }
    res
}

fn stream(e: &impl std::fmt::Display) -> ClientError {
    ClientError::new(
        ErrorKind::UnexpectedClose,
        format!("WebTransport stream: {e}"),
    )
}

impl WtPub {
    /// The next answer frame on the publish stream.
    async fn answer(&mut self) -> Result<Vec<u8>, ClientError> {
        loop {
            if let Some(f) = self
                .frames
                .next_frame()
                .map_err(|e| protocol(e.to_string()))?
            {
                if f.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                return Ok(f.to_vec());
            }
            match self.recv.read(self.frames.spare()).await {
                Ok(Some(n)) => self.frames.filled(n),
                Ok(None) | Err(_) => {
                    let e = self.conn.closed().await;
                    return Err(closed_error(&e, true));
                }
            }
        }
    }
}

/// Open a publisher's session (live from now: `first_query`, stream mode)
/// and its publish stream; a task drains the room's messages.
async fn connect(
    sh: &Shared,
    ep: &Endpoint,
    sub: &Sub,
    wt: &WtSub,
    counter: &Arc<WireCounter>,
    vars: &Vars<'_>,
) -> Result<WtPub, ClientError> {
    let q = quic(ep, &sh.cfg).await?;
    let mut path = sh.with_token_query(sub.url.render(vars), vars.client);
    let mut sep = if path.contains('?') { '&' } else { '?' };
    for part in [
        sub.first_query.clone(),
        wt.mode_query.as_ref().map(|m| format!("{m}=stream")),
    ]
    .into_iter()
    .flatten()
    {
        path.push(sep);
        path.push_str(&part);
        sep = '&';
    }
    let mut headers: Vec<(String, String)> = sub
        .headers
        .iter()
        .map(|(k, t)| (k.as_str().to_string(), t.render(vars)))
        .collect();
    headers.extend(
        sh.token_header(vars.client)
            .map(|(k, v)| (k.as_str().to_string(), v)),
    );
    let conn = q.connect(&path, headers).await?;
    let (send, recv) = conn
        .open_bi()
        .await
        .map_err(|e| closed_error(&e, true))?
        .await
        .map_err(|e| stream(&e))?;
    let drain = tokio::spawn(drain(conn.clone()));
    Ok(WtPub {
        conn,
        send,
        recv,
        frames: Frames::new(wt.framing),
        bytes: UdpBytes::default(),
        counter: counter.clone(),
        drain,
    })
}

/// Read and drop what the server sends on its own streams.
async fn drain(conn: wtransport::Connection) {
    let Ok(mut uni) = conn.accept_uni().await else {
        return;
    };
    let mut buf = vec![0u8; 4096];
    while let Ok(Some(_)) = uni.read(&mut buf).await {}
}
