//! EdgeGuard: a trustworthy client identity at the edge.
//!
//! One host-agnostic core decides, for each request, who the client is
//! (walking `X-Forwarded-For` / RFC 7239 `Forwarded` against trusted proxies),
//! which spoofable headers to strip, and which headers to set; thin
//! front-ends apply that decision: the http-wasm guest loaded by Traefik
//! ([`http_wasm`]) and the native `edgeguard` CLI. Geolocation headers come
//! from MaxMind databases read on demand ([`mmdb`], [`geo`]). An HMAC over
//! the identity headers lets backends check they came from the edge
//! ([`signing`], with a [`signing::verify`] for downstream Rust services).
//!
//! ```
//! use edgeguard::{Decision, HeaderEdit, OwnedRequest, Pipeline};
//! let pipeline = Pipeline::from_json(br#"{"clientIp": {"trustedProxies": ["loopback"]}}"#).unwrap();
//! let req = OwnedRequest::new("127.0.0.1:40000").header("X-Forwarded-For", "198.51.100.4");
//! let Decision::Forward(edits) = pipeline.handle(&req) else { unreachable!() };
//! assert!(edits.contains(&HeaderEdit::Set("X-Real-IP".into(), "198.51.100.4".into())));
//! ```
#![deny(missing_docs)]

pub mod addr;
pub mod client_ip;
pub mod clock;
pub mod config;
pub mod detection;
pub mod error;
pub mod forwarded;
pub mod geo;
pub mod headers;
pub mod http_wasm;
pub mod log;
pub mod maintenance;
pub mod mmdb;
pub mod pipeline;
pub mod request;
mod secret;
#[cfg(all(feature = "sidecar", not(target_arch = "wasm32")))]
pub mod sidecar;
pub mod signing;
mod sync;
#[cfg(test)]
mod testutil;
pub mod trust;
mod watch;

pub use config::Config;
pub use error::ConfigError;
pub use pipeline::{Outcome, Pipeline};
pub use request::{Decision, EditName, HeaderEdit, OwnedRequest, RequestView, Response};
