//! End-to-end tests: real Traefik, the real wasm plugin, a real backend.
//!
//! - `suite`: the shared suite, against the target `EDGEGUARD_E2E_TARGET`
//!   selects: local Traefik (`cargo xtask test`) or the kind cluster
//!   (`cargo xtask kind-test`); see tests/support/target.rs.
//! - `harness`: tests that start their own Traefik with a per-test
//!   configuration; on kind they report themselves as not applicable.

#[path = "../support/mod.rs"]
mod support;

mod harness;
mod suite;
