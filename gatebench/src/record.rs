//! What a measurement writes (`instructions.json`) and the committed
//! baseline is: instructions per delivery per transport and side, with the
//! functions that cost the most, so a regression can name what grew.

use crate::workload::Shape;
use protocol::Transport;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Bump when the meaning of the numbers changes (a new workload, another
/// attribution): an older baseline is then refused, not misread.
pub const SCHEMA: u32 = 1;

/// Whose instructions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// The server's tasks: connections (HTTP publish, polls, SSE streams),
    /// WebSocket sessions, fan-out and socket writes.
    Server,
    /// The load generator's subscribing clients: reading, parsing and
    /// recording what arrives.
    Loadgen,
}

impl Side {
    pub const ALL: [Side; 2] = [Side::Server, Side::Loadgen];

    pub fn as_str(self) -> &'static str {
        match self {
            Side::Server => "server",
            Side::Loadgen => "loadgen",
        }
    }

    /// The crate (as symbols name it) whose task futures are this side's
    /// (see `measure`).
    pub fn crate_name(self) -> &'static str {
        match self {
            Side::Server => "server",
            Side::Loadgen => "loadgen",
        }
    }
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One transport and side of one measurement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub transport: Transport,
    pub side: Side,
    pub shape: Shape,
    /// Deliveries in the measured part.
    pub deliveries: u64,
    /// Instructions of this side in the measured part.
    pub instructions: u64,
    /// The most expensive functions by self instructions, highest first.
    pub functions: Vec<(String, u64)>,
}

impl Entry {
    pub fn per_delivery(&self) -> f64 {
        if self.deliveries == 0 {
            0.0
        } else {
            self.instructions as f64 / self.deliveries as f64
        }
    }
}

/// A whole measurement (or the baseline).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub schema: u32,
    /// `rustc --version` and `valgrind --version` of the measurement: a
    /// new compiler moves the counts, so a baseline names its own.
    pub rustc: String,
    pub valgrind: String,
    pub entries: Vec<Entry>,
}

impl Record {
    pub fn entry(&self, t: Transport, side: Side) -> Option<&Entry> {
        self.entries
            .iter()
            .find(|e| e.transport == t && e.side == side)
    }
}
