//! `rtbench load` flags ([`LoadArgs`]) and the TOML scenario file they can
//! start from: low-level arguments in, one validated [`Config`] out.

use crate::config::{Config, ConfigError};
use crate::parse;
use protocol::Transport;
use protocol::results::{Arrival, PublishVia};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Flags of `rtbench load`. Every scenario flag may also come from
/// `--scenario FILE.toml` (same names, `_` or `-`); flags override the file.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct LoadArgs {
    /// Base URL of the server under test (loopback only) [default: http://127.0.0.1:3000]
    #[arg(long, value_name = "URL")]
    pub target: Option<String>,
    /// How clients subscribe: ws, sse, long-poll or short-poll
    #[arg(long, value_name = "TRANSPORT", value_parser = parse_transport)]
    pub transport: Option<Transport>,
    /// How to speak to the target: a profile TOML file for another server
    /// (docs/profiles.md), or `rtbench` for rtbench's own [default: rtbench]
    #[arg(long, value_name = "FILE")]
    pub profile: Option<String>,
    /// PID of the server process on this machine: its CPU and RSS are
    /// sampled from /proc as the server's cost (for servers without
    /// rtbench's /api/stats)
    #[arg(long = "server-pid", value_name = "PID")]
    pub server_pid: Option<u32>,
    /// TOML scenario file with any of these settings (flags override it)
    #[arg(long, value_name = "FILE")]
    pub scenario: Option<PathBuf>,
    /// Subscribing clients, one connection each (e.g. 1000, 10k) [default: 100]
    #[arg(long, value_name = "N", value_parser = parse::count)]
    pub clients: Option<u64>,
    /// Rooms; clients are spread over them evenly [default: 1]
    #[arg(long, value_name = "R", value_parser = parse::count)]
    pub rooms: Option<u64>,
    /// Open-loop publishers [default: 1]
    #[arg(long, value_name = "P", value_parser = parse::count)]
    pub publishers: Option<u64>,
    /// Messages per second, total across publishers [default: 10]
    #[arg(long, value_name = "MSGS_PER_SEC", value_parser = parse::amount)]
    pub rate: Option<f64>,
    /// Spacing of publish times: constant or poisson [default: constant]
    #[arg(long, value_name = "ARRIVAL", value_parser = parse_arrival)]
    pub arrival: Option<Arrival>,
    /// Bytes of text per message (e.g. 100, 1k = 1024) [default: 100]
    #[arg(long, value_name = "BYTES", value_parser = parse::size)]
    pub size: Option<u64>,
    /// Length of the measured window (e.g. 30s, 2m) [default: 10s]
    #[arg(long, value_name = "DURATION", value_parser = parse::duration)]
    pub duration: Option<Duration>,
    /// Connect rate during ramp-up, clients per second [default: 1000]
    #[arg(long = "ramp-up", value_name = "CLIENTS_PER_SEC", value_parser = parse::amount)]
    pub ramp_up: Option<f64>,
    /// Publishing before the window, not recorded [default: 1s]
    #[arg(long, value_name = "DURATION", value_parser = parse::duration)]
    pub warmup: Option<Duration>,
    /// Longest wait for in-flight messages after the last publish [default: 5s]
    #[arg(long, value_name = "DURATION", value_parser = parse::duration)]
    pub drain: Option<Duration>,
    /// Short poll only: time between polls; 0 polls back to back (a
    /// request-rate test, as wrk does) [default: 1s]
    #[arg(long = "poll-interval", value_name = "DURATION", value_parser = parse::duration)]
    pub poll_interval: Option<Duration>,
    /// Long poll only: how long the server may hold a poll [default: 25s]
    #[arg(long = "long-poll-wait", value_name = "DURATION", value_parser = parse::duration)]
    pub long_poll_wait: Option<Duration>,
    /// How publishers send: http (POST) or ws (a frame) [default: http]
    #[arg(long = "publish-via", value_name = "VIA", value_parser = parse_publish_via)]
    pub publish_via: Option<PublishVia>,
    /// Seed for publish schedules, poll phases and jitter [default: random]
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Loopback source addresses for client sockets, e.g. 127.0.0.1-127.0.0.8
    /// (each gives ~28k more ports)
    #[arg(long = "source-ips", value_name = "RANGE")]
    pub source_ips: Option<String>,
    /// With https:// targets: trust any certificate (self-signed test servers)
    #[arg(long, conflicts_with = "ca_cert")]
    pub insecure: bool,
    /// With https:// targets: trust the CA certificates in this PEM file
    /// [default: the system's, or SSL_CERT_FILE]
    #[arg(long = "ca-cert", value_name = "PEM")]
    pub ca_cert: Option<std::path::PathBuf>,
    /// With https:// targets: speak HTTP/2 (ALPN h2) for SSE, polls and
    /// publishes, one connection per client; WebSockets stay on HTTP/1.1
    #[arg(long)]
    pub http2: bool,
    /// A token every client sends (where the profile says; rtbench's:
    /// `Authorization: Bearer`)
    #[arg(long, value_name = "TOKEN", conflicts_with = "token_secret")]
    pub token: Option<String>,
    /// Mint an HS256 JWT per client with this secret, `sub` = the client's
    /// name (c17, p3), valid 24 h (for `rtbench server --auth-token-secret`)
    #[arg(
        long = "token-secret",
        value_name = "SECRET",
        env = "RTBENCH_TOKEN_SECRET",
        hide_env_values = true
    )]
    pub token_secret: Option<String>,
    /// Run the clients and publishers in N processes on this machine (each
    /// has its own 20,000 descriptors), results merged exactly into one:
    /// clients and publishers are split evenly (rounded up to multiples of
    /// N), the rate is divided [default: 1]
    #[arg(long, value_name = "N", conflicts_with_all = ["workers", "worker_id", "start_at"])]
    pub processes: Option<u32>,
    /// Load workers of one distributed run (processes or machines); each
    /// runs these flags' clients and publishers, and `rtbench report`
    /// merges their files exactly [default: 1]
    #[arg(long, value_name = "N")]
    pub workers: Option<u32>,
    /// This worker's number, 0 … N−1 (with --workers)
    #[arg(long = "worker-id", value_name = "K")]
    pub worker_id: Option<u32>,
    /// When publishing starts, in UNIX seconds: the same on every worker so
    /// their measured windows line up (ramp-up happens before it)
    #[arg(long = "start-at", value_name = "UNIX_TIME")]
    pub start_at: Option<f64>,
    /// Write the result file (JSON) here
    #[arg(long, value_name = "FILE.json")]
    pub output: Option<PathBuf>,
    /// Pass/fail limit on the results, e.g. ws.latency.p99<25ms, *.loss==0,
    /// sse.bytes_per_delivery<900 (repeatable; adds to the scenario file's
    /// [thresholds]); a failed threshold exits 99 after the results are written
    #[arg(long = "threshold", value_name = "EXPR")]
    pub thresholds: Vec<String>,
    /// No live progress, only the summary
    #[arg(long)]
    pub quiet: bool,
}

