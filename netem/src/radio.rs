//! Phone-radio energy: how long a device's cellular radio stays powered, and how much
//! energy it draws, given only the times at which the device sent or received data.
//!
//! The radio follows its network's RRC state machine: data in a low-power state
//! first pays a *promotion* (delay and power), and after the last data the radio
//! stays in high-power states until inactivity timers run out (the *tail*). A push
//! transport that sends a byte every 20 s therefore keeps an LTE radio on for more
//! than half the time, which is what this model lets rtbench compare.
//!
//! Two models, with their published parameters (docs/network.md has the tables):
//! - [`RadioModel::lte`]: Huang et al., "A Close Examination of Performance and
//!   Power Characteristics of 4G LTE Networks", MobiSys 2012 (AT&T LTE, Tables 3–4).
//! - [`RadioModel::umts`]: Qian et al., "Characterizing Radio Resource Allocation
//!   for 3G Networks", IMC 2010 (the carrier's inferred timers and promotion delays),
//!   with the state powers of AT&T's Application Resource Optimizer 3G profile,
//!   built by the same AT&T Labs group on that study.
//!
//! Simplifications: every activity is treated as needing the full-power state (the
//! accumulator sees no sizes, so UMTS's small transfers in FACH are not modelled);
//! the power during data is the zero-throughput base (no per-Mbit/s term); periodic
//! DRX wake-ups are averaged over their cycle; idle sleep between paging wake-ups
//! counts as 0 mW, i.e. energies are above the phone's screen-off base.

use std::time::Duration;

/// The states an accumulator keeps time in. Each model uses some of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RadioState {
    /// Moving from a low-power state to the full-power one.
    Promotion,
    /// Full power: LTE continuous reception, UMTS CELL_DCH.
    Connected,
    /// LTE RRC_CONNECTED, short DRX cycles.
    ShortDrx,
    /// LTE RRC_CONNECTED, long DRX cycles.
    LongDrx,
    /// UMTS CELL_FACH.
    Fach,
    /// RRC_IDLE: only paging wake-ups.
    Idle,
}

const STATES: [RadioState; 6] = [
    RadioState::Promotion,
    RadioState::Connected,
    RadioState::ShortDrx,
    RadioState::LongDrx,
    RadioState::Fach,
    RadioState::Idle,
];

fn index(state: RadioState) -> usize {
    STATES.iter().position(|s| *s == state).unwrap_or(0)
}

/// What data arriving in a state costs before it can be carried.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Promotion {
    pub delay: Duration,
    pub power_mw: f64,
}

/// One stage of the tail after the last activity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Phase {
    pub state: RadioState,
    /// How long the stage lasts; `None` for the last one (until the next activity).
    pub duration: Option<Duration>,
    /// Average power over the stage.
    pub power_mw: f64,
    /// `None` when data in this stage is carried at once.
    pub promotion: Option<Promotion>,
}

/// An RRC state machine seen from the device: the stages after each activity.
#[derive(Debug, Clone, PartialEq)]
pub struct RadioModel {
    pub name: &'static str,
    pub phases: Vec<Phase>,
}

fn ms(value: f64) -> Duration {
    Duration::from_secs_f64(value / 1000.0)
}

/// Average power of a DRX cycle: `on_ms` at `on_mw`, the rest of `period_ms` at `base_mw`.
fn drx_average(on_mw: f64, on_ms: f64, base_mw: f64, period_ms: f64) -> f64 {
    (on_mw * on_ms + base_mw * (period_ms - on_ms)) / period_ms
}

