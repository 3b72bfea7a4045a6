//! One accepted socket: bytes counted at the TCP level (TLS records and
//! all), then TLS if configured (plain HTTP on the TLS port gets a 400 that
//! says so), then HTTP/2 if ALPN chose it, else HTTP/1.1 with upgrades.

use crate::app::AppState;
use crate::net::{ConnMeter, Counted};
use axum::Router;
use hyper::server::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tower::ServiceExt;

/// Serves one accepted socket until it closes or the server shuts down.
pub(crate) async fn connection(
    stream: TcpStream,
    router: Router,
    state: AppState,
    meter: Arc<ConnMeter>,
    tls: Option<TlsAcceptor>,
) {
    // Latency is the product: never let Nagle hold a small frame back.
    let _ = stream.set_nodelay(true);
    // Two heartbeats without write progress: the peer stopped reading.
    let counted = Counted::new(stream, meter.clone(), state.config.heartbeat * 2);
    let Some(acceptor) = tls else {
        return serve(TokioIo::new(counted), false, router, meter, &state).await;
    };
    // A peer that never finishes its handshake is cut off like a slowloris.
    let handshake = tokio::time::timeout(
        state.config.header_read_timeout,
        handshake(counted, acceptor),
    );
    match handshake.await {
        Ok(Some(s)) => {
            let h2 = s.get_ref().1.alpn_protocol() == Some(b"h2");
            if h2 {
                state
                    .limit_metrics
                    .http2_connections
                    .fetch_add(1, Ordering::Relaxed);
            }
            serve(TokioIo::new(s), h2, router, meter, &state).await
        }
        _ => {
            state
                .limit_metrics
                .tls_failures
                .fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The first byte of every TLS connection (a handshake record).
const TLS_HANDSHAKE_RECORD: u8 = 0x16;

/// The TLS handshake, after a peek at the first byte: a peer that speaks
/// plain HTTP is answered in plain HTTP and gets no TLS stream.
async fn handshake(
    counted: Counted<TcpStream>,
    acceptor: TlsAcceptor,
) -> Option<TlsStream<Counted<TcpStream>>> {
    let mut first = [0u8; 1];
    counted.get_ref().peek(&mut first).await.ok()?;
    if first[0] != TLS_HANDSHAKE_RECORD {
        plain_http_on_tls_port(counted).await;
        return None;
    }
    acceptor.accept(counted).await.ok()
}

/// Plain HTTP sent to the TLS port: one 400 that says so (as nginx does),
/// instead of a TLS alert that clients report as garbage.
async fn plain_http_on_tls_port<S: tokio::io::AsyncWrite + Unpin>(mut stream: S) {
    use tokio::io::AsyncWriteExt;
    let body = serde_json::to_string(&protocol::ErrorBody {
        error: "this port speaks TLS: use https:// (or wss://)".into(),
        code: "tls_required".into(),
    })
    .unwrap_or_default();
    let resp = format!(
        "HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(resp.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// HTTP on an open connection until it ends or the server shuts down (then
/// gracefully: requests in flight finish, within the shutdown deadline).
async fn serve<I>(io: I, h2: bool, router: Router, meter: Arc<ConnMeter>, state: &AppState)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let service =
        hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(meter.clone());
            router.clone().oneshot(req)
        });
    macro_rules! drive {
        ($conn:expr) => {{
            let conn = $conn;
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = state.shutdown.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        }};
    }
    if h2 {
        drive!(
            http2::Builder::new(TokioExecutor::new())
                .timer(TokioTimer::new())
                .max_frame_size(16 * 1024)
                .serve_connection(io, service)
        );
    } else {
        drive!(
            http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(state.config.header_read_timeout)
                .serve_connection(io, service)
                .with_upgrades()
        );
    }
}
