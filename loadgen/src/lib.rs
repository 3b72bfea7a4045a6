//! The rtbench load generator: thousands of simulated clients on one
//! transport, open-loop publishers, and exact measurement of delivery
//! latency, request rate, wire bytes and loss (docs/architecture.md,
//! "Measurement").
//!
//! Entry point: [`run`]`(config, cancel)`; the CLI builds the [`Config`]
//! from [`LoadArgs`] (or bench from [`ScenarioArgs`]), prints
//! [`print_summary`] and writes the result file with [`write_results`].
//!
//! # Layout
//! - `scenario`: [`Scenario`], every setting of a run defined once (flag,
//!   help, default, type, file key).
//! - `args`: `rtbench load` flags, the TOML scenario file and the layering
//!   defaults ← file ← flags → [`Config`]; `pace`: ramp-up as the time
//!   to connect every client or as a connect rate.
//! - `config`: the validated settings and [`ConfigError`]; `target`: the
//!   server's base URL.
//! - `parse`: loopback source-address ranges.
//! - `runner`: the phases of a run (preflight, ramp-up, window, drain),
//!   server-cost sampling, typed warnings, and assembling [`RunResults`].
//! - `transport`: one simulated client per task; one module per transport
//!   (`short_poll`, `long_poll`, `sse`, `ws`) behind the `Client` interface,
//!   beside the client's state, cursors, measuring, reconnects and tokens.
//! - `publisher`: open-loop publish schedules (constant or Poisson), sent
//!   over HTTP or WebSocket (echoes as acknowledgements).
//! - `profile`: target profiles (the file format, compiled per section).
//! - `check`: `rtbench profile check`, a dry run with a verdict.
//! - `tls`: trust, ALPN, and typed handshake failures.
//! - `record`: the clock, phase window, and per-thread histogram shards.
//! - `coherence`: exact loss / duplicate / reorder accounting per (publisher, seq).
//! - `sampler`: the per-second series and the live progress line.
//! - `net`: the byte-counting stream and the dialer (source addresses, handshake
//!   cap, the emulated link's client namespace).
//! - `network`: over `--network`, each subscriber's phone radio and the link's
//!   counters for the result file.
//! - `http`: keep-alive HTTP/1.1 (or HTTP/2 by ALPN) connections over
//!   hyper's low-level client.
//! - `wire`: borrowed hot-path parsing of messages and SSE events (public:
//!   the test kit and third-party tools parse streams with it).
//! - `report`: rates, wire bytes and costs for the result file (histogram
//!   codec and summaries come from `protocol::hist`).
//! - `summary`: the k6-style end-of-run table.
//! - `output`: checking and atomically writing the result file.
//! - `sys`: open-files limit, own CPU/RSS, machine description.
//! - `rng`: a tiny seeded PRNG for reproducible schedules.

mod args;
#[doc(hidden)]
pub mod bench_hook;
mod check;
mod coherence;
mod config;
mod error;
#[doc(hidden)]
pub mod fuzz;
mod http;
mod jsonptr;
pub mod live;
pub mod marker;
mod net;
mod network;
mod output;
pub mod pace;
pub mod parse;
pub mod profile;
mod publisher;
mod record;
mod report;
pub mod rng;
mod rooms;
mod runner;
mod sampler;
pub mod scenario;
mod series;
mod stage_table;
pub mod stages;
mod summary;
mod sys;
mod target;
mod tls;
mod transport;
pub mod wire;

pub use args::{LoadArgs, LoadPlan, Resolved, ScenarioArgs, check_server_cmd};
pub use check::{CheckOutcome, check};
pub use config::{Config, ConfigError, PORTS_PER_SOURCE_IP, RunOptions, Target, TokenSource};
pub use error::{Error, ErrorKind};
pub use network::link_result;
pub use output::{Format, OutputError, check_output_writable, write_results};
pub use profile::{Profile, ProfileError};
pub use protocol::results;
pub use report::{decode_histogram, encode_histogram};
pub use runner::{RunResults, run};
pub use scenario::Scenario;
pub use series::{SeriesFormat, write_series};
pub use summary::{fmt_bytes, fmt_us, print_summary};
pub use tls::TlsOptions;
