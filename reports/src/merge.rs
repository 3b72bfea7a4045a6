//! Grouping result files into a [`Comparison`]: one [`Group`] per scenario,
//! one [`Entry`] per transport in it, each entry made of one or more runs.
//!
//! - **Group key**: every scenario setting except the `seed`, the loopback
//!   `source_ips`, the drain and the two transport-only settings (short-poll
//!   interval, long-poll wait), so that the transports of one comparison
//!   land in one group. The drain is how long a run waits for stragglers,
//!   not load, and `bench` raises it for short polling. Scenarios that differ
//!   in clients, rate or size are separate groups: a matrix. Groups whose
//!   titles would read the same have the settings that differ appended.
//! - **Entry key**: the transport plus its own setting (the poll interval for
//!   short polling, the wait for long polling): short polling at 1 s and at
//!   250 ms are two entries of one group.
//! - **Runs**: files of one entry whose measured windows overlap in time were
//!   load workers of one run (several machines, or several processes on one):
//!   they are combined as concurrent parts. Files that follow each other are
//!   repeats (`bench --repeat K`): each is a run; the headline shows the
//!   median over runs and the range, and [`Entry::merged`] pools all of them.
//!   A file whose `created` stamp cannot be parsed is a run of its own.

use crate::combine::{self, Part};
use crate::stats::{Stat, parse_rfc3339};
use crate::{Error, hist};
use hdrhistogram::Histogram;
use protocol::Transport;
use protocol::results::{LinkResult, Machine, ResultFile, Scenario, TransportResult};

/// Every result given to `report` (or measured by `bench`), ready to render.
#[derive(Debug, Clone)]
pub struct Comparison {
    /// One per scenario, in order of first appearance.
    pub groups: Vec<Group>,
    /// Distinct machines the files came from, in order of first appearance.
    pub machines: Vec<Machine>,
    /// Distinct `rtbench_version`s of the files.
    pub rtbench_versions: Vec<String>,
    /// Earliest and latest `created` stamp (as written in the files).
    pub created: (String, String),
    /// Number of result files merged.
    pub files: usize,
    /// Distinct warnings of the files (prefixed with the transport when they
    /// came from a one-transport file), and notes about partial runs.
    pub warnings: Vec<String>,
}

/// Results of one scenario.
#[derive(Debug, Clone)]
pub struct Group {
    /// The scenario of the group's first file; the short-poll interval and
    /// long-poll wait are taken from the first file that has them, the
    /// drain is the longest of the files'.
    pub scenario: Scenario,
    /// The scenario in a few words, unique among the comparison's groups.
    pub title: String,
    /// Transports in `Transport::ALL` order (polling first, push last).
    pub entries: Vec<Entry>,
    /// Distinct machines of the group's files.
    pub machines: Vec<Machine>,
    /// Result files of the group.
    pub files: usize,
    /// What the emulated link did, all the group's files added up; `None`
    /// on loopback.
    pub link: Option<LinkResult>,
}

/// Results of one transport (and its setting) in one scenario.
#[derive(Debug, Clone)]
pub struct Entry {
    pub transport: Transport,
    /// Short-poll interval or long-poll wait in seconds, when the files set it.
    pub setting_secs: Option<f64>,
    /// Name in tables and legends: the transport, plus the setting when a
    /// group has two entries of one transport (`short-poll 250 ms`).
    pub label: String,
    /// Every file pooled: histograms added exactly, counts and bytes summed,
    /// rates time-weighted. Its series is the first run's.
    pub merged: TransportResult,
    /// One per run, in time order (concurrent workers already combined).
    pub runs: Vec<TransportResult>,
    /// The pooled latency histogram, decoded (µs).
    pub latency: Histogram<u64>,
    /// Result files this entry was built from.
    pub files: usize,
    /// At least one file was partial (interrupted run).
    pub partial: bool,
    /// The link of this transport's own runs: the files that measured this
    /// transport alone (`load`), added up. `None` when its runs shared
    /// their file, and so their link counters, with other transports.
    pub link: Option<LinkResult>,
}

impl Entry {
    /// Median and range over runs of `f`; the value itself for one run.
    pub fn stat(&self, f: impl Fn(&TransportResult) -> Option<f64>) -> Option<Stat> {
        Stat::of(self.runs.iter().map(f))
    }
}

/// One file's result for one transport, with where it came from.
#[derive(Clone, Copy)]
struct FilePart<'a> {
    /// Position in the input, to keep the order stable among equal stamps.
    index: usize,
    file: &'a ResultFile,
    result: &'a TransportResult,
}

/// An entry being collected: the parts of one transport and setting.
struct PendingEntry<'a> {
    transport: Transport,
    setting: Option<f64>,
    parts: Vec<FilePart<'a>>,
}

/// A group being collected.
struct PendingGroup<'a> {
    key: String,
    scenario: Scenario,
    entries: Vec<PendingEntry<'a>>,
    machines: Vec<Machine>,
    files: usize,
    links: Vec<&'a LinkResult>,
}

