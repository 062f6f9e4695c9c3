//! Tests that start their own Traefik (tests/support/traefik.rs) with a
//! per-test configuration: broken configs, Traefik's log, replaced files,
//! signing. Each begins with `own_traefik_unavailable()`, so on a target
//! that cannot start Traefik it is reported as not applicable, not run.

mod client_ip;
mod foundation;
mod geo;
mod hardening;
mod maintenance;
mod signing;