fn parse_transport(s: &str) -> Result<Transport, String> {
    s.parse()
        .map_err(|e: protocol::ParseTransportError| e.to_string())
}

fn parse_arrival(s: &str) -> Result<Arrival, String> {
    s.parse()
}

fn parse_publish_via(s: &str) -> Result<PublishVia, String> {
    s.parse()
}

/// A number or a string like `10k` / `30s` in a scenario file.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Val {
    Int(u64),
    Float(f64),
    Str(String),
}

impl Val {
    fn text(&self) -> String {
        match self {
            Val::Int(n) => n.to_string(),
            Val::Float(f) => f.to_string(),
            Val::Str(s) => s.clone(),
        }
    }
}

/// The conditions of one `[thresholds]` key: `"<25ms"` or `["<25ms", ">1ms"]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Conditions {
    One(String),
    Many(Vec<String>),
}

/// The scenario file: the same settings as the flags, all optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioFile {
    target: Option<String>,
    transport: Option<String>,
    clients: Option<Val>,
    rooms: Option<Val>,
    publishers: Option<Val>,
    rate: Option<Val>,
    arrival: Option<String>,
    size: Option<Val>,
    duration: Option<Val>,
    #[serde(alias = "ramp-up")]
    ramp_up: Option<Val>,
    warmup: Option<Val>,
    drain: Option<Val>,
    #[serde(alias = "poll-interval")]
    poll_interval: Option<Val>,
    #[serde(alias = "long-poll-wait")]
    long_poll_wait: Option<Val>,
    #[serde(alias = "publish-via")]
    publish_via: Option<String>,
    seed: Option<u64>,
    #[serde(alias = "source-ips")]
    source_ips: Option<String>,
    /// `[thresholds]`: metric → condition(s), k6-style
    /// (`"ws.latency.p99" = "<25ms"`, `"*.loss" = ["==0"]`).
    #[serde(default)]
    thresholds: BTreeMap<String, Conditions>,
    /// Free text for humans; ignored.
    #[serde(default)]
    #[allow(dead_code)]
    description: Option<String>,
}

