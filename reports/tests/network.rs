//! The report across emulated networks, on the committed network fixtures
//! (`tests/fixtures/network/`: one scenario on lan, lte, lossy-lte and 3g as
//! `bench --matrix network=…` writes it, with the link's counters and the
//! radio figures): one comparison with a network and a radio section, charts,
//! findings whose numbers are recomputed here from the fixtures, the link's
//! trouble flagged, repeats as median and range, thresholds on the radio
//! metrics, the new keys of the summaries, and `compare` naming a change of
//! network. Outputs stay in `target/report-tests/NAME/`.

use protocol::Transport;
use protocol::results::{ResultFile, TransportResult};
use reports::compare::{CompareOptions, compare, load_side};
use reports::metric::Kind;
use reports::thresholds::{Threshold, evaluate};
use reports::{
    Comparison, Error, RenderOptions, format, load_results, merge, print_summary_table, render,
    summary_json,
};
use std::path::{Path, PathBuf};

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The four network files, in file-name order (3g, lan, lossy-lte, lte).
fn network_files() -> Vec<ResultFile> {
    load_results(&[fixture_dir().join("network")]).expect("network fixtures load")
}

fn on<'a>(files: &'a [ResultFile], network: &str) -> &'a ResultFile {
    files
        .iter()
        .find(|f| f.scenario.network.as_deref() == Some(network))
        .unwrap_or_else(|| panic!("no {network} fixture"))
}

fn result(f: &ResultFile, t: Transport) -> &TransportResult {
    f.transports
        .iter()
        .find(|r| r.transport == t)
        .expect("transport")
}

fn out_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/report-tests")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Renders and returns the page as text, with the non-breaking spaces the
/// page glues units with (and the escaped apostrophe) read back as typed.
fn render_text(c: &Comparison, name: &str) -> (String, reports::RenderSummary) {
    let summary = render(c, &out_dir(name), &RenderOptions::default()).expect("render");
    let html = std::fs::read_to_string(&summary.index).expect("index.html");
    (html.replace("&nbsp;", " ").replace("&#39;", "'"), summary)
}

/// The table row of `network` and `metric`, from its `<tr` to its `</tr>`.
fn table_row<'a>(html: &'a str, network: &str, metric: &str) -> &'a str {
    let start = format!("<tr data-network=\"{network}\" data-metric=\"{metric}\">");
    let at = html
        .find(&start)
        .unwrap_or_else(|| panic!("no row {network} {metric}"));
    let len = html[at..].find("</tr>").expect("row end");
    &html[at..at + len]
}

fn us(v: u64) -> String {
    format::duration_us(v as f64)
}

#[test]
fn networks_form_one_comparison_with_network_and_radio_sections() {
    let files = network_files();
    let comparison = merge(&files).expect("merge");
    // Different networks are different workloads: one group each.
    assert_eq!(comparison.groups.len(), 4);
    let mut networks: Vec<_> = comparison
        .groups
        .iter()
        .map(|g| g.scenario.network.clone().expect("network"))
        .collect();
    networks.sort();
    assert_eq!(networks, ["3g", "lan", "lossy-lte", "lte"]);
    assert!(
        comparison
            .groups
            .iter()
            .all(|g| g.entries.len() == Transport::COUNT)
    );

    let (html, summary) = render_text(&comparison, "network");
    for needle in [
        "id=\"network\"",
        "id=\"radio\"",
        "href=\"#network\"",
        "href=\"#radio\"",
        "id=\"chart-network-latency\"",
        "id=\"chart-network-traffic\"",
        "id=\"chart-radio-energy\"",
        "id=\"chart-radio-on\"",
        "<h2>Scenario 1: 200 clients · 20 rooms · 0.5 msg/s constant · 100 B messages · network 3g</h2>",
        "Huang et al.",
        "MobiSys 2012",
        "Qian et al.",
        "IMC 2010",
        "one phone per simulated client",
        "<dt>Emulated networks</dt>",
    ] {
        assert!(html.contains(needle), "index.html lacks {needle:?}");
    }
    // By round-trip time, then loss: lan, lte, lossy-lte, 3g.
    let order: Vec<usize> = ["lan", "lte", "lossy-lte", "3g"]
        .iter()
        .map(|n| {
            html.find(&format!(
                "<tr data-network=\"{n}\" data-metric=\"latency_p50_ms\">"
            ))
            .unwrap_or_else(|| panic!("no {n} rows"))
        })
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");

    let names: Vec<String> = summary
        .charts
        .iter()
        .map(|p| p.file_name().expect("name").to_string_lossy().into_owned())
        .collect();
    for chart in [
        "network-latency.png",
        "network-traffic.png",
        "radio-energy.png",
        "radio-on.png",
    ] {
        assert!(names.iter().any(|n| n == chart), "{chart} not written");
        let path = summary.index.with_file_name(chart);
        let img = image::open(&path).expect("decodes").to_rgb8();
        assert_eq!(img.dimensions(), (1400, 788), "{chart}");
        let colored = img.pixels().filter(|p| {
            let [r, g, b] = p.0;
            r.max(g).max(b) - r.min(g).min(b) > 60
        });
        assert!(colored.count() > 20_000, "{chart} has no bars");
    }
}

