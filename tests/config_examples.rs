//! Every EdgeGuard config shipped in the repository is decoded and validated
//! by EdgeGuard's own config code: plugin blocks (`plugin.edgeguard`) in every
//! YAML document under `traefik-config/` (file-provider configs, Middleware
//! CRDs and kustomize patches, multi-document files included), the plugin
//! manifest's `testData`, and the YAML examples in the README.
//!
//! Validation opens the files a config names (GeoIP databases, the flag
//! file's directory) and reads the bypass secret's variable, as the plugin
//! does inside Traefik. The test plays the plugin's sandbox:
//!
//! - guest paths are rewritten into a temporary *guest root* where `/geo`
//!   holds the test databases (under their test names and the production names
//!   geoipupdate and the kind ConfigMap use) and every other directory a config
//!   names exists, empty;
//! - every `secretEnv` variable (wherever it appears) is set to a test value.
//!
//! And it checks what only the deployment can make true: each guest path is
//! inside the `settings.mounts`, and each `secretEnv` is in the `settings.envs`,
//! of every Traefik static configuration that loads that config
//! ([`DEPLOYMENTS`]), whether written as Traefik YAML or as Helm values
//! (`additionalArguments` flags).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use edgeguard::Pipeline;
use serde_json::Value;

#[path = "support/yaml.rs"]
mod yaml;
use yaml::{documents, yaml_files};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Folder of plugin configs → the Traefik static configurations (Traefik YAML
/// or Helm values) that load them. The shared manifests run under both the
/// kind and the EKS values, so both must mount and pass what they use.
const DEPLOYMENTS: &[(&str, &[&str])] = &[
    ("traefik-config/local/", &["traefik-config/local/traefik.yml"]),
    ("traefik-config/manifests/", &["traefik-config/kind/values.yaml", "traefik-config/eks/values.yaml"]),
    ("traefik-config/kind/", &["traefik-config/kind/values.yaml"]),
    ("traefik-config/eks/", &["traefik-config/eks/values.yaml"]),
];

/// Fields of an EdgeGuard config that name a file in the plugin's sandbox.
const FILE_FIELDS: &[(&str, &str)] =
    &[("geo", "database"), ("geo", "asnDatabase"), ("maintenance", "flagFile"), ("maintenance", "page")];

/// The test databases, and the production names the same editions have in
/// `/geo` on EKS (geoipupdate) and kind (traefik-config/kind/geoip-test-configmap.yaml).
const GEO_FIXTURES: &[(&str, &[&str])] = &[
    ("GeoLite2-City-Test.mmdb", &["GeoLite2-City.mmdb"]),
    ("GeoLite2-ASN-Test.mmdb", &["GeoLite2-ASN.mmdb"]),
    ("GeoLite2-Country-Test.mmdb", &["GeoLite2-Country.mmdb"]),
];

fn read_yaml(relative: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(root().join(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"));
    documents(&text, relative)
}

/// Every `plugin.edgeguard` block in `value`, with its path in the document.
fn plugin_blocks(value: &Value, path: &str, out: &mut Vec<(String, Value)>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let child_path = format!("{path}.{key}");
                if key == "plugin" {
                    if let Some(cfg) = child.get("edgeguard") {
                        out.push((format!("{child_path}.edgeguard"), cfg.clone()));
                    }
                }
                plugin_blocks(child, &child_path, out);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                plugin_blocks(item, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

/// What a Traefik static configuration lets the `edgeguard` plugin see.
#[derive(Debug, Default)]
struct PluginSettings {
    origin: String,
    /// `host:guest[:ro]` entries.
    mounts: Vec<String>,
    envs: Vec<String>,
}

impl PluginSettings {
    /// Reads `experimental.(local)plugins.edgeguard.settings` (Traefik YAML)
    /// and `--experimental.localPlugins.edgeguard.settings.*=` flags in
    /// `additionalArguments` (Helm values: the chart passes only `moduleName`
    /// from `experimental.localPlugins`).
    fn load(relative: &str) -> Self {
        let mut out = Self { origin: relative.to_string(), ..Self::default() };
        let strings = |v: &Value| -> Vec<String> {
            v.as_array().into_iter().flatten().filter_map(Value::as_str).map(String::from).collect()
        };
        for doc in read_yaml(relative) {
            for section in ["localPlugins", "plugins"] {
                if let Some(settings) = doc.pointer(&format!("/experimental/{section}/edgeguard/settings")) {
                    out.mounts.extend(strings(&settings["mounts"]));
                    out.envs.extend(strings(&settings["envs"]));
                }
            }
            for arg in strings(&doc["additionalArguments"]) {
                for (flag, list) in [("mounts", &mut out.mounts), ("envs", &mut out.envs)] {
                    let prefix = format!("--experimental.localPlugins.edgeguard.settings.{flag}=");
                    if let Some(values) = arg.strip_prefix(&prefix) {
                        list.extend(values.split(',').map(|v| v.trim().to_string()));
                    }
                }
            }
        }
        out
    }

    /// Guest directories, from `host:guest[:ro]` (or `dir`, mounted as itself).
    fn guest_dirs(&self) -> Vec<&str> {
        self.mounts
            .iter()
            .map(|m| {
                let m = m.strip_suffix(":ro").unwrap_or(m);
                m.split_once(':').map_or(m, |(_, guest)| guest)
            })
            .collect()
    }
}

/// The static configurations that load plugin configs found in `origin`.
fn governing(origin: &str) -> Vec<PluginSettings> {
    DEPLOYMENTS
        .iter()
        .filter(|(dir, _)| origin.starts_with(dir))
        .flat_map(|(_, statics)| statics.iter().map(|s| PluginSettings::load(s)))
        .collect()
}

/// The emulated plugin sandbox: `/geo` holds the test databases.
fn guest_root() -> &'static Path {
    static ROOT: OnceLock<tempfile::TempDir> = OnceLock::new();
    ROOT.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let geo = dir.path().join("geo");
        std::fs::create_dir_all(&geo).unwrap();
        for (test_name, aliases) in GEO_FIXTURES {
            let src = root().join("testdata/geo").join(test_name);
            for name in std::iter::once(test_name).chain(aliases.iter()) {
                std::fs::copy(&src, geo.join(name)).unwrap();
            }
        }
        dir
    })
    .path()
}

/// `cfg` with its guest paths moved into [`guest_root`] (their directories
/// created), after checking each is inside the mounts of every governing
/// static config; and each `secretEnv` checked against their `envs` and set.
fn as_in_sandbox(origin: &str, place: &str, cfg: &Value, statics: &[PluginSettings]) -> Value {
    let mut cfg = cfg.clone();
    for (section, field) in FILE_FIELDS {
        let Some(path) = cfg.pointer(&format!("/{section}/{field}")).and_then(Value::as_str) else {
            continue;
        };
        if !path.starts_with('/') {
            continue;
        }
        for s in statics {
            let inside = s.guest_dirs().iter().any(|dir| Path::new(path).starts_with(dir));
            assert!(
                inside,
                "{origin}: `{place}.{section}.{field}` = `{path}` is outside the plugin's settings.mounts in {} \
                 ({:?}): the plugin would not see it",
                s.origin, s.mounts
            );
        }
        let in_root = guest_root().join(path.trim_start_matches('/'));
        std::fs::create_dir_all(in_root.parent().unwrap()).unwrap();
        cfg[*section][*field] = Value::String(in_root.display().to_string());
    }
    let mut secrets = Vec::new();
    secret_envs(&cfg, "", &mut secrets);
    for (field, var) in secrets {
        for s in statics {
            assert!(
                s.envs.contains(&var),
                "{origin}: `{place}{field}` = `{var}` is not in settings.envs of {} ({:?}): the plugin would not \
                 see the variable",
                s.origin,
                s.envs
            );
        }
        set_test_secret(&var);
    }
    cfg
}

/// Every `secretEnv` in a config (maintenance token, and any later section
/// that reads a secret the same way), with its field path.
fn secret_envs(value: &Value, path: &str, out: &mut Vec<(String, String)>) {
    if let Value::Object(map) = value {
        for (key, child) in map {
            let child_path = format!("{path}.{key}");
            match (key.as_str(), child) {
                ("secretEnv", Value::String(var)) if !var.trim().is_empty() => {
                    out.push((child_path, var.trim().to_string()));
                }
                _ => secret_envs(child, &child_path, out),
            }
        }
    }
}

/// Gives `var` a test value, as the Traefik container's environment would.
fn set_test_secret(var: &str) {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = LOCK.lock().unwrap();
    if std::env::var_os(var).is_none() {
        // SAFETY: set once per variable, under a lock, before any config that
        // reads it is built; nothing in this test binary reads the environment
        // from C code concurrently.
        unsafe { std::env::set_var(var, "config-examples-test-secret-0123456789") };
    }
}

/// Validates one config; the panic message names the file, the place and the field.
fn check(origin: &str, place: &str, cfg: &Value) {
    check_in(origin, place, cfg, &[]);
}

fn check_in(origin: &str, place: &str, cfg: &Value, statics: &[PluginSettings]) {
    let cfg = as_in_sandbox(origin, place, cfg, statics);
    if let Err(e) = Pipeline::from_json(cfg.to_string().as_bytes()) {
        panic!("{origin}: EdgeGuard config at `{place}` is invalid: {e}");
    }
    // A sidecar config (or the reference's `server` example, whose required
    // `upstream` is empty there) also has its `server` section checked.
    if let Some(server) = cfg.get("server").filter(|s| s["upstream"].as_str().is_some_and(|u| !u.is_empty()))
    {
        let config =
            edgeguard::Config::from_json(serde_json::json!({ "server": server }).to_string().as_bytes())
                .unwrap_or_else(|e| panic!("{origin}: EdgeGuard config at `{place}` is invalid: {e}"));
        if let Err(e) = edgeguard::sidecar::config::Settings::new(&config.server) {
            panic!("{origin}: sidecar config at `{place}` is invalid: {e}");
        }
    }
}

#[test]
fn every_shipped_config_validates() {
    let mut files = Vec::new();
    yaml_files(&root().join("traefik-config"), &mut files);
    files.sort();
    let mut checked = Vec::new();
    for file in &files {
        let origin = file.strip_prefix(root()).unwrap().display().to_string();
        let statics = governing(&origin);
        let text = std::fs::read_to_string(file).unwrap();
        for (i, doc) in documents(&text, &origin).iter().enumerate() {
            if file.file_name().is_some_and(|n| n == ".traefik.yml") {
                check(&origin, "testData", doc.get("testData").expect("plugin manifest has testData"));
                checked.push(origin.clone());
            }
            let mut blocks = Vec::new();
            plugin_blocks(doc, &format!("[doc {i}]"), &mut blocks);
            for (place, cfg) in blocks {
                check_in(&origin, &place, &cfg, &statics);
                checked.push(origin.clone());
            }
        }
    }
    for want in [
        "traefik-config/plugin/.traefik.yml",
        "traefik-config/local/dynamic.yml",
        "traefik-config/manifests/middleware.yaml",
        "traefik-config/kind/trusted-proxies.yaml",
        "traefik-config/eks/trusted-proxies.yaml",
    ] {
        assert!(
            checked.iter().any(|c| c == want),
            "no EdgeGuard config found in {want}; checked {checked:?}"
        );
    }
}

#[test]
fn readme_yaml_examples_validate() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let mut checked = 0;
    for (i, block) in readme.split("```yaml\n").skip(1).enumerate() {
        let yaml = block.split("```").next().unwrap();
        let origin = format!("README.md yaml block #{}", i + 1);
        for doc in documents(yaml, &origin) {
            let mut blocks = Vec::new();
            plugin_blocks(&doc, "", &mut blocks);
            for (place, cfg) in blocks {
                check(&origin, &place, &cfg);
                checked += 1;
            }
        }
    }
    assert!(checked >= 1, "the README's dynamic config example was not found");
}

/// The YAML blocks of the docs: plugin blocks anywhere, and the generated
/// reference's examples (whole sections) in docs/configuration.md.
#[test]
fn docs_yaml_examples_validate() {
    let mut checked = 0;
    for entry in std::fs::read_dir(root().join("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "md") {
            continue;
        }
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        for (i, block) in text.split("```yaml\n").skip(1).enumerate() {
            let yaml = block.split("```").next().unwrap();
            let origin = format!("docs/{name} yaml block #{}", i + 1);
            for doc in documents(yaml, &origin) {
                let mut blocks = Vec::new();
                plugin_blocks(&doc, "", &mut blocks);
                // The reference's section examples, and whole sidecar configs (docs/sidecar.md).
                if name == "configuration.md" || doc.get("server").is_some() {
                    blocks.push((String::new(), doc.clone()));
                }
                for (place, cfg) in blocks {
                    check(&origin, &place, &cfg);
                    checked += 1;
                }
            }
        }
    }
    assert!(checked >= 5, "expected the generated reference's examples at least, found {checked}");
}

#[test]
fn a_misspelt_option_is_reported_with_file_place_and_field() {
    let doc = documents(
        "http:\n  middlewares:\n    eg:\n      plugin:\n        edgeguard:\n          clientIp:\n            trustedProxie: [loopback]\n",
        "x.yml",
    );
    let mut blocks = Vec::new();
    plugin_blocks(&doc[0], "", &mut blocks);
    let (place, cfg) = &blocks[0];
    let msg = std::panic::catch_unwind(|| check("x.yml", place, cfg)).unwrap_err();
    let msg = msg.downcast_ref::<String>().unwrap();
    assert!(msg.starts_with("x.yml: EdgeGuard config at `.http.middlewares.eg.plugin.edgeguard`"), "{msg}");
    assert!(msg.contains("clientIp.trustedProxie"), "{msg}");
}

#[test]
fn multi_document_files_yield_every_plugin_block() {
    let text = "a: 1\n---\nspec:\n  plugin:\n    edgeguard: {clientIp: {trustedProxies: [kind]}}\n---\n\
                spec:\n  plugin:\n    edgeguard: {clientIp: {header: \"\"}}\n";
    let docs = documents(text, "multi.yaml");
    assert_eq!(docs.len(), 3);
    let mut blocks = Vec::new();
    for (i, doc) in docs.iter().enumerate() {
        plugin_blocks(doc, &format!("[doc {i}]"), &mut blocks);
    }
    let places: Vec<&str> = blocks.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(places, ["[doc 1].spec.plugin.edgeguard", "[doc 2].spec.plugin.edgeguard"]);
}

/// The sandbox checks name the static config that is missing a mount or a variable.
#[test]
fn guest_paths_and_secrets_must_be_provided_by_the_static_config() {
    let statics = [PluginSettings {
        origin: "values.yaml".into(),
        mounts: vec!["/etc/edgeguard/geoip:/geo:ro".into()],
        envs: vec![],
    }];
    let cases: &[(&str, Value, &str)] = &[
        ("geo inside the mount", serde_json::json!({"geo": {"database": "/geo/GeoLite2-City.mmdb"}}), ""),
        (
            "flag directory not mounted",
            serde_json::json!({"maintenance": {"flagFile": "/flags/maintenance"}}),
            "`/flags/maintenance` is outside the plugin's settings.mounts in values.yaml",
        ),
        (
            "secret not passed",
            serde_json::json!({"maintenance": {"allow": {"token": {"header": "X-T", "secretEnv": "EG_CFG_TEST_TOKEN"}}}}),
            "`mw.maintenance.allow.token.secretEnv` = `EG_CFG_TEST_TOKEN` is not in settings.envs of values.yaml",
        ),
    ];
    for (desc, cfg, want) in cases {
        let got = std::panic::catch_unwind(|| check_in("t.yaml", "mw", cfg, &statics));
        match (got, want.is_empty()) {
            (Ok(()), true) => {}
            (Err(msg), false) => {
                let msg = msg.downcast_ref::<String>().unwrap();
                assert!(msg.contains(want), "{desc}: {msg}");
            }
            (Ok(()), false) => panic!("{desc}: accepted, want an error containing {want:?}"),
            (Err(msg), true) => panic!("{desc}: refused: {:?}", msg.downcast_ref::<String>()),
        }
    }
}

#[test]
fn helm_flags_and_traefik_yaml_both_carry_plugin_settings() {
    let local = PluginSettings::load("traefik-config/local/traefik.yml");
    assert!(local.guest_dirs().contains(&"/geo"), "{local:?}");
    for values in ["traefik-config/kind/values.yaml", "traefik-config/eks/values.yaml"] {
        let s = PluginSettings::load(values);
        assert_eq!(s.guest_dirs(), ["/geo", "/maintenance"], "{s:?}");
        assert_eq!(s.envs, ["EDGEGUARD_MAINTENANCE_TOKEN"], "{s:?}");
    }
}

/// Every sidecar config (`edgeguard serve`) shipped under `traefik-config/sidecar/`:
/// whole files with a `server` section, and the same embedded in a ConfigMap's
/// `data`. Validated like the sidecar does at start (the `server` section and
/// the pipeline), with the files they name provided as for the plugin
/// ([`as_in_sandbox`]; no Traefik static config governs a sidecar).
#[test]
fn sidecar_configs_validate() {
    use edgeguard::sidecar::config::Settings;
    let mut files = Vec::new();
    yaml_files(&root().join("traefik-config/sidecar"), &mut files);
    files.sort();
    let mut checked = Vec::new();
    let validate = |origin: &str, place: &str, cfg: &Value| {
        let cfg = as_in_sandbox(origin, place, cfg, &[]);
        let config = edgeguard::Config::from_json(cfg.to_string().as_bytes())
            .unwrap_or_else(|e| panic!("{origin}: sidecar config at `{place}` is invalid: {e}"));
        Settings::new(&config.server)
            .unwrap_or_else(|e| panic!("{origin}: sidecar config at `{place}` is invalid: {e}"));
        let log = std::sync::Arc::new(edgeguard::log::MemoryLog::default());
        Pipeline::with_log(&config, log)
            .unwrap_or_else(|e| panic!("{origin}: sidecar config at `{place}` is invalid: {e}"));
    };
    for file in &files {
        let origin = file.strip_prefix(root()).unwrap().display().to_string();
        let text = std::fs::read_to_string(file).unwrap();
        for (i, doc) in documents(&text, &origin).iter().enumerate() {
            if doc.get("server").is_some() {
                validate(&origin, &format!("[doc {i}]"), doc);
                checked.push(origin.clone());
            }
            if doc["kind"] == "ConfigMap" {
                for (key, value) in doc["data"].as_object().into_iter().flatten() {
                    let embedded = documents(value.as_str().unwrap_or_default(), &origin);
                    for cfg in embedded.iter().filter(|c| c.get("server").is_some()) {
                        validate(&origin, &format!("[doc {i}].data.{key}"), cfg);
                        checked.push(origin.clone());
                    }
                }
            }
        }
    }
    for want in ["traefik-config/sidecar/edgeguard.yaml", "traefik-config/sidecar/kubernetes.yaml"] {
        assert!(checked.iter().any(|c| c == want), "no sidecar config found in {want}; checked {checked:?}");
    }
}
