//! `--stages`: a run whose load changes over time, as k6's ramping
//! executors and Artillery's phases do. Each stage has a length and a target
//! client count and/or publish rate, reached linearly from the previous
//! stage's values: `30s:100c@10/s,1m:1000c@100/s,30s:0c`.
//!
//! The text form ([`Stages`]) is what flags and scenario files carry; the
//! [`Plan`] is what the runner follows: how many clients should be connected
//! and how many messages should have been published at each moment.

use crate::config::ConfigError;
use crate::scenario::Scenario;
use protocol::units::{Count, Dur, Rate};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// One stage as written: its length and the targets it names.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stage {
    pub duration: Dur,
    /// Subscribers connected at the stage's end.
    pub clients: Option<u64>,
    /// Messages per second (total) at the stage's end.
    pub rate: Option<f64>,
}

/// Stages as given to `--stages` or the scenario key `stages`.
#[derive(Debug, Clone, PartialEq)]
pub struct Stages(pub Vec<Stage>);

/// Bounds that keep a plan small and a typo visible.
const MAX_STAGES: usize = 100;

/// A stage list that does not parse, with the accepted form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "stage {stage:?}: {why}; write stages as DURATION:CLIENTSc@RATE, e.g. 30s:100c@10/s,1m:1000c,30s:@50/s"
)]
pub struct StageError {
    pub stage: String,
    pub why: String,
}

impl FromStr for Stage {
    type Err = StageError;

    fn from_str(s: &str) -> Result<Stage, StageError> {
        let fail = |why: &str| StageError {
            stage: s.trim().to_string(),
            why: why.to_string(),
        };
        let (dur, targets) = s
            .split_once(':')
            .ok_or_else(|| fail("no ':' between the length and the targets"))?;
        let duration: Dur = dur.parse().map_err(|e| fail(&format!("{e}")))?;
        if duration.0.is_zero() {
            return Err(fail("a stage must last more than 0s"));
        }
        let (clients, rate) = match targets.split_once('@') {
            Some((c, r)) => (c.trim(), Some(r.trim())),
            None => (targets.trim(), None),
        };
        let clients = match clients {
            "" => None,
            c => {
                let n = c
                    .strip_suffix('c')
                    .ok_or_else(|| fail("a client count ends with c, e.g. 100c"))?;
                Some(n.parse::<Count>().map_err(|e| fail(&format!("{e}")))?.0)
            }
        };
        let rate = match rate {
            None => None,
            Some(r) => Some(r.parse::<Rate>().map_err(|e| fail(&format!("{e}")))?.0),
        };
        if clients.is_none() && rate.is_none() {
            return Err(fail(
                "no target: give clients (100c), a rate (@10/s) or both",
            ));
        }
        Ok(Stage {
            duration,
            clients,
            rate,
        })
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.duration)?;
        if let Some(c) = self.clients {
            write!(f, "{c}c")?;
        }
        if let Some(r) = self.rate {
            write!(f, "@{}/s", Rate(r))?;
        }
        Ok(())
    }
}

impl FromStr for Stages {
    type Err = StageError;

    fn from_str(s: &str) -> Result<Stages, StageError> {
        let stages = s
            .split(',')
            .map(str::parse)
            .collect::<Result<Vec<Stage>, _>>()?;
        if stages.len() > MAX_STAGES {
            return Err(StageError {
                stage: s.to_string(),
                why: format!("at most {MAX_STAGES} stages"),
            });
        }
        Ok(Stages(stages))
    }
}

impl fmt::Display for Stages {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{s}")?;
        }
        Ok(())
    }
}

impl Stages {
    /// Whether any stage sets the client count (then clients start at 0).
    pub fn names_clients(&self) -> bool {
        self.0.iter().any(|s| s.clients.is_some())
    }

    /// Whether any stage sets the rate (then publishing starts at 0/s).
    pub fn names_rate(&self) -> bool {
        self.0.iter().any(|s| s.rate.is_some())
    }

