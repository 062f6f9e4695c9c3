//! The `kind` target: the cluster `cargo xtask kind-test` created, running
//! traefik-config/kind (the shared manifests, the `kind` trusted-proxies
//! overlay and a `/plain` route without middleware).
//!
//! - Trusted proxy: requests from this host to `EDGEGUARD_E2E_BASE_URL`
//!   (kind's port mapping; Traefik sees the Docker host on kind's network).
//! - Untrusted peer: a Node.js client in the echo pod (pods are not trusted).
//! - Switches: `kubectl patch` of the Middleware and of the flag ConfigMap
//!   (tests/support/kube.rs), against `EDGEGUARD_E2E_KUBE_CONTEXT`.
//!
//! The cluster is one shared deployment: a target holds a process-wide lock,
//! so its tests run one at a time, and restores both switches when a test
//! that touched them ends, passed or failed.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::process::Command;
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::client::{Reply, send};
use super::kube;
use super::target::{Capability, Peer, Switch, Target};
use super::yaml::documents;

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
static READY: OnceLock<()> = OnceLock::new();
static POD_IP: OnceLock<String> = OnceLock::new();

fn env(name: &str) -> String {
    std::env::var(name)
        .unwrap_or_else(|_| panic!("{name} is not set: run the kind suite with `cargo xtask kind-test`"))
}

/// `http://host:port` → the address to connect to (no path: routes are the suite's).
fn address_of(base_url: &str) -> SocketAddr {
    let authority =
        base_url.strip_prefix("http://").unwrap_or_else(|| panic!("{base_url}: want http://host:port"));
    let authority = authority.trim_end_matches('/');
    assert!(!authority.contains('/'), "{base_url}: the base URL takes no path");
    let with_port = if authority.contains(':') { authority.to_string() } else { format!("{authority}:80") };
    with_port
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .unwrap_or_else(|| panic!("{base_url}: cannot resolve"))
}

