//! What runs on each host, configured from the files users deploy
//! (`traefik-config/`), with only the rehearsal's local differences laid on
//! top (addresses, test databases, the operator's address, signing): the
//! ALB and NLB (HAProxy), Traefik with the plugin, Traefik without it in
//! front of `edgeguard serve`, and the Tomcat application.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use super::network::{VPC, host};

/// The app's port, and where every proxy sends it.
pub const APP_PORT: u16 = 8080;
/// Traefik (plugin) entrypoints: `web` behind the ALB, `nlb` behind the NLB (proxy protocol).
pub const TRAEFIK_WEB_PORT: u16 = 80;
pub const TRAEFIK_NLB_PORT: u16 = 8000;
/// Traefik 2 entrypoints: `web` trusts the VPC (docs/sidecar.md); `legacy` is
/// Traefik's default, trusting nobody, as the seed ran it before EdgeGuard.
pub const TRAEFIK2_WEB_PORT: u16 = 80;
pub const TRAEFIK2_LEGACY_PORT: u16 = 81;
pub const SIDECAR_PORT: u16 = 8080;
pub const SIDECAR_ADMIN_PORT: u16 = 9090;
/// The balancers' listeners: the ALB on 80; the NLB on 80 (to Traefik) and 8080 (to the sidecar).
pub const ALB_PORT: u16 = 80;
pub const NLB_TRAEFIK_PORT: u16 = 80;
pub const NLB_SIDECAR_PORT: u16 = 8080;

/// `Host` headers the ALB routes on (listener rules), and what is behind each.
pub const SHOP_HOST: &str = "shop.rehearsal.test";
pub const SIDECAR_HOST: &str = "sidecar.rehearsal.test";
pub const SEED_HOST: &str = "seed.rehearsal.test";
pub const SEED_DEFAULT_HOST: &str = "seed-default.rehearsal.test";

/// The signing key id the app's filter expects (EdgeGuard's default `signing.keyId`).
pub const KEY_ID: &str = "k1";
/// The flag file's name in the maintenance volume (the ConfigMap key).
pub const FLAG_NAME: &str = "flag";

/// Container paths of the EKS Helm values' volumes, and what stands in for
/// each here (`settings.mounts` maps them to the plugin's guest paths).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Volume {
    /// `/etc/edgeguard/geoip`: the geoipupdate volume; here the committed test databases.
    Geo,
    /// `/etc/edgeguard/maintenance`: the flag ConfigMap; here a directory the drill writes.
    Maintenance,
}

const VOLUMES: &[(&str, Volume)] =
    &[("/etc/edgeguard/geoip", Volume::Geo), ("/etc/edgeguard/maintenance", Volume::Maintenance)];

/// The rehearsal's directories.
#[derive(Debug, Clone)]
pub struct Dirs {
    pub root: PathBuf,
    /// This run's configs and logs.
    pub run: PathBuf,
}

impl Dirs {
    pub fn volume(&self, volume: Volume) -> PathBuf {
        match volume {
            Volume::Geo => self.root.join("testdata/geo"),
            Volume::Maintenance => self.run.join("maintenance"),
        }
    }

    pub fn flag_file(&self) -> PathBuf {
        self.volume(Volume::Maintenance).join(FLAG_NAME)
    }
}

fn read_yaml(root: &Path, relative: &str) -> Result<Value> {
    let text = std::fs::read_to_string(root.join(relative)).with_context(|| format!("reading {relative}"))?;
    serde_norway::from_str(&text).with_context(|| format!("{relative}: not valid YAML"))
}

/// RFC 7386 JSON merge patch: how kustomize applies a patch to a custom
/// resource such as the Middleware (no strategic-merge schema for CRDs).
pub fn merge(base: &mut Value, patch: &Value) {
    match (base, patch) {
        (Value::Object(base), Value::Object(patch)) => {
            for (key, value) in patch {
                if value.is_null() {
                    base.remove(key);
                } else {
                    merge(base.entry(key.clone()).or_insert(Value::Null), value);
                }
            }
        }
        (base, patch) => *base = patch.clone(),
    }
}

fn pointer<'a>(doc: &'a Value, path: &str, origin: &str) -> Result<&'a Value> {
    doc.pointer(path).with_context(|| format!("{origin}: no {path}"))
}

