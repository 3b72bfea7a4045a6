//! [`Scenario`]: every setting of a load run, defined once — its flag, help,
//! default, type and scenario-file key. `rtbench load` and `rtbench bench`
//! flatten it, scenario files and `bench --matrix` cells are layered onto it
//! through serde, and `--processes` hands it to its workers as JSON.
//!
//! Adding a setting: a field here (and, if the runner needs it, a field of
//! [`crate::Config`] filled in `Config::from_scenario`). Layering, files,
//! matrix cells and workers need no code per setting.

use crate::pace::RampUp;
use crate::parse::SourceIps;
use clap::{ArgMatches, Command, FromArgMatches};
use protocol::Transport;
use protocol::results::{Arrival, PublishVia, PublishersAt};
use protocol::units::{ByteSize, Count, Dur, Rate};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

/// The settings of a run. Every field is a flag of `rtbench load` and
/// `rtbench bench` (except `transport`, a flag of load only) and a key of
/// the `--scenario` file (`_` or `-`).
#[derive(Debug, Clone, PartialEq, clap::Args, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Base URL of the server under test: http(s)://HOST[:PORT], HOST an
    /// IP address or a name (resolved once, at the start of the run; with
    /// --network, the link's server side http://198.18.0.2:PORT); several,
    /// comma-separated: clients and publishers round-robin over them
    #[arg(long, value_name = "URL", default_value_t = String::from("http://127.0.0.1:3000"))]
    pub target: String,
    /// Put an emulated network between the clients and the server: a preset
    /// (lan, wifi, lte, lossy-lte, 3g, satellite, intercontinental, edge,
    /// origin) or keys like rtt=80ms,loss=1%,down=12mbit, or a preset with
    /// overrides (lte,loss=2%); see docs/network.md. Each client gets its own
    /// link. Without --target, rtbench's own server runs behind it. Needs
    /// root or CAP_NET_ADMIN
    #[arg(long, value_name = "PRESET|SPEC")]
    #[serde(with = "opt_text")]
    pub network: Option<netem::NetworkSpec>,
    /// Start this server for the run and stop it at the end (`sh -c`): with
    /// --network it runs on the link's server side with
    /// RTBENCH_SERVER_ADDR=198.18.0.2 (else 127.0.0.1) in its environment,
    /// must listen there (or on 0.0.0.0), and --target names it, e.g.
    /// http://198.18.0.2:8080
    #[arg(long = "server-cmd", value_name = "CMD")]
    pub server_cmd: Option<String>,
    /// How clients subscribe; `rtbench load --transport`, or the runs of
    /// `rtbench bench --transports`.
    #[arg(skip)]
    #[serde(with = "opt_text")]
    pub transport: Option<Transport>,
    /// How to speak to the target: a profile TOML file for another server
    /// (docs/profiles.md), or `rtbench` for rtbench's own [default: rtbench]
    #[arg(long, value_name = "FILE")]
    pub profile: Option<String>,
    /// PID of the server process on this machine: its CPU and RSS are
    /// sampled from /proc as the server's cost (for servers without
    /// rtbench's /api/stats)
    #[arg(long = "server-pid", value_name = "PID")]
    pub server_pid: Option<u32>,
    /// Subscribing clients, one connection each (e.g. 1000, 10k)
    #[arg(short = 'c', long, value_name = "N", default_value_t = Count(100))]
    pub clients: Count,
    /// Rooms; clients are spread over them evenly
    #[arg(long, value_name = "R", default_value_t = Count(1))]
    pub rooms: Count,
    /// Name the rooms PREFIX0, PREFIX1, … (what `{room}` expands to in a
    /// profile), the same in every run: for a server that only serves
    /// channels it knows [default: rtb<run tag>r<N>, e.g. rtb9f5812f0r0,
    /// new each run, [a-z0-9] only]
    #[arg(long = "room-prefix", value_name = "PREFIX")]
    pub room_prefix: Option<String>,
    /// Open-loop publishers
    #[arg(long, value_name = "P", default_value_t = Count(1))]
    pub publishers: Count,
    /// Messages per second, total across publishers (e.g. 10, 0.5, 2.5k,
    /// 600/m)
    #[arg(short = 'r', long, value_name = "MSGS_PER_SEC", default_value_t = Rate(10.0))]
    pub rate: Rate,
    /// Spacing of publish times: constant or poisson
    #[arg(long, value_name = "ARRIVAL", default_value_t = Arrival::Constant)]
    #[serde(with = "text")]
    pub arrival: Arrival,
    /// Bytes of text per message (e.g. 100, 1k = 1KiB = 1,024)
    #[arg(long, value_name = "BYTES", default_value_t = ByteSize(100))]
    pub size: ByteSize,
    /// Length of the measured window (e.g. 30s, 2m, 1m30s)
    #[arg(short = 'd', long, value_name = "DURATION", default_value_t = secs(10))]
    pub duration: Dur,
    /// Time to connect every client (e.g. 10s, 1m): clients connect
    /// evenly over it, as with k6's ramp-up [default: at --connect-rate]
    #[arg(
        long = "ramp-up",
        value_name = "DURATION",
        conflicts_with = "connect_rate"
    )]
    pub ramp_up: Option<RampUp>,
    /// Clients connected per second during ramp-up (unless --ramp-up gives
    /// the time instead)
    #[arg(long = "connect-rate", value_name = "CLIENTS_PER_SEC", default_value_t = Rate(1000.0))]
    pub connect_rate: Rate,
    /// Load that changes over the run: stages DURATION:CLIENTSc@RATE,
    /// comma-separated, each reached linearly from the previous one (from 0
    /// clients and 0/s), e.g. 30s:100c@10/s,1m:1000c@100/s,30s:0c; a stage
    /// may name only clients (1m:500c) or only a rate (1m:@50/s). The
    /// window is the sum of the stages: not with --duration or --warmup,
    /// nor --clients/--rate where stages name clients/rates (docs/stages.md)
    #[arg(long, value_name = "STAGES")]
    #[serde(default, with = "opt_text")]
    pub stages: Option<crate::stages::Stages>,
    /// Publishing before the window, not recorded
    #[arg(long, value_name = "DURATION", default_value_t = secs(1))]
    pub warmup: Dur,
    /// Longest wait for in-flight messages after the last publish
    #[arg(long, value_name = "DURATION", default_value_t = secs(5))]
    pub drain: Dur,
    /// Short poll only: time between polls; 0 polls back to back (a
    /// request-rate test, as wrk does)
    #[arg(long = "poll-interval", value_name = "DURATION", default_value_t = secs(1))]
    pub poll_interval: Dur,
    /// Long poll only: how long the server may hold a poll
    #[arg(long = "long-poll-wait", value_name = "DURATION", default_value_t = secs(25))]
    pub long_poll_wait: Dur,
    /// A push stream (SSE, WebSocket) that hears nothing, not even a
    /// heartbeat, for this long is taken as dead and reconnected (noticed
    /// within a quarter of it more)
    #[arg(long = "stream-timeout", value_name = "DURATION", default_value_t = secs(60))]
    pub stream_timeout: Dur,
    /// How publishers send: http (POST), ws (a frame), socketio (an event
    /// with an acknowledgement) or webtransport (a frame on a session's
    /// stream, acknowledged) [default: http, or the one way a profile
    /// without HTTP publishing has]
    #[arg(long = "publish-via", value_name = "VIA")]
    #[serde(with = "opt_text")]
    pub publish_via: Option<PublishVia>,
    /// With --network: which side of the link publishers' sockets are on:
    /// client (with the subscribers, a phone that publishes; latency
    /// includes its uplink) or server (a backend in the data centre that
    /// pushes to phones; latency is the downlink's)
    #[arg(long = "publishers-at", value_name = "SIDE", default_value_t = PublishersAt::Client)]
    #[serde(with = "text")]
    pub publishers_at: PublishersAt,
    /// Seed for publish schedules, poll phases and jitter [default: random]
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Loopback source addresses for client sockets, e.g. 127.0.0.1-127.0.0.8
    /// (each gives ~28k more ports)
    #[arg(long = "source-ips", value_name = "RANGE")]
    #[serde(with = "opt_text")]
    pub source_ips: Option<SourceIps>,
    /// With https:// targets: trust any certificate (self-signed test servers)
    #[arg(long, conflicts_with = "ca_cert")]
    pub insecure: bool,
    /// With https:// targets: trust the CA certificates in this PEM file
    /// [default: the system's, or SSL_CERT_FILE]
    #[arg(long = "ca-cert", value_name = "PEM")]
    pub ca_cert: Option<PathBuf>,
    /// With https:// targets: speak HTTP/2 (ALPN h2) for SSE, polls and
    /// publishes, one connection per client; WebSockets stay on HTTP/1.1
    #[arg(long)]
    pub http2: bool,
    /// WebTransport: trust the server's certificate by its SHA-256 (64 hex
    /// digits, from the server's start-up line or GET /api/webtransport)
    /// [default: with neither --ca-cert nor --insecure, the hash the
    /// server's /api/webtransport gives, pinned once]
    #[arg(long = "cert-hash", value_name = "HEX", conflicts_with_all = ["insecure", "ca_cert"])]
    pub cert_hash: Option<String>,
    /// webtransport-datagram: a subscriber that sees a hole in the room's
    /// ids (after a short reorder window) fetches the missing messages on a
    /// stream; they count as delivered (late) and recovered, instead of
    /// dropped by design
    #[arg(long = "datagram-catch-up")]
    pub datagram_catch_up: bool,
    /// A token every client sends (where the profile says; rtbench's:
    /// `Authorization: Bearer`)
    #[arg(long, value_name = "TOKEN", conflicts_with = "token_secret")]
    pub token: Option<String>,
    /// Mint an HS256 JWT per client with this secret, `sub` = the client's
    /// name (c17, p3), valid 24 h (for `rtbench server --auth-token-secret`)
    #[arg(
        long = "token-secret",
        value_name = "SECRET",
        env = "RTBENCH_TOKEN_SECRET",
        hide_env_values = true
    )]
    pub token_secret: Option<String>,
}

