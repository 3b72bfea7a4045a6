//! `rtbench completions SHELL` and `rtbench man`: the command line's own
//! description, rendered for shells and for `man`, so neither can drift
//! from the flags.

use super::{Cli, CliError, Done};
use clap::{Args, CommandFactory};
use clap_complete::Shell;
use std::io::Write;
use std::path::PathBuf;

#[derive(Args, Debug)]
#[command(after_help = "Install, e.g.:\n  bash: rtbench completions bash > \
~/.local/share/bash-completion/completions/rtbench\n  zsh:  rtbench completions zsh > \
\"${fpath[1]}/_rtbench\"\n  fish: rtbench completions fish > \
~/.config/fish/completions/rtbench.fish")]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_enum)]
    shell: Shell,
}

#[derive(Args, Debug)]
pub struct ManArgs {
    /// Write one page per command (rtbench.1, rtbench-load.1, …) into this
    /// directory instead of printing rtbench(1) on stdout
    #[arg(short = 'o', long, alias = "out", value_name = "DIR")]
    output: Option<PathBuf>,
}

/// The command line without its hidden (internal) commands, which clap's
/// completion scripts would otherwise offer. Names and flags are all a
/// completion needs of it.
fn public_command() -> clap::Command {
    let public = Cli::command()
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
        .cloned()
        .collect::<Vec<_>>();
    clap::Command::new("rtbench")
        .version(env!("CARGO_PKG_VERSION"))
        .subcommands(public)
}

pub fn completions(args: CompletionsArgs) -> Result<Done, CliError> {
    let mut cmd = public_command();
    let mut out = super::out::stdout();
    clap_complete::generate(args.shell, &mut cmd, "rtbench", &mut out);
    out.flush()?;
    Ok(Done::Ok)
}

pub fn man(args: ManArgs) -> Result<Done, CliError> {
    // Each command's page names the version in its footer.
    let cmd = Cli::command().propagate_version(true);
    match &args.output {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .and_then(|()| clap_mangen::generate_to(cmd, dir))
                .map_err(|e| CliError::Input(anyhow::anyhow!("writing {}: {e}", dir.display())))?;
            super::out::errln!("man pages: {}", dir.display());
        }
        None => {
            let mut out = super::out::stdout();
            clap_mangen::Man::new(cmd).render(&mut out)?;
            out.flush()?;
        }
    }
    Ok(Done::Ok)
}
