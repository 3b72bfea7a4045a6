//! Writing a report directory: the PNG charts, `index.html` (the same charts
//! inline) and `summary.json` (what `--format json` prints).

use crate::charts::{self, Chart};
use crate::findings::{findings, matrix_findings, network_findings, radio_findings};
use crate::html::{self, GroupPage, NetworkPage, Page, RadioPage};
use crate::merge::Comparison;
use crate::{Error, matrix, network, table};
use std::fs;
use std::path::{Path, PathBuf};

/// How to render.
#[derive(Debug, Clone, Default)]
pub struct RenderOptions {
    /// Page title (`<title>` and heading); empty: the transports compared,
    /// named from the results.
    pub title: String,
    /// The command that produced the results (`rtbench bench --repeat 3 …`),
    /// shown in the methodology note; `None` to leave it out.
    pub command: Option<String>,
}

/// What [`render`] wrote.
#[derive(Debug, Clone)]
pub struct RenderSummary {
    /// `DIR/index.html`.
    pub index: PathBuf,
    /// One PNG per chart, in page order.
    pub charts: Vec<PathBuf>,
    /// `DIR/summary.json`: [`crate::summary_json`] of the comparison.
    pub summary_json: PathBuf,
}

/// Renders `c` into `out_dir` (created if missing; files of the same names
/// are replaced, other files left alone).
pub fn render(
    c: &Comparison,
    out_dir: &Path,
    opts: &RenderOptions,
) -> Result<RenderSummary, Error> {
    let write_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Write { path, source }
    };
    fs::create_dir_all(out_dir).map_err(write_err(out_dir))?;

    let mut groups = Vec::new();
    for (i, g) in c.groups.iter().enumerate() {
        groups.push(GroupPage {
            group: g,
            findings: findings(g),
            charts: charts::group_charts(c, i)?,
        });
    }
    let lines = matrix::lines(c);
    let matrix_charts = charts::all_matrix_charts(c, &lines)?;
    let matrix_findings = matrix_findings(c, &lines);
    let (networks, radio) = network_pages(c)?;

    let mut written = Vec::new();
    let all: Vec<&Chart> = groups
        .iter()
        .flat_map(|g| g.charts.iter())
        .chain(&matrix_charts)
        .chain(networks.iter().flat_map(|n| n.charts.iter()))
        .chain(radio.iter().flat_map(|r| r.charts.iter()))
        .collect();
    for chart in all {
        let path = out_dir.join(&chart.file);
        fs::write(&path, &chart.png).map_err(write_err(&path))?;
        written.push(path);
    }

    let title = if opts.title.is_empty() {
        title_of(c)
    } else {
        opts.title.clone()
    };
    let page = html::page(&Page {
        title: &title,
        comparison: c,
        groups,
        matrix_findings,
        matrix_charts,
        networks,
        radio,
        command: opts.command.as_deref(),
    });
    let index = out_dir.join("index.html");
    fs::write(&index, page).map_err(write_err(&index))?;

    let summary_json = out_dir.join("summary.json");
    let mut text =
        serde_json::to_string_pretty(&table::summary_json(c)).unwrap_or_else(|_| "{}".into());
    text.push('\n');
    fs::write(&summary_json, text).map_err(write_err(&summary_json))?;

    Ok(RenderSummary {
        index,
        charts: written,
        summary_json,
    })
}

/// The comparisons across networks (one per set of scenarios that differ in
/// their network only) and the radio section (when any run has radio figures).
fn network_pages(c: &Comparison) -> Result<(Vec<NetworkPage>, Option<RadioPage>), Error> {
    let lines = network::lines(c);
    let several = lines.len() > 1;
    let mut pages = Vec::new();
    for (i, line) in lines.into_iter().enumerate() {
        let prefix = if several {
            format!("net{}-", i + 1)
        } else {
            String::new()
        };
        pages.push(NetworkPage {
            findings: network_findings(c, &line),
            charts: charts::network_charts(c, &line, &prefix)?,
            line,
        });
    }
    let groups = network::radio_groups(c);
    let radio = if groups.is_empty() {
        None
    } else {
        Some(RadioPage {
            findings: radio_findings(c, &groups),
            charts: charts::radio_charts(c, &groups)?,
            groups,
        })
    };
    Ok((pages, radio))
}

/// "Short polling, SSE and WebSockets compared", from the transports the
/// results hold.
fn title_of(c: &Comparison) -> String {
    use protocol::Transport;
    let names: Vec<&str> = Transport::ALL
        .into_iter()
        .filter(|t| {
            c.groups
                .iter()
                .any(|g| g.entries.iter().any(|e| e.transport == *t))
        })
        .map(|t| match t {
            Transport::ShortPoll => "short polling",
            Transport::LongPoll => "long polling",
            Transport::Sse => "SSE",
            Transport::Ws => "WebSockets",
            Transport::SocketIo => "Socket.IO",
            Transport::SocketIoPolling => "Socket.IO over polling",
            Transport::WebTransport => "WebTransport",
            Transport::WebTransportDatagram => "WebTransport datagrams",
        })
        .collect();
    let list = match names.split_last() {
        None => return "Real-time transports compared".into(),
        Some((only, [])) => return format!("{} measured", crate::findings::capitalize(only)),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    };
    format!("{} compared", crate::findings::capitalize(&list))
}
