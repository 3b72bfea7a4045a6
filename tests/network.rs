//! `rtbench load --network` as a user runs it: the real binary, its own
//! server or a `--server-cmd` behind the link, and nothing left behind —
//! no namespace, no device, no server process — whether it ends normally,
//! is interrupted or is killed; without the privilege it refuses before
//! starting anything. Needs root (CI runs as root) and setpriv (util-linux).

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const RTBENCH: &str = env!("CARGO_BIN_EXE_rtbench");

/// What the host shows of network emulation: named namespaces, the root
/// namespace's devices.
fn host_network() -> (String, BTreeSet<String>) {
    let ip = |args: &[&str]| {
        let out = Command::new("ip")
            .args(args)
            .output()
            .expect("ip (iproute2)");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let links = ip(&["-o", "link", "show"])
        .lines()
        .filter_map(|l| l.split(':').nth(1).map(|name| name.trim().to_string()))
        .collect();
    (ip(&["netns", "list"]), links)
}

/// PIDs of processes whose command line holds `marker`.
fn processes_with(marker: &str) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(marker))
        })
        .collect()
}

/// Waits (bounded) until no process holds `marker`; the ones left if not.
fn gone(marker: &str, within: Duration) -> Vec<u32> {
    let deadline = Instant::now() + within;
    loop {
        let left = processes_with(marker);
        if left.is_empty() || Instant::now() >= deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn load(args: &[&str]) -> Command {
    let mut c = Command::new(RTBENCH);
    c.arg("load")
        .args(["--transport", "ws", "--clients", "5", "--quiet"]);
    c.args(args);
    c
}

/// Starts `command`, waits until a process with `marker` (the server it
/// starts) exists and a second more, then sends `signal` to rtbench.
fn signal_mid_run(mut command: Command, marker: &str, signal: Signal) -> Output {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("rtbench");
    let deadline = Instant::now() + Duration::from_secs(30);
    while processes_with(marker).is_empty() {
        assert!(Instant::now() < deadline, "the server never started");
        assert!(
            child.try_wait().expect("wait").is_none(),
            "rtbench ended early"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_secs(1));
    let pid = Pid::from_raw(i32::try_from(child.id()).expect("pid"));
    kill(pid, signal).expect("signal");
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().expect("wait").is_none() {
        assert!(
            Instant::now() < deadline,
            "rtbench did not end after {signal}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("output")
}

fn assert_clean(before: &(String, BTreeSet<String>), marker: &str, how: &str) {
    assert_eq!(
        gone(marker, Duration::from_secs(15)),
        Vec::<u32>::new(),
        "{how}: a server outlived rtbench"
    );
    assert_eq!(&host_network(), before, "{how}: the host's network changed");
}

#[test]
fn nothing_is_left_after_a_normal_end_an_interrupt_or_a_kill() {
    let before = host_network();
    // Each run's own server is marked by an unusual --history.
    let normal = load(&[
        "--network",
        "rtt=10ms",
        "--duration",
        "1s",
        "--warmup",
        "0s",
    ])
    .args(["--drain", "1s", "--server-arg=--history=1031"])
    .output()
    .expect("rtbench");
    let stdout = String::from_utf8_lossy(&normal.stdout);
    assert!(
        normal.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&normal.stderr)
    );
    assert!(stdout.contains("network: rtt=10ms; link down"), "{stdout}");
    assert!(stdout.contains("radio"), "{stdout}");
    assert_clean(&before, "--history=1031", "normal end");

    let mut interrupted = load(&["--network", "rtt=10ms", "--duration", "30s"]);
    interrupted.arg("--server-arg=--history=1032");
    let out = signal_mid_run(interrupted, "--history=1032", Signal::SIGINT);
    assert_eq!(out.status.code(), Some(1), "an interrupted run is partial");
    assert!(String::from_utf8_lossy(&out.stdout).contains("PARTIAL"));
    assert_clean(&before, "--history=1032", "SIGINT");

    let mut killed = load(&["--network", "rtt=10ms", "--duration", "30s"]);
    killed.arg("--server-arg=--history=1033");
    let _ = signal_mid_run(killed, "--history=1033", Signal::SIGKILL);
    assert_clean(&before, "--history=1033", "SIGKILL");
}

/// A third-party server: started on the link's server side, measured
/// across the link, and stopped with everything it started — also when
/// rtbench is killed.
#[test]
fn a_server_command_runs_behind_the_link_and_never_outlives_rtbench() {
    let before = host_network();
    // `sleep 600.1034 &` stands for whatever a server's script leaves behind.
    let cmd = format!("sleep 600.1034 & exec {RTBENCH} server --addr $RTBENCH_SERVER_ADDR:18080");
    let target = "http://198.18.0.2:18080";
    let dir = std::env::temp_dir().join(format!("rtbench-server-cmd-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let results = dir.join("r.json");
    let out = load(&[
        "--network",
        "rtt=20ms",
        "--server-cmd",
        &cmd,
        "--target",
        target,
    ])
    .args(["--duration", "2s", "--output"])
    .arg(&results)
    .output()
    .expect("rtbench");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let file: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&results).expect("results")).expect("json");
    assert_eq!(file["scenario"]["network"], "rtt=20ms");
    assert!(
        file["link"]["down"]["packets"].as_u64().unwrap_or(0) > 0,
        "{}",
        file["link"]
    );
    let p50 = file["transports"][0]["latency"]["p50_us"]
        .as_u64()
        .unwrap_or(0);
    assert!(
        p50 >= 20_000,
        "publish up and deliver down: one RTT at least, got {p50} µs"
    );
    assert_clean(&before, "600.1034", "normal end");

    let cmd = cmd.replace("600.1034", "600.1035");
    let mut killed = load(&[
        "--network",
        "rtt=20ms",
        "--server-cmd",
        &cmd,
        "--target",
        target,
    ]);
    killed.args(["--duration", "30s"]);
    let _ = signal_mid_run(killed, "600.1035", Signal::SIGKILL);
    assert_clean(&before, "600.1035", "SIGKILL");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A copy of rtbench that an unprivileged user may run.
fn world_executable_copy() -> (PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("rtbench-privileges-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod dir");
    let exe = dir.join("rtbench");
    std::fs::copy(RTBENCH, &exe).expect("copy");
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    (dir, exe)
}

#[test]
fn without_the_privilege_it_refuses_before_starting_anything() {
    let (dir, exe) = world_executable_copy();
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(Path::new(&exe))
        .args([
            "load",
            "--network",
            "lte",
            "--transport",
            "ws",
            "--server-arg=--history=1036",
        ])
        .current_dir(&dir)
        .output()
        .expect("setpriv (util-linux) is needed for this test");
    let _ = std::fs::remove_dir_all(&dir);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("CAP_NET_ADMIN") && stderr.contains("run as root"),
        "says what is missing and how to run it: {stderr}"
    );
    assert!(out.stdout.is_empty(), "no run, no summary");
    assert!(
        !stderr.contains("[server]"),
        "no server was started: {stderr}"
    );
}
