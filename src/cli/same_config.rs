//! One scenario, four ways in — flags, a scenario file, a `bench --matrix`
//! cell, and the `--processes` worker path (serialized, then read back) —
//! must give the identical `Config`.

use super::bench::{BenchArgs, run_config};
use super::matrix::cells;
use super::processes::worker_input;
use clap::Parser;
use loadgen::{Config, LoadArgs, Scenario};
use protocol::Transport;

#[derive(Parser)]
struct Load {
    #[command(flatten)]
    load: LoadArgs,
}

#[derive(Parser)]
struct Bench {
    #[command(flatten)]
    bench: BenchArgs,
}

/// Every setting but clients, rate and size (the matrix keys).
const COMMON: [&str; 18] = [
    "--target",
    "http://127.0.0.1:9",
    "--rooms",
    "3",
    "--duration",
    "1m30s",
    "--warmup",
    "1.5s",
    "--connect-rate",
    "2k",
    "--poll-interval",
    "500ms",
    "--seed",
    "7",
    "--publish-via",
    "ws",
    "--source-ips",
    "127.0.0.1-127.0.0.2",
];

const FILE: &str = r#"
description = "the same scenario as COMMON plus clients, rate and size"
target = "http://127.0.0.1:9"
transport = "short-poll"
clients = "1.5k"
rooms = 3
rate = "10/s"
size = "1k"
duration = "1m30s"
warmup = 1.5
connect-rate = "2k"
poll_interval = "500ms"
seed = 7
publish-via = "ws"
source-ips = "127.0.0.1-127.0.0.2"

[thresholds]
"short-poll.loss" = "==0"
"#;

fn load(args: &[&str]) -> Load {
    let argv = ["load"].iter().chain(args).copied();
    Load::try_parse_from(argv).expect("load flags")
}

/// The config of the only matrix cell of a bench command line.
fn one_cell(flags: &[&str], t: Transport, own: Option<&str>) -> Config {
    let bench = Bench::try_parse_from(flags).expect("bench flags").bench;
    let resolved = bench.shared.resolve().expect("bench settings");
    let cells = cells(&bench.matrix);
    let [cell] = cells.as_slice() else {
        panic!("one cell, got {}", cells.len());
    };
    run_config(&bench, &resolved, cell, t, own).expect("cell")
}

fn debug(c: &Config) -> String {
    format!("{c:?}")
}

