//! The network spec: `rtt=80ms,jitter=10ms,loss=1%,down=12mbit,up=5mbit`, a preset
//! name, or a preset with overrides (`lte,loss=2%`).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::Direction;
use crate::presets;
use crate::units::{self, DURATION_FORMS, PERCENT_FORMS, RATE_FORMS};

/// A link rate in bits per second (IP packet bytes × 8; no link-layer framing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate(pub u64);

/// The drop-tail limit of a direction's queue behind its rate limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueLimit {
    Bytes(u64),
    /// This long at the direction's rate.
    Time(Duration),
}

impl QueueLimit {
    pub fn bytes_at(self, rate: Rate) -> u64 {
        match self {
            QueueLimit::Bytes(bytes) => bytes,
            QueueLimit::Time(time) => {
                let bytes = time.as_nanos() * u128::from(rate.0) / 8 / 1_000_000_000;
                u64::try_from(bytes).unwrap_or(u64::MAX)
            }
        }
    }
}

/// What the link does to the traffic, in both directions. `up` is client → server,
/// `down` is server → client.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NetworkSpec {
    preset: Option<&'static str>,
    /// Round-trip time, split evenly into the two one-way delays.
    pub rtt: Duration,
    /// Per direction: each packet's one-way delay is drawn uniformly from
    /// `[delay - jitter, delay + jitter]` (never below zero).
    pub jitter: Duration,
    /// Random loss per direction, in percent.
    pub loss_percent: f64,
    /// Mean loss-burst length in packets (Gilbert–Elliott); the long-run loss rate
    /// stays `loss_percent`.
    pub burst: Option<f64>,
    pub down: Option<Rate>,
    pub up: Option<Rate>,
    /// Drop-tail limit of the queue behind each direction's rate; see [`Self::queue_bytes`].
    pub queue: Option<QueueLimit>,
    /// Middlebox: flows idle longer than this are forgotten and their packets dropped.
    pub idle_timeout: Option<Duration>,
    /// Let jitter reorder packets (off: a packet never leaves before its predecessor).
    pub reorder: bool,
}

/// The parameters one direction of the link applies.
#[derive(Debug, Clone, PartialEq)]
pub struct DirectionSpec {
    pub delay: Duration,
    pub jitter: Duration,
    /// Long-run loss probability, 0..1.
    pub loss: f64,
    pub burst: Option<f64>,
    pub rate: Option<Rate>,
    pub queue_bytes: Option<u64>,
    pub reorder: bool,
}