    /// The plan: values a stage leaves out hold the previous stage's; a
    /// quantity no stage names stays at `clients`/`rate` throughout.
    pub fn plan(&self, clients: u64, rate: f64) -> Plan {
        let mut c = if self.names_clients() {
            0.0
        } else {
            clients as f64
        };
        let mut r = if self.names_rate() { 0.0 } else { rate };
        let mut start = 0.0;
        let mut done = 0.0;
        let segments = self
            .0
            .iter()
            .map(|s| {
                let secs = s.duration.0.as_secs_f64();
                let c1 = s.clients.map_or(c, |n| n as f64);
                let r1 = s.rate.unwrap_or(r);
                let seg = Segment {
                    start,
                    secs,
                    clients: (c, c1),
                    rate: (r, r1),
                    messages_before: done,
                };
                done += (r + r1) / 2.0 * secs;
                start += secs;
                (c, r) = (c1, r1);
                seg
            })
            .collect();
        Plan { segments }
    }
}

/// One stage of a [`Plan`], in seconds from the start of the window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Segment {
    pub start: f64,
    pub secs: f64,
    /// Target clients at the start and end of the stage.
    pub clients: (f64, f64),
    /// Target rate (messages per second, total) at the start and end.
    pub rate: (f64, f64),
    /// Messages due before the stage starts.
    messages_before: f64,
}

impl Segment {
    fn end(&self) -> f64 {
        self.start + self.secs
    }

    /// Seconds into the stage at which `u` messages (counted from the stage
    /// start) are due: the inverse of `r0·τ + (r1−r0)·τ²/(2·secs)`.
    fn time_of(&self, u: f64) -> f64 {
        if u <= 0.0 {
            return 0.0;
        }
        let (r0, r1) = self.rate;
        let a = (r1 - r0) / (2.0 * self.secs);
        // 2u / (r0 + √(r0² + 4au)): the root of the quadratic without
        // cancellation, and `u / r0` when the rate is flat (a = 0).
        let disc = (r0 * r0 + 4.0 * a * u).max(0.0);
        2.0 * u / (r0 + disc.sqrt())
    }
}

/// What a staged run follows over its window.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub segments: Vec<Segment>,
}

impl Plan {
    /// Length of the window: the sum of the stages.
    pub fn secs(&self) -> f64 {
        self.segments.last().map_or(0.0, Segment::end)
    }

    /// The most clients any moment asks for.
    pub fn peak_clients(&self) -> u64 {
        self.segments
            .iter()
            .map(|s| s.clients.0.max(s.clients.1))
            .fold(0.0, f64::max)
            .ceil() as u64
    }

    /// The stage `t` seconds into the window falls in (the last one after it).
    pub fn stage_of(&self, t: f64) -> usize {
        self.segments
            .iter()
            .position(|s| t < s.end())
            .unwrap_or(self.segments.len().saturating_sub(1))
    }

    /// Clients that should be connected `t` seconds into the window.
    pub fn clients_at(&self, t: f64) -> u64 {
        let Some(s) = self.segments.get(self.stage_of(t)) else {
            return 0;
        };
        let f = ((t - s.start) / s.secs).clamp(0.0, 1.0);
        (s.clients.0 + (s.clients.1 - s.clients.0) * f).floor() as u64
    }

    /// When (seconds into the window) the `u`-th message of the whole run is
    /// due, counting fractions; infinite once the stages are over.
    pub fn time_of(&self, u: f64) -> f64 {
        for s in &self.segments {
            let (r0, r1) = s.rate;
            let inside = (r0 + r1) / 2.0 * s.secs;
            if u < s.messages_before + inside {
                return s.start + s.time_of(u - s.messages_before).min(s.secs);
            }
        }
        f64::INFINITY
    }
}

/// With stages, the settings they replace that no flag or file set go
/// back to load's defaults, so a command's own defaults (bench's 20 s
/// window) are not taken for a conflicting setting.
pub fn unset_replaced(mut s: Scenario, set: &[String]) -> Scenario {
    let Some(st) = &s.stages else {
        return s;
    };
    let d = Scenario::defaults();
    let unset = |key: &str| !set.iter().any(|k| k == key);
    let (clients, rate) = (st.names_clients(), st.names_rate());
    if unset("duration") {
        s.duration = d.duration;
    }
    if unset("warmup") {
        s.warmup = d.warmup;
    }
    if clients && unset("clients") {
        s.clients = d.clients;
    }
    if rate && unset("rate") {
        s.rate = d.rate;
    }
    s
}

