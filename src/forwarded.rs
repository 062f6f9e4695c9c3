//! Parsing forwarding chains: `X-Forwarded-For` and RFC 7239 `Forwarded`.
//!
//! Both produce a [`Chain`]: the hops in arrival order (leftmost = farthest
//! from us). Several header lines are one list joined in order (RFC 9110
//! §5.3). Empty list elements (`a,,b`, trailing commas) are skipped, as nginx,
//! Envoy and Traefik do; everything else that is not an address stays in the
//! chain as an invalid hop, because the resolver must stop there.
//!
//! Quoting: `X-Forwarded-For` has no quoted-string syntax, so it is split on
//! every comma and space, exactly where nginx `realip` splits it
//! (`ngx_http_get_forwarded_addr_internal`); a quoted token is an invalid hop. `Forwarded` values may be quoted, so
//! its commas inside quotes do not split, except on a line whose quotes do
//! not balance: a client could otherwise open a quote and swallow the
//! elements its proxies append after it.

use std::net::IpAddr;

use crate::addr::{InvalidNode, parse_forwarded_node, parse_node};

/// One element of a forwarding chain.
pub type Hop = Result<IpAddr, InvalidNode>;

/// A parsed forwarding chain, leftmost hop first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Chain {
    /// The hops, in header order.
    pub hops: Vec<Hop>,
}

impl Chain {
    /// True when no hop was present.
    pub fn is_empty(&self) -> bool {
        self.hops.is_empty()
    }

    /// Parses `X-Forwarded-For` lines: nodes separated by commas and spaces.
    ///
    /// # Examples
    /// ```
    /// use edgeguard::forwarded::Chain;
    /// let chain = Chain::from_xff(&[b"203.0.113.7, 10.0.0.1:443".as_slice(), b"unknown"]);
    /// assert_eq!(chain.hops.len(), 3);
    /// assert!(chain.hops[2].is_err());
    /// ```
    pub fn from_xff<V: AsRef<[u8]>>(lines: &[V]) -> Self {
        let mut hops = Vec::new();
        for line in lines {
            let line = line.as_ref();
            let first = hops.len();
            hops.extend(line.split(|&b| b == b',' || b == b' ').filter(|e| !e.is_empty()).map(|elem| {
                std::str::from_utf8(elem).map_err(|_| InvalidNode::Malformed).and_then(parse_node)
            }));
            // nginx never examines a line's first byte as a separator (its
            // backwards scan stops there), so a line starting with one ends
            // in an invalid leftmost hop: `,a` is one invalid hop, `,,a` is an
            // invalid hop left of `a`. Matching it keeps `X-Real-IP` exactly
            // what nginx `realip` gives.
            if let [b',' | b' ', second, ..] = line {
                if matches!(second, b',' | b' ') {
                    hops.insert(first, Err(InvalidNode::Malformed));
                } else if let Some(hop) = hops.get_mut(first) {
                    *hop = Err(InvalidNode::Malformed);
                }
            } else if line == b"," || line == b" " {
                hops.insert(first, Err(InvalidNode::Malformed));
            }
        }
        Self { hops }
    }

    /// Parses RFC 7239 `Forwarded` lines. Each element contributes its `for=`
    /// parameter (case-insensitive name); an element without `for=`, or with
    /// a repeated `for=`, is an invalid hop because it vouches for nobody.
    ///
    /// # Examples
    /// ```
    /// use edgeguard::forwarded::Chain;
    /// let chain = Chain::from_forwarded(&[b"for=192.0.2.60;proto=http, For=\"[2001:db8::1]:4711\"".as_slice()]);
    /// assert_eq!(chain.hops[1].unwrap().to_string(), "2001:db8::1");
    /// ```
    pub fn from_forwarded<V: AsRef<[u8]>>(lines: &[V]) -> Self {
        let hops = lines
            .iter()
            .flat_map(|line| split_list(line.as_ref(), balanced_quotes(line.as_ref())))
            .map(forwarded_for)
            .collect();
        Self { hops }
    }
}

/// The `for=` node of one `Forwarded` element.
fn forwarded_for(element: &[u8]) -> Hop {
    let mut found = None;
    for pair in split_quoted(element, b';', true) {
        let pair = trim(pair);
        let Some(eq) = pair.iter().position(|&b| b == b'=') else {
            return Err(InvalidNode::Malformed);
        };
        if trim(&pair[..eq]).eq_ignore_ascii_case(b"for") {
            if found.is_some() {
                return Err(InvalidNode::Malformed);
            }
            found = Some(trim(&pair[eq + 1..]));
        }
    }
    let value = found.ok_or(InvalidNode::Malformed)?;
    std::str::from_utf8(value).map_err(|_| InvalidNode::Malformed).and_then(parse_forwarded_node)
}

/// Splits a comma list (honouring quoted strings if `quoted`) and drops empty elements.
fn split_list(line: &[u8], quoted: bool) -> impl Iterator<Item = &[u8]> {
    split_quoted(line, b',', quoted).map(trim).filter(|e| !e.is_empty())
}

/// True when every quoted string on the line is closed.
fn balanced_quotes(line: &[u8]) -> bool {
    let mut in_quotes = false;
    let mut bytes = line.iter();
    while let Some(&b) = bytes.next() {
        match b {
            b'\\' if in_quotes => {
                bytes.next();
            }
            b'"' => in_quotes = !in_quotes,
            _ => {}
        }
    }
    !in_quotes
}

