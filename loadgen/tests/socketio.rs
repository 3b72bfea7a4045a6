//! The Socket.IO transports against the real thing: the npm `socket.io`
//! 4.8 chat server of tests/socketio/chat-server.mjs, through
//! profiles/socketio-chat.toml, and a tiny fake Engine.IO server written
//! here for what a real server never does (malformed packets, silence).
//!
//! These tests never skip: without `node` or `node_modules/socket.io`
//! (`npm ci` at the repository root) they fail and say so.

use loadgen::Profile;
use protocol::Transport;
use protocol::results::PublishVia;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;
use testkit::load::{check_result_file, run_bounded, small_config};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("loadgen lives in the repository")
        .to_path_buf()
}

/// The chat server, killed when dropped (it also exits when its stdin,
/// which we hold, closes).
struct ChatServer {
    child: Child,
    url: String,
}

impl ChatServer {
    fn start(args: &[&str]) -> ChatServer {
        let root = repo_root();
        assert!(
            root.join("node_modules/socket.io/package.json").exists(),
            "node_modules/socket.io is missing: run `npm ci` at the repository root"
        );
        let mut child = Command::new("node")
            .arg(root.join("tests/socketio/chat-server.mjs"))
            .arg("0")
            .args(args)
            .current_dir(&root)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("`node` (Debian package nodejs) must be installed");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("stdout");
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("ready line");
        let v: serde_json::Value = serde_json::from_str(&line).expect("ready line is JSON");
        let url = v["listening"].as_str().expect("listening").to_string();
        assert!(url.starts_with("http://127.0.0.1:"), "{url}");
        ChatServer { child, url }
    }
}

impl Drop for ChatServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn chat_profile() -> Arc<Profile> {
    let path = repo_root().join("profiles/socketio-chat.toml");
    Arc::new(Profile::load(&path.display().to_string()).expect("valid profile"))
}

/// A small run against `url` through the chat profile, publishing by event.
fn chat_config(url: &str, t: Transport) -> loadgen::Config {
    let mut cfg = small_config(url, t);
    cfg.profile = chat_profile();
    cfg.publish_via = PublishVia::SocketIo;
    cfg.clients = 20;
    cfg
}

fn errors(c: &protocol::results::Counts) -> u64 {
    c.errors.values().sum()
}

#[rstest::rstest]
#[case(Transport::SocketIo)]
#[case(Transport::SocketIoPolling)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_server_loses_nothing(#[case] t: Transport) {
    let server = ChatServer::start(&[]);
    let cfg = chat_config(&server.url, t);
    let clients = cfg.clients;
    let r = run_bounded(cfg, Duration::from_secs(60)).await;
    check_result_file(&r.file);
    let tr = &r.file.transports[0];
    let c = &tr.counts;
    assert!(c.published > 0, "{t}: {c:?} {:?}", r.file.warnings);
    assert_eq!((c.delivered, c.lost), (c.expected, 0), "{t}: {c:?}");
    assert_eq!(errors(c), 0, "{t}: {:?}", r.file.warnings);
    assert_eq!(c.reconnects, 0, "{t}: {c:?}");
    assert_eq!(
        c.engine_io_handshakes, clients,
        "{t}: one handshake per client"
    );
    if t == Transport::SocketIoPolling {
        // A held GET per answer, as long polling counts them.
        assert!(c.requests > 0 && c.empty_responses < c.requests, "{c:?}");
    }
    let upgrades = if t == Transport::SocketIo { clients } else { 0 };
    assert_eq!(c.engine_io_upgrades, upgrades, "{t}");
    assert_eq!(
        tr.publish_latency.count, c.published,
        "{t}: every publish acknowledged"
    );
    let w = &tr.wire_bytes;
    assert!(
        w.subscribe_down_bytes > 0 && w.publish_up_bytes > 0,
        "{t}: {w:?}"
    );
    // Polling sends a GET per answer; an upgraded socket only pongs.
    assert_eq!(
        w.subscribe_up_bytes > 0,
        t == Transport::SocketIoPolling,
        "{t}: {w:?}"
    );
    // The whole run's bytes include the handshake and the upgrade: at
    // least the handshake GET, the CONNECT POST and the upgrade request.
    let total = &tr.wire_bytes_total;
    assert!(total.subscribe_up_bytes > clients * 300, "{t}: {total:?}");
}