const fn secs(n: u64) -> Dur {
    Dur(Duration::from_secs(n))
}

/// Settings that belong to one transport. As a flag of `rtbench load` with
/// another transport they are a mistake worth naming; in a scenario file
/// (which describes a workload for every transport, and bench shares it)
/// and in bench they simply do not apply to the other transports' runs.
pub const TRANSPORT_ONLY: [(&str, &str, Transport); 3] = [
    ("poll_interval", "--poll-interval", Transport::ShortPoll),
    ("long_poll_wait", "--long-poll-wait", Transport::LongPoll),
    (
        "datagram_catch_up",
        "--datagram-catch-up",
        Transport::WebTransportDatagram,
    ),
];

/// A value that does not fit its setting: the key and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerError {
    pub key: String,
    pub why: String,
}

impl Scenario {
    /// The built-in defaults: clap's `default_value_t`s above, the one place
    /// they are written (the environment is not consulted).
    pub fn defaults() -> &'static Scenario {
        static DEFAULTS: OnceLock<Scenario> = OnceLock::new();
        DEFAULTS.get_or_init(|| {
            let cmd = <Scenario as clap::Args>::augment_args(Command::new("defaults"))
                .mut_args(|a| a.env(None::<&str>));
            let m = cmd.get_matches_from(["defaults"]);
            Scenario::from_arg_matches(&m)
                .unwrap_or_else(|e| unreachable!("the defaults parse (tested): {e}"))
        })
    }

    /// The settings as a map from key (`ramp_up`) to value.
    pub fn to_map(&self) -> Map<String, Value> {
        match serde_json::to_value(self) {
            Ok(Value::Object(m)) => m,
            other => unreachable!("a struct serializes to a map: {other:?}"),
        }
    }

    /// These settings with `layer`'s keys replaced; each key is checked on
    /// its own first, so an error names the key it is about.
    pub fn layered(&self, layer: &Map<String, Value>) -> Result<Scenario, LayerError> {
        let base = self.to_map();
        for (key, value) in layer {
            let mut one = base.clone();
            one.insert(key.clone(), value.clone());
            from_map(one).map_err(|why| LayerError {
                key: key.clone(),
                why,
            })?;
        }
        let mut all = base;
        all.extend(layer.clone());
        from_map(all).map_err(|why| LayerError {
            key: String::new(),
            why,
        })
    }

    /// One setting given as text, e.g. a `--matrix` cell `size=1k`: read
    /// by the same parser as the flag.
    pub fn with(&self, key: &str, value: &str) -> Result<Scenario, LayerError> {
        let mut layer = Map::new();
        layer.insert(key.to_string(), Value::String(value.to_string()));
        self.layered(&layer)
    }
}

