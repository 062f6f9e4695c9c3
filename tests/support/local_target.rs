//! The `local` target: Traefik on 127.0.0.1 running the cluster's own
//! Middleware config, read from traefik-config/manifests/middleware.yaml.
//! Like the kind and EKS overlays, only `clientIp.trustedProxies` changes
//! (and the entrypoint trusts the same networks); the guest directories the
//! Middleware names are temporary directories mounted the way the Helm values
//! mount the ConfigMaps: `/geo` holds the test databases under the names the
//! Middleware reads, `/maintenance` the flag file.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use serde_json::{Value, json};

use super::client::Reply;
use super::target::{Capability, Peer, Switch, Target};
use super::traefik::{Setup, Traefik};
use super::yaml::documents;

/// The proxy the tests play; Traefik and EdgeGuard trust it and, as in the
/// EKS overlay, a VPC range (the ALB hop of a client → ALB → proxy chain).
const PROXY: &str = "127.0.0.2";
const TRUSTED: [&str; 2] = ["127.0.0.2/32", "10.0.0.0/16"];
/// A peer in neither list.
const STRANGER: &str = "127.0.0.3";
const TOKEN_ENV: &str = "EDGEGUARD_MAINTENANCE_TOKEN";
const TOKEN: &str = "local-e2e-token-not-a-secret";
/// Test database → the name the Middleware reads (as in the kind GeoIP ConfigMap).
const GEO_FILES: [(&str, &str); 2] =
    [("GeoLite2-City-Test.mmdb", "GeoLite2-City.mmdb"), ("GeoLite2-ASN-Test.mmdb", "GeoLite2-ASN.mmdb")];

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `spec.plugin.edgeguard` of the shared Middleware.
pub fn shared_middleware_config() -> Value {
    let relative = "traefik-config/manifests/middleware.yaml";
    let text = std::fs::read_to_string(workspace().join(relative)).unwrap();
    let docs = documents(&text, relative);
    let config = docs.iter().find(|d| d["kind"] == "Middleware").map(|d| &d["spec"]["plugin"]["edgeguard"]);
    config.filter(|c| c.is_object()).unwrap_or_else(|| panic!("{relative}: no EdgeGuard Middleware")).clone()
}

pub struct LocalTarget {
    traefik: Traefik,
    /// The Middleware config Traefik runs now (maintenance.enabled changes).
    config: Mutex<Value>,
    maintenance_dir: tempfile::TempDir,
    _geo_dir: tempfile::TempDir,
}

impl LocalTarget {
    pub fn start() -> Self {
        let mut config = shared_middleware_config();
        config["clientIp"]["trustedProxies"] = json!(TRUSTED);
        let geo_dir = tempfile::tempdir().unwrap();
        for (test_name, name) in GEO_FILES {
            std::fs::copy(workspace().join("testdata/geo").join(test_name), geo_dir.path().join(name))
                .unwrap();
        }
        let maintenance_dir = tempfile::tempdir().unwrap();
        // Read-write mounts (no `:ro` as in the Helm values): the plugin only
        // reads them, and `cargo xtask compat` runs Traefik releases from 3.2.2 on.
        let mount = |dir: &Path, guest: &str| format!("{}:{guest}", dir.display());
        let traefik = Setup::new()
            .entrypoint_trusted_ips(&TRUSTED)
            .plugin_settings(json!({
                "mounts": [mount(geo_dir.path(), "/geo"), mount(maintenance_dir.path(), "/maintenance")],
                "envs": [TOKEN_ENV],
            }))
            .traefik_env(TOKEN_ENV, TOKEN)
            .router("guarded", "/", Some(config.clone()))
            .router("plain", "/plain", None)
            .start();
        Self { traefik, config: Mutex::new(config), maintenance_dir, _geo_dir: geo_dir }
    }

    fn check_interval(&self) -> Duration {
        let config = self.config.lock().unwrap_or_else(|e| e.into_inner());
        let interval = config["maintenance"]["checkInterval"].as_str().unwrap_or("2s");
        let seconds = interval.strip_suffix('s').and_then(|s| s.parse().ok());
        Duration::from_secs(
            seconds.unwrap_or_else(|| panic!("checkInterval {interval:?}: want whole seconds")),
        )
    }
}

impl Target for LocalTarget {
    fn name(&self) -> &'static str {
        "local"
    }

    fn lacks(&self, _: Capability) -> Option<&'static str> {
        None
    }

    fn send(&self, peer: Peer, method: &str, path: &str, headers: &[(&str, &str)]) -> Reply {
        let source = if peer == Peer::TrustedProxy { PROXY } else { STRANGER };
        self.traefik.request(method, source, path, headers)
    }

    fn peer_ip(&self, peer: Peer) -> Option<String> {
        Some(if peer == Peer::TrustedProxy { PROXY } else { STRANGER }.to_string())
    }

    fn trusted_hop(&self) -> &'static str {
        "10.0.0.5"
    }

    fn maintenance_token(&self) -> String {
        TOKEN.to_string()
    }

    fn set_maintenance_enabled(&self, on: bool) {
        let mut config = self.config.lock().unwrap_or_else(|e| e.into_inner());
        config["maintenance"]["enabled"] = json!(on);
        self.traefik.reconfigure("guarded", config.clone());
    }

    fn set_maintenance_flag(&self, content: Option<&str>) {
        let flag = self.maintenance_dir.path().join("flag");
        match content {
            Some(content) => std::fs::write(&flag, content).unwrap(),
            None => match std::fs::remove_file(&flag) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => panic!("{}: {e}", flag.display()),
                _ => {}
            },
        }
    }

    fn pickup(&self, switch: Switch) -> Duration {
        match switch {
            // The file provider's reload (throttled to 2 s) and a new plugin instance.
            Switch::Enabled => Duration::from_secs(10),
            // One checkInterval, doubled for a loaded machine.
            Switch::FlagFile => 2 * self.check_interval(),
        }
    }

    fn diagnostics(&self) -> String {
        self.traefik.log()
    }
}