/// The EdgeGuard config blocks of the two Middlewares users apply: the EKS
/// (ALB) overlay, and the NLB overlay (the shared manifest as it is).
#[derive(Debug, Clone)]
pub struct Middlewares {
    pub alb: Value,
    pub nlb: Value,
}

impl Middlewares {
    pub fn load(root: &Path, operator: IpAddr) -> Result<Self> {
        const PLUGIN: &str = "/spec/plugin/edgeguard";
        let base = read_yaml(root, "traefik-config/manifests/middleware.yaml")?;
        let base = pointer(&base, PLUGIN, "middleware.yaml")?.clone();
        let patch = read_yaml(root, "traefik-config/eks/trusted-proxies.yaml")?;
        let mut alb = base.clone();
        merge(&mut alb, pointer(&patch, PLUGIN, "eks/trusted-proxies.yaml")?);
        let mut nlb = base;
        let local = local_differences(operator);
        merge(&mut alb, &local);
        merge(&mut nlb, &local);
        Ok(Self { alb, nlb })
    }

    /// Both with `maintenance.enabled` set (the `kubectl patch middleware` switch).
    pub fn with_enabled(&self, enabled: bool) -> Self {
        let mut out = self.clone();
        for config in [&mut out.alb, &mut out.nlb] {
            config["maintenance"]["enabled"] = json!(enabled);
        }
        out
    }
}

/// The rehearsal's only changes to the users' Middleware: the committed test
/// databases instead of geoipupdate's, the operator host as the office
/// allow-list (the manifest has a placeholder range), bypass reasons shown,
/// and signing on, so the app's filter has something to verify.
fn local_differences(operator: IpAddr) -> Value {
    json!({
        "geo": {"database": "/geo/GeoLite2-City-Test.mmdb", "asnDatabase": "/geo/GeoLite2-ASN-Test.mmdb"},
        "maintenance": {"allow": {"cidrs": [format!("{operator}/32")]}, "debugHeaders": true},
        "signing": {"secretEnv": "EDGEGUARD_SIGNING_KEY", "keyId": KEY_ID},
    })
}

/// The plugin's static settings as the EKS Helm values pass them
/// (`additionalArguments`): mounts, with the container side mapped to this
/// run's directories, and the environment variables it may read.
#[derive(Debug, PartialEq, Eq)]
pub struct PluginSettings {
    /// `(volume, guest path, read-only)`.
    pub mounts: Vec<(Volume, String, bool)>,
    pub envs: Vec<String>,
}

impl PluginSettings {
    pub fn from_values(values: &Value) -> Result<Self> {
        const PREFIX: &str = "--experimental.localPlugins.edgeguard.settings.";
        let args = values["additionalArguments"].as_array().context("values.yaml: no additionalArguments")?;
        let mut mounts = Vec::new();
        let mut envs = Vec::new();
        for arg in args.iter().filter_map(Value::as_str) {
            let Some(setting) = arg.strip_prefix(PREFIX) else { continue };
            if let Some(list) = setting.strip_prefix("mounts=") {
                for mount in list.split(',') {
                    let mut parts = mount.split(':');
                    let (Some(source), Some(guest)) = (parts.next(), parts.next()) else {
                        bail!("values.yaml: mount {mount:?} is not source:guest[:ro]");
                    };
                    let volume =
                        VOLUMES.iter().find(|(path, _)| *path == source).map(|(_, v)| *v).with_context(
                            || format!("values.yaml: mount source {source} has no stand-in here"),
                        )?;
                    mounts.push((volume, guest.to_string(), parts.next() == Some("ro")));
                }
            } else if let Some(list) = setting.strip_prefix("envs=") {
                envs.extend(list.split(',').map(String::from));
            }
        }
        Ok(Self { mounts, envs })
    }

    /// The guest path of `volume`.
    #[cfg(test)]
    pub fn guest(&self, volume: Volume) -> Result<&str> {
        self.mounts
            .iter()
            .find(|(v, _, _)| *v == volume)
            .map(|(_, guest, _)| guest.as_str())
            .with_context(|| format!("values.yaml mounts no {volume:?} volume"))
    }

    /// A guest path (e.g. `/geo/x.mmdb`) as a path on this machine.
    pub fn host_path(&self, dirs: &Dirs, guest_path: &str) -> Result<PathBuf> {
        for (volume, guest, _) in &self.mounts {
            if let Some(rest) = guest_path.strip_prefix(guest.as_str()).and_then(|r| r.strip_prefix('/')) {
                return Ok(dirs.volume(*volume).join(rest));
            }
        }
        bail!("{guest_path} is in no mounted volume")
    }
}

