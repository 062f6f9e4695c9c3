//! Trusted proxy networks: CIDRs, single addresses and named presets.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use crate::addr::canonical;

/// The date the `cloudflare` preset was taken from <https://www.cloudflare.com/ips/>.
pub const CLOUDFLARE_RANGES_DATE: &str = "2023-02-08";

/// Named presets accepted in `clientIp.trustedProxies`, with what they
/// expand to. Constants, not CIDR text parsed at init: every wasm instance
/// expands them (issue #14); the `presets_are_their_cidrs` test reads them back.
pub const PRESETS: &[(&str, &[IpNet])] = &[
    ("loopback", &[v4([127, 0, 0, 0], 8), v6([0, 0, 0, 0, 0, 0, 0, 1], 128)]),
    // RFC 1918, RFC 6598 (carrier-grade NAT, also used by some VPC setups),
    // IPv6 unique-local (RFC 4193) and link-local.
    (
        "private",
        &[
            v4([10, 0, 0, 0], 8),
            v4([172, 16, 0, 0], 12),
            v4([192, 168, 0, 0], 16),
            v4([100, 64, 0, 0], 10),
            v6([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7),
            v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10),
        ],
    ),
    // Docker's default address pools (bridge 172.17.0.0/16, user networks such
    // as kind's from 172.18.0.0/16 upwards within 172.16.0.0/12) and the IPv6
    // ULA prefix kind gives its `kind` network.
    ("kind", &[v4([172, 16, 0, 0], 12), v6([0xfc00, 0xf853, 0xccd, 0xe793, 0, 0, 0, 0], 64)]),
    // Published Cloudflare edge ranges, see CLOUDFLARE_RANGES_DATE.
    (
        "cloudflare",
        &[
            v4([173, 245, 48, 0], 20),
            v4([103, 21, 244, 0], 22),
            v4([103, 22, 200, 0], 22),
            v4([103, 31, 4, 0], 22),
            v4([141, 101, 64, 0], 18),
            v4([108, 162, 192, 0], 18),
            v4([190, 93, 240, 0], 20),
            v4([188, 114, 96, 0], 20),
            v4([197, 234, 240, 0], 22),
            v4([198, 41, 128, 0], 17),
            v4([162, 158, 0, 0], 15),
            v4([104, 16, 0, 0], 13),
            v4([104, 24, 0, 0], 14),
            v4([172, 64, 0, 0], 13),
            v4([131, 0, 72, 0], 22),
            v6([0x2400, 0xcb00, 0, 0, 0, 0, 0, 0], 32),
            v6([0x2606, 0x4700, 0, 0, 0, 0, 0, 0], 32),
            v6([0x2803, 0xf800, 0, 0, 0, 0, 0, 0], 32),
            v6([0x2405, 0xb500, 0, 0, 0, 0, 0, 0], 32),
            v6([0x2405, 0x8100, 0, 0, 0, 0, 0, 0], 32),
            v6([0x2a06, 0x98c0, 0, 0, 0, 0, 0, 0], 29),
            v6([0x2c0f, 0xf248, 0, 0, 0, 0, 0, 0], 32),
        ],
    ),
];

/// An IPv4 network constant (a prefix over 32 fails the build).
const fn v4([a, b, c, d]: [u8; 4], prefix: u8) -> IpNet {
    IpNet::V4(Ipv4Net::new_assert(Ipv4Addr::new(a, b, c, d), prefix))
}

/// An IPv6 network constant (a prefix over 128 fails the build).
const fn v6([a, b, c, d, e, f, g, h]: [u16; 8], prefix: u8) -> IpNet {
    IpNet::V6(Ipv6Net::new_assert(Ipv6Addr::new(a, b, c, d, e, f, g, h), prefix))
}

/// Why one `trustedProxies` entry was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TrustError {
    /// Not a CIDR, an IP address or a preset name.
    #[error("`{0}` is not a CIDR, an IP address or a preset (loopback, private, kind, cloudflare)")]
    Unparsable(String),
    /// `0.0.0.0/0` or `::/0` without the explicit opt-in.
    #[error(
        "`{0}` trusts every address, so any client could spoof its IP; set `allowTrustAll: true` if you mean it"
    )]
    TrustAll(String),
    /// An entry that completes a list covering all of IPv4 or IPv6
    /// (`0.0.0.0/1` + `128.0.0.0/1`), or most of the public address space,
    /// without the explicit opt-in.
    #[error(
        "`{entry}` (with any entries before it) covers all or most of {family}, so any client could spoof its IP; \
         set `allowTrustAll: true` if you mean it"
    )]
    TrustAllCombined {
        /// The entry that completed the coverage.
        entry: String,
        /// `IPv4` or `IPv6`.
        family: &'static str,
    },
}

