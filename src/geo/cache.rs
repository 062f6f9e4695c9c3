//! A bounded lookup cache keyed by network, not by address: one entry serves
//! every address of a /24 (or whatever the database's network is), so a busy
//! range costs one lookup, and "not in the database" answers are cached too.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::net::IpAddr;

use ipnet::IpNet;

/// Estimated bytes per entry (key, map slot, compact value); used to split
/// `memoryBudget` between this cache and the page cache.
pub const ENTRY_BYTES: usize = 192;

/// Networks → values, at most `capacity` entries, oldest evicted first.
#[derive(Debug)]
pub struct NetworkCache<V> {
    capacity: usize,
    entries: HashMap<IpNet, V>,
    order: VecDeque<IpNet>,
    /// Prefix lengths present, longest first, so a probe tries only those.
    prefixes: BTreeSet<std::cmp::Reverse<(bool, u8)>>,
}

impl<V: Clone> NetworkCache<V> {
    /// An empty cache holding at most `capacity` networks (0 disables caching).
    pub fn new(capacity: usize) -> Self {
        Self { capacity, entries: HashMap::new(), order: VecDeque::new(), prefixes: BTreeSet::new() }
    }

    /// The value cached for the network containing `ip`.
    pub fn get(&self, ip: IpAddr) -> Option<V> {
        self.prefixes.iter().filter(|p| p.0.0 == ip.is_ipv4()).find_map(|p| {
            let net = IpNet::new(ip, p.0.1).ok()?.trunc();
            self.entries.get(&net).cloned()
        })
    }

    /// Caches `value` for `ip`'s network of `prefix_len` bits.
    pub fn insert(&mut self, ip: IpAddr, prefix_len: u8, value: V) {
        if self.capacity == 0 {
            return;
        }
        let Ok(net) = IpNet::new(ip, prefix_len) else { return };
        let net = net.trunc();
        if self.entries.insert(net, value).is_none() {
            self.order.push_back(net);
            self.prefixes.insert(std::cmp::Reverse((ip.is_ipv4(), prefix_len)));
        }
        while self.entries.len() > self.capacity {
            let Some(old) = self.order.pop_front() else { break };
            self.entries.remove(&old);
        }
    }

    /// Drops everything (after a database reload).
    pub fn clear(&mut self) {
        self.entries.clear();
        self.order.clear();
        self.prefixes.clear();
    }

    /// Number of cached networks.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn one_entry_serves_the_whole_network() {
        let mut cache = NetworkCache::new(8);
        cache.insert(ip("203.0.113.77"), 24, "a");
        assert_eq!(cache.get(ip("203.0.113.1")), Some("a"));
        assert_eq!(cache.get(ip("203.0.114.1")), None);
        cache.insert(ip("2001:db8::1"), 32, "v6");
        assert_eq!(cache.get(ip("2001:db8:ffff::9")), Some("v6"));
        assert_eq!(cache.get(ip("203.0.113.200")), Some("a"));
        assert_eq!(cache.len(), 2);
    }

    #[test]
    fn bounded_oldest_first_and_clearable() {
        let mut cache = NetworkCache::new(2);
        cache.insert(ip("192.0.2.1"), 32, 1);
        cache.insert(ip("192.0.2.2"), 32, 2);
        cache.insert(ip("192.0.2.3"), 32, 3);
        assert_eq!((cache.get(ip("192.0.2.1")), cache.get(ip("192.0.2.3"))), (None, Some(3)));
        assert_eq!(cache.len(), 2);
        cache.clear();
        assert!(cache.is_empty());
        let mut off = NetworkCache::new(0);
        off.insert(ip("192.0.2.1"), 32, 1);
        assert!(off.is_empty());
    }
}