/// Everything derived from the users' files, once.
#[derive(Debug)]
pub struct Deployment {
    pub middlewares: Middlewares,
    pub settings: PluginSettings,
    values: Value,
    values_nlb: Value,
    sidecar: Value,
}

impl Deployment {
    pub fn load(root: &Path, operator: IpAddr) -> Result<Self> {
        let values = read_yaml(root, "traefik-config/eks/values.yaml")?;
        let values_nlb = read_yaml(root, "traefik-config/eks/values-nlb.yaml")?;
        Ok(Self {
            middlewares: Middlewares::load(root, operator)?,
            settings: PluginSettings::from_values(&values)?,
            sidecar: read_yaml(root, "traefik-config/sidecar/edgeguard.yaml")?,
            values,
            values_nlb,
        })
    }

    /// Static configuration of the Traefik with the plugin: the chart's `web`
    /// port as values.yaml sets it (ALB), a second entrypoint as
    /// values-nlb.yaml sets `web` (NLB, proxy protocol), the local plugin
    /// with the values' settings, and the file provider standing in for the CRDs.
    pub fn traefik_static(&self, dirs: &Dirs) -> Result<Value> {
        let addr = host("traefik").v4_addr();
        let mut web = json!({"address": format!("{addr}:{TRAEFIK_WEB_PORT}")});
        merge(&mut web, &entrypoint_settings(&self.values, "values.yaml")?);
        let mut nlb = json!({"address": format!("{addr}:{TRAEFIK_NLB_PORT}")});
        merge(&mut nlb, &entrypoint_settings(&self.values_nlb, "values-nlb.yaml")?);
        let module = pointer(&self.values, "/experimental/localPlugins/edgeguard/moduleName", "values.yaml")?;
        let mounts: Vec<String> = self
            .settings
            .mounts
            .iter()
            .map(|(volume, guest, ro)| {
                format!("{}:{guest}{}", dirs.volume(*volume).display(), if *ro { ":ro" } else { "" })
            })
            .collect();
        let mut envs = self.settings.envs.clone();
        envs.push("EDGEGUARD_SIGNING_KEY".into());
        Ok(json!({
            "global": {"checkNewVersion": false, "sendAnonymousUsage": false},
            "entryPoints": {"web": web, "nlb": nlb},
            "providers": {"file": {"filename": dirs.run.join("traefik/dynamic.yml"), "watch": true}},
            "experimental": {"localPlugins": {"edgeguard": {
                "moduleName": module, "settings": {"mounts": mounts, "envs": envs},
            }}},
            "log": {"level": "INFO", "noColor": true},
        }))
    }

    /// Dynamic configuration of the Traefik with the plugin: the
    /// IngressRoute's route on each entrypoint, through that overlay's Middleware.
    pub fn traefik_dynamic(&self, middlewares: &Middlewares) -> Value {
        let app = format!("http://{}:{APP_PORT}", host("app").v4_addr());
        json!({"http": {
            "middlewares": {
                "edgeguard": {"plugin": {"edgeguard": middlewares.alb}},
                "edgeguard-nlb": {"plugin": {"edgeguard": middlewares.nlb}},
            },
            "routers": {
                "shop": {"entryPoints": ["web"], "rule": "PathPrefix(`/`)", "middlewares": ["edgeguard"], "service": "app"},
                "shop-nlb": {"entryPoints": ["nlb"], "rule": "PathPrefix(`/`)", "middlewares": ["edgeguard-nlb"], "service": "app"},
            },
            "services": {"app": {"loadBalancer": {"servers": [{"url": app}]}}},
        }})
    }

