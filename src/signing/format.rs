//! The wire format (`docs/signing.md`): the header value, the canonical form
//! the HMAC covers, and verification.
//!
//! ```text
//! X-EdgeGuard-Signature: v1;kid=k1;t=1700000000;h=x-real-ip,x-geo-country;sig=<base64url, no padding>
//!
//! canonical form (lines joined by "\n", no trailing newline):
//! v1
//! GET
//! app.example.com
//! /orders/42?expand=items
//! 1700000000
//! x-real-ip:203.0.113.10
//! x-geo-country:SE
//! ```

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The format version, first in the header value and first line of the canonical form.
pub const VERSION: &str = "v1";

/// Most header names one signature lists; a bound on a verifier's work per request.
pub const MAX_SIGNED_HEADERS: usize = 64;

/// Longest key id, in bytes.
pub const MAX_KEY_ID_LEN: usize = 32;

/// HMAC-SHA256 output length in bytes.
const SIG_LEN: usize = 32;

/// HMAC-SHA256, keyed once and cloned per request by the signer.
pub(crate) type HmacSha256 = Hmac<Sha256>;

/// The request line parts a signature binds: the method, the `Host` header
/// and the request target (path and query, undecoded), all as received.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RequestParts<'a> {
    /// The request method, e.g. `GET` (case as received).
    pub method: &'a str,
    /// The `Host` header value as received (port included if sent); empty when absent.
    pub host: &'a str,
    /// The request target as received: path and query, not percent-decoded.
    pub path: &'a str,
}

/// What a valid signature vouches for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The key id that signed (`kid=`).
    pub key_id: String,
    /// When EdgeGuard signed, in Unix seconds (`t=`).
    pub timestamp: u64,
    /// The signed headers (lower-case name, trimmed value), in `h=` order. Only
    /// these are vouched for: any other header may come from anywhere.
    pub headers: Vec<(String, String)>,
}

impl Verified {
    /// The verified value of a signed header (name case-insensitive); `None`
    /// when the signature does not cover it, even if the request carries it.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Why a signature was refused. [`VerifyError::code`] gives a stable short
/// name for metrics and cross-language test vectors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The header value does not follow `v1;kid=..;t=..;h=..;sig=..`.
    #[error("malformed signature header: {0}")]
    Malformed(&'static str),
    /// A version other than `v1`.
    #[error("unsupported signature version `{0}`")]
    UnsupportedVersion(String),
    /// `kid=` names a key the verifier does not hold.
    #[error("unknown key id `{0}`")]
    UnknownKeyId(String),
    /// The timestamp is older than `maxSkew`.
    #[error("signature is {age} s old, more than maxSkew ({max_skew} s)")]
    Stale {
        /// Seconds between the signature and the verifier's clock.
        age: u64,
        /// The allowed skew in seconds.
        max_skew: u64,
    },
    /// The timestamp is further ahead of the verifier's clock than `maxSkew`.
    #[error("signature is {ahead} s in the future, more than maxSkew ({max_skew} s)")]
    Future {
        /// Seconds the signature is ahead of the verifier's clock.
        ahead: u64,
        /// The allowed skew in seconds.
        max_skew: u64,
    },
    /// A header listed in `h=` is not on the request.
    #[error("signed header `{0}` is missing from the request")]
    MissingHeader(String),
    /// The HMAC does not match: a signed part was changed, or another key signed.
    #[error("signature does not match")]
    BadSignature,
}

impl VerifyError {
    /// A stable short name: `malformed`, `unsupported-version`, `unknown-key`,
    /// `stale`, `future`, `missing-header` or `bad-signature`.
    pub const fn code(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "malformed",
            Self::UnsupportedVersion(_) => "unsupported-version",
            Self::UnknownKeyId(_) => "unknown-key",
            Self::Stale { .. } => "stale",
            Self::Future { .. } => "future",
            Self::MissingHeader(_) => "missing-header",
            Self::BadSignature => "bad-signature",
        }
    }
}

