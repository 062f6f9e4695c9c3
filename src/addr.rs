//! Parsing one address as it appears in a forwarding chain or as the TCP peer.
//!
//! Accepted spellings (after trimming optional whitespace and one pair of
//! RFC 7239 quotes): `192.0.2.1`, `192.0.2.1:8080`, `2001:db8::1`,
//! `[2001:db8::1]`, `[2001:db8::1]:4711`, `fe80::1%eth0` (zone dropped).
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

/// Parses one node. See the module docs for the accepted forms.
///
/// # Examples
/// ```
/// use edgeguard::addr::{parse_node, InvalidNode};
/// assert_eq!(parse_node("\"[2001:db8::1]:4711\"").unwrap().to_string(), "2001:db8::1");
/// assert_eq!(parse_node("::ffff:192.0.2.7").unwrap().to_string(), "192.0.2.7");
/// assert_eq!(parse_node("unknown"), Err(InvalidNode::Unknown));
/// assert_eq!(parse_node("010.0.0.1"), Err(InvalidNode::Malformed));
/// ```
pub fn parse_node(token: &str) -> Result<IpAddr, InvalidNode> {
    let token = unquote(token.trim());
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
        let (host, after) = rest.split_once(']').ok_or(InvalidNode::Malformed)?;
        if !after.is_empty() {
            check_port(after.strip_prefix(':').ok_or(InvalidNode::Malformed)?)?;
        }
        if !host.contains(':') {
            return Err(InvalidNode::Malformed); // brackets are for IPv6 only
        }
        host
    } else if let Some((host, port)) = token.split_once(':').filter(|(_, p)| !p.contains(':')) {
        // Exactly one colon: IPv4 with a port (ALB and others may append one).
        check_port(port)?;
        host
    } else {
        token
    };
    let host = host.split_once('%').map_or(host, |(addr, _zone)| addr);
    let ip: IpAddr = host.parse().map_err(|_| InvalidNode::Malformed)?;
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

fn unquote(token: &str) -> &str {
    token.strip_prefix('"').and_then(|t| t.strip_suffix('"')).unwrap_or(token)
}

/// RFC 7239 `node-port`: 1–5 digits (≤ 65535) or an obfuscated `_port`.
fn check_port(port: &str) -> Result<(), InvalidNode> {
    let obfuscated = port.len() > 1
        && port.starts_with('_')
        && port[1..].bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-');
    let numeric = (1..=5).contains(&port.len()) && port.bytes().all(|b| b.is_ascii_digit());
    if obfuscated || (numeric && port.parse::<u32>().is_ok_and(|p| p <= 65535)) {
        Ok(())
    } else {
        Err(InvalidNode::Malformed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        struct Case {
            desc: &'static str,
            input: &'static str,
            want: Result<&'static str, InvalidNode>,
        }
        use InvalidNode::*;
        let cases = [
            Case { desc: "ipv4", input: "192.0.2.1", want: Ok("192.0.2.1") },
            Case { desc: "ipv4 spaces", input: "  192.0.2.1\t", want: Ok("192.0.2.1") },
            Case { desc: "ipv4 port", input: "192.0.2.1:443", want: Ok("192.0.2.1") },
            Case { desc: "ipv4 port max", input: "192.0.2.1:65535", want: Ok("192.0.2.1") },
            Case { desc: "ipv4 port too big", input: "192.0.2.1:65536", want: Err(Malformed) },
            Case { desc: "ipv4 empty port", input: "192.0.2.1:", want: Err(Malformed) },
            Case { desc: "ipv4 obfuscated port", input: "192.0.2.1:_p1", want: Ok("192.0.2.1") },
            Case { desc: "ipv4 leading zero", input: "192.0.02.1", want: Err(Malformed) },
            Case { desc: "ipv4 short", input: "192.0.2", want: Err(Malformed) },
            Case { desc: "ipv6", input: "2001:db8::1", want: Ok("2001:db8::1") },
            Case { desc: "ipv6 brackets", input: "[2001:db8::1]", want: Ok("2001:db8::1") },
            Case { desc: "ipv6 brackets port", input: "[2001:db8::1]:4711", want: Ok("2001:db8::1") },
            Case { desc: "quoted ipv6 port", input: "\"[2001:db8::1]:4711\"", want: Ok("2001:db8::1") },
            Case { desc: "ipv6 zone", input: "fe80::1%eth0", want: Ok("fe80::1") },
            Case { desc: "ipv6 zone brackets", input: "[fe80::1%25eth0]:80", want: Ok("fe80::1") },
            Case { desc: "ipv6 unclosed", input: "[2001:db8::1", want: Err(Malformed) },
            Case { desc: "ipv6 junk after bracket", input: "[2001:db8::1]x", want: Err(Malformed) },
            Case { desc: "ipv4 in brackets", input: "[192.0.2.1]", want: Err(Malformed) },
            Case { desc: "mapped", input: "::ffff:192.0.2.9", want: Ok("192.0.2.9") },
            Case { desc: "mapped brackets port", input: "[::ffff:c000:209]:1", want: Ok("192.0.2.9") },
            Case { desc: "unknown", input: "unknown", want: Err(Unknown) },
            Case { desc: "unknown upper", input: "UNKNOWN", want: Err(Unknown) },
            Case { desc: "obfuscated", input: "_hidden", want: Err(Obfuscated) },
            Case { desc: "garbage", input: "not-an-ip", want: Err(Malformed) },
            Case { desc: "empty", input: "", want: Err(Malformed) },
            Case {
                desc: "overlong",
                input: "1111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111",
                want: Err(Malformed),
            },
        ];
        for c in cases {
            let got = parse_node(c.input).map(|ip| ip.to_string());
            assert_eq!(got.as_deref().map_err(|e| *e), c.want, "{}: parse_node({:?})", c.desc, c.input);
        }
    }
}
