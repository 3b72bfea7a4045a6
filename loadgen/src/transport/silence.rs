//! Idle detection for push streams (SSE, WebSocket).

use super::IDLE_TIMEOUT;

/// Silence detection on a push stream without a timer operation per
/// message: one timer, re-armed only when it fires and something was heard
/// since it was armed. A dead stream is noticed after 1–2 × [`IDLE_TIMEOUT`].
#[derive(Debug)]
pub struct Silence {
    timer: std::pin::Pin<Box<tokio::time::Sleep>>,
    heard: u64,
    seen: u64,
}

impl Silence {
    pub fn new() -> Self {
        Silence {
            timer: Box::pin(tokio::time::sleep(IDLE_TIMEOUT)),
            heard: 0,
            seen: 0,
        }
    }

    /// Something arrived (the cost: one increment).
    pub fn heard(&mut self) {
        self.heard = self.heard.wrapping_add(1);
    }

    /// Completes once a whole timer period passed with nothing heard.
    pub async fn expired(&mut self) {
        loop {
            self.timer.as_mut().await;
            if self.heard == self.seen {
                return;
            }
            self.seen = self.heard;
            self.timer
                .as_mut()
                .reset(tokio::time::Instant::now() + IDLE_TIMEOUT);
        }
    }
}