    /// The second Traefik (no plugin): `web` trusts the VPC and routes the
    /// sidecar's host to it (traefik-config/sidecar/kubernetes.yaml); both
    /// entrypoints route the seed's host straight to the app.
    pub fn traefik2(&self, dirs: &Dirs) -> (Value, Value) {
        let addr = host("traefik2").v4_addr();
        let static_cfg = json!({
            "global": {"checkNewVersion": false, "sendAnonymousUsage": false},
            "entryPoints": {
                "web": {"address": format!("{addr}:{TRAEFIK2_WEB_PORT}"), "forwardedHeaders": {"trustedIPs": [VPC]}},
                "legacy": {"address": format!("{addr}:{TRAEFIK2_LEGACY_PORT}")},
            },
            "providers": {"file": {"filename": dirs.run.join("traefik2/dynamic.yml"), "watch": false}},
            "log": {"level": "INFO", "noColor": true},
        });
        let app = format!("http://{}:{APP_PORT}", host("app").v4_addr());
        let sidecar = format!("http://{}:{SIDECAR_PORT}", host("sidecar").v4_addr());
        let dynamic = json!({"http": {
            "routers": {
                "sidecar": {"entryPoints": ["web"], "rule": format!("Host(`{SIDECAR_HOST}`)"), "service": "sidecar"},
                "seed": {"entryPoints": ["web"], "rule": format!("Host(`{SEED_HOST}`)"), "service": "app"},
                "seed-default": {"entryPoints": ["legacy"], "rule": format!("Host(`{SEED_DEFAULT_HOST}`)"), "service": "app"},
            },
            "services": {
                "app": {"loadBalancer": {"servers": [{"url": app}]}},
                "sidecar": {"loadBalancer": {"servers": [{"url": sidecar}]}},
            },
        }});
        (static_cfg, dynamic)
    }

    /// `edgeguard serve` config: traefik-config/sidecar/edgeguard.yaml's
    /// `server` section on this network, with the ALB Middleware's
    /// `clientIp`, `geo`, `maintenance` and `signing` (one schema for both
    /// front-ends), guest paths turned into paths on this machine.
    pub fn sidecar(&self, dirs: &Dirs) -> Result<Value> {
        let mut cfg = self.sidecar.clone();
        let addr = host("sidecar").v4_addr();
        merge(
            &mut cfg,
            &json!({"server": {
                "listen": format!("{addr}:{SIDECAR_PORT}"),
                "adminListen": format!("{addr}:{SIDECAR_ADMIN_PORT}"),
                "upstream": format!("http://{}:{APP_PORT}", host("app").v4_addr()),
            }}),
        );
        let mut plugin = self.middlewares.alb.clone();
        for field in ["/geo/database", "/geo/asnDatabase", "/maintenance/flagFile"] {
            let guest =
                pointer(&plugin, field, "the ALB Middleware")?.as_str().context("a path")?.to_string();
            let local = self.settings.host_path(dirs, &guest)?;
            *plugin.pointer_mut(field).context("present")? = json!(local);
        }
        for section in ["clientIp", "geo", "maintenance", "signing"] {
            cfg[section] = plugin[section].clone();
        }
        Ok(cfg)
    }
}

/// An entrypoint's `forwardedHeaders` / `proxyProtocol` from the chart's `ports.web`.
fn entrypoint_settings(values: &Value, origin: &str) -> Result<Value> {
    let web = pointer(values, "/ports/web", origin)?;
    let mut out = json!({});
    for key in ["forwardedHeaders", "proxyProtocol"] {
        if let Some(setting) = web.get(key) {
            out[key] = setting.clone();
        }
    }
    Ok(out)
}

/// HAProxy as the ALB: HTTP mode, `option forwardfor` appending the client
/// to X-Forwarded-For like an ALB, X-Forwarded-Proto/Port as an ALB sets
/// them, listener rules on the Host header.
pub fn alb_config() -> String {
    let alb = host("alb");
    let v6 = alb.v6_addr().expect("the ALB is dual-stack");
    let traefik = host("traefik").v4_addr();
    let traefik2 = host("traefik2").v4_addr();
    format!(
        "global\n  maxconn 1024\n\
         defaults\n  mode http\n  timeout connect 2s\n  timeout client 30s\n  timeout server 30s\n\
         \x20 option forwardfor\n\
         frontend alb\n  bind {v4}:{ALB_PORT}\n  bind [{v6}]:{ALB_PORT}\n\
         \x20 http-request set-header X-Forwarded-Proto http\n\
         \x20 http-request set-header X-Forwarded-Port {ALB_PORT}\n\
         \x20 use_backend traefik2 if {{ hdr(host) -i {SIDECAR_HOST} {SEED_HOST} }}\n\
         \x20 use_backend traefik2_legacy if {{ hdr(host) -i {SEED_DEFAULT_HOST} }}\n\
         \x20 default_backend traefik\n\
         backend traefik\n  server traefik {traefik}:{TRAEFIK_WEB_PORT}\n\
         backend traefik2\n  server traefik2 {traefik2}:{TRAEFIK2_WEB_PORT}\n\
         backend traefik2_legacy\n  server traefik2 {traefik2}:{TRAEFIK2_LEGACY_PORT}\n",
        v4 = alb.v4_addr(),
    )
}

