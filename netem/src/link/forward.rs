//! The forwarding thread of one direction: reads IP packets from one TUN device,
//! decides their fate, holds them until due and writes them to the other device.
//! Each client flow has its own rate and queue, so packets fall due out of arrival
//! order: they wait in a heap keyed by due time (ties leave in arrival order).
//!
//! Precision: the thread sleeps in `ppoll` with a nanosecond timeout and a 1 ns
//! timer slack (the default slack of 50 µs would add up to that much to every
//! wake-up), and runs in the lowest real-time class when permitted, so a held
//! packet leaves within microseconds of its due time even on a busy machine.
//! Buffers come from a pool that grows to the peak number of packets in flight and
//! is then reused: no allocation per packet.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use nix::poll::{PollFd, PollFlags, ppoll};
use nix::sys::eventfd::EventFd;
use nix::sys::time::TimeSpec;
use nix::time::{ClockId, clock_gettime};

use super::Shared;
use crate::Direction;
use crate::middlebox::flow_of;
use crate::shaper::{Shaper, Verdict};

/// Larger than the devices' MTU.
const BUFFER: usize = 2048;
/// Packets read per wake-up before releasing due ones again.
const BATCH: usize = 64;
/// Bound on packets held per direction (64 K × 2 KiB = 128 MiB at most, allocated
/// only if that many are ever in flight); beyond it packets count as queue drops.
const MAX_HELD: usize = 1 << 16;
/// Cap on one write's cost in the running average used to pace reading.
const MAX_WRITE_COST_NS: u64 = 100_000;
/// How stale the published CPU time may get while the thread is busy or idle.
const CPU_REFRESH_NS: u64 = 10_000_000;

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Held {
    due: u64,
    /// Arrival order: equal due times leave in the order they came.
    seq: u64,
    arrived: u64,
    slot: u32,
    len: u16,
}

pub(crate) struct Forwarder {
    direction: Direction,
    input: Arc<File>,
    output: Arc<File>,
    wake: Arc<EventFd>,
    shared: Arc<Shared>,
    shaper: Shaper,
    pool: Vec<Box<[u8]>>,
    free: Vec<u32>,
    held: BinaryHeap<Reverse<Held>>,
    seq: u64,
    /// Running average of the wall time one write takes (the receiving side's
    /// network stack runs in this thread), preemptions included.
    write_cost_ns: u64,
    /// The latest due time among the held packets.
    latest_due: u64,
}

impl Forwarder {
    pub(crate) fn new(
        direction: Direction,
        (input, output): (Arc<File>, Arc<File>),
        wake: Arc<EventFd>,
        shared: Arc<Shared>,
        shaper: Shaper,
    ) -> Self {
        Forwarder {
            direction,
            input,
            output,
            wake,
            shared,
            shaper,
            pool: Vec::new(),
            free: Vec::new(),
            held: BinaryHeap::new(),
            seq: 0,
            write_cost_ns: 5_000,
            latest_due: 0,
        }
    }

    pub(crate) fn run(mut self) {
        // Without this, every timed wake-up may come up to 50 µs late.
        let _ = nix::sys::prctl::set_timerslack(1);
        // Best effort: a network element should not wait behind the applications
        // it serves. Without the privilege the thread stays an ordinary one.
        let _ = crate::sys::make_realtime();
        let mut cpu_published = 0;
        while !self.shared.stop.load(Relaxed) {
            self.release(self.shared.now());
            let read = if self.saturated() {
                0
            } else {
                self.read_batch()
            };
            let now = self.shared.now();
            if now.saturating_sub(cpu_published) >= CPU_REFRESH_NS {
                self.publish_cpu();
                cpu_published = now;
            }
            if read == 0 {
                self.wait();
            }
        }
        self.publish_cpu();
    }

    fn counters(&self) -> &super::Counters {
        self.shared.counters(self.direction)
    }

