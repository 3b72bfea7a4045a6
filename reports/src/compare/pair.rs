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

/// The scenario as JSON, without what does not change the workload. Unlike
/// `merge`'s group key it also drops the scenario file's name: the same
/// settings from `./ci.toml` and `scenarios/ci.toml` are the same workload.
fn scenario_fields(s: &Scenario) -> serde_json::Map<String, serde_json::Value> {
    let mut v = match serde_json::to_value(s) {
        Ok(serde_json::Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    };
    for k in [
        "seed",
        "source_ips",
        "scenario_file",
        "poll_interval_secs",
        "long_poll_wait_secs",
    ] {
        v.remove(k);
    }
    v
}

/// `clients 100 → 200`, one per differing setting.
fn scenario_diff(b: &Scenario, c: &Scenario) -> Vec<String> {
    let (b, c) = (scenario_fields(b), scenario_fields(c));
    b.iter()
        .filter(|(k, v)| c.get(*k) != Some(*v))
        .map(|(k, v)| format!("{k} {} → {}", setting(Some(v)), setting(c.get(k))))
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

pub(super) fn pair<'a>(
    b: &'a Comparison,
    c: &'a Comparison,
    allow: bool,
    notes: &mut Vec<String>,
    differences: &mut Vec<String>,
) -> Result<Vec<Pair<'a>>, Error> {
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
    let lone_b: Vec<usize> = (0..b.groups.len())
        .filter(|i| group_pairs.iter().all(|p| p.0 != *i))
        .collect();
    let lone_c: Vec<usize> = (0..c.groups.len()).filter(|j| !used[*j]).collect();
    if group_pairs.is_empty() {
        // Nothing alike: the sides measured different workloads.
        let diff = scenario_diff(&b.groups[lone_b[0]].scenario, &c.groups[lone_c[0]].scenario);
        if !allow {
            return Err(Error::ScenarioMismatch { differences: diff });
        }
        notes.push(format!(
            "the scenarios differ ({}): compared anyway, transport by transport, as asked; \
             the changes include the change of scenario",
            diff.join(", ")
        ));
        differences.extend(diff);
        group_pairs = lone_b.iter().copied().zip(lone_c.iter().copied()).collect();
    }
    for (i, g) in b.groups.iter().enumerate() {
        if group_pairs.iter().all(|p| p.0 != i) {
            notes.push(format!(
                "scenario {} is only in the baseline: not compared",
                crate::html::scenario_title(g)
            ));
        }
    }
    for (j, g) in c.groups.iter().enumerate() {
        if group_pairs.iter().all(|p| p.1 != j) {
            notes.push(format!(
                "scenario {} is only in the current side: not compared",
                crate::html::scenario_title(g)
            ));
        }
    }

    let mut out = Vec::new();
    for (i, j) in group_pairs {
        let (bg, cg) = (&b.groups[i], &c.groups[j]);
        let mut taken = vec![false; cg.entries.len()];
        let mut lone = Vec::new();
        for be in &bg.entries {
            let same = cg.entries.iter().enumerate().position(|(k, ce)| {
                !taken[k]
                    && ce.transport == be.transport
                    && ce.setting_secs.map(f64::to_bits) == be.setting_secs.map(f64::to_bits)
            });
            match same {
                Some(k) => {
                    taken[k] = true;
                    out.push(Pair {
                        group: j,
                        baseline: be,
                        current: &cg.entries[k],
                    });
                }
                None => lone.push(be),
            }
        }
        for be in lone {
            // The same transport with another setting: a different workload.
            let other = cg
                .entries
                .iter()
                .enumerate()
                .position(|(k, ce)| !taken[k] && ce.transport == be.transport);
            match other {
                Some(k) => {
                    let ce = &cg.entries[k];
                    let d = format!(
                        "{} setting {} → {}",
                        be.transport,
                        setting_text(be.setting_secs),
                        setting_text(ce.setting_secs)
                    );
                    if !allow {
                        return Err(Error::ScenarioMismatch {
                            differences: vec![d],
                        });
                    }
                    notes.push(format!("{d}: compared anyway, as asked"));
                    differences.push(d);
                    taken[k] = true;
                    out.push(Pair {
                        group: j,
                        baseline: be,
                        current: ce,
                    });
                }
                None => notes.push(format!(
                    "{} is only in the baseline: not compared",
                    be.label
                )),
            }
        }
        for (k, ce) in cg.entries.iter().enumerate() {
            if !taken[k] {
                notes.push(format!(
                    "{} is only in the current side: not compared",
                    ce.label
                ));
            }
        }
    }
    Ok(out)
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
