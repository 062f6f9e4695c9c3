//! Shared end-to-end harness: real Traefik, the real plugin, the echo backend,
//! and the targets the shared suite runs against (local Traefik or kind).
#![allow(dead_code)] // each test binary uses a different part of the harness

pub mod client;
pub mod client_ip_cases;
pub mod echo;
pub mod geo_expected;
pub mod kind_target;
pub mod kube;
pub mod local_target;
pub mod managed;
pub mod signed;
pub mod target;
pub mod traefik;
pub mod yaml;
