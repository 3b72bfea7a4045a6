//! The real binary's command line: usage errors exit 2 with a message that
//! names what to fix, before any load is generated.

use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn rtbench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rtbench"))
        .args(args)
        .output()
        .expect("run rtbench")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn help_lists_every_command() {
    let o = rtbench(&["--help"]);
    assert!(o.status.success());
    let out = String::from_utf8_lossy(&o.stdout);
    for c in ["bench", "server", "load", "report"] {
        assert!(out.contains(c), "--help mentions {c}");
    }
}

#[test]
fn load_flag_for_another_transport_is_a_usage_error() {
    let o = rtbench(&["load", "--transport", "ws", "--poll-interval", "1s"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("--poll-interval"),
        "names the flag: {}",
        stderr(&o)
    );
}

#[test]
fn load_refuses_non_loopback_targets() {
    let o = rtbench(&[
        "load",
        "--transport",
        "ws",
        "--target",
        "http://192.0.2.1:80",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("loopback"), "{}", stderr(&o));
}

#[test]
fn load_against_nothing_fails_fast_with_exit_2() {
    // Port 1 on loopback: nothing listens there.
    let t0 = Instant::now();
    let o = rtbench(&[
        "load",
        "--transport",
        "sse",
        "--target",
        "http://127.0.0.1:1",
        "--quiet",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        t0.elapsed() < Duration::from_secs(5),
        "took {:?}",
        t0.elapsed()
    );
    assert!(stderr(&o).contains("cannot reach"), "{}", stderr(&o));
}

#[test]
fn unwritable_output_is_refused_before_the_run() {
    let o = rtbench(&[
        "load",
        "--transport",
        "ws",
        "--target",
        "http://127.0.0.1:1",
        "--output",
        "/proc/rtbench-no-such-dir/out.json",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("/proc/rtbench-no-such-dir/out.json"),
        "{}",
        stderr(&o)
    );
    assert!(
        !stderr(&o).contains("cannot reach"),
        "checked before connecting"
    );
}

#[test]
fn report_of_a_missing_file_is_a_usage_error() {
    let o = rtbench(&[
        "report",
        "/nonexistent/rtbench.json",
        "-o",
        "/tmp/rtbench-never",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("/nonexistent/rtbench.json"),
        "{}",
        stderr(&o)
    );
}