impl RadioModel {
    /// LTE, Huang et al. MobiSys 2012: promotion 260.1 ms at 1210.7 mW; after data,
    /// continuous reception for the 100 ms DRX inactivity timer at β = 1288.04 mW,
    /// 20 ms of short DRX (1 ms on at 1680.2 mW every 20 ms, 1060.0 mW tail base
    /// between), then long DRX (1 ms on at 1680.1 mW every 40 ms) until the 11.576 s
    /// tail timer ends; idle DRX wakes 43.2 ms at 594.3 mW every 1280.2 ms.
    pub fn lte() -> Self {
        const TAIL_BASE_MW: f64 = 1060.0;
        const T_INACTIVITY_MS: f64 = 100.0;
        const T_SHORT_DRX_MS: f64 = 20.0;
        const T_TAIL_MS: f64 = 11_576.0;
        RadioModel {
            name: "lte",
            phases: vec![
                Phase {
                    state: RadioState::Connected,
                    duration: Some(ms(T_INACTIVITY_MS)),
                    power_mw: 1288.04,
                    promotion: None,
                },
                Phase {
                    state: RadioState::ShortDrx,
                    duration: Some(ms(T_SHORT_DRX_MS)),
                    power_mw: drx_average(1680.2, 1.0, TAIL_BASE_MW, 20.0),
                    promotion: None,
                },
                Phase {
                    state: RadioState::LongDrx,
                    duration: Some(ms(T_TAIL_MS - T_INACTIVITY_MS - T_SHORT_DRX_MS)),
                    power_mw: drx_average(1680.1, 1.0, TAIL_BASE_MW, 40.0),
                    promotion: None,
                },
                Phase {
                    state: RadioState::Idle,
                    duration: None,
                    power_mw: drx_average(594.3, 43.2, 0.0, 1280.2),
                    promotion: Some(Promotion {
                        delay: ms(260.1),
                        power_mw: 1210.7,
                    }),
                },
            ],
        }
    }

    /// UMTS, Qian et al. IMC 2010: DCH tail 5 s, FACH tail 12 s, promotion
    /// IDLE→DCH 2 s and FACH→DCH 1.5 s; powers DCH 700 mW, FACH 350 mW, idle 0,
    /// promotions 530 mW (from IDLE) and 550 mW (from FACH).
    pub fn umts() -> Self {
        RadioModel {
            name: "umts",
            phases: vec![
                Phase {
                    state: RadioState::Connected,
                    duration: Some(Duration::from_secs(5)),
                    power_mw: 700.0,
                    promotion: None,
                },
                Phase {
                    state: RadioState::Fach,
                    duration: Some(Duration::from_secs(12)),
                    power_mw: 350.0,
                    promotion: Some(Promotion {
                        delay: Duration::from_millis(1500),
                        power_mw: 550.0,
                    }),
                },
                Phase {
                    state: RadioState::Idle,
                    duration: None,
                    power_mw: 0.0,
                    promotion: Some(Promotion {
                        delay: Duration::from_secs(2),
                        power_mw: 530.0,
                    }),
                },
            ],
        }
    }
}

/// Time and energy of one device over a run.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RadioUsage {
    /// Everything but idle: promotions and the full- and reduced-power states.
    pub radio_on_secs: f64,
    pub energy_joules: f64,
    pub promotions: u64,
    secs: [f64; 6],
    joules: [f64; 6],
}

impl RadioUsage {
    pub fn secs_in(&self, state: RadioState) -> f64 {
        self.secs[index(state)]
    }

    pub fn joules_in(&self, state: RadioState) -> f64 {
        self.joules[index(state)]
    }

    fn add(&mut self, state: RadioState, duration: Duration, power_mw: f64) {
        let secs = duration.as_secs_f64();
        let joules = secs * power_mw / 1000.0;
        self.secs[index(state)] += secs;
        self.joules[index(state)] += joules;
        self.energy_joules += joules;
        if state != RadioState::Idle {
            self.radio_on_secs += secs;
        }
    }
}

