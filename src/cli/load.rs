//! `rtbench load`: one transport measured, in this process or, with
//! `--processes N`, in N worker processes merged into one result. With
//! `--network` the load crosses an emulated link (to rtbench's own server
//! unless `--target` names another); with `--server-cmd` the run starts
//! and stops that server.

use super::out::errln;
use super::stage::{ServerPlan, Stage};
use super::{CliError, Done, cancel_on_signal, check_thresholds, processes};
use anyhow::Context;
use std::io::Write;
use tokio_util::sync::CancellationToken;

pub async fn run(args: loadgen::LoadArgs) -> Result<Done, CliError> {
    let output = args.output.clone();
    let processes = args.processes;
    let mut plan = args.plan()?;
    if processes > 1 && plan.config.stages.is_some() {
        return Err(loadgen::ConfigError::Conflict {
            flag: "--stages",
            why: "with --workers or --processes (not supported yet): run one staged process".into(),
        }
        .into());
    }
    let thresholds = reports::Threshold::parse_all(&plan.thresholds)?;
    // A scenario file shared with `bench` may hold thresholds for the other
    // transports: this run cannot measure them, which is no failure.
    let (thresholds, skipped): (Vec<_>, Vec<_>) = thresholds
        .into_iter()
        .partition(|t| t.applies_to(plan.config.transport));
    for t in &skipped {
        errln!(
            "rtbench load: threshold {t} does not apply to {}; skipped",
            plan.config.transport
        );
    }
    if let Some(p) = &output {
        loadgen::check_output_writable(p)?;
    }
    if let Some(addr) = plan.config.metrics.as_ref().and_then(|m| m.local_addr()) {
        errln!("rtbench load: live metrics at http://{addr}/metrics");
    }
    if let Some(p) = &args.output_series {
        loadgen::SeriesFormat::from_path(p)?;
        loadgen::check_output_writable(p)?;
    }
    let stage = start_stage(&args, &mut plan).await?;
    let cancel = CancellationToken::new();
    cancel_on_signal(cancel.clone());
    let measured = measure(processes, output.as_ref(), &plan, &stage, cancel).await;
    let stopped = stage.stop().await;
    let (file, partial) = measured?;
    if let Err(e) = stopped {
        errln!("rtbench load: {e:#}");
    }
    print(&file, args.format)?;
    if let Some(p) = &output {
        loadgen::write_results(p, &file).with_context(|| format!("writing {}", p.display()))?;
        // A `--processes` worker's file is its parent's to read, not the user's.
        if !args.scenario_stdin {
            errln!("results: {}", p.display());
        }
    }
    if let Some(p) = &args.output_series {
        loadgen::write_series(p, std::slice::from_ref(&file))
            .with_context(|| format!("writing {}", p.display()))?;
        errln!("series: {}", p.display());
    }
    let passed = check_thresholds(&thresholds, std::slice::from_ref(&file), args.format)?;
    // Loss and errors are measurements (thresholds judge them); a run that
    // did not complete is a failure.
    Ok(if !passed {
        Done::Gate
    } else if partial {
        Done::Problems
    } else {
        Done::Ok
    })
}

/// The summary on stdout: text, or the figures `rtbench report --format
/// json` gives for the same file.
fn print(file: &loadgen::results::ResultFile, format: loadgen::Format) -> Result<(), CliError> {
    let mut out = super::out::stdout();
    match format {
        loadgen::Format::Text => loadgen::print_summary(file, &mut out)?,
        loadgen::Format::Json => {
            let comparison = reports::merge(std::slice::from_ref(file))?;
            serde_json::to_writer_pretty(&mut out, &reports::summary_json(&comparison))?;
            writeln!(out)?;
        }
    }
    Ok(())
}

/// The link and the server of this run (none on plain loopback); the plan
/// learns where the server is and where sockets go.
async fn start_stage(
    args: &loadgen::LoadArgs,
    plan: &mut loadgen::LoadPlan,
) -> Result<Stage, CliError> {
    let scenario = plan.scenario.clone();
    let server = if args.inside_link {
        // A worker: its parent owns the link and the server.
        ServerPlan::Given
    } else if plan.own_server {
        ServerPlan::Own(&args.server_args)
    } else if let Some(cmd) = &scenario.server_cmd {
        let [target] = plan.config.targets.as_slice() else {
            return Err(CliError::usage(
                "--server-cmd starts one server: give one --target, the address it listens on",
            ));
        };
        ServerPlan::Cmd(cmd, super::stage::server_cmd_addr(target)?)
    } else {
        ServerPlan::Given
    };
    let mut network = scenario.clone();
    if args.inside_link {
        network.network = None;
    }
    let stage = Stage::start(&network, server).await?;
    if let Some(url) = stage.own_url() {
        plan.set_target(url)?;
    }
    plan.config.client_ns = stage.client_ns();
    plan.config.server_ns = stage.server_ns();
    Ok(stage)
}

/// The run, in this process or in `processes` workers: the result file (with
/// the link's account) and whether it is partial.
async fn measure(
    processes: u32,
    output: Option<&std::path::PathBuf>,
    plan: &loadgen::LoadPlan,
    stage: &Stage,
    cancel: CancellationToken,
) -> Result<(loadgen::results::ResultFile, bool), CliError> {
    if processes > 1 {
        // Ctrl-C ends every worker early with partial results, merged as usual.
        let dir = processes::WorkDir::new(output);
        let client_ns = stage.client_ns();
        let mut file = processes::run(
            processes,
            &plan.scenario,
            &plan.config,
            &dir.path,
            client_ns.as_ref(),
            cancel,
        )
        .await?;
        file.link = stage.link_result();
        let partial = file.partial;
        return Ok((file, partial));
    }
    let r = loadgen::run(plan.config.clone(), cancel).await?;
    let mut file = r.file;
    file.link = stage.link_result();
    for p in &r.problems {
        errln!("rtbench load: {p}");
    }
    Ok((file, r.partial || r.cancelled))
}
