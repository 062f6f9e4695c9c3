//! What EdgeGuard sets for the documented test client 203.0.113.10 with the
//! committed test databases (`testdata/geo`, City + ASN): one list for every
//! front-end's tests.

/// Upstream headers (lower-case names) and their values with the default
/// header set: client IP, country, region, city, ASN (issue #14).
pub const SE_CLIENT: &[(&str, &str)] = &[
    ("x-real-ip", "203.0.113.10"),
    ("x-geo-country", "SE"),
    ("x-geo-region", "E"),
    ("x-geo-city", "Link%C3%B6ping"),
    ("x-geo-asn", "64496"),
];

/// The opt-in fields the test database has for the same client:
/// `(geo.headers key, header name, value)`. Absent unless configured.
pub const SE_CLIENT_OPT_IN: &[(&str, &str, &str)] = &[
    ("continent", "x-geo-continent", "EU"),
    ("postalCode", "x-geo-postal-code", "582 22"),
    ("latitude", "x-geo-latitude", "58.4109"),
    ("longitude", "x-geo-longitude", "15.6216"),
    ("accuracyRadius", "x-geo-accuracy-radius", "20"),
    ("timeZone", "x-geo-time-zone", "Europe/Stockholm"),
];
