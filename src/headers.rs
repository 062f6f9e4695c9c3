//! Header names EdgeGuard reads, sets or removes, declared once for every front-end.

use crate::request::{HeaderEdit, RequestView};

/// RFC 7239 forwarding header.
pub const FORWARDED: &str = "Forwarded";
/// The de-facto forwarding chain header.
pub const X_FORWARDED_FOR: &str = "X-Forwarded-For";
/// Default client-IP output header; also a single-address source.
pub const X_REAL_IP: &str = "X-Real-IP";
/// Cloudflare's single-address client header.
pub const CF_CONNECTING_IP: &str = "CF-Connecting-IP";
/// Akamai/Cloudflare Enterprise single-address client header.
pub const TRUE_CLIENT_IP: &str = "True-Client-IP";

/// The conventional name of `geo.dbInfoHeader` (off by default): a client's
/// copy is removed even when EdgeGuard does not set it.
pub const X_GEO_DB: &str = "X-Geo-DB";

/// EdgeGuard's signature over the identity headers (`signing`); always
/// removed from what clients send.
pub const X_EDGEGUARD_SIGNATURE: &str = "X-EdgeGuard-Signature";

/// Client-identity headers only EdgeGuard sets: removed from every request
/// (in every spelling, see [`ManagedHeaders`]), whoever the peer.
pub const IDENTITY: &[&str] = &[
    X_REAL_IP,
    "X-Client-IP",
    TRUE_CLIENT_IP,
    CF_CONNECTING_IP,
    FORWARDED,
    "X-Original-Forwarded-For",
    "X-EdgeGuard-Trace",
];

/// What happens to the exact spelling of a managed name when it arrives.
/// Any other spelling (`X_Real-IP`, `X.Real.IP`, `X~Real~IP`) is always removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Arrival {
    /// Only EdgeGuard sets it: removed from every peer.
    Removed,
    /// The chain a trusted proxy wrote: kept from a trusted peer (the
    /// client-IP stage reads and rewrites it), removed from any other.
    KeptFromTrusted,
    /// Left to the client-IP stage from every peer (`X-Forwarded-For` with
    /// `forwardedFor: off`).
    Kept,
}

/// Every header name EdgeGuard manages, normalised once at init: ASCII
/// lower case with every character other than a letter or digit read as
/// `-`, the way CGI, WSGI, PHP, nginx variables and Apache's `http2env`
/// fold names (`X_Real.IP` and `X~Real~IP` reach a backend as `X-Real-IP`;
/// Traefik's `aliasHeadersStrategy` treats all of `` !#$%&'*+.^_`|~ `` so). [`ManagedHeaders::strip`] makes one pass over the names a
/// request carries and asks of each "is this one of mine?", as Traefik's
/// `isManagedXHeader` does, instead of asking the host about every name.
///
/// # Examples
/// ```
/// use edgeguard::headers::{Arrival, ManagedHeaders};
/// use edgeguard::{HeaderEdit, OwnedRequest};
/// let managed = ManagedHeaders::new([("X-Real-IP", Arrival::Removed), ("X-Forwarded-For", Arrival::KeptFromTrusted)]);
/// let req = OwnedRequest::new("192.0.2.1:1").header("x.real_IP", "6.6.6.6").header("X-Forwarded-For", "6.6.6.6");
/// let mut edits = Vec::new();
/// managed.strip(&req, true, &mut edits);
/// assert_eq!(edits, [HeaderEdit::Remove("x.real_IP".into())]);
/// ```
#[derive(Debug, Clone, Default)]
pub struct ManagedHeaders {
    /// The normalised names back to back, shortest first.
    keys: Box<[u8]>,
    /// Where each name starts in `keys` (its length is its group's), with
    /// what its exact spelling gets.
    names: Vec<(usize, Arrival)>,
    /// `names[by_len[n]..by_len[n + 1]]` are the names of `n` bytes: a
    /// request header is compared with the few of its own length only.
    by_len: Vec<usize>,
}

