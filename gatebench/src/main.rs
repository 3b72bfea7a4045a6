//! `gatebench`: the instruction-count gate's command line (driven by
//! `scripts/perf/instructions.sh`).
//!
//! Exit codes: 0 pass, 99 regression, 2 usage or input error (also a
//! baseline that measured another workload: it must be remade).

use anyhow::Context;
use clap::{Parser, Subcommand};
use gatebench::judge::{self, Options};
use gatebench::measure::{self, Plan};
use gatebench::record::{Record, Side};
use gatebench::workload::{self, Shape};
use protocol::Transport;
use std::path::{Path, PathBuf};

#[derive(Parser, Debug)]
#[command(about = "Instructions per delivery under Callgrind, compared with a baseline")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Run the workload once, natively (what Callgrind runs); prints one JSON line
    Workload {
        #[arg(long)]
        transport: Transport,
        /// The server's --inject-cost-rounds (a known extra cost per delivery)
        #[arg(long, default_value_t = 0)]
        inject_cost_rounds: u64,
    },
    /// Run the workload under Callgrind per transport and side; write the counts as JSON
    Measure {
        /// Folder for the Callgrind files and instructions.json
        #[arg(long)]
        out: PathBuf,
        #[arg(long, value_delimiter = ',', default_value = "ws,sse,long-poll")]
        transports: Vec<Transport>,
        #[arg(long, value_delimiter = ',', default_value = "server,loadgen")]
        sides: Vec<SideArg>,
        #[arg(long, default_value_t = 0)]
        inject_cost_rounds: u64,
    },
    /// How many --inject-cost-rounds take this much CPU here now (e.g. 1ms)
    RoundsFor { cost: protocol::units::Dur },
    /// Compare two instructions.json files; exit 99 on a regression
    Compare {
        baseline: PathBuf,
        current: PathBuf,
        /// Allowed rise of instructions per delivery, e.g. 3%
        #[arg(long, default_value = "3%", value_parser = parse_pct)]
        max_regression: f64,
        /// Functions named per regression
        #[arg(long, default_value_t = 8)]
        top: usize,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum SideArg {
    Server,
    Loadgen,
}

fn parse_pct(s: &str) -> Result<f64, String> {
    let n: f64 = s
        .trim()
        .trim_start_matches('+')
        .trim_end_matches('%')
        .parse()
        .map_err(|_| format!("'{s}' is not a percentage (e.g. 3%)"))?;
    if !(n.is_finite() && n >= 0.0) {
        return Err(format!("'{s}' must be 0% or more"));
    }
    Ok(n / 100.0)
}

fn main() {
    let code = match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("gatebench: {e:#}");
            2
        }
    };
    std::process::exit(code);
}

fn run(cli: Cli) -> anyhow::Result<i32> {
    match cli.cmd {
        Cmd::Workload {
            transport,
            inject_cost_rounds,
        } => {
            let mut shape = Shape::standard(transport);
            shape.inject_cost_rounds = inject_cost_rounds;
            let done = workload::run(&shape).context("the workload failed")?;
            println!("{}", serde_json::to_string(&done)?);
            Ok(0)
        }
        Cmd::Measure {
            out,
            transports,
            sides,
            inject_cost_rounds,
        } => {
            let plan = Plan {
                exe: std::env::current_exe().context("finding this binary")?,
                dir: out.clone(),
                transports,
                sides: sides
                    .iter()
                    .map(|s| match s {
                        SideArg::Server => Side::Server,
                        SideArg::Loadgen => Side::Loadgen,
                    })
                    .collect(),
                inject_cost_rounds,
                keep_functions: 120,
            };
            let record = measure::measure(&plan)?;
            let path = out.join("instructions.json");
            std::fs::write(&path, serde_json::to_string_pretty(&record)? + "\n")
                .with_context(|| format!("writing {}", path.display()))?;
            for e in &record.entries {
                println!(
                    "{:<10} {:<8} {:>10.0} instructions per delivery ({} deliveries)",
                    e.transport.as_str(),
                    e.side.as_str(),
                    e.per_delivery(),
                    e.deliveries
                );
            }
            Ok(0)
        }
        Cmd::RoundsFor { cost } => {
            println!("{}", server::rounds_for(cost.0));
            Ok(0)
        }
        Cmd::Compare {
            baseline,
            current,
            max_regression,
            top,
        } => {
            let j = judge::judge(
                &read(&baseline)?,
                &read(&current)?,
                Options {
                    gate: max_regression,
                    top,
                },
            )?;
            print!("{}", j.text());
            Ok(if j.is_incomparable() {
                2
            } else if j.has_regression() {
                99
            } else {
                0
            })
        }
    }
}

fn read(path: &Path) -> anyhow::Result<Record> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text)
        .with_context(|| format!("{} is not an instructions.json", path.display()))
}
