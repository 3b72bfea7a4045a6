//! Publish rate limits keyed by client address and by user: a client that
//! reconnects for every publish gets a fresh per-connection bucket, but not
//! a fresh address or user bucket.
//!
//! The map of buckets is bounded, so a flood of distinct addresses cannot
//! grow it without limit: when it is full, buckets that have refilled (a key
//! that forgot nothing by being dropped) go first, then the least recently
//! used eighth. An evicted key starts again with a full burst; that is the
//! price of bounded memory, paid by the idlest keys.

use super::{Bucket, Key, LimitMetrics, RateLimit};
use crate::error::ApiError;
use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Keys kept per map by default: about 100 bytes each.
pub const DEFAULT_CAPACITY: usize = 65_536;

/// Token buckets by key, at most `capacity` of them.
#[derive(Debug)]
pub struct KeyedBuckets<K> {
    limit: RateLimit,
    capacity: usize,
    map: Mutex<HashMap<K, Bucket>>,
}

impl<K: Hash + Eq + Clone> KeyedBuckets<K> {
    pub fn new(limit: RateLimit, capacity: usize) -> Self {
        KeyedBuckets {
            limit,
            capacity: capacity.max(1),
            map: Mutex::new(HashMap::new()),
        }
    }

    pub fn limit(&self) -> &RateLimit {
        &self.limit
    }

    /// Take one token of `key`'s bucket, or say how long until one is there.
    pub fn take(&self, key: &K) -> Result<(), Duration> {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(b) = map.get_mut(key) {
            return b.take(&self.limit);
        }
        if map.len() >= self.capacity {
            evict(&mut map, &self.limit, self.capacity);
        }
        let mut b = Bucket::new(&self.limit);
        let r = b.take(&self.limit);
        map.insert(key.clone(), b);
        r
    }

    /// Keys held now.
    pub fn len(&self) -> usize {
        self.map.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Make room in a full map: drop refilled buckets; if that freed less than
/// an eighth, drop the least recently used eighth as well (so the O(n) pass
/// runs at most once per n/8 inserts).
fn evict<K: Hash + Eq + Clone>(map: &mut HashMap<K, Bucket>, limit: &RateLimit, capacity: usize) {
    let now = Instant::now();
    map.retain(|_, b| !b.is_full(limit, now));
    let room = (capacity / 8).max(1);
    if map.len() + room <= capacity {
        return;
    }
    let excess = map.len() + room - capacity;
    let mut ats: Vec<Instant> = map.values().map(Bucket::last_used).collect();
    let nth = excess.min(ats.len()) - 1;
    let cutoff = *ats.select_nth_unstable(nth).1;
    let mut dropped = 0;
    map.retain(|_, b| {
        if dropped < excess && b.last_used() <= cutoff {
            dropped += 1;
            false
        } else {
            true
        }
    });
}

/// The address key: IPv6 hosts usually own a whole /64, so one is keyed by
/// its /64; an IPv4-mapped IPv6 address is its IPv4 address.
pub fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// The publish limits beyond one connection's: by address and by user.
#[derive(Debug, Default)]
pub struct Publishers {
    pub by_address: Option<KeyedBuckets<IpAddr>>,
    pub by_user: Option<KeyedBuckets<Arc<str>>>,
}

impl Publishers {
    pub fn new(
        per_ip: Option<RateLimit>,
        per_user: Option<RateLimit>,
        capacity: usize,
    ) -> Publishers {
        Publishers {
            by_address: per_ip.map(|l| KeyedBuckets::new(l, capacity)),
            by_user: per_user.map(|l| KeyedBuckets::new(l, capacity)),
        }
    }
}

impl Publishers {
    /// The larger burst of the two budgets (1 when both are off).
    pub fn max_burst(&self) -> f64 {
        let a = self.by_address.as_ref().map(|b| b.limit.burst);
        let u = self.by_user.as_ref().map(|b| b.limit.burst);
        [a, u].into_iter().flatten().fold(1.0, f64::max)
    }

    /// One publish against the address and user budgets (after the
    /// connection's): 429 with `Retry-After` when either is spent, counted
    /// under its key. A refusal by the user budget still spent an address
    /// token, as any attempt does.
    pub(crate) fn check(
        &self,
        metrics: &LimitMetrics,
        ip: Option<IpAddr>,
        user: Option<&Arc<str>>,
    ) -> Result<(), ApiError> {
        if let (Some(b), Some(ip)) = (&self.by_address, ip) {
            b.take(&address_key(ip))
                .map_err(|wait| refused(metrics, b.limit(), Key::Address, wait))?;
        }
        if let (Some(b), Some(user)) = (&self.by_user, user) {
            b.take(user)
                .map_err(|wait| refused(metrics, b.limit(), Key::User, wait))?;
        }
        Ok(())
    }
}

/// The 429 of a spent budget, counted under `key`.
pub(crate) fn refused(
    metrics: &LimitMetrics,
    limit: &RateLimit,
    key: Key,
    wait: Duration,
) -> ApiError {
    metrics.rate_limited.add(key);
    ApiError::RateLimited {
        limit: format!("{}/s per {}", limit.per_sec, key.as_str()),
        retry_after_ms: wait.as_millis() as u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn limit() -> RateLimit {
        RateLimit {
            per_sec: 1.0,
            burst: 2.0,
        }
    }

    #[test]
    fn a_key_gets_its_burst_then_waits() {
        let k = KeyedBuckets::new(limit(), 16);
        let a = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1));
        let b = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
        assert!(k.take(&a).is_ok() && k.take(&a).is_ok());
        assert!(k.take(&a).is_err(), "burst of 2 spent");
        assert!(k.take(&b).is_ok(), "another address has its own budget");
    }

    #[test]
    fn an_address_flood_never_grows_the_map_past_its_capacity() {
        let cap = 4096;
        let k = KeyedBuckets::new(limit(), cap);
        let hot = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
        for i in 0u32..100_000 {
            // 127.0.0.0/8 and IPv6 loopback-style /64s, all distinct keys.
            let ip = if i % 2 == 0 {
                IpAddr::V4(Ipv4Addr::from(0x7f00_0000 | i))
            } else {
                IpAddr::V6(Ipv6Addr::new(
                    0xfd00,
                    0,
                    (i >> 16) as u16,
                    i as u16,
                    0,
                    0,
                    0,
                    1,
                ))
            };
            let _ = k.take(&address_key(ip));
            // The address that keeps publishing stays limited meanwhile.
            if i % 64 == 0 {
                let _ = k.take(&hot);
            }
            assert!(k.len() <= cap, "{} keys after {i}", k.len());
        }
        assert!(k.len() <= cap);
        assert!(k.take(&hot).is_err(), "the busy key was not evicted");
    }

    #[test]
    fn ipv6_hosts_are_keyed_by_their_64() {
        let a: IpAddr = "2001:db8:1:2::1".parse().expect("ip");
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().expect("ip");
        let c: IpAddr = "2001:db8:1:3::1".parse().expect("ip");
        assert_eq!(address_key(a), address_key(b));
        assert_ne!(address_key(a), address_key(c));
        let mapped: IpAddr = "::ffff:127.0.0.2".parse().expect("ip");
        assert_eq!(
            address_key(mapped),
            "127.0.0.2".parse::<IpAddr>().expect("ip")
        );
    }
}
