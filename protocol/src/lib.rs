//! What the rtbench server, load generator and reports share: the wire
//! protocol (v1), the result file, units, number formatting, and small
//! helpers that must not exist twice.
//!
//! No runtime: anything that speaks to an rtbench server
//! (the load generator, tests, a third-party tool) can depend on this crate
//! without pulling tokio in.
//!
//! # Layout
//! - [`message`]: the message object every transport carries, publish and poll bodies,
//!   WebSocket client and server frames, the JSON error body.
//! - [`transport`]: the transports and their names.
//! - [`paths`]: endpoint paths and room-name validation.
//! - [`stats`]: the `/api/stats` document.
//! - `hist` (feature `hist`): HdrHistograms as result files carry them.
//! - [`units`]: typed `30s`, `10k`, `64KiB`, `600/m` for flags and scenario files.
//! - [`listening`]: the server's first stdout line, its address.
//! - [`rng`]: SplitMix64, the seeded PRNG the server and load generator share.
//! - [`socketio`]: the Socket.IO v4 wire codec (Engine.IO 4 packets and
//!   long-polling payloads, Socket.IO 5 packets).
//! - [`webtransport`]: WebTransport's stream lines and datagrams.
//! - `sys` (feature `sys`): descriptor limit and process figures from /proc.
//! - [`mod@format`]: how numbers read in every output (`12.3 ms`, `1.50 KiB`, `9,200`).

pub mod format;
#[cfg(feature = "hist")]
pub mod hist;
pub mod listening;
pub mod message;
pub mod paths;
pub mod results;
pub mod rng;
pub mod socketio;
pub mod staged;
pub mod stats;
#[cfg(feature = "sys")]
pub mod sys;
#[cfg(feature = "token")]
pub mod token;
pub mod transport;
pub mod units;
pub mod webtransport;

pub use listening::{Listening, WebTransportInfo};
pub use message::{
    ClientFrame, ErrorBody, GapNotice, Kind, LagNotice, Message, PollResponse, PublishRequest,
    PublishResponse, ServerFrame, TypingRequest,
};
pub use paths::{RoomNameError, validate_room};
pub use transport::{ParseTransportError, Transport};

/// Version of the wire protocol described in docs/architecture.md.
pub const PROTOCOL_VERSION: u32 = 1;
