//! The `edgeguard` binary. Built for wasm32-wasip1 it is the Traefik http-wasm
//! plugin (`main` is the per-instance init); built natively it is the CLI.

#[cfg(target_arch = "wasm32")]
fn main() {
    edgeguard::http_wasm::start();
}

#[cfg(not(target_arch = "wasm32"))]
mod cli;

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    cli::main()
}
