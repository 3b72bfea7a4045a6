//! Connections: a byte-counting wrapper around every accepted TCP stream and
//! the per-connection meter that charges those bytes to a transport.
//!
//! A connection's label is known only once its first request is routed, so
//! bytes read before that are held as pending and moved over when the
//! handler labels the connection ([`Conn::label`]). Counting at the socket
//! (not in handlers) is what makes headers, chunking and WebSocket framing
//! show up in the figures.

use crate::metrics::{Label, Metrics};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use std::convert::Infallible;
use std::io::IoSlice;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering::Relaxed};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

const UNLABELED: u8 = u8::MAX;

/// Byte and connection accounting for one TCP connection.
#[derive(Debug)]
pub struct ConnMeter {
    /// `--publish-rate-limit` tokens of this connection (made on first use).
    bucket: std::sync::Mutex<Option<crate::limits::Bucket>>,
    label: AtomicU8,
    /// The place under `--max-connections-per-ip`, until the socket closes;
    /// dropped before `_open`, so an open-connections gauge that went down
    /// means the address's place is free too.
    _ip: Option<crate::limits::per_ip::IpSlot>,
    /// The connection's place under `--max-connections`, until the socket closes.
    _open: Option<crate::limits::OpenConnection>,
    /// The TCP peer's address: carried here rather than as a second request
    /// extension, which would cost every request a map allocation.
    peer: Option<std::net::IpAddr>,
    pending_in: AtomicU64,
    pending_out: AtomicU64,
    /// Bytes charged to the current label, for [`ConnMeter::move_to`].
    charged_in: AtomicU64,
    charged_out: AtomicU64,
    metrics: Arc<Metrics>,
}

impl ConnMeter {
    pub fn new(metrics: Arc<Metrics>) -> Self {
        ConnMeter {
            bucket: std::sync::Mutex::new(None),
            label: AtomicU8::new(UNLABELED),
            _open: None,
            _ip: None,
            peer: None,
            pending_in: AtomicU64::new(0),
            pending_out: AtomicU64::new(0),
            charged_in: AtomicU64::new(0),
            charged_out: AtomicU64::new(0),
            metrics,
        }
    }

    /// Keep `open` (the connection's place) as long as this meter lives.
    pub fn holding(mut self, open: crate::limits::OpenConnection) -> Self {
        self._open = Some(open);
        self
    }

    /// The connection's TCP peer.
    pub fn with_peer(mut self, ip: std::net::IpAddr) -> Self {
        self.peer = Some(ip);
        self
    }

    /// The connection's TCP peer, if known.
    pub fn peer(&self) -> Option<std::net::IpAddr> {
        self.peer
    }

    /// Keep the address's place as long as this meter lives.
    pub fn hold_ip(&mut self, slot: crate::limits::per_ip::IpSlot) {
        self._ip = Some(slot);
    }

    /// `n` bytes read (`out` false) or written, charged to the label.
    pub(crate) fn add(&self, n: u64, out: bool) {
        let l = self.label.load(Relaxed);
        if l == UNLABELED {
            let p = if out {
                &self.pending_out
            } else {
                &self.pending_in
            };
            p.fetch_add(n, Relaxed);
        } else {
            let m = self.metrics.label(Label::from_index(l as usize));
            let (c, charged) = if out {
                (&m.bytes_out, &self.charged_out)
            } else {
                (&m.bytes_in, &self.charged_in)
            };
            c.add(n);
            charged.fetch_add(n, Relaxed);
        }
    }

    /// Relabels the connection and moves every byte it was charged so far
    /// to `label` too: a Socket.IO session's polling requests count under
    /// `socketio` once it upgrades. Counts no request: the requests stay
    /// where they were made.
    pub fn move_to(&self, label: Label) {
        let old = self.label.load(Relaxed);
        if old != UNLABELED && old != label.index() as u8 {
            let from = self.metrics.label(Label::from_index(old as usize));
            let to = self.metrics.label(label);
            let bytes_in = self.charged_in.swap(0, Relaxed);
            let bytes_out = self.charged_out.swap(0, Relaxed);
            from.bytes_in.sub(bytes_in);
            from.bytes_out.sub(bytes_out);
            to.bytes_in.add(bytes_in);
            to.bytes_out.add(bytes_out);
        }
        self.charge_to(label);
    }

