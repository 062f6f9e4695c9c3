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

/// EdgeGuard's signature over the identity headers (`signing`); always
/// removed from what clients send.
pub const X_EDGEGUARD_SIGNATURE: &str = "X-EdgeGuard-Signature";

/// Client-identity headers removed when the TCP peer is not trusted, so that
/// nothing a client sends directly can look like it came from a proxy.
pub const SPOOFABLE: &[&str] =
    &[X_REAL_IP, "X-Client-IP", TRUE_CLIENT_IP, CF_CONNECTING_IP, FORWARDED, "X-Original-Forwarded-For"];

/// Pushes a removal for each of `names` present on `req`. Strip lists are long
/// (every owned header and its `_` spelling) and almost always absent, so
/// absent names cost no edit, no allocation and no host call.
pub fn remove_present(req: &impl RequestView, names: &[String], edits: &mut Vec<HeaderEdit>) {
    edits.extend(names.iter().filter(|n| req.has_header(n)).map(|n| HeaderEdit::Remove(n.clone())));
}

/// `names` plus the `_` spelling of each (`X_Real_IP` for `X-Real-IP`),
/// deduplicated case-insensitively. Stacks that map header names to variables
/// (CGI, WSGI, PHP, nginx) read `X_Real_IP` as `X-Real-IP`, so a header
/// EdgeGuard owns must be removed under both spellings.
pub fn with_underscore_aliases(mut names: Vec<String>) -> Vec<String> {
    let aliases: Vec<String> =
        names.iter().filter(|n| n.contains('-')).map(|n| n.replace('-', "_")).collect();
    names.extend(aliases);
    names.sort_by_key(|n| n.to_ascii_lowercase());
    names.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
    names
}

/// Checks a configured header name: an RFC 9110 token. `allow_empty` is for
/// options where an empty name disables the output.
pub fn check_name(name: &str, allow_empty: bool) -> Result<(), String> {
    if name.is_empty() {
        return if allow_empty { Ok(()) } else { Err("header name is empty".into()) };
    }
    let tchar = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if name.bytes().all(tchar) { Ok(()) } else { Err(format!("`{name}` is not a valid header name")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn underscore_aliases() {
        let names = with_underscore_aliases(vec!["X-Real-IP".into(), "x-real-ip".into(), "Forwarded".into()]);
        assert_eq!(names, ["Forwarded", "X-Real-IP", "X_Real_IP"]);
    }

    #[test]
    fn header_names() {
        assert_eq!(check_name("X-Real-IP", false), Ok(()));
        assert_eq!(check_name("", true), Ok(()));
        assert_eq!(check_name("", false), Err("header name is empty".into()));
        assert_eq!(check_name("X Real", false), Err("`X Real` is not a valid header name".into()));
        assert_eq!(check_name("X-Ä", false), Err("`X-Ä` is not a valid header name".into()));
    }
}
