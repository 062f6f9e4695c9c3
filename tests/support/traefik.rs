//! Starts real Traefik with the EdgeGuard plugin in a temporary working
//! directory, in front of an in-process echo backend; stops both on drop.
//!
//! Needs `EDGEGUARD_TRAEFIK` (path of the traefik binary) and the plugin built
//! into `target/plugins-local`; `cargo xtask test` provides both.

use std::net::{IpAddr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::client::{Reply, send};
use super::echo;

/// What to start: routers with optional EdgeGuard configs, plus entrypoint settings.
pub struct Setup {
    routers: Vec<(String, String, Option<Value>)>,
    trusted_ips: Vec<String>,
    insecure: bool,
    plugin_settings: Value,
    envs: Vec<(String, String)>,
}

impl Setup {
    pub fn new() -> Self {
        Self {
            routers: Vec::new(),
            trusted_ips: Vec::new(),
            insecure: false,
            plugin_settings: json!({}),
            envs: Vec::new(),
        }
    }

    /// A router for `PathPrefix(prefix)`, with EdgeGuard configured as `config` (or no middleware).
    pub fn router(mut self, name: &str, prefix: &str, config: Option<Value>) -> Self {
        self.routers.push((name.into(), prefix.into(), config));
        self
    }

    /// The entrypoint's `forwardedHeaders.trustedIPs`.
    pub fn entrypoint_trusted_ips(mut self, ips: &[&str]) -> Self {
        self.trusted_ips = ips.iter().map(|s| s.to_string()).collect();
        self
    }

    /// The entrypoint's `forwardedHeaders.insecure: true`: Traefik keeps every
    /// peer's `X-Forwarded-*` headers, so only EdgeGuard's own stripping is
    /// between a client and the backend (issue #13's setting).
    pub fn entrypoint_insecure(mut self) -> Self {
        self.insecure = true;
        self
    }

    /// The plugin's static `settings` (mounts, envs).
    pub fn plugin_settings(mut self, settings: Value) -> Self {
        self.plugin_settings = settings;
        self
    }

    /// An environment variable for the Traefik process (forwarded to the
    /// plugin only if listed in `settings.envs`).
    pub fn traefik_env(mut self, name: &str, value: &str) -> Self {
        self.envs.push((name.into(), value.into()));
        self
    }

    pub fn start(self) -> Traefik {
        Traefik::start(self)
    }
}

/// A running Traefik + echo backend.
pub struct Traefik {
    child: Child,
    rt: tokio::runtime::Runtime,
    dir: tempfile::TempDir,
    /// The dynamic configuration as last written (see [`Traefik::reconfigure`]).
    dynamic: Mutex<Value>,
    pub addr: SocketAddr,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

impl Traefik {
    fn start(setup: Setup) -> Self {
        let traefik = std::env::var("EDGEGUARD_TRAEFIK")
            .expect("EDGEGUARD_TRAEFIK is not set: run the end-to-end tests with `cargo xtask test`");
        let plugin = workspace().join("target/plugins-local/src/edgeguard");
        assert!(
            plugin.join("plugin.wasm").exists(),
            "{} missing: run `cargo xtask plugin`",
            plugin.display()
        );

        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        let echo_addr = listener.local_addr().unwrap();
        rt.spawn(echo::serve(listener));

        let dir = tempfile::tempdir().unwrap();
        let plugin_dst = dir.path().join("plugins-local/src/edgeguard");
        std::fs::create_dir_all(&plugin_dst).unwrap();
        for file in ["plugin.wasm", ".traefik.yml"] {
            std::fs::copy(plugin.join(file), plugin_dst.join(file)).unwrap();
        }

        let port = free_port();
        let mut routers = serde_json::Map::new();
        let mut middlewares = serde_json::Map::new();
        for (name, prefix, config) in &setup.routers {
            let mut router = json!({"rule": format!("PathPrefix(`{prefix}`)"), "service": "echo"});
            if let Some(config) = config {
                router["middlewares"] = json!([format!("eg-{name}")]);
                middlewares.insert(format!("eg-{name}"), json!({"plugin": {"edgeguard": config}}));
            }
            routers.insert(name.clone(), router);
        }
        let mut dynamic = json!({"http": {
            "routers": routers,
            "services": {"echo": {"loadBalancer": {"servers": [{"url": format!("http://{echo_addr}")}]}}},
        }});
        // Traefik refuses an empty `middlewares` element.
        if !middlewares.is_empty() {
            dynamic["http"]["middlewares"] = Value::Object(middlewares);
        }
        let mut entrypoint = json!({"address": format!("127.0.0.1:{port}")});
        if setup.insecure {
            entrypoint["forwardedHeaders"] = json!({"insecure": true});
        } else if !setup.trusted_ips.is_empty() {
            entrypoint["forwardedHeaders"] = json!({"trustedIPs": setup.trusted_ips});
        }
        let mut plugin = json!({"moduleName": "edgeguard"});
        // Traefik refuses an empty `settings` element.
        if setup.plugin_settings.as_object().is_some_and(|o| !o.is_empty()) {
            plugin["settings"] = setup.plugin_settings.clone();
        }
        // JSON is YAML, so Traefik reads these .yml files as written.
        let static_cfg = json!({
            "global": {"checkNewVersion": false, "sendAnonymousUsage": false},
            "entryPoints": {"web": entrypoint},
            "providers": {"file": {"filename": dir.path().join("dynamic.yml")}},
            "experimental": {"localPlugins": {"edgeguard": plugin}},
            "log": {"level": "INFO", "noColor": true, "filePath": dir.path().join("traefik.log")},
        });
        std::fs::write(dir.path().join("dynamic.yml"), dynamic.to_string()).unwrap();
        std::fs::write(dir.path().join("traefik.yml"), static_cfg.to_string()).unwrap();

        let child = Command::new(&traefik)
            .arg(format!("--configFile={}", dir.path().join("traefik.yml").display()))
            .current_dir(dir.path())
            .envs(setup.envs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("stderr.log")).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {traefik}: {e}"));
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let mut t = Self { child, rt, dir, dynamic: Mutex::new(dynamic), addr };
        t.wait_ready();
        t
    }

    /// Polls until every router answers with something other than Traefik's
    /// "no router" 404, i.e. the dynamic config and the plugin are loaded.
    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("traefik exited early ({status}); log:\n{}", self.log());
            }
            let probe =
                self.rt.block_on(send(Some(IpAddr::from([127, 0, 0, 1])), self.addr, "GET", "/", &[]));
            if probe.is_ok_and(|r| r.status != 404) {
                return;
            }
            assert!(Instant::now() < deadline, "traefik not ready within 60 s; log:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Sends a request from `source` (e.g. "127.0.0.2") with extra headers.
    pub fn get_from(&self, source: &str, path: &str, headers: &[(&str, &str)]) -> Reply {
        self.request("GET", source, path, headers)
    }

    /// Sends `method path` from `source` with extra headers.
    pub fn request(&self, method: &str, source: &str, path: &str, headers: &[(&str, &str)]) -> Reply {
        let source: IpAddr = source.parse().expect("source address");
        self.rt
            .block_on(send(Some(source), self.addr, method, path, headers))
            .unwrap_or_else(|e| panic!("{method} {path} from {source} failed: {e}; log:\n{}", self.log()))
    }

    /// Sends a request from 127.0.0.1.
    pub fn get(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        self.get_from("127.0.0.1", path, headers)
    }

    /// Replaces the EdgeGuard config of router `name` while Traefik runs: the
    /// file provider watches dynamic.yml, which is written aside and renamed
    /// over so Traefik never reads half a file.
    pub fn reconfigure(&self, name: &str, config: Value) {
        let mut dynamic = self.dynamic.lock().unwrap_or_else(|e| e.into_inner());
        let middleware = &mut dynamic["http"]["middlewares"][format!("eg-{name}")];
        assert!(middleware.is_object(), "router {name} has no EdgeGuard middleware to reconfigure");
        *middleware = json!({"plugin": {"edgeguard": config}});
        let aside = self.dir.path().join("dynamic.next");
        std::fs::write(&aside, dynamic.to_string()).unwrap();
        std::fs::rename(&aside, self.dir.path().join("dynamic.yml")).unwrap();
    }

    /// Traefik's log so far (file log plus stderr).
    pub fn log(&self) -> String {
        let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
        read(&self.dir.path().join("traefik.log")) + &read(&self.dir.path().join("stderr.log"))
    }

    /// Traefik's process id (its memory in /proc).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The temporary working directory (for mounted files).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Traefik {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
