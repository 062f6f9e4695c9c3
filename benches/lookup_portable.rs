//! Cold and warm geo lookups through EdgeGuard's reader with a file-backed
//! page cache, exactly as the plugin does them. Portable: the same bench runs
//! natively and on wasm32-wasip1 in the WASI runner, so the two can be
//! compared (`cargo bench --bench lookup_portable` and
//! `cargo bench --target wasm32-wasip1 --bench lookup_portable`).
//! Paths are relative to the package root (the runner preopens it).

use std::hint::black_box;
use std::net::IpAddr;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use edgeguard::mmdb::{FileSource, Reader};

const PAGE_CACHE: usize = 1 << 20;

fn bench(c: &mut Criterion) {
    let mut dbs = vec![("test City DB", "testdata/geo/GeoLite2-City-Test.mmdb", "203.0.113.10")];
    if Path::new("target/geodata/GeoLite2-City.mmdb").exists() {
        dbs.push(("GeoLite2-City", "target/geodata/GeoLite2-City.mmdb", "81.2.69.142"));
    } else {
        eprintln!(
            "target/geodata/GeoLite2-City.mmdb absent (cargo xtask geodata): real-database case skipped"
        );
    }
    for (label, path, addr) in dbs {
        let ip: IpAddr = addr.parse().expect("bench address");
        let mut group = c.benchmark_group(format!("lookup {label}"));
        group.bench_function("cold (open + first lookup, empty page cache)", |b| {
            b.iter(|| {
                let reader =
                    Reader::new(FileSource::open(Path::new(path), PAGE_CACHE).expect("open")).expect("db");
                black_box(reader.lookup_city(black_box(ip), "en").expect("lookup"))
            })
        });
        let reader = Reader::new(FileSource::open(Path::new(path), PAGE_CACHE).expect("open")).expect("db");
        reader.lookup_city(ip, "en").expect("warm-up");
        group.bench_function("warm (same address, pages cached)", |b| {
            b.iter(|| black_box(reader.lookup_city(black_box(ip), "en").expect("lookup")))
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
