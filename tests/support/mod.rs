//! Shared end-to-end harness: real Traefik, the real plugin, the echo backend.
#![allow(dead_code)] // each test binary uses a different part of the harness

pub mod client;
pub mod client_ip_cases;
pub mod echo;
pub mod traefik;
