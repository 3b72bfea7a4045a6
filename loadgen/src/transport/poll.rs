//! What short and long polling share: the keep-alive connection and one
//! poll request (send, check, parse, record). They differ only in when the
//! next request goes out.

use super::{Client, REQUEST_TIMEOUT, bounded};
use crate::error::{ClientError, ErrorKind};
use crate::http::{HttpConn, empty, read_body};
use crate::profile::CursorFrom;
use hyper::header::HeaderName;
use hyper::{HeaderMap, StatusCode};
use std::borrow::Cow;
use std::time::Duration;

/// Dials and handshakes the client's keep-alive connection; `None` when
/// the run was cancelled meanwhile.
pub async fn connect(c: &mut Client) -> Result<Option<HttpConn>, ClientError> {
    let cancel = c.cancel().clone();
    bounded(&cancel, REQUEST_TIMEOUT, "connect timed out", async {
        let _permit = c.dialer().permit().await;
        let stream = c.dial(crate::net::Purpose::Http).await?;
        HttpConn::handshake(stream, c.authority()).await
    })
    .await
}

/// A subscribe URL and its headers, the cursors left out (see [`base`]).
pub type Base = (String, Vec<(HeaderName, String)>);

/// The subscribe URL and headers of this client with the cursors left out
/// (rendered once per session).
pub fn base(c: &Client) -> Base {
    let name = format!("c{}", c.index);
    let vars = c.vars(&name);
    let sub = c.sub();
    let mut headers: Vec<_> = sub
        .headers
        .iter()
        .map(|(k, t)| (k.clone(), t.render(&vars)))
        .collect();
    headers.extend(c.shared.token_header(&name));
    (sub.url.render(&vars), headers)
}

/// One poll of `base` with the client's cursors: record its messages and
/// move the cursors. `None` when the run was cancelled meanwhile.
pub async fn once(
    c: &mut Client,
    conn: &mut HttpConn,
    base: &Base,
    limit: Duration,
    too_slow: &'static str,
) -> Result<Option<()>, ClientError> {
    let cancel = c.cancel().clone();
    let uri = c.url(&base.0);
    let mut req = conn.get(&uri);
    for (k, v) in &base.1 {
        req = req.header(k, v);
    }
    for (k, v) in c.cursor_headers() {
        req = req.header(k, v);
    }
    let req = empty(req)?;
    let Some((status, headers, body)) = bounded(&cancel, limit, too_slow, async {
        let resp = conn.send(req).await?;
        let (parts, body) = resp.into_parts();
        let body = read_body(body).await?;
        Ok((parts.status, parts.headers, body))
    })
    .await?
    else {
        return Ok(None);
    };
    let now_us = c.shared.rec.clock.now_us();
    trace_exchange(c, &uri, status, &headers, &body);
    take_answer(c, &uri, now_us, status, &headers, &body)?;
    if conn.is_closed() {
        return Err(ClientError::new(
            ErrorKind::UnexpectedClose,
            "server closed the keep-alive connection",
        ));
    }
    Ok(Some(()))
}

/// Check a poll's answer and record it: the cursors from its headers, its
/// messages (none for the profile's `empty_status`), a gap notice.
fn take_answer(
    c: &mut Client,
    uri: &str,
    now_us: u64,
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), ClientError> {
    let shared = c.shared.clone();
    let sub = shared.sub();
    let empty_answer = sub.poll().empty_status.contains(&status.as_u16());
    if !status.is_success() && !empty_answer {
        return Err(c.shared.url_error(ClientError::new(
            ErrorKind::HttpStatus,
            format!(
                "GET {uri} answered {status}: {}",
                crate::record::snippet(body)
            ),
        )));
    }
    c.set_cursors(|from| match from {
        CursorFrom::Header(h) => headers
            .get(h)
            .and_then(|v| v.to_str().ok())
            .map(Cow::Borrowed),
        _ => None,
    });
    let messages = if empty_answer {
        0
    } else {
        if sub.poll().gap.as_ref().is_some_and(|g| g.matches(body)) {
            c.gap();
        }
        c.take_unit(&shared, now_us, body)?
    };
    c.request(messages == 0);
    Ok(())
}

/// The exchange in words, when the run traces: the cursors sent and received.
fn trace_exchange(c: &Client, uri: &str, status: StatusCode, headers: &HeaderMap, body: &[u8]) {
    c.shared.rec.trace(|| {
        let sent: String = c
            .cursor_headers()
            .map(|(k, v)| format!(" [{k}: {v}]"))
            .collect();
        let got: String = c
            .sub()
            .cursors
            .iter()
            .filter_map(|r| match &r.from {
                CursorFrom::Header(h) => headers
                    .get(h)
                    .map(|v| format!(" [{h}: {}]", String::from_utf8_lossy(v.as_bytes()))),
                _ => None,
            })
            .collect();
        format!(
            "GET {uri}{sent} → {status}{got} {}",
            crate::record::snippet(body)
        )
    });
}
