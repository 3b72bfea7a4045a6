//! Simulated subscribing clients: one module per transport behind one small
//! interface, so pacing, recording and transport stay separate axes.
//!
//! The interface is [`Client`]: a transport module exports
//! `async fn session(&mut Client) -> Result<End, ClientError>` that opens one
//! connection (via [`Client::dial`]), subscribes at [`Client::url`] with
//! [`Client::cursor_headers`], reports what arrives through
//! [`Client::take_unit`] and [`Client::request`], and returns when the
//! connection ends. What the server's answers look like comes from the
//! target profile ([`crate::profile`]), the same for every server.
//! [`run_client`] owns everything else: reconnecting with backoff, counting
//! errors and reconnects, and handing the coherence record back at the end.
//!
//! Beside the transports: `shared` (what every client of a run shares, one
//! [`Endpoint`] per server instance), `client` (one client's state and
//! connection bookkeeping), `cursor` (resume points and the subscribe URL),
//! `measure` (what an answer records), `reconnect` (backoff and failover)
//! and `token` (each client's token). `socketio` holds both Socket.IO
//! transports (its own module docs say how they use the wire).

mod client;
mod cursor;
pub mod long_poll;
mod measure;
mod poll;
mod reconnect;
mod shared;
pub mod short_poll;
mod silence;
pub mod socketio;
pub mod sse;
mod token;
pub mod webtransport;
pub mod ws;

pub use client::{Client, Outcome};
pub use reconnect::run_client;
pub use shared::{Endpoint, RampGate, Shared};
pub use silence::Silence;

use crate::error::{ClientError, ErrorKind};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How a session ended without an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// The run is over.
    Cancelled,
    /// The server dropped us for falling behind; resume at once.
    Lagged,
}

/// Longest wait for a poll or publish answer beyond what was asked for.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Await `fut` unless the run is cancelled or `limit` passes.
pub async fn bounded<T>(
    cancel: &CancellationToken,
    limit: Duration,
    what: &'static str,
    fut: impl Future<Output = Result<T, ClientError>>,
) -> Result<Option<T>, ClientError> {
    tokio::select! {
        _ = cancel.cancelled() => Ok(None),
        r = tokio::time::timeout(limit, fut) => match r {
            Ok(v) => v.map(Some),
            Err(_) => Err(ClientError::new(ErrorKind::Timeout, what)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::record::Recorder;
    use protocol::Transport;
    use std::sync::Arc;

    /// Memory per client is the scale limit: each client's task must hold
    /// only its own (boxed) session, never the largest of the four.
    #[test]
    fn client_task_stays_small() {
        fn size<F: Future>(_: &F) -> usize {
            std::mem::size_of::<F>()
        }
        let cfg = Config::new("http://127.0.0.1:1", Transport::Ws).expect("cfg");
        let shared = Arc::new(Shared {
            targets: Endpoint::all(&cfg, Duration::from_secs(1)).expect("endpoints"),
            publisher_targets: None,
            cfg,
            rec: Arc::new(Recorder::new(crate::record::Clock::new())),
            rooms: vec!["r".into()],
            run_tag: 1,
            ramp: RampGate::default(),
            cancel: CancellationToken::new(),
        });
        let task = size(&run_client(Client::new(1, 0, shared.clone())));
        assert!(task <= 1024, "run_client future is {task} bytes");
        let mut c = Client::new(0, 0, shared);
        let short = size(&short_poll::session(&mut c));
        let long = size(&long_poll::session(&mut c));
        let sse = size(&sse::session(&mut c));
        let ws = size(&ws::session(&mut c));
        let sio = size(&socketio::upgrade::session(&mut c));
        let sio_polling = size(&socketio::polling::session(&mut c));
        let wt = size(&webtransport::session(&mut c));
        let sizes = [
            ("short-poll", short),
            ("long-poll", long),
            ("sse", sse),
            ("ws", ws),
            ("socketio", sio),
            ("socketio-polling", sio_polling),
            ("webtransport", wt),
        ];
        for (name, n) in sizes {
            assert!(n <= 6 * 1024, "{name} session future is {n} bytes");
        }
    }
}