impl ManagedHeaders {
    /// Builds the set. A name listed twice keeps the most permissive arrival
    /// (the chain source a trusted proxy writes must survive the strip).
    ///
    /// Every wasm instance builds this set of some forty names at init
    /// (issue #14), so: collected whole (a filter would walk down the chain
    /// of iterators per name and regrow the vector), one sort by length, each
    /// name folded once into one byte arena and compared only with those of
    /// its length.
    pub fn new<'a>(names: impl IntoIterator<Item = (&'a str, Arrival)>) -> Self {
        let mut given: Vec<(&str, Arrival)> = names.into_iter().collect();
        given.sort_unstable_by_key(|(name, _)| name.len());
        let mut keys = Vec::with_capacity(given.iter().map(|(name, _)| name.len()).sum());
        let mut out: Vec<(usize, Arrival)> = Vec::with_capacity(given.len());
        let mut by_len = Vec::new();
        for (name, arrival) in given.into_iter().filter(|(name, _)| !name.is_empty()) {
            let (n, at) = (name.len(), keys.len());
            by_len.resize(n + 1, out.len());
            keys.extend(name.bytes().map(|b| FOLD[usize::from(b)]));
            let (seen, key) = keys.split_at(at);
            let group = out.get_mut(by_len.get(n).copied().unwrap_or_default()..).unwrap_or_default();
            match group.iter_mut().find(|(start, _)| seen.get(*start..*start + n) == Some(key)) {
                Some((_, kept)) => {
                    *kept = (*kept).max_permissive(arrival);
                    keys.truncate(at);
                }
                None => out.push((at, arrival)),
            }
        }
        by_len.push(out.len());
        Self { keys: keys.into_boxed_slice(), names: out, by_len }
    }

    /// What a request header `name` is to EdgeGuard, if it manages it.
    pub fn lookup(&self, name: &[u8]) -> Option<Arrival> {
        let n = name.len();
        let (Some(&start), Some(&end)) = (self.by_len.get(n), self.by_len.get(n + 1)) else {
            return None;
        };
        // Managed names share their start (`X-`): compared from the end, most differ at once.
        let folded_eq =
            |key: &[u8]| key.iter().rev().zip(name.iter().rev()).all(|(&k, &b)| k == FOLD[usize::from(b)]);
        let names = self.names.get(start..end)?;
        names
            .iter()
            .find(|&&(at, _)| self.keys.get(at..at + n).is_some_and(folded_eq))
            .map(|&(_, arrival)| arrival)
    }

    /// Pushes a removal of every managed header on `req` that must not reach
    /// the backend, under the spelling it arrived with.
    pub fn strip(&self, req: &impl RequestView, peer_trusted: bool, edits: &mut Vec<HeaderEdit>) {
        req.visit_header_names(&mut |name| {
            let Some(arrival) = self.lookup(name.as_bytes()) else { return };
            let exact = name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
            let keep = exact
                && match arrival {
                    Arrival::Removed => false,
                    Arrival::KeptFromTrusted => peer_trusted,
                    Arrival::Kept => true,
                };
            if !keep {
                edits.push(HeaderEdit::Remove(name.into()));
            }
        });
    }

    /// Number of distinct managed names.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// True when nothing is managed.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

impl Arrival {
    const fn max_permissive(self, other: Self) -> Self {
        match (self, other) {
            (Self::Kept, _) | (_, Self::Kept) => Self::Kept,
            (Self::KeptFromTrusted, _) | (_, Self::KeptFromTrusted) => Self::KeptFromTrusted,
            _ => Self::Removed,
        }
    }
}

/// One byte of a name as backends fold it.
const fn normalise(b: u8) -> u8 {
    if b.is_ascii_alphanumeric() { b.to_ascii_lowercase() } else { b'-' }
}

/// [`normalise`] of every byte, looked up per byte of every request header name.
const FOLD: [u8; 256] = {
    let mut table = [0; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = normalise(b as u8);
        b += 1;
    }
    table
};

/// Headers EdgeGuard must never set or strip under a configured name: HTTP
/// framing, routing and cookies, and the chain Traefik's proxy appends to.
const RESERVED: [&str; 9] = [
    "Host",
    "Cookie",
    "Connection",
    "Content-Length",
    "Transfer-Encoding",
    "Upgrade",
    "TE",
    "Trailer",
    X_FORWARDED_FOR,
];

/// Checks a configured name EdgeGuard writes or strips: a token (see
/// [`check_name`]), spelled with letters, digits and `-` only (any other
/// spelling is an alias EdgeGuard itself removes), and none of the
/// [`RESERVED`] headers in any spelling.
pub fn check_output_name(name: &str, allow_empty: bool) -> Result<(), String> {
    if name.is_empty() {
        return check_name(name, allow_empty);
    }
    // The usual spelling is a token too, so it takes one pass (every wasm
    // instance checks a dozen names at init, issue #14); any other is
    // refused, as a non-token first.
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        check_name(name, allow_empty)?;
        return Err(format!(
            "`{name}` is an alias spelling (backends read every `_` `.` and other separator as `-`): spell it with `-`"
        ));
    }
    if let Some(reserved) = RESERVED.iter().find(|r| r.eq_ignore_ascii_case(name)) {
        return Err(format!("`{name}` is `{reserved}`, which EdgeGuard must not overwrite or remove"));
    }
    Ok(())
}

/// Checks a configured header name: an RFC 9110 token. `allow_empty` is for
/// options where an empty name disables the output.
pub fn check_name(name: &str, allow_empty: bool) -> Result<(), String> {
    if name.is_empty() {
        return if allow_empty { Ok(()) } else { Err("header name is empty".into()) };
    }
    if is_token(name.as_bytes()) { Ok(()) } else { Err(format!("`{name}` is not a valid header name")) }
}

