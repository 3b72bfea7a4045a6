//! `rtbench bench`: the whole comparison in one command. For each matrix
//! cell, repeat and transport it starts a fresh child server (unless
//! `--target` names one), runs the load generator, writes the result file,
//! and at the end renders the report over every file it wrote.

use super::matrix::{Axis, Cell, cells, file_name, parse_axis};
use super::out::errln;
use super::report::Format;
use super::stage::{ServerPlan, Stage};
use super::{CliError, Done, cancel_on_signal, check_thresholds, command_line};
use anyhow::Context;
use clap::Args;
use loadgen::{Resolved, Scenario, ScenarioArgs};
use protocol::Transport;
use std::path::PathBuf;
use tokio_util::sync::CancellationToken;

/// Flags of `rtbench bench`: the scenario flags `rtbench load` has too, and
/// these. Bench's own defaults (below, and in `--help`) finish in about two
/// minutes on a small machine and still show the differences; a
/// `--scenario` file starts from load's defaults instead.
#[derive(Debug, Clone, Args)]
#[command(
    mut_arg("target", |a| a
        .help("Server to measure: http(s)://HOST[:PORT], HOST an IP address or a name resolved \
at the start of each run (with --network, the link's server side http://198.18.0.2:PORT) \
[default: a fresh `rtbench server` per run, behind a fresh link with --network]")
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
    /// Transports to compare, comma-separated, or `all` [default: those the
    /// --profile defines (all for rtbench's), except webtransport-datagram,
    /// which drops by design and runs only when named]
    #[arg(long, value_name = "LIST", value_parser = parse_transports)]
    pub transports: Option<TransportList>,
    /// Directory for the result files and the report
    #[arg(
        long,
        short = 'o',
        alias = "out",
        value_name = "DIR",
        default_value = "rtbench-report"
    )]
    pub output: PathBuf,
    /// A sweep: `clients=100,1000,5000`, `rate=1,10,100`, `size=100,1k` or
    /// `network=lan,lte,3g`; repeat the flag for a grid. Each cell is one run
    /// per transport. A network with keys has commas of its own: alone it is
    /// one value (`network=lte,loss=2%`); several are separated by `;`
    /// (`network=lte;lte,loss=2%;rtt=80ms,loss=1%`)
    #[arg(long, value_name = "KEY=V1,V2,…", value_parser = parse_axis)]
    pub matrix: Vec<Axis>,
    /// Runs per cell and transport; the report shows the median and the spread
    #[arg(long, value_name = "K", default_value = "1", value_parser = clap::value_parser!(u32).range(1..=100))]
    pub repeat: u32,
    /// Summary on stdout: text (a table), or JSON for scripts
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Extra flag for each child server, e.g. `--server-arg=--inject-latency=2ms`
    /// (repeatable; not with --target)
    #[arg(long = "server-arg", value_name = "ARG", allow_hyphen_values = true)]
    pub server_args: Vec<String>,
    /// Write every run's per-second series to one file (columns run and
    /// transport tell them apart): CSV for FILE.csv, one JSON object per
    /// line for FILE.ndjson or FILE.jsonl
    #[arg(long = "output-series", value_name = "FILE")]
    pub output_series: Option<PathBuf>,
}

/// Runs the comparison, renders the report and checks the thresholds.
pub async fn run(args: BenchArgs) -> Result<Done, CliError> {
    let resolved = args.shared.resolve()?;
    let thresholds = reports::Threshold::parse_all(&resolved.thresholds)?;
    if let Some(p) = &args.output_series {
        loadgen::SeriesFormat::from_path(p)?;
        loadgen::check_output_writable(p)?;
    }
    let cancel = CancellationToken::new();
    cancel_on_signal(cancel.clone());
    let outcome = run_all(&args, &resolved, cancel).await?;
    if outcome.files.is_empty() {
        return Err(anyhow::anyhow!("no run finished, so there is nothing to report").into());
    }
    super::report::render(&outcome.files, &args.output, args.format, command_line())?;
    for p in &outcome.problems {
        errln!("rtbench bench: {p}");
    }
    if outcome.cancelled {
        errln!("rtbench bench: interrupted; the report covers the runs that finished");
    }
    let files = reports::load_results(&outcome.files)?;
    if let Some(p) = &args.output_series {
        loadgen::write_series(p, &files).with_context(|| format!("writing {}", p.display()))?;
        errln!("series: {}", p.display());
    }
    let passed = check_thresholds(&thresholds, &files, args.format)?;
    Ok(if !passed {
        Done::Gate
    } else if outcome.failed || outcome.cancelled {
        Done::Problems
    } else {
        Done::Ok
    })
}

