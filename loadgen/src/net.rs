//! Sockets: the byte-counting stream wrapper every client and publisher
//! connection goes through (so wire bytes are counted at the socket, headers
//! and framing included), and the dialer that binds source addresses and
//! bounds concurrent handshakes.

use crate::error::{ClientError, ErrorKind};
use crate::network::RadioMeter;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::{Semaphore, SemaphorePermit};

/// Bytes one client (or publisher) moved, over all its connections.
/// Relaxed atomics owned by that client alone: no contention on the hot
/// path; the sampler reads them once a second.
#[derive(Debug, Default)]
pub struct WireCounter {
    pub up: AtomicU64,
    pub down: AtomicU64,
    /// A subscriber's phone radio, told of every read and write that moved
    /// bytes; only over an emulated network (`None` costs one branch).
    pub radio: Option<RadioMeter>,
}

impl WireCounter {
    /// Bytes went out (`up`) or came in.
    pub(crate) fn moved(&self, up: bool, n: usize) {
        if n == 0 {
            return;
        }
        let counter = if up { &self.up } else { &self.down };
        counter.fetch_add(n as u64, Ordering::Relaxed);
        if let Some(radio) = &self.radio {
            radio.activity();
        }
    }

    pub fn get(&self) -> (u64, u64) {
        (
            self.up.load(Ordering::Relaxed),
            self.down.load(Ordering::Relaxed),
        )
    }
}

/// A stream that adds every byte read or written to a [`WireCounter`].
#[derive(Debug)]
pub struct CountingStream<S> {
    inner: S,
    counter: Arc<WireCounter>,
}

