//! What short and long polling share: the keep-alive connection and one
//! poll request (send, check, parse, record). They differ only in when the
//! next request goes out.

use super::{Client, REQUEST_TIMEOUT, bounded};
use crate::error::{ClientError, ErrorKind};
use crate::http::{HttpConn, empty, read_body};
use crate::wire::PollRef;
use std::time::Duration;

/// Dials and handshakes the client's keep-alive connection; `None` when
/// the run was cancelled meanwhile.
pub async fn connect(c: &mut Client) -> Result<Option<HttpConn>, ClientError> {
    let cancel = c.cancel().clone();
    bounded(&cancel, REQUEST_TIMEOUT, "connect timed out", async {
        let _permit = c.dialer().permit().await;
        let stream = c.dial().await?;
        HttpConn::handshake(stream, &c.shared.authority).await
    })
    .await
}

/// One poll: `GET uri`, record its messages and move the cursor. `None`
/// when the run was cancelled meanwhile.
pub async fn once(
    c: &mut Client,
    conn: &mut HttpConn,
    uri: &str,
    limit: Duration,
    too_slow: &'static str,
) -> Result<Option<()>, ClientError> {
    let cancel = c.cancel().clone();
    let Some(body) = bounded(&cancel, limit, too_slow, async {
        let resp = conn.send(empty(conn.get(uri))?).await?;
        if resp.status() != hyper::StatusCode::OK {
            return Err(ClientError::new(
                ErrorKind::HttpStatus,
                format!("GET {uri} answered {}", resp.status()),
            ));
        }
        read_body(resp.into_body()).await
    })
    .await?
    else {
        return Ok(None);
    };
    let now_us = c.shared.rec.clock.now_us();
    let poll: PollRef<'_> = serde_json::from_slice(&body)
        .map_err(|e| ClientError::new(ErrorKind::Protocol, format!("poll answer: {e}")))?;
    c.request(poll.messages.is_empty());
    if poll.gap {
        c.gap();
    }
    c.receive(now_us, &poll.messages);
    c.cursor = Some(poll.cursor.0.into_owned());
    if conn.is_closed() {
        return Err(ClientError::new(
            ErrorKind::UnexpectedClose,
            "server closed the keep-alive connection",
        ));
    }
    Ok(Some(()))
}
