//! End-to-end tests: real Traefik, the real wasm plugin, a real backend.
//! Run with `cargo xtask test` (it installs Traefik and builds the plugin).

#[path = "../support/mod.rs"]
mod support;

mod client_ip;
mod foundation;
mod geo;
mod maintenance;
mod signing;
