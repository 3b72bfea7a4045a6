//! A user-space network link emulator between two network namespaces (the approach of
//! Mahimahi, Netravali et al., USENIX ATC 2015), and a phone-radio energy model.
//!
//! [`Link::start`] creates two anonymous network namespaces joined by TUN devices and
//! forwarding threads that apply a [`NetworkSpec`] per direction: one-way delay and
//! jitter, random or bursty loss, a rate limit with a drop-tail queue per client
//! flow (each client is one phone on its own link), and an idle-timeout middlebox. Sockets created inside [`Link::client`] reach sockets
//! created inside [`Link::server`] only through the link. docs/network.md describes
//! the design, the spec syntax, the presets and their sources.

mod error;
mod link;
mod middlebox;
pub mod presets;
pub mod radio;
mod shaper;
mod spec;
mod sys;
mod units;

pub use error::NetemError;
pub use link::{CLIENT_ADDR, DirectionStats, Link, LinkStats, Netns, SERVER_ADDR};
pub use spec::{DirectionSpec, NetworkSpec, QueueLimit, Rate, SpecError, gilbert_elliott};

/// The range the link's addresses come from (198.18.0.0/15, RFC 2544's
/// benchmarking range): a target in it can only be the server side of a link.
pub fn in_link_range(ip: std::net::Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    a == 198 && (b & 0xfe) == 18
}

/// A direction of the link: `Up` carries client → server, `Down` server → client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    Up,
    Down,
}
