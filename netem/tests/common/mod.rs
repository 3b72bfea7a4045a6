//! Helpers shared by the link tests: every test makes its own link (its own
//! namespaces) and talks only between 198.18.0.1 and 198.18.0.2.
#![allow(dead_code)]

use std::fs::File;
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use netem::{Link, NetworkSpec};
use nix::sys::socket::{setsockopt, sockopt};

pub fn spec(text: &str) -> NetworkSpec {
    text.parse().expect(text)
}

pub fn start(text: &str) -> Link {
    Link::start_seeded(&spec(text), 42).expect("start the link (needs root or CAP_NET_ADMIN)")
}

/// Serializes the timing-sensitive tests (in this process and in others, as under
/// nextest): two links shaping at once on a small machine would measure each other.
pub fn timing_lock() -> File {
    let path = std::env::temp_dir().join("rtbench-netem-timing.lock");
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .expect("lock file");
    file.lock().expect("lock");
    file
}

/// Closes with a RST so that no orphaned socket keeps retrying (and keeps the
/// namespace alive) after the test.
pub fn close_abruptly(stream: TcpStream) {
    let _ = setsockopt(
        &stream.as_fd(),
        sockopt::Linger,
        &nix::libc::linger {
            l_onoff: 1,
            l_linger: 0,
        },
    );
    drop(stream);
}

pub fn listen(link: &Link) -> (TcpListener, SocketAddr) {
    let listener = link
        .server()
        .run(|| TcpListener::bind((link.server_addr(), 0)))
        .expect("enter")
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    (listener, addr)
}

pub fn connect(link: &Link, addr: SocketAddr) -> TcpStream {
    link.client()
        .run(|| TcpStream::connect_timeout(&addr, Duration::from_secs(5)))
        .expect("enter")
        .expect("connect")
}

pub fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

/// A UDP receiver in the server namespace that records the sequence numbers it gets.
pub struct Receiver {
    pub addr: SocketAddr,
    pub received: Arc<AtomicU64>,
    thread: JoinHandle<Vec<u64>>,
}

impl Receiver {
    pub fn start(link: &Link, expected: u64) -> Receiver {
        let socket = link
            .server()
            .run(|| UdpSocket::bind((link.server_addr(), 0)))
            .expect("enter")
            .expect("bind");
        let _ = setsockopt(&socket.as_fd(), sockopt::RcvBuf, &(8 << 20));
        socket
            .set_read_timeout(Some(Duration::from_millis(500)))
            .expect("timeout");
        let addr = socket.local_addr().expect("addr");
        let received = Arc::new(AtomicU64::new(0));
        let count = received.clone();
        let thread = std::thread::spawn(move || {
            let mut seqs = Vec::with_capacity(expected as usize);
            let mut buf = [0u8; 2048];
            while (seqs.len() as u64) < expected {
                let Ok(len) = socket.recv(&mut buf) else {
                    break;
                };
                let seq = u64::from_be_bytes(buf[..8].try_into().expect("8 bytes"));
                assert!(len >= 8);
                seqs.push(seq);
                count.fetch_add(1, Relaxed);
            }
            seqs
        });
        Receiver {
            addr,
            received,
            thread,
        }
    }

    pub fn finish(self) -> Vec<u64> {
        self.thread.join().expect("receiver")
    }
}

/// Sends `count` numbered datagrams client → server, never more than a few hundred
/// ahead of what the link and the receiver have dealt with, so that every missing
/// datagram is one the link dropped (not one a full socket buffer or device queue lost).
pub fn send_numbered(link: &Link, receiver: &Receiver, count: u64, size: usize, gap: Duration) {
    let socket = link
        .client()
        .run(|| UdpSocket::bind((link.client_addr(), 0)))
        .expect("enter")
        .expect("bind");
    socket.connect(receiver.addr).expect("connect");
    let mut payload = vec![0u8; size.max(8)];
    let started = Instant::now();
    for seq in 0..count {
        payload[..8].copy_from_slice(&seq.to_be_bytes());
        socket.send(&payload).expect("send");
        if !gap.is_zero() {
            let due = started + gap * (seq as u32 + 1);
            while Instant::now() < due {
                std::hint::spin_loop();
            }
        }
        if seq % 64 == 63 {
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                let up = link.stats().up;
                let handled = receiver.received.load(Relaxed) + up.dropped();
                if handled + 256 > seq {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "the link stopped forwarding: {up:?}"
                );
                std::thread::sleep(Duration::from_micros(50));
            }
        }
    }
}
