//! The flags of `rtbench load` ([`LoadArgs`]) and the part it shares with
//! `rtbench bench` ([`ScenarioArgs`]): a scenario file, the [`Scenario`]
//! flags and thresholds. Settings are layered generically, key by key:
//! built-in defaults ← `--scenario FILE.toml` ← flags given on the command
//! line (a flag not given never overrides the file).

use crate::config::{Config, ConfigError, RunOptions};
use crate::live::LiveMetrics;
use crate::output::Format;
use crate::scenario::{Given, LayerError, Scenario, TRANSPORT_ONLY};
use protocol::Transport;
use protocol::results::PublishersAt;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What `load` and `bench` share: where settings come from, and how the
/// results are judged and shown.
#[derive(Debug, Clone, clap::Args)]
pub struct ScenarioArgs {
    /// TOML scenario file with any of the settings below (same names, `_`
    /// or `-`, and a [thresholds] table); flags given override it
    #[arg(long, value_name = "FILE")]
    pub scenario: Option<PathBuf>,
    #[command(flatten)]
    pub settings: Given<Scenario>,
    /// Pass/fail limit on the results, e.g. ws.latency.p99<25ms, ws.p(95)<20ms,
    /// *.loss==0, sse.bytes_per_delivery<900 (repeatable; adds to the scenario file's
    /// [thresholds]); a failed threshold exits 99 after the results are written
    #[arg(long = "threshold", value_name = "EXPR")]
    pub thresholds: Vec<String>,
    /// No live progress, only the summary
    #[arg(long)]
    pub quiet: bool,
    /// When standard error is not a terminal (CI logs), print a plain
    /// progress line this often; 0 = never
    #[arg(
        long = "progress-interval",
        value_name = "DURATION",
        default_value = "10s"
    )]
    pub progress_interval: protocol::units::Dur,
    /// Serve the load generator's live counters and latency in Prometheus
    /// text format at http://ADDR/metrics during the run (e.g.
    /// 127.0.0.1:9091; docs/grafana/rtbench.json is a dashboard for it)
    #[arg(long = "metrics-addr", value_name = "ADDR")]
    pub metrics_addr: Option<std::net::SocketAddr>,
}

/// The settings of a run after layering, and what judges its results.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub scenario: Scenario,
    /// The scenario file's `[thresholds]` (in key order, each key's
    /// conditions in their order), then `--threshold` flags.
    pub thresholds: Vec<String>,
    /// Keys set by the file or by a flag rather than by a default.
    set: Vec<String>,
    /// Keys set by a flag.
    flags: Vec<String>,
}

impl Resolved {
    /// Whether the file or a flag set this key (e.g. `target`).
    pub fn is_set(&self, key: &str) -> bool {
        self.set.iter().any(|k| k == key)
    }

    /// Whether a flag set this key.
    pub fn flag_given(&self, key: &str) -> bool {
        self.flags.iter().any(|k| k == key)
    }
}

impl ScenarioArgs {
    /// Built-in defaults ← scenario file ← flags given. Without a file the
    /// base is the command's own defaults (bench has some of its own).
    pub fn resolve(&self) -> Result<Resolved, ConfigError> {
        self.resolve_on(None)
    }

    /// As [`Self::resolve`], with `base` (a complete scenario, e.g. a
    /// `--processes` worker's) in place of defaults and file.
    fn resolve_on(&self, base: Option<Scenario>) -> Result<Resolved, ConfigError> {
        let flags = self.settings.ids().to_vec();
        let mut set = flags.clone();
        let (base, mut thresholds) = match (base, &self.scenario) {
            (Some(base), _) => (base, Vec::new()),
            (None, Some(path)) => {
                let file = ScenarioFile::read(path)?;
                set.extend(file.settings.keys().cloned());
                let s = Scenario::defaults()
                    .layered(&file.settings)
                    .map_err(|e| file.error(e))?;
                (s, file.thresholds)
            }
            (None, None) => (self.settings.values.clone(), Vec::new()),
        };
        let given = self.settings.values.to_map();
        let layer: Map<String, Value> = given
            .into_iter()
            .filter(|(k, _)| flags.contains(k))
            .collect();
        let mut scenario = base.layered(&layer).map_err(|e| ConfigError::Invalid {
            flag: "--scenario",
            why: format!("{}: {}", e.key, e.why),
        })?;
        crate::pace::connect_pace(&mut scenario, &set, &flags)?;
        thresholds.extend(self.thresholds.iter().cloned());
        Ok(Resolved {
            scenario: crate::stages::unset_replaced(scenario, &set),
            thresholds,
            set,
            flags,
        })
    }