/// Splits on `sep`, outside double quotes when `quoted` (with `\` escapes
/// inside quotes, RFC 9110 §5.6.4).
fn split_quoted(input: &[u8], sep: u8, quoted: bool) -> impl Iterator<Item = &[u8]> {
    let mut start = 0;
    let mut pos = 0;
    let mut in_quotes = false;
    let mut done = false;
    std::iter::from_fn(move || {
        while pos < input.len() {
            let b = input[pos];
            pos += 1;
            match b {
                b'\\' if in_quotes => pos += 1,
                b'"' if quoted => in_quotes = !in_quotes,
                _ if b == sep && !in_quotes => {
                    let item = &input[start..pos - 1];
                    start = pos;
                    return Some(item);
                }
                _ => {}
            }
        }
        if done {
            return None;
        }
        done = true;
        Some(&input[start.min(input.len())..])
    })
}

fn trim(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(chain: &Chain) -> Vec<String> {
        chain.hops.iter().map(|h| h.map_or_else(|e| format!("!{e}"), |ip| ip.to_string())).collect()
    }

    #[test]
    fn xff_table() {
        let cases: &[(&str, &[&str], &[&str])] = &[
            ("single", &["192.0.2.1"], &["192.0.2.1"]),
            (
                "two lines joined in order",
                &["192.0.2.1, 10.0.0.1", "10.0.0.2"],
                &["192.0.2.1", "10.0.0.1", "10.0.0.2"],
            ),
            ("empty elements skipped", &["192.0.2.1,, ,10.0.0.1,"], &["192.0.2.1", "10.0.0.1"]),
            (
                "leading comma glues to the first hop (nginx)",
                &[",192.0.2.1, 10.0.0.1"],
                &["!malformed", "10.0.0.1"],
            ),
            ("leading separators, then a hop (nginx)", &[",,192.0.2.1"], &["!malformed", "192.0.2.1"]),
            ("a lone comma (nginx)", &[","], &["!malformed"]),
            ("ports", &["192.0.2.1:5000, [2001:db8::2]:80"], &["192.0.2.1", "2001:db8::2"]),
            ("tab inside an element (nginx)", &["192.0.2.1,\t10.0.0.1"], &["192.0.2.1", "!malformed"]),
            (
                "spaces separate like nginx",
                &["192.0.2.1 10.0.0.1  ,10.0.0.2"],
                &["192.0.2.1", "10.0.0.1", "10.0.0.2"],
            ),
            ("quoted token invalid", &["\"192.0.2.1\", 10.0.0.1"], &["!malformed", "10.0.0.1"]),
            ("port zero invalid", &["192.0.2.1:0"], &["!malformed"]),
            (
                "garbage kept as invalid",
                &["192.0.2.1, bogus, unknown, _x"],
                &["192.0.2.1", "!malformed", "!unknown", "!obfuscated"],
            ),
            ("empty header", &[""], &[]),
        ];
        for (desc, lines, want) in cases {
            let lines: Vec<&[u8]> = lines.iter().map(|l| l.as_bytes()).collect();
            assert_eq!(show(&Chain::from_xff(&lines)), *want, "{desc}: {lines:?}");
        }
    }

    #[test]
    fn forwarded_table() {
        let cases: &[(&str, &str, &[&str])] = &[
            ("rfc example", "for=192.0.2.43, for=198.51.100.17", &["192.0.2.43", "198.51.100.17"]),
            ("params and case", "For=192.0.2.60;proto=http;by=203.0.113.43", &["192.0.2.60"]),
            ("quoted v6 port", "for=\"[2001:db8:cafe::17]:4711\"", &["2001:db8:cafe::17"]),
            ("unknown", "for=unknown, for=192.0.2.1", &["!unknown", "192.0.2.1"]),
            ("empty for", "for=\"\", for=", &["!malformed", "!malformed"]),
            ("obfuscated", "for=_hidden, for=\"_SEVKISEK\"", &["!obfuscated", "!obfuscated"]),
            ("element without for", "proto=https, for=192.0.2.1", &["!malformed", "192.0.2.1"]),
            ("duplicate for", "for=192.0.2.1;for=192.0.2.2", &["!malformed"]),
            ("pair without equals", "for=192.0.2.1;secure", &["!malformed"]),
            ("comma inside quotes", "for=\"192.0.2.1,x\", for=192.0.2.2", &["!malformed", "192.0.2.2"]),
            ("spaces around", " for=192.0.2.1 ;  proto=http ,for=192.0.2.2 ", &["192.0.2.1", "192.0.2.2"]),
            (
                "unbalanced quote cannot swallow appended hops",
                "for=\"evil, for=192.0.2.2",
                &["!malformed", "192.0.2.2"],
            ),
            (
                "escaped quote inside quotes",
                "for=192.0.2.1;ext=\"a\\\",b\", for=192.0.2.2",
                &["192.0.2.1", "192.0.2.2"],
            ),
        ];
        for (desc, line, want) in cases {
            assert_eq!(show(&Chain::from_forwarded(&[line.as_bytes()])), *want, "{desc}: {line:?}");
        }
    }

    #[test]
    fn non_utf8_is_malformed_not_a_panic() {
        let chain = Chain::from_xff(&[b"\xff\xfe, 192.0.2.1".as_slice()]);
        assert_eq!(show(&chain), ["!malformed", "192.0.2.1"]);
    }
}
