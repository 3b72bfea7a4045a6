//! One direction's emulation, as pure arithmetic on packet arrival times: loss,
//! then the rate limit with its drop-tail queue, then the one-way delay and jitter.
//! The forwarding thread asks [`Shaper::admit`] when each packet may leave.

use crate::spec::{DirectionSpec, gilbert_elliott};
use protocol::rng::SplitMix64;

const NS_PER_SEC: u128 = 1_000_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Write the packet out at this time (ns on the link's clock).
    Forward(u64),
    Lost,
    QueueFull,
}

#[derive(Debug, Clone)]
enum Loss {
    None,
    Random(f64),
    /// Gilbert–Elliott: every packet in the bad state is lost.
    Bursty {
        to_bad: f64,
        to_good: f64,
        bad: bool,
    },
}

#[derive(Debug, Clone)]
pub(crate) struct Shaper {
    delay_ns: u64,
    jitter_ns: u64,
    loss: Loss,
    rate_bps: Option<u64>,
    queue_bytes: u64,
    reorder: bool,
    /// When the rate stage finishes sending what it has accepted so far.
    link_free_at: u64,
    /// Departure of the previous packet (packets never overtake without `reorder`).
    last_due: u64,
    rng: SplitMix64,
}

impl Shaper {
    pub(crate) fn new(spec: &DirectionSpec, seed: u64) -> Self {
        let loss = match gilbert_elliott(spec.loss, spec.burst) {
            Some((to_bad, to_good)) => Loss::Bursty {
                to_bad,
                to_good,
                bad: false,
            },
            None if spec.loss > 0.0 => Loss::Random(spec.loss),
            None => Loss::None,
        };
        let nanos = |d: std::time::Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        Shaper {
            delay_ns: nanos(spec.delay),
            jitter_ns: nanos(spec.jitter),
            loss,
            rate_bps: spec.rate.map(|r| r.0),
            queue_bytes: spec.queue_bytes.unwrap_or(u64::MAX),
            reorder: spec.reorder,
            link_free_at: 0,
            last_due: 0,
            rng: SplitMix64::new(seed),
        }
    }

    /// Decides the fate of a `len`-byte packet that arrived at `now`.
    pub(crate) fn admit(&mut self, now: u64, len: usize) -> Verdict {
        if self.lost() {
            return Verdict::Lost;
        }
        let mut departs = now;
        if let Some(rate) = self.rate_bps {
            let rate = u128::from(rate);
            let len = len as u128;
            // Bytes still waiting to be serialized, the one in progress included.
            let backlog_ns = u128::from(self.link_free_at.saturating_sub(now));
            let backlog = backlog_ns * rate / 8 / NS_PER_SEC;
            // An empty queue always takes a packet, however small the limit.
            if backlog > 0 && backlog + len > u128::from(self.queue_bytes) {
                return Verdict::QueueFull;
            }
            let serialize = (len * 8 * NS_PER_SEC).div_ceil(rate);
            let serialize = u64::try_from(serialize).unwrap_or(u64::MAX);
            self.link_free_at = self.link_free_at.max(now).saturating_add(serialize);
            departs = self.link_free_at;
        }
        let mut due = departs.saturating_add(self.delay_ns);
        if self.jitter_ns > 0 {
            let offset = self.rng.below_or_eq(self.jitter_ns.saturating_mul(2));
            due = (due.saturating_add(offset))
                .saturating_sub(self.jitter_ns)
                .max(departs);
        }
        if !self.reorder {
            due = due.max(self.last_due);
            self.last_due = due;
        }
        Verdict::Forward(due)
    }

