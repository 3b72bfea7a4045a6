//! The network axis: scenarios (groups) that differ only in the emulated
//! network (`--network`, `bench --matrix network=lan,lte,3g`) are one
//! comparison across networks. A network is named by its canonical spec as
//! the result file writes it; its round-trip time and loss come from parsing
//! that spec with the emulator's own parser, so the report reads a preset
//! exactly as the link applied it.

use crate::merge::{Comparison, Group};
use protocol::results::Scenario;

/// What a sentence or a chart calls the scenario's network: its canonical
/// spec, or `loopback` when the run crossed none.
pub(crate) fn label(s: &Scenario) -> String {
    s.network.clone().unwrap_or_else(|| "loopback".into())
}

/// The spec of the scenario's network: the empty spec on loopback; `None`
/// when the file names a spec this build cannot parse (a newer preset).
fn spec(s: &Scenario) -> Option<netem::NetworkSpec> {
    match &s.network {
        None => Some(netem::NetworkSpec::default()),
        Some(text) => text.parse().ok(),
    }
}

/// Round-trip time the link added, in µs (0 on loopback).
pub(crate) fn rtt_us(s: &Scenario) -> Option<f64> {
    spec(s).map(|n| n.rtt.as_secs_f64() * 1e6)
}

/// Random loss per direction, in percent (0 on loopback).
pub(crate) fn loss_percent(s: &Scenario) -> Option<f64> {
    spec(s).map(|n| n.loss_percent)
}

/// The same scenario on another network: `s` without its network, with
/// the same settings `merge` and `matrix` ignore.
pub(crate) fn without_network(s: &Scenario) -> Scenario {
    let mut w = crate::merge::workload(s);
    w.scenario_file = None;
    w.network = None;
    w
}

/// Groups that differ only in their network: one comparison across networks.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct NetLine {
    /// Group indices, one per network, by round-trip time (as given when a
    /// spec cannot be read, or for equal RTTs).
    pub groups: Vec<usize>,
}

/// Every set of ≥ 2 groups that differ in their network only. A matrix over
/// networks and another setting (clients) gives one line per value of
/// that setting, in order of first appearance.
pub(crate) fn lines(c: &Comparison) -> Vec<NetLine> {
    let mut classes: Vec<(String, Vec<usize>)> = Vec::new();
    for (i, g) in c.groups.iter().enumerate() {
        let key = serde_json::to_string(&without_network(&g.scenario)).unwrap_or_default();
        match classes.iter_mut().find(|(k, _)| *k == key) {
            Some((_, members)) => {
                // Two groups on one network differ elsewhere (the scenario
                // file's name only): keep the first.
                if !members
                    .iter()
                    .any(|&m| c.groups[m].scenario.network == g.scenario.network)
                {
                    members.push(i);
                }
            }
            None => classes.push((key, vec![i])),
        }
    }
    classes
        .into_iter()
        .filter(|(_, m)| m.len() >= 2)
        .map(|(_, groups)| NetLine {
            groups: by_rtt(c, groups),
        })
        .collect()
}

/// `groups` by the round-trip time of their network, then its loss (`lte`
/// before `lossy-lte`); as given when a spec cannot be read (the sort is
/// stable: equal networks keep their order).
fn by_rtt(c: &Comparison, groups: Vec<usize>) -> Vec<usize> {
    let keys: Option<Vec<(f64, f64)>> = groups
        .iter()
        .map(|&g| {
            let s = &c.groups[g].scenario;
            Some((rtt_us(s)?, loss_percent(s)?))
        })
        .collect();
    let Some(keys) = keys else {
        return groups;
    };
    let mut keyed: Vec<((f64, f64), usize)> = keys.into_iter().zip(groups).collect();
    keyed.sort_by(|a, b| a.0.0.total_cmp(&b.0.0).then(a.0.1.total_cmp(&b.0.1)));
    keyed.into_iter().map(|(_, g)| g).collect()
}

/// Groups with radio figures for at least one transport, by round-trip time.
pub(crate) fn radio_groups(c: &Comparison) -> Vec<usize> {
    let groups = (0..c.groups.len())
        .filter(|&i| has_radio(&c.groups[i]))
        .collect();
    by_rtt(c, groups)
}

pub(crate) fn has_radio(g: &Group) -> bool {
    g.entries.iter().any(|e| e.merged.radio.is_some())
}

/// Short names for `groups` in a chart or a table: the network, and the
/// scenario number too when two of them share a network.
pub(crate) fn category_labels(c: &Comparison, groups: &[usize]) -> Vec<String> {
    groups
        .iter()
        .map(|&g| {
            let own = label(&c.groups[g].scenario);
            let shared = groups
                .iter()
                .filter(|&&o| label(&c.groups[o].scenario) == own)
                .count()
                > 1;
            if shared {
                format!("{own} (scenario {})", g + 1)
            } else {
                own
            }
        })
        .collect()
}
