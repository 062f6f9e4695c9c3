//! A bounded lookup cache keyed by network, not by address: one entry serves
//! every address of a /24 (or whatever the database's network is), so a busy
//! range costs one lookup, and "not in the database" answers are cached too.

use std::collections::HashMap;
use std::net::IpAddr;

use ipnet::IpNet;

use crate::mmdb::MultiplyHash;

/// Estimated bytes per entry in wasm32, where the budget matters: the map's
/// slot at its load factor (~58), the ring slot (18), the packed value's
/// allocation (~40). Used to split `memoryBudget` between this cache and the
/// page cache.
pub const ENTRY_BYTES: usize = 128;

/// Networks → values, at most `capacity` entries, oldest evicted first.
///
/// A probe tries each prefix length some entry has, longest first, with one
/// cheap hash each: the lengths present are counted, not searched.
#[derive(Debug)]
pub struct NetworkCache<V> {
    capacity: usize,
    entries: HashMap<IpNet, V, MultiplyHash>,
    /// Cached networks in insertion order; once full, a ring whose slot at
    /// `oldest` is the next to go.
    order: Vec<IpNet>,
    oldest: usize,
    /// Entries per prefix length: IPv4 lengths 0..=32, then IPv6 0..=128.
    lengths: [u16; 33 + 129],
}

impl<V: Clone> NetworkCache<V> {
    /// The most networks a cache holds (its counts are 16-bit); the config
    /// refuses a larger `geo.cacheEntries`.
    pub const MAX_CAPACITY: usize = u16::MAX as usize;

    /// An empty cache holding at most `capacity` networks (0 disables
    /// caching), capped at [`Self::MAX_CAPACITY`].
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.min(Self::MAX_CAPACITY),
            entries: HashMap::default(),
            order: Vec::new(),
            oldest: 0,
            lengths: [0; 33 + 129],
        }
    }

    /// Index of (family, prefix length) in `lengths`.
    fn slot(ip: IpAddr, prefix_len: u8) -> usize {
        let base = if ip.is_ipv4() { 0 } else { 33 };
        base + usize::from(prefix_len)
    }

    /// The value cached for the network containing `ip`.
    pub fn get(&self, ip: IpAddr) -> Option<V> {
        if self.entries.is_empty() {
            return None;
        }
        let max: u8 = if ip.is_ipv4() { 32 } else { 128 };
        (0..=max).rev().find_map(|len| {
            if self.lengths.get(Self::slot(ip, len)).is_none_or(|&n| n == 0) {
                return None;
            }
            let net = IpNet::new(ip, len).ok()?.trunc();
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
        if self.entries.insert(net, value).is_some() {
            return;
        }
        if self.order.len() < self.capacity {
            self.order.push(net);
        } else if let Some(slot) = self.order.get_mut(self.oldest) {
            let old = std::mem::replace(slot, net);
            self.oldest = (self.oldest + 1) % self.capacity;
            self.entries.remove(&old);
            self.count(old.addr(), old.prefix_len(), false);
        }
        self.count(ip, prefix_len, true);
    }

    fn count(&mut self, ip: IpAddr, prefix_len: u8, add: bool) {
        if let Some(n) = self.lengths.get_mut(Self::slot(ip, prefix_len)) {
            *n = if add { n.saturating_add(1) } else { n.saturating_sub(1) };
        }
    }

    /// Drops everything (after a database reload).
    pub fn clear(&mut self) {
        self.entries.clear();
        self.order.clear();
        self.oldest = 0;
        self.lengths = [0; 33 + 129];
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
    fn eviction_forgets_the_prefix_lengths_it_empties() {
        let mut cache = NetworkCache::new(2);
        cache.insert(ip("198.51.100.7"), 16, "a");
        cache.insert(ip("203.0.113.7"), 24, "b");
        cache.insert(ip("192.0.2.7"), 28, "c"); // evicts the /16, the only entry of that length
        assert_eq!(cache.lengths[16], 0);
        assert_eq!(
            [cache.get(ip("198.51.1.1")), cache.get(ip("203.0.113.99")), cache.get(ip("192.0.2.1"))],
            [None, Some("b"), Some("c")]
        );
        // Re-inserting a cached network replaces its value, not its place in line.
        cache.insert(ip("203.0.113.1"), 24, "b2");
        cache.insert(ip("2001:db8::1"), 48, "v6"); // evicts the /24
        assert_eq!([cache.get(ip("203.0.113.1")), cache.get(ip("2001:db8::ffff"))], [None, Some("v6")]);
        assert_eq!((cache.lengths[24], cache.lengths[33 + 48]), (0, 1));
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
