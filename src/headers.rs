//! Header names EdgeGuard reads, sets or removes, declared once for every front-end.

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

/// Client-identity headers removed when the TCP peer is not trusted, so that
/// nothing a client sends directly can look like it came from a proxy.
pub const SPOOFABLE: &[&str] =
    &[X_REAL_IP, "X-Client-IP", TRUE_CLIENT_IP, CF_CONNECTING_IP, FORWARDED, "X-Original-Forwarded-For"];

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
    fn header_names() {
        assert_eq!(check_name("X-Real-IP", false), Ok(()));
        assert_eq!(check_name("", true), Ok(()));
        assert_eq!(check_name("", false), Err("header name is empty".into()));
        assert_eq!(check_name("X Real", false), Err("`X Real` is not a valid header name".into()));
        assert_eq!(check_name("X-Ä", false), Err("`X-Ä` is not a valid header name".into()));
    }
}
