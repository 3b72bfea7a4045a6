//! Figures of the link itself: packets per second through it, the CPU its threads
//! use, and the latency it adds when it emulates nothing.
//!
//! `cargo run --release -p rtbench-netem --example linkperf` (as root). Numbers depend
//! on the machine and on what else runs on it; the run prints the core count.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::{Duration, Instant};

use netem::{Link, NetworkSpec};

const BLAST: Duration = Duration::from_secs(3);
const PINGS: usize = 5000;

fn main() {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!("linkperf: {cores} cores, UDP payload 64 bytes (92-byte IP packets)");
    for spec in ["none", "rtt=50ms"] {
        blast(spec);
    }
    tcp_bulk("none");
    latency();
}

fn start(spec: &str) -> Link {
    let spec: NetworkSpec = spec.parse().expect("spec");
    Link::start(&spec).expect("start the link (needs root)")
}

fn udp_socket(link: &Link, server: bool) -> UdpSocket {
    let (ns, addr) = if server {
        (link.server(), link.server_addr())
    } else {
        (link.client(), link.client_addr())
    };
    ns.run(|| UdpSocket::bind((addr, 0)))
        .expect("enter")
        .expect("bind")
}

/// One sender as fast as it can go, one receiver draining: the packets the link
/// forwards per second is its ceiling where it runs (the sender also competes for
/// the cores; datagrams the device queue could not hold never reach the link).
fn blast(spec: &str) {
    let link = start(spec);
    let receiver = udp_socket(&link, true);
    receiver
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let target = receiver.local_addr().expect("addr");
    let done = Arc::new(AtomicBool::new(false));
    let drain_done = done.clone();
    let drain = std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        let mut got = 0u64;
        while !drain_done.load(Relaxed) {
            if receiver.recv(&mut buf).is_ok() {
                got += 1;
            }
        }
        got
    });
    let sender = udp_socket(&link, false);
    sender.connect(target).expect("connect");
    let payload = [0u8; 64];
    // Warm up, then measure over BLAST.
    let warm = Instant::now();
    while warm.elapsed() < Duration::from_millis(300) {
        let _ = sender.send(&payload);
    }
    let (t0, s0) = (Instant::now(), link.stats());
    let mut sent = 0u64;
    while t0.elapsed() < BLAST {
        if sender.send(&payload).is_ok() {
            sent += 1;
        }
    }
    let (t1, s1) = (Instant::now(), link.stats());
    done.store(true, Relaxed);
    let received = drain.join().expect("drain");
    let secs = (t1 - t0).as_secs_f64();
    let packets = s1.up.packets - s0.up.packets;
    let cpu = (s1.up.cpu - s0.up.cpu).as_secs_f64();
    println!(
        "UDP blast, spec {spec:>9}: {:>7.0} packets/s forwarded ({:.0} sent/s), link thread CPU {:.0}% = {:.2} µs/packet; mean held {:?}; receiver got {received}",
        packets as f64 / secs,
        sent as f64 / secs,
        100.0 * cpu / secs,
        cpu * 1e6 / packets.max(1) as f64,
        s1.up.mean_held(),
    );
}

/// One TCP stream client → server for 3 s with nothing emulated.
fn tcp_bulk(spec: &str) {
    let link = start(spec);
    let listener = link
        .server()
        .run(|| TcpListener::bind((link.server_addr(), 0)))
        .expect("enter")
        .expect("bind");
    let addr: SocketAddr = listener.local_addr().expect("addr");
    let sink = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().expect("accept");
        let mut buf = vec![0u8; 256 * 1024];
        let mut total = 0u64;
        while let Ok(n @ 1..) = stream.read(&mut buf) {
            total += n as u64;
        }
        total
    });
    let mut stream = link
        .client()
        .run(|| TcpStream::connect(addr))
        .expect("enter")
        .expect("connect");
    let chunk = vec![1u8; 256 * 1024];
    let (t0, s0) = (Instant::now(), link.stats());
    while t0.elapsed() < BLAST {
        stream.write_all(&chunk).expect("write");
    }
    let s1 = link.stats();
    drop(stream);
    let total = sink.join().expect("sink");
    let secs = t0.elapsed().as_secs_f64();
    let cpu = (s1.up.cpu + s1.down.cpu - s0.up.cpu - s0.down.cpu).as_secs_f64();
    println!(
        "TCP bulk, spec {spec:>9}: {:.2} Gbit/s goodput, {:.0} packets/s up + {:.0} down, link CPU {:.0}% of a core",
        total as f64 * 8.0 / secs / 1e9,
        (s1.up.packets - s0.up.packets) as f64 / secs,
        (s1.down.packets - s0.down.packets) as f64 / secs,
        100.0 * cpu / secs,
    );
}

fn ping_pong(client: &UdpSocket, server: UdpSocket) -> Vec<Duration> {
    let echo = std::thread::spawn(move || {
        let mut buf = [0u8; 64];
        for _ in 0..PINGS + 100 {
            let (n, from) = server.recv_from(&mut buf).expect("recv");
            server.send_to(&buf[..n], from).expect("echo");
        }
    });
    let mut buf = [0u8; 64];
    let mut rtts = Vec::with_capacity(PINGS);
    for i in 0..PINGS + 100 {
        let started = Instant::now();
        client.send(&[7u8; 32]).expect("send");
        client.recv(&mut buf).expect("recv");
        if i >= 100 {
            rtts.push(started.elapsed());
        }
    }
    echo.join().expect("echo");
    rtts.sort();
    rtts
}

/// UDP ping-pong through a link that emulates nothing vs. the same over loopback:
/// the difference is what the link adds (two crossings, one per direction).
fn latency() {
    let loop_server = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let loop_client = UdpSocket::bind("127.0.0.1:0").expect("bind");
    loop_client
        .connect(loop_server.local_addr().expect("addr"))
        .expect("connect");
    let over_loopback = ping_pong(&loop_client, loop_server);

    let link = start("none");
    let server = udp_socket(&link, true);
    let client = udp_socket(&link, false);
    client
        .connect(server.local_addr().expect("addr"))
        .expect("connect");
    let over_link = ping_pong(&client, server);
    let stats = link.stop();

    let pct = |v: &[Duration], p: f64| v[((v.len() - 1) as f64 * p) as usize];
    for (name, v) in [("loopback", &over_loopback), ("link none", &over_link)] {
        println!(
            "UDP ping-pong RTT over {name:>9}: median {:?}, p90 {:?}, p99 {:?}",
            pct(v, 0.5),
            pct(v, 0.9),
            pct(v, 0.99)
        );
    }
    let added = pct(&over_link, 0.5).saturating_sub(pct(&over_loopback, 0.5));
    println!(
        "added median RTT {added:?} ({:?} per crossing); link mean lateness up {:?} down {:?}",
        added / 2,
        stats.up.mean_lateness(),
        stats.down.mean_lateness()
    );
}