/// Groups and merges result files (see the module docs for the rules).
pub fn merge(files: &[ResultFile]) -> Result<Comparison, Error> {
    if files.is_empty() {
        return Err(Error::NoInput("nothing to merge".into()));
    }
    let mut pending: Vec<PendingGroup<'_>> = Vec::new();
    for (index, file) in files.iter().enumerate() {
        let key = group_key(&file.scenario);
        match pending.iter_mut().find(|g| g.key == key) {
            Some(g) => g.add(index, file),
            None => {
                let mut g = PendingGroup::new(key, file);
                g.add(index, file);
                pending.push(g);
            }
        }
    }
    let mut groups: Vec<Group> = pending
        .into_iter()
        .map(PendingGroup::build)
        .collect::<Result<_, _>>()?;
    tell_apart(&mut groups);
    let mut machines: Vec<Machine> = Vec::new();
    let mut versions: Vec<String> = Vec::new();
    for f in files {
        push_new(&mut machines, &f.machine);
        push_new(&mut versions, &f.rtbench_version);
    }
    Ok(Comparison {
        groups,
        machines,
        rtbench_versions: versions,
        created: created_range(files),
        files: files.len(),
        warnings: warnings(files),
    })
}

/// Appends `item` unless an equal one is there: distinct values in order of
/// first appearance.
fn push_new<T: Clone + PartialEq>(list: &mut Vec<T>, item: &T) {
    if !list.contains(item) {
        list.push(item.clone());
    }
}

impl<'a> PendingGroup<'a> {
    fn new(key: String, file: &ResultFile) -> Self {
        PendingGroup {
            key,
            scenario: file.scenario.clone(),
            entries: Vec::new(),
            machines: Vec::new(),
            files: 0,
            links: Vec::new(),
        }
    }

    /// Adds a file's transports to the entries of their transport and setting.
    fn add(&mut self, index: usize, file: &'a ResultFile) {
        self.files += 1;
        push_new(&mut self.machines, &file.machine);
        self.links.extend(&file.link);
        // One-transport files set only their own transport's setting.
        let s = &mut self.scenario;
        s.poll_interval_secs = s.poll_interval_secs.or(file.scenario.poll_interval_secs);
        s.long_poll_wait_secs = s.long_poll_wait_secs.or(file.scenario.long_poll_wait_secs);
        s.drain_secs = s.drain_secs.max(file.scenario.drain_secs);
        for result in &file.transports {
            let setting = setting_of(result.transport, &file.scenario);
            let part = FilePart {
                index,
                file,
                result,
            };
            let same = |e: &&mut PendingEntry<'_>| {
                e.transport == result.transport
                    && e.setting.map(f64::to_bits) == setting.map(f64::to_bits)
            };
            match self.entries.iter_mut().find(same) {
                Some(e) => e.parts.push(part),
                None => self.entries.push(PendingEntry {
                    transport: result.transport,
                    setting,
                    parts: vec![part],
                }),
            }
        }
    }

    /// The group's entries in `Transport::ALL` order, then by setting, each
    /// labeled with its setting when its transport has several.
    fn build(mut self) -> Result<Group, Error> {
        self.entries.sort_by(|a, b| {
            let key = |e: &PendingEntry<'_>| (e.transport, e.setting.unwrap_or(f64::INFINITY));
            let (ka, kb) = (key(a), key(b));
            ka.0.cmp(&kb.0).then(ka.1.total_cmp(&kb.1))
        });
        let mut entries = Vec::new();
        for e in &self.entries {
            let twins = self
                .entries
                .iter()
                .filter(|o| o.transport == e.transport)
                .count();
            let label = match e.setting {
                Some(s) if twins > 1 => format!("{} {}", e.transport, crate::format::secs(s)),
                _ => e.transport.to_string(),
            };
            entries.push(build_entry(e, label)?);
        }
        Ok(Group {
            title: crate::html::title_of(&self.scenario),
            scenario: self.scenario,
            entries,
            machines: self.machines,
            files: self.files,
            link: combine::sum_links(self.links.into_iter()),
        })
    }
}

/// Distinct warnings of the files, prefixed with the transport of a
/// one-transport file (its warning is about that transport), and a note per
/// partial run.
fn warnings(files: &[ResultFile]) -> Vec<String> {
    let mut warnings: Vec<String> = Vec::new();
    for f in files {
        let prefix = match f.transports.as_slice() {
            [one] => format!("{}: ", one.transport),
            _ => String::new(),
        };
        for w in &f.warnings {
            push_new(&mut warnings, &format!("{prefix}{w}"));
        }
        if f.partial {
            push_new(
                &mut warnings,
                &format!(
                    "{prefix}the run of {} did not complete: its numbers cover only what was measured",
                    f.created
                ),
            );
        }
    }
    warnings
}