#[test]
fn flags_file_matrix_cell_and_worker_give_the_same_config() {
    // (a) Flags.
    let mut flags = COMMON.to_vec();
    flags.extend(["--transport", "short-poll", "--clients", "1.5k"]);
    flags.extend(["--rate", "10/s", "--size", "1k"]);
    let a = load(&flags).load.plan().expect("flags");
    assert_eq!(a.config.size_bytes, 1024, "sizes are binary");
    assert_eq!(a.config.rate_per_sec, 10.0);
    assert_eq!(a.config.clients, 1500);
    assert_eq!(a.config.duration, std::time::Duration::from_secs(90));
    assert!(a.thresholds.is_empty());

    // (b) The same as a scenario file; its [thresholds] reach the parent.
    let dir = std::env::temp_dir().join(format!("rtbench-same-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("same.toml");
    std::fs::write(&path, FILE).expect("write");
    let p = path.to_str().expect("utf-8 path");
    let b = load(&["--scenario", p]).load.plan().expect("file");
    assert_eq!(b.thresholds, ["short-poll.loss==0"]);
    assert_eq!(b.config.scenario_file.as_deref(), Some(path.as_path()));
    let mut from_file = b.config.clone();
    from_file.scenario_file = None;
    assert_eq!(debug(&from_file), debug(&a.config), "file = flags");

    // (c) Clients, rate and size as bench --matrix cells (bench's own
    // defaults for clients, duration and warmup are overridden).
    let mut bench_flags = vec!["bench"];
    bench_flags.extend(COMMON);
    bench_flags.extend(["--matrix", "clients=1.5k", "--matrix", "rate=10/s"]);
    bench_flags.extend(["--matrix", "size=1k"]);
    let c = one_cell(&bench_flags, Transport::ShortPoll, None);
    assert_eq!(debug(&c), debug(&a.config), "matrix cell = flags");

    // (d) A --processes worker (one of one): the parent's layered scenario
    // serialized, read back by `load --scenario-stdin`; no thresholds.
    for parent in [&a, &b] {
        let bytes = worker_input(1, &parent.scenario).expect("json");
        let base: Scenario = serde_json::from_slice(&bytes).expect("read back");
        let w = load(&["--scenario-stdin"])
            .load
            .plan_on(Some(base))
            .expect("worker");
        assert!(w.thresholds.is_empty(), "thresholds stay with the parent");
        assert_eq!(debug(&w.config), debug(&a.config), "worker = flags");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_flag_not_given_never_overrides_the_file() {
    let dir = std::env::temp_dir().join(format!("rtbench-layers-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("layers.toml");
    std::fs::write(&path, "clients = 20\nduration = \"3s\"\nwarmup = \"0s\"\n").expect("write");
    let p = path.to_str().expect("utf-8 path");
    // Bench's own defaults (1,000 clients, 20 s, 2 s) give way to the file,
    // and a flag given beats both.
    let bench = Bench::try_parse_from(["bench", "--scenario", p, "--warmup", "1s"])
        .expect("bench flags")
        .bench;
    let s = bench.shared.resolve().expect("layers").scenario;
    assert_eq!((s.clients.0, s.duration.0.as_secs()), (20, 3));
    assert_eq!(s.warmup.0.as_secs(), 1);
    // Without a file, bench's defaults apply.
    let bench = Bench::try_parse_from(["bench"]).expect("bench").bench;
    let s = bench.shared.resolve().expect("defaults").scenario;
    assert_eq!(
        (s.clients.0, s.duration.0.as_secs(), s.warmup.0.as_secs()),
        (1000, 20, 2)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn network_as_flag_file_matrix_cell_and_worker_give_the_same_config() {
    // No --target: rtbench's own server on the link's server side, whose
    // address stands in until it runs.
    let own = format!("http://{}", netem::SERVER_ADDR);
    let a = load(&["--transport", "ws", "--network", "lte", "--seed", "7"])
        .load
        .plan()
        .expect("flag");
    assert!(a.own_server);
    assert_eq!(
        a.config
            .network
            .as_ref()
            .map(ToString::to_string)
            .as_deref(),
        Some("lte")
    );
    assert_eq!(a.config.targets_url(), own);

    let dir = std::env::temp_dir().join(format!("rtbench-same-net-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("net.toml");
    std::fs::write(&path, "transport = \"ws\"\nnetwork = \"lte\"\nseed = 7\n").expect("write");
    let p = path.to_str().expect("utf-8 path");
    let mut b = load(&["--scenario", p]).load.plan().expect("file").config;
    b.scenario_file = None;
    assert_eq!(debug(&b), debug(&a.config), "file = flag");

    let bench_flags = ["bench", "--matrix", "network=lte", "--seed", "7"];
    let mut c = one_cell(&bench_flags, Transport::Ws, Some(&own));
    // Bench's own defaults for clients, duration and warmup differ from load's.
    c.clients = a.config.clients;
    c.duration = a.config.duration;
    c.warmup = a.config.warmup;
    assert_eq!(debug(&c), debug(&a.config), "matrix cell = flag");

    // A --processes worker runs inside the link: it records the network and
    // starts none.
    let bytes = worker_input(1, &a.scenario).expect("json");
    let base: Scenario = serde_json::from_slice(&bytes).expect("read back");
    let w = load(&["--scenario-stdin", "--inside-link"])
        .load
        .plan_on(Some(base))
        .expect("worker");
    assert!(!w.own_server);
    assert_eq!(debug(&w.config), debug(&a.config), "worker = flag");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_network_needs_a_server_on_its_far_side() {
    let e = load(&[
        "--transport",
        "ws",
        "--network",
        "lte",
        "--target",
        "http://127.0.0.1:9",
    ])
    .load
    .plan()
    .expect_err("loopback");
    assert!(
        e.to_string().contains("never crosses the emulated link"),
        "{e}"
    );
    let e = load(&[
        "--transport",
        "ws",
        "--network",
        "lte",
        "--target",
        "http://198.18.0.2:9",
    ])
    .load
    .plan()
    .expect_err("nobody there");
    assert!(e.to_string().contains("--server-cmd"), "{e}");
    let ok = load(&[
        "--transport",
        "ws",
        "--network",
        "lte",
        "--target",
        "http://198.18.0.2:9",
        "--server-cmd",
        "exec my-server --port 9",
    ])
    .load
    .plan()
    .expect("a server started on the link");
    assert!(!ok.own_server);
    let e = load(&[
        "--transport",
        "ws",
        "--network",
        "lte",
        "--source-ips",
        "127.0.0.1-127.0.0.2",
    ])
    .load
    .plan()
    .expect_err("source addresses");
    assert!(e.to_string().contains("not supported yet"), "{e}");
    let e = load(&["--transport", "ws", "--server-cmd", "my-server"])
        .load
        .plan()
        .expect_err("where does it listen?");
    assert!(
        e.to_string().contains("--target http://127.0.0.1:8080"),
        "{e}"
    );
}

#[test]
fn short_flags_and_compound_units_give_the_long_forms_config() {
    let short = [
        "--transport",
        "ws",
        "-c",
        "10",
        "-d",
        "1m30s",
        "-r",
        "600/m",
    ];
    let long = ["--transport", "ws", "--clients", "10", "--duration", "90s"];
    let mut long = long.to_vec();
    long.extend(["--rate", "10", "--seed", "1"]);
    let mut short = short.to_vec();
    short.extend(["--seed", "1"]);
    let a = load(&short).load.plan().expect("short flags").config;
    let b = load(&long).load.plan().expect("long flags").config;
    assert_eq!((a.clients, a.duration.as_secs()), (10, 90));
    assert_eq!(
        debug(&a),
        debug(&b),
        "-c 10 -d 1m30s = --clients 10 --duration 90s"
    );
    // The ramp-up as a time, k6's habit: 10 clients over 2 s.
    let mut paced = short.clone();
    paced.extend(["--ramp-up", "2s"]);
    let c = load(&paced).load.plan().expect("ramp-up").config;
    assert_eq!(c.ramp_up_per_sec, 5.0);
    // -o is --output on load, bench and report alike.
    let l = load(&["--transport", "ws", "-o", "r.json"]).load;
    assert_eq!(l.output.as_deref(), Some(std::path::Path::new("r.json")));
    let b = Bench::try_parse_from(["bench", "-c", "5", "-o", "d"]).expect("bench");
    assert_eq!(b.bench.output, std::path::PathBuf::from("d"));
    let old = Bench::try_parse_from(["bench", "--out", "d"]).expect("--out still works");
    assert_eq!(old.bench.output, std::path::PathBuf::from("d"));
}

/// Every duration and rate flag of every command takes the compound and
/// per-unit forms (`1m30s`, `10/s`, `600/m`), as `--duration` and `--rate` do.
#[test]
fn every_duration_and_rate_flag_takes_the_unit_forms() {
    use clap::CommandFactory;
    use protocol::units::{Dur, Rate};
    use std::any::TypeId;
    let cli = super::Cli::command();
    let mut checked = Vec::new();
    for sub in cli.get_subcommands() {
        let required = sub.get_positionals().any(|a| a.is_required_set());
        for arg in sub.get_arguments() {
            let Some(long) = arg.get_long() else { continue };
            let ty = arg.get_value_parser().type_id();
            let forms: &[(&str, f64)] = if ty == TypeId::of::<Dur>() {
                &[("1m30s", 90.0), ("1.5s", 1.5), ("1h2m", 3720.0)]
            } else if ty == TypeId::of::<Rate>() {
                &[("10/s", 10.0), ("600/m", 10.0), ("36k/h", 10.0)]
            } else {
                continue;
            };
            assert!(!required, "{} needs its positionals here", sub.get_name());
            for (text, want) in forms {
                let flag = format!("--{long}");
                let m = sub
                    .clone()
                    .try_get_matches_from([sub.get_name(), flag.as_str(), text])
                    .unwrap_or_else(|e| panic!("{} {flag} {text}: {e}", sub.get_name()));
                let id = arg.get_id().as_str();
                let got = if ty == TypeId::of::<Dur>() {
                    m.get_one::<Dur>(id).map(|d| d.0.as_secs_f64())
                } else {
                    m.get_one::<Rate>(id).map(|r| r.0)
                };
                assert_eq!(got, Some(*want), "{} {flag} {text}", sub.get_name());
            }
            checked.push(format!("{} --{long}", sub.get_name()));
        }
    }
    for must in [
        "load --duration",
        "load --rate",
        "bench --warmup",
        "server --heartbeat",
    ] {
        assert!(checked.iter().any(|c| c == must), "{must} in {checked:?}");
    }
    // `--ramp-up` is a time; `--publish-rate-limit` a rate with a burst.
    let load = load(&["--transport", "ws", "-c", "90", "--ramp-up", "1m30s"]);
    let c = load.load.plan().expect("ramp-up").config;
    assert_eq!(c.ramp_up_per_sec, 1.0);
    let limit = server::limits::RateLimit::parse("600/m").map(|l| l.per_sec);
    assert_eq!(limit, Ok(10.0));
}