/// A validated list of trusted networks.
///
/// # Examples
/// ```
/// use edgeguard::trust::TrustedProxies;
/// let trusted = TrustedProxies::new(["10.0.0.0/8", "loopback"], false).unwrap();
/// assert!(trusted.contains("::ffff:10.1.2.3".parse().unwrap()));
/// assert!(!trusted.contains("192.0.2.1".parse().unwrap()));
/// assert!(TrustedProxies::new(["0.0.0.0/0"], false).is_err());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    nets: Vec<IpNet>,
}

impl TrustedProxies {
    /// Parses entries; on failure returns the index of the bad entry and why.
    pub fn new<I, S>(entries: I, allow_trust_all: bool) -> Result<Self, (usize, TrustError)>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut nets = Vec::new();
        // Each written CIDR: its index, text, network and how many networks
        // the list held once it was added (to name the entry that went too far).
        let mut written: Vec<(usize, String, IpNet, usize)> = Vec::new();
        for (i, entry) in entries.into_iter().enumerate() {
            let entry = entry.as_ref().trim();
            if let Some((_, cidrs)) = PRESETS.iter().find(|(name, _)| name.eq_ignore_ascii_case(entry)) {
                nets.extend_from_slice(cidrs);
                continue;
            }
            let net = parse_net(entry).ok_or_else(|| (i, TrustError::Unparsable(entry.to_string())))?;
            nets.push(net);
            written.push((i, entry.to_string(), net, nets.len()));
        }
        // Trusting everything split into pieces, or most of the routable
        // Internet, is still trusting everything a client could send from.
        // Checked once (every wasm instance runs this at init); only a refusal
        // looks for the entry that completed the coverage.
        if !allow_trust_all && trusts_most_of_the_internet(&nets) {
            // Presets alone never trust most of the Internet, so one written entry is found;
            // the last one stands in rather than a panic at init.
            let last = written.last().cloned().unwrap_or((0, String::new(), nets[0], nets.len()));
            let (i, entry, net, _) = written
                .into_iter()
                .find(|(_, _, _, end)| trusts_most_of_the_internet(&nets[..*end]))
                .unwrap_or(last);
            let family = if net.addr().is_ipv4() { "IPv4" } else { "IPv6" };
            let err = if net.prefix_len() == 0 {
                TrustError::TrustAll(entry)
            } else {
                TrustError::TrustAllCombined { entry, family }
            };
            return Err((i, err));
        }
        Ok(Self { nets })
    }

    /// True when `ip` (IPv4-mapped IPv6 counts as IPv4) is in a trusted network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.nets.iter().any(|net| net.contains(&ip))
    }

    /// True when nothing is trusted.
    pub fn is_empty(&self) -> bool {
        self.nets.is_empty()
    }

    /// The networks, presets expanded.
    pub fn networks(&self) -> &[IpNet] {
        &self.nets
    }
}

/// IPv4 ranges no Internet client comes from (RFC 6890: "this network",
/// private, CGNAT, loopback, link-local, multicast, reserved). Built as
/// constants, not parsed: every wasm instance's init runs the check below.
const NON_PUBLIC_V4: [IpNet; 9] = [
    v4([0, 0, 0, 0], 8),
    v4([10, 0, 0, 0], 8),
    v4([100, 64, 0, 0], 10),
    v4([127, 0, 0, 0], 8),
    v4([169, 254, 0, 0], 16),
    v4([172, 16, 0, 0], 12),
    v4([192, 168, 0, 0], 16),
    v4([224, 0, 0, 0], 4),
    v4([240, 0, 0, 0], 4),
];

/// IPv6 global unicast, `2000::/3`.
const GLOBAL_V6: IpNet = v6([0x2000, 0, 0, 0, 0, 0, 0, 0], 3);

