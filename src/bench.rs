//! `rtbench bench`: the whole comparison in one command. For each matrix
//! cell, repeat and transport it starts a fresh child server (unless
//! `--target` names one), runs the load generator, writes the result file,
//! and at the end renders the report over every file it wrote.

use crate::child::ChildServer;
use anyhow::{Context, bail};
use clap::Args;
use loadgen::{Resolved, Scenario, ScenarioArgs};
use protocol::Transport;
use std::path::PathBuf;
use tokio_util::sync::CancellationToken;

/// Flags of `rtbench bench`: the scenario flags `rtbench load` has too, and
/// these. Bench's own defaults (below, and in `--help`) finish in about two
/// minutes on a 2-core machine and still show the differences; a
/// `--scenario` file starts from load's defaults instead.
#[derive(Debug, Clone, Args)]
#[command(
    mut_arg("target", |a| a
        .help("Server to measure (loopback only) [default: a fresh `rtbench server` per run]")
        .hide_default_value(true)),
    mut_arg("clients", |a| a.default_value("1000")),
    mut_arg("duration", |a| a.default_value("20s")),
    mut_arg("warmup", |a| a.default_value("2s")),
    after_help = "Defaults shown for --clients, --duration and --warmup are bench's; with \
--scenario FILE, settings start from `rtbench load`'s defaults and the file instead."
)]
pub struct BenchArgs {
    #[command(flatten)]
    pub shared: ScenarioArgs,
    /// Transports to compare, comma-separated, or `all` [default: all, or
    /// those the --profile defines]
    #[arg(long, value_name = "LIST", value_parser = parse_transports)]
    pub transports: Option<TransportList>,
    /// Directory for the result files and the report
    #[arg(
        long,
        short = 'o',
        value_name = "DIR",
        default_value = "rtbench-report"
    )]
    pub out: PathBuf,
    /// A sweep: `clients=100,1000,5000`, `rate=1,10,100` or `size=100,1k`;
    /// repeat the flag for a grid. Each cell is one run per transport.
    #[arg(long, value_name = "KEY=V1,V2,…", value_parser = parse_axis)]
    pub matrix: Vec<Axis>,
    /// Runs per cell and transport; the report shows the median and the spread
    #[arg(long, value_name = "K", default_value = "1", value_parser = clap::value_parser!(u32).range(1..=100))]
    pub repeat: u32,
    /// Summary on stdout: a table, or JSON for scripts
    #[arg(long, value_enum, default_value = "table")]
    pub format: crate::Format,
    /// Extra flag for each child server, e.g. `--server-arg=--inject-latency=2ms`
    /// (repeatable; not with --target)
    #[arg(long = "server-arg", value_name = "ARG", allow_hyphen_values = true)]
    pub server_args: Vec<String>,
}

/// The transports to run: as asked, refusing any the profile does not
/// define; by default every one it defines.
fn transports(args: &BenchArgs, scenario: &Scenario) -> anyhow::Result<Vec<Transport>> {
    let profile = match &scenario.profile {
        Some(p) => loadgen::Profile::load(p).map_err(|e| crate::Usage(format!("--profile {e}")))?,
        None => loadgen::Profile::builtin(),
    };
    let Some(asked) = &args.transports else {
        return Ok(profile.transports());
    };
    let missing: Vec<&str> = asked
        .0
        .iter()
        .filter(|t| profile.sub(**t).is_none())
        .map(|t| t.as_str())
        .collect();
    if !missing.is_empty() {
        let defined: Vec<&str> = profile.transports().iter().map(|t| t.as_str()).collect();
        bail!(crate::Usage(format!(
            "--transports names {} but profile '{}' ({}) defines only {}: add a section for it to the profile or leave it out",
            missing.join(", "),
            profile.name,
            profile.source_name,
            defined.join(", ")
        )));
    }
    Ok(asked.0.clone())
}

/// Transports in report order.
#[derive(Debug, Clone)]
pub struct TransportList(pub Vec<Transport>);

