//! A run over the emulated network (`--network`): what the subscribers'
//! traffic costs a phone's radio, and the link's own account of the run for
//! the result file.
//!
//! Radio: each subscriber is one phone. Its byte-counting stream (see `net`)
//! tells its [`RadioMeter`] every time it sends or receives bytes; the meter
//! feeds an LTE and a UMTS [`RadioAccumulator`]. The runner reads every meter
//! at the window's start and end; the difference, averaged over the
//! subscribers, is the window's [`RadioResult`]. On loopback no meter exists
//! and the stream pays one branch.

use netem::radio::{RadioAccumulator, RadioModel, RadioUsage};
use netem::{DirectionStats, LinkStats};
use protocol::results::{LinkDirection, LinkResult, RadioFigures, RadioResult};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One subscriber's radios. The lock is the subscriber's own (its task and,
/// twice a run, the runner's snapshot): never contended on the hot path.
#[derive(Debug)]
pub struct RadioMeter {
    base: Instant,
    radios: Mutex<[RadioAccumulator; 2]>,
}

impl RadioMeter {
    /// Times count from `base`, the start of the run (the radio is idle then).
    pub fn new(base: Instant) -> Self {
        RadioMeter {
            base,
            radios: Mutex::new([
                RadioAccumulator::new(RadioModel::lte()),
                RadioAccumulator::new(RadioModel::umts()),
            ]),
        }
    }

    /// The phone sent or received bytes now.
    pub fn activity(&self) {
        let t = self.base.elapsed();
        let mut radios = self.radios.lock().unwrap_or_else(|p| p.into_inner());
        for radio in radios.iter_mut() {
            radio.on_activity(t);
        }
    }

    /// LTE and UMTS usage from the start of the run until `at`.
    fn usage_at(&self, at: Instant) -> [RadioUsage; 2] {
        let t = at.saturating_duration_since(self.base);
        let radios = self.radios.lock().unwrap_or_else(|p| p.into_inner());
        [radios[0].usage_at(t), radios[1].usage_at(t)]
    }
}

/// Radio-on seconds, joules and promotions of one model, summed over phones.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Sum {
    on_secs: f64,
    joules: f64,
    promotions: u64,
}

impl Sum {
    fn add(&mut self, u: &RadioUsage) {
        self.on_secs += u.radio_on_secs;
        self.joules += u.energy_joules;
        self.promotions += u.promotions;
    }
}

/// Every subscriber's radios at one instant, summed.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RadioSnap {
    lte: Sum,
    umts: Sum,
    phones: u64,
}

/// The sum of `meters`' usage until `at`.
pub fn radio_snapshot<'a>(meters: impl Iterator<Item = &'a RadioMeter>, at: Instant) -> RadioSnap {
    let mut snap = RadioSnap::default();
    for meter in meters {
        let [lte, umts] = meter.usage_at(at);
        snap.lte.add(&lte);
        snap.umts.add(&umts);
        snap.phones += 1;
    }
    snap
}

/// The window between two snapshots, per phone: radio-on share, and joules
/// and promotions scaled to one hour.
pub fn radio_result(start: &RadioSnap, end: &RadioSnap, window: Duration) -> Option<RadioResult> {
    let secs = window.as_secs_f64();
    if end.phones == 0 || secs <= 0.0 {
        return None;
    }
    let phones = end.phones as f64;
    let figures = |a: &Sum, b: &Sum| {
        let per_hour = 3600.0 / secs / phones;
        RadioFigures {
            radio_on_fraction: round4(((b.on_secs - a.on_secs) / secs / phones).clamp(0.0, 1.0)),
            joules_per_client_hour: round4((b.joules - a.joules).max(0.0) * per_hour),
            promotions_per_client_hour: round4(
                b.promotions.saturating_sub(a.promotions) as f64 * per_hour,
            ),
        }
    };
    Some(RadioResult {
        lte: figures(&start.lte, &end.lte),
        umts: figures(&start.umts, &end.umts),
    })
}