/// Why a spec was refused. Messages name the key and the accepted forms.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SpecError {
    #[error("empty network spec: give a preset ({presets}) or keys like `rtt=80ms,loss=1%`")]
    Empty { presets: String },
    #[error("unknown network preset `{name}`: the presets are {presets}")]
    UnknownPreset { name: String, presets: String },
    #[error("preset `{name}` must come first, before any key=value")]
    PresetNotFirst { name: String },
    #[error("unknown key `{key}` in network spec: the keys are {KEYS}")]
    UnknownKey { key: String },
    #[error("`{key}` given twice")]
    Duplicate { key: &'static str },
    #[error("`{key}={value}`: expected {expected}")]
    BadValue {
        key: &'static str,
        value: String,
        expected: String,
    },
    #[error("{0}")]
    Inconsistent(&'static str),
}

const KEYS: &str = "rtt, jitter, loss, burst, down, up, queue, idle-timeout, reorder";

impl NetworkSpec {
    /// The preset this spec started from, if any.
    pub fn preset(&self) -> Option<&'static str> {
        self.preset
    }

    /// True when the link forwards everything at once, untouched.
    pub fn is_transparent(&self) -> bool {
        let bare = NetworkSpec {
            preset: None,
            ..self.clone()
        };
        bare == NetworkSpec::default()
    }

    /// The queue limit in bytes for a direction with `rate`. Default: the larger of
    /// 100 ms and one RTT at the rate, so a single TCP flow can fill the link.
    pub fn queue_bytes(&self, rate: Rate) -> u64 {
        let limit = self
            .queue
            .unwrap_or_else(|| QueueLimit::Time(self.rtt.max(Duration::from_millis(100))));
        limit.bytes_at(rate)
    }

    pub fn direction(&self, direction: Direction) -> DirectionSpec {
        let half = self.rtt / 2;
        let (delay, rate) = match direction {
            // An odd nanosecond goes to the downstream direction.
            Direction::Up => (half, self.up),
            Direction::Down => (self.rtt - half, self.down),
        };
        DirectionSpec {
            delay,
            jitter: self.jitter,
            loss: self.loss_percent / 100.0,
            burst: self.burst,
            rate,
            queue_bytes: rate.map(|rate| self.queue_bytes(rate)),
            reorder: self.reorder,
        }
    }

    fn apply(
        &mut self,
        key: &str,
        value: &str,
        seen: &mut Vec<&'static str>,
    ) -> Result<(), SpecError> {
        let key = canonical_key(key).ok_or_else(|| SpecError::UnknownKey {
            key: key.to_owned(),
        })?;
        if seen.contains(&key) {
            return Err(SpecError::Duplicate { key });
        }
        seen.push(key);
        let bad = |expected: &str| SpecError::BadValue {
            key,
            value: value.to_owned(),
            expected: expected.to_owned(),
        };
        let none = matches!(value, "none" | "off");
        match key {
            "rtt" => self.rtt = units::parse_duration(value).ok_or_else(|| bad(DURATION_FORMS))?,
            "jitter" => {
                self.jitter = units::parse_duration(value).ok_or_else(|| bad(DURATION_FORMS))?
            }
            "loss" => {
                self.loss_percent = units::parse_percent(value).ok_or_else(|| bad(PERCENT_FORMS))?
            }
            "burst" if none => self.burst = None,
            "burst" => {
                let length: f64 = value.parse().map_err(|_| bad(BURST_FORMS))?;
                if !(length.is_finite() && length >= 1.0) {
                    return Err(bad(BURST_FORMS));
                }
                self.burst = Some(length);
            }
            "down" | "up" => {
                let rate = if none {
                    None
                } else {
                    Some(Rate(
                        units::parse_rate(value).ok_or_else(|| bad(RATE_FORMS))?,
                    ))
                };
                *if key == "down" {
                    &mut self.down
                } else {
                    &mut self.up
                } = rate;
            }
            "queue" if none => self.queue = None,
            "queue" => self.queue = Some(parse_queue(value).ok_or_else(|| bad(QUEUE_FORMS))?),
            "idle-timeout" if none => self.idle_timeout = None,
            "idle-timeout" => {
                let timeout = units::parse_duration(value).filter(|d| !d.is_zero());
                self.idle_timeout = Some(timeout.ok_or_else(|| bad(DURATION_FORMS))?);
            }
            _ => {
                self.reorder = match value {
                    "" | "on" | "true" => true,
                    "off" | "false" => false,
                    _ => return Err(bad("`reorder`, `reorder=on` or `reorder=off`")),
                }
            }
        }
        Ok(())
    }

    fn validate(&self) -> Result<(), SpecError> {
        if self.burst.is_some() && self.loss_percent == 0.0 {
            return Err(SpecError::Inconsistent(
                "`burst` needs `loss`: the burst length shapes the losses, it adds none",
            ));
        }
        if let Some((to_bad, _)) = gilbert_elliott(self.loss_percent / 100.0, self.burst)
            && to_bad > 1.0
        {
            return Err(SpecError::Inconsistent(
                "`burst` too short for this `loss`: with mean burst length L the loss can be at most L/(L+1)",
            ));
        }
        if self.queue.is_some() && self.down.is_none() && self.up.is_none() {
            return Err(SpecError::Inconsistent(
                "`queue` needs `down` or `up`: a queue only forms behind a rate limit",
            ));
        }
        Ok(())
    }
}

const BURST_FORMS: &str = "a mean burst length in packets, at least 1, like `3` or `2.5`";
const QUEUE_FORMS: &str = "a size like `64kB`, `100kb`, `1500B` or `1MiB` (kB/MB: powers of 1000, KiB/MiB: of 1024), or a time at the rate like `100ms`";

fn canonical_key(key: &str) -> Option<&'static str> {
    [
        "rtt",
        "jitter",
        "loss",
        "burst",
        "down",
        "up",
        "queue",
        "idle-timeout",
        "reorder",
    ]
    .into_iter()
    .find(|k| *k == key)
}

fn parse_queue(value: &str) -> Option<QueueLimit> {
    match units::parse_duration(value) {
        Some(time) if !time.is_zero() => Some(QueueLimit::Time(time)),
        Some(_) => None,
        None => units::parse_size(value).map(QueueLimit::Bytes),
    }
}