    /// How the run is shown and which file its settings came from; the
    /// live metrics endpoint is bound separately, once per command
    /// ([`Self::bind_metrics`]).
    pub fn run_options(&self) -> RunOptions {
        RunOptions {
            progress: !self.quiet,
            progress_interval: self.progress_interval.0,
            scenario_file: self.scenario.clone(),
            ..RunOptions::default()
        }
    }

    /// Listen on `--metrics-addr`, if given.
    pub fn bind_metrics(&self) -> Result<Option<Arc<LiveMetrics>>, ConfigError> {
        self.metrics_addr.map(LiveMetrics::bind).transpose()
    }
}

/// The conditions of one `[thresholds]` key: `"<25ms"` or `["<25ms", ">1ms"]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Conditions {
    One(String),
    Many(Vec<String>),
}

/// A scenario file: settings keyed as [`Scenario`]'s fields, `[thresholds]`
/// and a free-text `description`.
struct ScenarioFile {
    path: PathBuf,
    settings: Map<String, Value>,
    /// The key as written for each setting (`ramp-up` for `ramp_up`).
    written: BTreeMap<String, String>,
    thresholds: Vec<String>,
}

impl ScenarioFile {
    fn read(path: &Path) -> Result<ScenarioFile, ConfigError> {
        let err = |why: String| ConfigError::Scenario {
            path: path.display().to_string(),
            why,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        let raw: Map<String, Value> = toml::from_str(&text).map_err(|e| err(e.to_string()))?;
        let mut file = ScenarioFile {
            path: path.to_path_buf(),
            settings: Map::new(),
            written: BTreeMap::new(),
            thresholds: Vec::new(),
        };
        for (key, value) in raw {
            match key.as_str() {
                "description" if value.is_string() => {}
                "description" => return Err(err("description: free text in quotes".into())),
                "thresholds" => file.thresholds = thresholds(value).map_err(err)?,
                _ => {
                    let k = key.replace('-', "_");
                    if let Some(first) = file.written.insert(k.clone(), key.clone()) {
                        return Err(err(format!("{key}: given twice (also as {first})")));
                    }
                    file.settings.insert(k, value);
                }
            }
        }
        Ok(file)
    }

    /// A value that does not fit, named by its key as written.
    fn error(&self, e: LayerError) -> ConfigError {
        let key = self.written.get(&e.key).unwrap_or(&e.key);
        ConfigError::Scenario {
            path: self.path.display().to_string(),
            why: if key.is_empty() {
                e.why
            } else {
                format!("{key}: {}", e.why)
            },
        }
    }
}

/// `[thresholds]` as expressions (`ws.latency.p99<25ms`), in key order.
/// The expressions are checked by the caller (`reports::Threshold`); here
/// only that each condition starts with an operator.
fn thresholds(table: Value) -> Result<Vec<String>, String> {
    let table: BTreeMap<String, Conditions> =
        serde_json::from_value(table).map_err(|e| format!("[thresholds]: {e}"))?;
    let mut out = Vec::new();
    for (metric, conditions) in table {
        let list = match conditions {
            Conditions::One(c) => vec![c],
            Conditions::Many(list) => list,
        };
        if list.is_empty() {
            return Err(format!("[thresholds] \"{metric}\" has no condition"));
        }
        for c in list {
            let c = c.trim();
            if !c.starts_with(['<', '>', '=', '!']) {
                return Err(format!(
                    "[thresholds] \"{metric}\" = \"{c}\": a condition starts with \
                     an operator (<, <=, >, >=, ==, !=), e.g. \"<25ms\""
                ));
            }
            out.push(format!("{}{c}", metric.trim()));
        }
    }
    Ok(out)
}

/// Flags of `rtbench load`: the shared ones, and those of one run.
#[derive(Debug, Clone, clap::Args)]
pub struct LoadArgs {
    /// How clients subscribe: ws, sse, long-poll, short-poll, socketio,
    /// socketio-polling, webtransport or webtransport-datagram (or
    /// `transport` in the scenario file)
    #[arg(long, value_name = "TRANSPORT")]
    pub transport: Option<Transport>,
    #[command(flatten)]
    pub shared: ScenarioArgs,
    /// Run the clients and publishers in N processes on this machine (each
    /// has its own descriptor limit), results merged exactly into one:
    /// clients and publishers are split evenly (rounded up to multiples of
    /// N), the rate is divided
    #[arg(
        long,
        value_name = "N",
        default_value_t = 1,
        value_parser = clap::value_parser!(u32).range(1..=64),
        conflicts_with_all = ["workers", "worker_id", "start_at"]
    )]
    pub processes: u32,
    /// Load workers of one distributed run (processes or machines); each
    /// runs these flags' clients and publishers, and `rtbench report`
    /// merges their files exactly
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub workers: u32,
    /// This worker's number, 0 … N−1 (with --workers)
    #[arg(long = "worker-id", value_name = "K", default_value_t = 0)]
    pub worker_id: u32,
    /// When publishing starts, in UNIX seconds: the same on every worker so
    /// their measured windows line up (ramp-up happens before it)
    #[arg(long = "start-at", value_name = "UNIX_TIME")]
    pub start_at: Option<f64>,
    /// Write the result file (JSON) here
    #[arg(short = 'o', long, value_name = "FILE.json")]
    pub output: Option<PathBuf>,
    /// Summary on stdout: text, or JSON for scripts (the figures of
    /// `rtbench report --format json`)
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Write the per-second series here: CSV for FILE.csv, one JSON object
    /// per line for FILE.ndjson or FILE.jsonl
    #[arg(long = "output-series", value_name = "FILE")]
    pub output_series: Option<PathBuf>,
    /// Read the complete scenario as JSON from standard input instead of
    /// defaults and a file: how `--processes` hands it to its workers
    #[arg(long = "scenario-stdin", hide = true, conflicts_with = "scenario")]
    pub scenario_stdin: bool,
    /// This process already runs on the client side of the emulated link its
    /// parent set up (a `--processes` worker): record --network, start no link
    /// and no server
    #[arg(long = "inside-link", hide = true, requires = "scenario_stdin")]
    pub inside_link: bool,
    /// Extra flag for rtbench's own server when `load --network` starts it
    /// (no --target), e.g. `--server-arg=--heartbeat=5s` (repeatable)
    #[arg(long = "server-arg", value_name = "ARG", allow_hyphen_values = true)]
    pub server_args: Vec<String>,
}

