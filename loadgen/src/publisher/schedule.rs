//! Intended send times, fixed in advance (constant or Poisson arrivals).

use crate::rng::SplitMix64;
use crate::stages::Staged;
use protocol::results::Arrival;
use std::sync::Arc;

/// Intended send times of one publisher, as offsets from the start of publishing.
#[derive(Debug)]
pub struct Schedule {
    next: f64,
    gap: f64,
    arrival: Arrival,
    rng: SplitMix64,
    /// A staged rate: `next` and `gap` then count messages of the whole
    /// run (every publisher's), and the plan turns them into times.
    plan: Option<Arc<Staged>>,
}

impl Schedule {
    /// `rate_per_sec` for this publisher; publishers are staggered by
    /// `index / count` of a gap so their constant schedules interleave.
    pub fn new(rate_per_sec: f64, arrival: Arrival, seed: u64, index: u32, count: u32) -> Self {
        let gap = if rate_per_sec > 0.0 {
            1.0 / rate_per_sec
        } else {
            f64::INFINITY
        };
        let mut rng = SplitMix64::derive(seed, 1, u64::from(index));
        let next = match arrival {
            Arrival::Constant => gap * f64::from(index) / f64::from(count.max(1)),
            Arrival::Poisson => rng.exp(gap),
        };
        Schedule {
            next,
            gap,
            arrival,
            rng,
            plan: None,
        }
    }

    /// Publisher `index` of `count` under a staged rate: together they
    /// publish the plan's messages, constant ones in turn.
    pub fn staged(plan: Arc<Staged>, arrival: Arrival, seed: u64, index: u32, count: u32) -> Self {
        let mut rng = SplitMix64::derive(seed, 1, u64::from(index));
        let gap = f64::from(count.max(1));
        let next = match arrival {
            Arrival::Constant => f64::from(index),
            Arrival::Poisson => rng.exp(gap),
        };
        Schedule {
            next,
            gap,
            arrival,
            rng,
            plan: Some(plan),
        }
    }

    /// The next intended send time (seconds from the start).
    pub fn next_offset(&mut self) -> f64 {
        let t = match &self.plan {
            Some(p) => p.plan.time_of(self.next),
            None => self.next,
        };
        self.next += match self.arrival {
            Arrival::Constant => self.gap,
            Arrival::Poisson => self.rng.exp(self.gap),
        };
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_schedules_interleave() {
        let mut a = Schedule::new(2.0, Arrival::Constant, 1, 0, 2);
        let mut b = Schedule::new(2.0, Arrival::Constant, 1, 1, 2);
        assert_eq!((a.next_offset(), a.next_offset()), (0.0, 0.5));
        assert_eq!((b.next_offset(), b.next_offset()), (0.25, 0.75));
    }

    #[test]
    fn staged_publishers_share_the_ramp() {
        let staged = |text: &str| {
            let text: crate::stages::Stages = text.parse().expect("stages");
            let plan = text.plan(1, 0.0);
            Arc::new(Staged { text, plan })
        };
        // 0 → 20/s over 10 s: 100 messages, two publishers taking turns.
        let plan = staged("10s:1c@20/s");
        let mut all = Vec::new();
        for i in 0..2 {
            let mut s = Schedule::staged(plan.clone(), Arrival::Constant, 1, i, 2);
            loop {
                let t = s.next_offset();
                if !t.is_finite() {
                    break;
                }
                all.push(t);
            }
        }
        assert_eq!(all.len(), 100);
        assert_eq!(all.iter().filter(|&&t| t < 5.0).count(), 25);
        let mut p = Schedule::staged(staged("100s:1c@100/s"), Arrival::Poisson, 3, 0, 1);
        let n = std::iter::from_fn(|| Some(p.next_offset()))
            .take_while(|t| t.is_finite())
            .count();
        assert!((4_700..5_300).contains(&n), "{n}");
    }

    #[test]
    fn poisson_rate_holds() {
        let mut s = Schedule::new(100.0, Arrival::Poisson, 9, 0, 1);
        let mut n = 0;
        while s.next_offset() < 100.0 {
            n += 1;
        }
        assert!((9_500..10_500).contains(&n), "{n}");
    }
}
