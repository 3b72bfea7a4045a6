//! `--max-connections-per-ip`: open connections by client address. The
//! table holds only addresses with a connection open (an entry goes when
//! its last connection closes), so it is bounded by `--max-connections`.

use super::keyed::address_key;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// Open connections by address key (IPv6: per /64).
#[derive(Debug, Default)]
pub struct OpenPerIp(Mutex<HashMap<IpAddr, usize>>);

impl OpenPerIp {
    /// A place for one more connection from `ip` if it has fewer than `max`.
    pub fn try_open(self: &Arc<Self>, ip: IpAddr, max: usize) -> Option<IpSlot> {
        let key = address_key(ip);
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let n = map.entry(key).or_insert(0);
        if *n >= max {
            if *n == 0 {
                map.remove(&key);
            }
            return None;
        }
        *n += 1;
        Some(IpSlot {
            table: self.clone(),
            key,
        })
    }

    /// Addresses with a connection open.
    pub fn len(&self) -> usize {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One open connection's place under its address's limit; given back
/// when the socket closes.
#[derive(Debug)]
pub struct IpSlot {
    table: Arc<OpenPerIp>,
    key: IpAddr,
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        let mut map = self.table.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = map.get_mut(&self.key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                map.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_per_address_are_bounded_given_back_and_forgotten() {
        let t = Arc::new(OpenPerIp::default());
        let a: IpAddr = "127.0.0.1".parse().expect("ip");
        let b: IpAddr = "127.0.0.2".parse().expect("ip");
        let one = t.try_open(a, 2).expect("1");
        let _two = t.try_open(a, 2).expect("2");
        assert!(t.try_open(a, 2).is_none(), "a third from a");
        let other = t.try_open(b, 2).expect("b has its own");
        drop(one);
        assert!(t.try_open(a, 2).is_some(), "given back");
        drop(other);
        assert_eq!(t.len(), 1, "b's entry went with its last connection");
    }
}