/// An RFC 9110 token (§5.6.2): a header name, a media type's type or subtype.
pub(crate) fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_are_one_name() {
        let managed = ManagedHeaders::new([
            ("X-Real-IP", Arrival::Removed),
            ("x-real-ip", Arrival::Removed),
            ("X-Forwarded-For", Arrival::KeptFromTrusted),
            ("X-Geo-Country", Arrival::Removed),
        ]);
        assert_eq!(managed.len(), 3);
        let cases: &[(&str, Option<Arrival>)] = &[
            ("X-Real-IP", Some(Arrival::Removed)),
            ("X_Real.ip", Some(Arrival::Removed)),
            ("x.real.ip", Some(Arrival::Removed)),
            ("X_FORWARDED_FOR", Some(Arrival::KeptFromTrusted)),
            ("x-geo_country", Some(Arrival::Removed)),
            ("X~Real!IP", Some(Arrival::Removed)),
            ("X|Forwarded`For", Some(Arrival::KeptFromTrusted)),
            ("X-Real-IPs", None),
            ("X-Forwarded-Fo", None),
            ("X-Forwarded-Fork", None),
            ("X-Forwarded-For-Longer-Than-Any", None),
            ("Y-Real-IP", None),
            ("X-Real", None),
            ("XReal-IP", None),
            ("", None),
        ];
        for (name, want) in cases {
            assert_eq!(managed.lookup(name.as_bytes()), *want, "{name}");
        }
        // Every one-byte change, insertion and deletion agrees with folding both sides.
        let fold = |n: &[u8]| n.iter().map(|&b| normalise(b)).collect::<Vec<u8>>();
        let keys = ["X-Real-IP", "X-Forwarded-For", "X-Geo-Country"].map(|k| fold(k.as_bytes()));
        for key in ["X-Real-IP", "X-Forwarded-For", "X-Geo-Country"] {
            for i in 0..=key.len() {
                for b in [b'-', b'_', b'.', b'~', b'a', b'R', b'0', 0xff] {
                    let (head, tail) = key.as_bytes().split_at(i);
                    let changed = [head, &[b], tail.get(1..).unwrap_or_default()].concat();
                    let inserted = [head, &[b], tail].concat();
                    let deleted = [head, tail.get(1..).unwrap_or_default()].concat();
                    for name in [changed, inserted, deleted] {
                        let want = keys.contains(&fold(&name));
                        assert_eq!(
                            managed.lookup(&name).is_some(),
                            want,
                            "{:?}",
                            String::from_utf8_lossy(&name)
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn strip_keeps_exact_chain_from_trusted_only() {
        use crate::request::OwnedRequest;
        let managed = ManagedHeaders::new([
            ("X-Forwarded-For", Arrival::KeptFromTrusted),
            ("X-Real-IP", Arrival::Removed),
        ]);
        let req = OwnedRequest::new("192.0.2.1:1")
            .header("X-Forwarded-For", "a")
            .header("X_Forwarded_For", "b")
            .header("X-Real-IP", "c")
            .header("Accept", "d");
        let removed = |trusted| {
            let mut edits = Vec::new();
            managed.strip(&req, trusted, &mut edits);
            edits
        };
        let rm = |n: &str| HeaderEdit::Remove(n.into());
        assert_eq!(removed(true), [rm("X_Forwarded_For"), rm("X-Real-IP")]);
        assert_eq!(removed(false), [rm("X-Forwarded-For"), rm("X_Forwarded_For"), rm("X-Real-IP")]);
    }

    #[test]
    fn header_names() {
        assert_eq!(check_name("X-Real-IP", false), Ok(()));
        assert_eq!(check_name("", true), Ok(()));
        assert_eq!(check_name("", false), Err("header name is empty".into()));
        assert_eq!(check_name("X Real", false), Err("`X Real` is not a valid header name".into()));
        assert_eq!(check_name("X-Ä", false), Err("`X-Ä` is not a valid header name".into()));
    }

    #[test]
    fn output_names() {
        let cases: &[(&str, bool, Option<&str>)] = &[
            ("X-Real-IP", false, None),
            ("", true, None),
            ("", false, Some("header name is empty")),
            ("X_Real_IP", false, Some("is an alias spelling")),
            ("X.Real", true, Some("is an alias spelling")),
            ("X Real", false, Some("is not a valid header name")),
            ("X-Ä", false, Some("is not a valid header name")),
            ("host", false, Some("is `Host`, which EdgeGuard must not overwrite")),
            ("X-FORWARDED-FOR", false, Some("is `X-Forwarded-For`")),
        ];
        for &(name, allow_empty, want) in cases {
            let got = check_output_name(name, allow_empty);
            match want {
                None => assert_eq!(got, Ok(()), "{name:?}"),
                Some(want) => assert!(got.as_ref().is_err_and(|e| e.contains(want)), "{name:?}: {got:?}"),
            }
        }
    }
}
