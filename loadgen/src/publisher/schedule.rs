//! Intended send times, fixed in advance (constant or Poisson arrivals).

use crate::rng::SplitMix64;
use protocol::results::Arrival;

/// Intended send times of one publisher, as offsets from the start of publishing.
#[derive(Debug)]
pub struct Schedule {
    next: f64,
    gap: f64,
    arrival: Arrival,
    rng: SplitMix64,
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
        }
    }

    /// The next intended send time (seconds from the start).
    pub fn next_offset(&mut self) -> f64 {
        let t = self.next;
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
    fn poisson_rate_holds() {
        let mut s = Schedule::new(100.0, Arrival::Poisson, 9, 0, 1);
        let mut n = 0;
        while s.next_offset() < 100.0 {
            n += 1;
        }
        assert!((9_500..10_500).contains(&n), "{n}");
    }
}
