//! Corrupt databases never make `edgeguard::mmdb` panic or hang: opening and
//! looking up return an error or a result, whatever the bytes.
//!
//! Every prefix of a small database (truncation), every byte of it flipped
//! one at a time, and hand-made files with bad pointers, node counts, record
//! sizes and metadata are opened and looked up with both record kinds, over
//! an in-memory source and (for a sample) a `FileSource` with a tiny cache.

use std::net::IpAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc;
use std::time::{Duration, Instant, UNIX_EPOCH};

use edgeguard::mmdb::{ByteSource, FileSource, MmdbError, Reader};
use mmdb_writer::{IpVersion, RecordSize, Value, Writer};

const ADDRESSES: [&str; 10] = [
    "203.0.113.10",
    "192.0.2.1",
    "0.0.0.0",
    "255.255.255.255",
    "10.1.2.3",
    "2001:db8::1",
    "::ffff:203.0.113.10",
    "2a02:ec0::1",
    "::",
    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
];

/// Opens `src` and runs every lookup; returns how many steps failed with an
/// error (the rest returned a result). Panics propagate.
fn exercise<S: ByteSource>(src: S) -> usize {
    let reader = match Reader::new(src) {
        Ok(reader) => reader,
        Err(_) => return 1,
    };
    let mut errors = 0;
    for ip in ADDRESSES {
        let ip: IpAddr = ip.parse().unwrap();
        errors += usize::from(reader.lookup_city(ip, "de").is_err());
        errors += usize::from(reader.lookup_asn(ip).is_err());
    }
    errors
}

/// Runs `f` on another thread and fails if it takes longer than `limit`
/// (a hang would otherwise stall the whole test run).
fn within<T: Send + 'static>(limit: Duration, what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(limit) {
        Ok(v) => v,
        Err(_) => panic!("{what}: did not finish within {limit:?} (hang or panic)"),
    }
}

/// Checks one corrupt input over a `Vec<u8>` source, naming it if it panics.
fn survive(desc: &str, bytes: Vec<u8>) -> usize {
    match catch_unwind(AssertUnwindSafe(|| exercise(bytes))) {
        Ok(errors) => errors,
        Err(_) => panic!("{desc}: the reader panicked"),
    }
}

fn survive_file(desc: &str, bytes: &[u8]) -> usize {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    std::io::Write::write_all(&mut f, bytes).unwrap();
    let src = FileSource::open(f.path(), 8 * 1024).unwrap();
    match catch_unwind(AssertUnwindSafe(|| exercise(src))) {
        Ok(errors) => errors,
        Err(_) => panic!("{desc} (file source): the reader panicked"),
    }
}

/// A small City-shaped database with nested IPv4 and IPv6 networks and pointers (shared values).
fn small_db(record_size: RecordSize) -> Vec<u8> {
    let mut w = Writer::builder("GeoLite2-City")
        .ip_version(IpVersion::V6)
        .record_size(record_size)
        .languages(["de", "en"])
        .build_epoch(UNIX_EPOCH + Duration::from_secs(1_735_689_600))
        .build();
    let names = |en: &str, de: &str| Value::map([("en", Value::from(en)), ("de", Value::from(de))]);
    let sweden = Value::map([("iso_code", Value::from("SE")), ("names", names("Sweden", "Schweden"))]);
    let record = |city: &str| {
        Value::map([
            ("city", Value::map([("names", names(city, city))])),
            ("country", sweden.clone()),
            ("continent", Value::map([("code", Value::from("EU"))])),
            ("subdivisions", Value::array([Value::map([("iso_code", Value::from("E"))])])),
            ("postal", Value::map([("code", Value::from("582 22"))])),
            (
                "location",
                Value::map([
                    ("latitude", Value::from(58.4167)),
                    ("longitude", Value::from(15.6167)),
                    ("accuracy_radius", Value::from(50u16)),
                    ("time_zone", Value::from("Europe/Stockholm")),
                ]),
            ),
            ("autonomous_system_number", Value::from(64_512u32)),
            ("autonomous_system_organization", Value::from("Example AB")),
        ])
    };
    for (net, city) in [
        ("203.0.113.0/24", "Linköping"),
        ("203.0.113.128/25", "Norrköping"),
        ("10.0.0.0/8", "Stockholm"),
        ("10.1.0.0/16", "Göteborg"),
        ("2001:db8::/32", "Malmö"),
        ("2a02:ec0::/29", "Uppsala"),
    ] {
        w.insert_value(net.parse::<mmdb_writer::ipnet::IpNet>().unwrap(), record(city)).unwrap();
    }
    w.to_bytes().unwrap()
}

#[test]
fn intact_small_db_works() {
    let bytes = small_db(RecordSize::Bits28);
    assert_eq!(survive("intact", bytes.clone()), 0);
    let reader = Reader::new(bytes).unwrap();
    let found = reader.lookup_city("203.0.113.10".parse().unwrap(), "de").unwrap();
    assert_eq!(found.record.unwrap().city_name.as_deref(), Some("Linköping"));
}

