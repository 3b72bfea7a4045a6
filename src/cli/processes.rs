//! `rtbench load --processes N`: one run in N processes on this machine, to
//! pass the per-process descriptor limit. Each child is a distributed load
//! worker (`--workers N --worker-id K --start-at T`) that reads its
//! scenario — the parent's, with an even share of the clients, publishers
//! and rate — as JSON on standard input; their result files are merged
//! exactly (as `rtbench report` merges workers: loss judged across all of
//! them). Thresholds are the parent's to check, once, on the merged file.

use super::out::errln;
use anyhow::{Context, bail};
use loadgen::Scenario;
use loadgen::results::{RadioFigures, RadioResult, ResultFile};
use protocol::units::{Count, Rate};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::io::AsyncWriteExt;
use tokio_util::sync::CancellationToken;

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

/// What each of `n` workers runs: `scenario` with an even share.
pub fn worker_scenario(n: u32, scenario: &Scenario) -> Scenario {
    let s = share(
        n,
        scenario.clients.0,
        scenario.publishers.0,
        scenario.rate.0,
    );
    Scenario {
        clients: Count(s.clients),
        publishers: Count(s.publishers),
        rate: Rate(s.rate),
        ..scenario.clone()
    }
}

/// What a worker reads on standard input: its share of `scenario` as JSON.
pub fn worker_input(n: u32, scenario: &Scenario) -> serde_json::Result<Vec<u8>> {
    serde_json::to_vec(&worker_scenario(n, scenario))
}

/// Run `scenario` (its `cfg` already validated) in `n` child processes;
/// returns the merged result file. `cancel` (Ctrl-C, SIGTERM) is passed on
/// to the workers, which end early with partial results. With `client_ns`
/// (the emulated link's client side) the workers run inside it.
pub async fn run(
    n: u32,
    scenario: &Scenario,
    cfg: &loadgen::Config,
    dir: &Path,
    client_ns: Option<&netem::Netns>,
    cancel: CancellationToken,
) -> anyhow::Result<ResultFile> {
    let s = share(n, cfg.clients, cfg.publishers, cfg.rate_per_sec);
    if s.clients * u64::from(n) != cfg.clients || s.publishers * u64::from(n) != cfg.publishers {
        errln!(
            "rtbench load: --processes {n}: {n} × {} clients and {n} × {} publishers \
             (rounded up to a multiple of {n})",
            s.clients,
            s.publishers
        );
    }
    // Every child connects its share over --ramp-up (or at --connect-rate);
    // publishing starts for all of them at the same moment, after the
    // slowest ramp plus a margin.
    let ramp = match scenario.ramp_up {
        Some(d) => d.0.0.as_secs_f64(),
        None => s.clients as f64 / scenario.connect_rate.0,
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64();
    let start_at = (now + ramp + 3.0).ceil();
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let input = worker_input(n, scenario)?;
    let exe = std::env::current_exe().context("finding this program to start its workers")?;
    let mut children = Vec::new();
    for k in 0..n {
        let out = dir.join(format!("worker-{k}.json"));
        let _ = std::fs::remove_file(&out);
        let child = spawn_worker(&exe, (n, k), start_at, (&out, client_ns), &input).await?;
        children.push((k, out, child));
    }
    let pids: Vec<u32> = children.iter().filter_map(|(_, _, c)| c.id()).collect();
    let forward = tokio::spawn(async move {
        cancel.cancelled().await;
        for pid in pids {
            server::sys::terminate(pid);
        }
    });
    errln!(
        "rtbench load: {n} processes, each {} clients and {} publishers at {} msg/s; publishing at {start_at}",
        s.clients,
        s.publishers,
        s.rate
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
    forward.abort();
    if !failed.is_empty() {
        bail!("{}; its errors are above", failed.join(", "));
    }
    merge(files, n, cfg)
}

/// Starts worker `k` of `n` writing `out` (inside `netns`, the link's
/// client side, if any), and hands it its scenario.
async fn spawn_worker(
    exe: &Path,
    (n, k): (u32, u32),
    start_at: f64,
    (out, netns): (&Path, Option<&netem::Netns>),
    input: &[u8],
) -> anyhow::Result<tokio::process::Child> {
    let mut command = tokio::process::Command::new(exe);
    command
        .args(["load", "--scenario-stdin", "--quiet"])
        .args(["--workers", &n.to_string(), "--worker-id", &k.to_string()])
        .args(["--start-at", &format!("{start_at}")])
        .arg("--output")
        .arg(out)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true);
    let spawned = match netns {
        Some(ns) => {
            command.arg("--inside-link");
            ns.run(|| command.spawn())
                .context("entering the link's client side")?
        }
        None => command.spawn(),
    };
    let mut child = spawned.with_context(|| format!("starting load worker {k}"))?;
    let mut stdin = child.stdin.take().context("a worker's standard input")?;
    stdin
        .write_all(input)
        .await
        .with_context(|| format!("handing load worker {k} its scenario"))?;
    Ok(child)
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
            "the workers' measured windows did not overlap ({} runs): connect faster (--connect-rate, or a shorter --ramp-up) or lower --clients",
            entry.runs.len()
        );
    }
    let radio = merged_radio(&files);
    let mut out = files.into_iter().next().context("no worker results")?;
    out.partial = entry.partial;
    out.warnings = cmp.warnings.clone();
    out.scenario.clients *= u64::from(n);
    out.scenario.publishers *= u64::from(n);
    out.scenario.rate_per_sec = cfg.rate_per_sec;
    // The workers connected side by side: the run's connect rate is theirs summed.
    out.scenario.ramp_up_per_sec *= f64::from(n);
    // The workers read no file; the run's settings came from this one.
    out.scenario.scenario_file = cfg.scenario_file.as_ref().map(|p| p.display().to_string());
    out.transports = vec![entry.merged.clone()];
    if let Some(t) = out.transports.first_mut() {
        t.radio = radio;
    }
    Ok(out)
}