pub fn parse_transports(s: &str) -> Result<TransportList, String> {
    if s.trim().eq_ignore_ascii_case("all") {
        return Ok(TransportList(Transport::ALL.to_vec()));
    }
    let mut v = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let t: Transport = part
            .parse()
            .map_err(|e: protocol::ParseTransportError| e.to_string())?;
        if !v.contains(&t) {
            v.push(t);
        }
    }
    if v.is_empty() {
        return Err("name at least one transport (short-poll, long-poll, sse, ws) or `all`".into());
    }
    v.sort();
    Ok(TransportList(v))
}

/// One swept setting and its values.
#[derive(Debug, Clone)]
pub struct Axis {
    pub key: AxisKey,
    pub values: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AxisKey {
    Clients,
    Rate,
    Size,
}

impl AxisKey {
    fn name(self) -> &'static str {
        match self {
            AxisKey::Clients => "clients",
            AxisKey::Rate => "rate",
            AxisKey::Size => "size",
        }
    }
}

fn parse_axis(s: &str) -> Result<Axis, String> {
    let (k, vs) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?}: expected KEY=V1,V2,… e.g. clients=100,1000"))?;
    let key = match k.trim() {
        "clients" => AxisKey::Clients,
        "rate" => AxisKey::Rate,
        "size" => AxisKey::Size,
        other => {
            return Err(format!(
                "unknown matrix key {other:?}: use clients, rate or size"
            ));
        }
    };
    let values: Vec<String> = vs
        .split(',')
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect();
    // The flag's parser, through the same layering as a cell's run.
    for v in &values {
        Scenario::defaults()
            .with(key.name(), v)
            .map_err(|e| format!("{}={v}: {}", key.name(), e.why))?;
    }
    if values.is_empty() {
        return Err(format!("{}= needs at least one value", key.name()));
    }
    Ok(Axis { key, values })
}

/// One point of the sweep: the settings it overrides.
#[derive(Debug, Clone, Default)]
struct Cell(Vec<(AxisKey, String)>);

impl Cell {
    fn label(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("{}={v}", k.name()))
            .collect::<Vec<_>>()
            .join("-")
    }

    /// The cell's settings over `base`, as if given as flags.
    fn apply(&self, base: &Scenario) -> anyhow::Result<Scenario> {
        let mut s = base.clone();
        for (k, v) in &self.0 {
            s = s
                .with(k.name(), v)
                .map_err(|e| crate::Usage(format!("--matrix {}={v}: {}", k.name(), e.why)))?;
        }
        Ok(s)
    }
}

fn cells(axes: &[Axis]) -> Vec<Cell> {
    let mut out = vec![Cell::default()];
    for axis in axes {
        out = out
            .into_iter()
            .flat_map(|c| {
                axis.values.iter().map(move |v| {
                    let mut c = c.clone();
                    c.0.push((axis.key, v.clone()));
                    c
                })
            })
            .collect();
    }
    out
}

/// What the bench did.
#[derive(Debug)]
pub struct Outcome {
    pub files: Vec<PathBuf>,
    /// What a reader should know: loss, errors, failed publishes, partial runs.
    pub problems: Vec<String>,
    /// A run was partial or its server did not stop cleanly.
    pub failed: bool,
    pub cancelled: bool,
}

