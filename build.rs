//! Link settings for the wasm plugin binary.
//!
//! Traefik keeps one guest instance per concurrent request, each with its own
//! linear memory, so Rust's default 1 MiB wasm stack costs 1 MiB per in-flight
//! request. EdgeGuard's request path is shallow (no recursion over request
//! data), so a 64 KiB stack is ample; `tests/e2e` exercises the deepest path
//! (config parsing) inside real Traefik.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("wasm32") {
        println!("cargo:rustc-link-arg-bins=-zstack-size={}", 32 * 1024);
        println!("cargo:rustc-link-arg-examples=-zstack-size={}", 64 * 1024);
    }
}