#[test]
fn findings_state_the_fixture_numbers() {
    let files = network_files();
    let (html, _) = render_text(&merge(&files).expect("merge"), "network-findings");

    // On 3g, the highest p99 against the lowest.
    let g3 = on(&files, "3g");
    let (sp, ws) = (
        result(g3, Transport::ShortPoll).latency.p99_us,
        result(g3, Transport::Ws).latency.p99_us,
    );
    let lowest = g3.transports.iter().map(|t| t.latency.p99_us).min();
    assert_eq!(lowest, Some(ws), "WebSocket has the lowest p99 on 3g");
    let ratio = format!(
        "On 3g, p99 latency of short polling at 1 s is {} that of WebSocket ({} vs {}).",
        format::factor(sp as f64 / ws as f64),
        us(sp),
        us(ws)
    );
    assert!(html.contains(&ratio), "missing {ratio:?}");

    // From lan to 3g: WebSocket's median rises by about the 300 ms the network adds.
    let lan_ws = result(on(&files, "lan"), Transport::Ws).latency.p50_us;
    let rise = result(g3, Transport::Ws).latency.p50_us as f64 - lan_ws as f64;
    assert!((rise / 300e3 - 1.0).abs() <= 0.15, "fixture rise {rise}");
    let shift = format!(
        "WebSocket {} (≈ the added RTT)",
        Kind::Latency.show_delta(rise)
    );
    assert!(
        html.contains("From lan to 3g, which adds 300 ms of round-trip time, p50 latency:"),
        "no lan → 3g sentence"
    );
    assert!(html.contains(&shift), "missing {shift:?}");

    // Under loss, a push stream's tail against its median, and against lte's.
    let lossy = result(on(&files, "lossy-lte"), Transport::Sse);
    let lte = result(on(&files, "lte"), Transport::Sse);
    let tail = |r: &TransportResult| r.latency.p99_us as f64 / r.latency.p50_us as f64;
    let hol = format!(
        "Under lossy-lte (1% loss per direction), SSE's p99 is {} its p50 ({} vs {}; on lte: {}): \
         a message in a lost packet waits for TCP to retransmit it",
        format::factor(tail(lossy)),
        us(lossy.latency.p99_us),
        us(lossy.latency.p50_us),
        format::factor(tail(lte))
    );
    assert!(html.contains(&hol), "missing {hol:?}");
    assert!(
        !html.contains("Under lossy-lte (1% loss per direction), short polling"),
        "the tail of a poll is its interval, not head-of-line blocking"
    );

    // The link's own random drops, as counted.
    let link = on(&files, "lossy-lte").link.as_ref().expect("link");
    let dropped = link.down.dropped_loss + link.up.dropped_loss;
    assert!(html.contains(&format!(
        "On lossy-lte, the link dropped {} packets at random",
        format::thousands(dropped)
    )));
    assert!(
        !html.contains("did not keep up"),
        "the fixtures' link kept up"
    );

    // Radio: LTE model, most expensive first, every network.
    let sp_lte = result(on(&files, "lan"), Transport::ShortPoll)
        .radio
        .as_ref()
        .expect("radio");
    assert_eq!(sp_lte.lte.radio_on_fraction, 1.0);
    assert!(html.contains(
        "LTE radio model, over lan, lte, lossy-lte, 3g: short polling at 1 s keeps the radio on 100% of the time ("
    ));
    // Short polling's theory, with the network's round trip.
    assert!(html.contains("(theory: interval ÷ 2 + RTT = 800 ms"));
}