/// Runs every cell × repeat × transport, writing `out/results/*.json`.
pub async fn run(
    args: BenchArgs,
    resolved: Resolved,
    cancel: CancellationToken,
) -> anyhow::Result<Outcome> {
    // A target from the file or a flag; else bench starts its own servers.
    let target = resolved
        .is_set("target")
        .then(|| resolved.scenario.target.clone());
    if target.is_some() && !args.server_args.is_empty() {
        bail!(crate::Usage(
            "--server-arg configures the servers bench starts itself; with --target, configure that server instead".into()
        ));
    }
    if target.is_none() && resolved.scenario.server_pid.is_some() {
        bail!(crate::Usage(
            "--server-pid names a server you started (give its --target); bench measures the servers it starts itself through their /api/stats".into()
        ));
    }
    let results_dir = args.out.join("results");
    std::fs::create_dir_all(&results_dir).with_context(|| {
        format!(
            "cannot create {}: choose a writable --out directory",
            results_dir.display()
        )
    })?;
    // Refuse early (before minutes of load) if the directory cannot take files.
    loadgen::check_output_writable(&results_dir.join(".probe.json"))
        .map_err(|e| crate::Usage(e.to_string()))?;

    let cells = cells(&args.matrix);
    let transports = transports(&args, &resolved.scenario)?;
    let total = cells.len() * args.repeat as usize * transports.len();
    let mut outcome = Outcome {
        files: Vec::new(),
        problems: Vec::new(),
        failed: false,
        cancelled: false,
    };
    let mut n = 0;
    'all: for cell in &cells {
        for rep in 1..=args.repeat {
            for &t in &transports {
                n += 1;
                if cancel.is_cancelled() {
                    outcome.cancelled = true;
                    break 'all;
                }
                let mut scenario = cell.apply(&resolved.scenario)?;
                let name = file_name(cell, rep, args.repeat, t);
                let path = results_dir.join(&name);
                let server = match &target {
                    Some(_) => None,
                    None => Some(
                        ChildServer::start(&args.server_args)
                            .await
                            .context("starting the server for this run")?,
                    ),
                };
                scenario.transport = Some(t);
                if let Some(s) = &server {
                    scenario.target = s.url.clone();
                }
                let cfg = loadgen::Config::from_scenario(scenario, args.shared.run_options())
                    .map_err(|e| crate::Usage(e.to_string()))?;
                eprintln!(
                    "[{n}/{total}] {t}: {} clients, {} msg/s, {} B, {:?} measured{} → {}",
                    cfg.clients,
                    cfg.rate_per_sec,
                    cfg.size_bytes,
                    cfg.duration,
                    if cell.0.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", cell.label())
                    },
                    path.display()
                );
                let r = loadgen::run(cfg, cancel.child_token()).await;
                if let Some(s) = server
                    && let Err(e) = s.stop().await
                {
                    outcome.problems.push(format!("{name}: {e:#}"));
                    outcome.failed = true;
                }
                let r = r.map_err(|e| {
                    if e.is_usage() {
                        anyhow::Error::new(crate::Usage(e.to_string()))
                    } else {
                        anyhow::Error::new(e)
                    }
                })?;
                loadgen::write_results(&path, &r.file)
                    .with_context(|| format!("writing {}", path.display()))?;
                outcome.files.push(path);
                outcome.failed |= r.partial;
                outcome
                    .problems
                    .extend(r.problems.iter().map(|p| format!("{name}: {p}")));
                if r.cancelled {
                    outcome.cancelled = true;
                    break 'all;
                }
            }
        }
    }
    Ok(outcome)
}

fn file_name(cell: &Cell, rep: u32, repeats: u32, t: Transport) -> String {
    let mut s = String::new();
    if !cell.0.is_empty() {
        s.push_str(&cell.label());
        s.push('-');
    }
    s.push_str(t.as_str());
    if repeats > 1 {
        s.push_str(&format!("-r{rep}"));
    }
    s.push_str(".json");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matrix_cells_are_the_product() {
        let axes = vec![
            parse_axis("clients=10,20").expect("axis"),
            parse_axis("rate=1,5").expect("axis"),
        ];
        let c = cells(&axes);
        assert_eq!(c.len(), 4);
        assert_eq!(c[0].label(), "clients=10-rate=1");
        assert_eq!(c[3].label(), "clients=20-rate=5");
        assert!(parse_axis("colour=red").is_err());
        assert!(parse_axis("clients=ten").is_err());
        assert_eq!(
            file_name(&c[1], 2, 3, Transport::Sse),
            "clients=10-rate=5-sse-r2.json"
        );
        assert_eq!(file_name(&Cell::default(), 1, 1, Transport::Ws), "ws.json");
    }

    #[test]
    fn transport_lists() {
        assert_eq!(parse_transports("all").map(|l| l.0.len()).ok(), Some(4));
        assert_eq!(
            parse_transports("ws, short-poll,ws").map(|l| l.0).ok(),
            Some(vec![Transport::ShortPoll, Transport::Ws])
        );
        assert!(parse_transports("pigeon").is_err());
        assert!(parse_transports(",").is_err());
    }
}
