//! One request through the Traefik plugin's adapter (`http_wasm::Plugin`),
//! with the headers Traefik hands a middleware behind `forwardedHeaders`, and a
//! host whose calls cost nothing: what is left is the guest's own work per
//! request. Run it where it matters, in the WASI runner:
//! `cargo bench --target wasm32-wasip1 --bench plugin_request`.

use std::hint::black_box;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use edgeguard::http_wasm::{Host, Plugin};
use edgeguard::log::MemoryLog;
use edgeguard::request::TooLarge;

/// A request as Traefik 3 passes it to a middleware: wrk's headers plus the
/// ones the entrypoint's `forwardedHeaders` adds.
struct TraefikRequest<'a> {
    headers: Vec<(&'a str, &'a str)>,
}

impl Host for TraefikRequest<'_> {
    fn source_addr(&self) -> Option<IpAddr> {
        // Parsed as the guest parses the host's text.
        edgeguard::addr::parse_peer(black_box("127.0.0.1:53412")).ok()
    }
    fn method(&self) -> Vec<u8> {
        b"GET".to_vec()
    }
    fn uri(&self, _: usize) -> Result<Vec<u8>, TooLarge> {
        Ok(b"/".to_vec())
    }
    fn header_names(&self, _: usize) -> Result<Vec<u8>, TooLarge> {
        // One buffer of the exact size, like the guest's copy of the ABI's list.
        let mut list = Vec::with_capacity(self.headers.iter().map(|(n, _)| n.len() + 1).sum());
        for (name, _) in &self.headers {
            list.extend_from_slice(name.as_bytes());
            list.push(0);
        }
        Ok(list)
    }
    fn header_values(&self, name: &str, _: usize) -> Result<Vec<Vec<u8>>, TooLarge> {
        let named = self.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name));
        Ok(named.map(|(_, v)| v.as_bytes().to_vec()).collect())
    }
    fn set_header(&self, _: &str, _: &str) {}
    fn remove_header(&self, _: &str) {}
    fn set_response_header(&self, _: &str, _: &str) {}
    fn set_status(&self, _: u16) {}
    fn write_body(&self, _: &[u8]) {}
}

fn bench(c: &mut Criterion) {
    // Relative to the package root: cargo's working directory for benches,
    // preopened by the WASI runner.
    let mut dbs = vec![("test City DB", "testdata/geo/GeoLite2-City-Test.mmdb", "203.0.113.10")];
    if Path::new("target/geodata/GeoLite2-City.mmdb").exists() {
        dbs.push(("GeoLite2-City", "target/geodata/GeoLite2-City.mmdb", "81.2.69.142"));
    }
    for (label, db, client) in dbs {
        let config =
            format!(r#"{{"clientIp": {{"trustedProxies": ["loopback"]}}, "geo": {{"database": "{db}"}}}}"#);
        let plugin = Plugin::init(config.as_bytes(), Arc::new(MemoryLog::default()));
        let host = TraefikRequest {
            headers: vec![
                ("Accept-Encoding", "gzip"),
                ("User-Agent", "wrk"),
                ("X-Forwarded-For", client),
                ("X-Forwarded-Host", "127.0.0.1:8000"),
                ("X-Forwarded-Port", "8000"),
                ("X-Forwarded-Proto", "http"),
                ("X-Forwarded-Server", "edge-1"),
                ("X-Real-Ip", client),
            ],
        };
        assert!(plugin.handle_request(&host), "the bench request must be forwarded");
        // Init: what Traefik pays for every instance it creates (config
        // parse, database open: metadata only). Issue #14 budgets 50 µs in wasmtime.
        c.bench_function(&format!("plugin init: config + database open ({label})"), |b| {
            b.iter(|| black_box(Plugin::init(black_box(config.as_bytes()), Arc::new(MemoryLog::default()))))
        });
        report_memory(&config, label);
        c.bench_function(&format!("plugin request: client IP + geo, warm ({label})"), |b| {
            b.iter(|| black_box(plugin.handle_request(black_box(&host))))
        });
    }
}

/// Linear memory of this (bench) instance before and after one more init and
/// 10 000 lookups of distinct clients, as numbers beside criterion's times.
/// On wasm32 only: natively there is no linear memory to read. The plugin's
/// own figures, in its real binary, come from `cargo xtask bench-instance`.
#[cfg(target_arch = "wasm32")]
fn report_memory(config: &str, label: &str) {
    let pages = || core::arch::wasm32::memory_size(0) * 65536 / 1024;
    let before = pages();
    let plugin = Plugin::init(config.as_bytes(), Arc::new(MemoryLog::default()));
    let after_init = pages();
    for i in 0..10_000u32 {
        let client = std::net::Ipv4Addr::from(0x0100_0001 + i * 0x0001_0100).to_string();
        let host = TraefikRequest { headers: vec![("X-Forwarded-For", client.as_str())] };
        black_box(plugin.handle_request(&host));
    }
    println!(
        "instance memory ({label}): {before} KiB before init, {after_init} KiB after, {} KiB after 10 000 distinct lookups",
        pages()
    );
}

#[cfg(not(target_arch = "wasm32"))]
fn report_memory(_: &str, _: &str) {}

criterion_group!(benches, bench);
criterion_main!(benches);
