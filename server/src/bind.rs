//! Binding the server's sockets: TCP for every HTTP transport and, for
//! WebTransport, UDP on the same port number.
//!
//! On port 0 the kernel picks a free TCP port, but that UDP port may be
//! someone else's (load generator clients bind ephemeral UDP ports), so
//! [`bind`] retries with a fresh pair a bounded number of times.

use std::io::ErrorKind;
use std::net::{SocketAddr, TcpListener as StdTcpListener, UdpSocket};
use tokio::net::TcpListener;

/// Fresh port-0 pairs tried before giving up.
const PORT_ZERO_TRIES: usize = 32;

/// Why the server's sockets could not be bound.
#[derive(Debug, thiserror::Error)]
pub enum BindError {
    #[error(
        "cannot listen on {addr}: {source} (is another server using it? Try --addr 127.0.0.1:0 for a free port)"
    )]
    Tcp {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "cannot listen for WebTransport on UDP {addr}: {source} (choose another UDP address with --webtransport-addr, or turn it off with --no-webtransport)"
    )]
    Udp {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// The UDP side of [`Listeners`].
#[derive(Debug)]
pub enum Udp {
    /// Bind UDP on the TCP listener's address when the server starts.
    SamePort,
    /// Already bound.
    Bound(UdpSocket),
    /// No UDP socket: WebTransport only if `Config::webtransport_addr` names one.
    None,
}

/// What [`crate::run`] serves: the TCP listener and WebTransport's UDP socket.
#[derive(Debug)]
pub struct Listeners {
    pub tcp: TcpListener,
    pub udp: Udp,
}

/// A TCP listener alone: UDP is bound on its port when the server starts
/// (an error then if that UDP port is taken). Prefer [`bind`] for port 0.
impl From<TcpListener> for Listeners {
    fn from(tcp: TcpListener) -> Self {
        Listeners {
            tcp,
            udp: Udp::SamePort,
        }
    }
}

impl Listeners {
    /// Sockets made by [`bind_std`] (for instance in another network
    /// namespace), for the running tokio runtime.
    pub fn from_std(tcp: StdTcpListener, udp: UdpSocket) -> std::io::Result<Self> {
        tcp.set_nonblocking(true)?;
        Ok(Listeners {
            tcp: TcpListener::from_std(tcp)?,
            udp: Udp::Bound(udp),
        })
    }

    /// The TCP listener without any UDP socket of its own.
    pub fn tcp_only(tcp: TcpListener) -> Self {
        Listeners {
            tcp,
            udp: Udp::None,
        }
    }
}

/// TCP and UDP on `addr` (the same port number); with port 0, a free pair.
pub fn bind_std(addr: SocketAddr) -> Result<(StdTcpListener, UdpSocket), BindError> {
    let tries = if addr.port() == 0 { PORT_ZERO_TRIES } else { 1 };
    let mut last = None;
    for _ in 0..tries {
        let tcp = StdTcpListener::bind(addr).map_err(|source| BindError::Tcp { addr, source })?;
        let bound = tcp
            .local_addr()
            .map_err(|source| BindError::Tcp { addr, source })?;
        match UdpSocket::bind(bound) {
            Ok(udp) => return Ok((tcp, udp)),
            // Someone's UDP socket has this port: try another pair.
            Err(e) if addr.port() == 0 && e.kind() == ErrorKind::AddrInUse => {
                last = Some(BindError::Udp {
                    addr: bound,
                    source: e,
                });
            }
            Err(source) => {
                return Err(BindError::Udp {
                    addr: bound,
                    source,
                });
            }
        }
    }
    Err(last.unwrap_or(BindError::Udp {
        addr,
        source: ErrorKind::AddrInUse.into(),
    }))
}

/// [`bind_std`] for the running tokio runtime.
pub async fn bind(addr: SocketAddr) -> Result<Listeners, BindError> {
    let (tcp, udp) = bind_std(addr)?;
    let local = tcp.local_addr().unwrap_or(addr);
    Listeners::from_std(tcp, udp).map_err(|source| BindError::Tcp {
        addr: local,
        source,
    })
}

/// `Udp::SamePort` made concrete: UDP on the TCP listener's address.
pub(crate) fn same_port(tcp: &TcpListener) -> Result<UdpSocket, BindError> {
    let addr = tcp.local_addr().map_err(|source| BindError::Tcp {
        addr: SocketAddr::from(([0, 0, 0, 0], 0)),
        source,
    })?;
    UdpSocket::bind(addr).map_err(|source| BindError::Udp { addr, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn port_zero_gets_the_same_port_on_tcp_and_udp() {
        let l = bind("127.0.0.1:0".parse().expect("addr"))
            .await
            .expect("bind");
        let Udp::Bound(udp) = &l.udp else {
            panic!("no udp")
        };
        let port = l.tcp.local_addr().expect("tcp").port();
        assert_eq!(udp.local_addr().expect("udp").port(), port);
        // That UDP port is now taken: binding it again is a typed UDP error.
        let taken = SocketAddr::from(([127, 0, 0, 1], port));
        drop(l.tcp);
        let e = bind_std(taken).expect_err("udp taken");
        assert!(matches!(e, BindError::Udp { .. }), "{e}");
        assert!(e.to_string().contains("--no-webtransport"), "{e}");
    }
}
