//! A third-party server, written here, that speaks nothing like rtbench:
//! other paths, `Etag`/`If-None-Match` long polling with 304s, a short-poll
//! API with its own cursor field, an SSE stream with its own event names and
//! a greeting event, and a WebSocket that needs a join frame and wraps each
//! text in its own JSON envelope. Through a profile (written here too) the
//! load generator must measure it on every transport with 0 loss.

use axum::body::Body;
use axum::extract::ws::{Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use loadgen::Profile;
use protocol::Transport;
use protocol::results::PublishVia;
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use testkit::load::{check_result_file, run_bounded, small_config};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

/// Per room: (n, data) of every message.
type Log = Arc<Mutex<HashMap<String, Vec<(u64, String)>>>>;

/// The log, and a broadcast of (room, n, data) that wakes waiters.
#[derive(Clone)]
struct Acme {
    log: Log,
    tx: broadcast::Sender<(String, u64, String)>,
}

impl Acme {
    fn after(&self, room: &str, n: u64) -> Vec<(u64, String)> {
        let log = self.log.lock().expect("lock");
        log.get(room)
            .map(|v| v.iter().filter(|(i, _)| *i > n).cloned().collect())
            .unwrap_or_default()
    }

    fn last(&self, room: &str) -> u64 {
        let log = self.log.lock().expect("lock");
        log.get(room).and_then(|v| v.last()).map_or(0, |(i, _)| *i)
    }

    fn publish(&self, room: &str, data: String) {
        let mut log = self.log.lock().expect("lock");
        let v = log.entry(room.to_string()).or_default();
        let n = v.last().map_or(0, |(i, _)| *i) + 1;
        v.push((n, data.clone()));
        let _ = self.tx.send((room.to_string(), n, data));
    }
}

#[derive(serde::Deserialize)]
struct PublishBody {
    data: String,
}

async fn publish(
    State(s): State<Acme>,
    Path(room): Path<String>,
    Json(body): Json<PublishBody>,
) -> Response {
    s.publish(&room, body.data);
    (StatusCode::ACCEPTED, Json(json!({"accepted": true}))).into_response()
}

fn items(list: &[(u64, String)]) -> serde_json::Value {
    list.iter()
        .map(|(n, d)| json!({"n": n, "data": d}))
        .collect()
}

/// Short poll: `?after=N` → `{"items":[…],"last":N}`; no `after` = from now.
async fn history(
    State(s): State<Acme>,
    Path(room): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let last = s.last(&room);
    let list = match q.get("after").map(|a| a.parse::<u64>()) {
        Some(Ok(n)) => s.after(&room, n),
        Some(Err(_)) => return (StatusCode::BAD_REQUEST, "bad after").into_response(),
        None => Vec::new(),
    };
    let last = list.last().map_or(last, |(n, _)| *n);
    Json(json!({"items": items(&list), "last": last})).into_response()
}

/// Long poll: the cursor is the `Etag`; `If-None-Match` asks for what came
/// after it, held up to `?timeout=S`, then 304.
async fn poll(
    State(s): State<Acme>,
    Path(room): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let etag = |n: u64| format!("\"{n}\"");
    let Some(since) = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim_matches('"').parse::<u64>().ok())
    else {
        let last = s.last(&room);
        return ([(header::ETAG, etag(last))], Json(json!([]))).into_response();
    };
    let timeout: f64 = q.get("timeout").and_then(|t| t.parse().ok()).unwrap_or(2.0);
    let mut rx = s.tx.subscribe();
    let deadline = tokio::time::Instant::now() + Duration::from_secs_f64(timeout);
    loop {
        let list = s.after(&room, since);
        if let Some((last, _)) = list.last() {
            return ([(header::ETAG, etag(*last))], Json(items(&list))).into_response();
        }
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Ok(_)) | Ok(Err(broadcast::error::RecvError::Lagged(_))) => continue,
            _ => return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag(since))]).into_response(),
        }
    }
}

