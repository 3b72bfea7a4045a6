//! Findings about what the traffic costs a phone's radio: per radio model,
//! how long each transport keeps the radio on and the energy that takes,
//! most expensive first.

use super::{info, name};
use crate::Finding;
use crate::charts::same;
use crate::format;
use crate::merge::{Comparison, Entry};
use crate::metric::{self, Kind, Metric};
use crate::network::category_labels;

/// One radio model's two metrics and its name in a sentence.
struct Model {
    name: &'static str,
    on: &'static Metric,
    joules: &'static Metric,
}

const MODELS: [Model; 2] = [
    Model {
        name: "LTE",
        on: &metric::RADIO_LTE_ON,
        joules: &metric::RADIO_LTE_JOULES,
    },
    Model {
        name: "3G (UMTS)",
        on: &metric::RADIO_UMTS_ON,
        joules: &metric::RADIO_UMTS_JOULES,
    },
];

/// One transport's figures over the groups: (radio-on, joules) medians per group.
struct Figures<'a> {
    entry: &'a Entry,
    on: Vec<f64>,
    joules: Vec<f64>,
}

fn range(v: &[f64]) -> (f64, f64) {
    (
        v.iter().copied().fold(f64::INFINITY, f64::min),
        v.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    )
}

/// `23%`, or `21–25%` when the groups differ.
fn shown(v: &[f64], show: impl Fn(f64) -> String) -> String {
    let (lo, hi) = range(v);
    let (a, b) = (show(lo), show(hi));
    if a == b { a } else { format!("{a}–{b}") }
}

fn figures<'a>(c: &'a Comparison, groups: &[usize], m: &Model) -> Vec<Figures<'a>> {
    let mut out: Vec<Figures<'a>> = Vec::new();
    for &g in groups {
        for e in &c.groups[g].entries {
            let stat = |metric: &Metric| e.stat(metric.value).map(|s| s.value);
            let (Some(on), Some(joules)) = (stat(m.on), stat(m.joules)) else {
                continue;
            };
            match out.iter_mut().find(|f| same(f.entry, e)) {
                Some(f) => {
                    f.on.push(on);
                    f.joules.push(joules);
                }
                None => out.push(Figures {
                    entry: e,
                    on: vec![on],
                    joules: vec![joules],
                }),
            }
        }
    }
    out.sort_by(|a, b| range(&b.joules).1.total_cmp(&range(&a.joules).1));
    out
}

/// One sentence per radio model over `groups` (the scenarios with radio
/// figures): every transport's radio-on share and energy, most expensive first.
pub(crate) fn radio_findings(c: &Comparison, groups: &[usize]) -> Vec<Finding> {
    let labels = category_labels(c, groups);
    let on_what = match labels.as_slice() {
        [] => return Vec::new(),
        [one] => format!("on {one}"),
        many => format!("over {}", many.join(", ")),
    };
    let energy = |v: f64| Kind::Energy.show(v);
    MODELS
        .iter()
        .filter_map(|m| {
            let figs = figures(c, groups, m);
            let (first, rest) = figs.split_first()?;
            let mut text = format!(
                "{} radio model, {on_what}: {} keeps the radio on {} of the time ({} per client-hour)",
                m.name,
                name(first.entry),
                shown(&first.on, format::percent),
                shown(&first.joules, energy)
            );
            for f in rest {
                text += &format!(
                    "; {} {} ({})",
                    name(f.entry),
                    shown(&f.on, format::percent),
                    shown(&f.joules, energy)
                );
            }
            let last = figs.last()?;
            let (hi, lo) = (range(&first.joules).0, range(&last.joules).1);
            if figs.len() > 1 && lo > 0.0 && hi > lo * 1.1 {
                text += &format!(
                    ". {} costs at least {} the energy of {}",
                    super::capitalize(&name(first.entry)),
                    format::factor(hi / lo),
                    name(last.entry)
                );
            }
            Some(info(text + "."))
        })
        .collect()
}