#[test]
fn every_truncation() {
    for record_size in [RecordSize::Bits24, RecordSize::Bits28, RecordSize::Bits32] {
        let bytes = small_db(record_size);
        let what = format!("truncations ({}-bit)", record_size.bits());
        within(Duration::from_secs(120), &what.clone(), move || {
            let started = Instant::now();
            for len in 0..bytes.len() {
                let desc = format!("{what}: first {len} of {} bytes", bytes.len());
                let errors = survive(&desc, bytes[..len].to_vec());
                // Cutting into the metadata loses the marker or a required key;
                // cutting anything else leaves no marker at all.
                assert!(errors > 0, "{desc}: opened without error");
                if len % 7 == 0 {
                    survive_file(&desc, &bytes[..len]);
                }
            }
            println!("{what}: {} prefixes in {:?}", bytes.len(), started.elapsed());
        });
    }
}

#[test]
fn every_byte_flipped() {
    let mut inputs = vec![("small 24-bit".to_string(), small_db(RecordSize::Bits24))];
    inputs.push(("small 32-bit".to_string(), small_db(RecordSize::Bits32)));
    let testdata = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/geo/GeoLite2-City-Test.mmdb");
    if let Ok(bytes) = std::fs::read(testdata) {
        inputs.push(("GeoLite2-City-Test".to_string(), bytes));
    }
    for (name, bytes) in inputs {
        within(Duration::from_secs(300), &name.clone(), move || {
            let started = Instant::now();
            let mut outcomes = [0usize; 2];
            for i in 0..bytes.len() {
                for mask in [0xFF, 0x01, 0x80] {
                    let mut corrupt = bytes.clone();
                    corrupt[i] ^= mask;
                    let desc = format!("{name}: byte {i} ^ {mask:#04x}");
                    let errors = survive(&desc, corrupt.clone());
                    outcomes[usize::from(errors > 0)] += 1;
                    if i % 13 == 0 && mask == 0xFF {
                        survive_file(&desc, &corrupt);
                    }
                }
            }
            println!(
                "{name}: {} flips: {} still answered everything, {} gave errors, in {:?}",
                3 * bytes.len(),
                outcomes[0],
                outcomes[1],
                started.elapsed()
            );
        });
    }
}

/// Minimal hand encoder for the crafted files below.
fn ctrl(ty: u8, size: u8) -> Vec<u8> {
    assert!(size < 29);
    if ty <= 7 { vec![ty << 5 | size] } else { vec![size, ty - 7] }
}

fn string(text: &str) -> Vec<u8> {
    let mut out = ctrl(2, text.len() as u8);
    out.extend(text.as_bytes());
    out
}

fn uint(ty: u8, value: u64) -> Vec<u8> {
    let bytes = value.to_be_bytes();
    let skip = bytes.iter().take_while(|&&b| b == 0).count();
    let mut out = ctrl(ty, (8 - skip) as u8);
    out.extend(&bytes[skip..]);
    out
}

fn metadata(node_count: u64, record_size: u64, ip_version: u64, extra: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut entries: Vec<(&str, Vec<u8>)> = vec![
        ("binary_format_major_version", uint(5, 2)),
        ("binary_format_minor_version", uint(5, 0)),
        ("build_epoch", uint(9, 1_735_689_600)),
        ("database_type", string("Crafted")),
        ("ip_version", uint(5, ip_version)),
        ("node_count", uint(6, node_count)),
        ("record_size", uint(5, record_size)),
    ];
    for (k, v) in extra {
        entries.retain(|(key, _)| key != k);
        entries.push((k, v.clone()));
    }
    let mut out = b"\xAB\xCD\xEFMaxMind.com".to_vec();
    out.extend(ctrl(7, entries.len() as u8));
    for (k, v) in entries {
        out.extend(string(k));
        out.extend(v);
    }
    out
}

/// One node (32-bit records) pointing both halves at data offset 0, then `data`.
fn one_node_db(data: &[u8], meta: Vec<u8>) -> Vec<u8> {
    let record = 1u32 + 16; // node_count + separator + offset 0
    let mut out = record.to_be_bytes().to_vec();
    out.extend(record.to_be_bytes());
    out.extend([0; 16]);
    out.extend(data);
    out.extend(meta);
    out
}

