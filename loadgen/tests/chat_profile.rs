//! A chat server of the common kind, written here: one global room, channel
//! names that must match `\w+` (as Nchan's example config), and a WebSocket
//! that sends user lists and join notices besides the messages. Through a
//! profile the load generator must measure it exactly: default room names
//! pass the server's check, `--room-prefix` names the rooms, `message_if`
//! skips the frames that are not messages, `rooms = 1` refuses more rooms,
//! and a refused request shows the expanded URL and the server's answer.
//! `profiles/ws-chat-example.toml` is the profile, shipped as an example.

use axum::extract::ws::{Message as WsMessage, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use loadgen::{Config, Profile};
use protocol::Transport;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use testkit::load::{run_bounded, small_config};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

#[derive(Clone)]
struct Chat {
    tx: broadcast::Sender<String>,
    /// Every channel name a request named.
    rooms: Arc<Mutex<BTreeSet<String>>>,
}

impl Chat {
    /// Nchan-style: `\w+` only, else a 403 with a reason.
    fn admit(&self, room: &str) -> Option<Response> {
        self.rooms.lock().expect("lock").insert(room.to_string());
        let word = !room.is_empty() && room.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        let why = format!("channel {room} not allowed");
        (!word).then(|| (StatusCode::FORBIDDEN, why).into_response())
    }
}

async fn publish(
    State(s): State<Chat>,
    Path(room): Path<String>,
    Json(v): Json<Value>,
) -> Response {
    if let Some(refused) = s.admit(&room) {
        return refused;
    }
    let frame = json!({ "type": "message", "text": v["text"] }).to_string();
    let _ = s.tx.send(frame);
    StatusCode::CREATED.into_response()
}

/// On open: the user list to the newcomer, a join notice to everyone; then
/// every message of the one global room, whatever room was asked for.
async fn chat(State(s): State<Chat>, Path(room): Path<String>, up: WebSocketUpgrade) -> Response {
    if let Some(refused) = s.admit(&room) {
        return refused;
    }
    up.on_upgrade(move |mut socket| async move {
        let mut rx = s.tx.subscribe();
        let list = json!({ "type": "userList", "users": ["alice", "bob"] }).to_string();
        if socket.send(WsMessage::Text(list.into())).await.is_err() {
            return;
        }
        let _ =
            s.tx.send(json!({ "type": "system", "text": "someone joined" }).to_string());
        while let Ok(frame) = rx.recv().await {
            if socket.send(WsMessage::Text(frame.into())).await.is_err() {
                return;
            }
        }
    })
}

async fn start_chat() -> (String, Arc<Mutex<BTreeSet<String>>>) {
    let (tx, _) = broadcast::channel(4096);
    let rooms = Arc::new(Mutex::new(BTreeSet::new()));
    let app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/pub/{room}", post(publish))
        .route("/chat/{room}", get(chat))
        .with_state(Chat {
            tx,
            rooms: rooms.clone(),
        });
    (testkit::serve_router(app).await, rooms)
}

/// The chat profile; `select` adds the `message_if`, `publish_url` and
/// `ws_url` replace the paths.
fn profile(select: bool, publish_url: &str, ws_url: &str) -> Arc<Profile> {
    let message_if = if select {
        r#"message_if = { pointer = "/type", equals = "message" }"#
    } else {
        ""
    };
    let text = format!(
        r#"
name = "chat"
health = "/healthz"
rooms = 1
[publish]
url = "{publish_url}"
headers = {{ "content-type" = "application/json" }}
body = '{{"text":"{{payload}}"}}'
[ws]
url = "{ws_url}"
{message_if}
"#
    );
    Arc::new(Profile::parse(&text, "chat.toml").expect("profile"))
}

fn config(url: &str, profile: Arc<Profile>) -> Config {
    let mut cfg = small_config(url, Transport::Ws);
    cfg.profile = profile;
    cfg.clients = 10;
    cfg.duration = Duration::from_secs(2);
    cfg
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_message_if_skips_are_ignored_not_foreign() {
    let (url, rooms) = start_chat().await;
    let shipped = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../profiles/ws-chat-example.toml"
    );
    let cfg = config(&url, Arc::new(Profile::load(shipped).expect("example")));
    let results = run_bounded(cfg, Duration::from_secs(60)).await;
    let c = &results.file.transports[0].counts;
    assert!(c.published > 0, "{c:?} {:?}", results.file.warnings);
    assert_eq!((c.delivered, c.lost), (c.expected, 0), "{c:?}");
    assert_eq!(
        c.foreign, 0,
        "user lists and join notices are not messages: {c:?}"
    );
    assert_eq!(c.errors.values().sum::<u64>(), 0, "{:?}", c.errors);
    // The default names pass a `\w+` channel check, and there is one room.
    let rooms = rooms.lock().expect("lock").clone();
    assert_eq!(rooms.len(), 1, "{rooms:?}");
    let room = rooms.first().expect("a room");
    assert!(room.starts_with("rtb") && room.ends_with("r0"), "{room}");
    assert!(
        room.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()),
        "{room}"
    );

    // Without the selector, the same frames are foreign: at least each
    // client's own user list.
    let (url, _) = start_chat().await;
    let cfg = config(&url, profile(false, "/pub/{room}", "/chat/{room}"));
    let results = run_bounded(cfg, Duration::from_secs(60)).await;
    let c = &results.file.transports[0].counts;
    assert_eq!((c.delivered, c.lost), (c.expected, 0), "{c:?}");
    assert!(c.foreign >= 10, "{c:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn room_prefix_names_the_rooms() {
    let (url, rooms) = start_chat().await;
    let mut cfg = config(&url, profile(true, "/pub/{room}", "/chat/{room}"));
    cfg.room_prefix = Some("lobby_".into());
    let results = run_bounded(cfg, Duration::from_secs(60)).await;
    let c = &results.file.transports[0].counts;
    assert_eq!((c.delivered, c.lost), (c.expected, 0), "{c:?}");
    let rooms: Vec<String> = rooms.lock().expect("lock").iter().cloned().collect();
    assert_eq!(rooms, ["lobby_0"]);

    let mut bad = config(&url, profile(true, "/pub/{room}", "/chat/{room}"));
    bad.room_prefix = Some("a/b".into());
    let e = bad.validate().expect_err("a slash is refused");
    assert!(e.to_string().contains("--room-prefix"), "{e}");
}

#[test]
fn a_single_room_profile_refuses_more_rooms() {
    let mut cfg = config(
        "http://127.0.0.1:9",
        profile(true, "/pub/{room}", "/chat/{room}"),
    );
    cfg.rooms = 2;
    let e = cfg.validate().expect_err("two rooms on a one-room server");
    let text = e.to_string();
    assert!(
        text.contains("--rooms") && text.contains("rooms = 1"),
        "{text}"
    );
    cfg.rooms = 1;
    cfg.validate().expect("one room is fine");
    let e = Profile::parse(
        "rooms = 0\n[publish]\nframe = \"{payload}\"\n[ws]\nurl = \"/\"\n",
        "z.toml",
    )
    .expect_err("zero rooms");
    assert_eq!((e.field.as_str(), e.line), ("rooms", Some(1)), "{e}");
}

/// A refused request's hint is the server's answer to the expanded URL,
/// not a guess at the profile field.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_show_the_expanded_url_and_the_answer() {
    let (url, _) = start_chat().await;
    let cancel = CancellationToken::new();
    let p = profile(true, "/pub/x-{room}", "/chat/{room}");
    let out = loadgen::check(p, &url, &[Transport::Ws], cancel.clone())
        .await
        .expect("check runs");
    let hints = out[0].hints.join("\n");
    assert!(!out[0].ok);
    assert!(hints.contains("POST /pub/x-rtb"), "{hints}");
    assert!(
        hints.contains("403 Forbidden") && hints.contains("not allowed"),
        "{hints}"
    );
    assert!(!hints.contains("check [publish]"), "{hints}");

    let p = profile(true, "/pub/{room}", "/chat/x-{room}");
    let out = loadgen::check(p, &url, &[Transport::Ws], cancel)
        .await
        .expect("check runs");
    let hints = out[0].hints.join("\n");
    assert!(hints.contains("GET /chat/x-rtb"), "{hints}");
    assert!(
        hints.contains("403 Forbidden") && hints.contains("not allowed"),
        "{hints}"
    );
    assert!(hints.contains("[ws] url"), "{hints}");
}