impl<S> CountingStream<S> {
    pub fn new(inner: S, counter: Arc<WireCounter>) -> Self {
        CountingStream { inner, counter }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for CountingStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let res = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = res {
            self.counter.moved(false, buf.filled().len() - before);
        }
        res
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for CountingStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let res = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = res {
            self.counter.moved(true, n);
        }
        res
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let res = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = res {
            self.counter.moved(true, n);
        }
        res
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A client connection: plain TCP, or TLS over it. Bytes are counted
/// under TLS, at the socket, so TLS records and handshakes are wire bytes.
#[derive(Debug)]
pub enum Stream {
    Plain(CountingStream<TcpStream>),
    Tls(Box<tokio_rustls::client::TlsStream<CountingStream<TcpStream>>>),
}

impl Stream {
    /// ALPN chose HTTP/2.
    pub fn is_h2(&self) -> bool {
        match self {
            Stream::Plain(_) => false,
            Stream::Tls(s) => s.get_ref().1.alpn_protocol() == Some(b"h2"),
        }
    }
}

macro_rules! both {
    ($self:ident, $s:ident => $e:expr) => {
        match $self.get_mut() {
            Stream::Plain($s) => $e,
            Stream::Tls($s) => $e,
        }
    };
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        both!(self, s => Pin::new(s).poll_read(cx, buf))
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        both!(self, s => Pin::new(s).poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        both!(self, s => Pin::new(s).poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Stream::Plain(s) => s.is_write_vectored(),
            Stream::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        both!(self, s => Pin::new(s).poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        both!(self, s => Pin::new(s).poll_shutdown(cx))
    }
}

/// What a connection is for: it decides the ALPN offered over TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Polls, SSE, publishes, health checks.
    Http,
    /// A WebSocket upgrade (HTTP/1.1 only).
    Ws,
}

/// TLS settings of one target.
#[derive(Debug, Clone)]
pub struct TlsTarget {
    pub client: crate::tls::TlsClient,
    pub name: rustls::pki_types::ServerName<'static>,
}

/// Opens TCP (and TLS) connections to the target.
#[derive(Debug)]
pub struct Dialer {
    pub target: SocketAddr,
    tls: Option<TlsTarget>,
    source_ips: Vec<IpAddr>,
    /// Caps handshakes in flight so a ramp-up or a reconnect storm does not
    /// overflow the server's accept queue (Linux's default somaxconn is 4096).
    handshakes: Semaphore,
    pub connect_timeout: Duration,
    /// Sockets are created in here: the client side of the emulated link.
    netns: Option<netem::Netns>,
}

/// Concurrent connection handshakes allowed (well under the default somaxconn).
const MAX_HANDSHAKES: usize = 512;

impl Dialer {
    pub fn new(target: SocketAddr, source_ips: Vec<IpAddr>, connect_timeout: Duration) -> Self {
        Dialer {
            target,
            tls: None,
            source_ips,
            handshakes: Semaphore::new(MAX_HANDSHAKES),
            connect_timeout,
            netns: None,
        }
    }

    /// Create every socket in `netns` (the emulated link's client side); it
    /// stays there whichever thread connects it.
    pub fn in_netns(mut self, netns: Option<netem::Netns>) -> Self {
        self.netns = netns;
        self
    }

    /// The namespace its sockets are created in (`None`: this process's).
    pub fn netns(&self) -> Option<&netem::Netns> {
        self.netns.as_ref()
    }

    /// A fresh socket of the target's family, in the link's client side if any.
    fn socket(&self) -> std::io::Result<TcpSocket> {
        let new = || {
            if self.target.is_ipv4() {
                TcpSocket::new_v4()
            } else {
                TcpSocket::new_v6()
            }
        };
        match &self.netns {
            Some(ns) => ns.run(new)?,
            None => new(),
        }
    }

    /// Speak TLS on every connection.
    pub fn with_tls(mut self, tls: Option<TlsTarget>) -> Self {
        self.tls = tls;
        self
    }

    /// Wait for a handshake slot; hold the permit until the handshake is done.
    pub async fn permit(&self) -> Option<SemaphorePermit<'_>> {
        self.handshakes.acquire().await.ok()
    }

    /// Connect, from source address number `slot` (round-robin over
    /// `--source-ips`), and do the TLS handshake if the target is https,
    /// all within the connect timeout.
    pub async fn dial(
        &self,
        slot: usize,
        counter: &Arc<WireCounter>,
        purpose: Purpose,
    ) -> Result<Stream, ClientError> {
        let Some(tls) = &self.tls else {
            return self.tcp(slot, counter).await.map(Stream::Plain);
        };
        let connector = match purpose {
            Purpose::Http => &tls.client.http,
            Purpose::Ws => &tls.client.ws,
        };
        let handshake = async {
            let tcp = self.tcp(slot, counter).await?;
            connector
                .connect(tls.name.clone(), tcp)
                .await
                .map_err(|e| crate::tls::handshake_failed(&e))
        };
        match tokio::time::timeout(self.connect_timeout, handshake).await {
            Ok(r) => r.map(|s| Stream::Tls(Box::new(s))),
            Err(_) => Err(ClientError::new(
                ErrorKind::ConnectTimeout,
                format!(
                    "TCP connect and TLS handshake to {} took over {:?}",
                    self.target, self.connect_timeout
                ),
            )),
        }
    }

    async fn tcp(
        &self,
        slot: usize,
        counter: &Arc<WireCounter>,
    ) -> Result<CountingStream<TcpStream>, ClientError> {
        let connect = async {
            let socket = self.socket().map_err(|e| ClientError::from_io(&e, true))?;
            if !self.source_ips.is_empty() {
                let ip = self.source_ips[slot % self.source_ips.len()];
                socket
                    .bind(SocketAddr::new(ip, 0))
                    .map_err(|e| ClientError::from_io(&e, true))?;
            }
            let stream = socket
                .connect(self.target)
                .await
                .map_err(|e| ClientError::from_io(&e, true))?;
            // Small frames must not wait for Nagle: latency is what we measure.
            let _ = stream.set_nodelay(true);
            Ok(stream)
        };
        match tokio::time::timeout(self.connect_timeout, connect).await {
            Ok(Ok(stream)) => Ok(CountingStream::new(stream, counter.clone())),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(ClientError::new(
                ErrorKind::ConnectTimeout,
                format!(
                    "TCP connect to {} took over {:?}",
                    self.target, self.connect_timeout
                ),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn counts_both_directions() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.expect("accept");
            let mut buf = [0u8; 5];
            s.read_exact(&mut buf).await.expect("read");
            s.write_all(b"0123456789").await.expect("write");
        });
        let dialer = Dialer::new(
            addr,
            vec!["127.0.0.2".parse().expect("ip")],
            Duration::from_secs(2),
        );
        let counter = Arc::new(WireCounter::default());
        let mut s = dialer.tcp(0, &counter).await.expect("dial");
        s.write_all(b"hello").await.expect("write");
        let mut got = Vec::new();
        s.read_to_end(&mut got).await.expect("read");
        server.await.expect("server");
        assert_eq!(got.len(), 10);
        assert_eq!(counter.get(), (5, 10));
        assert_eq!(
            s.inner.local_addr().map(|a| a.ip()).ok(),
            Some("127.0.0.2".parse().expect("ip"))
        );
    }

    #[tokio::test]
    async fn refused_is_classified() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        drop(listener);
        let dialer = Dialer::new(addr, vec![], Duration::from_secs(2));
        let e = dialer
            .dial(0, &Arc::new(WireCounter::default()), Purpose::Http)
            .await
            .expect_err("refused");
        assert_eq!(e.kind, ErrorKind::ConnectRefused);
    }
}
