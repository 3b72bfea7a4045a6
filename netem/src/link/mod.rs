//! The link: two anonymous network namespaces joined by TUN devices and one
//! forwarding thread per direction.

mod forward;
mod netns;
mod setup;

use std::net::Ipv4Addr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nix::sys::eventfd::{EfdFlags, EventFd};

pub use netns::Netns;

use crate::middlebox::{Flow, FlowTable, MAX_FLOWS};
use crate::shaper::Shaper;
use crate::{Direction, NetemError, NetworkSpec};
use forward::Forwarder;
use setup::SideConfig;

/// The client side's address, from 198.18.0.0/15, the range RFC 2544 reserves
/// for benchmarking: the same for every link.
pub const CLIENT_ADDR: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
/// The server side's address (see [`CLIENT_ADDR`]).
pub const SERVER_ADDR: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);

/// Counters of one direction, shared between its thread and [`Link::stats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    packets: AtomicU64,
    bytes: AtomicU64,
    dropped_loss: AtomicU64,
    dropped_queue: AtomicU64,
    dropped_middlebox: AtomicU64,
    dropped_partition: AtomicU64,
    write_errors: AtomicU64,
    cpu_ns: AtomicU64,
    held_ns: AtomicU64,
    late_ns: AtomicU64,
    late_max_ns: AtomicU64,
}

/// What one direction did so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DirectionStats {
    /// Packets and IP bytes written out to the receiving side.
    pub packets: u64,
    pub bytes: u64,
    pub dropped_loss: u64,
    /// Drop-tail drops (and packets beyond the link's bound on packets in flight).
    pub dropped_queue: u64,
    pub dropped_middlebox: u64,
    pub dropped_partition: u64,
    /// Writes the receiving device refused (none while both sides exist).
    pub write_errors: u64,
    /// CPU time of this direction's forwarding thread (refreshed every 10 ms).
    pub cpu: Duration,
    /// Sum over forwarded packets of the time the link held them (arrival to write).
    pub held: Duration,
    /// Sum and maximum of how late packets were written after their due time.
    pub lateness: Duration,
    pub lateness_max: Duration,
}

impl DirectionStats {
    pub fn dropped(&self) -> u64 {
        self.dropped_loss + self.dropped_queue + self.dropped_middlebox + self.dropped_partition
    }

    pub fn mean_held(&self) -> Duration {
        per_packet(self.held, self.packets)
    }

    pub fn mean_lateness(&self) -> Duration {
        per_packet(self.lateness, self.packets)
    }
}

fn per_packet(total: Duration, packets: u64) -> Duration {
    let nanos = total.as_nanos() / u128::from(packets.max(1));
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LinkStats {
    /// Client → server.
    pub up: DirectionStats,
    /// Server → client.
    pub down: DirectionStats,
}

impl Counters {
    fn snapshot(&self) -> DirectionStats {
        let ns = |counter: &AtomicU64| Duration::from_nanos(counter.load(Relaxed));
        DirectionStats {
            packets: self.packets.load(Relaxed),
            bytes: self.bytes.load(Relaxed),
            dropped_loss: self.dropped_loss.load(Relaxed),
            dropped_queue: self.dropped_queue.load(Relaxed),
            dropped_middlebox: self.dropped_middlebox.load(Relaxed),
            dropped_partition: self.dropped_partition.load(Relaxed),
            write_errors: self.write_errors.load(Relaxed),
            cpu: ns(&self.cpu_ns),
            held: ns(&self.held_ns),
            lateness: ns(&self.late_ns),
            lateness_max: ns(&self.late_max_ns),
        }
    }
}

/// State both forwarding threads and the [`Link`] handle see.
pub(crate) struct Shared {
    epoch: Instant,
    stop: AtomicBool,
    partition: AtomicBool,
    up: Counters,
    down: Counters,
    /// One table for both directions: a flow is alive if either side talks.
    middlebox: Option<Mutex<FlowTable>>,
}

impl Shared {
    /// Nanoseconds on the link's monotonic clock.
    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn counters(&self, direction: Direction) -> &Counters {
        match direction {
            Direction::Up => &self.up,
            Direction::Down => &self.down,
        }
    }

    fn middlebox_admits(&self, now: u64, flow: Option<Flow>, direction: Direction) -> bool {
        let Some(table) = &self.middlebox else {
            return true;
        };
        let mut table = table.lock().unwrap_or_else(PoisonError::into_inner);
        table.admit(now, flow, direction == Direction::Up)
    }
}

/// A running emulated link. Dropping it (or [`Link::stop`]) ends the threads and
/// removes the devices; the namespaces go away with the last descriptor or socket
/// that refers to them.
pub struct Link {
    spec: NetworkSpec,
    client: Netns,
    server: Netns,
    shared: Arc<Shared>,
    wake: Arc<EventFd>,
    threads: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link")
            .field("spec", &self.spec.to_string())
            .finish_non_exhaustive()
    }
}

