//! Finding the matrix in a comparison: groups (scenarios) that differ in
//! exactly one of clients, publish rate or message size, all else equal. Each
//! such axis becomes "metric vs that setting" charts and findings.

use crate::merge::{Comparison, Group};
use protocol::results::Scenario;

/// A scenario setting a matrix varies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Axis {
    Clients,
    Rate,
    Size,
}

impl Axis {
    pub const ALL: [Axis; 3] = [Axis::Clients, Axis::Rate, Axis::Size];

    pub fn value(self, s: &Scenario) -> f64 {
        match self {
            Axis::Clients => s.clients as f64,
            Axis::Rate => s.rate_per_sec,
            Axis::Size => s.size_bytes as f64,
        }
    }

    /// Axis title, unit included.
    pub fn title(self) -> &'static str {
        match self {
            Axis::Clients => "Clients",
            Axis::Rate => "Publish rate (messages/s)",
            Axis::Size => "Message size (bytes)",
        }
    }

    /// For file names and element ids.
    pub fn slug(self) -> &'static str {
        match self {
            Axis::Clients => "clients",
            Axis::Rate => "rate",
            Axis::Size => "size",
        }
    }

    /// A value as it reads in a sentence.
    pub fn show(self, v: f64) -> String {
        match self {
            Axis::Clients => format!("{} clients", crate::format::thousands(v as u64)),
            Axis::Rate => format!("{} msg/s", crate::format::trimmed(v)),
            Axis::Size => format!("{} B", crate::format::thousands(v as u64)),
        }
    }
}

/// Groups along one axis, sorted by the axis value (one group per value).
#[derive(Debug, Clone)]
pub struct Line {
    pub axis: Axis,
    pub groups: Vec<usize>,
}

/// Every axis along which ≥ 2 groups differ in that setting only. When a
/// matrix has several such lines for an axis (a grid), the longest is kept:
/// one chart per axis stays readable.
pub fn lines(c: &Comparison) -> Vec<Line> {
    let mut out = Vec::new();
    for axis in Axis::ALL {
        let mut classes: Vec<(String, Vec<usize>)> = Vec::new();
        for (i, g) in c.groups.iter().enumerate() {
            let key = key_without(axis, g);
            match classes.iter_mut().find(|(k, _)| *k == key) {
                Some((_, members)) => {
                    // Two groups with the same value along the axis differ elsewhere
                    // (e.g. only in scenario_file): keep the first.
                    if !members
                        .iter()
                        .any(|&m| axis.value(&c.groups[m].scenario) == axis.value(&g.scenario))
                    {
                        members.push(i);
                    }
                }
                None => classes.push((key, vec![i])),
            }
        }
        if let Some((_, mut best)) = classes
            .into_iter()
            .filter(|(_, m)| m.len() >= 2)
            .max_by_key(|(_, m)| m.len())
        {
            best.sort_by(|&a, &b| {
                axis.value(&c.groups[a].scenario)
                    .total_cmp(&axis.value(&c.groups[b].scenario))
            });
            out.push(Line { axis, groups: best });
        }
    }
    out
}

/// The scenario minus the axis, minus what never splits a matrix (file name,
/// seed, source addresses, transport-only settings).
fn key_without(axis: Axis, g: &Group) -> String {
    let mut s = crate::merge::workload(&g.scenario);
    s.scenario_file = None;
    match axis {
        Axis::Clients => {
            s.clients = 0;
            // Ramp-up is often set to "all clients in N s": it moves with clients.
            s.ramp_up_per_sec = 0.0;
        }
        Axis::Rate => s.rate_per_sec = 0.0,
        Axis::Size => s.size_bytes = 0,
    }
    serde_json::to_string(&s).unwrap_or_default()
}
