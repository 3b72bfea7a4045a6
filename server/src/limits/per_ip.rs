//! `--max-connections-per-ip`: open connections by client address. The
//! table holds only addresses with a connection open (an entry goes when
//! its last connection closes), so it is bounded by `--max-connections`.
//!
//! [`admit`] is the one check for every transport's new connection: a TCP
//! socket at accept, a WebTransport session at its request.

use super::keyed::address_key;
use crate::AppState;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Why a new connection from an address was refused (429).
#[derive(Debug, Clone, PartialEq)]
pub enum Refused {
    /// Past `--max-new-connections-per-ip`: its rate, and when the next
    /// connection would be admitted.
    TooFast { per_sec: f64, wait: Duration },
    /// Past `--max-connections-per-ip`.
    TooMany,
}

impl Refused {
    /// The sentence of the 429's JSON body.
    pub fn why(&self) -> String {
        match self {
            Refused::TooFast { per_sec, .. } => format!(
                "opening connections faster than {per_sec}/s from your address \
                 (--max-new-connections-per-ip); reuse one or retry later"
            ),
            Refused::TooMany => "too many open connections from your address \
                                 (--max-connections-per-ip); close one or retry later"
                .into(),
        }
    }

    /// `Retry-After`, in whole seconds.
    pub fn retry_after_s(&self) -> u64 {
        match self {
            Refused::TooFast { wait, .. } => wait.as_secs_f64().ceil() as u64,
            Refused::TooMany => 1,
        }
    }
}

/// `--max-new-connections-per-ip` then `--max-connections-per-ip` for one
/// new connection from client address `ip`: its place under the open
/// limit (`None` when that limit is off), or the refusal, counted. An
/// address that is itself a trusted proxy is not limited (it carries many
/// clients). Both limits off: no lock is taken.
pub fn admit(app: &AppState, ip: IpAddr) -> Result<Option<IpSlot>, Refused> {
    let config = &app.config;
    if config.trusted_proxies.iter().any(|n| n.contains(&ip)) {
        return Ok(None);
    }
    let limits = &app.limit_metrics;
    if let Some(b) = &app.new_per_ip
        && let Err(wait) = b.take(&address_key(ip))
    {
        limits.rejected_new_per_ip.fetch_add(1, Relaxed);
        return Err(Refused::TooFast {
            per_sec: b.limit().per_sec,
            wait,
        });
    }
    let Some(max) = config.max_connections_per_ip else {
        return Ok(None);
    };
    match app.open_per_ip.try_open(ip, max) {
        Some(slot) => Ok(Some(slot)),
        None => {
            limits.rejected_per_ip.fetch_add(1, Relaxed);
            Err(Refused::TooMany)
        }
    }
}

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
