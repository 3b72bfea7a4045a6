//! Socket.IO v4 clients (Engine.IO 4, Socket.IO 5; docs/socketio.md),
//! spoken with `protocol::socketio`'s codec over the load generator's
//! counting streams, not through a Socket.IO client crate: wire bytes must
//! be counted at the socket like every other transport's, and a client's
//! memory must stay a few KiB (no task, queue or timer set per socket).
//!
//! - `socketio` ([`upgrade::session`]): what the official client does by
//!   default. An Engine.IO polling handshake (`GET {path}?EIO=4&
//!   transport=polling&…`, counted as a handshake), CONNECT (`40` with the
//!   profile's auth) by POST, then a WebSocket upgrade (`2probe`, `3probe`,
//!   `5`, counted as an upgrade); the polling connection is closed once
//!   the WebSocket carries the session.
//! - `socketio-polling` ([`polling::session`]): Engine.IO long polling only:
//!   a held GET for what the server sends, a POST for what the client
//!   sends (CONNECT, pongs, emits). Each GET counts as a request.
//!
//! Both answer the server's pings (`2` with `3`), give up on a server
//! silent for longer than its `pingInterval + pingTimeout`, resume with
//! the profile's cursor rules after a drop, and treat a closed session
//! (`1`, `41`, a WebSocket close, `400` for an unknown sid) as a drop.

mod engine;
pub mod polling;
mod state;
pub mod upgrade;

pub use engine::{Polling, handshake, poll, post, send, upgrade as ws_upgrade};
pub use state::{State, connect_text, event_text};

use super::{Client, Shared};
use crate::error::{ClientError, ErrorKind};
use crate::profile::SocketIo;
use hyper::header::HeaderName;

/// The profile's `[socketio]` section (checked by `Config::validate`).
pub fn section(shared: &Shared) -> Result<&SocketIo, ClientError> {
    shared
        .cfg
        .profile
        .socketio
        .as_ref()
        .ok_or_else(|| ClientError::new(ErrorKind::Protocol, "the profile has no [socketio]"))
}

/// The handshake URL of this client (cursors included) and its headers.
pub fn handshake_request(c: &Client) -> (String, Vec<(HeaderName, String)>) {
    let (url, mut headers) = super::poll::base(c);
    headers.extend(c.cursor_headers().map(|(k, v)| (k.clone(), v.to_string())));
    (c.url(&url), headers)
}

/// Count one Engine.IO handshake request or upgrade (for the result file).
pub fn count(c: &Client, upgrade: bool) {
    let mut s = c.shared.rec.shard();
    if upgrade {
        s.sio_upgrades += 1;
    } else {
        s.sio_handshakes += 1;
    }
}