/// Short server heartbeats: a client that answers pings outlives many
/// `pingTimeout`s without a reconnect.
#[rstest::rstest]
#[case(Transport::SocketIo)]
#[case(Transport::SocketIoPolling)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pongs_keep_a_session_alive(#[case] t: Transport) {
    let server = ChatServer::start(&["--ping-interval", "150", "--ping-timeout", "400"]);
    let mut cfg = chat_config(&server.url, t);
    cfg.rate_per_sec = 10.0;
    cfg.publishers = 1;
    let r = run_bounded(cfg, Duration::from_secs(60)).await;
    let c = &r.file.transports[0].counts;
    assert_eq!(c.reconnects, 0, "{t}: {c:?} {:?}", r.file.warnings);
    assert_eq!(errors(c), 0, "{t}: {:?}", r.file.warnings);
    assert!(c.published > 0);
    assert_eq!((c.delivered, c.lost), (c.expected, 0), "{t}: {c:?}");
}

/// A publisher quiet for many `pingTimeout`s between publishes keeps its
/// session: its socket's reader answers the pings meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quiet_publisher_keeps_its_session() {
    let server = ChatServer::start(&["--ping-interval", "100", "--ping-timeout", "200"]);
    let mut cfg = chat_config(&server.url, Transport::SocketIo);
    cfg.clients = 5;
    cfg.publishers = 1;
    cfg.rate_per_sec = 2.0;
    cfg.duration = Duration::from_secs(3);
    let r = run_bounded(cfg, Duration::from_secs(60)).await;
    let c = &r.file.transports[0].counts;
    assert!(c.published >= 4, "{c:?}");
    assert_eq!(c.publish_errors, 0, "{c:?} {:?}", r.file.warnings);
    assert_eq!((c.delivered, c.lost), (c.expected, 0), "{c:?}");
}

/// The server disconnects every subscriber once (`41`) mid-run: each
/// reconnects, resumes from its cursor (`since`), and nothing is lost.
#[rstest::rstest]
#[case(Transport::SocketIo)]
#[case(Transport::SocketIoPolling)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_closed_session_is_resumed(#[case] t: Transport) {
    let server = ChatServer::start(&["--kick-after", "1500", "--kick-users", "^c"]);
    let cfg = chat_config(&server.url, t);
    let clients = cfg.clients;
    let r = run_bounded(cfg, Duration::from_secs(60)).await;
    let c = &r.file.transports[0].counts;
    assert_eq!(
        c.reconnects, clients,
        "{t}: every client kicked once: {c:?}"
    );
    assert_eq!(c.errors["unexpected_close"], clients, "{t}: {c:?}");
    assert!(c.published > 0);
    assert_eq!((c.delivered, c.lost), (c.expected, 0), "{t}: {c:?}");
    assert_eq!(c.engine_io_handshakes, 2 * clients, "{t}");
}

/// What the fake server answers to a session's GETs after the handshake.
#[derive(Clone, Copy, Debug)]
enum Fake {
    /// CONNECT, then packets no Engine.IO or Socket.IO server sends.
    Malformed,
    /// CONNECT, then nothing at all (no pings either).
    Silent,
    /// CONNECT, a gap and an error event, then a lag notice (cursor 7).
    Notices,
    /// CONNECT, then the session ends: a close packet (odd sessions) or
    /// Engine.IO's `400` for a sid it no longer knows (even ones).
    Closes,
}

/// Engine.IO's answer (with a `400`) to a request for a closed session.
const UNKNOWN_SID: &str = "{\"code\":1,\"message\":\"Session ID unknown\"}";

/// The request heads of every handshake the fake server answered.
type Handshakes = Arc<std::sync::Mutex<Vec<String>>>;

/// An Engine.IO polling server on 127.0.0.1:0 that misbehaves as `mode` says.
async fn fake_server(mode: Fake) -> (String, Handshakes) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let log = Handshakes::default();
    let seen = log.clone();
    tokio::spawn(async move {
        let mut session = 0u32;
        while let Ok((sock, _)) = listener.accept().await {
            session += 1;
            tokio::spawn(fake_conn(sock, mode, session, seen.clone()));
        }
    });
    (format!("http://{addr}"), log)
}

