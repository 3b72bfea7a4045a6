use super::*;

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

fn close(actual: f64, expected: f64) {
    assert!((actual - expected).abs() < 1e-6, "{actual} != {expected}");
}

// The LTE figures of Huang et al. written out by hand (W and s), independent of the model's code.
const LTE_PROMO: (f64, f64) = (0.2601, 1.2107);
const LTE_CR: (f64, f64) = (0.100, 1.28804);
const LTE_SHORT_W: f64 = (1.6802 * 1.0 + 1.060 * 19.0) / 20.0;
const LTE_LONG_W: f64 = (1.6801 * 1.0 + 1.060 * 39.0) / 40.0;
const LTE_IDLE_W: f64 = 0.5943 * 43.2 / 1280.2;
const LTE_TAIL: f64 = 11.576;

/// Energy of one full LTE tail after data, by hand.
fn lte_full_tail_joules() -> f64 {
    LTE_CR.0 * LTE_CR.1 + 0.020 * LTE_SHORT_W + (LTE_TAIL - 0.120) * LTE_LONG_W
}

#[test]
fn lte_one_packet_every_20s_pays_a_promotion_and_a_full_tail_each_time() {
    let mut radio = RadioAccumulator::new(RadioModel::lte());
    for t in [0.0, 20.0, 40.0] {
        radio.on_activity(secs(t));
    }
    let usage = radio.finish(secs(60.0));
    assert_eq!(usage.promotions, 3);
    close(usage.radio_on_secs, 3.0 * (LTE_PROMO.0 + LTE_TAIL));
    close(usage.secs_in(RadioState::Promotion), 3.0 * LTE_PROMO.0);
    close(usage.secs_in(RadioState::Connected), 3.0 * LTE_CR.0);
    close(usage.secs_in(RadioState::ShortDrx), 3.0 * 0.020);
    let idle = 60.0 - 3.0 * (LTE_PROMO.0 + LTE_TAIL);
    close(usage.secs_in(RadioState::Idle), idle);
    let expected = 3.0 * (LTE_PROMO.0 * LTE_PROMO.1 + lte_full_tail_joules()) + idle * LTE_IDLE_W;
    close(usage.energy_joules, expected);
}

#[test]
fn lte_packets_1s_apart_keep_the_radio_connected() {
    let mut radio = RadioAccumulator::new(RadioModel::lte());
    for i in 0..=30 {
        radio.on_activity(secs(f64::from(i)));
    }
    let usage = radio.finish(secs(50.0));
    assert_eq!(usage.promotions, 1);
    // On from 0 until the tail after the last packet (30 s) runs out.
    close(usage.radio_on_secs, 30.0 + LTE_TAIL);
    close(usage.secs_in(RadioState::Idle), 50.0 - 30.0 - LTE_TAIL);
    // Every gap restarts the timers: 31 continuous-reception periods.
    close(usage.secs_in(RadioState::Connected), 31.0 * LTE_CR.0);
    // Long DRX: 0.6199 s in the first gap (after the promotion), 0.88 s in 29 others,
    // and the last tail's.
    close(
        usage.secs_in(RadioState::LongDrx),
        (1.0 - LTE_PROMO.0 - 0.12) + 29.0 * 0.88 + (LTE_TAIL - 0.12),
    );
}

#[test]
fn lte_activity_during_a_promotion_is_carried_after_it() {
    let mut radio = RadioAccumulator::new(RadioModel::lte());
    radio.on_activity(secs(0.0));
    radio.on_activity(secs(0.1));
    let usage = radio.finish(secs(LTE_PROMO.0 + LTE_TAIL + 1.0));
    assert_eq!(usage.promotions, 1);
    close(usage.radio_on_secs, LTE_PROMO.0 + LTE_TAIL);
}

