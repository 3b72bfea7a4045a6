//! `rtbench load` stopped by Ctrl-C: the summary of a partial run shows no
//! figure that only a complete run gives, and `--processes` leaves nothing
//! in the temporary directory, whether the run ends, fails or is stopped.

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use testkit::child::{ChildServer, stderr};

fn server() -> ChildServer {
    testkit::rtbench!().server(&[], None)
}

/// The server's `/api/stats`, when it answers.
fn stats(url: &str) -> Option<protocol::stats::ServerStats> {
    let addr = url.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).ok()?;
    let req = format!("GET /api/stats HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let body = text.split_once("\r\n\r\n")?.1;
    serde_json::from_str(body).ok()
}

/// Open connections the server counts for `label`.
fn connections(url: &str, label: &str) -> u64 {
    stats(url)
        .and_then(|st| st.labels.get(label).map(|l| l.connections))
        .unwrap_or(0)
}

/// Waits (up to a minute) for `ready`, failing if `child` ends first.
fn wait_for(child: &mut Child, what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ready() {
        assert!(Instant::now() < deadline, "never: {what}");
        assert!(
            child.try_wait().expect("wait").is_none(),
            "rtbench ended before {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn interrupt(child: &Child) {
    let pid = Pid::from_raw(i32::try_from(child.id()).expect("pid"));
    kill(pid, Signal::SIGINT).expect("SIGINT");
}

/// A run that connects 200 clients slowly: Ctrl-C lands mid-ramp.
fn slow_ramp(url: &str) -> Command {
    let mut c = testkit::rtbench!().command();
    c.args(["load", "--target", url, "--transport", "ws"])
        .args([
            "--clients",
            "200",
            "--connect-rate",
            "20",
            "--duration",
            "60s",
        ])
        .args(["--quiet"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

#[test]
fn a_partial_run_shows_no_memory_per_connection() {
    // Staged clients join during the window: two in its first second, then
    // the rest over two minutes. Ctrl-C a few seconds in stops the run with a
    // handful of its 30 planned clients connected however slow the machine
    // is, and the server's memory over those few would be nonsense per
    // connection. (Clients refused by a full server would not do: they fail
    // over and reconnect, so how many are connected at Ctrl-C is a race.)
    let server = server();
    let pid = server.pid().to_string();
    let dir = testkit::rtbench!().scratch("interrupt-partial");
    std::fs::create_dir_all(&dir).expect("dir");
    let out = dir.join("r.json");
    let mut child = testkit::rtbench!()
        .command()
        .args(["load", "--target", &server.url, "--server-pid", &pid])
        .args(["--transport", "ws", "--stages", "1s:2c@20/s,2m:30c"])
        .args(["--quiet", "--output"])
        .arg(&out)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    wait_for(&mut child, "publishing to connected clients", || {
        connections(&server.url, "ws") >= 2
            && stats(&server.url).is_some_and(|s| s.publishes_total >= 20)
    });
    interrupt(&child);
    let o = child.wait_with_output().expect("exits");
    drop(server);
    let summary = String::from_utf8_lossy(&o.stdout);
    let line = summary
        .lines()
        .find(|l| l.trim_start().starts_with("server."))
        .unwrap_or_else(|| panic!("a server line in\n{summary}\n{}", stderr(&o)));
    assert!(!line.contains("/connection"), "{line}");
    assert!(
        line.contains("of 30 planned: no memory per connection"),
        "{line}"
    );
    let f: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&out).expect("results")).expect("json");
    assert_eq!(f["partial"], true, "{f}");
    let cost = &f["transports"][0]["server"];
    let conns = cost["connections"].as_u64().unwrap_or(0);
    assert!(conns < 30, "{cost}");
    assert!(cost["rss_per_connection_bytes"].is_null(), "{cost}");
    let _ = std::fs::remove_dir_all(&dir);
}

fn entries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("tmp")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn processes_leave_no_temporary_files_when_stopped_or_failing() {
    let server = server();
    let tmp = testkit::rtbench!().scratch("interrupt-tmpdir");
    std::fs::create_dir_all(&tmp).expect("dir");
    let mut child = slow_ramp(&server.url)
        .args(["--processes", "2"])
        .env("TMPDIR", &tmp)
        .spawn()
        .expect("spawn");
    wait_for(&mut child, "workers running", || {
        !entries(&tmp).is_empty() && connections(&server.url, "ws") >= 2
    });
    interrupt(&child);
    let o = child.wait_with_output().expect("exits");
    assert_eq!(entries(&tmp), Vec::<String>::new(), "{}", stderr(&o));

    drop(server);

    // Nothing listens: the run fails, and still leaves nothing.
    let o = slow_ramp("http://127.0.0.1:1")
        .args(["--processes", "2"])
        .env("TMPDIR", &tmp)
        .output()
        .expect("run");
    assert!(!o.status.success(), "{}", stderr(&o));
    assert_eq!(entries(&tmp), Vec::<String>::new(), "{}", stderr(&o));
    let _ = std::fs::remove_dir_all(&tmp);
}
