//! A reader that stops early (`rtbench … | head -1`) ends the command
//! quietly: exit as without the pipe, no error text, results still written.

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};
use testkit::child::{ChildServer, stderr};

fn server() -> ChildServer {
    testkit::rtbench!().server(&[], None)
}

/// A short load run against `url`, writing `out`.
fn load(url: &str, out: &std::path::Path) -> Command {
    let mut c = testkit::rtbench!().command();
    c.args([
        "load",
        "--target",
        url,
        "--transport",
        "ws",
        "--clients",
        "4",
    ])
    .args(["--rate", "20", "--duration", "500ms", "--warmup", "100ms"])
    .args(["--drain", "1s", "--threshold", "ws.loss==0", "--output"])
    .arg(out);
    c
}

/// Runs `c` with stdout closed before it writes anything: every write to
/// stdout fails.
fn with_stdout_closed(mut c: Command) -> Output {
    let mut child = c
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn rtbench");
    drop(child.stdout.take());
    child.wait_with_output().expect("wait")
}

fn assert_quiet(o: &Output, what: &str) {
    let e = stderr(o);
    assert_eq!(o.status.code(), Some(0), "{what}: {e}");
    assert!(
        !e.contains("error") && !e.contains("panicked"),
        "{what}: {e}"
    );
}

#[test]
fn load_into_a_closed_pipe_exits_0_and_writes_its_results() {
    let server = server();
    let dir = testkit::rtbench!().scratch("pipes-load");
    std::fs::create_dir_all(&dir).expect("dir");
    let out = dir.join("r.json");
    let o = with_stdout_closed(load(&server.url, &out));
    assert_quiet(&o, "load, stdout closed");
    assert!(out.exists(), "results written");

    // `2>&1 | head -1`: one pipe for both, its reader gone after one line.
    let (reader, writer) = std::io::pipe().expect("pipe");
    let mut c = load(&server.url, &dir.join("r2.json"));
    c.stdout(writer.try_clone().expect("clone")).stderr(writer);
    let mut child = c.spawn().expect("spawn");
    // The parent's copies of the write end must go, or the pipe never closes.
    drop(c);
    let mut first = String::new();
    BufReader::new(reader)
        .read_line(&mut first)
        .expect("first line");
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(0), "load 2>&1 | head -1: {first}");
    assert!(dir.join("r2.json").exists(), "results written");
    drop(server);

    // The commands that read result files print into a closed pipe as well.
    let f = out.to_str().expect("utf-8");
    let report = dir.join("report");
    let mut c = testkit::rtbench!().command();
    c.args(["report", f, "--out"]).arg(&report);
    assert_quiet(&with_stdout_closed(c), "report");
    assert!(report.join("index.html").exists());
    let mut c = testkit::rtbench!().command();
    c.args(["compare", f, f]);
    assert_quiet(&with_stdout_closed(c), "compare");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn server_and_profile_check_survive_a_closed_stdout() {
    let server = server();
    let mut c = testkit::rtbench!().command();
    c.args(["profile", "check", "rtbench", "--target", &server.url])
        .args(["--transports", "ws"]);
    assert_quiet(&with_stdout_closed(c), "profile check");
    drop(server);

    // The server's start-up line goes nowhere; the server serves anyway
    // and stops at the end of its standard input.
    let mut child = testkit::rtbench!()
        .command()
        .args(["server", "--addr", "127.0.0.1:0", "--exit-on-stdin-eof"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn server");
    drop(child.stdout.take());
    let mut err = BufReader::new(child.stderr.take().expect("stderr"));
    drop(child.stdin.take());
    let mut text = String::new();
    while err.read_line(&mut text).expect("stderr") > 0 {}
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(0), "{text}");
    assert!(
        !text.contains("error") && !text.contains("panicked"),
        "{text}"
    );
}