impl Link {
    /// Creates the namespaces, devices and forwarding threads. Needs CAP_NET_ADMIN
    /// (root, or a user namespace); without it this fails before creating anything.
    pub fn start(spec: &NetworkSpec) -> Result<Link, NetemError> {
        let seed = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        Link::start_seeded(spec, seed)
    }

    /// As [`Link::start`], with the random decisions (loss, jitter) drawn from `seed`.
    pub fn start_seeded(spec: &NetworkSpec, seed: u64) -> Result<Link, NetemError> {
        let ip = setup::find_ip()?;
        setup::check_tun()?;
        let sysctls = setup::host_sysctls();
        let client_config = SideConfig {
            label: "client",
            device: "rtbc0",
            local: CLIENT_ADDR,
            peer: SERVER_ADDR,
        };
        let client = setup::create_side(&ip, client_config, &sysctls)?;
        let server_config = SideConfig {
            label: "server",
            device: "rtbs0",
            local: SERVER_ADDR,
            peer: CLIENT_ADDR,
        };
        let server = setup::create_side(&ip, server_config, &sysctls)?;
        setup::check_round_trip(&client.ns)?;
        let middlebox = spec.idle_timeout.map(|timeout| {
            let timeout = u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX);
            Mutex::new(FlowTable::new(timeout, MAX_FLOWS))
        });
        let shared = Arc::new(Shared {
            epoch: Instant::now(),
            stop: AtomicBool::new(false),
            partition: AtomicBool::new(false),
            up: Counters::default(),
            down: Counters::default(),
            middlebox,
        });
        let flags = EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK;
        let wake = Arc::new(EventFd::from_flags(flags).map_err(|e| NetemError::Io {
            what: "creating the stop event",
            source: e.into(),
        })?);
        let client_tun = Arc::new(client.tun);
        let server_tun = Arc::new(server.tun);
        let mut link = Link {
            spec: spec.clone(),
            client: Netns::new(client.ns, "client", CLIENT_ADDR),
            server: Netns::new(server.ns, "server", SERVER_ADDR),
            shared,
            wake,
            threads: Vec::new(),
        };
        for (direction, files, salt) in [
            (
                Direction::Up,
                (client_tun.clone(), server_tun.clone()),
                0x5EED_0001,
            ),
            (Direction::Down, (server_tun, client_tun), 0x5EED_0002),
        ] {
            let shaper = Shaper::new(&spec.direction(direction), seed ^ salt);
            let forwarder = Forwarder::new(
                direction,
                files,
                link.wake.clone(),
                link.shared.clone(),
                shaper,
            );
            let name = format!(
                "netem-{}",
                if direction == Direction::Up {
                    "up"
                } else {
                    "down"
                }
            );
            let thread = std::thread::Builder::new()
                .name(name)
                .spawn(move || forwarder.run())
                .map_err(NetemError::io("starting a forwarding thread"))?;
            link.threads.push(thread);
        }
        Ok(link)
    }

    pub fn spec(&self) -> &NetworkSpec {
        &self.spec
    }

    /// The client side: create the load generator's sockets (or spawn it) in here.
    pub fn client(&self) -> &Netns {
        &self.client
    }

    /// The server side: create the listening socket (or spawn the server) in here.
    pub fn server(&self) -> &Netns {
        &self.server
    }

    pub fn client_addr(&self) -> Ipv4Addr {
        CLIENT_ADDR
    }

    pub fn server_addr(&self) -> Ipv4Addr {
        SERVER_ADDR
    }

    /// While on, every packet in both directions is dropped (and counted), those
    /// already in flight included.
    pub fn set_partition(&self, on: bool) {
        self.shared.partition.store(on, Relaxed);
    }

    pub fn stats(&self) -> LinkStats {
        LinkStats {
            up: self.shared.up.snapshot(),
            down: self.shared.down.snapshot(),
        }
    }

    /// Ends the threads, removes the devices, and returns the final counters.
    pub fn stop(mut self) -> LinkStats {
        self.shutdown();
        self.stats()
    }

    fn shutdown(&mut self) {
        self.shared.stop.store(true, Relaxed);
        let _ = self.wake.write(1);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        self.shutdown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shareable<T: Send + Sync>() {}

    #[test]
    fn handles_can_be_shared_across_threads_and_tasks() {
        shareable::<Link>();
        shareable::<Netns>();
        shareable::<LinkStats>();
    }

    #[test]
    fn per_packet_means_do_not_truncate_the_count() {
        let stats = DirectionStats {
            packets: 5_000_000_000,
            held: Duration::from_secs(5_000_000),
            ..DirectionStats::default()
        };
        assert_eq!(stats.mean_held(), Duration::from_millis(1));
        assert_eq!(DirectionStats::default().mean_lateness(), Duration::ZERO);
    }
}
