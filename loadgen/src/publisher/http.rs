//! Publishing over HTTP: one keep-alive connection per publisher; only a
//! status the profile accepts counts as published.

use crate::error::{ClientError, ErrorKind};
use crate::http::{HttpConn, read_body};
use crate::net::WireCounter;
use crate::profile::{HttpPublish, Vars};
use crate::transport::{Endpoint, REQUEST_TIMEOUT, Shared};
use bytes::Bytes;
use http_body_util::Full;
use hyper::Request;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Send one publish on `conn` (opened first if there is none or it
/// closed); any failure drops the connection, so the next publish starts
/// on a fresh one.
pub(super) async fn publish_http(
    sh: &Shared,
    ep: &Endpoint,
    conn: &mut Option<HttpConn>,
    slot: usize,
    counter: &Arc<WireCounter>,
    vars: &Vars<'_>,
) -> Result<(), ClientError> {
    let Some(spec) = &sh.cfg.profile.publish.http else {
        return Err(ClientError::new(
            ErrorKind::Protocol,
            "the profile has no HTTP publish",
        ));
    };
    let fut = async {
        if conn.as_ref().is_none_or(HttpConn::is_closed) {
            *conn = None;
            *conn = Some(HttpConn::connect(&ep.dialer, slot, counter, &ep.authority).await?);
        }
        let Some(c) = conn.as_mut() else {
            return Err(ClientError::new(ErrorKind::Io, "no connection"));
        };
        let resp = c.send(request(sh, spec, c, vars)?).await?;
        let status = resp.status();
        // Read the body even when we do not need it: the connection is reused.
        let answer = read_body(resp.into_body()).await?;
        sh.rec.trace(|| {
            format!(
                "publish {} {} {} → {status} {}",
                spec.method,
                spec.url.render(vars),
                crate::record::snippet(spec.body.render(vars).as_bytes()),
                crate::record::snippet(&answer)
            )
        });
        if !spec.accepted(status.as_u16()) {
            return Err(ClientError::new(
                ErrorKind::HttpStatus,
                format!(
                    "publish {} {} answered {status}: {}",
                    spec.method,
                    spec.url.render(vars),
                    crate::record::snippet(&answer)
                ),
            )
            .in_field(&sh.cfg.profile, "[publish] url", spec.url_line));
        }
        Ok(())
    };
    let res = match tokio::time::timeout(REQUEST_TIMEOUT, fut).await {
        Ok(r) => r,
        Err(_) => Err(ClientError::new(
            ErrorKind::Timeout,
            "publish got no answer in time",
        )),
    };
    if res.is_err() {
        *conn = None; // a fresh connection for the next publish
    }
    res
}

/// One HTTP publish to send: the message and who sends it.
pub(super) struct Send {
    pub payload: String,
    pub id: String,
    pub room: usize,
    pub seq: u64,
    /// Its intended time falls in the measured window.
    pub in_window: bool,
    pub slot: usize,
    pub counter: Arc<WireCounter>,
    /// Which of the run's targets.
    pub target: usize,
}

/// A finished HTTP publish: how it went, and its connection (unless it failed).
pub(super) struct Sent {
    pub room: usize,
    pub seq: u64,
    pub in_window: bool,
    pub target: usize,
    /// From handing it to the connection to the answer (or the failure).
    pub took: Duration,
    pub conn: Option<HttpConn>,
    pub res: Result<(), ClientError>,
}

/// Sends `s` on `conn` (or a new connection); owns everything, so several
/// publishes of one publisher can be in flight at once.
pub(super) async fn send(sh: &Shared, mut conn: Option<HttpConn>, s: Send) -> Sent {
    let vars = Vars {
        room: &sh.rooms[s.room],
        client: &s.id,
        payload: &s.payload,
        wait_secs: 0.0,
    };
    let sent_at = Instant::now();
    let ep = &sh.pub_targets()[s.target];
    let res = publish_http(sh, ep, &mut conn, s.slot, &s.counter, &vars).await;
    Sent {
        room: s.room,
        seq: s.seq,
        in_window: s.in_window,
        target: s.target,
        took: sent_at.elapsed(),
        conn,
        res,
    }
}

/// The publish request: the profile's method, path, headers and body, and
/// the publisher's token.
fn request(
    sh: &Shared,
    spec: &HttpPublish,
    c: &HttpConn,
    vars: &Vars<'_>,
) -> Result<Request<Full<Bytes>>, ClientError> {
    let path = sh.with_token_query(spec.url.render(vars), vars.client);
    let mut req = c.request(spec.method.clone(), &path);
    for (k, t) in &spec.headers {
        req = req.header(k, t.render(vars));
    }
    if let Some((k, v)) = sh.token_header(vars.client) {
        req = req.header(k, v);
    }
    req.body(Full::new(Bytes::from(spec.body.render(vars))))
        .map_err(|e| ClientError::new(ErrorKind::Protocol, format!("building request: {e}")))
}
