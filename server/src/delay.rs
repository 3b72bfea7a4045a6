//! `--inject-latency`: a fault knob for testing clients and regression
//! gates, not a benchmark setting. Every message becomes visible (history,
//! live fan-out, polls) only after the configured delay, on every transport
//! alike, while its id and accept time are assigned at once (a publish is
//! answered immediately).
//!
//! One thread holds the delayed messages in a heap and sleeps with the OS
//! timer (tens of µs late), not tokio's 1 ms wheel: a gate test injects
//! fractions of a millisecond, so the delay itself must be that precise.

use crate::hub::{Delivery, Room};
use protocol::rng::SplitMix64;
use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

/// Delay and jitter for every message.
#[derive(Debug)]
pub struct DelayLine {
    latency: Duration,
    jitter: Duration,
    /// `--inject-latency-per-subscriber`: more delay the more live push
    /// subscribers the room has, so latency grows with load.
    per_subscriber: Duration,
    tx: mpsc::Sender<Item>,
}

/// The most delay `--inject-latency-per-subscriber` adds to one message.
pub const MAX_LOAD_DELAY: Duration = Duration::from_secs(10);

struct Item {
    due: Instant,
    id: u64,
    room: Arc<Room>,
    delivery: Arc<Delivery>,
}

impl PartialEq for Item {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl Eq for Item {}
impl PartialOrd for Item {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Item {
    /// Earliest due first (a max-heap, reversed); within a room due times
    /// never decrease, so ties keep id order.
    fn cmp(&self, o: &Self) -> Ordering {
        o.due.cmp(&self.due).then(o.id.cmp(&self.id))
    }
}

impl DelayLine {
    /// Starts the delay thread; `None` when there is nothing to inject.
    pub fn start(
        latency: Duration,
        jitter: Duration,
        per_subscriber: Duration,
    ) -> std::io::Result<Option<Arc<DelayLine>>> {
        if latency.is_zero() && jitter.is_zero() && per_subscriber.is_zero() {
            return Ok(None);
        }
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("rtbench-delay".into())
            .spawn(move || run(rx))?;
        Ok(Some(Arc::new(DelayLine {
            latency,
            jitter,
            per_subscriber,
            tx,
        })))
    }

    /// When message `id` should become visible: the delay plus a jitter
    /// derived from the id (uniform in `0..=jitter`), never before the
    /// room's previous message, so order is kept; plus the per-subscriber
    /// delay for each of the room's `subscribers`.
    pub fn due(&self, id: u64, not_before: Option<Instant>, subscribers: usize) -> Instant {
        let jitter_us = self.jitter.as_micros() as u64;
        let j = if jitter_us == 0 {
            0
        } else {
            SplitMix64::new(id).next_u64() % (jitter_us + 1)
        };
        let load = self
            .per_subscriber
            .saturating_mul(u32::try_from(subscribers).unwrap_or(u32::MAX))
            .min(MAX_LOAD_DELAY);
        let due = Instant::now() + self.latency + load + Duration::from_micros(j);
        not_before.map_or(due, |n| due.max(n))
    }

    /// Hands a reserved message to the delay thread.
    pub fn hold(&self, due: Instant, room: Arc<Room>, delivery: Arc<Delivery>) {
        let item = Item {
            due,
            id: delivery.id,
            room,
            delivery,
        };
        // The thread only stops once every sender is gone.
        let _ = self.tx.send(item);
    }
}

fn run(rx: mpsc::Receiver<Item>) {
    let mut heap: BinaryHeap<Item> = BinaryHeap::new();
    let mut open = true;
    loop {
        let now = Instant::now();
        while heap.peek().is_some_and(|i| i.due <= now) {
            if let Some(i) = heap.pop() {
                i.room.commit_delayed(i.delivery);
            }
        }
        let wait = heap.peek().map(|i| i.due.saturating_duration_since(now));
        if !open {
            match wait {
                Some(w) => std::thread::sleep(w),
                None => return,
            }
            continue;
        }
        let r = match wait {
            Some(w) => rx.recv_timeout(w),
            None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        match r {
            Ok(item) => heap.push(item),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => open = false,
        }
    }
}

/// `--inject-cost`: spends `rounds` rounds of a multiply-rotate-xor chain, on
/// the caller's thread. The chain depends on its input and its result is
/// kept (`black_box`), so the optimizer can neither drop nor fold it: a
/// known, deterministic number of instructions (a handful per round) and a
/// CPU time proportional to it. Returns the chain's value.
#[inline(never)]
pub fn spend(rounds: u64) -> u64 {
    if rounds == 0 {
        return 0;
    }
    let mut x = std::hint::black_box(rounds);
    for _ in 0..rounds {
        x = x.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17) ^ 0x5851_F42D;
    }
    std::hint::black_box(x)
}

/// How many [`spend`] rounds take `cost` of CPU on this machine now (timed
/// over ~20 ms of rounds): for `--inject-cost 2us`. A cost given as rounds
/// is exact and machine-independent; one given as time is only as precise
/// as this measurement.
pub fn rounds_for(cost: Duration) -> u64 {
    const SAMPLE: u64 = 4_000_000;
    let mut best = Duration::MAX;
    for _ in 0..3 {
        let t = Instant::now();
        spend(SAMPLE);
        best = best.min(t.elapsed());
    }
    let per_round = best.as_secs_f64() / SAMPLE as f64;
    if per_round <= 0.0 {
        return 0;
    }
    (cost.as_secs_f64() / per_round).round() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_load_delay_grows_with_subscribers_up_to_its_bound() {
        let ms = Duration::from_millis;
        let line = DelayLine::start(Duration::ZERO, Duration::ZERO, ms(2))
            .expect("thread")
            .expect("a line");
        let at = |n| {
            line.due(1, None, n)
                .saturating_duration_since(Instant::now())
        };
        assert!(at(0) < ms(1), "{:?}", at(0));
        let ten = at(10);
        assert!(ten > ms(19) && ten <= ms(20), "{ten:?}");
        assert!(at(1_000_000) <= MAX_LOAD_DELAY);
        assert!(at(1_000_000) > MAX_LOAD_DELAY - ms(100));
    }

    #[test]
    fn spend_runs_every_round() {
        // A different count gives a different chain value: the loop ran.
        assert_ne!(spend(1000), spend(1001));
        assert_eq!(spend(0), 0);
        assert!(rounds_for(Duration::from_millis(1)) > 0);
    }
}
