//! Client-IP detection: from the TCP peer and a forwarding chain to one
//! address, with the reason. Detection only; [`crate::client_ip`] decides what
//! to write (Envoy keeps detection apart from use the same way).
//!
//! The rule (nginx `realip` with `real_ip_recursive on`, made stricter):
//! 1. an untrusted peer is the client, whatever it sent;
//! 2. otherwise walk the chain right to left, skipping trusted hops; the
//!    first untrusted address is the client;
//! 3. an invalid hop (`unknown`, obfuscated, garbage) cannot be vouched for:
//!    the walk stops and the client is the last valid address to its right
//!    (the peer when the rightmost entry is invalid);
//! 4. if every examined hop is trusted, the client is the leftmost examined
//!    address; at most `max_hops` entries are examined.
//!
//! Unknown is not the proxy: when a trusted peer names no client (no chain),
//! the walk stops at an invalid hop, or `max_hops` trusted hops leave the
//! rest unread, [`Detection::address`] is still nginx `realip`'s answer (the
//! nearest trusted hop), but [`Detection::client`] is `None`, so nothing that
//! grants trust (geo, an allow-list, the signature) is decided on the
//! address of a proxy.

use std::fmt;
use std::net::IpAddr;

use crate::forwarded::Hop;
use crate::trust::TrustedProxies;

/// Why the walk ended where it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stop {
    /// The peer is not trusted, so no header was believed.
    UntrustedPeer,
    /// No forwarding header was present.
    NoChain,
    /// Found the first untrusted address.
    UntrustedHop,
    /// An invalid hop ended the walk.
    InvalidHop,
    /// Every hop was trusted; the leftmost one is the client.
    AllTrusted,
    /// `maxHops` entries were examined, all trusted.
    MaxHops,
}

impl fmt::Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::UntrustedPeer => "untrusted-peer",
            Self::NoChain => "no-chain",
            Self::UntrustedHop => "untrusted-hop",
            Self::InvalidHop => "invalid-hop",
            Self::AllTrusted => "all-trusted",
            Self::MaxHops => "max-hops",
        })
    }
}

impl Stop {
    /// Whether the walk ended on an address the trusted proxies vouch for as
    /// the client; otherwise the client is unknown.
    pub const fn found_client(self) -> bool {
        matches!(self, Self::UntrustedPeer | Self::UntrustedHop | Self::AllTrusted)
    }
}

/// The outcome of detection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Detection {
    /// nginx `realip`'s answer: the client when known, else the nearest
    /// trusted hop (what `X-Real-IP` carries either way).
    pub address: IpAddr,
    /// Index of the client in the chain; `None` when the client is the peer.
    pub index: Option<usize>,
    /// Whether the TCP peer is a trusted proxy.
    pub peer_trusted: bool,
    /// Trusted hops skipped in the chain.
    pub skipped: usize,
    /// Why the walk ended.
    pub stop: Stop,
}

impl Detection {
    /// The client, when the walk found one ([`Stop::found_client`]).
    pub const fn client(&self) -> Option<IpAddr> {
        if self.stop.found_client() { Some(self.address) } else { None }
    }
}

/// Detects the client. `peer` must already be canonical (see [`crate::addr::canonical`]).
///
/// # Examples
/// ```
/// use edgeguard::{forwarded::Chain, detection::{detect, Stop}, trust::TrustedProxies};
/// let trusted = TrustedProxies::new(["10.0.0.0/8"], false).unwrap();
/// let chain = Chain::from_xff(&["198.51.100.1, 203.0.113.9, 10.0.0.5"]);
/// let d = detect("10.0.0.1".parse().unwrap(), &chain.hops, &trusted, 32);
/// assert_eq!(d.client().unwrap().to_string(), "203.0.113.9"); // 198.51.100.1 was chosen by the client: ignored
/// assert_eq!(d.stop, Stop::UntrustedHop);
///
/// let spoof = detect("192.0.2.1".parse().unwrap(), &chain.hops, &trusted, 32);
/// assert_eq!(spoof.client().unwrap().to_string(), "192.0.2.1");
///
/// let unreadable = Chain::from_xff(&["203.0.113.9, unknown"]);
/// let d = detect("10.0.0.1".parse().unwrap(), &unreadable.hops, &trusted, 32);
/// assert_eq!((d.client(), d.address.to_string().as_str()), (None, "10.0.0.1"));
/// ```
pub fn detect(peer: IpAddr, hops: &[Hop], trusted: &TrustedProxies, max_hops: usize) -> Detection {
    let peer_trusted = trusted.contains(peer);
    let mut d = Detection { address: peer, index: None, peer_trusted, skipped: 0, stop: Stop::UntrustedPeer };
    if !peer_trusted {
        return d;
    }
    if hops.is_empty() {
        d.stop = Stop::NoChain;
        return d;
    }
    let first = hops.len().saturating_sub(max_hops);
    for (i, hop) in hops.iter().enumerate().skip(first).rev() {
        match *hop {
            Err(_) => {
                // The last valid hop to the right (if any) becomes the client; it was not "skipped".
                d.skipped -= usize::from(d.index.is_some());
                d.stop = Stop::InvalidHop;
                return d;
            }
            Ok(ip) => {
                d.address = ip;
                d.index = Some(i);
                if !trusted.contains(ip) {
                    d.stop = Stop::UntrustedHop;
                    return d;
                }
                d.skipped += 1;
            }
        }
    }
    // The leftmost examined hop became the client; it was not "skipped".
    d.skipped -= 1;
    d.stop = if first > 0 { Stop::MaxHops } else { Stop::AllTrusted };
    d
}
