//! Issue #13: the header names only EdgeGuard sets, and how a backend reads a
//! name. CGI, WSGI, PHP and nginx turn a header name into a variable by
//! upper-casing it and mapping every non-alphanumeric character to `_`, so
//! `X-Real_IP`, `X_Real-IP` and `X.Real.IP` all arrive as `HTTP_X_REAL_IP`.
//! Every front-end's tests check that no such alias of a managed name reaches
//! the backend, from any peer.

/// The managed names of issue #13 (docs/SPEC: client-IP outputs and strip
/// list, the 13 default geo headers and `X-Geo-DB`, the signature and trace
/// headers). The maintenance token header and configured names come on top.
pub const MANAGED: &[&str] = &[
    "X-Real-IP",
    "X-Client-IP",
    "True-Client-IP",
    "CF-Connecting-IP",
    "Forwarded",
    "X-Original-Forwarded-For",
    "X-Forwarded-For",
    "X-EdgeGuard-Trace",
    "X-EdgeGuard-Signature",
    "X-Geo-Country",
    "X-Geo-Country-Name",
    "X-Geo-Continent",
    "X-Geo-Region",
    "X-Geo-Region-Name",
    "X-Geo-City",
    "X-Geo-Postal-Code",
    "X-Geo-Latitude",
    "X-Geo-Longitude",
    "X-Geo-Accuracy-Radius",
    "X-Geo-Time-Zone",
    "X-Geo-ASN",
    "X-Geo-ASN-Org",
    "X-Geo-DB",
];

/// The spellings issue #13 reproduces, each an alias of a managed name.
pub const ISSUE_ALIASES: &[&str] =
    &["X-Real_IP", "X_Real-IP", "X.Real.IP", "X-Geo_Country", "X-EdgeGuard_Signature", "X_Forwarded_For"];

/// The name as a CGI-style backend reads it: `HTTP_` aside, upper case with
/// every byte but letters and digits as `_` (Apache's `http2env`).
pub fn as_backend_reads(name: &str) -> String {
    name.bytes()
        .map(|b| if b.is_ascii_alphanumeric() { b.to_ascii_uppercase() as char } else { '_' })
        .collect()
}

/// Header names a backend would read as one of `managed` but that are not
/// spelled with dashes only (the one spelling EdgeGuard sets).
pub fn aliases_among<'a>(names: impl IntoIterator<Item = &'a str>, managed: &[&str]) -> Vec<String> {
    let wanted: Vec<String> = managed.iter().map(|m| as_backend_reads(m)).collect();
    names
        .into_iter()
        .filter(|n| {
            !n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && wanted.contains(&as_backend_reads(n))
        })
        .map(str::to_string)
        .collect()
}
