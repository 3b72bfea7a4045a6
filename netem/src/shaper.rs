//! One direction's emulation, as pure arithmetic on packet arrival times: loss,
//! then the rate limit with its drop-tail queue, then the one-way delay and jitter.
//! The forwarding thread asks [`Shaper::admit`] when each packet may leave.
//!
//! Every simulated client is one phone on its own radio link, so the rate and the
//! queue belong to each client flow (TCP or UDP 5-tuple), not to the direction as
//! a whole: each flow has its own serialization clock and queue, and the server
//! side is a data-centre uplink that limits nobody. Delay, jitter and loss apply
//! per packet. Departures of different flows are therefore not in arrival order;
//! the forwarding thread holds packets in a heap by due time.

use std::collections::HashMap;

use protocol::rng::SplitMix64;

use crate::spec::{DirectionSpec, gilbert_elliott};

const NS_PER_SEC: u128 = 1_000_000_000;

/// Bound on the flows a direction keeps state for (as the middlebox's table);
/// beyond it, packets of new flows count as queue drops.
pub(crate) const MAX_FLOWS: usize = 1 << 18;
/// The table is swept of idle flows when it reaches this size (and then at twice
/// what the sweep left), so that sweeping costs O(1) per packet on average.
const SWEEP_MIN: usize = 1024;
/// A table full of busy flows is swept again at most this often.
const FULL_SWEEP_NS: u64 = 1_000_000;

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

/// One flow's link: when it finishes sending what it has accepted so far, and
/// when its last packet leaves (a flow's packets never overtake without `reorder`).
/// A flow whose both times have passed is in the same state as a new one, so it
/// can be forgotten without changing anything.
#[derive(Debug, Clone, Copy, Default)]
struct FlowClock {
    free_at: u64,
    last_due: u64,
}

impl FlowClock {
    fn idle(&self, now: u64) -> bool {
        self.free_at <= now && self.last_due <= now
    }
}

/// The flows with state, bounded.
#[derive(Debug, Clone)]
struct FlowClocks {
    map: HashMap<u128, FlowClock>,
    capacity: usize,
    sweep_at: usize,
    next_full_sweep: u64,
}

impl FlowClocks {
    fn new(capacity: usize) -> Self {
        FlowClocks {
            map: HashMap::new(),
            capacity,
            sweep_at: SWEEP_MIN.min(capacity),
            next_full_sweep: 0,
        }
    }

    /// The flow's clock, or `None` when the table is full of busy flows.
    fn get(&mut self, now: u64, flow: u128) -> Option<&mut FlowClock> {
        if !self.map.contains_key(&flow) && self.map.len() >= self.sweep_at {
            self.sweep(now);
            if self.map.len() >= self.capacity {
                return None;
            }
        }
        Some(self.map.entry(flow).or_default())
    }