/// Gilbert–Elliott transition probabilities per packet, `(good→bad, bad→good)`, for a
/// long-run loss rate `loss` and mean burst length `burst`. Every packet sent in the
/// bad state is lost, none in the good state. A burst ends with probability
/// `r = 1/burst` per packet, so bursts are geometric with mean `burst`; the chain
/// spends `p/(p+r)` of the packets in the bad state, and setting that to `loss`
/// gives `p = loss·r/(1−loss)`.
pub fn gilbert_elliott(loss: f64, burst: Option<f64>) -> Option<(f64, f64)> {
    let burst = burst?;
    let to_good = 1.0 / burst;
    let to_bad = loss * to_good / (1.0 - loss);
    Some((to_bad, to_good))
}

impl FromStr for NetworkSpec {
    type Err = SpecError;

    fn from_str(text: &str) -> Result<Self, SpecError> {
        let mut parts = text.split(',').map(str::trim).peekable();
        let first = parts.peek().copied().unwrap_or_default();
        if first.is_empty() {
            return Err(SpecError::Empty {
                presets: presets::names(),
            });
        }
        let mut spec = NetworkSpec::default();
        if !first.contains('=') && canonical_key(first).is_none() {
            parts.next();
            if first != "none" {
                spec = presets::resolve(first).ok_or_else(|| SpecError::UnknownPreset {
                    name: first.to_owned(),
                    presets: presets::names(),
                })?;
            }
        }
        let mut seen = Vec::new();
        for part in parts {
            let (key, value) = part.split_once('=').unwrap_or((part, ""));
            if value.is_empty() && key != "reorder" {
                if presets::find(key).is_some() || key == "none" {
                    return Err(SpecError::PresetNotFirst {
                        name: key.to_owned(),
                    });
                }
                if canonical_key(key).is_none() {
                    return Err(SpecError::UnknownKey {
                        key: key.to_owned(),
                    });
                }
            }
            spec.apply(key.trim(), value.trim(), &mut seen)?;
        }
        spec.validate()?;
        Ok(spec)
    }
}

impl NetworkSpec {
    /// Resolves a preset's own key list; only the presets module calls this.
    pub(crate) fn from_preset(name: &'static str, keys: &str) -> Result<Self, SpecError> {
        let mut spec: NetworkSpec = keys.parse()?;
        spec.preset = Some(name);
        Ok(spec)
    }
}

impl fmt::Display for NetworkSpec {
    /// Prints the preset name (if any) and then only the keys that differ from it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let base = self.preset.and_then(presets::resolve).unwrap_or_default();
        let mut parts: Vec<String> = self.preset.iter().map(|p| (*p).to_owned()).collect();
        let opt = |o: Option<String>| o.unwrap_or_else(|| "none".to_owned());
        if self.rtt != base.rtt {
            parts.push(format!("rtt={}", units::format_duration(self.rtt)));
        }
        if self.jitter != base.jitter {
            parts.push(format!("jitter={}", units::format_duration(self.jitter)));
        }
        if self.loss_percent != base.loss_percent {
            parts.push(format!("loss={}%", self.loss_percent));
        }
        if self.burst != base.burst {
            parts.push(format!("burst={}", opt(self.burst.map(|b| b.to_string()))));
        }
        for (key, rate, base_rate) in [("down", self.down, base.down), ("up", self.up, base.up)] {
            if rate != base_rate {
                parts.push(format!(
                    "{key}={}",
                    opt(rate.map(|r| units::format_rate(r.0)))
                ));
            }
        }
        if self.queue != base.queue {
            let queue = self.queue.map(|q| match q {
                QueueLimit::Bytes(bytes) => units::format_size(bytes),
                QueueLimit::Time(time) => units::format_duration(time),
            });
            parts.push(format!("queue={}", opt(queue)));
        }
        if self.idle_timeout != base.idle_timeout {
            let timeout = self.idle_timeout.map(units::format_duration);
            parts.push(format!("idle-timeout={}", opt(timeout)));
        }
        if self.reorder != base.reorder {
            parts.push(
                if self.reorder {
                    "reorder"
                } else {
                    "reorder=off"
                }
                .to_owned(),
            );
        }
        if parts.is_empty() {
            return f.write_str("none");
        }
        f.write_str(&parts.join(","))
    }
}

impl serde::Serialize for NetworkSpec {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for NetworkSpec {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
#[path = "spec_tests.rs"]
mod tests;