/// SSE: a greeting event, then `event: chat` with `id:`; resumes from `Last-Event-ID`.
async fn stream(State(s): State<Acme>, Path(room): Path<String>, headers: HeaderMap) -> Response {
    let mut rx = s.tx.subscribe();
    let since = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let backlog = since.map(|n| s.after(&room, n)).unwrap_or_default();
    let mut sent = backlog.last().map_or(since.unwrap_or(0), |(n, _)| *n);
    let event = |n: u64, d: &str| format!("event: chat\nid: {n}\ndata: {}\n\n", json!({"data": d}));
    let head: String = std::iter::once("event: hello\ndata: {\"server\":\"acme\"}\n\n".to_string())
        .chain(backlog.iter().map(|(n, d)| event(*n, d)))
        .collect();
    let body = async_stream(head, move |out| {
        let room = room.clone();
        async move {
            loop {
                match rx.recv().await {
                    Ok((r, n, d)) if r == room && n > sent => {
                        sent = n;
                        if out.send(event(n, &d)).await.is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(_) => return,
                }
            }
        }
    });
    ([(header::CONTENT_TYPE, "text/event-stream")], body).into_response()
}

/// A streaming body fed by a task through a channel.
fn async_stream<F, Fut>(first: String, task: F) -> Body
where
    F: FnOnce(tokio::sync::mpsc::Sender<String>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel::<String>(64);
    let fut = task(tx.clone());
    tokio::spawn(async move {
        if tx.send(first).await.is_ok() {
            fut.await;
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|s| (Ok::<_, std::io::Error>(axum::body::Bytes::from(s)), rx))
    });
    Body::from_stream(stream)
}

/// WebSocket on one path for every room: nothing until a join frame
/// `{"op":"join","channel":…}`; then `{"event":"joined"}` and each message as
/// `{"event":"msg","payload":{"n":N,"body":…}}`. `?from=N` replays after N.
/// `{"op":"send","channel":…,"data":…}` publishes.
async fn socket(
    State(s): State<Acme>,
    Query(q): Query<HashMap<String, String>>,
    upgrade: WebSocketUpgrade,
) -> Response {
    let from = q.get("from").and_then(|v| v.parse::<u64>().ok());
    upgrade.on_upgrade(move |ws| ws_session(s, ws, from))
}

async fn ws_session(s: Acme, mut ws: WebSocket, from: Option<u64>) {
    let mut rx = s.tx.subscribe();
    let mut room: Option<String> = None;
    let mut sent = 0;
    let frame =
        |n: u64, d: &str| json!({"event": "msg", "payload": {"n": n, "body": d}}).to_string();
    loop {
        tokio::select! {
            m = ws.recv() => {
                let Some(Ok(WsMessage::Text(t))) = m else { return };
                let Ok(v) = serde_json::from_str::<serde_json::Value>(t.as_str()) else { return };
                let channel = v["channel"].as_str().unwrap_or_default().to_string();
                match v["op"].as_str() {
                    Some("join") => {
                        let backlog = from.map(|n| s.after(&channel, n)).unwrap_or_default();
                        sent = backlog.last().map_or(from.unwrap_or_else(|| s.last(&channel)), |(n, _)| *n);
                        let mut frames = vec![json!({"event": "joined", "channel": channel}).to_string()];
                        frames.extend(backlog.iter().map(|(n, d)| frame(*n, d)));
                        for f in frames {
                            if ws.send(WsMessage::Text(f.into())).await.is_err() {
                                return;
                            }
                        }
                        room = Some(channel);
                    }
                    Some("send") => s.publish(&channel, v["data"].as_str().unwrap_or_default().to_string()),
                    _ => return,
                }
            }
            r = rx.recv() => {
                let Ok((r, n, d)) = r else { return };
                if room.as_deref() == Some(r.as_str()) && n > sent {
                    sent = n;
                    if ws.send(WsMessage::Text(frame(n, &d).into())).await.is_err() {
                        return;
                    }
                }
            }
        }
    }
}

async fn start_acme() -> String {
    let (tx, _) = broadcast::channel(4096);
    let state = Acme {
        log: Arc::default(),
        tx,
    };
    let app = Router::new()
        .route("/status", get(|| async { "up" }))
        .route("/v2/channels/{room}/publish", post(publish))
        .route("/v2/channels/{room}/history", get(history))
        .route("/v2/channels/{room}/poll", get(poll))
        .route("/v2/channels/{room}/stream", get(stream))
        .route("/v2/socket", get(socket))
        .with_state(state);
    testkit::serve_router(app).await
}

/// The profile a user would write for Acme (docs/profiles.md explains each key).
const ACME: &str = include_str!("../../profiles/acme-example.toml");

fn acme_profile() -> Arc<Profile> {
    let path = testkit::temp_file("rtb", "acme.toml", ACME);
    Arc::new(Profile::load(&path.display().to_string()).expect("valid profile"))
}

/// Every transport Acme's profile defines (Acme has no Socket.IO: a real
/// Socket.IO server is measured in `socketio.rs`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_server_is_measured_on_every_transport_it_speaks() {
    let speaks = acme_profile().transports();
    assert_eq!(
        speaks,
        [
            Transport::ShortPoll,
            Transport::LongPoll,
            Transport::Sse,
            Transport::Ws
        ]
    );
    for transport in speaks {
        measure_acme(transport, PublishVia::Http).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_websocket_is_measured_publishing_over_it() {
    measure_acme(Transport::Ws, PublishVia::Ws).await;
}

/// A small run of `transport` against Acme through its profile, publishing
/// `via`: nothing lost, plausible latency, publishes acknowledged.
async fn measure_acme(transport: Transport, via: PublishVia) {
    let url = start_acme().await;
    let mut cfg = small_config(&url, transport);
    cfg.profile = acme_profile();
    cfg.publish_via = via;
    cfg.clients = 20;
    cfg.duration = Duration::from_secs(2);
    cfg.poll_interval = Duration::from_millis(200);
    cfg.long_poll_wait = Duration::from_secs(2);
    let results = run_bounded(cfg, Duration::from_secs(60)).await;
    let t = &results.file.transports[0];
    let c = &t.counts;
    assert!(c.expected >= 20 * 30, "{c:?}");
    assert_eq!((c.delivered, c.lost), (c.expected, 0), "{c:?}");
    assert_eq!((c.duplicate, c.reordered, c.unexpected), (0, 0, 0), "{c:?}");
    assert_eq!(
        c.errors.values().sum::<u64>(),
        0,
        "{:?}",
        results.file.warnings
    );
    assert!(
        t.server.is_none(),
        "Acme has no stats and no --server-pid was given"
    );
    // Plausible latency: a poll interval's worth for short polling, a few
    // milliseconds for the rest (debug build, shared cores: generous bounds).
    let p50 = t.latency.p50_us;
    match transport {
        Transport::ShortPoll => assert!((30_000..200_000).contains(&p50), "p50 {p50}us"),
        Transport::LongPoll
        | Transport::Sse
        | Transport::Ws
        | Transport::SocketIo
        | Transport::SocketIoPolling
        | Transport::WebTransport
        | Transport::WebTransportDatagram => {
            assert!(p50 < 50_000, "{transport}: p50 {p50}us")
        }
    }
    // Publish latency: the 202 over HTTP; over the WebSocket, the server's
    // echo of the publisher's own frame (the profile says Acme echoes).
    assert_eq!(
        t.publish_latency.count, c.published,
        "{:?}",
        t.publish_latency
    );
    if transport == Transport::Ws {
        // Every (re)join is greeted with a frame that carries no marker.
        assert!(c.foreign >= 20, "{c:?}");
    }
    assert_eq!(
        results
            .file
            .scenario
            .profile
            .as_deref()
            .map(|p| p.starts_with("acme (")),
        Some(true)
    );
    check_result_file(&results.file);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profile_check_points_at_the_field_to_fix() {
    let url = start_acme().await;
    let good = acme_profile();
    let outcomes = loadgen::check(good.clone(), &url, &[], CancellationToken::new())
        .await
        .expect("check runs");
    assert_eq!(outcomes.len(), 4);
    for o in &outcomes {
        assert!(
            o.ok,
            "{}: {} {:?}\n{}",
            o.transport,
            o.verdict,
            o.hints,
            o.trace.join("\n")
        );
        assert!(!o.trace.is_empty());
    }

    // A wrong subscribe path: the verdict names [sse] url and its line.
    let bad = ACME.replace("/v2/channels/{room}/stream", "/v2/channel/{room}/stream");
    let line = bad
        .lines()
        .position(|l| l.contains("/v2/channel/{room}/stream"))
        .expect("line")
        + 1;
    let profile = Arc::new(Profile::parse(&bad, "acme.toml").expect("valid"));
    let outcomes = loadgen::check(profile, &url, &[Transport::Sse], CancellationToken::new())
        .await
        .expect("check runs");
    let o = &outcomes[0];
    assert!(!o.ok);
    let all = format!("{} {}", o.verdict, o.hints.join(" "));
    assert!(all.contains(&format!("acme.toml:{line}")), "{all}");
    assert!(all.contains("[sse] url") && all.contains("404"), "{all}");

    // A publish body without the text the server relays: messages arrive
    // without the marker, and the hint says so.
    let bad = ACME.replace(
        r#"'{"data":"{payload}","from":"{pub}"}'"#,
        r#"'{"data":"hello","x":"{payload}"}'"#,
    );
    let profile = Arc::new(Profile::parse(&bad, "acme.toml").expect("valid"));
    let outcomes = loadgen::check(profile, &url, &[Transport::Ws], CancellationToken::new())
        .await
        .expect("check runs");
    assert!(!outcomes[0].ok);
    assert!(
        outcomes[0].verdict.contains("none carried the marker"),
        "{:?}",
        outcomes[0]
    );

    // Unreachable target: the error names the health check it tried.
    let err = loadgen::check(good, "http://127.0.0.1:9", &[], CancellationToken::new())
        .await
        .expect_err("nothing listens on port 9");
    assert!(err.to_string().contains("GET /status"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transports_the_profile_lacks_are_refused() {
    let text = "[publish]\nurl = \"/p/{room}\"\nbody = \"{payload}\"\n[sse]\nurl = \"/s/{room}\"\n";
    let profile = Profile::parse(text, "only-sse.toml").expect("valid");
    let mut cfg = loadgen::Config::new("http://127.0.0.1:9", Transport::Ws).expect("cfg");
    cfg.profile = Arc::new(profile);
    let err = cfg.validate().expect_err("no [ws]");
    assert_eq!(err.flag(), "--profile");
    assert!(err.to_string().contains("defines only sse"), "{err}");
}

/// `--server-pid`: the server's cost from /proc for a server without
/// rtbench's stats. Acme runs in this test process, so its pid is ours.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_cost_from_a_pid() {
    let url = start_acme().await;
    let mut cfg = small_config(&url, Transport::Sse);
    cfg.profile = acme_profile();
    cfg.clients = 10;
    cfg.duration = Duration::from_secs(1);
    cfg.server_pid = Some(std::process::id());
    let results = run_bounded(cfg, Duration::from_secs(30)).await;
    let t = &results.file.transports[0];
    let s = t.server.as_ref().expect("server cost from /proc");
    assert!(
        s.version
            .starts_with(&format!("pid {} (", std::process::id())),
        "{s:?}"
    );
    assert!(s.cpu_seconds > 0.0 && s.rss_after_bytes > 0, "{s:?}");
    assert_eq!(s.connections, 10, "connections as the clients saw them");
    assert!(
        s.deliveries > 0,
        "deliveries as the clients saw them: {s:?}"
    );
    check_result_file(&results.file);
}
