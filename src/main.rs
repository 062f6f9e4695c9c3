//! The `edgeguard` binary. Built for wasm32-wasip1 it is the Traefik http-wasm
//! plugin (`main` is the per-instance init); built natively it is the CLI.

#[cfg(target_arch = "wasm32")]
fn main() {
    edgeguard::http_wasm::start();
}

#[cfg(not(target_arch = "wasm32"))]
mod cli;

/// The native CLI (and so the sidecar) allocates through mimalloc: per-thread
/// free lists suit a proxy's many short-lived buffers better than glibc's or
/// musl's malloc. The wasm plugin keeps the default allocator.
#[cfg(not(target_arch = "wasm32"))]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    cli::main()
}
