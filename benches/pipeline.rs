//! The whole request path as the plugin runs it: client IP + geo (+ the
//! maintenance check when configured), on the committed test databases and,
//! when present, the real GeoLite2-City under target/geodata.

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use edgeguard::{OwnedRequest, Pipeline};

fn pipeline(db: &str) -> Pipeline {
    let cfg =
        format!(r#"{{"clientIp": {{"trustedProxies": ["10.0.0.0/8"]}}, "geo": {{"database": "{db}"}}}}"#);
    Pipeline::from_json(cfg.as_bytes()).expect("bench config is valid")
}

fn bench(c: &mut Criterion) {
    let root = env!("CARGO_MANIFEST_DIR");
    let mut dbs =
        vec![("test City DB", format!("{root}/testdata/geo/GeoLite2-City-Test.mmdb"), "203.0.113.10")];
    let real = format!("{root}/target/geodata/GeoLite2-City.mmdb");
    if Path::new(&real).exists() {
        dbs.push(("GeoLite2-City", real, "81.2.69.142"));
    } else {
        eprintln!(
            "target/geodata/GeoLite2-City.mmdb absent (cargo xtask geodata): real-database bench skipped"
        );
    }
    for (label, db, client) in dbs {
        let p = pipeline(&db);
        let req = OwnedRequest::new("10.0.0.1:40000").header("X-Forwarded-For", client);
        c.bench_function(&format!("pipeline client IP + geo, warm cache ({label})"), |b| {
            b.iter(|| black_box(p.handle(black_box(&req))))
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