/// The canonical form the HMAC covers: `v1`, method, host, path, timestamp,
/// then `name:value` per signed header (name lower-cased, value trimmed of
/// spaces and tabs), joined by `\n` without a trailing newline.
///
/// # Examples
/// ```
/// use edgeguard::signing::{RequestParts, canonical};
/// let req = RequestParts { method: "GET", host: "app.example", path: "/a?b=1" };
/// let text = canonical(req, "1700000000", &[("X-Real-IP", " 203.0.113.10")]);
/// assert_eq!(text, "v1\nGET\napp.example\n/a?b=1\n1700000000\nx-real-ip:203.0.113.10");
/// ```
pub fn canonical(request: RequestParts<'_>, timestamp: &str, headers: &[(&str, &str)]) -> String {
    let len = headers.iter().map(|(n, v)| n.len() + v.len() + 2).sum::<usize>()
        + request.method.len()
        + request.host.len()
        + request.path.len()
        + timestamp.len()
        + VERSION.len()
        + 4;
    let mut out = String::with_capacity(len);
    for part in [VERSION, request.method, request.host, request.path, timestamp] {
        out.push_str(part);
        out.push('\n');
    }
    for (name, value) in headers {
        let start = out.len();
        out.push_str(name);
        out[start..].make_ascii_lowercase();
        out.push(':');
        out.push_str(trim_ows(value));
        out.push('\n');
    }
    out.pop();
    out
}

/// Builds the header value from a keyed MAC (cloned, so the caller's key
/// schedule is reused). `headers` must hold distinct, valid header names.
pub(crate) fn header_value(
    keyed: &HmacSha256,
    key_id: &str,
    request: RequestParts<'_>,
    timestamp: u64,
    headers: &[(&str, &str)],
) -> String {
    let t = timestamp.to_string();
    let mut mac = keyed.clone();
    mac.update(canonical(request, &t, headers).as_bytes());
    let sig = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    let mut names = String::with_capacity(headers.iter().map(|(n, _)| n.len() + 1).sum());
    for (i, (name, _)) in headers.iter().enumerate() {
        if i > 0 {
            names.push(',');
        }
        let start = names.len();
        names.push_str(name);
        names[start..].make_ascii_lowercase();
    }
    format!("{VERSION};kid={key_id};t={t};h={names};sig={sig}")
}

/// Checks a signature header value against the request it arrived on.
///
/// `lookup_header` gets each name listed in `h=` (lower case) and returns the
/// request's value; if the request carries that header on several lines, join
/// them with `", "` (a duplicated signed header then fails, as it should).
/// `keys` are `(key id, secret)` pairs, e.g. the current and the previous key
/// during a rotation. The timestamp must be within `max_skew` of `now`, either
/// way. The HMAC is compared in constant time (`hmac`'s `verify_slice`).
///
/// # Examples
/// ```
/// use std::time::{Duration, SystemTime, UNIX_EPOCH};
/// use edgeguard::signing::{RequestParts, VerifyError, verify};
///
/// let header = "v1;kid=k1;t=1700000000;h=x-real-ip;sig=tbShEFqlucr__iUN7qo1KUv_RCTHH-S6lirUzv3V-94";
/// let req = RequestParts { method: "GET", host: "app.example", path: "/" };
/// let keys: &[(&str, &[u8])] = &[("k1", b"0123456789abcdef0123456789abcdef")];
/// let at = UNIX_EPOCH + Duration::from_secs(1_700_000_010);
/// let skew = Duration::from_secs(300);
///
/// let ok = verify(header, req, |_| Some("203.0.113.10".into()), keys, at, skew).unwrap();
/// assert_eq!(ok.get("X-Real-IP"), Some("203.0.113.10"));
///
/// let forged = verify(header, req, |_| Some("198.51.100.1".into()), keys, at, skew);
/// assert_eq!(forged, Err(VerifyError::BadSignature));
/// ```
pub fn verify(
    header_value: &str,
    request: RequestParts<'_>,
    lookup_header: impl Fn(&str) -> Option<String>,
    keys: &[(&str, &[u8])],
    now: SystemTime,
    max_skew: Duration,
) -> Result<Verified, VerifyError> {
    let parsed = Parsed::parse(header_value)?;
    let secret = keys
        .iter()
        .find(|(kid, _)| *kid == parsed.key_id)
        .map(|(_, secret)| *secret)
        .ok_or_else(|| VerifyError::UnknownKeyId(parsed.key_id.to_string()))?;
    check_time(parsed.timestamp, now, max_skew)?;
    let mut values = Vec::with_capacity(parsed.names.len());
    for name in &parsed.names {
        let value = lookup_header(name).ok_or_else(|| VerifyError::MissingHeader(name.to_string()))?;
        values.push(value);
    }
    let headers: Vec<(&str, &str)> =
        parsed.names.iter().copied().zip(values.iter().map(String::as_str)).collect();
    // HMAC accepts keys of any length, so this never fails.
    let mut mac = HmacSha256::new_from_slice(secret).map_err(|_| VerifyError::BadSignature)?;
    mac.update(canonical(request, parsed.t, &headers).as_bytes());
    mac.verify_slice(&parsed.sig).map_err(|_| VerifyError::BadSignature)?;
    Ok(Verified {
        key_id: parsed.key_id.to_string(),
        timestamp: parsed.timestamp,
        headers: headers.iter().map(|(n, v)| (n.to_string(), trim_ows(v).to_string())).collect(),
    })
}