/// Whether `nets` cover all of IPv4 or IPv6, or more than half of the
/// public IPv4 space or of IPv6 global unicast (`2000::/3`): e.g.
/// `0.0.0.0/1` + `128.0.0.0/2` + `192.0.0.0/3`, or `2000::/3`.
fn trusts_most_of_the_internet(nets: &[IpNet]) -> bool {
    let public_v4 = (1u128 << 32) - NON_PUBLIC_V4.iter().map(size).sum::<u128>();
    // Merged, the networks cover at most the sum of their sizes, and all of a
    // family only if that sum reaches it: a list below both halves (every
    // real one) needs no merging, which cost each wasm instance's init most
    // of what building the list did (issue #14).
    let sum = |v4: bool| {
        let family = nets.iter().filter(|n| n.addr().is_ipv4() == v4);
        family.map(size).fold(0, u128::saturating_add)
    };
    if sum(true) <= public_v4 / 2 && sum(false) <= size(&GLOBAL_V6) / 2 {
        return false;
    }
    let merged = IpNet::aggregate(&nets.to_vec());
    if merged.iter().any(|n| n.prefix_len() == 0) {
        return true;
    }
    // CIDRs are nested or disjoint, so an overlap is the smaller of the two.
    let overlap = |a: &IpNet, b: &IpNet| -> u128 {
        if a.contains(b) {
            size(b)
        } else if b.contains(a) {
            size(a)
        } else {
            0
        }
    };
    let covered_v4: u128 = merged
        .iter()
        .filter(|n| n.addr().is_ipv4())
        .map(|n| size(n) - NON_PUBLIC_V4.iter().map(|s| overlap(n, s)).sum::<u128>())
        .sum();
    let covered_v6: u128 = merged.iter().map(|n| overlap(n, &GLOBAL_V6)).sum();
    covered_v4 > public_v4 / 2 || covered_v6 > size(&GLOBAL_V6) / 2
}

/// Addresses in a network (IPv6 /0 saturates, which no caller reaches).
fn size(net: &IpNet) -> u128 {
    let bits = u32::from(net.max_prefix_len() - net.prefix_len());
    1u128.checked_shl(bits).unwrap_or(u128::MAX)
}

/// A CIDR (host bits are masked, as nginx and Traefik accept `10.1.2.3/8`)
/// or a single address. IPv4-mapped IPv6 networks are stored as IPv4.
fn parse_net(entry: &str) -> Option<IpNet> {
    let net = match entry.parse::<IpNet>() {
        Ok(net) => net.trunc(),
        Err(_) => IpNet::from(entry.parse::<IpAddr>().ok()?),
    };
    if let IpNet::V6(v6) = net {
        if let (Some(v4), true) = (v6.addr().to_ipv4_mapped(), v6.prefix_len() >= 96) {
            return ipnet::Ipv4Net::new(v4, v6.prefix_len() - 96).ok().map(IpNet::V4);
        }
    }
    Some(net)
}