    fn lost(&mut self) -> bool {
        match &mut self.loss {
            Loss::None => false,
            Loss::Random(p) => {
                let p = *p;
                self.rng.chance(p)
            }
            Loss::Bursty {
                to_bad,
                to_good,
                bad,
            } => {
                let flip = if *bad { *to_good } else { *to_bad };
                if self.rng.chance(flip) {
                    *bad = !*bad;
                }
                *bad
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(text: &str) -> DirectionSpec {
        let spec: crate::NetworkSpec = text.parse().expect(text);
        spec.direction(crate::Direction::Down)
    }

    fn due(verdict: Verdict) -> u64 {
        match verdict {
            Verdict::Forward(due) => due,
            other => panic!("dropped: {other:?}"),
        }
    }

    #[test]
    fn a_transparent_shaper_forwards_at_arrival() {
        let mut shaper = Shaper::new(&spec("none"), 1);
        assert_eq!(shaper.admit(1234, 1500), Verdict::Forward(1234));
        assert_eq!(shaper.admit(1240, 60), Verdict::Forward(1240));
    }

    #[test]
    fn delay_is_half_the_rtt() {
        let mut shaper = Shaper::new(&spec("rtt=100ms"), 1);
        assert_eq!(due(shaper.admit(10, 100)), 10 + 50_000_000);
    }

    #[test]
    fn the_rate_serializes_packets_and_the_queue_drops_the_tail() {
        // 1250 bytes at 1 Mbit/s take 10 ms; the queue holds 5000 bytes.
        let mut shaper = Shaper::new(&spec("down=1mbit,queue=5000B"), 1);
        let dues: Vec<Verdict> = (0..6).map(|_| shaper.admit(0, 1250)).collect();
        let ms = 1_000_000;
        assert_eq!(
            dues,
            vec![
                Verdict::Forward(10 * ms),
                Verdict::Forward(20 * ms),
                Verdict::Forward(30 * ms),
                Verdict::Forward(40 * ms),
                Verdict::QueueFull,
                Verdict::QueueFull,
            ]
        );
        // Once the backlog drained, packets flow again, serialized from their arrival.
        assert_eq!(shaper.admit(45 * ms, 1250), Verdict::Forward(55 * ms));
    }

    #[test]
    fn jitter_without_reorder_never_reorders() {
        let mut shaper = Shaper::new(&spec("rtt=20ms,jitter=10ms"), 3);
        let mut last = 0;
        let mut hi = 0;
        for i in 0..10_000u64 {
            let now = i * 100_000; // one packet every 0.1 ms
            let due = due(shaper.admit(now, 100));
            assert!(due >= last, "packet {i} overtook its predecessor");
            assert!(due >= now && due <= now + 20_000_000);
            last = due;
            hi = hi.max(due - now);
        }
        assert!(hi > 19_000_000, "the jitter reaches its top: {hi}");
    }

    #[test]
    fn jitter_with_reorder_spreads_delays_over_the_whole_range() {
        let mut shaper = Shaper::new(&spec("rtt=20ms,jitter=10ms,reorder"), 3);
        let delays: Vec<u64> = (0..10_000u64)
            .map(|i| due(shaper.admit(i * 100_000, 100)) - i * 100_000)
            .collect();
        let overtakes = (1..10_000usize)
            .filter(|i| {
                delays[*i] + (*i as u64) * 100_000 < delays[i - 1] + (*i as u64 - 1) * 100_000
            })
            .count();
        assert!(overtakes > 1000, "{overtakes}");
        let mean = delays.iter().sum::<u64>() as f64 / delays.len() as f64;
        assert!((mean - 10e6).abs() < 0.2e6, "mean one-way delay {mean}");
        assert!(delays.iter().all(|d| *d <= 20_000_000));
    }

    #[test]
    fn random_loss_matches_its_rate() {
        let mut shaper = Shaper::new(&spec("loss=2%"), 9);
        let lost = (0..100_000)
            .filter(|_| shaper.admit(0, 100) == Verdict::Lost)
            .count();
        // sd ≈ 44 packets; allow 5 sd.
        assert!((lost as i64 - 2000).abs() < 220, "{lost}");
    }

    #[test]
    fn bursty_loss_has_the_configured_rate_and_mean_burst() {
        let mut shaper = Shaper::new(&spec("loss=5%,burst=4"), 11);
        let lost: Vec<bool> = (0..400_000)
            .map(|_| shaper.admit(0, 100) == Verdict::Lost)
            .collect();
        let total = lost.iter().filter(|l| **l).count() as f64;
        let bursts = lost.windows(2).filter(|w| w[1] && !w[0]).count() as f64;
        assert!(
            (total / 400_000.0 - 0.05).abs() < 0.005,
            "loss {}",
            total / 400_000.0
        );
        assert!(
            (total / bursts - 4.0).abs() < 0.2,
            "mean burst {}",
            total / bursts
        );
    }
}
