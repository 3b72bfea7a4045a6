//! Runs over an emulated network: a netem link, rtbench's server on its
//! server side (in this process, bound inside the server namespace), and
//! configs whose sockets are created on its client side. Every test makes
//! its own link and talks only between the link's two addresses in
//! 198.18.0.0/15. Needs root or CAP_NET_ADMIN.

use loadgen::Config;
use protocol::Transport;
use std::fs::File;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// A link and the servers on its far side; the servers stop when dropped.
pub struct Net {
    pub link: netem::Link,
    servers: Vec<CancellationToken>,
}

impl Net {
    /// A link for `spec` (a preset or `key=value,…`), seeded so its losses
    /// repeat from run to run.
    pub fn start(spec: &str) -> Net {
        let spec: netem::NetworkSpec = spec.parse().expect("spec");
        let link = netem::Link::start_seeded(&spec, 42)
            .expect("start the link (needs root or CAP_NET_ADMIN)");
        Net {
            link,
            servers: Vec::new(),
        }
    }

    /// rtbench's server on the link's server side; its base URL.
    pub fn server(&mut self, config: server::Config) -> String {
        let (tcp, udp) = self
            .link
            .server()
            .run(|| server::bind_std((netem::SERVER_ADDR, 0).into()))
            .expect("enter the server side")
            .expect("bind");
        let url = format!("http://{}", tcp.local_addr().expect("addr"));
        let listeners = server::Listeners::from_std(tcp, udp).expect("tokio listeners");
        let token = CancellationToken::new();
        let t = token.clone();
        tokio::spawn(async move {
            if let Err(e) = server::run(listeners, config, t).await {
                eprintln!("server stopped: {e}");
            }
        });
        self.servers.push(token);
        url
    }

    /// A config for `transport` against `url` across the link.
    pub fn config(&self, url: &str, transport: Transport) -> Config {
        let mut c = isolated_messages(url, transport);
        c.network = Some(self.link.spec().clone());
        c.client_ns = Some(self.link.client().clone());
        c.server_ns = Some(self.link.server().clone());
        c
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for token in &self.servers {
            token.cancel();
        }
    }
}

/// A few clients, one publisher, isolated messages (every 500 ms), so each
/// delivery's latency is the path's and not a queue's.
pub fn isolated_messages(url: &str, transport: Transport) -> Config {
    Config {
        clients: 5,
        rooms: 1,
        publishers: 1,
        rate_per_sec: 2.0,
        duration: Duration::from_secs(4),
        warmup: Duration::from_secs(1),
        drain: Duration::from_secs(5),
        poll_interval: Duration::from_secs(1),
        long_poll_wait: Duration::from_secs(10),
        seed: 7,
        ..Config::new(url, transport).expect("config")
    }
}

/// Serializes the timing-sensitive tests, with netem's own (same lock
/// file): two links shaping at once would measure each other.
pub fn timing_lock() -> File {
    file_lock("rtbench-netem-timing.lock")
}

/// An exclusive lock on a file of that name in the temp dir, held until the
/// file is dropped: the tests run in separate processes.
pub fn file_lock(name: &str) -> File {
    let path = std::env::temp_dir().join(name);
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .expect("lock file");
    file.lock().expect("lock");
    file
}

/// Microseconds as milliseconds, for assertions written in ms.
pub fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}
