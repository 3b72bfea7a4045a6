//! Idle detection for push streams (SSE, WebSocket).

use std::time::Duration;

/// Timer periods a silence must last: the timer fires every quarter of the
/// timeout, so a dead stream is noticed after 1–1.25 × the timeout.
const TICKS: u32 = 4;

/// Silence detection on a push stream without a timer operation per
/// message: one timer, re-armed only when it fires, that counts the periods
/// in a row in which nothing was heard. A stream silent for the timeout
/// (`--stream-timeout`) is noticed within a quarter of it more.
#[derive(Debug)]
pub struct Silence {
    timer: std::pin::Pin<Box<tokio::time::Sleep>>,
    tick: Duration,
    heard: u64,
    seen: u64,
    quiet: u32,
}

impl Silence {
    pub fn new(timeout: Duration) -> Self {
        let tick = (timeout / TICKS).max(Duration::from_millis(1));
        Silence {
            timer: Box::pin(tokio::time::sleep(tick)),
            tick,
            heard: 0,
            seen: 0,
            quiet: 0,
        }
    }

    /// Something arrived (the cost: one increment).
    pub fn heard(&mut self) {
        self.heard = self.heard.wrapping_add(1);
    }

    /// Completes once nothing was heard for [`TICKS`] timer periods in a row.
    pub async fn expired(&mut self) {
        loop {
            self.timer.as_mut().await;
            if self.heard == self.seen {
                self.quiet += 1;
                if self.quiet >= TICKS {
                    return;
                }
            } else {
                self.seen = self.heard;
                self.quiet = 0;
            }
            self.timer
                .as_mut()
                .reset(tokio::time::Instant::now() + self.tick);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::time::Instant;

    #[tokio::test(start_paused = true)]
    async fn a_silent_stream_is_noticed_after_1_to_1_25_timeouts() {
        let timeout = Duration::from_secs(8);
        let mut silence = Silence::new(timeout);
        let started = Instant::now();
        // Heard for 10 s, every 500 ms.
        while started.elapsed() < Duration::from_secs(10) {
            tokio::select! {
                _ = silence.expired() => panic!("expired while hearing"),
                _ = tokio::time::sleep(Duration::from_millis(500)) => silence.heard(),
            }
        }
        let last_heard = Instant::now();
        silence.expired().await;
        let quiet = last_heard.elapsed();
        assert!(quiet >= timeout && quiet <= timeout * 5 / 4, "{quiet:?}");
    }
}
