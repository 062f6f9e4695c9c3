//! Fuzzes the managed-header normaliser ([`edgeguard::headers::ManagedHeaders`]):
//! input lines are header names (any bytes; non-UTF-8 lines are skipped, as
//! hosts only hand out token names).
//!
//! Invariants (a failure panics, which libFuzzer reports as a crash):
//! - `lookup` agrees with a naive model: fold to ASCII lower case with every
//!   non-alphanumeric byte as `-`, then compare with each managed name folded the same way;
//! - after the pipeline's edits, no header whose folded name is managed
//!   reaches the backend, except the exact `X-Forwarded-For` from a trusted
//!   peer and the headers EdgeGuard itself set — from a trusted and from an
//!   untrusted peer alike.
#![no_main]

use std::sync::LazyLock;

use edgeguard::headers::{Arrival, ManagedHeaders};
use edgeguard::{Decision, HeaderEdit, OwnedRequest, Pipeline};
use libfuzzer_sys::fuzz_target;

/// Managed names of the pipeline below (its config's outputs, the identity
/// list, geo defaults and the signature and token headers), as the docs list them.
const MANAGED: &[&str] = &[
    "X-Real-IP",
    "X-Client-IP",
    "True-Client-IP",
    "CF-Connecting-IP",
    "Forwarded",
    "X-Original-Forwarded-For",
    "X-EdgeGuard-Trace",
    "X-Forwarded-For",
    "X-User-Id",
    "X-Geo-Country",
    "X-Geo-City",
    "X-Geo-ASN",
    "X-Geo-DB",
    "X-EdgeGuard-Signature",
    "X-Maintenance-Token",
];

static PIPELINE: LazyLock<Pipeline> = LazyLock::new(|| {
    // SAFETY: set once, before any other thread of this process reads the environment.
    unsafe { std::env::set_var("EDGEGUARD_FUZZ_TOKEN", "fuzz-token-0123456789") };
    Pipeline::from_json(
        br#"{"clientIp": {"trustedProxies": ["10.0.0.0/8"], "stripHeaders": ["X-User-Id"]},
            "maintenance": {"allow": {"token": {"header": "X-Maintenance-Token", "secretEnv": "EDGEGUARD_FUZZ_TOKEN"}}}}"#,
    )
    .expect("fuzz pipeline config is valid")
});

static SET: LazyLock<ManagedHeaders> =
    LazyLock::new(|| ManagedHeaders::new(MANAGED.iter().map(|n| (*n, Arrival::Removed))));

fn fold(name: &str) -> String {
    name.bytes().map(|b| if b.is_ascii_alphanumeric() { char::from(b.to_ascii_lowercase()) } else { '-' }).collect()
}

fuzz_target!(|data: &[u8]| {
    let names: Vec<&str> =
        data.split(|&b| b == b'\n').take(32).filter_map(|l| std::str::from_utf8(l).ok()).collect();
    for name in &names {
        let model = MANAGED.iter().any(|m| fold(m) == fold(name));
        assert_eq!(SET.lookup(name.as_bytes()).is_some(), model, "lookup({name:?})");
    }
    for peer in ["10.0.0.1:1", "192.0.2.1:1"] {
        let mut req = OwnedRequest::new(peer);
        for name in &names {
            req.headers.push(((*name).to_string(), b"6.6.6.6".to_vec()));
        }
        let Decision::Forward(edits) = PIPELINE.handle(&req) else { continue };
        let mut upstream = req.clone();
        upstream.apply(&edits);
        for (name, _) in &upstream.headers {
            if !MANAGED.iter().any(|m| fold(m) == fold(name)) {
                continue;
            }
            let kept_chain = peer.starts_with("10.") && name.eq_ignore_ascii_case("X-Forwarded-For");
            let set_by_us = edits.iter().any(|e| matches!(e, HeaderEdit::Set(n, _) if **n == **name));
            assert!(kept_chain || set_by_us, "{name:?} from {peer} reached the backend: {req:?} -> {edits:?}");
        }
    }
});
