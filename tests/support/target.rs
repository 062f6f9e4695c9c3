//! Where the end-to-end suite runs. One suite, two targets:
//!
//! - `local` (default): a Traefik started for each test on 127.0.0.1 with the
//!   shared deployment ([`super::local_target`]); `cargo xtask test` runs it.
//! - `kind`: the cluster `cargo xtask kind-test` created ([`super::kind_target`]),
//!   selected with `EDGEGUARD_E2E_TARGET=kind`, `EDGEGUARD_E2E_BASE_URL`
//!   (the host's way into Traefik) and `EDGEGUARD_E2E_KUBE_CONTEXT`.
//!
//! A target is what a test needs to know about a deployment: how to send a
//! request as a trusted proxy or as an untrusted peer, the addresses involved,
//! and how to flip the two maintenance switches. What a target cannot do is a
//! [`Capability`] it lacks, with a reason: the test prints
//! `not applicable on <target>: <reason>` and is listed in the file named by
//! `EDGEGUARD_E2E_NOT_APPLICABLE`, which `cargo xtask kind-test` prints at the end.

use std::io::Write;
use std::time::Duration;

use super::client::Reply;

/// Who sends a request, as Traefik sees the TCP peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    /// A proxy in both the entrypoint's `forwardedHeaders.trustedIPs` and
    /// EdgeGuard's `clientIp.trustedProxies`: its forwarding headers count.
    /// On kind every request from the host arrives this way (the Docker host
    /// on kind's network, trusted by the `kind` preset).
    TrustedProxy,
    /// A peer in neither list: whatever it claims must not count.
    Untrusted,
}

/// The two cutover switches of the shared Middleware (docs/cutover.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Switch {
    /// `maintenance.enabled` in the Middleware (`kubectl patch middleware`).
    Enabled,
    /// The flag file `maintenance.flagFile` (the flag ConfigMap on Kubernetes).
    FlagFile,
}

/// What a test may need beyond sending requests from a trusted proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capability {
    /// Requests from [`Peer::Untrusted`].
    UntrustedPeer,
    /// Starting its own Traefik with a per-test static and dynamic
    /// configuration and reading its log (tests/support/traefik.rs).
    OwnTraefik,
}

/// A deployment of Traefik + EdgeGuard + the echo backend running the shared
/// Middleware (traefik-config/manifests/middleware.yaml) on `/`, and no
/// middleware on `/plain`.
pub trait Target {
    /// `local` or `kind`.
    fn name(&self) -> &'static str;

    /// Why this target cannot do `capability`, or `None` when it can.
    fn lacks(&self, capability: Capability) -> Option<&'static str>;

    /// Sends `method path` from `peer` with extra request headers.
    fn send(&self, peer: Peer, method: &str, path: &str, headers: &[(&str, &str)]) -> Reply;

    /// The address Traefik sees for `peer`, when the target knows it.
    fn peer_ip(&self, peer: Peer) -> Option<String>;

    /// An address inside the trusted proxies other than the peer: a second
    /// proxy hop in a chain (the ALB of a client → ALB → proxy → Traefik chain).
    fn trusted_hop(&self) -> &'static str;

    /// The maintenance bypass token the deployment holds (`allow.token`).
    fn maintenance_token(&self) -> String;

    /// Flips `maintenance.enabled` in the Middleware.
    fn set_maintenance_enabled(&self, on: bool);

    /// Writes the flag file (`Some(content)`) or removes it (`None`).
    fn set_maintenance_flag(&self, content: Option<&str>);

    /// How long a change of `switch` may take to reach every request.
    fn pickup(&self, switch: Switch) -> Duration;

    /// Traefik's log (or its end), for failure messages.
    fn diagnostics(&self) -> String;

    /// `GET path` from `peer`.
    fn get(&self, peer: Peer, path: &str, headers: &[(&str, &str)]) -> Reply {
        self.send(peer, "GET", path, headers)
    }
}

/// The target `EDGEGUARD_E2E_TARGET` selects (`local` when unset).
fn selected() -> String {
    std::env::var("EDGEGUARD_E2E_TARGET").unwrap_or_else(|_| "local".to_string())
}

fn open() -> Box<dyn Target> {
    match selected().as_str() {
        "local" => Box::new(super::local_target::LocalTarget::start()),
        "kind" => Box::new(super::kind_target::KindTarget::connect()),
        other => panic!("EDGEGUARD_E2E_TARGET={other}: want `local` or `kind`"),
    }
}

/// Runs one case of the shared suite against the selected target, or
/// reports it as not applicable when the target lacks one of `needs`.
pub fn run(needs: &[Capability], case: impl FnOnce(&dyn Target)) {
    let target = open();
    if let Some(reason) = needs.iter().find_map(|c| target.lacks(*c)) {
        not_applicable(target.name(), reason);
        return;
    }
    case(target.as_ref());
}

/// For a test that starts its own Traefik ([`Capability::OwnTraefik`]):
/// `true` when the selected target cannot, after reporting it. Such a test
/// begins with `if own_traefik_unavailable() { return; }`.
pub fn own_traefik_unavailable() -> bool {
    let name = selected();
    if name == "local" {
        return false;
    }
    not_applicable(
        if name == "kind" { "kind" } else { "this target" },
        "starts its own Traefik with a per-test configuration (tests/support/traefik.rs); \
         the cluster runs only the shared Middleware",
    );
    true
}

/// Prints `not applicable on <target>: <test>: <reason>` and appends the same
/// line to `EDGEGUARD_E2E_NOT_APPLICABLE` when set.
fn not_applicable(target: &str, reason: &str) {
    let test = std::thread::current().name().unwrap_or("?").to_string();
    let line = format!("not applicable on {target}: {test}: {reason}");
    println!("{line}");
    if let Some(path) = std::env::var_os("EDGEGUARD_E2E_NOT_APPLICABLE") {
        let file = std::fs::OpenOptions::new().create(true).append(true).open(&path);
        file.and_then(|mut f| writeln!(f, "{line}")).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    }
}