/// For a CIDR written with host bits set (`10.0.1.0/16`), the network that
/// is actually trusted (`10.0.0.0/16`); `None` for clean CIDRs, addresses,
/// presets and anything unparsable. Such an entry is accepted (as nginx and
/// Traefik accept it) but trusts more than the text suggests, so the config
/// lint warns about it.
pub fn masked_network(entry: &str) -> Option<IpNet> {
    let net = entry.trim().parse::<IpNet>().ok()?;
    (net.trunc() != net).then(|| net.trunc())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn entries_and_presets() {
        let cases: &[(&str, &[&str], &str, bool)] = &[
            ("cidr v4", &["10.0.0.0/8"], "10.255.0.1", true),
            ("cidr v4 miss", &["10.0.0.0/8"], "11.0.0.1", false),
            ("host bits masked", &["10.1.2.3/8"], "10.9.9.9", true),
            ("single v4", &["192.0.2.1"], "192.0.2.1", true),
            ("single v4 neighbour", &["192.0.2.1"], "192.0.2.2", false),
            ("single v6", &["2001:db8::1"], "2001:db8::1", true),
            ("mapped client vs v4 cidr", &["10.0.0.0/8"], "::ffff:10.0.0.1", true),
            ("mapped cidr vs v4 client", &["::ffff:10.0.0.0/104"], "10.0.0.1", true),
            ("loopback v4", &["loopback"], "127.0.0.2", true),
            ("loopback v6", &["loopback"], "::1", true),
            ("private 172", &["private"], "172.31.255.1", true),
            ("private cgnat", &["private"], "100.64.0.1", true),
            ("private ula", &["private"], "fd00::1", true),
            ("private link-local v6", &["private"], "fe80::1", true),
            ("private public miss", &["private"], "203.0.113.1", false),
            ("kind bridge", &["kind"], "172.18.0.3", true),
            ("kind v6", &["kind"], "fc00:f853:ccd:e793::2", true),
            ("kind not 10/8", &["kind"], "10.0.0.1", false),
            ("cloudflare v4", &["cloudflare"], "104.16.1.1", true),
            ("cloudflare v6", &["cloudflare"], "2606:4700::1", true),
            ("cloudflare miss", &["cloudflare"], "192.0.2.1", false),
            ("preset case-insensitive", &["Private"], "10.0.0.1", true),
        ];
        for (desc, entries, addr, want) in cases {
            let trusted = TrustedProxies::new(*entries, false).unwrap();
            assert_eq!(trusted.contains(ip(addr)), *want, "{desc}: {entries:?} contains {addr}");
        }
    }

    #[test]
    fn presets_are_their_cidrs() {
        let text: &[(&str, &str)] = &[
            ("loopback", "127.0.0.0/8 ::1/128"),
            ("private", "10.0.0.0/8 172.16.0.0/12 192.168.0.0/16 100.64.0.0/10 fc00::/7 fe80::/10"),
            ("kind", "172.16.0.0/12 fc00:f853:ccd:e793::/64"),
            (
                "cloudflare",
                "173.245.48.0/20 103.21.244.0/22 103.22.200.0/22 103.31.4.0/22 141.101.64.0/18 \
                 108.162.192.0/18 190.93.240.0/20 188.114.96.0/20 197.234.240.0/22 198.41.128.0/17 \
                 162.158.0.0/15 104.16.0.0/13 104.24.0.0/14 172.64.0.0/13 131.0.72.0/22 2400:cb00::/32 \
                 2606:4700::/32 2803:f800::/32 2405:b500::/32 2405:8100::/32 2a06:98c0::/29 2c0f:f248::/32",
            ),
        ];
        assert_eq!(PRESETS.len(), text.len());
        for ((name, nets), (want_name, want)) in PRESETS.iter().zip(text) {
            let got: Vec<String> = nets.iter().map(|n| n.to_string()).collect();
            assert_eq!(
                (*name, got.join(" ")),
                (*want_name, want.split_whitespace().collect::<Vec<_>>().join(" "))
            );
            assert!(nets.iter().all(|n| n.trunc() == *n), "{name}: host bits set");
        }
    }

    #[test]
    fn refusals() {
        assert_eq!(
            TrustedProxies::new(["10.0.0.0/8", "nope"], false).unwrap_err(),
            (1, TrustError::Unparsable("nope".into()))
        );
        assert_eq!(
            TrustedProxies::new(["::/0"], false).unwrap_err(),
            (0, TrustError::TrustAll("::/0".into()))
        );
        assert!(TrustedProxies::new(["0.0.0.0/0"], true).unwrap().contains(ip("192.0.2.1")));
        // Issue #13: halves (or any split) that cover a whole family are trust-all too.
        let halves = TrustedProxies::new(["0.0.0.0/2", "10.0.0.0/8", "64.0.0.0/2"], false).unwrap_err();
        assert_eq!(halves.0, 2);
        assert_eq!(
            halves.1.to_string(),
            "`64.0.0.0/2` (with any entries before it) covers all or most of IPv4, so any client could spoof its IP; \
             set `allowTrustAll: true` if you mean it"
        );
        let v6 = ["::/1", "8000::/2", "c000::/2"];
        assert_eq!(TrustedProxies::new(v6, false).unwrap_err().0, 0, "::/1 holds all of 2000::/3");
        assert!(TrustedProxies::new(v6, true).is_ok());
        assert!(TrustedProxies::new(["0.0.0.0/2", "2600::/8", "private", "cloudflare"], false).is_ok());
        for most in [&["0.0.0.0/1", "128.0.0.0/2", "192.0.0.0/3"][..], &["2000::/3"], &["0.0.0.0/1"]] {
            assert!(TrustedProxies::new(most, false).is_err(), "{most:?} trusts most of the Internet");
        }
        assert_eq!(
            TrustError::Unparsable("x".into()).to_string(),
            "`x` is not a CIDR, an IP address or a preset (loopback, private, kind, cloudflare)"
        );
    }
}
