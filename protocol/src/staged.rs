//! The per-stage figures of a staged run (`--stages`): one entry per stage
//! in the result file, in order.

use crate::results::LatencySummary;
use serde::{Deserialize, Serialize};

/// One stage of a staged run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StageResult {
    /// The stage as written (`30s:100c@10/s`).
    pub stage: String,
    /// Start and length, seconds from the start of the measured window.
    pub start_secs: f64,
    pub duration_secs: f64,
    /// Target clients at the stage's start and end (reached linearly).
    pub clients_from: u64,
    pub clients_to: u64,
    /// Target publish rate (messages per second) at its start and end.
    pub rate_from: f64,
    pub rate_to: f64,
    /// Subscribers connected, the mean and the peak over the stage's
    /// seconds of the series (each second counted where its middle falls).
    pub connected_mean: f64,
    pub connected_max: u64,
    /// Publishes acknowledged, and client or publish errors, over the same
    /// seconds.
    pub published: u64,
    pub errors: u64,
    /// First receipts of this stage's messages (by intended send time), and
    /// their delivery latency.
    pub deliveries: u64,
    pub latency: LatencySummary,
    /// This stage's messages a subscriber should have got and did not
    /// (in a staged run each is held to what came between its first and
    /// last receipt; docs/stages.md).
    #[serde(default)]
    pub lost: u64,
}
