//! The idle-timeout middlebox: a NAT or proxy that forgets flows idle longer than
//! its timeout, after which their packets vanish silently (no RST, no ICMP).
//!
//! The client side is "inside", as behind a home or carrier NAT: a TCP flow starts
//! with a SYN from the client, a UDP flow with any client packet. A packet of a
//! flow the table does not know (never seen, or forgotten) is dropped in either
//! direction, unless it starts a new flow. Unlike a real NAT the addresses are not
//! rewritten, so a UDP flow that the client resumes after the timeout reuses the
//! same 5-tuple instead of getting a new public port.

use std::collections::HashMap;

/// Bound on the table (a real NAT's table is bounded too); when it is full and no
/// flow has expired, new flows are refused.
pub(crate) const MAX_FLOWS: usize = 1 << 18;

const TCP: u8 = 6;
const UDP: u8 = 17;

/// A packet's TCP or UDP flow, as the middlebox and the per-client shaping see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Flow {
    /// Both endpoints in a canonical order and the protocol: the same in both
    /// directions. The client side is always 198.18.0.1, so this is the client
    /// port's flow.
    pub(crate) key: u128,
    /// Whether a client packet of this kind may start the flow.
    opens: bool,
}

/// Reads the 5-tuple of an IPv4 TCP or UDP packet; `None` for anything else
/// (other protocols, non-first fragments, IPv6), which the middlebox lets through.
pub(crate) fn flow_of(packet: &[u8]) -> Option<Flow> {
    let first = *packet.first()?;
    if first >> 4 != 4 {
        return None;
    }
    let ihl = usize::from(first & 0x0f) * 4;
    let proto = *packet.get(9)?;
    let fragment_offset = u16::from_be_bytes([*packet.get(6)?, *packet.get(7)?]) & 0x1fff;
    if ihl < 20 || fragment_offset != 0 || !(proto == TCP || proto == UDP) {
        return None;
    }
    let addr = |at: usize| -> Option<u64> {
        Some(u64::from(u32::from_be_bytes(
            packet.get(at..at + 4)?.try_into().ok()?,
        )))
    };
    let port = |at: usize| -> Option<u64> {
        Some(u64::from(u16::from_be_bytes(
            packet.get(at..at + 2)?.try_into().ok()?,
        )))
    };
    let src = addr(12)? << 16 | port(ihl)?;
    let dst = addr(16)? << 16 | port(ihl + 2)?;
    let (lo, hi) = (src.min(dst), src.max(dst));
    let key = u128::from(lo) << 64 | u128::from(hi) << 8 | u128::from(proto);
    let opens = match proto {
        TCP => {
            let flags = *packet.get(ihl + 13)?;
            flags & 0x02 != 0 && flags & 0x10 == 0 // SYN without ACK
        }
        _ => true,
    };
    Some(Flow { key, opens })
}

#[derive(Debug)]
pub(crate) struct FlowTable {
    timeout_ns: u64,
    /// Flow key → last time a packet of it passed.
    flows: HashMap<u128, u64>,
    capacity: usize,
    next_sweep: u64,
}

impl FlowTable {
    pub(crate) fn new(timeout_ns: u64, capacity: usize) -> Self {
        FlowTable {
            timeout_ns,
            flows: HashMap::new(),
            capacity,
            next_sweep: 0,
        }
    }

    /// Whether a packet of `flow` ([`flow_of`]) passes; `from_client` is true
    /// for the up direction.
    pub(crate) fn admit(&mut self, now: u64, flow: Option<Flow>, from_client: bool) -> bool {
        let Some(flow) = flow else {
            return true;
        };
        if let Some(last) = self.flows.get_mut(&flow.key) {
            if now.saturating_sub(*last) <= self.timeout_ns {
                *last = now;
                return true;
            }
            self.flows.remove(&flow.key);
        }
        if !(from_client && flow.opens) {
            return false;
        }
        if self.flows.len() >= self.capacity && !self.sweep(now) {
            return false;
        }
        self.flows.insert(flow.key, now);
        true
    }

