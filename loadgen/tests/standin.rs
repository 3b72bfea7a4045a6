//! Against a deliberately faulty stand-in server (written here, tiny): a
//! server that drops one message for one subscriber must show `lost = 1`
//! exactly; malformed frames must be counted as protocol errors, not panic.

use axum::extract::ws::{Message as WsMessage, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use protocol::{Kind, Message, PublishRequest, PublishResponse, Transport};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use testkit::load::{check_result_file, run_bounded, small_config};
use tokio::sync::broadcast;

/// (id, seq, JSON) of every message; one room is enough here.
type Log = Arc<Mutex<Vec<(u64, Option<u64>, String)>>>;

#[derive(Clone)]
struct Standin {
    msgs: Log,
    tx: broadcast::Sender<String>,
    /// Leave this seq out of exactly one poll answer.
    drop_seq: Option<u64>,
    dropped: Arc<AtomicBool>,
}

async fn publish(
    State(s): State<Standin>,
    Path(room): Path<String>,
    Json(req): Json<PublishRequest>,
) -> (StatusCode, Json<PublishResponse>) {
    let ts_us = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64);
    let mut msgs = s.msgs.lock().expect("lock");
    let id = msgs.len() as u64 + 1;
    // The load generator's marker: rtb1:<run>:<pub>:<seq>:<sent_us>:
    let seq = req.text.split(':').nth(3).and_then(|s| s.parse().ok());
    let m = Message {
        id: id.to_string(),
        room,
        kind: Kind::Message,
        user: Some(req.user),
        text: Some(req.text),
        ts_us,
        sent_us: req.sent_us,
        publisher: req.publisher,
        seq: req.seq,
        users: None,
    };
    let json = serde_json::to_string(&m).expect("serialize");
    msgs.push((id, seq, json.clone()));
    let _ = s.tx.send(json);
    (
        StatusCode::CREATED,
        Json(PublishResponse {
            id: id.to_string(),
            ts_us,
        }),
    )
}

async fn poll(State(s): State<Standin>, Query(q): Query<HashMap<String, String>>) -> Response {
    let msgs = s.msgs.lock().expect("lock");
    let last = msgs.len() as u64;
    let since = q.get("since").and_then(|v| v.parse().ok()).unwrap_or(last);
    let mut out = Vec::new();
    for (_, seq, json) in msgs.iter().filter(|(id, _, _)| *id > since) {
        if s.drop_seq.is_some() && *seq == s.drop_seq && !s.dropped.swap(true, Ordering::SeqCst) {
            continue; // the one message one subscriber never gets
        }
        out.push(json.as_str());
    }
    let body = format!(r#"{{"messages":[{}],"cursor":"{last}"}}"#, out.join(","));
    ([("content-type", "application/json")], body).into_response()
}

/// Every message, each followed by a malformed frame and a binary frame.
async fn ws(State(s): State<Standin>, upgrade: WebSocketUpgrade) -> Response {
    upgrade.on_upgrade(move |mut socket| async move {
        let mut rx = s.tx.subscribe();
        while let Ok(json) = rx.recv().await {
            let frames = [
                WsMessage::Text(json.into()),
                WsMessage::Text("{\"id\": oops".into()),
                WsMessage::Binary(vec![0xff, 0x00].into()),
            ];
            for f in frames {
                if socket.send(f).await.is_err() {
                    return;
                }
            }
        }
    })
}

async fn start_standin(drop_seq: Option<u64>) -> String {
    let (tx, _) = broadcast::channel(1024);
    let state = Standin {
        msgs: Arc::default(),
        tx,
        drop_seq,
        dropped: Arc::default(),
    };
    let app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/api/rooms/{room}/messages", get(poll).post(publish))
        .route("/api/rooms/{room}/ws", get(ws))
        .with_state(state);
    testkit::serve_router(app).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_dropped_message_is_exactly_one_lost() {
    let url = start_standin(Some(15)).await;
    let mut cfg = small_config(&url, Transport::ShortPoll);
    cfg.clients = 20;
    cfg.publishers = 1;
    cfg.rate_per_sec = 10.0;
    cfg.warmup = Duration::from_secs(1);
    cfg.duration = Duration::from_secs(2); // seqs 10..30 in the window; 15 dropped once
    cfg.poll_interval = Duration::from_millis(200);
    let results = run_bounded(cfg, Duration::from_secs(30)).await;
    let t = &results.file.transports[0];
    let c = &t.counts;
    assert_eq!(c.lost, 1, "{c:?}");
    assert_eq!(c.delivered, c.expected - 1, "{c:?}");
    assert_eq!((c.duplicate, c.reordered, c.unexpected), (0, 0, 0), "{c:?}");
    assert!(t.server.is_none(), "the stand-in has no /api/stats");
    assert!(!results.is_clean());
    assert!(
        results
            .problems
            .iter()
            .any(|p| p.contains("1 messages lost")),
        "{:?}",
        results.problems
    );
    check_result_file(&results.file);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_frames_are_counted_not_fatal() {
    let url = start_standin(None).await;
    let mut cfg = small_config(&url, Transport::Ws);
    cfg.clients = 10;
    cfg.publishers = 1;
    cfg.rate_per_sec = 10.0;
    cfg.duration = Duration::from_secs(2);
    let results = run_bounded(cfg, Duration::from_secs(30)).await;
    let c = &results.file.transports[0].counts;
    assert!(c.published > 0);
    assert_eq!(
        (c.delivered, c.lost),
        (c.expected, 0),
        "good frames still count: {c:?}"
    );
    // Two bad frames per message per client, for at least every window message.
    assert!(c.errors["protocol"] >= 2 * c.delivered, "{:?}", c.errors);
    assert_eq!(c.reconnects, 0, "a bad frame does not drop the connection");
}