/// Runs kubectl with `args` (built by tests/support/kube.rs); its stdout.
fn kubectl(args: &[String]) -> Result<String, String> {
    let out = Command::new("kubectl").args(args).output().map_err(|e| format!("cannot run kubectl: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "kubectl {}: {}",
            args[..args.len().min(8)].join(" "),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

pub struct KindTarget {
    addr: SocketAddr,
    context: String,
    rt: tokio::runtime::Runtime,
    /// A switch was flipped: restore both when the test ends.
    touched: Cell<bool>,
    _one_at_a_time: MutexGuard<'static, ()>,
}

impl KindTarget {
    pub fn connect() -> Self {
        let guard = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        let target = Self {
            addr: address_of(&env("EDGEGUARD_E2E_BASE_URL")),
            context: env("EDGEGUARD_E2E_KUBE_CONTEXT"),
            rt: tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap(),
            touched: Cell::new(false),
            _one_at_a_time: guard,
        };
        READY.get_or_init(|| target.wait_until_routed());
        target
    }

    /// Polls until both routes reach the echo backend (Traefik has loaded
    /// the plugin, the Middleware and the IngressRoutes).
    fn wait_until_routed(&self) {
        let routed = || {
            let guarded = self
                .try_send("/", &[])
                .is_ok_and(|r| r.status == 200 && !r.upstream_header("x-real-ip").is_empty());
            guarded && self.try_send("/plain", &[]).is_ok_and(|r| r.status == 200)
        };
        let within = Duration::from_secs(120);
        let start = Instant::now();
        while !routed() {
            assert!(
                start.elapsed() < within,
                "{} not routed to the echo backend within {within:?}\n{}",
                self.addr,
                self.diagnostics()
            );
            std::thread::sleep(Duration::from_secs(1));
        }
    }

    fn try_send(&self, path: &str, headers: &[(&str, &str)]) -> std::io::Result<Reply> {
        self.try_request("GET", path, headers)
    }

    fn try_request(&self, method: &str, path: &str, headers: &[(&str, &str)]) -> std::io::Result<Reply> {
        let request = send(None, self.addr, method, path, headers);
        self.rt.block_on(async { tokio::time::timeout(Duration::from_secs(10), request).await })?
    }

    /// The reply printed by [`kube::POD_CLIENT`].
    fn send_from_pod(&self, method: &str, path: &str, headers: &[(&str, &str)]) -> Reply {
        let pairs = serde_json::to_string(headers).unwrap();
        let out = kubectl(&kube::request_from_pod(&self.context, method, path, &pairs))
            .unwrap_or_else(|e| panic!("{method} {path} from the echo pod: {e}"));
        let json: Value =
            serde_json::from_str(&out).unwrap_or_else(|e| panic!("pod client output ({e}): {out}"));
        let headers: BTreeMap<String, String> = json["headers"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(name, value)| {
                let value = match value {
                    Value::Array(lines) => {
                        lines.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", ")
                    }
                    other => other.as_str().unwrap_or_default().to_string(),
                };
                (name.clone(), value)
            })
            .collect();
        let status = json["status"].as_u64().and_then(|s| u16::try_from(s).ok()).expect("a status");
        Reply { status, headers, body: json["body"].as_str().unwrap_or_default().to_string() }
    }

    fn patch(&self, args: &[String]) {
        self.touched.set(true);
        kubectl(args).unwrap_or_else(|e| panic!("{e}"));
    }
}

impl Target for KindTarget {
    fn name(&self) -> &'static str {
        "kind"
    }

    fn lacks(&self, capability: Capability) -> Option<&'static str> {
        match capability {
            Capability::UntrustedPeer => None,
            Capability::OwnTraefik => Some(
                "starts its own Traefik with a per-test configuration (tests/support/traefik.rs); \
                 the cluster runs only the shared Middleware",
            ),
        }
    }

    fn send(&self, peer: Peer, method: &str, path: &str, headers: &[(&str, &str)]) -> Reply {
        match peer {
            Peer::TrustedProxy => self
                .try_request(method, path, headers)
                .unwrap_or_else(|e| panic!("{method} {path} via {} failed: {e}", self.addr)),
            Peer::Untrusted => self.send_from_pod(method, path, headers),
        }
    }

    fn peer_ip(&self, peer: Peer) -> Option<String> {
        match peer {
            // The Docker host on kind's network: which address depends on Docker.
            Peer::TrustedProxy => None,
            Peer::Untrusted => Some(
                POD_IP
                    .get_or_init(|| {
                        let ip = kubectl(&kube::echo_pod_ip(&self.context)).unwrap_or_else(|e| panic!("{e}"));
                        ip.trim().to_string()
                    })
                    .clone(),
            ),
        }
    }

    fn trusted_hop(&self) -> &'static str {
        // Inside 172.16.0.0/12, the `kind` preset.
        "172.18.0.5"
    }

    fn maintenance_token(&self) -> String {
        let relative = "traefik-config/kind/maintenance-token-secret.yaml";
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
        let docs = documents(&std::fs::read_to_string(path).unwrap(), relative);
        docs[0]["stringData"]["token"].as_str().expect("stringData.token").to_string()
    }

    fn set_maintenance_enabled(&self, on: bool) {
        self.patch(&kube::patch_maintenance_enabled(&self.context, on));
    }

    fn set_maintenance_flag(&self, content: Option<&str>) {
        self.patch(&kube::patch_maintenance_flag(&self.context, content));
    }

    fn pickup(&self, switch: Switch) -> Duration {
        match switch {
            // Traefik's Kubernetes CRD provider sees the patch within seconds.
            Switch::Enabled => Duration::from_secs(60),
            // The kubelet refreshes ConfigMap volumes on its sync loop (10 s in
            // traefik-config/kind/cluster.yaml) plus its cache TTL, then checkInterval.
            Switch::FlagFile => Duration::from_secs(180),
        }
    }

    fn diagnostics(&self) -> String {
        kubectl(&kube::traefik_logs(&self.context)).unwrap_or_else(|e| e)
    }
}

impl Drop for KindTarget {
    /// Restores both switches after a test that flipped them, and waits until
    /// the next test would be served; never panics (it may run while unwinding).
    fn drop(&mut self) {
        if !self.touched.get() {
            return;
        }
        let restored = [
            kubectl(&kube::patch_maintenance_enabled(&self.context, false)),
            kubectl(&kube::patch_maintenance_flag(&self.context, Some(kube::FLAG_DEFAULT))),
        ];
        for err in restored.iter().filter_map(|r| r.as_ref().err()) {
            eprintln!("restoring the maintenance switches: {err}");
        }
        let start = Instant::now();
        while start.elapsed() < self.pickup(Switch::FlagFile) {
            if self.try_send("/", &[]).is_ok_and(|r| r.status == 200) {
                return;
            }
            std::thread::sleep(Duration::from_secs(1));
        }
        eprintln!("maintenance still on after restoring both switches");
    }
}
