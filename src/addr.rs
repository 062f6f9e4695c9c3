//! Parsing one address as it appears in a forwarding chain or as the TCP peer.
//!
//! Three grammars, one parser ([`Grammar`]):
//! - a chain element of `X-Forwarded-For` ([`parse_node`]): `192.0.2.1`,
//!   `192.0.2.1:8080`, `2001:db8::1`, `[2001:db8::1]`, `[2001:db8::1]:4711`.
//!   The header has no quoting syntax, so a quoted token (`"192.0.2.1"`) is
//!   invalid, as are port `0`, obfuscated ports and zone ids (`fe80::1%eth0`,
//!   `192.0.2.1%x`): nginx `realip`, Envoy and Go's `net.ParseIP` refuse them,
//!   and a real proxy never writes them.
//! - a `for=` node of RFC 7239 `Forwarded` ([`parse_forwarded_node`]): the
//!   same plus one pair of quotes and obfuscated `_ports` (RFC 7239 §6).
//! - the TCP peer as the host reports it ([`parse_peer`]): the same as
//!   `X-Forwarded-For`, plus an IPv6 zone id (dropped), which Go reports for
//!   link-local peers.
//!
//! IPv4-mapped IPv6 (`::ffff:192.0.2.1`) becomes the IPv4 address, so one
//! trust rule and one output form cover both. IPv4 is parsed strictly by
//! `std` (no leading zeros, no shorthand): `010.0.0.1` is invalid, unlike
//! nginx's `inet_aton`-style parsing, because such a token never comes from a
//! real proxy and ambiguity is what spoofing exploits.

use std::fmt;
use std::net::IpAddr;

/// Why a chain element is not a usable address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InvalidNode {
    /// RFC 7239 `unknown`: the proxy did not know the address.
    Unknown,
    /// RFC 7239 obfuscated identifier (`_hidden`).
    Obfuscated,
    /// Anything else that is not an IP address (garbage, bad port, overlong).
    Malformed,
}

impl fmt::Display for InvalidNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Unknown => "unknown",
            Self::Obfuscated => "obfuscated",
            Self::Malformed => "malformed",
        })
    }
}

/// Longest token worth parsing: a bracketed IPv6 with zone id and port fits well within it.
const MAX_NODE_LEN: usize = 128;

/// Where a token comes from, which decides the spellings it may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Grammar {
    XForwardedFor,
    Forwarded,
    Peer,
}

/// Parses one `X-Forwarded-For` element. See the module docs for the accepted forms.
///
/// # Examples
/// ```
/// use edgeguard::addr::{parse_node, InvalidNode};
/// assert_eq!(parse_node("[2001:db8::1]:4711").unwrap().to_string(), "2001:db8::1");
/// assert_eq!(parse_node("::ffff:192.0.2.7").unwrap().to_string(), "192.0.2.7");
/// assert_eq!(parse_node("unknown"), Err(InvalidNode::Unknown));
/// assert_eq!(parse_node("010.0.0.1"), Err(InvalidNode::Malformed));
/// assert_eq!(parse_node("\"192.0.2.7\""), Err(InvalidNode::Malformed));
/// assert_eq!(parse_node("192.0.2.7:0"), Err(InvalidNode::Malformed));
/// ```
pub fn parse_node(token: &str) -> Result<IpAddr, InvalidNode> {
    parse(token, Grammar::XForwardedFor)
}

/// Parses one RFC 7239 `for=` value (quotes and obfuscated ports allowed).
///
/// # Examples
/// ```
/// use edgeguard::addr::{parse_forwarded_node, InvalidNode};
/// assert_eq!(parse_forwarded_node("\"[2001:db8::1]:4711\"").unwrap().to_string(), "2001:db8::1");
/// assert_eq!(parse_forwarded_node("\"\""), Err(InvalidNode::Malformed));
/// ```
pub fn parse_forwarded_node(token: &str) -> Result<IpAddr, InvalidNode> {
    parse(token, Grammar::Forwarded)
}

/// Parses the TCP peer as a host reports it (`ip:port`, `[v6%zone]:port`, a bare IP).
///
/// # Examples
/// ```
/// use edgeguard::addr::parse_peer;
/// assert_eq!(parse_peer("[fe80::1%eth0]:443").unwrap().to_string(), "fe80::1");
/// assert!(parse_peer("192.0.2.1%eth0:443").is_err());
/// ```
pub fn parse_peer(token: &str) -> Result<IpAddr, InvalidNode> {
    parse(token, Grammar::Peer)
}