/// Online accumulator for one device. Times are offsets from the start of the run
/// (the device is idle at zero); activity times should not go backwards (earlier
/// ones count as happening at the latest time already accounted). Time is
/// accounted as it passes, promotions included, so the usage read at any moment
/// ([`Self::usage_at`]) covers exactly the time until then.
#[derive(Debug, Clone)]
pub struct RadioAccumulator {
    model: RadioModel,
    /// When the timers of the current tail started (end of the last activity,
    /// or of the promotion it caused).
    tail_start: Option<Duration>,
    /// The latest promotion: its start and what it costs; it lasts until `tail_start`.
    promotion: Option<(Duration, Promotion)>,
    /// Energy is accounted up to here.
    accounted: Duration,
    usage: RadioUsage,
}

impl RadioAccumulator {
    pub fn new(model: RadioModel) -> Self {
        RadioAccumulator {
            model,
            tail_start: None,
            promotion: None,
            accounted: Duration::ZERO,
            usage: RadioUsage::default(),
        }
    }

    /// The device sent or received data at `t`.
    pub fn on_activity(&mut self, t: Duration) {
        let t = t.max(self.accounted);
        self.account_until(t);
        if self.tail_start.is_some_and(|start| t < start) {
            // During a promotion: carried once it ends, when the tail starts anyway.
            return;
        }
        match self.phase_at(t).promotion {
            None => self.tail_start = Some(t),
            Some(promotion) => {
                self.usage.promotions += 1;
                self.promotion = Some((t, promotion));
                self.tail_start = Some(t + promotion.delay);
            }
        }
    }

    /// Closes the run at `t_end` (a promotion in progress counts until then).
    pub fn finish(mut self, t_end: Duration) -> RadioUsage {
        self.account_until(t_end);
        self.usage
    }

    /// What [`Self::finish`] would return at `t`, leaving the accumulator as it
    /// is: the usage of a window is the difference of the usages at its ends.
    pub fn usage_at(&self, t: Duration) -> RadioUsage {
        let mut usage = self.usage.clone();
        self.account(self.accounted, t, &mut usage);
        usage
    }

    fn phase_at(&self, t: Duration) -> Phase {
        let last = self.last_phase();
        let Some(start) = self.tail_start else {
            return last;
        };
        let mut end = start;
        for phase in &self.model.phases {
            match phase.duration {
                Some(duration) => end += duration,
                None => return *phase,
            }
            if t < end {
                return *phase;
            }
        }
        last
    }

    fn last_phase(&self) -> Phase {
        let idle = Phase {
            state: RadioState::Idle,
            duration: None,
            power_mw: 0.0,
            promotion: None,
        };
        self.model.phases.last().copied().unwrap_or(idle)
    }

    /// Adds each stage's share of `[accounted, to)`.
    fn account_until(&mut self, to: Duration) {
        if to <= self.accounted {
            return;
        }
        let mut usage = std::mem::take(&mut self.usage);
        self.account(self.accounted, to, &mut usage);
        self.usage = usage;
        self.accounted = to;
    }

    /// Adds to `usage` each stage's share of `[from, to)` under the current
    /// state: the latest promotion's part, then the tail's stages (none yet:
    /// idle all along).
    fn account(&self, from: Duration, to: Duration, usage: &mut RadioUsage) {
        if to <= from {
            return;
        }
        let Some(mut start) = self.tail_start else {
            let idle = self.last_phase();
            usage.add(idle.state, to - from, idle.power_mw);
            return;
        };
        if let Some((promoted, promotion)) = self.promotion {
            let overlap = start.min(to).saturating_sub(promoted.max(from));
            if !overlap.is_zero() {
                usage.add(RadioState::Promotion, overlap, promotion.power_mw);
            }
        }
        let from = from.max(start);
        for phase in &self.model.phases {
            let end = phase
                .duration
                .map_or(Duration::MAX, |d| start.saturating_add(d));
            let overlap = end.min(to).saturating_sub(start.max(from));
            if !overlap.is_zero() {
                usage.add(phase.state, overlap, phase.power_mw);
            }
            if end >= to {
                break;
            }
            start = end;
        }
    }
}

#[cfg(test)]
#[path = "radio_tests.rs"]
mod tests;
