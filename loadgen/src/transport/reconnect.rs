//! The life of one client: a session, and after a failure a jittered
//! backoff and a failover to the next server instance, until the run ends.

use super::{Client, End, Outcome, long_poll, short_poll, socketio, sse, webtransport, ws};
use protocol::Transport;
use std::time::Duration;

/// Run one client until the run is cancelled, reconnecting after drops.
pub async fn run_client(mut c: Client) -> Outcome {
    let mut failures = 0u32;
    loop {
        if c.cancel().is_cancelled() {
            break;
        }
        c.sessions = c.sessions.saturating_add(1);
        // Boxed: a client's task then holds only its own transport's
        // session state, not the largest of the four (~2 KiB saved per
        // client on every transport but WebSocket).
        let res = match c.shared.cfg.transport {
            Transport::ShortPoll => Box::pin(short_poll::session(&mut c)).await,
            Transport::LongPoll => Box::pin(long_poll::session(&mut c)).await,
            Transport::Sse => Box::pin(sse::session(&mut c)).await,
            Transport::Ws => Box::pin(ws::session(&mut c)).await,
            Transport::SocketIo => Box::pin(socketio::upgrade::session(&mut c)).await,
            Transport::SocketIoPolling => Box::pin(socketio::polling::session(&mut c)).await,
            Transport::WebTransport | Transport::WebTransportDatagram => {
                Box::pin(webtransport::session(&mut c)).await
            }
        };
        let was_connected = c.connected;
        c.disconnected();
        match res {
            Ok(End::Cancelled) => break,
            Ok(End::Lagged) => failures = 0,
            Err(_) if c.cancel().is_cancelled() => break,
            Err(e) => {
                c.shared.rec.error(&e);
                c.ramp_done();
                c.fail_over();
                failures = if was_connected { 1 } else { failures + 1 };
                let wait = c.backoff(failures);
                tokio::select! {
                    _ = c.cancel().cancelled() => break,
                    _ = tokio::time::sleep(wait) => {}
                }
            }
        }
    }
    c.disconnected();
    Outcome {
        room: c.room,
        tracker: c.tracker,
    }
}

impl Client {
    /// Another instance serves the same feed: move to the next one (the
    /// cursor is valid there too).
    fn fail_over(&mut self) {
        self.target = (self.target + 1) % self.shared.targets.len().max(1) as u32;
    }

    /// Backoff before reconnect attempt `n` (1-based): 100 ms doubling to 5 s,
    /// with jitter so a restarted server is not hit by every client at once.
    fn backoff(&mut self, n: u32) -> Duration {
        let base = 100u64.saturating_mul(1 << n.min(6)).min(5000);
        Duration::from_millis(base / 2 + (self.rng.next_f64() * (base / 2) as f64) as u64)
    }
}
