//! `rtbench load --processes N`: one run in N processes on this machine, to
//! pass the per-process descriptor limit. Each child is a distributed load
//! worker (`--workers N --worker-id K --start-at T`) with an even share of
//! the clients, publishers and rate; their result files are merged exactly
//! (as `rtbench report` merges workers: loss judged across all of them).

use anyhow::{Context, bail};
use loadgen::results::ResultFile;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// Flags the parent sets per child (with or without a value); the child
/// gets them from the parent, never from the user's command line.
const OWN_FLAGS: [(&str, bool); 10] = [
    ("--processes", true),
    ("--clients", true),
    ("--publishers", true),
    ("--rate", true),
    ("--output", true),
    ("--threshold", true),
    ("--workers", true),
    ("--worker-id", true),
    ("--start-at", true),
    ("--quiet", false),
];

/// The user's `load` arguments without the flags the parent sets.
fn passed_through(args: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut skip_value = false;
    for a in args {
        if std::mem::take(&mut skip_value) {
            continue;
        }
        match OWN_FLAGS
            .iter()
            .find(|(f, _)| a == f || a.starts_with(&format!("{f}=")))
        {
            Some((f, takes_value)) => skip_value = *takes_value && a == f,
            None => out.push(a.clone()),
        }
    }
    out
}

/// What each of `n` processes runs.
#[derive(Debug, PartialEq)]
pub struct Share {
    pub clients: u64,
    pub publishers: u64,
    pub rate: f64,
}

pub fn share(n: u32, clients: u64, publishers: u64, rate: f64) -> Share {
    let n64 = u64::from(n);
    Share {
        clients: clients.div_ceil(n64),
        publishers: if publishers == 0 {
            0
        } else {
            publishers.div_ceil(n64)
        },
        rate: rate / f64::from(n),
    }
}

/// Run `cfg` (already validated) in `n` child processes; returns the merged
/// result file.
pub async fn run(n: u32, cfg: &loadgen::Config, dir: &Path) -> anyhow::Result<ResultFile> {
    let s = share(n, cfg.clients, cfg.publishers, cfg.rate_per_sec);
    if s.clients * u64::from(n) != cfg.clients || s.publishers * u64::from(n) != cfg.publishers {
        eprintln!(
            "rtbench load: --processes {n}: {n} × {} clients and {n} × {} publishers \
             (rounded up to a multiple of {n})",
            s.clients, s.publishers
        );
    }
    // Every child ramps its share at --ramp-up; publishing starts for all of
    // them at the same moment, after the slowest ramp plus a margin.
    let ramp = s.clients as f64 / cfg.ramp_up_per_sec;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64();
    let start_at = (now + ramp + 3.0).ceil();
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let user: Vec<String> = std::env::args().skip(2).collect();
    let common = passed_through(&user);
    let exe = std::env::current_exe().context("finding this program to start its workers")?;
    let mut children = Vec::new();
    for k in 0..n {
        let out = dir.join(format!("worker-{k}.json"));
        let _ = std::fs::remove_file(&out);
        let child = tokio::process::Command::new(&exe)
            .arg("load")
            .args(&common)
            .args(["--workers", &n.to_string(), "--worker-id", &k.to_string()])
            .args(["--start-at", &format!("{start_at}")])
            .args(["--clients", &s.clients.to_string()])
            .args(["--publishers", &s.publishers.to_string()])
            .args(["--rate", &format!("{}", s.rate)])
            .arg("--output")
            .arg(&out)
            .arg("--quiet")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .spawn()
            .with_context(|| format!("starting load worker {k}"))?;
        children.push((k, out, child));
    }
    eprintln!(
        "rtbench load: {n} processes, each {} clients and {} publishers at {} msg/s; publishing at {start_at}",
        s.clients, s.publishers, s.rate
    );
    let mut files = Vec::new();
    let mut failed = Vec::new();
    for (k, out, mut child) in children {
        let status = child.wait().await.context("waiting for a load worker")?;
        // Exit 99 (a threshold) cannot happen (none are passed); 1 with a
        // file is a run with problems, still measured.
        match std::fs::read(&out) {
            Ok(bytes) => files.push(
                serde_json::from_slice::<ResultFile>(&bytes)
                    .with_context(|| format!("reading {}", out.display()))?,
            ),
            Err(_) => failed.push(format!("worker {k} ({status}) wrote no results")),
        }
    }
    if !failed.is_empty() {
        bail!("{}; its errors are above", failed.join(", "));
    }
    merge(files, n, cfg)
}

/// The workers' files as one: exact cross-worker counts, summed rates and
/// costs, pooled histograms (`reports::merge`, as for distributed workers).
fn merge(files: Vec<ResultFile>, n: u32, cfg: &loadgen::Config) -> anyhow::Result<ResultFile> {
    let cmp = reports::merge(&files).context("merging the workers' results")?;
    let [group] = cmp.groups.as_slice() else {
        bail!("the workers' results describe different scenarios; cannot merge");
    };
    let [entry] = group.entries.as_slice() else {
        bail!("the workers' results hold more than one transport");
    };
    if entry.runs.len() != 1 {
        bail!(
            "the workers' measured windows did not overlap ({} runs): raise --ramp-up or lower --clients",
            entry.runs.len()
        );
    }
    let mut out = files.into_iter().next().context("no worker results")?;
    out.partial = entry.partial;
    out.warnings = cmp.warnings.clone();
    out.scenario.clients *= u64::from(n);
    out.scenario.publishers *= u64::from(n);
    out.scenario.rate_per_sec = cfg.rate_per_sec;
    out.transports = vec![entry.merged.clone()];
    Ok(out)
}

/// Where the workers' files go: beside `--output`, else in a temp directory.
pub fn work_dir(output: Option<&PathBuf>) -> PathBuf {
    match output {
        Some(p) => {
            let mut name = p.file_name().unwrap_or_default().to_os_string();
            name.push(".workers");
            p.with_file_name(name)
        }
        None => std::env::temp_dir().join(format!("rtbench-workers-{}", std::process::id())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_round_up_and_divide_the_rate() {
        assert_eq!(
            share(4, 10_000, 1, 100.0),
            Share {
                clients: 2_500,
                publishers: 1,
                rate: 25.0
            }
        );
        assert_eq!(share(3, 10, 4, 30.0).clients, 4);
        assert_eq!(share(3, 10, 4, 30.0).publishers, 2);
        assert_eq!(share(2, 10, 0, 0.0).publishers, 0);
    }

    #[test]
    fn own_flags_are_not_passed_through() {
        let args: Vec<String> = [
            "--target",
            "http://127.0.0.1:1",
            "--processes",
            "4",
            "--clients=100",
            "--rate",
            "5",
            "--quiet",
            "--transport",
            "ws",
            "--threshold",
            "*.loss==0",
            "--output=x.json",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            passed_through(&args),
            ["--target", "http://127.0.0.1:1", "--transport", "ws"]
        );
    }
}
