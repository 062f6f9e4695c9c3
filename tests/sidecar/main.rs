//! The native sidecar (`edgeguard serve`, issue #6): the real binary in front
//! of real upstreams, and behind real Traefik when `EDGEGUARD_TRAEFIK` is set
//! (`cargo xtask test` sets it).

#[path = "../support/mod.rs"]
mod support;

mod client_ip;
mod features;
mod hardening;
mod harness;
mod proxy;
mod reload;
mod traefik_front;
