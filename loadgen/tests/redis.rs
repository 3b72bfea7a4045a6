//! Scale-out on Redis with a real `redis-server` (each test starts its own
//! on a free loopback port): several server instances serve one feed, a
//! cursor resumes on any instance, clients of a killed instance fail over
//! without loss, and a Redis restart loses nothing Redis acknowledged.

use protocol::Transport;
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use testkit::TestServer;
use testkit::load::{Background, check_result_file, run_bounded, small_config};
use tokio_util::sync::CancellationToken;

/// A `redis-server` child on a free port, with an append-only file so a
/// restart keeps every acknowledged write.
struct Redis {
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl Redis {
    fn start() -> Redis {
        let port = testkit::free_port();
        let dir = std::env::temp_dir().join(format!("rtb-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let mut r = Redis {
            port,
            dir,
            child: None,
        };
        r.spawn();
        r
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn spawn(&mut self) {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--dir",
            ])
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect(
                "redis-server must be installed (scripts/test.sh installs Debian's redis-server)",
            );
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        let addr: SocketAddr = format!("127.0.0.1:{}", self.port).parse().expect("addr");
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends `sig` to the child (SIGSTOP: Redis hangs, connections are
    /// still accepted by the kernel but nothing is answered).
    fn signal(&self, sig: i32) {
        if let Some(c) = &self.child {
            // SAFETY: kill(2) on our own child's pid.
            #[allow(unsafe_code)]
            unsafe {
                libc::kill(c.id() as i32, sig);
            }
        }
    }

    /// SIGTERM (Redis flushes its append-only file), then wait for the exit.
    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SAFETY: kill(2) on our own child's pid.
            #[allow(unsafe_code)]
            unsafe {
                libc::kill(c.id() as i32, libc::SIGTERM);
            }
            let _ = c.wait();
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn instance(redis: &Redis) -> TestServer {
    TestServer::with(server::Config {
        broker: Some(redis.url()),
        ..server::Config::default()
    })
    .await
}

/// Two server instances on one Redis: one feed behind two addresses.
struct Pair {
    a: TestServer,
    b: TestServer,
    /// Dropped last, after both servers.
    _redis: Redis,
}

impl Pair {
    async fn start() -> Pair {
        let redis = Redis::start();
        Pair {
            a: instance(&redis).await,
            b: instance(&redis).await,
            _redis: redis,
        }
    }

    /// Both as the load generator's target list.
    fn targets(&self) -> String {
        format!("{},{}", self.a.url, self.b.url)
    }

    async fn shutdown(&mut self) {
        self.a.shutdown().await;
        self.b.shutdown().await;
    }
}

testkit::per_transport!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    two_instances_serve_one_feed
);
async fn two_instances_serve_one_feed(transport: Transport) {
    let mut pair = Pair::start().await;
    let mut cfg = small_config(&pair.targets(), transport);
    cfg.clients = 40;
    cfg.rooms = 2;
    cfg.publishers = 2;
    cfg.duration = Duration::from_secs(2);
    cfg.poll_interval = Duration::from_millis(200);
    let results = run_bounded(cfg, Duration::from_secs(60)).await;
    let t = &results.file.transports[0];
    let c = &t.counts;
    assert!(c.expected >= 20 * 40 / 2, "{c:?}");
    assert_eq!((c.delivered, c.lost), (c.expected, 0), "{c:?}");
    assert_eq!((c.duplicate, c.reordered, c.unexpected), (0, 0, 0), "{c:?}");
    assert_eq!(
        c.errors.values().sum::<u64>(),
        0,
        "{:?}",
        results.file.warnings
    );
    // Clients were spread over both instances, and the stats summed.
    let shares: Vec<u64> = t.targets.iter().map(|s| s.connected).collect();
    assert_eq!(shares, [20, 20], "{:?}", t.targets);
    let server = t.server.as_ref().expect("both instances have /api/stats");
    assert_eq!(server.connections, 40);
    assert_eq!(results.file.target, pair.targets());
    check_result_file(&results.file);
    pair.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cursor_resumes_on_the_other_instance() {
    let mut pair = Pair::start().await;
    let texts = |p: &protocol::PollResponse| -> Vec<String> {
        let texts = p
            .messages
            .iter()
            .map(|m| m.text.clone().unwrap_or_default());
        texts.collect()
    };
    pair.a.publish("r", "u", "one").await;
    pair.a.publish("r", "u", "two").await;
    let first = pair.a.poll("r", "since=0").await;
    assert_eq!(texts(&first), ["one", "two"]);
    let cursor = first.cursor;
    pair.b.publish("r", "u", "three").await;
    pair.a.publish("r", "u", "four").await;
    // The fan-in of B may be a moment behind: poll until it has caught up.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let got = texts(&pair.b.poll("r", &format!("since={cursor}")).await);
        if got == ["three", "four"] {
            break;
        }
        assert!(Instant::now() < deadline, "B from {cursor}: {got:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // SSE on B resumes from the same cursor with Last-Event-ID: what comes
    // first is what followed the cursor, nothing before it.
    let resp = pair
        .b
        .http
        .get(format!("{}/api/rooms/r/events", pair.b.url))
        .header("last-event-id", &cursor)
        .send()
        .await
        .expect("sse");
    let mut sse = testkit::Subscriber::sse(resp);
    assert_eq!(testkit::texts(&sse.recv_n(2).await), ["three", "four"]);
    pair.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_of_a_killed_instance_fail_over_without_loss() {
    let mut pair = Pair::start().await;
    let mut cfg = small_config(&pair.targets(), Transport::Ws);
    cfg.clients = 40;
    cfg.publishers = 2;
    cfg.duration = Duration::from_secs(4);
    let run = Background::start(cfg);
    tokio::time::sleep(Duration::from_secs(2)).await;
    pair.a.shutdown().await;
    let results = run.finish(Duration::from_secs(60)).await;
    let c = &results.file.transports[0].counts;
    assert!(c.reconnects >= 20, "A's clients reconnected: {c:?}");
    assert_eq!(c.lost, 0, "failed over with their cursors: {c:?}");
    assert_eq!(c.delivered, c.expected, "{c:?}");
    assert!(c.published > 0);
    pair.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_restart_loses_nothing_acknowledged() {
    let mut redis = Redis::start();
    let mut a = instance(&redis).await;
    let mut cfg = small_config(&a.url, Transport::Ws);
    cfg.clients = 20;
    cfg.publishers = 1;
    cfg.duration = Duration::from_secs(5);
    cfg.drain = Duration::from_secs(8);
    let run = Background::start(cfg);
    tokio::time::sleep(Duration::from_secs(2)).await;
    redis.stop();
    // While Redis is down: publishes answer 503 with a JSON error.
    let r = reqwest::Client::new()
        .post(format!("{}/api/rooms/x/messages", a.url))
        .json(&serde_json::json!({"user": "u", "text": "t"}))
        .send()
        .await
        .expect("answer");
    assert_eq!(r.status(), 503);
    let body: serde_json::Value = r.json().await.expect("json");
    assert_eq!(body["code"], "broker_unavailable", "{body}");
    tokio::time::sleep(Duration::from_millis(700)).await;
    redis.spawn();
    let results = run.finish(Duration::from_secs(60)).await;
    let c = &results.file.transports[0].counts;
    assert_eq!(c.lost, 0, "everything acknowledged arrived: {c:?}");
    // A publish may be stored yet answered 503 (Redis stopping before its
    // reply went out, or answering after the instance's deadline): an
    // error to the publisher, delivered to every subscriber. The one
    // publisher has one publish in flight at a time: one such message at most.
    assert_eq!(c.delivered, c.expected + c.unexpected, "{c:?}");
    assert!(
        c.unexpected == 0 || c.unexpected == 20,
        "all or none: {c:?}"
    );
    assert!(
        c.publish_errors > 0,
        "publishes failed while Redis was down: {c:?}"
    );
    assert_eq!(c.reconnects, 0, "subscribers stayed connected: {c:?}");
    assert!(c.published > 0);
    a.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_without_its_redis_refuses_to_start() {
    let port = testkit::free_port();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let t0 = Instant::now();
    let err = server::run(
        listener,
        server::Config {
            broker: Some(format!("redis://127.0.0.1:{port}")),
            ..server::Config::default()
        },
        CancellationToken::new(),
    )
    .await
    .expect_err("no Redis there");
    assert!(t0.elapsed() < Duration::from_secs(5));
    let msg = err.to_string();
    assert!(
        msg.contains("Redis") && msg.contains("--broker memory"),
        "{msg}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cursor_older_than_local_history_is_read_from_redis() {
    let redis = Redis::start();
    let mut a = instance(&redis).await;
    // B keeps only 5 messages per room in memory; Redis keeps what A asked for.
    let mut b = TestServer::with(server::Config {
        broker: Some(redis.url()),
        history: 5,
        ..server::Config::default()
    })
    .await;
    for i in 1..=20 {
        a.publish("old", "u", &format!("m{i}")).await;
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let r = b.get("/api/rooms/old/messages?since=2").await;
        let v: serde_json::Value = r.json().await.expect("json");
        let texts: Vec<&str> = v["messages"]
            .as_array()
            .expect("messages")
            .iter()
            .filter_map(|m| m["text"].as_str())
            .collect();
        if texts.len() == 18 {
            let want: Vec<String> = (3..=20).map(|i| format!("m{i}")).collect();
            assert_eq!(texts, want);
            assert_eq!(
                v["gap"],
                serde_json::Value::Null,
                "no gap: Redis still had them: {v}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "{v}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    a.shutdown().await;
    b.shutdown().await;
}

/// Presence is shared: a user on instance A and a user on instance B both
/// appear in the user list every instance publishes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_lists_users_of_every_instance() {
    use futures_util::StreamExt;
    let mut pair = Pair::start().await;
    let mut alice = testkit::ws_connect(pair.a.addr, "/api/rooms/lobby/ws?user=alice").await;
    let _bob = testkit::ws_connect(pair.b.addr, "/api/rooms/lobby/ws?user=bob").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let frame = tokio::time::timeout_at(deadline.into(), alice.next())
            .await
            .expect("a presence list with both users in time")
            .expect("open")
            .expect("frame");
        let Ok(text) = frame.to_text() else { continue };
        let v: serde_json::Value = serde_json::from_str(text).expect("json");
        if v["kind"] == "presence" {
            let users: Vec<&str> = v["users"]
                .as_array()
                .expect("users")
                .iter()
                .filter_map(|u| u.as_str())
                .collect();
            if users == ["alice", "bob"] {
                break;
            }
        }
    }
    pair.shutdown().await;
}

/// A Redis that hangs (stopped: connects succeed, nothing is answered):
/// every publish gets its 503 within the instance's 2 s deadline, also
/// those that queue up behind a reconnect, and once Redis answers again
/// publishes are accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_redis_fails_each_publish_within_the_deadline() {
    let redis = Redis::start();
    let mut a = instance(&redis).await;
    a.publish("h", "u", "before").await;
    let http = reqwest::Client::new();
    let publish = |text: String| {
        let req = http
            .post(format!("{}/api/rooms/h/messages", a.url))
            .json(&serde_json::json!({"user": "u", "text": text}));
        async move {
            let t0 = Instant::now();
            let r = req.send().await.expect("an answer");
            (r.status().as_u16(), t0.elapsed())
        }
    };
    redis.signal(libc::SIGSTOP);
    // The first one times out on the open connection; the next ones meet a
    // reconnect that never completes.
    let first = publish("hung".into()).await;
    let queued =
        futures_util::future::join_all((0..4).map(|i| publish(format!("queued {i}")))).await;
    redis.signal(libc::SIGCONT);
    for (status, took) in std::iter::once(first).chain(queued) {
        assert_eq!(status, 503);
        assert!(took < Duration::from_secs(5), "answered after {took:?}");
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while publish("after".into()).await.0 != 201 {
        assert!(Instant::now() < deadline, "publishes accepted again");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    a.shutdown().await;
}
