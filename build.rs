//! Link settings for the wasm plugin binary.
//!
//! Traefik keeps one guest instance per concurrent request, each with its own
//! linear memory, so Rust's default 1 MiB wasm stack costs 1 MiB per in-flight
//! request. EdgeGuard's request path is shallow (no recursion over request
//! data): the deepest path (config parsing) uses ~11.4 KiB at opt-level 3,
//! which `cargo xtask test` measures and keeps under half of the stack, and
//! `tests/e2e` runs inside real Traefik. 24 KiB rather than 32 leaves the heap
//! room to stay within the initial 128 KiB of linear memory with the default
//! geo budget (a grown memory is a copied, larger buffer in every pooled
//! instance), which `cargo xtask test` checks too.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("wasm32") {
        println!("cargo:rustc-link-arg-bins=-zstack-size={}", 24 * 1024);
        println!("cargo:rustc-link-arg-examples=-zstack-size={}", 64 * 1024);
    }
}