#[test]
fn radio_table_shows_the_fixture_figures() {
    let files = network_files();
    let (html, _) = render_text(&merge(&files).expect("merge"), "network-radio");
    for network in ["lan", "lte", "lossy-lte", "3g"] {
        let f = on(&files, network);
        let radio = |t: Transport| result(f, t).radio.clone().expect("radio");
        let joules = table_row(&html, network, "radio_lte_joules_per_client_hour");
        let on_3g = table_row(&html, network, "radio_umts_on_ratio");
        let mut at = (0, 0);
        for t in Transport::ALL {
            let r = radio(t);
            // Each transport's cell, in column order.
            let j = Kind::Energy.show(r.lte.joules_per_client_hour);
            let found = joules[at.0..].find(&j).map(|p| p + at.0);
            at.0 = found.unwrap_or_else(|| panic!("{network} {t}: no {j} in {joules}")) + 1;
            let o = format::percent(r.umts.radio_on_fraction);
            let found = on_3g[at.1..].find(&o).map(|p| p + at.1);
            at.1 = found.unwrap_or_else(|| panic!("{network} {t}: no {o} in {on_3g}")) + 1;
        }
    }
    // Polling keeps the radio on, push lets it idle: as the fixture says.
    let lte = on(&files, "lte");
    let (sp, ws) = (
        result(lte, Transport::ShortPoll)
            .radio
            .clone()
            .expect("radio"),
        result(lte, Transport::Ws).radio.clone().expect("radio"),
    );
    assert!(sp.lte.radio_on_fraction > 0.99 && ws.lte.radio_on_fraction < 0.4);
    assert!(table_row(&html, "lte", "radio_lte_on_ratio").contains(">100%<"));
}

#[test]
fn a_link_that_fell_behind_is_flagged_and_middlebox_drops_are_stated() {
    let mut files = network_files();
    for f in &mut files {
        let link = f.link.as_mut().expect("link");
        match f.scenario.network.as_deref() {
            Some("3g") => link.down.mean_lateness_us = 8_000.0,
            Some("lte") => {
                link.up.dropped_queue = 40;
                link.down.dropped_middlebox = 12;
            }
            _ => {}
        }
    }
    let (html, _) = render_text(&merge(&files).expect("merge"), "network-link");
    assert!(html.contains(
        "On 3g, the emulated link did not keep up during this scenario's runs: \
         its packets left 8.00 ms after their due time on average (downstream). Distrust these numbers: \
         they include the emulator's own delay"
    ));
    assert!(html.contains(
        "On lte, the link's queue overflowed during this scenario's runs: \
         40 packets were dropped because the queue behind its rate limit was full (0 down, 40 up). \
         The traffic exceeded the link's rate"
    ));
    assert!(html.contains(
        "On lte, the idle-timeout middlebox dropped 12 packets of connections it had forgotten (12 down, 0 up)"
    ));
    // Every cell of the two networks is marked, no other.
    for (network, marked) in [
        ("3g", true),
        ("lte", true),
        ("lan", false),
        ("lossy-lte", false),
    ] {
        let row = table_row(&html, network, "latency_p99_ms");
        assert_eq!(
            row.matches("suspect").count(),
            if marked { Transport::COUNT } else { 0 },
            "{row}"
        );
    }
    assert!(html.contains("† Measured across an emulated link that did not keep up"));
    assert!(
        !html.contains("On lan, the emulated link") && !html.contains("On lan, the link's queue"),
        "lan's link kept up"
    );
}

/// A bench file split into one file per transport, each with its own link,
/// as four `load --network` runs write them.
fn split(f: &ResultFile) -> Vec<ResultFile> {
    f.transports
        .iter()
        .map(|t| {
            let mut one = f.clone();
            one.transports = vec![t.clone()];
            one
        })
        .collect()
}

#[test]
fn a_transport_on_its_own_link_is_flagged_alone() {
    let mut files = split(on(&network_files(), "lte"));
    files.extend(split(on(&network_files(), "lan")));
    for f in &mut files {
        if f.scenario.network.as_deref() == Some("lte")
            && f.transports[0].transport == Transport::LongPoll
        {
            f.link.as_mut().expect("link").up.mean_lateness_us = 3_500.0;
        }
    }
    let (html, _) = render_text(&merge(&files).expect("merge"), "network-own-link");
    assert!(html.contains(
        "On lte, the emulated link did not keep up during the run of long polling: \
         its packets left 3.50 ms after their due time on average (upstream)"
    ));
    let row = table_row(&html, "lte", "latency_p50_ms");
    assert_eq!(row.matches("suspect").count(), 1, "{row}");
}