fn round4(x: f64) -> f64 {
    (x * 1e4).round() / 1e4
}

/// What the link did between two readings of [`netem::Link::stats`].
pub fn link_result(before: &LinkStats, after: &LinkStats) -> LinkResult {
    let direction = |a: &DirectionStats, b: &DirectionStats| {
        let packets = b.packets.saturating_sub(a.packets);
        let late = b.lateness.saturating_sub(a.lateness);
        LinkDirection {
            packets,
            bytes: b.bytes.saturating_sub(a.bytes),
            dropped_loss: b.dropped_loss.saturating_sub(a.dropped_loss),
            dropped_queue: b.dropped_queue.saturating_sub(a.dropped_queue),
            dropped_middlebox: b.dropped_middlebox.saturating_sub(a.dropped_middlebox),
            dropped_partition: b.dropped_partition.saturating_sub(a.dropped_partition),
            mean_lateness_us: if packets == 0 {
                0.0
            } else {
                (late.as_secs_f64() * 1e6 / packets as f64 * 100.0).round() / 100.0
            },
        }
    };
    let cpu = (after.up.cpu + after.down.cpu).saturating_sub(before.up.cpu + before.down.cpu);
    LinkResult {
        down: direction(&before.down, &after.down),
        up: direction(&before.up, &after.up),
        cpu_seconds: (cpu.as_secs_f64() * 1000.0).round() / 1000.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_is_the_difference_of_its_ends_per_phone_and_hour() {
        let base = Instant::now() - Duration::from_secs(100);
        let meters = [RadioMeter::new(base), RadioMeter::new(base)];
        // Nothing happened: both phones idle; the window shows no radio time.
        let start = radio_snapshot(meters.iter(), base + Duration::from_secs(10));
        let end = radio_snapshot(meters.iter(), base + Duration::from_secs(40));
        let r = radio_result(&start, &end, Duration::from_secs(30)).expect("figures");
        assert_eq!(r.lte.radio_on_fraction, 0.0);
        assert_eq!(r.lte.promotions_per_client_hour, 0.0);
        // LTE idle: paging only, 20 mW: 72 J per hour.
        assert!((r.lte.joules_per_client_hour - 72.2).abs() < 0.5, "{r:?}");
        // One phone active just after the window starts: promoted once, radio
        // on for the rest of the window; the other stays idle.
        let now = Instant::now();
        let a = radio_snapshot(meters.iter(), now);
        meters[0].activity();
        let b = radio_snapshot(meters.iter(), now + Duration::from_secs(5));
        let r = radio_result(&a, &b, Duration::from_secs(5)).expect("figures");
        assert!((r.lte.radio_on_fraction - 0.5).abs() < 0.01, "{r:?}");
        assert!(
            (r.lte.promotions_per_client_hour - 360.0).abs() < 1e-6,
            "{r:?}"
        );
        assert!((r.umts.radio_on_fraction - 0.5).abs() < 0.01, "{r:?}");
        assert_eq!(radio_result(&a, &b, Duration::ZERO), None);
    }

    #[test]
    fn link_results_are_differences_and_means() {
        let mut before = LinkStats::default();
        before.down.packets = 10;
        before.down.lateness = Duration::from_micros(100);
        let mut after = before;
        after.down.packets = 110;
        after.down.bytes = 1000;
        after.down.dropped_loss = 3;
        after.down.lateness = Duration::from_micros(300);
        after.up.cpu = Duration::from_millis(20);
        after.down.cpu = Duration::from_millis(30);
        let r = link_result(&before, &after);
        assert_eq!(
            (r.down.packets, r.down.bytes, r.down.dropped_loss),
            (100, 1000, 3)
        );
        assert_eq!(r.down.mean_lateness_us, 2.0);
        assert_eq!(r.cpu_seconds, 0.05);
        assert_eq!(r.up, LinkDirection::default());
    }
}
