use super::*;
use clap::Parser;
use protocol::results::{Arrival, PublishVia, PublishersAt};
use std::time::Duration;

#[derive(Parser, Debug)]
struct Cli {
    #[command(flatten)]
    load: LoadArgs,
}

fn args(list: &[&str]) -> Result<Config, String> {
    let cli = Cli::try_parse_from(std::iter::once("load").chain(list.iter().copied()))
        .map_err(|e| e.to_string())?;
    cli.load.into_config().map_err(|e| e.to_string())
}

#[test]
fn flags_parse() {
    let c = args(&[
        "--transport",
        "short-poll",
        "--clients",
        "1.5k",
        "--rooms",
        "3",
        "--rate",
        "2k",
        "--duration",
        "2m",
        "--poll-interval",
        "500ms",
        "--seed",
        "7",
        "--arrival",
        "poisson",
    ])
    .expect("valid");
    assert_eq!(c.clients, 1500);
    assert_eq!(c.rate_per_sec, 2000.0);
    assert_eq!(c.duration, Duration::from_secs(120));
    assert_eq!(c.poll_interval, Duration::from_millis(500));
    assert_eq!(c.seed, 7);
    assert_eq!(c.arrival, Arrival::Poisson);
}

#[test]
fn conflicts_name_the_flag() {
    let e = args(&["--transport", "ws", "--poll-interval", "1s"]).expect_err("conflict");
    assert!(e.contains("--poll-interval"), "{e}");
    let e = args(&["--transport", "sse", "--long-poll-wait", "5s"]).expect_err("conflict");
    assert!(e.contains("--long-poll-wait"), "{e}");
    let e = args(&["--clients", "10"]).expect_err("missing transport");
    assert!(e.contains("--transport"), "{e}");
    let far = ["--transport", "ws", "--target", "http://192.168.1.1:80"];
    args(&far).expect("any address is a target");
    let e = args(&[&far[..], &["--source-ips", "127.0.0.1-127.0.0.2"]].concat())
        .expect_err("loopback sources for a far target");
    assert!(e.contains("--source-ips"), "{e}");
    let e = args(&["--transport", "ws", "--duration", "soon"]).expect_err("bad duration");
    assert!(e.contains("--duration"), "{e}");
}

#[test]
fn publishers_at_needs_a_network() {
    let c = args(&["--transport", "ws"]).expect("default");
    assert_eq!(c.publishers_at, PublishersAt::Client);
    let net = ["--transport", "sse", "--network", "lte"];
    let c = args(&[&net[..], &["--publishers-at", "server"]].concat()).expect("valid");
    assert_eq!(c.publishers_at, PublishersAt::Server);
    let c = args(&[&net[..], &["--publishers-at", "CLIENT"]].concat()).expect("valid");
    assert_eq!(c.publishers_at, PublishersAt::Client);
    let e = args(&["--transport", "ws", "--publishers-at", "server"]).expect_err("no link");
    assert!(
        e.contains("--publishers-at") && e.contains("--network"),
        "{e}"
    );
    let e = args(&[&net[..], &["--publishers-at", "cloud"]].concat()).expect_err("bad side");
    assert!(e.contains("--publishers-at"), "{e}");
    let e = args(&[&net[..], &["--publishers-at", "server", "--processes", "2"]].concat())
        .expect_err("workers");
    assert!(e.contains("--publishers-at"), "{e}");
}

