//! How fast clients connect during ramp-up: `--ramp-up` as the time to
//! connect every client (k6's habit) or `--connect-rate` in clients per
//! second, and which of the two a run uses.

use crate::config::ConfigError;
use crate::scenario::Scenario;
use protocol::units::{Dur, Rate};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `--ramp-up`: the time to connect every client. A bare number is
/// refused: it used to be a connect rate (now `--connect-rate`), and
/// reading an old `500` as 500 s would silently change a scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RampUp(pub Dur);

impl std::str::FromStr for RampUp {
    type Err = String;

    fn from_str(s: &str) -> Result<RampUp, String> {
        let text = s.trim();
        let bare = text.parse::<f64>().is_ok();
        match text.parse::<Dur>() {
            Ok(d) if !bare => Ok(RampUp(d)),
            _ if text.parse::<Rate>().is_ok() => Err(format!(
                "{text:?} is a rate, and ramp-up is a duration now: the time to connect every \
                 client, e.g. 10s or 1m30s. For {text} clients per second, use --connect-rate \
                 {text} (connect_rate in a scenario file)"
            )),
            Ok(d) => Ok(RampUp(d)),
            Err(e) => Err(e.to_string()),
        }
    }
}

impl std::fmt::Display for RampUp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl Serialize for RampUp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for RampUp {
    /// Text as the flag takes it; a bare number (an old scenario file's
    /// connect rate) gets the same error as the flag.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<RampUp, D::Error> {
        let text = match Value::deserialize(d)? {
            Value::String(s) => s,
            Value::Number(n) => n.to_string(),
            other => other.to_string(),
        };
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// `ramp_up` (a time) and `connect_rate` both pace the connects: a flag for
/// one replaces the file's other; both in one file is a mistake.
pub(crate) fn connect_pace(
    s: &mut Scenario,
    set: &[String],
    flags: &[String],
) -> Result<(), ConfigError> {
    let has = |list: &[String], k: &str| list.iter().any(|x| x == k);
    if has(flags, "connect_rate") {
        s.ramp_up = None;
    } else if !has(flags, "ramp_up") && has(set, "ramp_up") && has(set, "connect_rate") {
        return Err(ConfigError::Conflict {
            flag: "--scenario",
            why: "with both ramp_up and connect_rate: both pace the connects (ramp_up as the \
                  time to connect every client, connect_rate in clients per second); keep one"
                .into(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::LoadArgs;
    use crate::config::Config;
    use clap::Parser;

    #[derive(Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        load: LoadArgs,
    }

    fn config(list: &[&str]) -> Result<Config, String> {
        let all = ["load", "--transport", "ws"].iter().chain(list).copied();
        let cli = Cli::try_parse_from(all).map_err(|e| e.to_string())?;
        cli.load.into_config().map_err(|e| e.to_string())
    }

    fn file(name: &str, text: &str) -> String {
        let dir = std::env::temp_dir().join(format!("rtbench-pace-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write");
        path.to_string_lossy().into_owned()
    }

    #[test]
    fn ramp_up_is_the_time_to_connect_every_client() {
        let c = config(&["-c", "300", "--ramp-up", "1m"]).expect("a duration");
        assert_eq!(c.ramp_up_per_sec, 5.0);
        let c = config(&["-c", "300", "--connect-rate", "600/m"]).expect("a rate");
        assert_eq!(c.ramp_up_per_sec, 10.0);
        let c = config(&["-c", "300"]).expect("default");
        assert_eq!(c.ramp_up_per_sec, 1000.0);
        let e = config(&["--ramp-up", "1s", "--connect-rate", "5"]).expect_err("both");
        assert!(e.contains("--connect-rate"), "{e}");
        let e = config(&["--ramp-up", "0s"]).expect_err("zero");
        assert!(e.contains("--ramp-up"), "{e}");
    }

    #[test]
    fn an_old_rate_as_ramp_up_says_to_use_connect_rate() {
        for old in ["500", "2k", "10/s"] {
            let e = config(&["--ramp-up", old]).expect_err("a rate");
            assert!(e.contains(&format!("--connect-rate {old}")), "{e}");
        }
        assert_eq!("2m".parse::<RampUp>().map(|r| r.0.0.as_secs()), Ok(120));
        let p = file("old.toml", "ramp_up = 500\n");
        let e = config(&["--scenario", &p]).expect_err("old file");
        assert!(e.contains("ramp_up") && e.contains("connect_rate"), "{e}");
        let p = file("new.toml", "clients = 100\nramp-up = \"20s\"\n");
        let c = config(&["--scenario", &p]).expect("new file");
        assert_eq!(c.ramp_up_per_sec, 5.0);
        // A flag for the other way replaces the file's.
        let c = config(&["--scenario", &p, "--connect-rate", "7"]).expect("flag wins");
        assert_eq!(c.ramp_up_per_sec, 7.0);
        let p = file("both.toml", "ramp_up = \"20s\"\nconnect_rate = 7\n");
        let e = config(&["--scenario", &p]).expect_err("both in a file");
        assert!(e.contains("keep one"), "{e}");
        let c = config(&["--scenario", &p, "--ramp-up", "1s", "-c", "3"]).expect("flag wins");
        assert_eq!(c.ramp_up_per_sec, 3.0);
    }
}
