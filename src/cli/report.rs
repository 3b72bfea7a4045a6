//! `rtbench report`: render result files as an HTML report with charts;
//! `bench` renders its own runs through the same function.

use super::{CliError, command_line};
use anyhow::Context;
use clap::Args;
pub use loadgen::Format;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Args, Debug)]
pub struct ReportArgs {
    /// Result files, or directories of them
    #[arg(required = true, value_name = "FILES")]
    files: Vec<PathBuf>,
    /// Directory for index.html and the PNG charts
    #[arg(
        long,
        short = 'o',
        alias = "out",
        value_name = "DIR",
        default_value = "rtbench-report"
    )]
    output: PathBuf,
    /// Summary on stdout: text (a table), or JSON for scripts
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
}

pub fn run(args: ReportArgs) -> Result<(), CliError> {
    render(&args.files, &args.output, args.format, command_line())
}

/// Loads, merges and renders result files; prints the summary.
pub fn render(
    files: &[PathBuf],
    out: &Path,
    format: Format,
    command: String,
) -> Result<(), CliError> {
    let loaded = reports::load_results(files)?;
    let comparison = reports::merge(&loaded)?;
    let opts = reports::RenderOptions {
        command: Some(command),
        ..Default::default()
    };
    let rendered = reports::render(&comparison, out, &opts)
        .with_context(|| format!("writing the report into {}", out.display()))?;
    let mut stdout = super::out::stdout();
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut stdout, &reports::summary_json(&comparison))?;
            writeln!(stdout)?;
        }
        Format::Text => {
            reports::print_summary_table(&comparison, &mut stdout)?;
            writeln!(stdout, "\nreport: {}", rendered.index.display())?;
        }
    }
    Ok(())
}
