//! `rtbench report` without the main binary, for trying the report on real
//! result files: `cargo run -p rtbench-reports --example report -- FILES... -o DIR [--format json]`.
//! Prints the summary table (or the JSON summary) and writes DIR when given.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut inputs = Vec::new();
    let mut out: Option<PathBuf> = None;
    let mut json = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-o" | "--output" => out = args.next().map(PathBuf::from),
            "--format" => json = args.next().as_deref() == Some("json"),
            _ => inputs.push(PathBuf::from(arg)),
        }
    }
    let run = || -> Result<(), reports::Error> {
        let comparison = reports::merge(&reports::load_results(&inputs)?)?;
        if json {
            println!("{:#}", reports::summary_json(&comparison));
        } else {
            let _ = reports::print_summary_table(&comparison, std::io::stdout().lock());
        }
        if let Some(dir) = &out {
            let written = reports::render(&comparison, dir, &reports::RenderOptions::default())?;
            eprintln!(
                "wrote {} and {} charts",
                written.index.display(),
                written.charts.len()
            );
        }
        Ok(())
    };
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error ({}): {e}", e.kind());
            ExitCode::from(if e.is_input_error() { 2 } else { 1 })
        }
    }
}
