//! Pairing the two sides: scenario with scenario, transport with transport
//! (the rules are in the parent module's docs), and the notes about what
//! could not be paired.

use super::Side;
use crate::Error;
use crate::merge::{Comparison, Entry, Group};
use protocol::results::Scenario;

/// A transport of one side paired with the same of the other.
pub(super) struct Pair<'a> {
    /// Index of the current side's group (for its scenario title).
    pub group: usize,
    pub baseline: &'a Entry,
    pub current: &'a Entry,
}

/// The scenario's workload as JSON. Unlike `merge`'s group key it also
/// drops the scenario file's name: the same settings from `./ci.toml` and
/// `scenarios/ci.toml` are the same workload.
fn scenario_fields(s: &Scenario) -> serde_json::Map<String, serde_json::Value> {
    let mut w = crate::merge::workload(s);
    w.scenario_file = None;
    match serde_json::to_value(w) {
        Ok(serde_json::Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    }
}

/// `clients 100 → 200`, one per differing setting, including a setting only
/// one side has (`network unset → lte`: an optional field left out on loopback).
fn scenario_diff(b: &Scenario, c: &Scenario) -> Vec<String> {
    let (b, c) = (scenario_fields(b), scenario_fields(c));
    let only_current = c.keys().filter(|k| !b.contains_key(*k));
    b.keys()
        .chain(only_current)
        .filter(|k| b.get(*k) != c.get(*k))
        .map(|k| format!("{k} {} → {}", setting(b.get(k)), setting(c.get(k))))
        .collect()
}

/// A scenario setting as it reads: `100`, `10.5`, `poisson`, `unset`.
fn setting(v: Option<&serde_json::Value>) -> String {
    match v {
        None | Some(serde_json::Value::Null) => "unset".into(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Number(n)) => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
            _ => n.to_string(),
        },
        Some(other) => other.to_string(),
    }
}

/// Where pairing writes what a reader must know, and whether a different
/// workload may be compared anyway.
struct Log<'n> {
    allow: bool,
    notes: &'n mut Vec<String>,
    differences: &'n mut Vec<String>,
}

impl Log<'_> {
    /// A difference of workload: refused, or noted and let through when allowed.
    fn mismatch(&mut self, differences: Vec<String>, note: String) -> Result<(), Error> {
        if !self.allow {
            return Err(Error::ScenarioMismatch { differences });
        }
        self.notes.push(note);
        self.differences.extend(differences);
        Ok(())
    }
}

/// Pairs scenario with scenario, then transport with transport (see the
/// parent module's docs); what cannot be paired goes to `notes`.
pub(super) fn pair<'a>(
    b: &'a Comparison,
    c: &'a Comparison,
    allow: bool,
    notes: &mut Vec<String>,
    differences: &mut Vec<String>,
) -> Result<Vec<Pair<'a>>, Error> {
    let mut log = Log {
        allow,
        notes,
        differences,
    };
    let mut out = Vec::new();
    for (i, j) in pair_groups(b, c, &mut log)? {
        pair_entries(&b.groups[i], &c.groups[j], j, &mut log, &mut out)?;
    }
    Ok(out)
}

/// Scenario pairs `(baseline group, current group)`: the same workload, or
/// with an allowed mismatch the groups in order.
fn pair_groups(
    b: &Comparison,
    c: &Comparison,
    log: &mut Log<'_>,
) -> Result<Vec<(usize, usize)>, Error> {
    let key = |g: &Group| serde_json::Value::Object(scenario_fields(&g.scenario)).to_string();
    let mut group_pairs: Vec<(usize, usize)> = Vec::new();
    let mut used = vec![false; c.groups.len()];
    for (i, bg) in b.groups.iter().enumerate() {
        let found = c
            .groups
            .iter()
            .enumerate()
            .position(|(j, cg)| !used[j] && key(cg) == key(bg));
        if let Some(j) = found {
            used[j] = true;
            group_pairs.push((i, j));
        }
    }
    if group_pairs.is_empty() {
        // Nothing alike: the sides measured different workloads.
        let diff = scenario_diff(&b.groups[0].scenario, &c.groups[0].scenario);
        let note = format!(
            "the scenarios differ ({}): compared anyway, transport by transport, as asked; \
             the changes include the change of scenario",
            diff.join(", ")
        );
        log.mismatch(diff, note)?;
        group_pairs = (0..b.groups.len()).zip(0..c.groups.len()).collect();
    }
    for (i, g) in b.groups.iter().enumerate() {
        if group_pairs.iter().all(|p| p.0 != i) {
            log.notes.push(only_in(g, "the baseline"));
        }
    }
    for (j, g) in c.groups.iter().enumerate() {
        if group_pairs.iter().all(|p| p.1 != j) {
            log.notes.push(only_in(g, "the current side"));
        }
    }
    Ok(group_pairs)
}