#[test]
fn repeats_show_median_and_range_and_pool_the_radio() {
    let files = network_files();
    let mut again = on(&files, "lte").clone();
    again.created = "2026-11-29T09:00:00Z".into();
    for t in &mut again.transports {
        t.latency.p50_us += 4_000;
        if let Some(r) = t.radio.as_mut() {
            r.lte.joules_per_client_hour -= 100.0;
        }
    }
    let ws_joules = result(on(&files, "lte"), Transport::Ws)
        .radio
        .as_ref()
        .expect("radio")
        .lte
        .joules_per_client_hour;
    let mut all = files.clone();
    all.push(again);
    let comparison = merge(&all).expect("merge");
    assert_eq!(comparison.groups.len(), 4, "a repeat joins its network");
    let (html, _) = render_text(&comparison, "network-repeats");
    let row = table_row(&html, "lte", "latency_p50_ms");
    assert_eq!(
        row.matches("class=\"spread\"").count(),
        Transport::COUNT,
        "{row}"
    );
    assert!(!table_row(&html, "lan", "latency_p50_ms").contains("spread"));

    // Both runs have the same clients and window: the pooled figure is the mean.
    let json = summary_json(&comparison);
    let lte = json["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .find(|g| g["network"] == "lte")
        .expect("lte group");
    let ws = &lte["transports"][3];
    assert_eq!(ws["transport"], "ws");
    assert_eq!(ws["runs"], 2);
    let pooled = ws["radio"]["lte"]["joules_per_client_hour"]
        .as_f64()
        .expect("pooled radio");
    assert!((pooled - (ws_joules - 50.0)).abs() < 1e-6, "{pooled}");
    let m = &ws["metrics"]["radio_lte_joules_per_client_hour"];
    assert_eq!(m["min"].as_f64(), Some(ws_joules - 100.0));
    assert_eq!(m["max"].as_f64(), Some(ws_joules));
}

fn outcomes(exprs: &[&str], files: &[ResultFile]) -> Vec<(String, String, bool, String)> {
    let th = Threshold::parse_all(exprs).expect("thresholds parse");
    evaluate(&th, files)
        .expect("evaluate")
        .into_iter()
        .map(|o| {
            (
                o.transport,
                o.scenario.unwrap_or_default(),
                o.passed,
                o.reason,
            )
        })
        .collect()
}

#[test]
fn thresholds_on_the_radio_figures() {
    let files = network_files();
    // WebSocket's LTE radio costs about 1.2 kJ per client-hour on every network.
    let out = outcomes(&["ws.radio.lte.joules_per_client_hour<1000"], &files);
    assert_eq!(out.len(), 4);
    assert!(
        out.iter().all(|o| !o.2 && o.3.contains("is not < 1.00 kJ")),
        "{out:?}"
    );
    let out = outcomes(&["ws.radio.lte.joules_per_client_hour<1.5kJ"], &files);
    assert!(out.iter().all(|o| o.2), "{out:?}");
    // Short polling keeps a 3G radio on all the time; push lets it idle.
    let out = outcomes(&["*.radio.umts.radio_on<50%"], &files);
    assert_eq!(
        out.len(),
        4 * Transport::COUNT,
        "every transport on 4 networks"
    );
    for (transport, scenario, passed, _) in &out {
        assert_eq!(
            *passed,
            transport.parse::<Transport>().is_ok_and(Transport::is_push),
            "{transport} {scenario}"
        );
    }
    let out = outcomes(&["short-poll.radio.3g.radio_on>=0.99"], &files);
    assert!(out.iter().all(|o| o.2), "the 3g alias: {out:?}");
    // Over loopback there is no radio: not measured fails, as it does for any metric.
    let loopback = load_results(&[fixture_dir().join("ws.json")]).expect("ws.json");
    let out = outcomes(&["ws.radio.lte.joules_per_client_hour<1000"], &loopback);
    assert_eq!(out.len(), 1);
    assert!(!out[0].2);
    assert!(
        out[0].3.starts_with("not measured: no radio figures"),
        "{}",
        out[0].3
    );
}

#[test]
fn summaries_carry_the_network_and_the_radio() {
    let files = network_files();
    let comparison = merge(&files).expect("merge");
    let json = summary_json(&comparison);
    let groups = json["groups"].as_array().expect("groups");
    for g in groups {
        let network = g["network"].as_str().expect("network");
        let f = on(&files, network);
        assert_eq!(
            g["label"]
                .as_str()
                .map(|l| l.ends_with(&format!("network {network}"))),
            Some(true)
        );
        assert_eq!(
            g["link"]["down"]["packets"].as_u64(),
            f.link.as_ref().map(|l| l.down.packets)
        );
        for (t, r) in g["transports"]
            .as_array()
            .expect("transports")
            .iter()
            .zip(&f.transports)
        {
            let radio = r.radio.as_ref().expect("radio");
            assert_eq!(
                t["metrics"]["radio_lte_joules_per_client_hour"]["value"].as_f64(),
                Some(radio.lte.joules_per_client_hour)
            );
            assert_eq!(
                t["metrics"]["radio_umts_on_ratio"]["value"].as_f64(),
                Some(radio.umts.radio_on_fraction)
            );
            assert_eq!(
                t["radio"]["lte"]["promotions_per_client_hour"].as_f64(),
                Some(radio.lte.promotions_per_client_hour)
            );
            // The keys that were there before are still there.
            assert!(t["metrics"]["latency_p99_ms"]["value"].is_number());
        }
    }
    let mut out = Vec::new();
    print_summary_table(&comparison, &mut out).expect("table");
    let text = String::from_utf8(out).expect("utf-8");
    println!("{text}");
    assert!(
        text.contains("200 clients · 20 rooms · 0.5 msg/s constant · 100 B messages · network lte")
    );
    assert_eq!(text.matches("LTE J/h").count(), 4, "{text}");
    assert_eq!(text.matches("3G on").count(), 4, "{text}");

    // Loopback: the same keys, null; no radio column in the terminal.
    let loopback =
        merge(&load_results(&[fixture_dir().join("ws.json")]).expect("load")).expect("merge");
    let json = summary_json(&loopback);
    let g = &json["groups"][0];
    assert!(g["network"].is_null() && g["link"].is_null());
    assert!(g["transports"][0]["radio"].is_null());
    assert!(g["transports"][0]["metrics"]["radio_lte_joules_per_client_hour"].is_null());
    let mut out = Vec::new();
    print_summary_table(&loopback, &mut out).expect("table");
    let text = String::from_utf8(out).expect("utf-8");
    assert!(!text.contains("LTE") && !text.contains("network"), "{text}");
}

#[test]
fn another_network_is_another_scenario_and_says_which() {
    // A network only the current side has (the field is left out on loopback).
    let base = load_side(&fixture_dir().join("compare/same")).expect("compare set");
    let mut cur = base.clone();
    for f in &mut cur {
        f.scenario.network = Some("lte".into());
    }
    let e = compare(&base, &cur, &CompareOptions::default()).expect_err("mismatch");
    assert!(matches!(e, Error::ScenarioMismatch { .. }), "{e:?}");
    assert!(e.to_string().contains("network unset → lte"), "{e}");
    // And the other way round, and between two networks.
    let e = compare(&cur, &base, &CompareOptions::default()).expect_err("mismatch");
    assert!(e.to_string().contains("network lte → unset"), "{e}");
    let mut other = cur.clone();
    for f in &mut other {
        f.scenario.network = Some("3g".into());
    }
    let e = compare(&cur, &other, &CompareOptions::default()).expect_err("mismatch");
    assert!(e.to_string().contains("network lte → 3g"), "{e}");
}

#[test]
fn one_network_alone_has_a_radio_section_and_no_network_section() {
    let files: Vec<ResultFile> = vec![on(&network_files(), "lte").clone()];
    let (html, summary) = render_text(&merge(&files).expect("merge"), "network-one");
    assert!(
        !html.contains("id=\"network\""),
        "one network is no comparison"
    );
    assert!(html.contains("id=\"radio\""));
    assert!(html.contains(
        "LTE radio model, on lte: short polling at 1 s keeps the radio on 100% of the time"
    ));
    assert!(html.contains(
        "<h2>200 clients · 20 rooms · 0.5 msg/s constant · 100 B messages · network lte</h2>"
    ));
    assert_eq!(summary.charts.len(), 5 + 2);
}