/// The transports to run: as asked, refusing any the profile does not
/// define; by default every one it defines.
fn transports(args: &BenchArgs, scenario: &Scenario) -> Result<Vec<Transport>, CliError> {
    let profile = match &scenario.profile {
        Some(p) => loadgen::Profile::load(p).map_err(loadgen::ConfigError::Profile)?,
        None => loadgen::Profile::builtin(),
    };
    let Some(asked) = &args.transports else {
        // Datagrams drop by design: compared only when asked for.
        return Ok(profile
            .transports()
            .into_iter()
            .filter(|t| !t.drops_by_design())
            .collect());
    };
    let missing: Vec<&str> = asked
        .0
        .iter()
        .filter(|t| profile.sub(**t).is_none())
        .map(|t| t.as_str())
        .collect();
    if !missing.is_empty() {
        let defined: Vec<&str> = profile.transports().iter().map(|t| t.as_str()).collect();
        return Err(CliError::usage(format!(
            "--transports names {} but profile '{}' ({}) defines only {}: add a section for it to the profile or leave it out",
            missing.join(", "),
            profile.name,
            profile.source_name,
            defined.join(", ")
        )));
    }
    Ok(asked.0.clone())
}

/// A flag for one transport that this bench does not run would change
/// nothing: refused, as `load` refuses it.
fn check_transport_flags(resolved: &Resolved, transports: &[Transport]) -> Result<(), CliError> {
    for (key, flag, t) in [
        ("poll_interval", "--poll-interval", Transport::ShortPoll),
        ("long_poll_wait", "--long-poll-wait", Transport::LongPoll),
    ] {
        if resolved.flag_given(key) && !transports.contains(&t) {
            return Err(CliError::usage(format!(
                "{flag} is for {t}, which this bench does not run (see --transports)"
            )));
        }
    }
    Ok(())
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
        let names = Transport::ALL.map(Transport::as_str).join(", ");
        return Err(format!("name at least one transport ({names}) or `all`"));
    }
    v.sort();
    Ok(TransportList(v))
}

/// What the bench did.
#[derive(Debug, Default)]
struct Outcome {
    files: Vec<PathBuf>,
    /// What a reader should know: loss, errors, failed publishes, partial runs.
    problems: Vec<String>,
    /// A run was partial or its server did not stop cleanly.
    failed: bool,
    cancelled: bool,
}

/// Runs every cell × repeat × transport, writing `out/results/*.json`.
async fn run_all(
    args: &BenchArgs,
    resolved: &Resolved,
    cancel: CancellationToken,
) -> Result<Outcome, CliError> {
    // A target from the file or a flag; else bench starts its own servers.
    let target = resolved
        .is_set("target")
        .then(|| resolved.scenario.target.clone());
    if target.is_some() && !args.server_args.is_empty() {
        return Err(CliError::usage(
            "--server-arg configures the servers bench starts itself; with --target, configure that server instead",
        ));
    }
    let cells = cells(&args.matrix);
    let transports = transports(args, &resolved.scenario)?;
    check_transport_flags(resolved, &transports)?;
    // Every run's settings, checked before the first run starts.
    for cell in &cells {
        let scenario = cell.apply(&resolved.scenario)?;
        let placeholder = own_server_placeholder(&scenario);
        let own = target.is_none().then_some(placeholder.as_str());
        for &t in &transports {
            run_config(args, resolved, cell, t, own)?;
        }
        loadgen::check_server_cmd(&scenario, target.is_some())?;
    }
    if resolved.scenario.server_cmd.is_some() && !args.server_args.is_empty() {
        return Err(CliError::usage(
            "--server-arg configures rtbench's own server; with --server-cmd, put the flags in the command",
        ));
    }
    if target.is_none() && resolved.scenario.server_pid.is_some() {
        return Err(CliError::usage(
            "--server-pid names a server you started (give its --target); bench measures the servers it starts itself through their /api/stats",
        ));
    }
    let results_dir = args.output.join("results");
    std::fs::create_dir_all(&results_dir).with_context(|| {
        format!(
            "cannot create {}: choose a writable --output directory",
            results_dir.display()
        )
    })?;
    // Refuse early (before minutes of load) if the directory cannot take files.
    loadgen::check_output_writable(&results_dir.join(".probe.json"))?;

    let total = cells.len() * args.repeat as usize * transports.len();
    let bench = Bench {
        args,
        resolved,
        target,
        results_dir,
        cancel,
        metrics: args.shared.bind_metrics()?,
    };
    let mut outcome = Outcome::default();
    let mut n = 0;
    'all: for cell in &cells {
        for rep in 1..=args.repeat {
            for &t in &transports {
                n += 1;
                if bench.cancel.is_cancelled() {
                    outcome.cancelled = true;
                    break 'all;
                }
                let name = file_name(cell, rep, args.repeat, t);
                bench
                    .run_one(cell, t, name, &format!("[{n}/{total}]"), &mut outcome)
                    .await?;
                if outcome.cancelled {
                    break 'all;
                }
            }
        }
    }
    Ok(outcome)
}

