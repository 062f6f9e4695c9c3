//! The whole request path as the plugin runs it: client IP + geo (+ the
//! maintenance check when configured), on the committed test databases and,
//! when present, the real GeoLite2-City under target/geodata; and the same
//! with signing on, so the difference is the per-request signing cost.
//! Portable: `cargo bench --target wasm32-wasip1 --bench pipeline` runs it in
//! the WASI runner, where the plugin's per-request cost actually is.

use std::hint::black_box;
use std::path::Path;
use std::time::SystemTime;

use criterion::{Criterion, criterion_group, criterion_main};
use edgeguard::signing::{RequestParts, Signer};
use edgeguard::{Config, OwnedRequest, Pipeline};

/// The variable the signing cases read their key from.
const KEY_ENV: &str = "EDGEGUARD_BENCH_SIGNING_KEY";

fn config(db: &str, signing: bool) -> String {
    let signing =
        if signing { format!(r#", "signing": {{"secretEnv": "{KEY_ENV}"}}"#) } else { String::new() };
    format!(r#"{{"clientIp": {{"trustedProxies": ["10.0.0.0/8"]}}, "geo": {{"database": "{db}"}}{signing}}}"#)
}

fn pipeline(db: &str, signing: bool) -> Pipeline {
    Pipeline::from_json(config(db, signing).as_bytes()).expect("bench config is valid")
}

fn bench(c: &mut Criterion) {
    // Relative to the package root (cargo's working directory for benches;
    // the WASI runner preopens it), so the bench also runs on wasm32-wasip1.
    let mut dbs = vec![("test City DB", "testdata/geo/GeoLite2-City-Test.mmdb", "203.0.113.10")];
    let real = "target/geodata/GeoLite2-City.mmdb";
    if Path::new(real).exists() {
        dbs.push(("GeoLite2-City", real, "81.2.69.142"));
    } else {
        eprintln!(
            "target/geodata/GeoLite2-City.mmdb absent (cargo xtask geodata): real-database bench skipped"
        );
    }
    // SAFETY: set before any benchmark runs, while this is the only thread.
    unsafe { std::env::set_var(KEY_ENV, "bench-signing-key-0123456789abcdefghijklmnop") };
    for (label, db, client) in dbs {
        let req =
            OwnedRequest { uri: "/orders/42?expand=items".into(), ..OwnedRequest::new("10.0.0.1:40000") }
                .header("Host", "app.example.com")
                .header("X-Forwarded-For", client);
        let p = pipeline(db, false);
        c.bench_function(&format!("pipeline client IP + geo, warm cache ({label})"), |b| {
            b.iter(|| black_box(p.handle(black_box(&req))))
        });
        let signed = pipeline(db, true);
        c.bench_function(&format!("pipeline client IP + geo + signing, warm cache ({label})"), |b| {
            b.iter(|| black_box(signed.handle(black_box(&req))))
        });
    }

    // The signature alone, over a typical header set (client IP + 8 geo headers).
    let cfg = Config::from_json(config("", true).as_bytes()).expect("bench config is valid");
    let signer = Signer::new(&cfg).expect("bench key is valid").expect("signing is on");
    let parts = RequestParts { method: "GET", host: "app.example.com", path: "/orders/42?expand=items" };
    let headers = [
        ("X-Real-IP", "203.0.113.10"),
        ("X-Geo-Country", "SE"),
        ("X-Geo-Country-Name", "Sweden"),
        ("X-Geo-Continent", "EU"),
        ("X-Geo-Region", "E"),
        ("X-Geo-City", "Link%C3%B6ping"),
        ("X-Geo-Latitude", "58.4109"),
        ("X-Geo-Longitude", "15.6216"),
        ("X-Geo-Time-Zone", "Europe/Stockholm"),
    ];
    let now = SystemTime::now();
    c.bench_function("signing: Signer::sign, 9 headers", |b| {
        b.iter(|| black_box(signer.sign(black_box(parts), now, black_box(&headers))))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