/// The workers' radio figures as one run's: per-client means, weighted by
/// each worker's clients (`None` unless every worker has them).
fn merged_radio(files: &[ResultFile]) -> Option<RadioResult> {
    let parts: Vec<(f64, &RadioResult)> = files
        .iter()
        .flat_map(|f| &f.transports)
        .map(|t| Some((t.clients as f64, t.radio.as_ref()?)))
        .collect::<Option<_>>()?;
    let clients: f64 = parts.iter().map(|(n, _)| n).sum();
    if parts.is_empty() || clients <= 0.0 {
        return None;
    }
    let mean = |f: fn(&RadioResult) -> &RadioFigures| RadioFigures {
        radio_on_fraction: parts
            .iter()
            .map(|(n, r)| n * f(r).radio_on_fraction)
            .sum::<f64>()
            / clients,
        joules_per_client_hour: parts
            .iter()
            .map(|(n, r)| n * f(r).joules_per_client_hour)
            .sum::<f64>()
            / clients,
        promotions_per_client_hour: parts
            .iter()
            .map(|(n, r)| n * f(r).promotions_per_client_hour)
            .sum::<f64>()
            / clients,
    };
    Some(RadioResult {
        lte: mean(|r| &r.lte),
        umts: mean(|r| &r.umts),
    })
}

/// Where the workers' files go: kept beside `--output`, else in a temp
/// directory removed when this is dropped (however the run ends).
#[derive(Debug)]
pub struct WorkDir {
    pub path: PathBuf,
    keep: bool,
}

impl WorkDir {
    pub fn new(output: Option<&PathBuf>) -> WorkDir {
        match output {
            Some(p) => {
                let mut name = p.file_name().unwrap_or_default().to_os_string();
                name.push(".workers");
                WorkDir {
                    path: p.with_file_name(name),
                    keep: true,
                }
            }
            None => WorkDir {
                path: std::env::temp_dir().join(format!("rtbench-workers-{}", std::process::id())),
                keep: false,
            },
        }
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.path);
        }
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
    fn workers_get_an_even_share_of_the_scenario() {
        let mut s = Scenario::defaults().clone();
        s.clients = Count(10);
        s.publishers = Count(4);
        s.rate = Rate(30.0);
        let w = worker_scenario(3, &s);
        assert_eq!(
            (w.clients, w.publishers, w.rate),
            (Count(4), Count(2), Rate(10.0))
        );
        assert_eq!(
            Scenario {
                clients: s.clients,
                publishers: s.publishers,
                rate: s.rate,
                ..w
            },
            s
        );
    }

    #[test]
    fn a_temporary_work_dir_is_removed_and_one_beside_the_output_kept() {
        let tmp = WorkDir::new(None);
        std::fs::create_dir_all(&tmp.path).expect("dir");
        let path = tmp.path.clone();
        drop(tmp);
        assert!(!path.exists());
        let out = std::env::temp_dir().join(format!("rtbench-keep-{}/r.json", std::process::id()));
        let kept = WorkDir::new(Some(&out));
        assert_eq!(kept.path, out.with_file_name("r.json.workers"));
        std::fs::create_dir_all(&kept.path).expect("dir");
        drop(kept);
        assert!(out.with_file_name("r.json.workers").exists());
        let _ = std::fs::remove_dir_all(out.parent().expect("parent"));
    }
}