/// What every run of one bench shares.
struct Bench<'a> {
    args: &'a BenchArgs,
    resolved: &'a Resolved,
    /// The server to measure; `None`: a fresh child server per run.
    target: Option<String>,
    results_dir: PathBuf,
    cancel: CancellationToken,
    /// `--metrics-addr`: one endpoint that each run serves in turn.
    metrics: Option<std::sync::Arc<loadgen::live::LiveMetrics>>,
}

impl Bench<'_> {
    /// One cell × repeat × transport: starts its server (unless there is a
    /// target), runs the load, writes `name` and notes what went wrong.
    async fn run_one(
        &self,
        cell: &Cell,
        t: Transport,
        name: String,
        progress: &str,
        outcome: &mut Outcome,
    ) -> Result<(), CliError> {
        let path = self.results_dir.join(&name);
        let scenario = cell.apply(&self.resolved.scenario)?;
        // Settings are checked before anything starts (the own server's
        // address stands in for the one it will get).
        let placeholder = own_server_placeholder(&scenario);
        let own = self.target.is_none().then_some(placeholder.as_str());
        let cfg = run_config(self.args, self.resolved, cell, t, own)?;
        let server = match (&self.target, &scenario.server_cmd, cfg.targets.as_slice()) {
            (None, _, _) => ServerPlan::Own(&self.args.server_args),
            (Some(_), Some(cmd), [target]) => {
                ServerPlan::Cmd(cmd, super::stage::server_cmd_addr(target)?)
            }
            (Some(_), Some(_), _) => {
                return Err(CliError::usage(
                    "--server-cmd starts one server: give one --target, the address it listens on",
                ));
            }
            (Some(_), None, _) => ServerPlan::Given,
        };
        // A fresh link per run, as a fresh server: no run inherits another's
        // queues, flows or middlebox state, and the link's counters in the
        // result file are this run's alone.
        let stage = Stage::start(&scenario, server).await?;
        let mut cfg = run_config(self.args, self.resolved, cell, t, stage.own_url())?;
        cfg.client_ns = stage.client_ns();
        cfg.server_ns = stage.server_ns();
        cfg.metrics = self.metrics.clone();
        // WebTransport to bench's own server: pin the certificate its
        // start-up line named (unless told how to trust it).
        let tls = &mut cfg.tls;
        if t.is_webtransport() && !tls.insecure && tls.ca_cert.is_none() && tls.cert_hash.is_none()
        {
            tls.cert_hash = stage.own_cert_hash().map(str::to_string);
        }
        errln!(
            "{progress} {t}: {} clients, {} msg/s, {} B, {:?} measured{} → {}",
            cfg.clients,
            protocol::format::sig3(cfg.rate_per_sec),
            cfg.size_bytes,
            cfg.duration,
            if cell.is_empty() {
                String::new()
            } else {
                format!(" ({})", cell.label())
            },
            path.display()
        );
        let r = loadgen::run(cfg, self.cancel.child_token()).await;
        let link = stage.link_result();
        if let Err(e) = stage.stop().await {
            outcome.problems.push(format!("{name}: {e:#}"));
            outcome.failed = true;
        }
        let mut r = r?;
        r.file.link = link;
        loadgen::write_results(&path, &r.file)
            .with_context(|| format!("writing {}", path.display()))?;
        outcome.files.push(path);
        outcome.failed |= r.partial;
        outcome
            .problems
            .extend(r.problems.iter().map(|p| format!("{name}: {p}")));
        outcome.cancelled |= r.cancelled;
        Ok(())
    }
}

/// Where bench's own server will be: the link's server side over a network,
/// else loopback (the port is known once it runs).
fn own_server_placeholder(scenario: &Scenario) -> String {
    match scenario.network {
        Some(_) => format!("http://{}", netem::SERVER_ADDR),
        None => "http://127.0.0.1".to_string(),
    }
}

/// The settings of one run: the cell over the layered settings (as one
/// more layer), this transport, and the server bench started, if any.
pub fn run_config(
    args: &BenchArgs,
    resolved: &Resolved,
    cell: &Cell,
    t: Transport,
    server_url: Option<&str>,
) -> Result<loadgen::Config, CliError> {
    let mut scenario = cell.apply(&resolved.scenario)?;
    scenario.transport = Some(t);
    if let Some(url) = server_url {
        scenario.target = url.to_string();
    }
    Ok(loadgen::Config::from_scenario(
        scenario,
        args.shared.run_options(),
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transport_lists() {
        assert_eq!(
            parse_transports("all").map(|l| l.0.len()).ok(),
            Some(Transport::COUNT)
        );
        assert_eq!(
            parse_transports("ws, short-poll,ws").map(|l| l.0).ok(),
            Some(vec![Transport::ShortPoll, Transport::Ws])
        );
        assert!(parse_transports("pigeon").is_err());
        assert!(parse_transports(",").is_err());
    }
}
