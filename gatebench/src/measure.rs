//! Running the workload under Callgrind, once per transport and side.
//!
//! **Attribution.** Server, load generator and the publisher share one
//! thread, so a side is defined by its tasks: Callgrind collects only while
//! tokio polls a task whose future comes from that side's crate
//! (`--toggle-collect` on `tokio::runtime::task::raw::poll::<…rtbench_server::…>`,
//! a function every task poll passes through: it sits in the task's vtable,
//! so it is never inlined). That needs v0 symbol names, which spell out the
//! generic arguments (the build sets `-C symbol-mangling-version=v0`). What
//! the runtime does between polls (the I/O driver's `epoll_wait`, the
//! scheduler) is neither side's, and the publisher's work is not counted.
//!
//! **The measured part.** `--zero-before=*measure_begin` and
//! `--dump-before=*measure_end` make the first dump hold exactly the
//! measured messages; setup, warm-up and shutdown are left out.

use crate::callgrind;
use crate::record::{Entry, Record, SCHEMA, Side};
use crate::workload::Shape;
use protocol::Transport;
use std::path::{Path, PathBuf};
use std::process::Command;

/// What to measure.
#[derive(Debug, Clone)]
pub struct Plan {
    /// This binary (Callgrind runs its `workload` subcommand).
    pub exe: PathBuf,
    /// Where the Callgrind files go.
    pub dir: PathBuf,
    pub transports: Vec<Transport>,
    pub sides: Vec<Side>,
    pub inject_cost_rounds: u64,
    /// Functions kept per entry (for naming what grew).
    pub keep_functions: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum MeasureError {
    #[error(
        "cannot run {what}: {source} (is valgrind installed? Debian: apt-get install valgrind)"
    )]
    Spawn {
        what: String,
        source: std::io::Error,
    },
    #[error("{what} failed ({status}): {stderr}")]
    Failed {
        what: String,
        status: String,
        stderr: String,
    },
    #[error("{0}")]
    Output(String),
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Parse {
        path: PathBuf,
        source: callgrind::ParseError,
    },
}

/// The `--toggle-collect` patterns of `side`'s task polls: the side's
/// futures, bare (`poll::<server::…>`) or in the wrappers they are spawned
/// in (the server's `TaskTracker`, axum's WebSocket upgrade task around the
/// server's session). Callgrind's patterns take a `*` at either end only,
/// not inside, hence one prefix per wrapper.
pub fn toggle_patterns(side: Side) -> Vec<String> {
    const POLL: &str = "tokio::runtime::task::raw::poll::<";
    let c = side.crate_name();
    let mut p = vec![format!("{POLL}{c}::*"), format!("{POLL}<{c}::*")];
    if side == Side::Server {
        p.push(format!(
            "{POLL}tokio_util::task::task_tracker::TrackedFuture<{c}::*"
        ));
        p.push(format!(
            "{POLL}<axum::extract::ws::WebSocketUpgrade>::on_upgrade<{c}::*"
        ));
    }
    p
}

/// Runs every transport and side of `plan` under Callgrind.
pub fn measure(plan: &Plan) -> Result<Record, MeasureError> {
    std::fs::create_dir_all(&plan.dir).map_err(|source| MeasureError::Read {
        path: plan.dir.clone(),
        source,
    })?;
    let mut entries = Vec::new();
    for &t in &plan.transports {
        for &side in &plan.sides {
            entries.push(one(plan, t, side)?);
        }
    }
    Ok(Record {
        schema: SCHEMA,
        rustc: version("rustc", "--version")?,
        valgrind: version("valgrind", "--version")?,
        entries,
    })
}

fn one(plan: &Plan, t: Transport, side: Side) -> Result<Entry, MeasureError> {
    let mut shape = Shape::standard(t);
    shape.inject_cost_rounds = plan.inject_cost_rounds;
    let out = plan.dir.join(format!("{}-{}.callgrind", t.as_str(), side));
    clear_old(&out);
    let mut cmd = Command::new("valgrind");
    cmd.arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg("--collect-atstart=no")
        .args(
            toggle_patterns(side)
                .iter()
                .map(|p| format!("--toggle-collect={p}")),
        )
        .arg("--zero-before=*measure_begin")
        .arg("--dump-before=*measure_end")
        .arg(&plan.exe)
        .args(["workload", "--transport", t.as_str()])
        .arg(format!("--inject-cost-rounds={}", shape.inject_cost_rounds));
    let what = format!("valgrind (callgrind) on the {t} workload, {side} side");
    let o = cmd.output().map_err(|source| MeasureError::Spawn {
        what: what.clone(),
        source,
    })?;
    if !o.status.success() {
        return Err(MeasureError::Failed {
            what,
            status: o.status.to_string(),
            stderr: tail(&String::from_utf8_lossy(&o.stderr), 2000),
        });
    }
    let done: serde_json::Value = String::from_utf8_lossy(&o.stdout)
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        .ok_or_else(|| MeasureError::Output(format!("{what}: the workload printed no result")))?;
    let deliveries = done["deliveries"].as_u64().unwrap_or(0);
    let errors = done["errors"].as_u64().unwrap_or(0);
    if errors > 0 {
        return Err(MeasureError::Output(format!(
            "{what}: the clients saw {errors} errors; the counts would not be comparable"
        )));
    }
    let dump = first_dump(&out);
    let text = std::fs::read_to_string(&dump).map_err(|source| MeasureError::Read {
        path: dump.clone(),
        source,
    })?;
    let profile = callgrind::parse(&text).map_err(|source| MeasureError::Parse {
        path: dump.clone(),
        source,
    })?;
    if profile.total == 0 {
        return Err(MeasureError::Output(format!(
            "{what}: Callgrind counted nothing for the {side}'s tasks ({}): were the symbols \
             built with -C symbol-mangling-version=v0?",
            toggle_patterns(side).join(" or ")
        )));
    }
    Ok(Entry {
        transport: t,
        side,
        shape,
        deliveries,
        instructions: profile.total,
        functions: profile.top(plan.keep_functions),
    })
}

/// Callgrind names the dump `--dump-before` makes `FILE.1` (and the one at
/// exit `FILE`).
fn first_dump(out: &Path) -> PathBuf {
    let mut name = out.as_os_str().to_owned();
    name.push(".1");
    PathBuf::from(name)
}

fn clear_old(out: &Path) {
    let _ = std::fs::remove_file(out);
    let _ = std::fs::remove_file(first_dump(out));
}

fn version(tool: &str, flag: &str) -> Result<String, MeasureError> {
    let o = Command::new(tool)
        .arg(flag)
        .output()
        .map_err(|source| MeasureError::Spawn {
            what: tool.to_string(),
            source,
        })?;
    Ok(String::from_utf8_lossy(&o.stdout).trim().to_string())
}

fn tail(s: &str, max: usize) -> String {
    let start = s.len().saturating_sub(max);
    let start = (start..s.len())
        .find(|&i| s.is_char_boundary(i))
        .unwrap_or(s.len());
    s[start..].to_string()
}