fn from_map(map: Map<String, Value>) -> Result<Scenario, String> {
    serde_json::from_value(Value::Object(map)).map_err(|e| e.to_string())
}

/// Flags of `T`, and which of them the command line or the environment
/// set: a flag that was not given must not override a scenario file.
#[derive(Debug, Clone)]
pub struct Given<T> {
    pub values: T,
    given: Vec<String>,
}

impl<T> Given<T> {
    /// Whether the flag with this id (= the field's name) was given.
    pub fn given(&self, id: &str) -> bool {
        self.given.iter().any(|g| g == id)
    }

    /// The ids of the flags that were given.
    pub fn ids(&self) -> &[String] {
        &self.given
    }
}

fn explicit<T: clap::Args>(m: &ArgMatches) -> Vec<String> {
    T::augment_args(Command::new("ids"))
        .get_arguments()
        .map(|a| a.get_id().as_str())
        .filter(|id| {
            m.value_source(id)
                .is_some_and(|s| s != clap::parser::ValueSource::DefaultValue)
        })
        .map(String::from)
        .collect()
}

impl<T: clap::Args> clap::Args for Given<T> {
    fn augment_args(cmd: Command) -> Command {
        T::augment_args(cmd)
    }

    fn augment_args_for_update(cmd: Command) -> Command {
        T::augment_args_for_update(cmd)
    }

