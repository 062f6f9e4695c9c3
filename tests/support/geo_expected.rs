//! What EdgeGuard sets for the documented test client 203.0.113.10 with the
//! committed test databases (`testdata/geo`, City + ASN): one list for every
//! front-end's tests.

/// Upstream headers (lower-case names) and their values.
pub const SE_CLIENT: &[(&str, &str)] = &[
    ("x-real-ip", "203.0.113.10"),
    ("x-geo-country", "SE"),
    ("x-geo-continent", "EU"),
    ("x-geo-region", "E"),
    ("x-geo-city", "Link%C3%B6ping"),
    ("x-geo-postal-code", "582 22"),
    ("x-geo-latitude", "58.4109"),
    ("x-geo-longitude", "15.6216"),
    ("x-geo-accuracy-radius", "20"),
    ("x-geo-time-zone", "Europe/Stockholm"),
    ("x-geo-asn", "64496"),
];