/// One keep-alive connection: a session's handshake, POSTs and GETs.
async fn fake_conn(sock: tokio::net::TcpStream, mode: Fake, session: u32, log: Handshakes) {
    let (r, mut w) = sock.into_split();
    let mut r = tokio::io::BufReader::new(r);
    let mut gets = 0;
    loop {
        let mut head = String::new();
        let mut len = 0usize;
        loop {
            let mut line = String::new();
            if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                return;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                len = v.trim().parse().unwrap_or(0);
            }
            if line == "\r\n" {
                break;
            }
            head.push_str(&line);
        }
        let mut body = vec![0; len];
        if r.read_exact(&mut body).await.is_err() {
            return;
        }
        let answer = if !head.contains("sid=") {
            log.lock().expect("log").push(head.clone());
            format!(
                "0{{\"sid\":\"s{session}\",\"upgrades\":[],\"pingInterval\":200,\"pingTimeout\":200,\"maxPayload\":100000}}"
            )
        } else if head.starts_with("POST") {
            "ok".to_string()
        } else {
            gets += 1;
            match (mode, gets) {
                (_, 1) => "40{\"sid\":\"x\"}".to_string(),
                (Fake::Malformed, n) if n % 2 == 0 => "9what".to_string(),
                (Fake::Malformed, _) => "42[\"chat message\",{\"id\":".to_string(),
                (Fake::Silent, _) => {
                    std::future::pending::<()>().await;
                    return;
                }
                (Fake::Notices, 2) => {
                    "42[\"gap\",{\"cursor\":\"1\"}]\u{1e}42[\"error\",{\"error\":\"no\"}]"
                        .to_string()
                }
                (Fake::Notices, _) => "42[\"lagged\",{\"cursor\":\"7\"}]".to_string(),
                (Fake::Closes, _) if session % 2 == 1 => "1".to_string(),
                (Fake::Closes, _) => UNKNOWN_SID.to_string(),
            }
        };
        let status = if answer == UNKNOWN_SID {
            "400 Bad Request"
        } else {
            "200 OK"
        };
        let resp = format!(
            "HTTP/1.1 {status}\r\ncontent-type: text/plain; charset=UTF-8\r\ncontent-length: {}\r\n\r\n{answer}",
            answer.len()
        );
        if w.write_all(resp.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// A run of `clients` idle polling clients against the fake server.
async fn against_fake(
    mode: Fake,
    profile: Arc<Profile>,
) -> (protocol::results::Counts, Handshakes) {
    let (url, log) = fake_server(mode).await;
    let mut cfg = chat_config(&url, Transport::SocketIoPolling);
    cfg.profile = profile;
    cfg.clients = 5;
    cfg.publishers = 0;
    cfg.rate_per_sec = 0.0;
    cfg.duration = Duration::from_secs(2);
    cfg.drain = Duration::from_millis(200);
    let r = run_bounded(cfg, Duration::from_secs(60)).await;
    (r.file.transports[0].counts.clone(), log)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_packets_are_protocol_errors() {
    let (c, _) = against_fake(Fake::Malformed, chat_profile()).await;
    assert!(c.errors["protocol"] >= 5, "{c:?}");
    assert!(
        c.engine_io_handshakes > 5,
        "each error ends a session, and the client starts a new one: {c:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_server_is_detected() {
    let (c, _) = against_fake(Fake::Silent, chat_profile()).await;
    // pingInterval + pingTimeout is 400 ms: a 2 s run notices it often.
    assert!(c.errors["timeout"] >= 5, "{c:?}");
}

/// A server that ends sessions (a close packet, a `400` for the sid): each
/// ends the client's session as a drop, and the client starts a new one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_closed_sessions_are_drops() {
    let (c, log) = against_fake(Fake::Closes, chat_profile()).await;
    assert!(c.errors["unexpected_close"] >= 10, "{c:?}");
    assert_eq!(c.errors["protocol"] + c.errors["http_status"], 0, "{c:?}");
    // Every session but the ones the end of the run cut short ended so.
    let sessions = log.lock().expect("log").len() as u64;
    assert_eq!(c.engine_io_handshakes, sessions);
    assert!(c.errors["unexpected_close"] + 5 >= sessions, "{c:?}");
}

/// The same misbehaviour after an upgrade: a fake server (axum) that
/// handshakes, upgrades, then sends `mode`'s packets on the WebSocket.
async fn fake_ws_server(mode: Fake) -> String {
    use axum::routing::any;
    let app = axum::Router::new()
        .route("/socket.io/", any(fake_ws_handler))
        .with_state(mode);
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

async fn fake_ws_handler(
    axum::extract::State(mode): axum::extract::State<Fake>,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
    req: axum::extract::Request,
) -> axum::response::Response {
    use axum::extract::FromRequestParts;
    use axum::response::IntoResponse;
    if q.get("transport").is_some_and(|t| t == "websocket") {
        let (mut parts, _) = req.into_parts();
        return match axum::extract::ws::WebSocketUpgrade::from_request_parts(&mut parts, &()).await
        {
            Ok(up) => up.on_upgrade(move |ws| fake_ws(ws, mode)).into_response(),
            Err(e) => e.into_response(),
        };
    }
    if !q.contains_key("sid") {
        return "0{\"sid\":\"w\",\"upgrades\":[\"websocket\"],\"pingInterval\":200,\"pingTimeout\":200,\"maxPayload\":100000}".into_response();
    }
    if req.method() == axum::http::Method::POST {
        return "ok".into_response();
    }
    "40{\"sid\":\"x\"}".into_response()
}

/// The probe, then `mode`'s packets; holds the socket open until the
/// client drops it.
async fn fake_ws(mut ws: axum::extract::ws::WebSocket, mode: Fake) {
    use axum::extract::ws::Message;
    while let Some(Ok(m)) = ws.recv().await {
        let Message::Text(t) = m else { continue };
        match t.as_str() {
            "2probe" => {
                let _ = ws.send(Message::Text("3probe".into())).await;
            }
            "5" => break,
            _ => {}
        }
    }
    if let Fake::Malformed = mode {
        let _ = ws.send(Message::Text("9what".into())).await;
    }
    while let Some(Ok(_)) = ws.recv().await {}
}

#[rstest::rstest]
#[case(Fake::Malformed, "protocol")]
#[case(Fake::Silent, "timeout")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgraded_sessions_survive_a_misbehaving_server(#[case] mode: Fake, #[case] error: &str) {
    let url = fake_ws_server(mode).await;
    let mut cfg = chat_config(&url, Transport::SocketIo);
    cfg.profile = Arc::new(
        Profile::parse(
            "[socketio]\npublish_event = \"m\"\npublish_args = '[\"{payload}\"]'\n",
            "fake.toml",
        )
        .expect("valid"),
    );
    cfg.clients = 5;
    cfg.publishers = 0;
    cfg.rate_per_sec = 0.0;
    cfg.duration = Duration::from_secs(2);
    cfg.drain = Duration::from_millis(200);
    let r = run_bounded(cfg, Duration::from_secs(60)).await;
    let c = &r.file.transports[0].counts;
    assert!(c.errors[error] >= 5, "{c:?}");
    assert!(c.engine_io_upgrades >= 5, "{c:?}");
    // Every session upgraded, but the last ones the end of the run cut short.
    let h = c.engine_io_handshakes;
    assert!(
        (c.engine_io_upgrades..=c.engine_io_upgrades + 5).contains(&h),
        "{c:?}"
    );
}

/// The notices the profile names: a gap and an error event are counted,
/// a lag notice ends the session, and the next one resumes from its cursor.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lag_gap_and_error_events_are_counted() {
    let text = r#"
[socketio]
events = ["message"]
lag_event = "lagged"
lag_cursor = "/0/cursor"
gap_event = "gap"
error_event = "error"
cursor = [{ from = "message:/id", to = "query:since" }]
publish_event = "message"
publish_args = '[{"text":"{payload}"}]'
"#;
    let profile = Arc::new(Profile::parse(text, "notices.toml").expect("valid"));
    let (c, log) = against_fake(Fake::Notices, profile).await;
    assert!(c.lagged >= 5 && c.gaps >= 5, "{c:?}");
    assert!(c.errors["protocol"] >= 5, "{c:?}");
    assert_eq!(c.errors["unexpected_close"], 0, "a lag is no error: {c:?}");
    // Each client's first handshake is live; every later one resumes from
    // the lag notice's cursor.
    let heads = log.lock().expect("log");
    let fresh = heads.iter().filter(|h| !h.contains("since=")).count();
    let resumed = heads.iter().filter(|h| h.contains("&since=7 ")).count();
    assert_eq!((fresh, resumed), (5, heads.len() - 5), "{:?}", &heads[..6]);
}

/// `rtbench profile check` passes the shipped example on both transports.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profile_check_passes_the_chat_example() {
    let server = ChatServer::start(&[]);
    let outcomes = loadgen::check(
        chat_profile(),
        &server.url,
        &[],
        tokio_util::sync::CancellationToken::new(),
    )
    .await
    .expect("check runs");
    let names: Vec<_> = outcomes.iter().map(|o| o.transport).collect();
    assert_eq!(names, [Transport::SocketIo, Transport::SocketIoPolling]);
    for o in &outcomes {
        assert!(o.ok, "{}: {} {:?}", o.transport, o.verdict, o.hints);
    }
}