/// What one `rtbench load` runs.
#[derive(Debug, Clone)]
pub struct LoadPlan {
    /// The validated settings of this process's run.
    pub config: Config,
    /// The layered settings (with the transport): what `--processes`
    /// divides among its workers.
    pub scenario: Scenario,
    pub thresholds: Vec<String>,
    /// `--network` without `--target`: rtbench starts its own server on the
    /// link's server side, and [`LoadPlan::set_target`] names it once it runs.
    pub own_server: bool,
}

impl LoadPlan {
    /// The server the run measures, once known (the one started for it).
    pub fn set_target(&mut self, url: &str) -> Result<(), ConfigError> {
        self.scenario.target = url.to_string();
        self.config.targets = vec![crate::config::Target::parse(url)?];
        self.config.validate()
    }
}

/// Where the server side of an emulated link starts out: the link's server
/// address, its port not yet known (see [`LoadPlan::own_server`]).
fn link_server_placeholder() -> String {
    format!("http://{}", netem::SERVER_ADDR)
}

/// Who runs the server, checked before anything starts (shared by `load`
/// and `bench`): `--server-cmd` starts a server whose address the run cannot
/// know, so `--target` must name it; and a `--target` over `--network` can
/// only be a server the run starts on the link's server side, which exists
/// only for the run.
pub fn check_server_cmd(scenario: &Scenario, target_given: bool) -> Result<(), ConfigError> {
    if scenario.network.is_some() && target_given && scenario.server_cmd.is_none() {
        return Err(ConfigError::Conflict {
            flag: "--target",
            why: "with --network but without --server-cmd: the link's server side exists only \
                  for the run, so no server is there yet. Leave --target out to measure rtbench's \
                  own server, or start yours with --server-cmd \"CMD\" (it listens on \
                  $RTBENCH_SERVER_ADDR) and name it with --target"
                .into(),
        });
    }
    if scenario.server_cmd.is_some() && !target_given {
        let example = match scenario.network {
            Some(_) => "http://198.18.0.2:8080",
            None => "http://127.0.0.1:8080",
        };
        return Err(ConfigError::Conflict {
            flag: "--server-cmd",
            why: format!(
                "without --target: give the address your command listens on, e.g. --target {example}"
            ),
        });
    }
    Ok(())
}

