//! `rtbench bench` end to end at tiny scale: the real binary starts its own
//! child servers, runs every transport, writes result files and the report,
//! and never leaves a server behind — not on success, not on Ctrl-C, not
//! when it is killed outright.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use testkit::Transport;

fn rtbench() -> Command {
    testkit::rtbench!().command()
}

fn scratch(name: &str) -> PathBuf {
    testkit::rtbench!().scratch(name)
}

/// Pids whose parent is `ppid`, from /proc.
fn children(ppid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in entries.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // Fields after the command name: state, ppid, …
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            continue;
        };
        if rest
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse::<u32>().ok())
            == Some(ppid)
        {
            out.push(pid);
        }
    }
    out
}

fn alive(pid: u32) -> bool {
    // A zombie still has /proc/PID but is gone for our purposes.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            s.rfind(')')
                .is_some_and(|i| !s[i + 1..].trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

fn wait_until(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !f() {
        assert!(t0.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The first child server of a running bench.
fn child_server(bench: &Child) -> u32 {
    let mut found = None;
    wait_until("the child server", Duration::from_secs(20), || {
        found = children(bench.id()).into_iter().next();
        found.is_some()
    });
    found.unwrap_or_default()
}

fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "kill {sig} {pid}");
}

fn tiny_bench(out: &Path, duration: &str) -> Command {
    let mut c = rtbench();
    c.args([
        "bench",
        "--clients",
        "20",
        "--rate",
        "10",
        "--warmup",
        "500ms",
    ])
    .args(["--duration", duration, "--drain", "2s", "--quiet", "--out"])
    .arg(out)
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    c
}

#[test]
fn bench_runs_every_transport_and_writes_the_report() {
    let out = scratch("bench-e2e");
    let o = tiny_bench(&out, "2s")
        .args(["--format", "json"])
        .output()
        .expect("run bench");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "bench failed: {stderr}");
    // Every transport but the lossy-by-design ones, which run when named.
    let ran: Vec<&str> = Transport::ALL
        .into_iter()
        .filter(|t| !t.drops_by_design())
        .map(Transport::as_str)
        .collect();
    for t in ran {
        let f = out.join("results").join(format!("{t}.json"));
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&f).expect("result file")).expect("json");
        assert_eq!(v["transports"][0]["transport"], t);
        assert_eq!(v["transports"][0]["counts"]["lost"], 0, "{t} lost messages");
        assert!(
            v["transports"][0]["server"]["cpu_seconds"].is_number(),
            "{t}: server cost from the child's /api/stats"
        );
        assert!(
            stderr.contains(&format!("{t}: 20 clients")),
            "progress line for {t}"
        );
    }
    assert!(
        !out.join("results/webtransport-datagram.json").exists(),
        "datagrams run only when named"
    );
    let html = std::fs::read_to_string(out.join("index.html")).expect("index.html");
    assert!(html.contains("Latency by percentile"));
    assert!(out.join("latency-percentiles.png").is_file());
    // --format json: the summary on stdout is JSON.
    let summary: serde_json::Value =
        serde_json::from_slice(&o.stdout).expect("JSON summary on stdout");
    assert!(summary.is_object());
}

#[test]
fn bench_leaves_no_server_behind_on_ctrl_c_or_kill() {
    // Ctrl-C: the running load stops early, its server is stopped, the
    // partial result is still reported, and the exit code says it failed.
    let out = scratch("bench-sigint");
    let bench = tiny_bench(&out, "60s").spawn().expect("spawn bench");
    let server = child_server(&bench);
    std::thread::sleep(Duration::from_secs(2));
    signal(bench.id(), "-INT");
    let o = bench.wait_with_output().expect("bench exits");
    assert!(!o.status.success(), "an interrupted bench does not exit 0");
    assert!(
        !alive(server),
        "child server {server} outlived bench after Ctrl-C"
    );
    assert!(
        out.join("results/short-poll.json").is_file(),
        "partial results are written"
    );
    assert!(
        out.join("index.html").is_file(),
        "the report covers what finished"
    );

    // SIGKILL cannot be handled: the child notices its stdin closing.
    let out = scratch("bench-sigkill");
    let mut bench = tiny_bench(&out, "60s").spawn().expect("spawn bench");
    let server = child_server(&bench);
    signal(bench.id(), "-KILL");
    let _ = bench.wait();
    wait_until(
        "the orphaned server to exit",
        Duration::from_secs(15),
        || !alive(server),
    );
}

#[test]
fn bench_refuses_bad_flags_with_exit_2() {
    let out = scratch("bench-bad");
    for args in [
        vec!["--transports", "pigeon"],
        vec!["--matrix", "colour=red"],
        vec!["--transport", "ws"],
        vec!["--target", "http://10.1.2.3:80"],
        vec!["--processes", "2"],
    ] {
        let o = rtbench()
            .arg("bench")
            .args(&args)
            .arg("--out")
            .arg(&out)
            .output()
            .expect("run");
        assert_eq!(
            o.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

#[test]
fn bench_matrix_with_repeats_reports_every_cell() {
    let out = scratch("bench-matrix");
    let o = rtbench()
        .args([
            "bench",
            "--transports",
            "ws,sse",
            "--matrix",
            "clients=5,15",
            "--repeat",
            "2",
        ])
        .args([
            "--duration",
            "1s",
            "--warmup",
            "300ms",
            "--drain",
            "1s",
            "--quiet",
            "--out",
        ])
        .arg(&out)
        .output()
        .expect("run bench");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for cell in ["clients=5", "clients=15"] {
        for t in ["sse", "ws"] {
            for r in [1, 2] {
                let f = out.join("results").join(format!("{cell}-{t}-r{r}.json"));
                assert!(f.is_file(), "missing {}", f.display());
            }
        }
    }
    let html = std::fs::read_to_string(out.join("index.html")).expect("index.html");
    // One group per cell, and the sweep charts across them.
    assert!(
        html.contains("5 clients") && html.contains("15 clients"),
        "both cells reported"
    );
    let pngs = std::fs::read_dir(&out)
        .expect("out dir")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".png"))
        .count();
    assert!(pngs > 10, "per-cell charts plus matrix charts, got {pngs}");
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(
        table.contains("median of 2"),
        "repeats are summarized: {table}"
    );
}
