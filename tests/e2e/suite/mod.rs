//! The shared end-to-end suite: every case runs against a [`Target`] running
//! the shared Middleware (traefik-config/manifests/middleware.yaml) on `/` and
//! no middleware on `/plain`: a Traefik started per test by `cargo xtask test`
//! (`local`), or the cluster of `cargo xtask kind-test` (`kind`). A case says
//! which [`Capability`] it needs beyond requests from a trusted proxy.
//!
//! The constants below are what the shared Middleware configures; a change
//! there shows up here as a failing case, on both targets.

mod client_ip;
mod geo;
mod hardening;
mod maintenance;
mod routing;

use std::time::{Duration, Instant};

use crate::support::client::Reply;
use crate::support::target::{Peer, Target};

/// A client outside `maintenance.allow.cidrs`, behind the trusted proxy.
const OUTSIDER: [(&str, &str); 1] = [("X-Forwarded-For", "198.51.100.7")];
/// An address in `maintenance.allow.cidrs` (192.0.2.0/24).
const OFFICE: &str = "192.0.2.44";
/// `maintenance.allow.token.header`.
const TOKEN_HEADER: &str = "X-Maintenance-Token";
/// `maintenance.retryAfter: 10m`, in seconds.
const RETRY_AFTER: &str = "600";
/// `maintenance.checkInterval`.
const CHECK_INTERVAL: Duration = Duration::from_secs(2);

/// Polls `GET /` from the outsider until it answers `want`; every answer on
/// the way must be 200 or 503 (a switch never breaks a request). Returns how
/// long it took.
fn wait_for_status(t: &dyn Target, want: u16, within: Duration) -> Duration {
    let start = Instant::now();
    loop {
        let reply = outsider_get(t, "/");
        assert!(reply.status == 200 || reply.status == 503, "unexpected answer while toggling: {reply:?}");
        if reply.status == want {
            return start.elapsed();
        }
        assert!(start.elapsed() < within, "status {want} not seen within {within:?}\n{}", t.diagnostics());
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `GET path` from the outsider (through the trusted proxy).
fn outsider_get(t: &dyn Target, path: &str) -> Reply {
    t.get(Peer::TrustedProxy, path, &OUTSIDER)
}