/// Seconds since the Unix epoch; 0 for a clock before it.
pub(crate) fn unix_seconds(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn check_time(timestamp: u64, now: SystemTime, max_skew: Duration) -> Result<(), VerifyError> {
    let now = unix_seconds(now);
    let max_skew = max_skew.as_secs();
    if now > timestamp && now - timestamp > max_skew {
        return Err(VerifyError::Stale { age: now - timestamp, max_skew });
    }
    if timestamp > now && timestamp - now > max_skew {
        return Err(VerifyError::Future { ahead: timestamp - now, max_skew });
    }
    Ok(())
}

/// HTTP optional whitespace (RFC 9110 §5.6.3) around a field value.
fn trim_ows(value: &str) -> &str {
    value.trim_matches([' ', '\t'])
}

/// A valid key id: 1–32 of `A-Z a-z 0-9 . _ -`.
pub(crate) fn is_key_id(kid: &str) -> bool {
    (1..=MAX_KEY_ID_LEN).contains(&kid.len())
        && kid.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// A lower-case RFC 9110 token, as header names appear in `h=`.
fn is_lower_token(name: &str) -> bool {
    crate::headers::is_token(name.as_bytes()) && !name.bytes().any(|b| b.is_ascii_uppercase())
}

/// A header value split into its fields.
struct Parsed<'a> {
    key_id: &'a str,
    /// `t=` exactly as written: the canonical form uses this text.
    t: &'a str,
    timestamp: u64,
    names: Vec<&'a str>,
    sig: [u8; SIG_LEN],
}

impl<'a> Parsed<'a> {
    /// Fields in fixed order, each exactly once: `v1;kid=;t=;h=;sig=`.
    fn parse(value: &'a str) -> Result<Self, VerifyError> {
        use VerifyError::Malformed;
        let mut parts = trim_ows(value).split(';');
        let version = parts.next().unwrap_or_default();
        if version != VERSION {
            let numbered = version.len() > 1
                && version.starts_with('v')
                && version[1..].bytes().all(|b| b.is_ascii_digit());
            return Err(if numbered {
                VerifyError::UnsupportedVersion(version.to_string())
            } else {
                Malformed("does not start with `v1;`")
            });
        }
        let mut field = |key: &str, missing: &'static str| {
            parts.next().and_then(|p| p.strip_prefix(key)).ok_or(Malformed(missing))
        };
        let key_id = field("kid=", "expected `kid=` after the version")?;
        let t = field("t=", "expected `t=` after `kid`")?;
        let names = field("h=", "expected `h=` after `t`")?;
        let sig = field("sig=", "expected `sig=` after `h`")?;
        if parts.next().is_some() {
            return Err(Malformed("unexpected field after `sig`"));
        }
        if !is_key_id(key_id) {
            return Err(Malformed("`kid` must be 1-32 of A-Z a-z 0-9 . _ -"));
        }
        if t.is_empty() || t.len() > 19 || !t.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Malformed("`t` must be Unix seconds (1-19 digits)"));
        }
        let timestamp = t.parse().map_err(|_| Malformed("`t` must be Unix seconds (1-19 digits)"))?;
        let names: Vec<&str> = if names.is_empty() { Vec::new() } else { names.split(',').collect() };
        if names.len() > MAX_SIGNED_HEADERS {
            return Err(Malformed("`h` lists more than 64 headers"));
        }
        if !names.iter().all(|n| is_lower_token(n)) {
            return Err(Malformed("`h` must be lower-case header names separated by `,`"));
        }
        if names.iter().enumerate().any(|(i, n)| names[..i].contains(n)) {
            return Err(Malformed("`h` lists a header twice"));
        }
        let mut decoded = [0u8; SIG_LEN];
        let sig = match URL_SAFE_NO_PAD.decode_slice(sig, &mut decoded) {
            Ok(SIG_LEN) => decoded,
            _ => return Err(Malformed("`sig` must be 43 base64url characters (32 bytes, no padding)")),
        };
        Ok(Self { key_id, t, timestamp, names, sig })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::at;

    const KEY: &[u8] = crate::testutil::KEY.as_bytes();
    const T: u64 = 1_700_000_000;
    const REQ: RequestParts<'static> = RequestParts { method: "GET", host: "app.example", path: "/a?b=1" };
    const HEADERS: &[(&str, &str)] = &[("X-Real-IP", "203.0.113.10"), ("X-Geo-Country", "SE")];

    type Headers<'a> = &'a [(&'a str, &'a str)];

    fn keyed(key: &[u8]) -> HmacSha256 {
        HmacSha256::new_from_slice(key).unwrap()
    }

    fn lookup<'a>(headers: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.to_string())
    }

    fn check(
        value: &str,
        req: RequestParts<'_>,
        headers: &[(&str, &str)],
        now: u64,
    ) -> Result<Verified, VerifyError> {
        verify(value, req, lookup(headers), &[("k1", KEY)], at(now), Duration::from_secs(300))
    }

    #[test]
    fn canonical_form_is_lines_without_trailing_newline() {
        let cases: &[(&str, RequestParts<'_>, Headers<'_>, &str)] = &[
            (
                "two headers, names lower-cased",
                REQ,
                HEADERS,
                "v1\nGET\napp.example\n/a?b=1\n1700000000\nx-real-ip:203.0.113.10\nx-geo-country:SE",
            ),
            ("no headers", REQ, &[], "v1\nGET\napp.example\n/a?b=1\n1700000000"),
            (
                "values trimmed of spaces and tabs only",
                RequestParts { method: "POST", host: "", path: "/" },
                &[("X-A", " \t1 2\t ")],
                "v1\nPOST\n\n/\n1700000000\nx-a:1 2",
            ),
            (
                "UTF-8 value kept as bytes",
                RequestParts { method: "GET", host: "[2001:db8::1]:8443", path: "/%C3%A5" },
                &[("x-geo-city", "Linköping")],
                "v1\nGET\n[2001:db8::1]:8443\n/%C3%A5\n1700000000\nx-geo-city:Linköping",
            ),
        ];
        for (desc, req, headers, want) in cases {
            assert_eq!(canonical(*req, "1700000000", headers), *want, "{desc}");
        }
    }

    #[test]
    fn header_value_shape_and_roundtrip() {
        let value = header_value(&keyed(KEY), "k1", REQ, T, HEADERS);
        let (head, sig) = value.split_once(";sig=").unwrap();
        assert_eq!(head, "v1;kid=k1;t=1700000000;h=x-real-ip,x-geo-country");
        assert_eq!(sig.len(), 43, "{sig}");
        assert!(sig.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{sig}");
        let ok = check(&value, REQ, HEADERS, T).unwrap();
        assert_eq!(ok.key_id, "k1");
        assert_eq!(ok.timestamp, T);
        assert_eq!(ok.get("x-geo-country"), Some("SE"));
        assert_eq!(ok.get("X-Real-IP"), Some("203.0.113.10"));
        assert_eq!(ok.get("x-geo-city"), None, "only signed headers are vouched for");
    }

    #[test]
    fn matches_an_independent_hmac() {
        // HMAC-SHA256 of the canonical form, computed with `openssl dgst -sha256
        // -hmac 0123456789abcdef0123456789abcdef` and converted to base64url.
        let value = header_value(
            &keyed(KEY),
            "k1",
            RequestParts { method: "GET", host: "app.example", path: "/" },
            T,
            &[("x-real-ip", "203.0.113.10")],
        );
        assert_eq!(
            value,
            "v1;kid=k1;t=1700000000;h=x-real-ip;sig=tbShEFqlucr__iUN7qo1KUv_RCTHH-S6lirUzv3V-94"
        );
    }

    #[test]
    fn tampering_with_any_signed_part_fails() {
        let value = header_value(&keyed(KEY), "k1", REQ, T, HEADERS);
        let tampered_header: &[(&str, &str)] = &[("X-Real-IP", "203.0.113.10"), ("X-Geo-Country", "US")];
        let tampered_ip: &[(&str, &str)] = &[("X-Real-IP", "203.0.113.11"), ("X-Geo-Country", "SE")];
        let retimed = value.replace("t=1700000000", "t=1700000001");
        let reordered = value.replace("h=x-real-ip,x-geo-country", "h=x-geo-country,x-real-ip");
        let fewer = value.replace("h=x-real-ip,x-geo-country", "h=x-real-ip");
        let cases: &[(&str, &str, RequestParts<'_>, Headers<'_>, VerifyError)] = &[
            ("geo header", &value, REQ, tampered_header, VerifyError::BadSignature),
            ("client IP", &value, REQ, tampered_ip, VerifyError::BadSignature),
            ("path", &value, RequestParts { path: "/a?b=2", ..REQ }, HEADERS, VerifyError::BadSignature),
            ("method", &value, RequestParts { method: "POST", ..REQ }, HEADERS, VerifyError::BadSignature),
            (
                "host",
                &value,
                RequestParts { host: "evil.example", ..REQ },
                HEADERS,
                VerifyError::BadSignature,
            ),
            ("timestamp", &retimed, REQ, HEADERS, VerifyError::BadSignature),
            ("header order", &reordered, REQ, HEADERS, VerifyError::BadSignature),
            ("header dropped from h=", &fewer, REQ, HEADERS, VerifyError::BadSignature),
            (
                "signed header removed",
                &value,
                REQ,
                &[("X-Real-IP", "203.0.113.10")],
                VerifyError::MissingHeader("x-geo-country".into()),
            ),
        ];
        for (desc, value, req, headers, want) in cases {
            assert_eq!(check(value, *req, headers, T).as_ref().unwrap_err(), want, "{desc}");
        }
        // Whitespace a proxy may add around a value is not tampering.
        let spaced: &[(&str, &str)] = &[("X-Real-IP", " 203.0.113.10 "), ("X-Geo-Country", "SE\t")];
        assert!(check(&value, REQ, spaced, T).is_ok());
    }

    #[test]
    fn every_flipped_signature_byte_fails() {
        // The comparison is `Mac::verify_slice`, constant time (documented in
        // docs/signing.md); a mismatch anywhere is the same error.
        let value = header_value(&keyed(KEY), "k1", REQ, T, HEADERS);
        let (head, sig) = value.split_once(";sig=").unwrap();
        let mut raw = URL_SAFE_NO_PAD.decode(sig).unwrap();
        for i in 0..raw.len() {
            raw[i] ^= 1;
            let forged = format!("{head};sig={}", URL_SAFE_NO_PAD.encode(&raw));
            assert_eq!(check(&forged, REQ, HEADERS, T), Err(VerifyError::BadSignature), "byte {i}");
            raw[i] ^= 1;
        }
    }

    #[test]
    fn timestamp_must_be_within_max_skew() {
        let value = header_value(&keyed(KEY), "k1", REQ, T, HEADERS);
        let cases = [
            ("same second", T, None),
            ("300 s later", T + 300, None),
            ("300 s earlier", T - 300, None),
            ("301 s later", T + 301, Some(VerifyError::Stale { age: 301, max_skew: 300 })),
            ("a day later", T + 86_400, Some(VerifyError::Stale { age: 86_400, max_skew: 300 })),
            ("301 s earlier", T - 301, Some(VerifyError::Future { ahead: 301, max_skew: 300 })),
        ];
        for (desc, now, want) in cases {
            assert_eq!(check(&value, REQ, HEADERS, now).err(), want, "{desc}");
        }
    }

    #[test]
    fn rotation_key_ids_select_the_key() {
        let old: &[u8] = b"previous-key-previous-key-previous-key";
        let signed_old = header_value(&keyed(old), "k0", REQ, T, HEADERS);
        let both: &[(&str, &[u8])] = &[("k1", KEY), ("k0", old)];
        let skew = Duration::from_secs(300);
        let ok = verify(&signed_old, REQ, lookup(HEADERS), both, at(T), skew).unwrap();
        assert_eq!(ok.key_id, "k0");
        let only_new: &[(&str, &[u8])] = &[("k1", KEY)];
        assert_eq!(
            verify(&signed_old, REQ, lookup(HEADERS), only_new, at(T), skew),
            Err(VerifyError::UnknownKeyId("k0".into()))
        );
        // A kid pointing at the wrong key is a bad signature, not a key confusion.
        let swapped: &[(&str, &[u8])] = &[("k0", KEY)];
        assert_eq!(
            verify(&signed_old, REQ, lookup(HEADERS), swapped, at(T), skew),
            Err(VerifyError::BadSignature)
        );
    }

    #[test]
    fn parse_errors() {
        let sig = "tbShEFqlucr__iUN7qo1KUv_RCTHH-S6lirUzv3V-94";
        let m = |r: &'static str| VerifyError::Malformed(r);
        let cases: Vec<(String, VerifyError)> = vec![
            (String::new(), m("does not start with `v1;`")),
            ("garbage".into(), m("does not start with `v1;`")),
            (format!("V1;kid=k1;t=1;h=;sig={sig}"), m("does not start with `v1;`")),
            (format!("v2;kid=k1;t=1;h=;sig={sig}"), VerifyError::UnsupportedVersion("v2".into())),
            (format!("v1;t=1;kid=k1;h=;sig={sig}"), m("expected `kid=` after the version")),
            (format!("v1;kid=k1;h=;sig={sig}"), m("expected `t=` after `kid`")),
            (format!("v1;kid=k1;t=1;sig={sig}"), m("expected `h=` after `t`")),
            ("v1;kid=k1;t=1;h=".into(), m("expected `sig=` after `h`")),
            (format!("v1;kid=k1;t=1;h=;sig={sig};x=1"), m("unexpected field after `sig`")),
            (format!("v1;kid=;t=1;h=;sig={sig}"), m("`kid` must be 1-32 of A-Z a-z 0-9 . _ -")),
            (format!("v1;kid=k 1;t=1;h=;sig={sig}"), m("`kid` must be 1-32 of A-Z a-z 0-9 . _ -")),
            (
                format!("v1;kid={};t=1;h=;sig={sig}", "k".repeat(33)),
                m("`kid` must be 1-32 of A-Z a-z 0-9 . _ -"),
            ),
            (format!("v1;kid=k1;t=;h=;sig={sig}"), m("`t` must be Unix seconds (1-19 digits)")),
            (format!("v1;kid=k1;t=-1;h=;sig={sig}"), m("`t` must be Unix seconds (1-19 digits)")),
            (format!("v1;kid=k1;t=+1;h=;sig={sig}"), m("`t` must be Unix seconds (1-19 digits)")),
            (format!("v1;kid=k1;t=1e9;h=;sig={sig}"), m("`t` must be Unix seconds (1-19 digits)")),
            (
                format!("v1;kid=k1;t={};h=;sig={sig}", "9".repeat(20)),
                m("`t` must be Unix seconds (1-19 digits)"),
            ),
            (
                format!("v1;kid=k1;t=1;h=X-Real-IP;sig={sig}"),
                m("`h` must be lower-case header names separated by `,`"),
            ),
            (
                format!("v1;kid=k1;t=1;h=a,,b;sig={sig}"),
                m("`h` must be lower-case header names separated by `,`"),
            ),
            (
                format!("v1;kid=k1;t=1;h=a, b;sig={sig}"),
                m("`h` must be lower-case header names separated by `,`"),
            ),
            (format!("v1;kid=k1;t=1;h=a,b,a;sig={sig}"), m("`h` lists a header twice")),
            (
                format!(
                    "v1;kid=k1;t=1;h={};sig={sig}",
                    (0..65).map(|i| format!("h{i}")).collect::<Vec<_>>().join(",")
                ),
                m("`h` lists more than 64 headers"),
            ),
            (
                "v1;kid=k1;t=1;h=;sig=".into(),
                m("`sig` must be 43 base64url characters (32 bytes, no padding)"),
            ),
            (
                format!("v1;kid=k1;t=1;h=;sig={sig}="),
                m("`sig` must be 43 base64url characters (32 bytes, no padding)"),
            ),
            (
                format!("v1;kid=k1;t=1;h=;sig={}", &sig[..42]),
                m("`sig` must be 43 base64url characters (32 bytes, no padding)"),
            ),
            (
                format!("v1;kid=k1;t=1;h=;sig={}", sig.replace('-', "+")),
                m("`sig` must be 43 base64url characters (32 bytes, no padding)"),
            ),
            // Non-canonical trailing bits: a second spelling of the same bytes is refused.
            (
                format!("v1;kid=k1;t=1;h=;sig={}5", &sig[..42]),
                m("`sig` must be 43 base64url characters (32 bytes, no padding)"),
            ),
            (format!("v1;kid=k9;t=1;h=;sig={sig}"), VerifyError::UnknownKeyId("k9".into())),
        ];
        for (value, want) in cases {
            assert_eq!(check(&value, REQ, &[], 1), Err(want), "{value:?}");
        }
        // Surrounding whitespace (a proxy's OWS) is fine.
        let value = format!(" {} \t", header_value(&keyed(KEY), "k1", REQ, 1, &[]));
        assert!(check(&value, REQ, &[], 1).is_ok(), "{value:?}");
    }

    #[test]
    fn error_display_and_codes() {
        let cases = [
            (VerifyError::Malformed("x"), "malformed signature header: x", "malformed"),
            (
                VerifyError::UnsupportedVersion("v2".into()),
                "unsupported signature version `v2`",
                "unsupported-version",
            ),
            (VerifyError::UnknownKeyId("k9".into()), "unknown key id `k9`", "unknown-key"),
            (
                VerifyError::Stale { age: 301, max_skew: 300 },
                "signature is 301 s old, more than maxSkew (300 s)",
                "stale",
            ),
            (
                VerifyError::Future { ahead: 400, max_skew: 300 },
                "signature is 400 s in the future, more than maxSkew (300 s)",
                "future",
            ),
            (
                VerifyError::MissingHeader("x-real-ip".into()),
                "signed header `x-real-ip` is missing from the request",
                "missing-header",
            ),
            (VerifyError::BadSignature, "signature does not match", "bad-signature"),
        ];
        for (err, display, code) in cases {
            assert_eq!(err.to_string(), display);
            assert_eq!(err.code(), code);
        }
    }
}