fn parse(token: &str, grammar: Grammar) -> Result<IpAddr, InvalidNode> {
    // nginx splits `X-Forwarded-For` on commas and spaces only, so a tab
    // inside an element makes it invalid there too; the other grammars allow
    // HTTP's optional whitespace (SP / HTAB) around a value.
    let token = match grammar {
        Grammar::XForwardedFor => token.trim_matches(' '),
        Grammar::Forwarded => unquote(token.trim_matches([' ', '\t'])),
        Grammar::Peer => token.trim_matches([' ', '\t']),
    };
    if token.len() > MAX_NODE_LEN {
        return Err(InvalidNode::Malformed);
    }
    if token.eq_ignore_ascii_case("unknown") {
        return Err(InvalidNode::Unknown);
    }
    if token.starts_with('_') {
        return Err(InvalidNode::Obfuscated);
    }
    let host = if let Some(rest) = token.strip_prefix('[') {
        let (host, after) = split_once(rest, b']').ok_or(InvalidNode::Malformed)?;
        if !after.is_empty() {
            check_port(after.strip_prefix(':').ok_or(InvalidNode::Malformed)?, grammar)?;
        }
        // In `X-Forwarded-For`, brackets come with a port, around any
        // address (`[192.0.2.1]:80` included), exactly as nginx's
        // `ngx_parse_addr_port` reads them; RFC 7239 brackets IPv6 only.
        let bracket_ok = match grammar {
            Grammar::XForwardedFor => !after.is_empty(),
            Grammar::Forwarded | Grammar::Peer => host.as_bytes().contains(&b':'),
        };
        if !bracket_ok {
            return Err(InvalidNode::Malformed);
        }
        host
    } else if let Some((host, port)) = split_once(token, b':').filter(|(_, p)| !p.as_bytes().contains(&b':'))
    {
        // Exactly one colon: IPv4 with a port (ALB and others may append one).
        check_port(port, grammar)?;
        host
    } else {
        token
    };
    let (host, zone) = split_once(host, b'%').map_or((host, None), |(addr, zone)| (addr, Some(zone)));
    let ip: IpAddr = host.parse().map_err(|_| InvalidNode::Malformed)?;
    // nginx's `ngx_inet_addr` returns INADDR_NONE for the broadcast address,
    // so `realip` treats it as invalid; no client has it.
    if grammar == Grammar::XForwardedFor && ip == IpAddr::from([255, 255, 255, 255]) {
        return Err(InvalidNode::Malformed);
    }
    // A zone id names an interface of the host that wrote it: meaningless in a
    // chain, and on IPv4 not an address at all (`203.0.113.9%evil`).
    if zone.is_some() && (grammar != Grammar::Peer || ip.is_ipv4() || zone == Some("")) {
        return Err(InvalidNode::Malformed);
    }
    Ok(canonical(ip))
}

/// Maps IPv4-mapped IPv6 addresses to IPv4; everything else is unchanged.
pub const fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => ip,
        },
        v4 => v4,
    }
}

/// Appends `ip` as its `Display` spells it. IPv4 is written by hand: it is
/// written on every request, and `Display` (which supports padding) costs
/// ten times as much.
pub fn push_ip(out: &mut String, ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => {
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    out.push('.');
                }
                if octet >= 100 {
                    out.push(char::from(b'0' + octet / 100));
                }
                if octet >= 10 {
                    out.push(char::from(b'0' + octet / 10 % 10));
                }
                out.push(char::from(b'0' + octet % 10));
            }
        }
        IpAddr::V6(v6) => {
            use fmt::Write as _;
            let _ = write!(out, "{v6}");
        }
    }
}

/// `s` around its first `sep` (ASCII). For tokens this short, a byte loop
/// is a fraction of what `str::split_once` with a `char` pattern costs.
fn split_once(s: &str, sep: u8) -> Option<(&str, &str)> {
    let i = s.bytes().position(|b| b == sep)?;
    Some((&s[..i], &s[i + 1..]))
}

fn unquote(token: &str) -> &str {
    token.strip_prefix('"').and_then(|t| t.strip_suffix('"')).unwrap_or(token)
}

