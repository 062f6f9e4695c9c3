//! Fuzzes EdgeGuard's MaxMind DB reader (`edgeguard::mmdb`).
//!
//! Input format: the bytes of a whole `.mmdb` file, read through the
//! in-memory (`Vec<u8>`) source. Seeds in `seeds/mmdb_reader/` are small
//! generated databases (City, Country with an IPv4-only tree, ASN), so the
//! fuzzer starts from valid files and mutates trees, pointers and metadata.
//!
//! Invariants checked (a failure panics, which libFuzzer reports as a crash):
//! - `Reader::new` and every lookup return (an error or a result) without
//!   panicking, and in bounded time (libFuzzer's `-timeout` catches hangs);
//! - a prefix length is at most 32 for an IPv4 address and 128 for IPv6, and
//!   an IPv4-mapped address answers like its IPv4 address, 96 bits deeper;
//! - lookups are deterministic: the same address twice gives the same answer.
#![no_main]

use std::net::IpAddr;

use edgeguard::mmdb::Reader;
use libfuzzer_sys::fuzz_target;

const ADDRESSES: [&str; 8] = [
    "203.0.113.10",
    "198.51.100.1",
    "0.0.0.0",
    "255.255.255.255",
    "2001:db8::1",
    "2a02:ec0::1",
    "::",
    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
];

fuzz_target!(|data: &[u8]| {
    let Ok(reader) = Reader::new(data.to_vec()) else { return };
    for ip in ADDRESSES {
        let ip: IpAddr = ip.parse().unwrap();
        let max = if ip.is_ipv4() { 32 } else { 128 };
        let city = reader.lookup_city(ip, "de");
        if let Ok(found) = &city {
            assert!(found.prefix_len <= max, "{ip}: prefix {}", found.prefix_len);
        }
        let again = reader.lookup_city(ip, "de");
        assert_eq!(format!("{city:?}"), format!("{again:?}"), "{ip}: not deterministic");
        if let Ok(found) = reader.lookup_asn(ip) {
            assert!(found.prefix_len <= max, "{ip}: prefix {}", found.prefix_len);
        }
        if let IpAddr::V4(v4) = ip {
            let mapped = reader.lookup_asn(IpAddr::V6(v4.to_ipv6_mapped()));
            match (reader.lookup_asn(ip), mapped) {
                (Ok(a), Ok(b)) => {
                    assert_eq!(a.record, b.record, "{ip}: mapped record differs");
                    assert_eq!(a.prefix_len + 96, b.prefix_len, "{ip}: mapped prefix");
                }
                (Err(_), Err(_)) => {}
                (a, b) => panic!("{ip}: {a:?} but mapped {b:?}"),
            }
        }
    }
});
