//! A network partition between two server instances and their Redis: a
//! netem link with `redis-server` on its server side and both instances on
//! its client side, so only the instances' Redis connections cross the
//! link; the load generator's clients reach the instances inside the client
//! side. While the load runs the link drops every packet for 10 s, then
//! heals. Needs root or CAP_NET_ADMIN (CI runs as root).

use netem::{CLIENT_ADDR, Link, Netns, SERVER_ADDR};
use protocol::Transport;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use testkit::load::{Background, small_config};
use tokio_util::sync::CancellationToken;

/// A fresh namespace: nothing else listens there.
const REDIS_PORT: u16 = 6379;
const CUT: Duration = Duration::from_secs(10);
const ROOM: &str = "part0";

/// `redis-server` on the link's server side, killed when dropped.
struct Redis(Child);

impl Redis {
    fn start(side: &Netns) -> Redis {
        let mut cmd = Command::new("redis-server");
        cmd.args(["--bind", &SERVER_ADDR.to_string()])
            .args(["--port", &REDIS_PORT.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            // Not loopback: protected mode would refuse the instances.
            .args(["--protected-mode", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let redis = Redis(side.spawn(&mut cmd).expect(
            "redis-server must be installed (scripts/test.sh installs Debian's redis-server)",
        ));
        let addr = SocketAddr::from((SERVER_ADDR, REDIS_PORT));
        let deadline = Instant::now() + Duration::from_secs(10);
        while side
            .run(|| TcpStream::connect_timeout(&addr, Duration::from_millis(200)))
            .expect("enter the server side")
            .is_err()
        {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        redis
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A server instance on its own thread, inside the client side for its
/// whole life (every socket it creates, Redis's included, lives there).
struct Instance {
    addr: SocketAddr,
    token: CancellationToken,
    done: mpsc::Receiver<()>,
}

impl Instance {
    fn start(side: &Netns) -> Instance {
        let token = CancellationToken::new();
        let (addr_tx, addr_rx) = mpsc::channel();
        let (done_tx, done) = mpsc::channel();
        let (side, t) = (side.clone(), token.clone());
        std::thread::spawn(move || {
            let entered = side.run(|| serve(t, addr_tx));
            if let Err(e) = entered {
                eprintln!("could not enter the client side: {e}");
            }
            let _ = done_tx.send(());
        });
        let addr = addr_rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the instance started")
            .expect("the instance reached Redis and listens");
        Instance { addr, token, done }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// Runs an instance on a current-thread runtime until `token`; sends its
/// address once it is ready to serve (or why it is not).
fn serve(token: CancellationToken, ready: mpsc::Sender<Result<SocketAddr, String>>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let config = server::Config {
            broker: Some(format!("redis://{SERVER_ADDR}:{REDIS_PORT}")),
            ..server::Config::default()
        };
        let (tcp, udp) = server::bind_std((CLIENT_ADDR, 0).into()).expect("bind");
        let addr = tcp.local_addr().expect("addr");
        let listeners = server::Listeners::from_std(tcp, udp).expect("listeners");
        let started = match server::start(listeners, config, token).await {
            Ok(s) => s,
            Err(e) => {
                let _ = ready.send(Err(e.to_string()));
                return;
            }
        };
        let _ = ready.send(Ok(addr));
        if let Err(e) = started.serve().await {
            eprintln!("instance stopped: {e}");
        }
    });
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.token.cancel();
        let _ = self.done.recv_timeout(Duration::from_secs(15));
    }
}

/// The link, Redis and two instances, torn down in that order reversed.
struct Setup {
    a: Instance,
    b: Instance,
    _redis: Redis,
    link: Link,
}

impl Setup {
    fn start() -> Setup {
        let spec: netem::NetworkSpec = "rtt=2ms".parse().expect("spec");
        let link =
            Link::start_seeded(&spec, 42).expect("start the link (needs root or CAP_NET_ADMIN)");
        let redis = Redis::start(link.server());
        Setup {
            a: Instance::start(link.client()),
            b: Instance::start(link.client()),
            _redis: redis,
            link,
        }
    }
}

/// One answer to a raw HTTP/1.1 request.
#[derive(Debug)]
struct Answer {
    status: u16,
    head: String,
    body: String,
    took: Duration,
}

/// One request from the client side (a fresh connection, closed after),
/// on the blocking pool; `None` when no answer came within `limit`.
async fn http(
    side: &Netns,
    addr: SocketAddr,
    method: &'static str,
    path: String,
    body: String,
    limit: Duration,
) -> Option<Answer> {
    let side = side.clone();
    let exchange = move || -> std::io::Result<Answer> {
        let t0 = Instant::now();
        let mut s = side.run(|| TcpStream::connect_timeout(&addr, limit))??;
        s.set_read_timeout(Some(limit))?;
        let req = format!(
            "{method} {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        s.write_all(req.as_bytes())?;
        let mut raw = Vec::new();
        s.read_to_end(&mut raw)?;
        let text = String::from_utf8_lossy(&raw).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        Ok(Answer {
            status,
            head: head.to_ascii_lowercase(),
            body: body.to_string(),
            took: t0.elapsed(),
        })
    };
    tokio::task::spawn_blocking(exchange)
        .await
        .expect("request thread")
        .ok()
}

async fn publish(side: &Netns, addr: SocketAddr, text: &str, limit: Duration) -> Option<Answer> {
    let body = serde_json::json!({"user": "probe", "text": text}).to_string();
    let path = format!("/api/rooms/{ROOM}/messages");
    http(side, addr, "POST", path, body, limit).await
}

/// Publishes through the instance have reached Redis `n` times.
async fn publishes_total(side: &Netns, addr: SocketAddr) -> u64 {
    let limit = Duration::from_secs(5);
    let Some(a) = http(side, addr, "GET", "/api/stats".into(), String::new(), limit).await else {
        return 0;
    };
    let v: serde_json::Value = serde_json::from_str(&a.body).unwrap_or_default();
    v["publishes_total"].as_u64().unwrap_or(0)
}

/// Whether a message with `text` is in the room's history on the instance.
async fn visible(side: &Netns, addr: SocketAddr, text: &str) -> bool {
    let path = format!("/api/rooms/{ROOM}/messages?since=0");
    let limit = Duration::from_secs(5);
    let Some(a) = http(side, addr, "GET", path, String::new(), limit).await else {
        return false;
    };
    let v: serde_json::Value = serde_json::from_str(&a.body).unwrap_or_default();
    v["messages"]
        .as_array()
        .is_some_and(|m| m.iter().any(|m| m["text"] == text))
}

/// A publish through `addr` during the cut: 503 `broker_unavailable` with
/// a Retry-After, well before the cut ends.
async fn refused_in_time(side: &Netns, addr: SocketAddr, when: impl std::fmt::Display) {
    let probe = publish(
        side,
        addr,
        &format!("refused {when}"),
        Duration::from_secs(9),
    )
    .await
    .expect("an answer during the cut");
    eprintln!("publish {when}: {} in {:?}", probe.status, probe.took);
    assert_eq!(probe.status, 503, "{probe:?}");
    let body: serde_json::Value = serde_json::from_str(&probe.body).expect("JSON error");
    assert_eq!(body["code"], "broker_unavailable", "{body}");
    assert!(probe.head.contains("\r\nretry-after: "), "{}", probe.head);
    // The instance's command timeout is 2 s; the rest is slack for a busy
    // machine. Requests queued behind a reconnect must not add up.
    assert!(probe.took < Duration::from_secs(5), "{probe:?}");
}

/// Cuts the link for [`CUT`] and checks that publishes are refused in
/// time meanwhile: at the start on A, then midway on B, where the instance
/// has been reconnecting for a while. Returns when the link healed.
async fn cut(setup: &Setup) -> Instant {
    let client = setup.link.client();
    setup.link.set_partition(true);
    let cut_at = Instant::now();
    refused_in_time(client, setup.a.addr, "at the cut").await;
    tokio::time::sleep((CUT / 2).saturating_sub(cut_at.elapsed())).await;
    let midway = (0..4).map(|i| refused_in_time(client, setup.b.addr, format!("midway {i}")));
    futures_util::future::join_all(midway).await;
    tokio::time::sleep(CUT.saturating_sub(cut_at.elapsed())).await;
    setup.link.set_partition(false);
    Instant::now()
}

/// From the heal: the first publish A accepts, then its marker visible on
/// B (both fan-ins and A's commands are back).
async fn recovery(
    client: &Netns,
    a: SocketAddr,
    b: SocketAddr,
    healed: Instant,
) -> (Duration, Duration) {
    let marker = format!("after the heal {}", std::process::id());
    let deadline = healed + Duration::from_secs(20);
    loop {
        let r = publish(client, a, &marker, Duration::from_secs(5)).await;
        if r.is_some_and(|r| r.status == 201) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no publish accepted after the heal"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let first_accept = healed.elapsed();
    while !visible(client, b, &marker).await {
        assert!(Instant::now() < deadline, "the marker never reached B");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (first_accept, healed.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_from_redis_loses_nothing_acknowledged() {
    let setup = Setup::start();
    let client = setup.link.client().clone();
    let (a, b) = (setup.a.addr, setup.b.addr);
    let mut cfg = small_config(
        &format!("{},{}", setup.a.url(), setup.b.url()),
        Transport::Ws,
    );
    cfg.clients = 20;
    cfg.publishers = 2;
    cfg.rate_per_sec = 20.0;
    cfg.room_prefix = Some("part".into());
    cfg.warmup = Duration::from_secs(1);
    cfg.duration = Duration::from_secs(22);
    cfg.drain = Duration::from_secs(10);
    cfg.client_ns = Some(client.clone());
    let run = Background::start(cfg);

    // The load flows through both instances (past the warmup) before the cut.
    let deadline = Instant::now() + Duration::from_secs(20);
    while publishes_total(&client, a).await + publishes_total(&client, b).await < 60 {
        assert!(Instant::now() < deadline, "the load did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let healed = cut(&setup).await;
    let (first_accept, converged) = recovery(&client, a, b, healed).await;

    let results = run.finish(Duration::from_secs(90)).await;
    let c = &results.file.transports[0].counts;
    let subscribers = 20;
    let unacked_delivered = c.unexpected / subscribers;
    eprintln!(
        "partition from Redis, {CUT:?}: acknowledged {} publishes, delivered {} of {} expected \
         (subscriber receipts), lost {}, unacknowledged-but-delivered {} messages ({} receipts), \
         publish errors {}, heal → first accepted publish {first_accept:?}, \
         heal → marker visible on the other instance {converged:?}",
        c.published,
        c.delivered,
        c.expected,
        c.lost,
        unacked_delivered,
        c.unexpected,
        c.publish_errors,
    );
    // The publishes refused during the cut were never stored: of the
    // probes, the subscribers saw only the marker.
    assert_eq!(c.foreign, subscribers, "{c:?}");
    assert_eq!(c.lost, 0, "everything acknowledged arrived: {c:?}");
    assert_eq!((c.duplicate, c.reordered), (0, 0), "{c:?}");
    assert!(
        c.publish_errors > 0,
        "publishes failed during the cut: {c:?}"
    );
    assert_eq!(c.reconnects, 0, "subscribers stayed connected: {c:?}");
    // A publish whose script ran just before the cut but whose reply was
    // lost is an error to its publisher, yet stored: every subscriber gets
    // it. Each publisher has one publish in flight at a time, so there are
    // at most as many such messages as publishers, each one a counted error.
    assert_eq!(c.unexpected % subscribers, 0, "all or none: {c:?}");
    assert!(unacked_delivered <= 2, "{c:?}");
    assert!(unacked_delivered <= c.publish_errors, "{c:?}");
    assert_eq!(c.delivered, c.expected + c.unexpected, "{c:?}");
    assert!(c.published > 0);
}