fn scenario_value<T>(
    flag: &'static str,
    v: Option<Val>,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<Option<T>, ConfigError> {
    v.map(|v| parse(&v.text()).map_err(|why| ConfigError::Invalid { flag, why }))
        .transpose()
}

fn scenario_str<T>(
    flag: &'static str,
    v: Option<String>,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<Option<T>, ConfigError> {
    scenario_value(flag, v.map(Val::Str), parse)
}

impl LoadArgs {
    /// Merge defaults ← scenario file ← flags, then validate once.
    pub fn into_config(self) -> Result<Config, ConfigError> {
        self.build(true)
    }

    /// The config of one run of a comparison (`rtbench bench`): this
    /// transport against this target. Settings that belong to another
    /// transport (`--poll-interval` on a WebSocket run) are the comparison's,
    /// not a mistake, so they are skipped instead of refused.
    pub fn config_for(&self, transport: Transport, target: &str) -> Result<Config, ConfigError> {
        let mut args = self.clone();
        args.transport = Some(transport);
        args.target = Some(target.to_string());
        args.build(false)
    }

    /// The thresholds to check after the run, as expression strings
    /// (`ws.latency.p99<25ms`): the scenario file's `[thresholds]` first (in
    /// key order, each key's conditions in their order), then `--threshold`
    /// flags. The expressions are checked by the caller (`reports::Threshold`);
    /// here only that each file condition starts with an operator.
    pub fn threshold_exprs(&self) -> Result<Vec<String>, ConfigError> {
        let mut out = Vec::new();
        if let Some(path) = &self.scenario {
            let file = read_scenario(path)?;
            for (metric, conditions) in file.thresholds {
                let list = match conditions {
                    Conditions::One(c) => vec![c],
                    Conditions::Many(list) => list,
                };
                if list.is_empty() {
                    return Err(ConfigError::Scenario {
                        path: path.display().to_string(),
                        why: format!("[thresholds] \"{metric}\" has no condition"),
                    });
                }
                for c in list {
                    let c = c.trim();
                    if !c.starts_with(['<', '>', '=', '!']) {
                        return Err(ConfigError::Scenario {
                            path: path.display().to_string(),
                            why: format!(
                                "[thresholds] \"{metric}\" = \"{c}\": a condition starts with \
                                 an operator (<, <=, >, >=, ==, !=), e.g. \"<25ms\""
                            ),
                        });
                    }
                    out.push(format!("{}{c}", metric.trim()));
                }
            }
        }
        out.extend(self.thresholds.iter().cloned());
        Ok(out)
    }

    fn build(self, strict: bool) -> Result<Config, ConfigError> {
        let file = match &self.scenario {
            Some(path) => read_scenario(path)?,
            None => ScenarioFile::default(),
        };
        let target = self
            .target
            .or(file.target)
            .unwrap_or_else(|| "http://127.0.0.1:3000".to_string());
        let transport = match self.transport {
            Some(t) => t,
            None => scenario_str("--transport", file.transport, parse_transport)?.ok_or(
                ConfigError::Missing {
                    flag: "--transport",
                },
            )?,
        };
        let mut c = Config::new(&target, transport)?;
        if let Some(p) = &self.profile {
            c.profile = std::sync::Arc::new(crate::profile::Profile::load(p)?);
        }
        c.server_pid = self.server_pid;
        c.workers = self.workers.unwrap_or(1);
        c.worker_id = self.worker_id.unwrap_or(0);
        c.start_at = self.start_at;
        c.token = match (self.token, self.token_secret) {
            (Some(t), _) => Some(crate::config::TokenSource::Fixed(t)),
            (None, Some(s)) => Some(crate::config::TokenSource::Secret(s)),
            (None, None) => None,
        };
        c.tls = crate::tls::TlsOptions {
            insecure: self.insecure,
            ca_cert: self.ca_cert.clone(),
            http2: self.http2,
        };
        c.scenario_file = self.scenario.clone();
        c.progress = !self.quiet;

        macro_rules! merge {
            ($field:ident, $flag:literal, $arg:expr, $file:expr, $parse:expr, $conv:expr) => {
                let from_file = scenario_value($flag, $file, $parse)?;
                if let Some(v) = $arg.or(from_file) {
                    c.$field = $conv(v);
                }
            };
        }
        let same = |v| v;
        merge!(
            clients,
            "--clients",
            self.clients,
            file.clients,
            parse::count,
            same
        );
        merge!(rooms, "--rooms", self.rooms, file.rooms, parse::count, same);
        merge!(
            publishers,
            "--publishers",
            self.publishers,
            file.publishers,
            parse::count,
            same
        );
        merge!(
            rate_per_sec,
            "--rate",
            self.rate,
            file.rate,
            parse::amount,
            |v| v
        );
        merge!(
            size_bytes,
            "--size",
            self.size,
            file.size,
            parse::count,
            |v: u64| v as usize
        );
        merge!(
            duration,
            "--duration",
            self.duration,
            file.duration,
            parse::duration,
            |v| v
        );
        merge!(
            ramp_up_per_sec,
            "--ramp-up",
            self.ramp_up,
            file.ramp_up,
            parse::amount,
            |v| v
        );
        merge!(
            warmup,
            "--warmup",
            self.warmup,
            file.warmup,
            parse::duration,
            |v| v
        );
        merge!(
            drain,
            "--drain",
            self.drain,
            file.drain,
            parse::duration,
            |v| v
        );
        let arrival = scenario_str("--arrival", file.arrival, parse_arrival)?;
        if let Some(a) = self.arrival.or(arrival) {
            c.arrival = a;
        }
        let via = scenario_str("--publish-via", file.publish_via, parse_publish_via)?;
        match self.publish_via.or(via) {
            Some(v) => c.publish_via = v,
            // A profile that publishes only over the WebSocket.
            None if c.profile.publish.http.is_none() => c.publish_via = PublishVia::Ws,
            None => {}
        }
        let ips = self.source_ips.or(file.source_ips);
        if let Some(ips) = ips {
            c.source_ips = parse::source_ips(&ips).map_err(|why| ConfigError::Invalid {
                flag: "--source-ips",
                why,
            })?;
        }
        c.seed = self.seed.or(file.seed).unwrap_or_else(random_seed);

        // Transport-specific flags: naming the flag beats silently ignoring
        // it. A scenario file describes a workload for every transport (bench
        // shares it), so its polling keys simply do not apply to push runs.
        let poll_flag = self.poll_interval.is_some();
        let wait_flag = self.long_poll_wait.is_some();
        let poll_interval = self.poll_interval.or(scenario_value(
            "--poll-interval",
            file.poll_interval,
            parse::duration,
        )?);
        if let Some(v) = poll_interval {
            if transport != Transport::ShortPoll && strict && poll_flag {
                return Err(ConfigError::Conflict {
                    flag: "--poll-interval",
                    why: format!("with --transport {transport} (it applies to short-poll only)"),
                });
            }
            c.poll_interval = v;
        }
        let wait = self.long_poll_wait.or(scenario_value(
            "--long-poll-wait",
            file.long_poll_wait,
            parse::duration,
        )?);
        if let Some(v) = wait {
            if transport != Transport::LongPoll && strict && wait_flag {
                return Err(ConfigError::Conflict {
                    flag: "--long-poll-wait",
                    why: format!("with --transport {transport} (it applies to long-poll only)"),
                });
            }
            c.long_poll_wait = v;
        }
        if c.rate_per_sec > 0.0 && c.publishers == 0 {
            return Err(ConfigError::Conflict {
                flag: "--publishers",
                why: "set to 0 with a --rate above 0".to_string(),
            });
        }
        c.validate()?;
        Ok(c)
    }
}

fn read_scenario(path: &Path) -> Result<ScenarioFile, ConfigError> {
    let err = |why: String| ConfigError::Scenario {
        path: path.display().to_string(),
        why,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    toml::from_str::<ScenarioFile>(&text).map_err(|e| err(e.to_string()))
}

/// A seed below 2^53 so it survives a round trip through JavaScript.
fn random_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    crate::rng::SplitMix64::new(nanos ^ u64::from(std::process::id())).next_u64() >> 11
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        load: LoadArgs,
    }

    fn args(list: &[&str]) -> Result<Config, String> {
        let cli = Cli::try_parse_from(std::iter::once("load").chain(list.iter().copied()))
            .map_err(|e| e.to_string())?;
        cli.load.into_config().map_err(|e| e.to_string())
    }

    #[test]
    fn flags_parse() {
        let c = args(&[
            "--transport",
            "short-poll",
            "--clients",
            "1.5k",
            "--rooms",
            "3",
            "--rate",
            "2k",
            "--duration",
            "2m",
            "--poll-interval",
            "500ms",
            "--seed",
            "7",
            "--arrival",
            "poisson",
        ])
        .expect("valid");
        assert_eq!(c.clients, 1500);
        assert_eq!(c.rate_per_sec, 2000.0);
        assert_eq!(c.duration, Duration::from_secs(120));
        assert_eq!(c.poll_interval, Duration::from_millis(500));
        assert_eq!(c.seed, 7);
        assert_eq!(c.arrival, Arrival::Poisson);
    }

    #[test]
    fn conflicts_name_the_flag() {
        let e = args(&["--transport", "ws", "--poll-interval", "1s"]).expect_err("conflict");
        assert!(e.contains("--poll-interval"), "{e}");
        let e = args(&["--transport", "sse", "--long-poll-wait", "5s"]).expect_err("conflict");
        assert!(e.contains("--long-poll-wait"), "{e}");
        let e = args(&["--clients", "10"]).expect_err("missing transport");
        assert!(e.contains("--transport"), "{e}");
        let e = args(&["--transport", "ws", "--target", "http://192.168.1.1:80"])
            .expect_err("not loopback");
        assert!(e.contains("loopback"), "{e}");
        let e = args(&["--transport", "ws", "--duration", "soon"]).expect_err("bad duration");
        assert!(e.contains("--duration"), "{e}");
    }

    #[test]
    fn scenario_file_and_override() {
        let dir = std::env::temp_dir().join(format!("rtbench-args-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("s.toml");
        std::fs::write(
            &path,
            "transport = \"long-poll\"\nclients = \"2k\"\nrooms = 4\nrate = 50\nduration = \"30s\"\n\
             long-poll-wait = \"10s\"\nseed = 3\npublish_via = \"ws\"\n",
        )
        .expect("write");
        let p = path.to_string_lossy().to_string();
        let c = args(&["--scenario", &p, "--clients", "100"]).expect("valid");
        assert_eq!(c.transport, Transport::LongPoll);
        assert_eq!(c.clients, 100);
        assert_eq!(c.rooms, 4);
        assert_eq!(c.duration, Duration::from_secs(30));
        assert_eq!(c.long_poll_wait, Duration::from_secs(10));
        assert_eq!(c.publish_via, PublishVia::Ws);
        // The file's long-poll-wait does not apply to a WebSocket run.
        let c = args(&["--scenario", &p, "--transport", "ws"]).expect("no conflict");
        assert_eq!(c.transport, Transport::Ws);
        std::fs::write(&path, "clients = 10\nbogus = 1\n").expect("write");
        let e = args(&["--scenario", &p]).expect_err("unknown key");
        assert!(e.contains("bogus"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn thresholds_from_file_then_flags() {
        let dir = std::env::temp_dir().join(format!("rtbench-thresholds-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("t.toml");
        std::fs::write(
            &path,
            "transport = \"ws\"\nclients = 10\n\n[thresholds]\n\"ws.latency.p99\" = \"<25ms\"\n\
             \"*.loss\" = [\"==0\", \" <= 1\"]\n",
        )
        .expect("write");
        let p = path.to_string_lossy().to_string();
        let cli = Cli::try_parse_from([
            "load",
            "--scenario",
            &p,
            "--threshold",
            "sse.errors==0",
            "--threshold",
            "*.p50 < 5ms",
        ])
        .expect("flags");
        assert_eq!(
            cli.load.threshold_exprs().expect("thresholds"),
            [
                "*.loss==0",
                "*.loss<= 1",
                "ws.latency.p99<25ms",
                "sse.errors==0",
                "*.p50 < 5ms"
            ]
        );
        // The table does not disturb the settings.
        let c = cli.load.into_config().expect("config");
        assert_eq!((c.transport, c.clients), (Transport::Ws, 10));

        std::fs::write(&path, "[thresholds]\n\"ws.loss\" = \"0\"\n").expect("write");
        let cli = Cli::try_parse_from(["load", "--scenario", &p]).expect("flags");
        let e = cli.load.threshold_exprs().expect_err("no operator");
        assert!(e.to_string().contains("operator"), "{e}");
        std::fs::write(&path, "[thresholds]\n\"ws.loss\" = 0\n").expect("write");
        let cli = Cli::try_parse_from(["load", "--scenario", &p]).expect("flags");
        let e = cli
            .load
            .threshold_exprs()
            .expect_err("a number is no condition");
        assert!(e.to_string().contains("thresholds"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn polling_keys_in_a_file_apply_only_to_their_transport() {
        let dir = std::env::temp_dir().join(format!("rtbench-args-poll-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("both.toml");
        std::fs::write(
            &path,
            "poll_interval = \"250ms\"\nlong_poll_wait = \"5s\"\n",
        )
        .expect("write");
        let p = path.to_string_lossy().to_string();
        let ws = args(&["--scenario", &p, "--transport", "ws"]).expect("file keys are no conflict");
        assert_eq!(ws.transport, Transport::Ws);
        let sp = args(&["--scenario", &p, "--transport", "short-poll"]).expect("valid");
        assert_eq!(sp.poll_interval, Duration::from_millis(250));
        let lp = args(&["--scenario", &p, "--transport", "long-poll"]).expect("valid");
        assert_eq!(lp.long_poll_wait, Duration::from_secs(5));
        // The same setting as a flag is a mistake worth naming.
        let e = args(&["--transport", "ws", "--poll-interval", "1s"]).expect_err("conflict");
        assert!(e.contains("--poll-interval"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn shipped_scenarios_parse() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios");
        let mut n = 0;
        for entry in std::fs::read_dir(dir).expect("scenarios/").flatten() {
            let p = entry.path();
            if p.extension().is_some_and(|e| e == "toml") {
                let s = p.to_string_lossy().to_string();
                for t in ["ws", "sse", "long-poll", "short-poll"] {
                    args(&["--scenario", &s, "--transport", t])
                        .unwrap_or_else(|e| panic!("{s}: {e}"));
                }
                n += 1;
            }
        }
        assert!(n >= 3, "expected at least 3 scenario files, found {n}");
    }
}