    /// Forgets expired flows, at most a few times per timeout; true if room was made.
    fn sweep(&mut self, now: u64) -> bool {
        if now >= self.next_sweep {
            let timeout = self.timeout_ns;
            self.flows
                .retain(|_, last| now.saturating_sub(*last) <= timeout);
            self.next_sweep = now.saturating_add(timeout / 4);
        }
        self.flows.len() < self.capacity
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.flows.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLIENT: [u8; 4] = [198, 18, 0, 1];
    const SERVER: [u8; 4] = [198, 18, 0, 2];

    fn packet(proto: u8, src: ([u8; 4], u16), dst: ([u8; 4], u16), tcp_flags: u8) -> Vec<u8> {
        let mut p = vec![0u8; 40];
        p[0] = 0x45;
        p[9] = proto;
        p[12..16].copy_from_slice(&src.0);
        p[16..20].copy_from_slice(&dst.0);
        p[20..22].copy_from_slice(&src.1.to_be_bytes());
        p[22..24].copy_from_slice(&dst.1.to_be_bytes());
        p[33] = tcp_flags;
        p
    }

    const SYN: u8 = 0x02;
    const SYN_ACK: u8 = 0x12;
    const ACK: u8 = 0x10;
    const S: u64 = 1_000_000_000;

    #[test]
    fn a_tcp_flow_lives_while_active_and_dies_when_idle() {
        let mut table = FlowTable::new(60 * S, MAX_FLOWS);
        let up = |flags| packet(TCP, (CLIENT, 40000), (SERVER, 80), flags);
        let down = |flags| packet(TCP, (SERVER, 80), (CLIENT, 40000), flags);
        assert!(table.admit(0, flow_of(&up(SYN)), true));
        assert!(table.admit(S, flow_of(&down(SYN_ACK)), false));
        assert!(table.admit(50 * S, flow_of(&up(ACK)), true));
        assert!(
            table.admit(100 * S, flow_of(&down(ACK)), false),
            "activity every 50 s keeps it"
        );
        // Idle for 61 s: forgotten, in both directions, and an ACK does not revive it.
        assert!(!table.admit(161 * S, flow_of(&down(ACK)), false));
        assert!(!table.admit(162 * S, flow_of(&up(ACK)), true));
        // A new SYN on the same 5-tuple is a new flow.
        assert!(table.admit(163 * S, flow_of(&up(SYN)), true));
        assert!(table.admit(163 * S, flow_of(&down(SYN_ACK)), false));
    }

    #[test]
    fn servers_cannot_open_flows() {
        let mut table = FlowTable::new(60 * S, MAX_FLOWS);
        assert!(!table.admit(
            0,
            flow_of(&packet(TCP, (SERVER, 80), (CLIENT, 5), SYN)),
            false
        ));
        assert!(!table.admit(
            0,
            flow_of(&packet(UDP, (SERVER, 53), (CLIENT, 5), 0)),
            false
        ));
        assert!(table.admit(0, flow_of(&packet(UDP, (CLIENT, 5), (SERVER, 53), 0)), true));
        assert!(table.admit(
            S,
            flow_of(&packet(UDP, (SERVER, 53), (CLIENT, 5), 0)),
            false
        ));
    }

    #[test]
    fn other_packets_pass_untouched() {
        let mut table = FlowTable::new(S, MAX_FLOWS);
        let mut icmp = packet(1, (SERVER, 0), (CLIENT, 0), 0);
        assert!(table.admit(0, flow_of(&icmp), false));
        icmp[0] = 0x60; // IPv6
        assert!(table.admit(0, flow_of(&icmp), false));
        assert!(table.admit(0, flow_of(&[]), false));
        assert!(
            table.admit(0, flow_of(&[0x45, 0, 0]), false),
            "truncated: not a flow"
        );
    }

    #[test]
    fn the_table_is_bounded_and_reuses_expired_slots() {
        let mut table = FlowTable::new(10 * S, 4);
        let syn = |port| packet(TCP, (CLIENT, port), (SERVER, 80), SYN);
        for port in 1..=4 {
            assert!(table.admit(0, flow_of(&syn(port)), true));
        }
        assert!(
            !table.admit(S, flow_of(&syn(5)), true),
            "full of live flows"
        );
        assert_eq!(table.len(), 4);
        assert!(
            table.admit(20 * S, flow_of(&syn(6)), true),
            "expired flows make room"
        );
        assert_eq!(table.len(), 1);
    }
}