    fn group_id() -> Option<clap::Id> {
        T::group_id()
    }
}

impl<T: clap::Args + FromArgMatches> FromArgMatches for Given<T> {
    fn from_arg_matches(m: &ArgMatches) -> Result<Self, clap::Error> {
        Ok(Given {
            values: T::from_arg_matches(m)?,
            given: explicit::<T>(m),
        })
    }

    fn update_from_arg_matches(&mut self, m: &ArgMatches) -> Result<(), clap::Error> {
        self.values.update_from_arg_matches(m)?;
        for id in explicit::<T>(m) {
            if !self.given(&id) {
                self.given.push(id);
            }
        }
        Ok(())
    }
}

/// Serde through `FromStr`/`Display`, so a file accepts what the flag
/// accepts (`WS`, `short_poll`).
mod text {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::fmt::Display;
    use std::str::FromStr;

    pub fn serialize<T: Display, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(v)
    }

    pub fn deserialize<'de, T, D>(d: D) -> Result<T, D::Error>
    where
        T: FromStr,
        T::Err: Display,
        D: Deserializer<'de>,
    {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// [`text`] for an optional value (`null` when absent).
mod opt_text {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::fmt::Display;
    use std::str::FromStr;

    pub fn serialize<T: Display, S: Serializer>(v: &Option<T>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.collect_str(v),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, T, D>(d: D) -> Result<Option<T>, D::Error>
    where
        T: FromStr,
        T::Err: Display,
        D: Deserializer<'de>,
    {
        Option::<String>::deserialize(d)?
            .map(|s| s.parse().map_err(serde::de::Error::custom))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_ids_are_the_file_keys() {
        let mut ids: Vec<String> = <Scenario as clap::Args>::augment_args(Command::new("t"))
            .get_arguments()
            .map(|a| a.get_id().to_string())
            .collect();
        ids.push("transport".into());
        ids.sort();
        let keys: Vec<String> = Scenario::defaults().to_map().keys().cloned().collect();
        assert_eq!(ids, keys);
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let d = Scenario::defaults();
        assert_eq!(d.clients, Count(100));
        assert_eq!(d.rate, Rate(10.0));
        assert_eq!(d.size, ByteSize(100));
        assert_eq!(d.duration, secs(10));
        assert_eq!(d.long_poll_wait, secs(25));
        assert_eq!(
            (d.transport, d.seed, d.token_secret.as_deref()),
            (None, None, None)
        );
    }

    #[test]
    fn layers_name_the_key_at_fault() {
        let d = Scenario::defaults();
        assert_eq!(d.with("size", "1k").map(|s| s.size), Ok(ByteSize(1024)));
        assert_eq!(d.with("rate", "10/s").map(|s| s.rate), Ok(Rate(10.0)));
        let e = d.with("clients", "many").expect_err("bad count");
        assert_eq!(e.key, "clients");
        assert!(e.why.contains("10k"), "{e:?}");
        let e = d.with("colour", "red").expect_err("unknown key");
        assert_eq!(e.key, "colour");
        assert!(e.why.contains("colour"), "{e:?}");
    }

    #[test]
    fn json_round_trip_is_exact() {
        let mut s = Scenario::defaults().clone();
        s.transport = Some(Transport::ShortPoll);
        s.rate = Rate(20.0 / 3.0);
        s.poll_interval = Dur(Duration::from_micros(1500));
        s.source_ips = Some("127.0.0.1-127.0.0.3".parse().expect("ips"));
        s.publish_via = Some(PublishVia::Ws);
        s.network = Some("lte,loss=2%,rtt=1500us".parse().expect("spec"));
        s.server_cmd = Some("exec my-server --port 8080".into());
        let text = serde_json::to_string(&s).expect("json");
        assert_eq!(serde_json::from_str::<Scenario>(&text).expect("back"), s);
    }
}
