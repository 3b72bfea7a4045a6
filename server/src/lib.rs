//! rtbench reference chat server: one feed, every transport.
//!
//! Every room's messages reach subscribers over short polling, long
//! polling, Server-Sent Events, WebSockets, Socket.IO and WebTransport with byte-identical JSON, so a
//! comparison between transports measures the transports and nothing else.
//!
//! # Layout
//! Public (other crates use them):
//! - [`hub`]: rooms, history, live fan-out, the serialize-once [`hub::Delivery`]; presence.
//! - [`metrics`]: counters per transport, rendered for `/metrics` and `/api/stats`.
//! - [`limits`]: connection, long-poll and publish-rate limits, allowed origins.
//! - [`tls`]: certificate loading and the rustls settings (ALPN `h2`, `http/1.1`).
//! - [`transport`]: one module per transport plus the shared subscribe extractor and framing seam.
//! - [`sys`]: descriptor limit and process cost (shared code in `protocol::sys`).
//!
//! Internal:
//! - `app`: [`AppState`] and [`app`], the router of every endpoint.
//! - `listen`: [`run`]: the accept loop, `--max-connections`, shutdown.
//! - `bind`: [`bind`]: TCP and WebTransport's UDP on one port number.
//! - `connection`: one socket: TLS (or a 400 to plain HTTP), then HTTP/2 or HTTP/1.1.
//! - `config`: [`Config`], the server's settings.
//! - `auth`: `--auth-token-secret`, JWT checks on room endpoints.
//! - `broker`: scale-out on Redis: publish, fan-in, shared presence.
//! - `delay`: `--inject-latency` and `--inject-cost`, fault knobs for testing clients and gates.
//! - `publish`: HTTP publish and typing.
//! - `page`: the browser chat page, `/metrics`, `/api/stats`, `/healthz`.
//! - `net`: byte counting and stall detection at the socket.
//! - `error`: [`ApiError`] (the JSON error body) and [`Error`].
//!
//! The protocol and the design are described in `docs/architecture.md`.

mod app;
mod auth;
mod bind;
mod broker;
mod config;
mod connection;
mod delay;
mod error;
pub mod hub;
pub mod limits;
mod listen;
pub mod metrics;
mod net;
mod page;
mod publish;
pub mod sys;
pub mod tls;
pub mod transport;

pub use app::{AppState, Shared, app};
pub use bind::{BindError, Listeners, Udp, bind, bind_std};
pub use broker::BrokerError;
pub use config::Config;
pub use delay::{rounds_for, spend};
pub use error::{ApiError, Error};
pub use listen::{Started, run, start};

/// A warning on stderr, `rtbench server: …`. Unlike `eprintln!` it cannot
/// panic the server when stderr is a pipe whose reader went away.
pub(crate) fn warn(msg: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "rtbench server: {msg}");
}
