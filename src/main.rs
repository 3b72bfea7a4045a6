//! `rtbench`: parse the command line, run the command, exit with its code
//! (0 ok, 1 failure, 2 usage or input error, 99 a failed threshold or
//! regression). The commands live in `cli`, one module each.

mod cli;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let command = cli::Cli::parse().command;
    let path = command.path();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            cli::out::errln!("rtbench: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(command.run());
    // A blocking read of stdin (server --exit-on-stdin-eof) cannot be
    // interrupted; don't let it hold the exit up.
    rt.shutdown_background();
    match result {
        Ok(done) => done.into(),
        Err(e) => e.report(path),
    }
}
