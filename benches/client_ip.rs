//! Resolve + normalize cost per request, on a 3-hop and a 32-hop chain.
//! Addresses come from a fixed-seed generator so runs are comparable.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use edgeguard::{OwnedRequest, Pipeline};

/// Deterministic xorshift: documentation-range clients, 10/8 proxies.
struct Addrs(u64);

impl Addrs {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn client(&mut self) -> String {
        format!("203.0.113.{}", self.next() % 254 + 1)
    }
    fn proxy(&mut self) -> String {
        let n = self.next();
        format!("10.{}.{}.{}", n % 256, (n >> 8) % 256, (n >> 16) % 254 + 1)
    }
}

/// `X-Forwarded-For` with a client, then `hops - 1` trusted proxies.
fn chain(addrs: &mut Addrs, hops: usize) -> String {
    let mut parts = vec![addrs.client()];
    parts.extend((1..hops).map(|_| addrs.proxy()));
    parts.join(", ")
}

fn bench(c: &mut Criterion) {
    let pipeline = Pipeline::from_json(
        br#"{"clientIp": {"trustedProxies": ["10.0.0.0/8", "loopback"], "maxHops": 32}}"#,
    )
    .expect("bench config is valid");
    let mut addrs = Addrs(0x5eed_cafe_f00d);
    for hops in [3, 32] {
        let req = OwnedRequest::new("10.0.0.1:40000").header("X-Forwarded-For", &chain(&mut addrs, hops));
        c.bench_function(&format!("resolve+normalize {hops}-hop chain"), |b| {
            b.iter(|| black_box(pipeline.handle(black_box(&req))))
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
