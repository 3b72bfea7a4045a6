//! The workspace's test kit: one harness for every test crate, so that the
//! server's, the load generator's and the binary's tests start servers,
//! subscribe and read streams the same way.
//!
//! - [`TestServer`]: the reference server in this process on `127.0.0.1:0`.
//! - [`Subscriber`]: one client for every transport, reading streams with
//!   the load generator's own parsers ([`loadgen::wire`]), so a test sees
//!   what a load run would see.
//! - [`per_transport!`] and [`per_push_transport!`]: one test per
//!   transport of [`Transport::ALL`], named after it.
//! - [`load`]: small load-run configurations, bounded runs (also in the
//!   background while a test breaks something) and result-file checks.
//! - [`child`]: the `rtbench` binary as a child process ([`rtbench!`]:
//!   commands, scratch dirs, and a child server announced by its
//!   [`protocol::Listening`] line).
//! - [`net`]: runs across an emulated link (netem) with the server on
//!   its far side.
//! - [`browser`]: the node + headless Chromium runner of the browser tests.
//!
//! Everything here panics with a message instead of returning errors: it
//! only ever runs inside tests.

pub mod browser;
pub mod child;
pub mod load;
pub mod net;
mod server;
mod subscriber;
mod transports;

pub use protocol::Transport;
pub use server::{TestServer, free_port, metric, serve_router, ws_connect};
pub use subscriber::wt::{Lines, digest, ended, wt_client, wt_connect};
pub use subscriber::{End, Got, SubOpts, Subscriber, texts};
pub use transports::{EXPANDED, EXPANDED_PUSH};

use std::path::PathBuf;
use std::time::Duration;

/// Generous bound for anything that should happen "now" on loopback.
pub const SOON: Duration = Duration::from_secs(5);

/// Writes `text` to a file `name` in a fresh directory of this process
/// (`$TMPDIR/PREFIX-PID-NAME/NAME`).
pub fn temp_file(prefix: &str, name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "{prefix}-{}-{}",
        std::process::id(),
        name.replace('.', "-")
    ));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path
}