#[test]
fn scenario_file_and_override() {
    let dir = std::env::temp_dir().join(format!("rtbench-args-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("s.toml");
    std::fs::write(
        &path,
        "transport = \"long-poll\"\nclients = \"2k\"\nrooms = 4\nrate = 50\nduration = \"30s\"\n\
         long-poll-wait = \"10s\"\nseed = 3\npublish_via = \"ws\"\nnetwork = \"lte\"\n\
         publishers-at = \"server\"\n",
    )
    .expect("write");
    let p = path.to_string_lossy().to_string();
    let c = args(&["--scenario", &p, "--clients", "100"]).expect("valid");
    assert_eq!(c.transport, Transport::LongPoll);
    assert_eq!(c.clients, 100);
    assert_eq!(c.rooms, 4);
    assert_eq!(c.duration, Duration::from_secs(30));
    assert_eq!(c.long_poll_wait, Duration::from_secs(10));
    assert_eq!(c.publish_via, PublishVia::Ws);
    assert_eq!(c.publishers_at, PublishersAt::Server);
    // The file's long-poll-wait does not apply to a WebSocket run.
    let c = args(&["--scenario", &p, "--transport", "ws"]).expect("no conflict");
    assert_eq!(c.transport, Transport::Ws);
    std::fs::write(&path, "clients = 10\nbogus = 1\n").expect("write");
    let e = args(&["--scenario", &p]).expect_err("unknown key");
    assert!(e.contains("bogus"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn thresholds_from_file_then_flags() {
    let dir = std::env::temp_dir().join(format!("rtbench-thresholds-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("t.toml");
    std::fs::write(
        &path,
        "transport = \"ws\"\nclients = 10\n\n[thresholds]\n\"ws.latency.p99\" = \"<25ms\"\n\
         \"*.loss\" = [\"==0\", \" <= 1\"]\n",
    )
    .expect("write");
    let p = path.to_string_lossy().to_string();
    let cli = Cli::try_parse_from([
        "load",
        "--scenario",
        &p,
        "--threshold",
        "sse.errors==0",
        "--threshold",
        "*.p50 < 5ms",
    ])
    .expect("flags");
    assert_eq!(
        cli.load.threshold_exprs().expect("thresholds"),
        [
            "*.loss==0",
            "*.loss<= 1",
            "ws.latency.p99<25ms",
            "sse.errors==0",
            "*.p50 < 5ms"
        ]
    );
    // The table does not disturb the settings.
    let c = cli.load.into_config().expect("config");
    assert_eq!((c.transport, c.clients), (Transport::Ws, 10));

    std::fs::write(&path, "[thresholds]\n\"ws.loss\" = \"0\"\n").expect("write");
    let cli = Cli::try_parse_from(["load", "--scenario", &p]).expect("flags");
    let e = cli.load.threshold_exprs().expect_err("no operator");
    assert!(e.to_string().contains("operator"), "{e}");
    std::fs::write(&path, "[thresholds]\n\"ws.loss\" = 0\n").expect("write");
    let cli = Cli::try_parse_from(["load", "--scenario", &p]).expect("flags");
    let e = cli
        .load
        .threshold_exprs()
        .expect_err("a number is no condition");
    assert!(e.to_string().contains("thresholds"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn polling_keys_in_a_file_apply_only_to_their_transport() {
    let dir = std::env::temp_dir().join(format!("rtbench-args-poll-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("both.toml");
    std::fs::write(
        &path,
        "poll_interval = \"250ms\"\nlong_poll_wait = \"5s\"\n",
    )
    .expect("write");
    let p = path.to_string_lossy().to_string();
    let ws = args(&["--scenario", &p, "--transport", "ws"]).expect("file keys are no conflict");
    assert_eq!(ws.transport, Transport::Ws);
    let sp = args(&["--scenario", &p, "--transport", "short-poll"]).expect("valid");
    assert_eq!(sp.poll_interval, Duration::from_millis(250));
    let lp = args(&["--scenario", &p, "--transport", "long-poll"]).expect("valid");
    assert_eq!(lp.long_poll_wait, Duration::from_secs(5));
    // The same setting as a flag is a mistake worth naming.
    let e = args(&["--transport", "ws", "--poll-interval", "1s"]).expect_err("conflict");
    assert!(e.contains("--poll-interval"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn file_values_use_the_flags_parsers_and_errors_name_the_key() {
    let dir = std::env::temp_dir().join(format!("rtbench-args-keys-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("k.toml");
    let p = path.to_string_lossy().to_string();
    std::fs::write(
        &path,
        "transport = \"WS\"\nsize = \"1k\"\nrate = \"600/m\"\nduration = \"1m30s\"\n",
    )
    .expect("write");
    let c = args(&["--scenario", &p]).expect("valid");
    assert_eq!(c.transport, Transport::Ws);
    assert_eq!(c.size_bytes, 1024, "sizes are binary in files too");
    assert_eq!(c.rate_per_sec, 10.0);
    assert_eq!(c.duration, Duration::from_secs(90));
    let f = args(&["--transport", "ws", "--size", "1k", "--rate", "10/s"]).expect("flags");
    assert_eq!((f.size_bytes, f.rate_per_sec), (1024, 10.0));

    std::fs::write(&path, "ramp-up = \"fast\"\n").expect("write");
    let e = args(&["--scenario", &p, "--transport", "ws"]).expect_err("bad value");
    assert!(e.contains("ramp-up: invalid duration"), "{e}");
    std::fs::write(&path, "ramp-up = 5\nramp_up = 6\n").expect("write");
    let e = args(&["--scenario", &p, "--transport", "ws"]).expect_err("twice");
    assert!(e.contains("given twice"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn shipped_scenarios_parse() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).expect("scenarios/").flatten() {
        let p = entry.path();
        if p.extension().is_some_and(|e| e == "toml") {
            let s = p.to_string_lossy().to_string();
            for t in ["ws", "sse", "long-poll", "short-poll"] {
                args(&["--scenario", &s, "--transport", t]).unwrap_or_else(|e| panic!("{s}: {e}"));
            }
            n += 1;
        }
    }
    assert!(n >= 3, "expected at least 3 scenario files, found {n}");
}
