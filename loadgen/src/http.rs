//! HTTP keep-alive connections over the counting stream, with hyper's
//! low-level clients (`hyper::client::conn::http1`, and `http2` when TLS
//! ALPN chose it under `--http2`): one connection per client, as a browser
//! keeps one for polling. reqwest is not used because
//! it cannot count wire bytes (its connector type is sealed), and a pooled
//! client would hide which connection carried what.

use crate::error::{ClientError, ErrorKind};
use crate::net::{Dialer, Purpose, Stream, WireCounter};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::client::conn::{http1, http2};
use hyper::{Request, Response, header};
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// Largest poll or publish answer read (a poll returns at most the room's
/// history; 16 MiB is far beyond any sane one).
pub const MAX_BODY_BYTES: usize = 16 << 20;

/// Read size of every client connection.
const READ_BUF_BYTES: usize = 4096;

/// Aborts the connection task when the client drops the connection, so a
/// cancelled client never leaves a socket behind.
#[derive(Debug)]
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[derive(Debug)]
enum Sender {
    H1(http1::SendRequest<Full<Bytes>>),
    /// With the base URL: HTTP/2 requests carry scheme and authority.
    H2(http2::SendRequest<Full<Bytes>>, Arc<str>),
}

/// One HTTP connection (keep-alive).
#[derive(Debug)]
pub struct HttpConn {
    sender: Sender,
    authority: Arc<str>,
    _task: AbortOnDrop,
}

impl HttpConn {
    /// Dial and handshake.
    pub async fn connect(
        dialer: &Dialer,
        slot: usize,
        counter: &Arc<WireCounter>,
        authority: &Arc<str>,
    ) -> Result<HttpConn, ClientError> {
        let stream = dialer.dial(slot, counter, Purpose::Http).await?;
        HttpConn::handshake(stream, authority).await
    }

    /// Start HTTP on an open stream (HTTP/2 if ALPN chose it); the
    /// connection is driven by its own small task (hyper's design) that
    /// ends with the connection.
    pub async fn handshake(stream: Stream, authority: &Arc<str>) -> Result<HttpConn, ClientError> {
        if stream.is_h2() {
            let (sender, conn) = http2::Builder::new(TokioExecutor::new())
                .handshake(TokioIo::new(stream))
                .await
                .map_err(|e| ClientError::from_hyper(&e))?;
            let task = tokio::spawn(async move {
                let _ = conn.await;
            });
            return Ok(HttpConn {
                sender: Sender::H2(sender, format!("https://{authority}").into()),
                authority: authority.clone(),
                _task: AbortOnDrop(task),
            });
        }
        let (sender, conn) = http1::Builder::new()
            // A fixed 4 KiB read size instead of hyper's adaptive 8 KiB–400 KiB
            // buffer: memory per client, not throughput per connection, is
            // what limits a load generator (response heads are ~200 bytes).
            .read_buf_exact_size(Some(READ_BUF_BYTES))
            .handshake(TokioIo::new(stream))
            .await
            .map_err(|e| ClientError::from_hyper(&e))?;
        let task = tokio::spawn(async move {
            // Errors surface on the request side; nothing to do with them here.
            let _ = conn.await;
        });
        Ok(HttpConn {
            sender: Sender::H1(sender),
            authority: authority.clone(),
            _task: AbortOnDrop(task),
        })
    }

    /// Completes when the connection ends (the server closed it, or it
    /// broke). Once it has completed, drop the connection.
    pub async fn closed(&mut self) {
        let _ = (&mut self._task.0).await;
    }

    /// The server closed the connection (or it broke).
    pub fn is_closed(&self) -> bool {
        match &self.sender {
            Sender::H1(s) => s.is_closed(),
            Sender::H2(s, _) => s.is_closed(),
        }
    }

    /// A GET request with `Host`.
    pub fn get(&self, path_and_query: &str) -> hyper::http::request::Builder {
        self.request(hyper::Method::GET, path_and_query)
    }

    /// A request with `Host`.
    pub fn request(
        &self,
        method: hyper::Method,
        path_and_query: &str,
    ) -> hyper::http::request::Builder {
        match &self.sender {
            Sender::H1(_) => Request::builder()
                .method(method)
                .uri(path_and_query)
                .header(header::HOST, &*self.authority),
            // HTTP/2 has :authority instead of Host (hyper fills it in).
            Sender::H2(_, base) => Request::builder()
                .method(method)
                .version(hyper::Version::HTTP_2)
                .uri(format!("{base}{path_and_query}")),
        }
    }

    /// Send one request and wait for the response head.
    pub async fn send(
        &mut self,
        req: Request<Full<Bytes>>,
    ) -> Result<Response<Incoming>, ClientError> {
        let sent = match &mut self.sender {
            Sender::H1(s) => {
                s.ready().await.map_err(|e| ClientError::from_hyper(&e))?;
                s.send_request(req).await
            }
            Sender::H2(s, _) => {
                s.ready().await.map_err(|e| ClientError::from_hyper(&e))?;
                s.send_request(req).await
            }
        };
        sent.map_err(|e| ClientError::from_hyper(&e))
    }
}

/// Build a request without a body.
pub fn empty(builder: hyper::http::request::Builder) -> Result<Request<Full<Bytes>>, ClientError> {
    builder
        .body(Full::new(Bytes::new()))
        .map_err(|e| ClientError::new(ErrorKind::Protocol, format!("building request: {e}")))
}

/// Read a whole (bounded) body.
pub async fn read_body(body: Incoming) -> Result<Bytes, ClientError> {
    match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) => Err(match e.downcast_ref::<hyper::Error>() {
            Some(h) => ClientError::from_hyper(h),
            None => ClientError::new(ErrorKind::Protocol, format!("reading body: {e}")),
        }),
    }
}

/// One GET on a fresh connection (preflight and `/api/stats`), bounded by `limit`.
/// Its bytes are not counted as subscribe or publish traffic.
pub async fn get_once(
    dialer: &Dialer,
    authority: &Arc<str>,
    path: &str,
    limit: Duration,
) -> Result<(u16, Bytes), ClientError> {
    let fut = async {
        let counter = Arc::new(WireCounter::default());
        let mut conn = HttpConn::connect(dialer, 0, &counter, authority).await?;
        let req = empty(conn.get(path))?;
        let resp = conn.send(req).await?;
        let status = resp.status().as_u16();
        let body = read_body(resp.into_body()).await?;
        Ok((status, body))
    };
    match tokio::time::timeout(limit, fut).await {
        Ok(r) => r,
        Err(_) => Err(ClientError::new(
            ErrorKind::Timeout,
            format!("GET {path} got no answer within {limit:?}"),
        )),
    }
}
