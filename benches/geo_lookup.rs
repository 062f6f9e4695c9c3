//! Geo lookup cost through `edgeguard::mmdb`: cold (empty page cache, every
//! page read from the file), warm (the same address again), steady state
//! (random addresses through a 2 MiB cache), an in-memory source, and the
//! `maxminddb` crate (whole file in memory) for reference.
//!
//! Runs on a generated City database written to a temp file, and on
//! `target/geodata/GeoLite2-City.mmdb` when present (`cargo xtask geodata`).
//! Addresses come from a fixed-seed generator so runs are comparable.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use criterion::{Criterion, criterion_group, criterion_main};
use edgeguard::mmdb::{FileSource, Reader};
use mmdb_writer::ipnet::IpNet;
use mmdb_writer::{Value, Writer};

/// The page cache EdgeGuard's default `memoryBudget` leaves for pages.
const CACHE: usize = 2 << 20;

/// Deterministic xorshift64.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// A City database of 5 000 random IPv4 networks with GeoLite2-shaped records.
fn generated_db() -> Vec<u8> {
    let mut rng = Rng(0x6E0_BE4C);
    let mut w = Writer::builder("GeoLite2-City")
        .languages(["de", "en", "ja"])
        .build_epoch(UNIX_EPOCH + Duration::from_secs(1_735_689_600))
        .build();
    let names = |en: &str| {
        Value::map([("en", Value::from(en)), ("de", Value::from(en)), ("ja", Value::from("東京"))])
    };
    let mut nets: Vec<IpNet> = (0..5_000)
        .map(|_| {
            IpNet::new(IpAddr::V4(Ipv4Addr::from(rng.next() as u32)), 12 + (rng.next() % 17) as u8)
                .unwrap()
                .trunc()
        })
        .collect();
    nets.sort_by_key(|n| n.prefix_len());
    for (i, net) in nets.into_iter().enumerate() {
        let record = Value::map([
            (
                "city",
                Value::map([("geoname_id", Value::from(i as u32)), ("names", names(&format!("City {i}")))]),
            ),
            ("continent", Value::map([("code", Value::from("EU")), ("names", names("Europe"))])),
            ("country", Value::map([("iso_code", Value::from("SE")), ("names", names("Sweden"))])),
            (
                "location",
                Value::map([
                    ("accuracy_radius", Value::from(50u16)),
                    ("latitude", Value::from(58.4)),
                    ("longitude", Value::from(15.6)),
                    ("time_zone", Value::from("Europe/Stockholm")),
                ]),
            ),
            ("postal", Value::map([("code", Value::from(format!("{i:05}")))])),
            ("registered_country", Value::map([("iso_code", Value::from("SE")), ("names", names("Sweden"))])),
            (
                "subdivisions",
                Value::array([Value::map([("iso_code", Value::from("E")), ("names", names("Ö"))])]),
            ),
        ]);
        w.insert_value(net, record).unwrap();
    }
    w.to_bytes().unwrap()
}

fn addresses(n: usize) -> Vec<IpAddr> {
    let mut rng = Rng(0xADD2_E55E);
    (0..n).map(|_| IpAddr::V4(Ipv4Addr::from(rng.next() as u32))).collect()
}

fn bench_db(c: &mut Criterion, name: &str, path: &Path) {
    let ips = addresses(4096);
    let reader = Reader::new(FileSource::open(path, CACHE).unwrap()).unwrap();
    let mut group = c.benchmark_group(format!("geo {name}"));

    // Cold: the cache is emptied before every lookup, so each page on the path is read from the file.
    let mut i = 0;
    group.bench_function("cold (empty page cache)", |b| {
        b.iter(|| {
            reader.source().clear_cache();
            i = (i + 1) % ips.len();
            black_box(reader.lookup_city(ips[i], "de").unwrap())
        })
    });

    // Warm: the same address again and again, every page cached.
    group.bench_function("warm (same address)", |b| {
        b.iter(|| black_box(reader.lookup_city(black_box(ips[0]), "de").unwrap()))
    });

    // Steady state: random addresses through the 2 MiB cache.
    reader.source().clear_cache();
    group.bench_function("random addresses, 2 MiB cache", |b| {
        b.iter(|| {
            i = (i + 1) % ips.len();
            black_box(reader.lookup_city(ips[i], "de").unwrap())
        })
    });
    println!(
        "geo {name}: page cache holds {} KiB after the random run",
        reader.source().cached_bytes() / 1024
    );

    let bytes = std::fs::read(path).unwrap();
    let in_memory = Reader::new(bytes.clone()).unwrap();
    group.bench_function("random addresses, Vec<u8> source", |b| {
        b.iter(|| {
            i = (i + 1) % ips.len();
            black_box(in_memory.lookup_city(ips[i], "de").unwrap())
        })
    });

    let mm = maxminddb::Reader::from_source(bytes).unwrap();
    group.bench_function("random addresses, maxminddb (reference)", |b| {
        b.iter(|| {
            i = (i + 1) % ips.len();
            black_box(mm.lookup(ips[i]).unwrap().decode::<maxminddb::geoip2::City>().unwrap())
        })
    });

    group.bench_function("open (metadata only)", |b| {
        b.iter(|| black_box(Reader::new(FileSource::open(path, CACHE).unwrap()).unwrap()))
    });
    group.finish();
}

fn bench(c: &mut Criterion) {
    let generated = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(generated.path(), generated_db()).unwrap();
    bench_db(c, "generated City (5 000 networks)", generated.path());

    let real = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/geodata/GeoLite2-City.mmdb");
    if real.exists() {
        bench_db(c, "GeoLite2-City", &real);
    } else {
        println!("notice: {} is absent (run `cargo xtask geodata`); skipping it", real.display());
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