fn only_in(g: &Group, side: &str) -> String {
    format!(
        "scenario {} is only in {side}: not compared",
        crate::html::scenario_title(g)
    )
}

/// Transport pairs of one scenario pair: by transport and setting, then (a
/// different workload) the same transport with another setting.
fn pair_entries<'a>(
    bg: &'a Group,
    cg: &'a Group,
    group: usize,
    log: &mut Log<'_>,
    out: &mut Vec<Pair<'a>>,
) -> Result<(), Error> {
    let mut taken = vec![false; cg.entries.len()];
    let mut take = |k: usize, baseline: &'a Entry, taken: &mut Vec<bool>| {
        taken[k] = true;
        out.push(Pair {
            group,
            baseline,
            current: &cg.entries[k],
        });
    };
    let mut lone = Vec::new();
    for be in &bg.entries {
        let same = cg.entries.iter().enumerate().position(|(k, ce)| {
            !taken[k]
                && ce.transport == be.transport
                && ce.setting_secs.map(f64::to_bits) == be.setting_secs.map(f64::to_bits)
        });
        match same {
            Some(k) => take(k, be, &mut taken),
            None => lone.push(be),
        }
    }
    for be in lone {
        let other = cg
            .entries
            .iter()
            .enumerate()
            .position(|(k, ce)| !taken[k] && ce.transport == be.transport);
        let Some(k) = other else {
            log.notes.push(format!(
                "{} is only in the baseline: not compared",
                be.label
            ));
            continue;
        };
        let d = format!(
            "{} setting {} → {}",
            be.transport,
            setting_text(be.setting_secs),
            setting_text(cg.entries[k].setting_secs)
        );
        log.mismatch(vec![d.clone()], format!("{d}: compared anyway, as asked"))?;
        take(k, be, &mut taken);
    }
    for (k, ce) in cg.entries.iter().enumerate() {
        if !taken[k] {
            log.notes.push(format!(
                "{} is only in the current side: not compared",
                ce.label
            ));
        }
    }
    Ok(())
}

fn setting_text(s: Option<f64>) -> String {
    s.map_or_else(|| "unset".to_string(), crate::format::secs)
}

pub(super) fn transports_of(c: &Comparison) -> String {
    let mut names: Vec<String> = c
        .groups
        .iter()
        .flat_map(|g| g.entries.iter().map(|e| e.label.clone()))
        .collect();
    names.dedup();
    names.join(", ")
}

pub(super) fn side_info(c: &Comparison) -> Side {
    let runs: Vec<usize> = c
        .groups
        .iter()
        .flat_map(|g| g.entries.iter().map(|e| e.runs.len()))
        .collect();
    Side {
        label: None,
        files: c.files,
        runs: runs.iter().copied().max().unwrap_or(0),
        min_runs: runs.iter().copied().min().unwrap_or(0),
        scenarios: c.groups.iter().map(crate::html::scenario_title).collect(),
        rtbench_versions: c.rtbench_versions.clone(),
        created: c.created.clone(),
    }
}

/// Numbers from different hardware differ for reasons no gate knows.
pub(super) fn machine_note(b: &Comparison, c: &Comparison, notes: &mut Vec<String>) {
    let describe = |cmp: &Comparison| {
        let mut kinds: Vec<String> = cmp
            .machines
            .iter()
            .map(|m| {
                format!(
                    "{} cores, {}",
                    m.cores,
                    m.cpu_model.as_deref().unwrap_or("unknown CPU")
                )
            })
            .collect();
        kinds.sort();
        kinds.dedup();
        kinds
    };
    let (mb, mc) = (describe(b), describe(c));
    if mb != mc {
        notes.push(format!(
            "different machines: baseline on {}, current on {}: part of any change may be the hardware",
            mb.join("; "),
            mc.join("; ")
        ));
    }
}