/// The earliest and latest `created` stamp, as written in the files.
fn created_range(files: &[ResultFile]) -> (String, String) {
    let mut stamps: Vec<(f64, &String)> = files
        .iter()
        .map(|f| (parse_rfc3339(&f.created).unwrap_or(f64::NAN), &f.created))
        .collect();
    stamps.sort_by(|a, b| a.0.total_cmp(&b.0));
    (
        stamps.first().map(|s| s.1.clone()).unwrap_or_default(),
        stamps.last().map(|s| s.1.clone()).unwrap_or_default(),
    )
}

/// Appends to each title that another group shares the settings in which
/// they differ (`· publishers=2`): no two tables read the same.
fn tell_apart(groups: &mut [Group]) {
    let fields: Vec<serde_json::Value> = groups
        .iter()
        .map(|g| serde_json::to_value(workload(&g.scenario)).unwrap_or_default())
        .collect();
    let titles: Vec<String> = groups.iter().map(|g| g.title.clone()).collect();
    for (i, g) in groups.iter_mut().enumerate() {
        let twins: Vec<usize> = (0..titles.len())
            .filter(|&j| j != i && titles[j] == titles[i])
            .collect();
        let Some(own) = fields[i].as_object() else {
            continue;
        };
        let differ: Vec<String> = own
            .iter()
            .filter(|(k, v)| twins.iter().any(|&j| fields[j].get(k.as_str()) != Some(v)))
            .map(|(k, v)| match v {
                serde_json::Value::String(s) => format!("{k}={s}"),
                v => format!("{k}={v}"),
            })
            .collect();
        if !differ.is_empty() {
            g.title = format!("{} · {}", g.title, differ.join(" · "));
        }
    }
}

/// The scenario without what does not change the workload: the seed, the
/// loopback source addresses, the drain and the two transport-only settings
/// (see the module docs). Grouping, matrix axes and `compare`'s pairing all
/// start here.
pub(crate) fn workload(s: &Scenario) -> Scenario {
    let mut s = s.clone();
    s.seed = 0;
    s.drain_secs = 0.0;
    s.source_ips.clear();
    s.poll_interval_secs = None;
    s.long_poll_wait_secs = None;
    s
}

fn group_key(s: &Scenario) -> String {
    serde_json::to_string(&workload(s)).unwrap_or_default()
}

fn setting_of(t: Transport, s: &Scenario) -> Option<f64> {
    match t {
        Transport::ShortPoll => s.poll_interval_secs,
        Transport::LongPoll => s.long_poll_wait_secs,
        Transport::Sse
        | Transport::Ws
        | Transport::SocketIo
        | Transport::SocketIoPolling
        | Transport::WebTransport
        | Transport::WebTransportDatagram => None,
    }
}

/// When a file's measured window ran, by its start stamp and its scenario's phases.
fn window_of(file: &ResultFile, t: &TransportResult) -> Option<(f64, f64)> {
    let start = parse_rfc3339(&file.created)?;
    let s = &file.scenario;
    let ramp = if s.ramp_up_per_sec > 0.0 {
        s.clients as f64 / s.ramp_up_per_sec
    } else {
        0.0
    };
    let from = start + ramp + s.warmup_secs;
    Some((from, from + t.window_secs.max(s.duration_secs)))
}

fn build_entry(e: &PendingEntry<'_>, label: String) -> Result<Entry, Error> {
    let what = |why: String| Error::Histogram {
        what: format!("merging {} results", e.transport),
        why,
    };
    // By window start; a file without a usable stamp goes last, alone.
    let mut timed: Vec<(Option<(f64, f64)>, FilePart<'_>)> = e
        .parts
        .iter()
        .map(|p| (window_of(p.file, p.result), *p))
        .collect();
    timed.sort_by(|a, b| {
        let start = |w: &Option<(f64, f64)>| w.map_or(f64::INFINITY, |w| w.0);
        start(&a.0)
            .total_cmp(&start(&b.0))
            .then(a.1.index.cmp(&b.1.index))
    });
    // Clusters of overlapping windows: (end of the cluster, its parts).
    let mut clusters: Vec<(Option<f64>, Vec<Part<'_>>)> = Vec::new();
    for (window, p) in &timed {
        let part = Part {
            result: p.result,
            target: &p.file.target,
        };
        match (window, clusters.last_mut()) {
            (Some((from, to)), Some((Some(end), members))) if *from < *end => {
                members.push(part);
                *end = end.max(*to);
            }
            _ => clusters.push((window.map(|w| w.1), vec![part])),
        }
    }
    let mut runs = Vec::new();
    for (_, members) in &clusters {
        runs.push(combine::concurrent(members).map_err(what)?);
    }
    let merged = combine::sequential(&runs).map_err(what)?;
    let latency = hist::decode(&merged.latency_histogram).map_err(what)?;
    Ok(Entry {
        transport: e.transport,
        setting_secs: e.setting,
        label,
        merged,
        runs,
        latency,
        files: e.parts.len(),
        partial: e.parts.iter().any(|p| p.file.partial),
        link: combine::sum_links(
            e.parts
                .iter()
                .filter(|p| p.file.transports.len() == 1)
                .filter_map(|p| p.file.link.as_ref()),
        ),
    })
}