    fn sweep(&mut self, now: u64) {
        if self.map.len() >= self.capacity {
            if now < self.next_full_sweep {
                return;
            }
            self.next_full_sweep = now.saturating_add(FULL_SWEEP_NS);
        }
        self.map.retain(|_, clock| !clock.idle(now));
        self.sweep_at = (self.map.len() * 2).clamp(SWEEP_MIN.min(self.capacity), self.capacity);
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Shaper {
    delay_ns: u64,
    jitter_ns: u64,
    loss: Loss,
    /// Each flow's rate and queue limit.
    rate_bps: Option<u64>,
    queue_bytes: u64,
    reorder: bool,
    flows: FlowClocks,
    rng: SplitMix64,
}

impl Shaper {
    pub(crate) fn new(spec: &DirectionSpec, seed: u64) -> Self {
        Shaper::with_capacity(spec, seed, MAX_FLOWS)
    }

    fn with_capacity(spec: &DirectionSpec, seed: u64, flows: usize) -> Self {
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
            flows: FlowClocks::new(flows),
            rng: SplitMix64::new(seed),
        }
    }

    /// Whether packets need per-flow state: a rate to serialize at, or jittered
    /// delays that must not reorder a flow.
    fn keeps_flows(&self) -> bool {
        self.rate_bps.is_some() || (self.jitter_ns > 0 && !self.reorder)
    }

    /// Decides the fate of a `len`-byte packet of `flow` (a 5-tuple key; packets
    /// that are not TCP or UDP share one) that arrived at `now`.
    pub(crate) fn admit(&mut self, now: u64, len: usize, flow: u128) -> Verdict {
        if self.lost() {
            return Verdict::Lost;
        }
        let (delay, jitter) = (self.delay_ns, self.jitter_ns);
        let offset = (jitter > 0).then(|| self.rng.below_or_eq(jitter.saturating_mul(2)));
        let jittered = |departs: u64| {
            let due = departs.saturating_add(delay);
            match offset {
                Some(offset) => due
                    .saturating_add(offset)
                    .saturating_sub(jitter)
                    .max(departs),
                None => due,
            }
        };
        if !self.keeps_flows() {
            return Verdict::Forward(jittered(now));
        }
        let (rate, queue_bytes, reorder) = (self.rate_bps, self.queue_bytes, self.reorder);
        let Some(clock) = self.flows.get(now, flow) else {
            return Verdict::QueueFull;
        };
        let mut departs = now;
        if let Some(rate) = rate {
            let rate = u128::from(rate);
            let len = len as u128;
            // Bytes still waiting to be serialized, the one in progress included.
            let backlog_ns = u128::from(clock.free_at.saturating_sub(now));
            let backlog = backlog_ns * rate / 8 / NS_PER_SEC;
            // An empty queue always takes a packet, however small the limit.
            if backlog > 0 && backlog + len > u128::from(queue_bytes) {
                return Verdict::QueueFull;
            }
            let serialize = (len * 8 * NS_PER_SEC).div_ceil(rate);
            let serialize = u64::try_from(serialize).unwrap_or(u64::MAX);
            clock.free_at = clock.free_at.max(now).saturating_add(serialize);
            departs = clock.free_at;
        }
        let mut due = jittered(departs);
        if !reorder {
            due = due.max(clock.last_due);
            clock.last_due = due;
        }
        Verdict::Forward(due)
    }

    /// Flows the shaper keeps state for now (tests).
    #[cfg(test)]
    fn flows(&self) -> usize {
        self.flows.map.len()
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

    const A: u128 = 1;
    const B: u128 = 2;

    fn due(verdict: Verdict) -> u64 {
        match verdict {
            Verdict::Forward(due) => due,
            other => panic!("dropped: {other:?}"),
        }
    }

    #[test]
    fn a_transparent_shaper_forwards_at_arrival() {
        let mut shaper = Shaper::new(&spec("none"), 1);
        assert_eq!(shaper.admit(1234, 1500, A), Verdict::Forward(1234));
        assert_eq!(shaper.admit(1240, 60, A), Verdict::Forward(1240));
    }

    #[test]
    fn delay_is_half_the_rtt() {
        let mut shaper = Shaper::new(&spec("rtt=100ms"), 1);
        assert_eq!(due(shaper.admit(10, 100, A)), 10 + 50_000_000);
    }

    #[test]
    fn the_rate_serializes_packets_and_the_queue_drops_the_tail() {
        // 1250 bytes at 1 Mbit/s take 10 ms; the queue holds 5000 bytes.
        let mut shaper = Shaper::new(&spec("down=1mbit,queue=5000B"), 1);
        let dues: Vec<Verdict> = (0..6).map(|_| shaper.admit(0, 1250, A)).collect();
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
        assert_eq!(shaper.admit(45 * ms, 1250, A), Verdict::Forward(55 * ms));
    }

    #[test]
    fn every_flow_has_its_own_rate_and_queue() {
        // 1250 bytes at 1 Mbit/s take 10 ms; two flows at once each get the full rate.
        let mut shaper = Shaper::new(&spec("down=1mbit,queue=5000B"), 1);
        let ms = 1_000_000;
        for i in 1..=4 {
            assert_eq!(shaper.admit(0, 1250, A), Verdict::Forward(i * 10 * ms));
            assert_eq!(shaper.admit(0, 1250, B), Verdict::Forward(i * 10 * ms));
        }
        assert_eq!(shaper.admit(0, 1250, A), Verdict::QueueFull);
        assert_eq!(shaper.admit(0, 1250, B), Verdict::QueueFull);
        assert_eq!(
            shaper.admit(0, 1250, 3),
            Verdict::Forward(10 * ms),
            "a third flow is not held up"
        );
    }

    #[test]
    fn the_flow_table_forgets_idle_flows_and_is_bounded() {
        let mut shaper = Shaper::with_capacity(&spec("down=1mbit"), 1, 2048);
        let ms = 1_000_000;
        for flow in 0..2048 {
            assert!(matches!(shaper.admit(0, 1250, flow), Verdict::Forward(_)));
        }
        assert_eq!(shaper.flows(), 2048);
        assert_eq!(
            shaper.admit(ms, 1250, 5000),
            Verdict::QueueFull,
            "full of busy flows"
        );
        // Once their packets are out, the flows are forgotten and new ones fit.
        assert_eq!(shaper.admit(20 * ms, 1250, 5000), Verdict::Forward(30 * ms));
        assert_eq!(shaper.flows(), 1);
        // Without a rate or jitter there is nothing to remember.
        let mut plain = Shaper::new(&spec("rtt=10ms"), 1);
        assert_eq!(plain.admit(0, 100, A), Verdict::Forward(5 * ms));
        assert_eq!(plain.flows(), 0);
    }

    #[test]
    fn jitter_keeps_each_flow_in_order_but_not_the_direction() {
        let mut shaper = Shaper::new(&spec("rtt=20ms,jitter=10ms"), 3);
        let (mut last_a, mut last_b, mut crossed) = (0, 0, 0);
        for i in 0..10_000u64 {
            let now = i * 100_000;
            let a = due(shaper.admit(now, 100, A));
            let b = due(shaper.admit(now, 100, B));
            assert!(
                a >= last_a && b >= last_b,
                "a flow's packet overtook its predecessor"
            );
            crossed += usize::from(b < last_a || a < last_b);
            (last_a, last_b) = (a, b);
        }
        assert!(crossed > 100, "flows are independent: {crossed}");
    }

    #[test]
    fn jitter_without_reorder_never_reorders() {
        let mut shaper = Shaper::new(&spec("rtt=20ms,jitter=10ms"), 3);
        let mut last = 0;
        let mut hi = 0;
        for i in 0..10_000u64 {
            let now = i * 100_000; // one packet every 0.1 ms
            let due = due(shaper.admit(now, 100, A));
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
            .map(|i| due(shaper.admit(i * 100_000, 100, A)) - i * 100_000)
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
            .filter(|_| shaper.admit(0, 100, A) == Verdict::Lost)
            .count();
        // sd ≈ 44 packets; allow 5 sd.
        assert!((lost as i64 - 2000).abs() < 220, "{lost}");
    }

    #[test]
    fn bursty_loss_has_the_configured_rate_and_mean_burst() {
        let mut shaper = Shaper::new(&spec("loss=5%,burst=4"), 11);
        let lost: Vec<bool> = (0..400_000)
            .map(|_| shaper.admit(0, 100, A) == Verdict::Lost)
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
