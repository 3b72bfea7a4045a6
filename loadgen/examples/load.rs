//! `rtbench load` without the main binary: parse the same flags, run, print
//! the summary, write the result file. Handy for measuring the load
//! generator alone (`cargo run --release -p rtbench-loadgen --example load -- …`).

use clap::Parser;
use std::process::ExitCode;
use tokio_util::sync::CancellationToken;

#[derive(Parser, Debug)]
struct Cli {
    #[command(flatten)]
    load: loadgen::LoadArgs,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let output = cli.load.output.clone();
    let config = match cli.load.into_config() {
        Ok(c) => c,
        Err(e) => {
            use clap::CommandFactory;
            Cli::command().error(e.clap_kind(), e).exit();
        }
    };
    if let Some(Err(e)) = output.as_deref().map(loadgen::check_output_writable) {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    let cancel = CancellationToken::new();
    let c = cancel.clone();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        c.cancel();
    });
    let results = match loadgen::run(config, cancel).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(if e.is_usage() { 2 } else { 1 });
        }
    };
    let _ = loadgen::print_summary(&results.file, std::io::stdout().lock());
    if let Some(Err(e)) = output
        .as_deref()
        .map(|p| loadgen::write_results(p, &results.file))
    {
        eprintln!("error: {e}");
        return ExitCode::from(1);
    }
    if results.partial {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