    fn publish_cpu(&self) {
        if let Ok(cpu) = clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID) {
            let ns = Duration::from(cpu).as_nanos();
            self.counters()
                .cpu_ns
                .store(u64::try_from(ns).unwrap_or(u64::MAX), Relaxed);
        }
    }

    /// True when writing the packets already held would take longer than the time
    /// until the last of them falls due: reading more would only make them late.
    /// Reading resumes as writes catch up; meanwhile arrivals wait in the device's
    /// queue, as at a real interface.
    fn saturated(&self) -> bool {
        let backlog = (self.held.len() as u64).saturating_mul(self.write_cost_ns);
        !self.held.is_empty() && backlog > self.latest_due.saturating_sub(self.shared.now())
    }

    /// Sleeps until a packet arrives (unless saturated), the next held one is due,
    /// or the link stops.
    fn wait(&self) {
        let until_due = self
            .held
            .peek()
            .map(|Reverse(h)| h.due.saturating_sub(self.shared.now()));
        if until_due == Some(0) {
            return;
        }
        let timeout = until_due.unwrap_or(CPU_REFRESH_NS).min(CPU_REFRESH_NS);
        let input = if self.saturated() {
            PollFlags::empty()
        } else {
            PollFlags::POLLIN
        };
        let mut fds = [
            PollFd::new(self.input.as_fd(), input),
            PollFd::new(self.wake.as_fd(), PollFlags::POLLIN),
        ];
        let _ = ppoll(
            &mut fds,
            Some(TimeSpec::from_duration(Duration::from_nanos(timeout))),
            None,
        );
    }

    fn take_slot(&mut self) -> Option<u32> {
        if let Some(slot) = self.free.pop() {
            return Some(slot);
        }
        if self.pool.len() >= MAX_HELD {
            return None;
        }
        self.pool.push(vec![0u8; BUFFER].into_boxed_slice());
        u32::try_from(self.pool.len() - 1).ok()
    }

    /// Reads what the input device has (up to a batch); returns how many packets.
    /// Stops early when a held packet falls due: departures come first, so when
    /// more arrives than the thread can carry the excess waits (and overflows) in
    /// the device's queue, as at a real interface, instead of delaying every
    /// packet already accepted.
    fn read_batch(&mut self) -> usize {
        let mut scratch = [0u8; BUFFER];
        for count in 0..BATCH {
            let now = self.shared.now();
            let due = self
                .held
                .peek()
                .is_some_and(|Reverse(head)| head.due <= now);
            if due || self.saturated() {
                return count.max(1);
            }
            let slot = self.take_slot();
            let buffer = match slot {
                Some(slot) => &mut self.pool[slot as usize][..],
                None => &mut scratch[..],
            };
            match (&*self.input).read(buffer) {
                Ok(len) => match slot {
                    Some(slot) => self.admit(slot, len),
                    None => {
                        self.counters().dropped_queue.fetch_add(1, Relaxed);
                    }
                },
                Err(e) => {
                    self.free.extend(slot);
                    if e.kind() != io::ErrorKind::Interrupted {
                        return count;
                    }
                }
            }
        }
        BATCH
    }

    fn admit(&mut self, slot: u32, len: usize) {
        let now = self.shared.now();
        let counters = self.shared.counters(self.direction);
        let flow = flow_of(&self.pool[slot as usize][..len]);
        let dropped = if self.shared.partition.load(Relaxed) {
            Some(&counters.dropped_partition)
        } else if !self.shared.middlebox_admits(now, flow, self.direction) {
            Some(&counters.dropped_middlebox)
        } else {
            // Packets that are no TCP or UDP flow share one queue.
            match self.shaper.admit(now, len, flow.map_or(0, |f| f.key)) {
                Verdict::Lost => Some(&counters.dropped_loss),
                Verdict::QueueFull => Some(&counters.dropped_queue),
                Verdict::Forward(due) if due <= now && self.held.is_empty() => {
                    self.write(slot, len, now, now);
                    None
                }
                Verdict::Forward(due) => {
                    self.seq += 1;
                    let len = u16::try_from(len).unwrap_or(u16::MAX);
                    let held = Held {
                        due,
                        seq: self.seq,
                        arrived: now,
                        slot,
                        len,
                    };
                    self.held.push(Reverse(held));
                    self.latest_due = self.latest_due.max(due);
                    return;
                }
            }
        };
        if let Some(counter) = dropped {
            counter.fetch_add(1, Relaxed);
        }
        self.free.push(slot);
    }

    /// Writes out every held packet that is due.
    fn release(&mut self, now: u64) {
        while let Some(Reverse(head)) = self.held.peek() {
            if head.due > now {
                break;
            }
            let (slot, len, due, arrived) =
                (head.slot, usize::from(head.len), head.due, head.arrived);
            self.held.pop();
            if self.shared.partition.load(Relaxed) {
                // In flight when the partition began: lost with it.
                let counters = self.shared.counters(self.direction);
                counters.dropped_partition.fetch_add(1, Relaxed);
            } else {
                self.write(slot, len, due, arrived);
            }
            self.free.push(slot);
        }
    }

    fn write(&mut self, slot: u32, len: usize, due: u64, arrived: u64) {
        let counters = self.shared.counters(self.direction);
        // Lateness and holding time end when the packet is handed over, not when the
        // receiving side's network stack is done with it.
        let now = self.shared.now();
        // A TUN device takes a whole packet per write, or nothing.
        match (&*self.output).write(&self.pool[slot as usize][..len]) {
            Ok(written) => {
                counters.packets.fetch_add(1, Relaxed);
                counters.bytes.fetch_add(written as u64, Relaxed);
                counters
                    .held_ns
                    .fetch_add(now.saturating_sub(arrived), Relaxed);
                let late = now.saturating_sub(due);
                counters.late_ns.fetch_add(late, Relaxed);
                counters.late_max_ns.fetch_max(late, Relaxed);
            }
            Err(_) => {
                counters.write_errors.fetch_add(1, Relaxed);
            }
        }
        // A write that took longer was preempted: count it as a slow write, not as
        // a stall that would stop reading for many packets' time.
        let cost = self.shared.now().saturating_sub(now).min(MAX_WRITE_COST_NS);
        self.write_cost_ns = (self.write_cost_ns * 7 + cost) / 8;
    }
}