    /// Charges this connection (and from now on its bytes) to `label`, and
    /// counts one request for it.
    pub fn label(&self, label: Label) {
        self.metrics.label(label).requests.add(1);
        self.charge_to(label);
    }

    /// From now on, this connection and its bytes count under `label`.
    fn charge_to(&self, label: Label) {
        let new = label.index() as u8;
        let m = self.metrics.label(label);
        let old = self.label.swap(new, Relaxed);
        if old != new {
            self.charged_in.store(0, Relaxed);
            self.charged_out.store(0, Relaxed);
            m.connections.fetch_add(1, Relaxed);
            if old != UNLABELED {
                let o = self.metrics.label(Label::from_index(old as usize));
                o.connections.fetch_sub(1, Relaxed);
            }
        }
        self.flush_pending(label);
    }

    fn flush_pending(&self, label: Label) {
        let m = self.metrics.label(label);
        let bytes_in = self.pending_in.swap(0, Relaxed);
        let bytes_out = self.pending_out.swap(0, Relaxed);
        m.bytes_in.add(bytes_in);
        m.bytes_out.add(bytes_out);
        self.charged_in.fetch_add(bytes_in, Relaxed);
        self.charged_out.fetch_add(bytes_out, Relaxed);
    }
}

impl Drop for ConnMeter {
    fn drop(&mut self) {
        let l = self.label.load(Relaxed);
        if l == UNLABELED {
            self.flush_pending(Label::Other);
        } else {
            let label = Label::from_index(l as usize);
            self.metrics.label(label).connections.fetch_sub(1, Relaxed);
            self.flush_pending(label);
        }
    }
}

/// A stream that reports every byte read and written to its [`ConnMeter`],
/// and fails a write that makes no progress for `stall_limit`: a peer that
/// stops reading (an SSE or WebSocket subscriber, an HTTP/2 connection)
/// would otherwise hold its socket, buffers and task forever. The timer
/// exists only while a write is blocked, so the fast path pays nothing.
#[derive(Debug)]
pub struct Counted<S> {
    inner: S,
    meter: Arc<ConnMeter>,
    stall_limit: std::time::Duration,
    stalled_since: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<S> Counted<S> {
    pub fn new(inner: S, meter: Arc<ConnMeter>, stall_limit: std::time::Duration) -> Self {
        Counted {
            inner,
            meter,
            stall_limit,
            stalled_since: None,
        }
    }

    /// After a write: clear the stall timer on progress; on `Pending`, arm
    /// it (once) and turn its expiry into an error, which ends the connection.
    fn watch(
        &mut self,
        cx: &mut Context<'_>,
        r: Poll<std::io::Result<usize>>,
    ) -> Poll<std::io::Result<usize>> {
        match r {
            Poll::Ready(Ok(n)) => {
                self.stalled_since = None;
                self.meter.add(n as u64, true);
                Poll::Ready(Ok(n))
            }
            Poll::Pending if !self.stall_limit.is_zero() => {
                let limit = self.stall_limit;
                let timer = self
                    .stalled_since
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
                if timer.as_mut().poll(cx).is_ready() {
                    if let Some(open) = &self.meter._open {
                        open.0.stalled.fetch_add(1, Relaxed);
                    }
                    return Poll::Ready(Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "the client stopped reading",
                    )));
                }
                Poll::Pending
            }
            other => other,
        }
    }

    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Counted<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        let n = buf.filled().len().saturating_sub(before);
        if n > 0 {
            self.meter.add(n as u64, false);
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Counted<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.watch(cx, r)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.watch(cx, r)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Handler-side access to the connection's meter. Always present: requests
/// that did not come through [`crate::run`] (router tests) get none and
/// labelling them is a no-op.
#[derive(Debug, Clone, Default)]
pub struct Conn(pub Option<Arc<ConnMeter>>);

impl Conn {
    pub fn label(&self, label: Label) {
        if let Some(m) = &self.0 {
            m.label(label);
        }
    }

    /// One publish against `--publish-rate-limit`: this connection's bucket.
    pub fn take_token(&self, limit: &crate::limits::RateLimit) -> Result<(), std::time::Duration> {
        let Some(m) = &self.0 else { return Ok(()) };
        let mut b = m.bucket.lock().unwrap_or_else(|p| p.into_inner());
        b.get_or_insert_with(|| crate::limits::Bucket::new(limit))
            .take(limit)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Conn {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Conn(parts.extensions.get::<Arc<ConnMeter>>().cloned()))
    }
}