/// HAProxy as the NLB: TCP mode, PROXY protocol v2 to Traefik's `nlb`
/// entrypoint and to the sidecar.
pub fn nlb_config() -> String {
    let nlb = host("nlb");
    let v6 = nlb.v6_addr().expect("the NLB is dual-stack");
    let v4 = nlb.v4_addr();
    let traefik = host("traefik").v4_addr();
    let sidecar = host("sidecar").v4_addr();
    format!(
        "global\n  maxconn 1024\n\
         defaults\n  mode tcp\n  timeout connect 2s\n  timeout client 30s\n  timeout server 30s\n\
         frontend to_traefik\n  bind {v4}:{NLB_TRAEFIK_PORT}\n  bind [{v6}]:{NLB_TRAEFIK_PORT}\n  default_backend traefik\n\
         frontend to_sidecar\n  bind {v4}:{NLB_SIDECAR_PORT}\n  bind [{v6}]:{NLB_SIDECAR_PORT}\n  default_backend sidecar\n\
         backend traefik\n  server traefik {traefik}:{TRAEFIK_NLB_PORT} send-proxy-v2\n\
         backend sidecar\n  server sidecar {sidecar}:{SIDECAR_PORT} send-proxy-v2\n",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
    }

    #[test]
    fn merge_is_json_merge_patch() {
        let cases = [
            (json!({"a": 1, "b": {"c": 2}}), json!({"b": {"d": 3}}), json!({"a": 1, "b": {"c": 2, "d": 3}})),
            (json!({"a": [1, 2]}), json!({"a": [3]}), json!({"a": [3]})),
            (json!({"a": 1, "b": 2}), json!({"b": null}), json!({"a": 1})),
        ];
        for (mut base, patch, want) in cases {
            merge(&mut base, &patch);
            assert_eq!(base, want, "patch {patch}");
        }
    }

    #[test]
    fn middlewares_come_from_the_users_files() {
        let operator: IpAddr = "198.51.100.7".parse().unwrap();
        let m = Middlewares::load(&root(), operator).unwrap();
        assert_eq!(m.alb["clientIp"]["trustedProxies"], json!([VPC]), "the EKS overlay trusts the VPC");
        assert_eq!(m.nlb["clientIp"]["trustedProxies"], json!([]), "the NLB overlay trusts nobody");
        for config in [&m.alb, &m.nlb] {
            assert_eq!(config["maintenance"]["allow"]["cidrs"], json!(["198.51.100.7/32"]));
            assert_eq!(config["maintenance"]["flagFile"], json!("/maintenance/flag"));
            assert_eq!(config["maintenance"]["enabled"], json!(false));
        }
        assert_eq!(m.with_enabled(true).nlb["maintenance"]["enabled"], json!(true));
    }

    #[test]
    fn plugin_settings_follow_the_helm_values() {
        let dep = Deployment::load(&root(), "198.51.100.7".parse().unwrap()).unwrap();
        assert_eq!(dep.settings.guest(Volume::Geo).unwrap(), "/geo");
        assert_eq!(dep.settings.guest(Volume::Maintenance).unwrap(), "/maintenance");
        assert!(dep.settings.envs.contains(&"EDGEGUARD_MAINTENANCE_TOKEN".to_string()));
        let dirs = Dirs { root: root(), run: PathBuf::from("/run-dir") };
        let st = dep.traefik_static(&dirs).unwrap();
        assert_eq!(st["entryPoints"]["web"]["forwardedHeaders"]["trustedIPs"], json!([VPC]));
        assert_eq!(st["entryPoints"]["nlb"]["proxyProtocol"]["trustedIPs"], json!([VPC]));
        let sidecar = dep.sidecar(&dirs).unwrap();
        assert_eq!(sidecar["maintenance"]["flagFile"], json!("/run-dir/maintenance/flag"));
        assert_eq!(sidecar["server"]["proxyProtocol"]["trustedIps"], json!([VPC]));
    }
}
