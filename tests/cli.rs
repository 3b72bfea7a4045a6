//! The real binary's command line: usage errors exit 2 with a message that
//! names what to fix, before any load is generated.

use std::process::Output;
use std::time::{Duration, Instant};
use testkit::child::{ChildServer, stderr};

fn rtbench(args: &[&str]) -> Output {
    testkit::rtbench!().run(args)
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
fn settings_errors_show_the_subcommands_usage() {
    let bad = temp_file("bad-scenario.toml", "clients = \"many\"\n");
    let bad = bad.display().to_string();
    for args in [
        vec!["load", "--transport", "ws", "--poll-interval", "1s"],
        vec!["load", "--transport", "ws", "--workers", "2"],
        vec!["load", "--transport", "ws", "--scenario", &bad],
    ] {
        let o = rtbench(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        let e = stderr(&o);
        assert!(e.contains("Usage: rtbench load [OPTIONS]"), "{args:?}: {e}");
        assert!(!e.contains("rtbench <COMMAND>"), "{args:?}: {e}");
    }
    let unknown = temp_file("unknown-key.toml", "clientz = 3\n");
    let unknown = unknown.display().to_string();
    let broken = temp_file("broken-scenario.toml", "clients = \n");
    let only_sse = temp_file(
        "only-sse-usage.toml",
        "[publish]\nurl = \"/p/{room}\"\nbody = \"{payload}\"\n[sse]\nurl = \"/s/{room}\"\n",
    );
    let only_sse = only_sse.display().to_string();
    let broken = broken.display().to_string();
    // Values checked after parsing, flags that do not go together, bad
    // files: each shows the usage line of the command it was given to.
    for (args, usage) in [
        (vec!["load", "--scenario", &unknown], "rtbench load"),
        (vec!["load", "--scenario", &broken], "rtbench load"),
        (vec!["load", "--threshold", "p99<25ms"], "rtbench load"),
        (vec!["bench", "--scenario", &unknown], "rtbench bench"),
        (vec!["bench", "--threshold", "ws.p97<1s"], "rtbench bench"),
        (
            vec!["bench", "--transports", "ws", "--poll-interval", "1s"],
            "rtbench bench",
        ),
        (
            vec![
                "bench",
                "--target",
                "http://127.0.0.1:1",
                "--server-arg=--x",
            ],
            "rtbench bench",
        ),
        (
            vec!["profile", "check", &only_sse, "--transports", "ws"],
            "rtbench profile check",
        ),
    ] {
        let o = rtbench(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        let e = stderr(&o);
        assert!(e.contains(&format!("Usage: {usage} ")), "{args:?}: {e}");
        assert!(!e.contains("rtbench <COMMAND>"), "{args:?}: {e}");
    }
    let o = rtbench(&["bench", "--scenario", &bad]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("clients: invalid count"),
        "{}",
        stderr(&o)
    );
    assert!(
        stderr(&o).contains("Usage: rtbench bench [OPTIONS]"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn help_shows_each_commands_defaults() {
    let help = |cmd: &str| {
        let o = rtbench(&[cmd, "--help"]);
        assert!(o.status.success(), "{cmd} --help");
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    // The flag's entry: its line and, in long help, the lines under it
    // (`-c, --clients` is the entry of --clients).
    let flag = |help: &str, flag: &str| -> String {
        let mut lines = help.lines().skip_while(|l| {
            let l = l.trim_start();
            !(l.starts_with(flag) || l.get(4..).is_some_and(|r| r.starts_with(flag)))
        });
        let first = lines.next().unwrap_or_else(|| panic!("{flag} in\n{help}"));
        let rest = lines.take_while(|l| !l.trim_start().starts_with('-'));
        std::iter::once(first)
            .chain(rest)
            .collect::<Vec<_>>()
            .join(" ")
    };
    let bench = help("bench");
    assert!(
        flag(&bench, "--clients").contains("[default: 1000]"),
        "{bench}"
    );
    assert!(
        flag(&bench, "--duration").contains("[default: 20s]"),
        "{bench}"
    );
    assert!(
        flag(&bench, "--warmup").contains("[default: 2s]"),
        "{bench}"
    );
    assert!(flag(&bench, "--rate").contains("[default: 10]"), "{bench}");
    assert!(
        !bench.contains("--transport "),
        "bench has no load-only flags"
    );
    assert!(
        !bench.contains("--processes"),
        "bench has no load-only flags"
    );
    assert!(flag(&bench, "-o, --output").contains("[default: rtbench-report]"));
    assert!(
        !bench.contains("--out "),
        "the old spelling is a hidden alias"
    );
    let load = help("load");
    assert!(
        flag(&load, "--clients").contains("[default: 100]"),
        "{load}"
    );
    assert!(
        flag(&load, "--duration").contains("[default: 10s]"),
        "{load}"
    );
    assert!(flag(&load, "--warmup").contains("[default: 1s]"), "{load}");
    let server = help("server");
    assert!(
        flag(&server, "--max-message-bytes").contains("[default: 64KiB]"),
        "{server}"
    );
    assert!(
        flag(&server, "--heartbeat").contains("[default: 15s]"),
        "{server}"
    );
}

/// Any address or name is a target; what cannot work with one is refused
/// before anything connects (these never connect, nor resolve a name).
#[test]
fn load_checks_far_targets_before_connecting() {
    let load = ["load", "--transport", "ws", "--target"];
    for (target, extra, says) in [
        (
            "http://192.0.2.1:80",
            &["--source-ips", "127.0.0.1-127.0.0.2"][..],
            "a loopback source cannot reach 192.0.2.1:80",
        ),
        (
            "http://bad_name:80",
            &[][..],
            "neither an IP address nor a host name",
        ),
        (
            "http://my-server:8080",
            &["--server-cmd", "exit 0"][..],
            "give --target as its IP address",
        ),
    ] {
        let o = rtbench(&[&load[..], &[target], extra].concat());
        assert_eq!(o.status.code(), Some(2), "{target}: {}", stderr(&o));
        assert!(stderr(&o).contains(says), "{target}: {}", stderr(&o));
    }
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

/// Write a file into a fresh temp directory.
fn temp_file(name: &str, text: &str) -> std::path::PathBuf {
    testkit::temp_file("rtb-cli", name, text)
}

#[test]
fn bad_profiles_name_file_line_and_field() {
    let bad = temp_file(
        "bad.toml",
        "[publish]\nurl = \"/p/{room}\"\nbody = \"{payload}\"\n\n[sse]\nurl = \"/s/{channel}\"\n",
    );
    let bad = bad.display().to_string();
    for args in [
        vec!["load", "--transport", "sse", "--profile", &bad],
        vec!["profile", "check", &bad],
        vec!["bench", "--profile", &bad, "--target", "http://127.0.0.1:1"],
    ] {
        let o = rtbench(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        let e = stderr(&o);
        assert!(
            e.contains(&format!(
                "{bad}:6: [sse] url: unknown placeholder {{channel}}"
            )),
            "{args:?}: {e}"
        );
    }
    let toml = temp_file("broken.toml", "[publish\n");
    let o = rtbench(&["profile", "check", &toml.display().to_string()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("broken.toml:1: TOML"), "{}", stderr(&o));
}

#[test]
fn transports_a_profile_lacks_are_refused() {
    let only_sse = temp_file(
        "only-sse.toml",
        "[publish]\nurl = \"/p/{room}\"\nbody = \"{payload}\"\n[sse]\nurl = \"/s/{room}\"\n",
    );
    let p = only_sse.display().to_string();
    let o = rtbench(&["load", "--transport", "ws", "--profile", &p]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("defines only sse"), "{}", stderr(&o));
    let o = rtbench(&[
        "bench",
        "--profile",
        &p,
        "--transports",
        "sse,long-poll",
        "--target",
        "http://127.0.0.1:1",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("--transports names long-poll")
            && stderr(&o).contains("defines only sse"),
        "{}",
        stderr(&o)
    );
}

/// `rtbench server` on a free port.
fn server() -> ChildServer {
    testkit::rtbench!().server(&[], None)
}

#[test]
fn load_in_several_processes_merges_into_one_exact_result() {
    let server = server();
    let url = server.url.clone();
    let dir = std::env::temp_dir().join(format!("rtbench-processes-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let out = dir.join("merged.json");
    let o = rtbench(&[
        "load",
        "--target",
        &url,
        "--transport",
        "ws",
        "--clients",
        "30",
        "--publishers",
        "2",
        "--rate",
        "20",
        "--duration",
        "2s",
        "--processes",
        "3",
        "--threshold",
        "ws.loss==0",
        "--output",
        out.to_str().expect("utf-8 path"),
    ]);
    drop(server);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("3 × 1 publishers"), "{}", stderr(&o));
    let f: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&out).expect("merged file")).expect("json");
    let t = &f["transports"][0];
    let c = &t["counts"];
    // Three workers' clients as one run: every subscriber of any worker got
    // every acknowledged message of every worker's publishers.
    assert_eq!(t["clients"], 30, "{t}");
    assert_eq!(f["scenario"]["clients"], 30);
    assert_eq!(f["scenario"]["publishers"], 3);
    let published = c["published"].as_u64().expect("published");
    assert!(published > 0);
    assert_eq!(c["expected"].as_u64(), Some(published * 30), "{c}");
    assert_eq!(c["delivered"], c["expected"], "{c}");
    assert_eq!(c["lost"], 0);
    let l = &t["latency"];
    assert!(l["p95_us"].as_u64().is_some_and(|p95| p95 > 0), "{l}");
    assert!(l["p95_us"].as_u64() <= l["p99_us"].as_u64(), "{l}");
    let summary = String::from_utf8_lossy(&o.stdout);
    assert!(summary.contains(" p95="), "in the summary: {summary}");
    // Every client connected: memory per connection means something.
    assert!(summary.contains("/connection"), "{summary}");
    assert!(t["worker"].is_null(), "merged, not a shard");
    for k in 0..3 {
        assert!(
            dir.join(format!("merged.json.workers/worker-{k}.json"))
                .exists()
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn load_in_several_processes_without_output_leaves_no_files() {
    let server = server();
    let url = server.url.clone();
    let tmp = std::env::temp_dir().join(format!("rtbench-tmpdir-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).expect("dir");
    let o = testkit::rtbench!()
        .command()
        .args([
            "load",
            "--target",
            &url,
            "--transport",
            "sse",
            "--clients",
            "6",
        ])
        .args(["--rate", "10", "--duration", "1s", "--warmup", "200ms"])
        .args(["--processes", "2", "--quiet"])
        .env("TMPDIR", &tmp)
        .output()
        .expect("run rtbench");
    drop(server);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("2 processes"), "{}", stderr(&o));
    assert!(
        !stderr(&o).contains("results:"),
        "no worker names its temporary file: {}",
        stderr(&o)
    );
    let left: Vec<_> = std::fs::read_dir(&tmp)
        .expect("tmp")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "left behind in TMPDIR: {left:?}");
    let _ = std::fs::remove_dir_all(&tmp);
}

#[test]
fn profile_check_of_the_builtin_against_a_real_server() {
    let server = server();
    let url = server.url.clone();
    let o = rtbench(&[
        "profile",
        "check",
        "rtbench",
        "--target",
        &url,
        "--transports",
        "ws,sse,short-poll",
    ]);
    drop(server);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{out}\n{}", stderr(&o));
    assert!(
        out.contains("ws: ok: ") && out.contains("sse: ok: "),
        "{out}"
    );
    assert!(
        out.contains("WebSocket frame:"),
        "the trace shows the wire: {out}"
    );
    // Plain values, as on the wire: no Rust `Some("1")`, no `\"` escapes.
    assert!(
        out.contains("SSE event: message id: 1 data: {\"id\":\"1\""),
        "{out}"
    );
    assert!(out.contains("cursors now [1]"), "{out}");
    for internal in ["Some(", "None", "\\\""] {
        assert!(!out.contains(internal), "{internal} in {out}");
    }
}

#[test]
fn server_without_its_redis_exits_with_a_clear_error() {
    let o = rtbench(&[
        "server",
        "--addr",
        "127.0.0.1:0",
        "--broker",
        "redis://127.0.0.1:1",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("Redis at redis://127.0.0.1:1") && e.contains("--broker memory"),
        "{e}"
    );
    let o = rtbench(&["server", "--broker", "kafka://x"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

#[test]
fn server_with_bad_tls_files_exits_naming_the_file() {
    let o = rtbench(&[
        "server",
        "--addr",
        "127.0.0.1:0",
        "--tls-cert",
        "/nonexistent/cert.pem",
        "--tls-key",
        "testdata/tls/server.key",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("--tls-cert /nonexistent/cert.pem") && e.contains("cannot read"),
        "{e}"
    );
    assert!(
        String::from_utf8_lossy(&o.stdout).is_empty(),
        "nothing announced"
    );
    // One without the other is a usage error.
    let o = rtbench(&["server", "--tls-cert", "testdata/tls/server.pem"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--tls-key"), "{}", stderr(&o));
}

#[test]
fn server_announces_webtransport_on_its_port_with_the_certificate_hash() {
    let s = server();
    let port = s.listening.listening.rsplit(':').next().expect("port");
    assert_eq!(
        s.listening.webtransport.as_deref(),
        Some(format!("https://127.0.0.1:{port}").as_str())
    );
    let hash = s.listening.cert_hash.as_deref().expect("cert_hash");
    assert!(
        hash.len() == 64
            && hash
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "{hash}"
    );
    let off = testkit::rtbench!().server(&["--no-webtransport"], None);
    assert_eq!(off.listening.webtransport, None);
    assert_eq!(off.listening.cert_hash, None);
}

#[test]
fn server_whose_udp_port_is_taken_says_which_flags_help() {
    // A port free on TCP whose UDP side someone holds.
    let tcp = std::net::TcpListener::bind("127.0.0.1:0").expect("tcp");
    let port = tcp.local_addr().expect("addr").port();
    let _udp = std::net::UdpSocket::bind(("127.0.0.1", port)).expect("udp");
    drop(tcp);
    let o = rtbench(&["server", "--addr", &format!("127.0.0.1:{port}")]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("UDP") && e.contains("--webtransport-addr") && e.contains("--no-webtransport"),
        "{e}"
    );
    assert!(o.stdout.is_empty(), "nothing announced");
}
