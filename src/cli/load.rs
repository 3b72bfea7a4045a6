//! `rtbench load`: one transport measured, in this process or, with
//! `--processes N`, in N worker processes merged into one result.

use super::{CliError, Done, cancel_on_signal, check_thresholds, processes};
use anyhow::Context;
use tokio_util::sync::CancellationToken;

pub async fn run(args: loadgen::LoadArgs) -> Result<Done, CliError> {
    let output = args.output.clone();
    let processes = args.processes;
    let plan = args.plan()?;
    let thresholds = reports::Threshold::parse_all(&plan.thresholds)?;
    let cfg = plan.config;
    // A scenario file shared with `bench` may hold thresholds for the other
    // transports: this run cannot measure them, which is no failure.
    let (thresholds, skipped): (Vec<_>, Vec<_>) = thresholds
        .into_iter()
        .partition(|t| t.applies_to(cfg.transport));
    for t in &skipped {
        eprintln!(
            "rtbench load: threshold {t} does not apply to {}; skipped",
            cfg.transport
        );
    }
    if let Some(p) = &output {
        loadgen::check_output_writable(p)?;
    }
    if processes > 1 {
        // Ctrl-C ends every worker early with partial results, merged as usual.
        let cancel = CancellationToken::new();
        cancel_on_signal(cancel.clone());
        let dir = processes::WorkDir::new(output.as_ref());
        let file = processes::run(processes, &plan.scenario, &cfg, &dir.path, cancel).await?;
        loadgen::print_summary(&file, std::io::stdout().lock())?;
        if let Some(p) = &output {
            loadgen::write_results(p, &file).with_context(|| format!("writing {}", p.display()))?;
            eprintln!("results: {}", p.display());
        }
        let passed = check_thresholds(&thresholds, std::slice::from_ref(&file))?;
        return Ok(if !passed {
            Done::Gate
        } else if file.partial {
            Done::Problems
        } else {
            Done::Ok
        });
    }
    let cancel = CancellationToken::new();
    cancel_on_signal(cancel.clone());
    let r = loadgen::run(cfg, cancel).await?;
    loadgen::print_summary(&r.file, std::io::stdout().lock())?;
    if let Some(p) = &output {
        loadgen::write_results(p, &r.file).with_context(|| format!("writing {}", p.display()))?;
        eprintln!("results: {}", p.display());
    }
    for p in &r.problems {
        eprintln!("rtbench load: {p}");
    }
    let passed = check_thresholds(&thresholds, std::slice::from_ref(&r.file))?;
    // Loss and errors are measurements (thresholds judge them); a run that
    // did not complete is a failure.
    Ok(if !passed {
        Done::Gate
    } else if r.partial || r.cancelled {
        Done::Problems
    } else {
        Done::Ok
    })
}
