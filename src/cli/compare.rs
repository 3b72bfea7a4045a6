//! `rtbench compare`: a baseline against current results, failing on a
//! regression (exit 99): the performance gate for CI.

use super::report::Format;
use super::{CliError, Done};
use anyhow::Context;
use clap::Args;
use std::io::Write;
use std::path::PathBuf;

#[derive(Args, Debug)]
#[command(
    after_help = "Default gates: latency.p50=+15%, latency.p99=+25%, deliveries_per_sec=-5%, \
bytes_per_delivery=+3%, loss=+0, duplicate=+0, reordered=+0, errors=+0. A gate given with \
--max-regression replaces the default for its metric.\n\nWith repeats on both sides (bench \
--repeat 3) a change is a regression only if the median moved past the gate AND every current run \
is worse than every baseline run; single runs compare plainly. Exit codes: 0 pass, 99 regression, \
2 usage or input error."
)]
pub struct CompareArgs {
    /// Baseline: a result file, a `bench` output folder, or a folder of repeats
    baseline: PathBuf,
    /// Current results, in the same forms
    current: PathBuf,
    /// A gate, e.g. p99=+10%, deliveries_per_sec=-5%, bytes_per_delivery=+2%, loss=+0 (repeatable)
    #[arg(long = "max-regression", value_name = "METRIC=CHANGE", value_parser = parse_gate)]
    gates: Vec<reports::Gate>,
    /// Also write the comparison here, as --format says (text or JSON)
    #[arg(short = 'o', long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Also write the comparison as Markdown (a ready PR comment)
    #[arg(long, value_name = "FILE")]
    markdown: Option<PathBuf>,
    /// Also write JUnit XML, one test case per gate
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Result on stdout: text (a table), or JSON for scripts
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// The same as --format json (its older spelling)
    #[arg(long, hide = true, conflicts_with = "format")]
    json: bool,
    /// Compare results of different scenarios anyway (pairs by transport)
    #[arg(long)]
    allow_scenario_mismatch: bool,
}

fn parse_gate(s: &str) -> Result<reports::Gate, String> {
    reports::Gate::parse(s).map_err(|e| e.to_string())
}

pub fn run(args: CompareArgs) -> Result<Done, CliError> {
    let baseline = reports::compare::load_side(&args.baseline)?;
    let current = reports::compare::load_side(&args.current)?;
    let opts = reports::CompareOptions {
        gates: reports::Gate::with_defaults(args.gates),
        allow_scenario_mismatch: args.allow_scenario_mismatch,
    };
    let mut report = reports::compare(&baseline, &current, &opts)?;
    report.baseline.label = Some(args.baseline.display().to_string());
    report.current.label = Some(args.current.display().to_string());
    if let Some(p) = &args.markdown {
        std::fs::write(p, reports::compare::to_markdown(&report))
            .with_context(|| format!("writing {}", p.display()))?;
    }
    if let Some(p) = &args.junit {
        std::fs::write(p, reports::compare::to_junit(&report))
            .with_context(|| format!("writing {}", p.display()))?;
    }
    let format = if args.json { Format::Json } else { args.format };
    if let Some(p) = &args.output {
        let mut text = Vec::new();
        print(&report, format, &mut text)?;
        std::fs::write(p, text).with_context(|| format!("writing {}", p.display()))?;
    }
    print(&report, format, &mut super::out::stdout())?;
    Ok(if report.has_regression() {
        Done::Gate
    } else {
        Done::Ok
    })
}

fn print(
    report: &reports::CompareReport,
    format: Format,
    out: &mut impl Write,
) -> Result<(), CliError> {
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, &reports::compare::to_json(report))?;
            writeln!(out)?;
        }
        Format::Text => reports::compare::print_table(report, out)?,
    }
    Ok(())
}
