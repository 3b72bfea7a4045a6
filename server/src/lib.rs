//! rtbench reference chat server: one feed, four transports.
//!
//! Every room's messages reach subscribers over short polling, long
//! polling, Server-Sent Events and WebSockets with byte-identical JSON, so a
//! comparison between transports measures the transports and nothing else.
//!
//! # Layout
//! - [`config`]: [`Config`], the server's settings.
//! - [`hub`]: rooms, history, live fan-out; `hub::presence`: user lists.
//! - [`delay`]: `--inject-latency`, a fault knob for testing clients and gates.
//! - [`transport`]: one module per transport plus shared query parsing.
//! - [`publish`]: HTTP publish and typing.
//! - [`page`]: the browser chat page, `/metrics`, `/api/stats`, `/healthz`.
//! - [`metrics`]: counters per transport.
//! - [`net`]: byte counting at the socket.
//! - [`error`]: the JSON error body and [`Error`].
//! - [`sys`]: descriptor limit and process cost from /proc.

mod app;
pub mod auth;
pub mod broker;
pub mod config;
mod connection;
pub mod delay;
pub mod error;
pub mod hub;
pub mod limits;
mod listen;
pub mod metrics;
pub mod net;
pub mod page;
pub mod publish;
pub mod sys;
pub mod tls;
pub mod transport;

pub use app::{AppState, Shared, app};
pub use config::Config;
pub use error::{ApiError, Error};
pub use listen::run;