#[test]
fn umts_tail_is_dch_then_fach_then_idle() {
    let mut radio = RadioAccumulator::new(RadioModel::umts());
    radio.on_activity(secs(0.0));
    let usage = radio.finish(secs(30.0));
    assert_eq!(usage.promotions, 1);
    close(usage.secs_in(RadioState::Promotion), 2.0);
    close(usage.secs_in(RadioState::Connected), 5.0);
    close(usage.secs_in(RadioState::Fach), 12.0);
    close(usage.secs_in(RadioState::Idle), 11.0);
    close(usage.radio_on_secs, 19.0);
    close(usage.energy_joules, 2.0 * 0.53 + 5.0 * 0.7 + 12.0 * 0.35);
}

#[test]
fn umts_data_in_fach_pays_the_shorter_promotion() {
    let mut radio = RadioAccumulator::new(RadioModel::umts());
    radio.on_activity(secs(0.0)); // promotion until 2 s, DCH until 7 s, FACH until 19 s
    radio.on_activity(secs(10.0)); // in FACH: 1.5 s promotion, then DCH 5 s, FACH 12 s
    let usage = radio.finish(secs(40.0));
    assert_eq!(usage.promotions, 2);
    close(usage.secs_in(RadioState::Promotion), 3.5);
    close(usage.secs_in(RadioState::Connected), 10.0);
    close(usage.secs_in(RadioState::Fach), 3.0 + 12.0);
    close(usage.secs_in(RadioState::Idle), 40.0 - 28.5);
    let expected = 2.0 * 0.53 + 1.5 * 0.55 + 10.0 * 0.7 + 15.0 * 0.35;
    close(usage.energy_joules, expected);
}

#[test]
fn energy_is_the_sum_of_power_times_time_per_state() {
    let mut radio = RadioAccumulator::new(RadioModel::lte());
    for t in [0.5, 3.0, 3.2, 25.0, 26.0] {
        radio.on_activity(secs(t));
    }
    let usage = radio.finish(secs(60.0));
    let per_state: f64 = STATES.iter().map(|s| usage.joules_in(*s)).sum();
    close(per_state, usage.energy_joules);
    let total: f64 = STATES.iter().map(|s| usage.secs_in(*s)).sum();
    close(total, 60.0);
    close(usage.radio_on_secs, 60.0 - usage.secs_in(RadioState::Idle));
}

#[test]
fn a_silent_device_only_pays_idle_paging() {
    let usage = RadioAccumulator::new(RadioModel::lte()).finish(secs(100.0));
    assert_eq!(usage.promotions, 0);
    close(usage.radio_on_secs, 0.0);
    close(usage.energy_joules, 100.0 * LTE_IDLE_W);
}

#[test]
fn usage_at_is_finish_without_consuming() {
    for model in [RadioModel::lte(), RadioModel::umts()] {
        let mut radio = RadioAccumulator::new(model);
        // Activities as they happen; the window's ends are read at 10 s and 40 s.
        for t in [1.0, 3.0] {
            radio.on_activity(secs(t));
        }
        let start = radio.usage_at(secs(10.0));
        assert_eq!(start, radio.clone().finish(secs(10.0)));
        for t in [30.0, 31.5] {
            radio.on_activity(secs(t));
        }
        let end = radio.usage_at(secs(40.0));
        assert_eq!(end, radio.clone().finish(secs(40.0)));
        // A window's usage is the difference of its ends'.
        assert!(end.energy_joules > start.energy_joules);
        assert!(end.radio_on_secs > start.radio_on_secs);
        assert_eq!(end.promotions - start.promotions, 1, "the one at 30 s");
    }
}

#[test]
fn a_promotion_is_accounted_as_it_passes() {
    // A window that starts during a promotion gets only the rest of it.
    let mut radio = RadioAccumulator::new(RadioModel::umts());
    radio.on_activity(secs(0.0));
    let early = radio.usage_at(secs(0.5));
    close(early.secs_in(RadioState::Promotion), 0.5);
    close(early.radio_on_secs, 0.5);
    let later = radio.usage_at(secs(3.0));
    close(later.radio_on_secs - early.radio_on_secs, 2.5);
    close(later.secs_in(RadioState::Promotion), 2.0);
    close(later.secs_in(RadioState::Connected), 1.0);
}
