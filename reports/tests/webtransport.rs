//! WebTransport's findings on the committed fixtures: each mode against the
//! WebSocket of its group (ratios recomputed here from the files' own
//! numbers), nothing when either side is missing, and on the lossy network
//! the tails compared with the share datagrams dropped by design.

use protocol::Transport;
use protocol::results::{ResultFile, TransportResult};
use reports::format;
use reports::metric::Kind;
use reports::{Group, load_results, merge};
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn findings_of(g: &Group) -> Vec<String> {
    reports::findings(g).into_iter().map(|f| f.text).collect()
}

fn texts_of(files: &[&str]) -> Vec<String> {
    let paths: Vec<PathBuf> = files.iter().map(|f| fixture(f)).collect();
    let c = merge(&load_results(&paths).expect("load")).expect("merge");
    assert_eq!(c.groups.len(), 1);
    findings_of(&c.groups[0])
}

fn result(f: &ResultFile, t: Transport) -> &TransportResult {
    f.transports
        .iter()
        .find(|r| r.transport == t)
        .unwrap_or_else(|| panic!("no {t} in the fixture"))
}

fn load_one(name: &str) -> ResultFile {
    load_results(&[fixture(name)])
        .expect("load")
        .pop()
        .expect("one file")
}

/// "a against b (r× the WebSocket's)", as the finding writes each figure.
fn figure(kind: Kind, a: f64, b: f64) -> String {
    format!(
        "{} against {} ({} the WebSocket's)",
        kind.show(a),
        kind.show(b),
        format::factor(a / b)
    )
}

fn cpu_per_1k(r: &TransportResult) -> f64 {
    let s = r.server.as_ref().expect("server cost");
    s.cpu_seconds / s.deliveries as f64 * 1000.0
}

#[test]
fn each_webtransport_mode_against_websocket_with_its_ratios() {
    let all: Vec<String> = Transport::ALL.iter().map(|t| format!("{t}.json")).collect();
    let names: Vec<&str> = all.iter().map(String::as_str).collect();
    let texts = texts_of(&names);
    let ws_file = load_one("ws.json");
    let ws = result(&ws_file, Transport::Ws);
    for (t, who) in [
        (Transport::WebTransport, "WebTransport against WebSocket: "),
        (
            Transport::WebTransportDatagram,
            "WebTransport datagrams against WebSocket: ",
        ),
    ] {
        let file = load_one(&format!("{t}.json"));
        let wt = result(&file, t);
        let f = texts
            .iter()
            .find(|x| x.starts_with(who))
            .unwrap_or_else(|| panic!("no finding starting {who:?} in {texts:#?}"));
        let rss = |r: &TransportResult| {
            r.server
                .as_ref()
                .and_then(|s| s.rss_per_connection_bytes)
                .expect("rss per connection")
        };
        let expected = [
            format!(
                "p50 latency {}",
                figure(
                    Kind::Latency,
                    wt.latency.p50_us as f64,
                    ws.latency.p50_us as f64
                )
            ),
            format!(
                "p99 latency {}",
                figure(
                    Kind::Latency,
                    wt.latency.p99_us as f64,
                    ws.latency.p99_us as f64
                )
            ),
            format!(
                "{} on the wire per delivery against",
                Kind::Bytes.show(wt.wire_bytes.bytes_per_delivery)
            ),
            format!(
                "({} the WebSocket's); ",
                format::factor(wt.wire_bytes.bytes_per_delivery / ws.wire_bytes.bytes_per_delivery)
            ),
            format!(
                "server CPU per 1,000 deliveries against {} ({} the WebSocket's)",
                Kind::Seconds.show(cpu_per_1k(ws)),
                format::factor(cpu_per_1k(wt) / cpu_per_1k(ws))
            ),
            format!(
                "server memory per connection against {} ({} the WebSocket's).",
                Kind::Bytes.show(rss(ws)),
                format::factor(rss(wt) / rss(ws))
            ),
        ];
        for part in expected {
            assert!(f.contains(&part), "{part:?} missing from {f}");
        }
        // The fixtures give QUIC more bytes and more memory than a WebSocket:
        // the ratios are not 1× by accident of formatting.
        assert!(rss(wt) > rss(ws) * 2.0, "{f}");
    }
    // Loopback: no loss, and so no sentence about tails under loss.
    assert!(!texts.iter().any(|t| t.starts_with("Under ")), "{texts:#?}");
}

