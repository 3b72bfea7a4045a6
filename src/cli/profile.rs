//! `rtbench profile check`: a dry run of a target profile, one subscriber
//! and one publisher per transport, with the wire trace.

use super::out::outln;
use super::{CliError, Done, cancel_on_signal};
use clap::{Args, Subcommand};
use std::io::Write;
use tokio_util::sync::CancellationToken;

#[derive(Subcommand, Debug)]
pub enum ProfileCommand {
    /// A dry run: on each transport the profile defines, one subscriber and
    /// one publisher exchange a few messages through the same code as a load
    /// run; prints what went over the wire and what to fix. Exit 0 when
    /// every transport delivered every message.
    Check(ProfileCheckArgs),
}

#[derive(Args, Debug)]
pub struct ProfileCheckArgs {
    /// The profile TOML file (or `rtbench` for the built-in one)
    #[arg(value_name = "FILE")]
    profile: String,
    /// Base URL of the server: http(s)://HOST[:PORT], an IP address or a name
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:3000")]
    target: String,
    /// Transports to check, comma-separated [default: every one the profile defines]
    #[arg(long, value_name = "LIST", value_parser = super::bench::parse_transports)]
    transports: Option<super::bench::TransportList>,
    /// Print only the verdicts, not the wire trace
    #[arg(long)]
    quiet: bool,
    /// Result on stdout: text, or JSON for scripts (each transport's
    /// verdict, hints and, unless --quiet, trace)
    #[arg(long, value_enum, default_value = "text")]
    format: loadgen::Format,
}

pub async fn check(args: ProfileCheckArgs) -> Result<Done, CliError> {
    let profile = loadgen::Profile::load(&args.profile)?;
    let transports = args.transports.map(|l| l.0).unwrap_or_default();
    if let Some(t) = transports.iter().find(|t| profile.sub(**t).is_none()) {
        return Err(CliError::usage(format!(
            "profile '{}' ({}) has no [{t}] section",
            profile.name, profile.source_name
        )));
    }
    let heading = format!(
        "profile '{}' ({}) against {}",
        profile.name, profile.source_name, args.target
    );
    if args.format == loadgen::Format::Text {
        outln!("{heading}");
    }
    let cancel = CancellationToken::new();
    cancel_on_signal(cancel.clone());
    let outcomes = loadgen::check(profile.into(), &args.target, &transports, cancel).await?;
    let all_ok = outcomes.iter().all(|o| o.ok);
    if args.format == loadgen::Format::Json {
        print_json(&heading, &outcomes, args.quiet)?;
    } else {
        print_text(&outcomes, args.quiet);
    }
    Ok(if all_ok { Done::Ok } else { Done::Problems })
}

fn print_json(
    heading: &str,
    outcomes: &[loadgen::CheckOutcome],
    quiet: bool,
) -> Result<(), CliError> {
    let transports: Vec<serde_json::Value> = outcomes
        .iter()
        .map(|o| {
            let mut v = serde_json::json!({
                "transport": o.transport.as_str(),
                "ok": o.ok,
                "verdict": o.verdict,
                "hints": o.hints,
            });
            if !quiet {
                v["trace"] = serde_json::json!(o.trace);
            }
            v
        })
        .collect();
    let doc = serde_json::json!({
        "check": heading,
        "ok": outcomes.iter().all(|o| o.ok),
        "transports": transports,
    });
    let mut out = super::out::stdout();
    serde_json::to_writer_pretty(&mut out, &doc)?;
    writeln!(out)?;
    Ok(())
}

fn print_text(outcomes: &[loadgen::CheckOutcome], quiet: bool) {
    for o in outcomes {
        outln!("\n== {} ==", o.transport);
        if !quiet {
            for line in &o.trace {
                outln!("  {line}");
            }
        }
        outln!("{}: {}", o.transport, o.verdict);
        for h in &o.hints {
            outln!("  hint: {h}");
        }
    }
}