#[test]
fn crafted_files() {
    struct Case {
        desc: &'static str,
        bytes: Vec<u8>,
        /// A substring of the error from `Reader::new` or from the first lookup.
        want: &'static str,
    }
    let meta = |extra: &[(&str, Vec<u8>)]| metadata(1, 32, 4, extra);
    // Data: a map {"city": value}.
    let map_with = |value: Vec<u8>| [ctrl(7, 1), string("city"), value].concat();
    // Data: a map {"postal": {"code": value}}.
    let postal_code =
        |value: Vec<u8>| [ctrl(7, 1), string("postal"), ctrl(7, 1), string("code"), value].concat();
    let cases = vec![
        Case { desc: "empty file", bytes: vec![], want: "metadata marker not found in the last 0 bytes" },
        Case {
            desc: "only the marker",
            bytes: b"\xAB\xCD\xEFMaxMind.com".to_vec(),
            want: "runs past the end of the section",
        },
        Case {
            desc: "marker and garbage",
            bytes: [&b"\xAB\xCD\xEFMaxMind.com"[..], &[0xFF; 40]].concat(),
            want: "exceeds 65536",
        },
        Case {
            desc: "half a marker",
            bytes: b"\xAB\xCD\xEFMaxMind".to_vec(),
            want: "metadata marker not found",
        },
        Case {
            desc: "node count larger than the file",
            bytes: one_node_db(&map_with(string("x")), metadata(1_000_000, 32, 4, &[])),
            want: "search tree of 1000000 nodes of 8 bytes does not fit",
        },
        Case {
            desc: "node count zero",
            bytes: one_node_db(&map_with(string("x")), metadata(0, 32, 4, &[])),
            want: "node_count is 0",
        },
        Case {
            desc: "record size 16",
            bytes: one_node_db(&map_with(string("x")), metadata(1, 16, 4, &[])),
            want: "record_size 16 is not 24, 28 or 32",
        },
        Case {
            desc: "ip version 5",
            bytes: one_node_db(&map_with(string("x")), metadata(1, 32, 5, &[])),
            want: "ip_version 5 is not 4 or 6",
        },
        Case {
            desc: "node count as a string",
            bytes: one_node_db(&[], meta(&[("node_count", string("1"))])),
            want: "expected an unsigned integer for `node_count`, found utf8_string",
        },
        Case {
            desc: "metadata key not a string",
            bytes: {
                let mut m = b"\xAB\xCD\xEFMaxMind.com".to_vec();
                m.extend(ctrl(7, 1));
                m.extend(uint(5, 1));
                m.extend(uint(5, 1));
                one_node_db(&[], m)
            },
            want: "expected utf8_string for `map key`, found uint16",
        },
        Case {
            desc: "pointer past the data section",
            bytes: one_node_db(&map_with(vec![0x20 | 0x07, 0xFF]), meta(&[])),
            want: "pointer to 2047 is past the end of the section",
        },
        Case {
            desc: "pointer to a pointer",
            // 0: map {"city": ptr→8}; 8: ptr→0 (a pointer to a pointer... to the map itself).
            bytes: one_node_db(&[map_with(vec![0x20, 8]), vec![0x20, 0]].concat(), meta(&[])),
            want: "pointer to a pointer",
        },
        Case {
            desc: "pointer into itself is not followed twice",
            // The city map's value points back to the record map: `city` is decoded
            // as that map, whose `names` is absent: found, no city name, no loop.
            bytes: one_node_db(&map_with(vec![0x20, 0]), meta(&[])),
            want: "",
        },
        Case {
            desc: "string longer than the data section",
            bytes: one_node_db(&postal_code(vec![0x5D, 0xFF]), meta(&[])),
            want: "284-byte value runs past the end of the section",
        },
        Case {
            desc: "string longer than the limit",
            bytes: one_node_db(&postal_code(vec![0x5F, 0xFF, 0xFF, 0xFF]), meta(&[])),
            want: "`postal.code` string of 16843036 bytes exceeds 4096",
        },
        Case {
            desc: "wrong type for a wanted field",
            bytes: one_node_db(&postal_code(uint(6, 7)), meta(&[])),
            want: "expected utf8_string for `postal.code`, found uint32",
        },
        Case {
            desc: "map nested too deep",
            bytes: one_node_db(
                &[ctrl(7, 1), string("x"), [0x01, 0x04].repeat(40), vec![0x40]].concat(),
                meta(&[]),
            ),
            want: "containers nested deeper than 32",
        },
        Case {
            desc: "record into the separator",
            bytes: {
                let mut b = one_node_db(&map_with(string("x")), meta(&[]));
                b[0..4].copy_from_slice(&9u32.to_be_bytes());
                b
            },
            want: "points into the data section separator",
        },
        Case {
            desc: "record past the data section",
            bytes: {
                let mut b = one_node_db(&map_with(string("x")), meta(&[]));
                b[0..4].copy_from_slice(&5000u32.to_be_bytes());
                b
            },
            want: "points past the end of the data section",
        },
    ];
    for c in cases {
        let desc = c.desc;
        let result = catch_unwind(AssertUnwindSafe(|| {
            let reader = Reader::new(c.bytes.clone())?;
            reader.lookup_city("1.2.3.4".parse().unwrap(), "en").map(|_| ())
        }));
        let got: Result<(), MmdbError> = result.unwrap_or_else(|_| panic!("case {desc}: panicked"));
        match got {
            Ok(()) => assert_eq!(c.want, "", "case {desc}: no error, want one containing {:?}", c.want),
            Err(e) => {
                let msg = e.to_string();
                assert!(!c.want.is_empty() && msg.contains(c.want), "case {desc}: {msg}");
            }
        }
        survive(desc, c.bytes);
    }
}