/// A port: 1–65535 in decimal (nginx's `ngx_parse_addr_port` also takes
/// leading zeros and refuses 0), or in `Forwarded` an obfuscated `_port`
/// (RFC 7239 §6.3).
fn check_port(port: &str, grammar: Grammar) -> Result<(), InvalidNode> {
    let obfuscated = grammar == Grammar::Forwarded
        && port.len() > 1
        && port.starts_with('_')
        && port[1..].bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-');
    let digits = port.trim_start_matches('0');
    let numeric = !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) && digits.len() <= 5;
    // The host reports the TCP peer; port 0 there is odd but not the client's choice.
    let lowest = if grammar == Grammar::Peer { 0 } else { 1 };
    let value = if digits.is_empty() { Some(0) } else { digits.parse::<u32>().ok() };
    if obfuscated || (numeric && value.is_some_and(|p| (lowest..=65535).contains(&p))) {
        Ok(())
    } else {
        Err(InvalidNode::Malformed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_ip_is_display() {
        for ip in ["0.0.0.0", "9.10.99.100", "255.255.255.255", "2001:db8::1", "::ffff:192.0.2.1"] {
            let ip: IpAddr = ip.parse().unwrap();
            let mut out = String::from("x");
            push_ip(&mut out, ip);
            assert_eq!(out, format!("x{ip}"));
        }
    }

    #[test]
    fn table() {
        // (description, input, (X-Forwarded-For, Forwarded, peer) results).
        use InvalidNode::*;
        const BAD: Result<&str, InvalidNode> = Err(Malformed);
        let same = |want| (want, want, want);
        let cases = [
            ("ipv4", "192.0.2.1", same(Ok("192.0.2.1"))),
            ("ipv4 spaces", "  192.0.2.1 ", same(Ok("192.0.2.1"))),
            ("ipv4 tab (nginx: part of the token)", "192.0.2.1\t", (BAD, Ok("192.0.2.1"), Ok("192.0.2.1"))),
            ("ipv4 port", "192.0.2.1:443", same(Ok("192.0.2.1"))),
            ("ipv4 port max", "192.0.2.1:65535", same(Ok("192.0.2.1"))),
            ("ipv4 port leading zeros (nginx ngx_atoi)", "192.0.2.1:000080", same(Ok("192.0.2.1"))),
            ("ipv4 port zero", "192.0.2.1:0", (BAD, BAD, Ok("192.0.2.1"))),
            ("ipv4 port zeros", "192.0.2.1:000", (BAD, BAD, Ok("192.0.2.1"))),
            ("ipv4 port too big", "192.0.2.1:65536", same(BAD)),
            ("ipv4 port huge", "192.0.2.1:99999999999999999999", same(BAD)),
            ("ipv4 empty port", "192.0.2.1:", same(BAD)),
            ("ipv4 obfuscated port", "192.0.2.1:_p1", (BAD, Ok("192.0.2.1"), BAD)),
            ("ipv4 leading zero", "192.0.02.1", same(BAD)),
            ("ipv4 short", "192.0.2", same(BAD)),
            (
                "ipv4 broadcast (nginx INADDR_NONE)",
                "255.255.255.255",
                (BAD, Ok("255.255.255.255"), Ok("255.255.255.255")),
            ),
            ("ipv4 zone", "203.0.113.9%evil", same(BAD)),
            ("ipv4 zone port", "203.0.113.9%evil:80", same(BAD)),
            ("ipv6", "2001:db8::1", same(Ok("2001:db8::1"))),
            (
                "ipv6 brackets without port (nginx)",
                "[2001:db8::1]",
                (BAD, Ok("2001:db8::1"), Ok("2001:db8::1")),
            ),
            ("ipv6 brackets port", "[2001:db8::1]:4711", same(Ok("2001:db8::1"))),
            ("ipv6 brackets port zero", "[2001:db8::1]:0", (BAD, BAD, Ok("2001:db8::1"))),
            ("quoted ipv6 port", "\"[2001:db8::1]:4711\"", (BAD, Ok("2001:db8::1"), BAD)),
            ("quoted ipv4", "\"192.0.2.1\"", (BAD, Ok("192.0.2.1"), BAD)),
            ("empty quotes", "\"\"", same(BAD)),
            ("ipv6 zone", "fe80::1%eth0", (BAD, BAD, Ok("fe80::1"))),
            ("ipv6 zone brackets", "[fe80::1%25eth0]:80", (BAD, BAD, Ok("fe80::1"))),
            ("ipv6 zone brackets no port", "[fe80::1%eth0]", (BAD, BAD, Ok("fe80::1"))),
            ("ipv6 empty zone", "fe80::1%", same(BAD)),
            ("ipv6 unclosed", "[2001:db8::1", same(BAD)),
            ("ipv6 junk after bracket", "[2001:db8::1]x", same(BAD)),
            ("ipv4 in brackets", "[192.0.2.1]", same(BAD)),
            ("ipv4 in brackets with port (nginx)", "[192.0.2.1]:80", (Ok("192.0.2.1"), BAD, BAD)),
            ("mapped", "::ffff:192.0.2.9", same(Ok("192.0.2.9"))),
            ("mapped brackets port", "[::ffff:c000:209]:1", same(Ok("192.0.2.9"))),
            ("unknown", "unknown", same(Err(Unknown))),
            ("unknown upper", "UNKNOWN", same(Err(Unknown))),
            ("obfuscated", "_hidden", same(Err(Obfuscated))),
            ("garbage", "not-an-ip", same(BAD)),
            ("empty", "", same(BAD)),
        ];
        let overlong = "1".repeat(MAX_NODE_LEN + 1);
        let cases = cases.into_iter().chain([("overlong", overlong.as_str(), same(BAD))]);
        for (desc, input, (xff, fwd, peer)) in cases {
            let show = |r: Result<IpAddr, InvalidNode>| r.map(|ip| ip.to_string());
            for (grammar, got, want) in [
                ("xff", show(parse_node(input)), xff),
                ("forwarded", show(parse_forwarded_node(input)), fwd),
                ("peer", show(parse_peer(input)), peer),
            ] {
                assert_eq!(got.as_deref().map_err(|e| *e), want, "{desc}: {grammar} {input:?}");
            }
        }
    }
}
