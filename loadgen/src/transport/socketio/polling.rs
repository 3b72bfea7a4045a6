//! `socketio-polling`: Engine.IO long polling only, on one keep-alive
//! connection. A held GET brings what the server sends; what the client
//! must send in turn (CONNECT, pongs, connect emits) goes out by POST
//! before the next GET. Each GET counts as a request, like long polling.

use super::super::{Client, End, REQUEST_TIMEOUT, bounded};
use super::{Polling, State, count, handshake, handshake_request, section};
use crate::error::ClientError;
use std::time::Instant;

pub async fn session(c: &mut Client) -> Result<End, ClientError> {
    let started = Instant::now();
    let shared = c.shared.clone();
    let sio = section(&shared)?;
    let cancel = c.cancel().clone();
    let mut st = State::new(c, sio, started)?;
    let Some((mut p, rest)) = bounded(
        &cancel,
        REQUEST_TIMEOUT,
        "Engine.IO handshake timed out",
        Box::pin(open(c)),
    )
    .await?
    else {
        return Ok(End::Cancelled);
    };
    if let Some(end) = st.take_payload(c, &shared, &rest)? {
        return Ok(end);
    }
    let limit = p.silence_limit();
    loop {
        if !st.out.is_empty() {
            let payload = st.out.join("\u{1e}");
            st.out.clear();
            let sent = bounded(
                &cancel,
                REQUEST_TIMEOUT,
                "Engine.IO POST timed out",
                async { super::post(&mut p, payload).await },
            );
            if sent.await?.is_none() {
                return Ok(End::Cancelled);
            }
        }
        let got = bounded(&cancel, limit, "Engine.IO server went silent", async {
            super::poll(&mut p).await
        });
        let Some(body) = got.await? else {
            return Ok(End::Cancelled);
        };
        trace(c, &p, &body);
        st.measured = 0;
        let end = st.take_payload(c, &shared, &body)?;
        c.request(st.measured == 0);
        if let Some(end) = end {
            return Ok(end);
        }
    }
}

/// Dial, then the Engine.IO handshake (counted): how both Socket.IO
/// transports begin.
pub(super) async fn open(c: &mut Client) -> Result<(Polling, bytes::Bytes), ClientError> {
    let conn = {
        let _permit = c.dialer().permit().await;
        let stream = c.dial(crate::net::Purpose::Http).await?;
        crate::http::HttpConn::handshake(stream, c.authority()).await?
    };
    let (uri, headers) = handshake_request(c);
    count(c, false);
    let path = section(&c.shared)?.path.clone();
    handshake(conn, &path, &uri, &headers)
        .await
        .map_err(|e| c.shared.url_error(e))
}

fn trace(c: &Client, p: &Polling, body: &[u8]) {
    c.shared
        .rec
        .trace(|| format!("GET {} → {}", p.uri, crate::record::snippet(body)));
}