/// Clients, rate, window and warm-up of a run: the stages' peaks, their
/// sum and none with stages; the settings' own without.
pub fn shape(stages: Option<&Staged>, s: &Scenario) -> (u64, f64, Duration, Duration) {
    match stages {
        Some(st) => (
            st.plan.peak_clients(),
            st.peak_rate(),
            st.window(),
            Duration::ZERO,
        ),
        None => (s.clients.0, s.rate.0, s.duration.0, s.warmup.0),
    }
}

/// A run's stages: as written (for the result file) and as followed.
#[derive(Debug, Clone, PartialEq)]
pub struct Staged {
    pub text: Stages,
    pub plan: Plan,
}

impl Staged {
    /// The stages of `s`, checked against the settings they replace:
    /// the window is theirs, and so are the clients and the rate they name.
    pub fn from_scenario(s: &Scenario) -> Result<Option<Staged>, ConfigError> {
        let Some(text) = s.stages.clone() else {
            return Ok(None);
        };
        let d = Scenario::defaults();
        let conflict = |flag: &'static str, why: &str| {
            Err(ConfigError::Conflict {
                flag,
                why: format!("with --stages: {why}"),
            })
        };
        if s.duration != d.duration {
            return conflict("--duration", "the window is the sum of the stages");
        }
        if s.warmup != d.warmup {
            return conflict(
                "--warmup",
                "there is no warm-up, the first stage ramps up from nothing (add a first stage instead)",
            );
        }
        if text.names_clients() && s.clients != d.clients {
            return conflict("--clients", "the stages set the client count");
        }
        if text.names_rate() && s.rate != d.rate {
            return conflict("--rate", "the stages set the publish rate");
        }
        let plan = text.plan(s.clients.0, s.rate.0);
        if plan.peak_clients() == 0 {
            return Err(ConfigError::Invalid {
                flag: "--stages",
                why: "no stage has a client: give one a count above 0, e.g. 30s:100c".into(),
            });
        }
        Ok(Some(Staged { text, plan }))
    }

    /// The measured window: the stages one after the other.
    pub fn window(&self) -> Duration {
        self.text.0.iter().map(|s| s.duration.0).sum()
    }

    /// The most messages per second any moment asks for.
    pub fn peak_rate(&self) -> f64 {
        self.plan
            .segments
            .iter()
            .map(|s| s.rate.0.max(s.rate.1))
            .fold(0.0, f64::max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(s: &str) -> Plan {
        s.parse::<Stages>().expect("stages").plan(7, 3.0)
    }

    #[test]
    fn parses_and_prints_back() {
        let s: Stages = "30s:100c@10/s, 1m:1k c@600/m,30s:0c,10s:@5"
            .parse()
            .expect("ok");
        assert_eq!(s.0.len(), 4);
        assert_eq!(s.0[1].clients, Some(1000));
        assert_eq!(s.0[1].rate, Some(10.0));
        assert_eq!((s.0[2].clients, s.0[2].rate), (Some(0), None));
        assert_eq!((s.0[3].clients, s.0[3].rate), (None, Some(5.0)));
        let text = s.to_string();
        assert_eq!(text, "30s:100c@10/s,1m:1000c@10/s,30s:0c,10s:@5/s");
        assert_eq!(text.parse::<Stages>().expect("back"), s);
    }

    #[test]
    fn errors_name_the_stage_and_the_form() {
        for (bad, why) in [
            ("30s", "no ':'"),
            ("30s:", "no target"),
            ("0s:10c", "more than 0s"),
            ("30s:10", "ends with c"),
            ("30x:10c", "invalid duration"),
            ("30s:manyc", "k"),
            ("30s:10c@fast", "invalid rate"),
            ("30s:10c,,1s:1c", "no ':'"),
        ] {
            let e = bad.parse::<Stages>().expect_err(bad);
            let text = e.to_string();
            assert!(text.contains(why), "{bad}: {text}");
            assert!(text.contains("DURATION:CLIENTSc@RATE"), "{bad}: {text}");
        }
    }

    #[test]
    fn clients_ramp_from_zero_and_hold() {
        let p = plan("10s:100c,10s:100c,5s:0c");
        assert_eq!(p.secs(), 25.0);
        assert_eq!(p.peak_clients(), 100);
        assert_eq!(p.clients_at(0.0), 0);
        assert_eq!(p.clients_at(5.0), 50);
        assert_eq!(p.clients_at(15.0), 100);
        assert_eq!(p.clients_at(22.5), 50);
        assert_eq!(p.clients_at(30.0), 0);
        assert_eq!(p.stage_of(9.99), 0);
        assert_eq!(p.stage_of(10.0), 1);
        // No stage names a rate: it stays at the flag's.
        assert_eq!(p.segments[2].rate, (3.0, 3.0));
    }

    #[test]
    fn stages_replace_the_window_and_refuse_what_they_set() {
        let d = Scenario::defaults();
        let staged = d.with("stages", "10s:50c@20/s,5s:0c").expect("key");
        let st = Staged::from_scenario(&staged).expect("ok").expect("staged");
        assert_eq!(
            (st.plan.secs(), st.plan.peak_clients(), st.peak_rate()),
            (15.0, 50, 20.0)
        );
        for (key, value, flag) in [
            ("duration", "30s", "--duration"),
            ("warmup", "2s", "--warmup"),
            ("clients", "10", "--clients"),
            ("rate", "5", "--rate"),
        ] {
            let s = staged.with(key, value).expect("key");
            let e = Staged::from_scenario(&s).expect_err(key);
            assert_eq!(e.flag(), flag, "{e}");
            assert!(e.to_string().contains("with --stages"), "{e}");
        }
        // Rate-only stages leave --clients free.
        let s = d
            .with("stages", "5s:@5/s")
            .and_then(|s| s.with("clients", "10"));
        let st = Staged::from_scenario(&s.expect("keys"))
            .expect("ok")
            .expect("staged");
        assert_eq!(st.plan.peak_clients(), 10);
        let s = d.with("stages", "5s:0c@5/s").expect("key");
        let e = Staged::from_scenario(&s).expect_err("no clients");
        assert_eq!(e.flag(), "--stages");
        let e = d.with("stages", "5s").expect_err("bad stages");
        assert!(e.why.contains("DURATION:CLIENTSc@RATE"), "{e:?}");
    }

    #[test]
    fn a_commands_own_defaults_are_no_conflict() {
        // Bench's defaults, not given by the user: the stages replace them.
        let bench = Scenario::defaults()
            .with("duration", "20s")
            .and_then(|s| s.with("clients", "1000"))
            .and_then(|s| s.with("stages", "5s:@5/s"))
            .expect("keys");
        let s = unset_replaced(bench.clone(), &[]);
        assert_eq!(Staged::from_scenario(&s).map(|st| st.is_some()), Ok(true));
        // Rate-only stages keep the clients; given, the window conflicts.
        assert_eq!(s.clients, Count(1000));
        let given = unset_replaced(bench, &["duration".to_string()]);
        let e = Staged::from_scenario(&given).expect_err("given");
        assert_eq!(e.flag(), "--duration");
    }

    #[test]
    fn rate_only_stages_keep_the_clients() {
        let p = plan("10s:@10/s");
        assert_eq!(p.peak_clients(), 7);
        assert_eq!(p.clients_at(3.0), 7);
    }

    #[test]
    fn messages_follow_the_rate_ramp() {
        // 0 → 10/s over 10 s (50 messages), then 10/s for 10 s (100 more).
        let p = plan("10s:1c@10/s,10s:1c");
        let due = |t: f64| (0..1000).take_while(|&k| p.time_of(k as f64) < t).count();
        assert_eq!(due(10.0), 50);
        assert_eq!(due(20.0), 150);
        assert!(p.time_of(150.0).is_infinite());
        // The 50 of the ramp crowd its end: a quarter of them in its first half.
        assert_eq!(due(5.0), 13);
        // A flat rate spaces them evenly.
        let flat = plan("4s:@2/s,4s:@2/s");
        assert!(
            (flat.time_of(5.0) - 4.5).abs() < 1e-9,
            "{}",
            flat.time_of(5.0)
        );
    }
}