impl LoadArgs {
    /// Layer, check and validate the settings once.
    pub fn plan(&self) -> Result<LoadPlan, ConfigError> {
        let base = if self.scenario_stdin {
            let bad = |why: String| ConfigError::Scenario {
                path: "standard input".into(),
                why,
            };
            let text = std::io::read_to_string(std::io::stdin()).map_err(|e| bad(e.to_string()))?;
            Some(serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?)
        } else {
            None
        };
        self.plan_on(base)
    }

    /// As [`Self::plan`], on a complete scenario (a worker's) when given.
    pub fn plan_on(&self, base: Option<Scenario>) -> Result<LoadPlan, ConfigError> {
        let r = self.shared.resolve_on(base)?;
        let mut scenario = r.scenario.clone();
        if let Some(t) = self.transport {
            scenario.transport = Some(t);
        }
        let transport = scenario.transport.ok_or(ConfigError::Missing {
            flag: "--transport",
        })?;
        // Naming the flag beats silently ignoring it.
        for (key, flag, only) in TRANSPORT_ONLY {
            if transport != only && r.flag_given(key) {
                return Err(ConfigError::Conflict {
                    flag,
                    why: format!("with --transport {transport} (it applies to {only} only)"),
                });
            }
        }
        let target_given = r.is_set("target");
        let own_server = scenario.network.is_some() && !target_given && !self.inside_link;
        if !self.server_args.is_empty() && !own_server {
            return Err(ConfigError::Conflict {
                flag: "--server-arg",
                why: "here: it configures the server `load --network` starts itself (without \
                      --target); configure your own server instead"
                    .into(),
            });
        }
        if own_server {
            scenario.target = link_server_placeholder();
        }
        if self.processes > 1 && self.shared.metrics_addr.is_some() {
            return Err(ConfigError::Conflict {
                flag: "--metrics-addr",
                why: "with --processes (each worker process has its own figures)".into(),
            });
        }
        if self.processes > 1 && scenario.publishers_at == PublishersAt::Server {
            return Err(ConfigError::Conflict {
                flag: "--publishers-at",
                why: "server with --processes (not supported yet): workers run inside the \
                      link's client side"
                    .into(),
            });
        }
        let run = RunOptions {
            workers: self.workers,
            worker_id: self.worker_id,
            start_at: self.start_at,
            metrics: self.shared.bind_metrics()?,
            ..self.shared.run_options()
        };
        let config = Config::from_scenario(scenario.clone(), run)?;
        if !self.inside_link {
            check_server_cmd(&scenario, target_given)?;
        }
        Ok(LoadPlan {
            config,
            scenario,
            thresholds: r.thresholds,
            own_server,
        })
    }

    /// The validated settings of this run.
    pub fn into_config(self) -> Result<Config, ConfigError> {
        self.plan().map(|p| p.config)
    }

    /// The thresholds to check after the run, as expression strings.
    pub fn threshold_exprs(&self) -> Result<Vec<String>, ConfigError> {
        self.shared.resolve().map(|r| r.thresholds)
    }
}

#[cfg(test)]
mod tests;