#[test]
fn no_webtransport_finding_without_both_sides() {
    let no_ws = texts_of(&[
        "sse.json",
        "webtransport.json",
        "webtransport-datagram.json",
    ]);
    assert!(
        !no_ws.iter().any(|t| t.contains("against WebSocket")),
        "{no_ws:#?}"
    );
    let no_wt = texts_of(&["sse.json", "ws.json", "socketio.json"]);
    assert!(
        !no_wt.iter().any(|t| t.contains("WebTransport")),
        "{no_wt:#?}"
    );
    // One mode alone is compared alone.
    let stream = texts_of(&["ws.json", "webtransport.json"]);
    assert!(
        stream
            .iter()
            .any(|t| t.starts_with("WebTransport against WebSocket: ")),
        "{stream:#?}"
    );
    assert!(
        !stream.iter().any(|t| t.contains("WebTransport datagrams")),
        "{stream:#?}"
    );
}

#[test]
fn under_loss_the_tails_are_compared_and_drops_by_design_stated() {
    let files = load_results(&[fixture("network")]).expect("network fixtures");
    let c = merge(&files).expect("merge");
    let group = |net: &str| {
        c.groups
            .iter()
            .find(|g| g.scenario.network.as_deref() == Some(net))
            .unwrap_or_else(|| panic!("no {net} group"))
    };
    let lossy = files
        .iter()
        .find(|f| f.scenario.network.as_deref() == Some("lossy-lte"))
        .expect("lossy-lte file");
    let (ws, sse, stream, dgram) = (
        result(lossy, Transport::Ws),
        result(lossy, Transport::Sse),
        result(lossy, Transport::WebTransport),
        result(lossy, Transport::WebTransportDatagram),
    );
    // The fixture's datagrams lost some to the link, and none is "lost".
    let dropped = dgram.counts.dropped_by_design;
    assert!(dropped > 0, "{:?}", dgram.counts);
    assert_eq!(dgram.counts.lost, 0);
    assert_eq!(stream.counts.dropped_by_design, 0);

    let texts = findings_of(group("lossy-lte"));
    let f = texts
        .iter()
        .find(|t| t.starts_with("Under lossy-lte (1% loss per direction), p99 latency: "))
        .unwrap_or_else(|| panic!("no tail finding in {texts:#?}"));
    let us = |v: u64| Kind::Latency.show(v as f64);
    let ratio =
        |r: &TransportResult| format::factor(r.latency.p99_us as f64 / ws.latency.p99_us as f64);
    let share = format!(
        "{} of {} expected deliveries ({}) dropped by design",
        format::thousands(dropped),
        format::thousands(dgram.counts.expected),
        format::percent(dropped as f64 / dgram.counts.expected as f64)
    );
    for part in [
        format!(
            "WebTransport {} ({} the WebSocket's)",
            us(stream.latency.p99_us),
            ratio(stream)
        ),
        format!(
            "WebTransport datagrams {} ({} the WebSocket's; {share})",
            us(dgram.latency.p99_us),
            ratio(dgram)
        ),
        format!(
            "; WebSocket {}, SSE {}. ",
            us(ws.latency.p99_us),
            us(sse.latency.p99_us)
        ),
        "(head-of-line blocking)".to_string(),
        "a datagram is never held back".to_string(),
    ] {
        assert!(f.contains(&part), "{part:?} missing from {f}");
    }
    // On any network, what datagrams dropped is said on its own, and the
    // "every message" sentence leaves them out.
    assert!(
        texts
            .iter()
            .any(|t| t.starts_with(&format!("WebTransport datagrams: {share}: "))),
        "{texts:#?}"
    );
    assert!(
        texts
            .iter()
            .any(|t| t.starts_with("Every transport but WebTransport datagrams delivered")),
        "{texts:#?}"
    );

    // Without loss, no tail sentence and no drop.
    let lte = findings_of(group("lte"));
    assert!(!lte.iter().any(|t| t.starts_with("Under lte")), "{lte:#?}");
    assert!(
        lte.iter()
            .any(|t| t.starts_with("Every transport delivered every expected message")),
        "{lte:#?}"
    );
}
