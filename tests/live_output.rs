//! Live output of the real binary off a terminal (as in CI logs): a plain
//! progress line every `--progress-interval`, none with `--quiet` or 0, and
//! `--metrics-addr` refused where no single process could serve it.

use std::process::Output;
use testkit::child::{ChildServer, stderr};

fn rtbench(args: &[&str]) -> Output {
    testkit::rtbench!().run(args)
}

fn server() -> ChildServer {
    testkit::rtbench!().server(&[], None)
}

/// A short ws run (1 s warm-up, 3 s window: at least four sampled seconds).
fn load(url: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "load",
        "--target",
        url,
        "--transport",
        "ws",
        "--clients",
        "10",
        "--duration",
        "3s",
        "--drain",
        "1s",
    ];
    args.extend_from_slice(extra);
    rtbench(&args)
}

#[test]
fn off_a_terminal_a_plain_progress_line_every_interval() {
    let server = server();
    let o = load(&server.url, &["--progress-interval", "1s"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("rtbench: ")).collect();
    assert!(lines.len() >= 4, "{err}");
    for (i, l) in lines.iter().enumerate() {
        assert!(l.starts_with(&format!("rtbench: {}s ", i + 1)), "{err}");
        assert!(
            l.contains(" connected ") && l.contains("/10 deliveries/s "),
            "{l}"
        );
    }
    assert!(
        lines
            .iter()
            .any(|l| l.contains("s measure connected 10/10")),
        "{err}"
    );

    let silent: [&[&str]; 2] = [
        &["--progress-interval", "1s", "--quiet"],
        &["--progress-interval", "0"],
    ];
    for flags in silent {
        let o = load(&server.url, flags);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(
            !stderr(&o).contains("rtbench: 1s"),
            "{flags:?}: {}",
            stderr(&o)
        );
    }
}

#[test]
fn metrics_addr_with_processes_is_a_usage_error() {
    let o = rtbench(&[
        "load",
        "--transport",
        "ws",
        "--processes",
        "2",
        "--metrics-addr",
        "127.0.0.1:0",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--metrics-addr"), "{}", stderr(&o));
}
