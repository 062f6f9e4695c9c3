//! Offline checks of the Kubernetes side of `traefik-config/` (issue 7).
//!
//! 1. Schema: every YAML document with `apiVersion` and `kind` (Kubernetes
//!    objects, Traefik CRDs, kustomize and kind configs) validates against the
//!    hand-written schemas in `traefik-config/schemas/kubernetes.schema.json`,
//!    whose object levels are closed, so a misspelt field fails. Helm values,
//!    Traefik static/dynamic configs and the plugin manifest have no
//!    `apiVersion` and are left to tests/config_examples.rs.
//! 2. Helm values: every `values*.yaml` validates against the hand-written
//!    subset of the Traefik chart 41.3.0 values in the same schema file.
//! 3. Consistency that `helm template` cannot be run here to show: the Helm
//!    values and the manifests agree on trusted proxies, volume and ConfigMap
//!    names, secrets and node ports.

use std::collections::BTreeSet;
use std::path::PathBuf;

use edgeguard::trust::TrustedProxies;
use serde_json::Value;

#[path = "support/yaml.rs"]
mod yaml;
use yaml::{documents, yaml_files};

const SCHEMA: &str = "traefik-config/schemas/kubernetes.schema.json";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read_yaml(relative: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(root().join(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"));
    documents(&text, relative)
}

/// The single document of a file that has one.
fn read_one(relative: &str) -> Value {
    let mut docs = read_yaml(relative);
    assert_eq!(docs.len(), 1, "{relative}: want one document");
    docs.remove(0)
}

/// Validators by `apiVersion/kind`, from the schema file's `x-edgeguard-kinds`.
struct Schemas {
    root: Value,
}

impl Schemas {
    fn load() -> Self {
        let text = std::fs::read_to_string(root().join(SCHEMA)).unwrap();
        Self { root: serde_json::from_str(&text).unwrap_or_else(|e| panic!("{SCHEMA}: {e}")) }
    }

    /// Every schema error of `doc`, or `Err` when no schema covers its kind.
    fn errors(&self, doc: &Value) -> Result<Vec<String>, String> {
        let key =
            format!("{}/{}", doc["apiVersion"].as_str().unwrap_or("?"), doc["kind"].as_str().unwrap_or("?"));
        let def = self.root["x-edgeguard-kinds"][&key]
            .as_str()
            .ok_or_else(|| format!("no schema for `{key}`: add a definition to {SCHEMA}"))?;
        let mut schema = self.root.clone();
        schema["$ref"] = Value::String(format!("#/$defs/{def}"));
        let validator =
            jsonschema::validator_for(&schema).unwrap_or_else(|e| panic!("{SCHEMA} `{def}`: {e}"));
        Ok(validator.iter_errors(doc).map(|e| format!("at `{}`: {e}", e.instance_path())).collect())
    }
}

impl Schemas {
    /// Errors of a Helm values file against the Traefik chart values subset.
    fn values_errors(&self, doc: &Value) -> Vec<String> {
        let def = self.root["x-edgeguard-helm-values"].as_str().expect("x-edgeguard-helm-values");
        let mut schema = self.root.clone();
        schema["$ref"] = Value::String(format!("#/$defs/{def}"));
        let validator =
            jsonschema::validator_for(&schema).unwrap_or_else(|e| panic!("{SCHEMA} `{def}`: {e}"));
        validator.iter_errors(doc).map(|e| format!("at `{}`: {e}", e.instance_path())).collect()
    }
}

fn is_manifest(doc: &Value) -> bool {
    doc.get("apiVersion").is_some() && doc.get("kind").is_some()
}

#[test]
fn every_manifest_matches_its_schema() {
    let schemas = Schemas::load();
    let mut files = Vec::new();
    yaml_files(&root().join("traefik-config"), &mut files);
    files.sort();
    let mut failures = Vec::new();
    let mut kinds = BTreeSet::new();
    for file in &files {
        let origin = file.strip_prefix(root()).unwrap().display().to_string();
        let text = std::fs::read_to_string(file).unwrap();
        for (i, doc) in documents(&text, &origin).iter().enumerate().filter(|(_, d)| is_manifest(d)) {
            let name = doc.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("");
            let what = format!("{origin} [doc {i}] {} {name}", doc["kind"].as_str().unwrap_or("?"));
            match schemas.errors(doc) {
                Ok(errors) => failures.extend(errors.into_iter().map(|e| format!("{what}: {e}"))),
                Err(e) => failures.push(format!("{what}: {e}")),
            }
            kinds.insert(doc["kind"].as_str().unwrap_or_default().to_string());
        }
    }
    assert!(failures.is_empty(), "schema errors:\n{}", failures.join("\n"));
    for kind in [
        "Cluster",
        "ConfigMap",
        "Deployment",
        "Ingress",
        "IngressRoute",
        "Kustomization",
        "Middleware",
        "Namespace",
        "Secret",
        "Service",
    ] {
        assert!(kinds.contains(kind), "no {kind} found under traefik-config/; checked {kinds:?}");
    }
}

/// A misspelt or misplaced field fails, with its location in the message.
#[test]
fn a_typo_in_a_field_name_fails() {
    let schemas = Schemas::load();
    struct Case {
        desc: &'static str,
        file: &'static str,
        doc: usize,
        edit: fn(&mut Value),
        want: &'static str,
    }
    fn rename(v: &mut Value, pointer: &str, from: &str, to: &str) {
        let map = v.pointer_mut(pointer).and_then(Value::as_object_mut).unwrap();
        let value = map.remove(from).unwrap_or_else(|| panic!("{pointer}/{from} missing"));
        map.insert(to.to_string(), value);
    }
    let cases = [
        Case {
            desc: "Middleware spec.plugins",
            file: "traefik-config/manifests/middleware.yaml",
            doc: 0,
            edit: |v| rename(v, "/spec", "plugin", "plugins"),
            want: "at `/spec`",
        },
        Case {
            desc: "IngressRoute routes[0].middleware",
            file: "traefik-config/manifests/ingressroute.yaml",
            doc: 0,
            edit: |v| rename(v, "/spec/routes/0", "middlewares", "middleware"),
            want: "at `/spec/routes/0`",
        },
        Case {
            desc: "IngressRoute entrypoints",
            file: "traefik-config/manifests/ingressroute.yaml",
            doc: 0,
            edit: |v| rename(v, "/spec", "entryPoints", "entrypoints"),
            want: "'entrypoints' was unexpected",
        },
        Case {
            desc: "Deployment containerPorts",
            file: "traefik-config/manifests/echo.yaml",
            doc: 0,
            edit: |v| {
                rename(v, "/spec/template/spec/containers/0/ports/0", "containerPort", "containerPorts")
            },
            want: "at `/spec/template/spec/containers/0/ports/0`",
        },
        Case {
            desc: "Deployment readinessProbe.httpGet.paths",
            file: "traefik-config/manifests/echo.yaml",
            doc: 0,
            edit: |v| rename(v, "/spec/template/spec/containers/0/readinessProbe/httpGet", "path", "paths"),
            want: "'paths' was unexpected",
        },
        Case {
            desc: "Service targetport",
            file: "traefik-config/manifests/echo.yaml",
            doc: 1,
            edit: |v| rename(v, "/spec/ports/0", "targetPort", "targetport"),
            want: "at `/spec/ports/0`",
        },
        Case {
            desc: "ConfigMap metadata.namspace",
            file: "traefik-config/manifests/maintenance-flag-configmap.yaml",
            doc: 0,
            edit: |v| rename(v, "/metadata", "namespace", "namspace"),
            want: "'namspace' was unexpected",
        },
        Case {
            desc: "kind extraPortMapping hostport",
            file: "traefik-config/kind/cluster.yaml",
            doc: 0,
            edit: |v| rename(v, "/nodes/0/extraPortMappings/0", "hostPort", "hostport"),
            want: "'hostport' was unexpected",
        },
        Case {
            desc: "Kustomization patch",
            file: "traefik-config/kind/kustomization.yaml",
            doc: 0,
            edit: |v| rename(v, "", "patches", "patchesStrategicMerge"),
            want: "'patchesStrategicMerge' was unexpected",
        },
        Case {
            desc: "a number where a string is expected",
            file: "traefik-config/manifests/maintenance-flag-configmap.yaml",
            doc: 0,
            edit: |v| v["data"]["flag"] = Value::from(1),
            want: "at `/data/flag`",
        },
    ];
    for case in &cases {
        let mut doc = read_yaml(case.file).remove(case.doc);
        assert_eq!(
            schemas.errors(&doc).unwrap(),
            Vec::<String>::new(),
            "{}: the original must pass",
            case.desc
        );
        (case.edit)(&mut doc);
        let errors = schemas.errors(&doc).unwrap();
        assert!(
            errors.iter().any(|e| e.contains(case.want)),
            "{}: want {:?} in {errors:#?}",
            case.desc,
            case.want
        );
    }
    let unknown = serde_json::json!({"apiVersion": "traefik.io/v1alpha1", "kind": "IngressRouteTCP"});
    assert!(
        schemas.errors(&unknown).unwrap_err().contains("no schema for `traefik.io/v1alpha1/IngressRouteTCP`")
    );
}

/// The networks a trust list covers, presets expanded by EdgeGuard's own code.
fn networks(entries: &[String], origin: &str) -> BTreeSet<String> {
    let trusted = TrustedProxies::new(entries, false).unwrap_or_else(|e| panic!("{origin}: {e:?}"));
    trusted.networks().iter().map(ToString::to_string).collect()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

/// Merges Helm values files the way `--values a --values b` does (maps merge,
/// anything else is replaced).
fn merge_values(base: &mut Value, over: &Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                merge_values(b.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (b, o) => *b = o.clone(),
    }
}

/// Traefik's entrypoint `forwardedHeaders.trustedIPs` must cover exactly the
/// networks of the Middleware's `clientIp.trustedProxies` (docs/client-ip.md):
/// otherwise Traefik drops the chain EdgeGuard should read, or keeps one it
/// should not.
#[test]
fn entrypoint_trusted_ips_match_the_middleware_trusted_proxies() {
    let base = read_one("traefik-config/manifests/middleware.yaml");
    let cases: &[(&str, &[&str], Option<&str>)] = &[
        ("kind", &["traefik-config/kind/values.yaml"], Some("traefik-config/kind/trusted-proxies.yaml")),
        ("eks (ALB)", &["traefik-config/eks/values.yaml"], Some("traefik-config/eks/trusted-proxies.yaml")),
        ("eks (NLB)", &["traefik-config/eks/values.yaml", "traefik-config/eks/values-nlb.yaml"], None),
    ];
    for (env, values_files, patch) in cases {
        let mut values = Value::Null;
        for f in *values_files {
            merge_values(&mut values, &read_one(f));
        }
        let middleware = patch.map_or_else(|| base.clone(), read_one);
        let pointer = "/spec/plugin/edgeguard/clientIp/trustedProxies";
        let proxies = strings(middleware.pointer(pointer).unwrap());
        let want = networks(&proxies, env);
        for port in ["web", "websecure"] {
            let ips = values
                .pointer(&format!("/ports/{port}/forwardedHeaders/trustedIPs"))
                .map_or_else(Vec::new, strings);
            assert_eq!(
                networks(&ips, env),
                want,
                "{env}: ports.{port}.forwardedHeaders.trustedIPs vs {proxies:?}"
            );
        }
    }
    // The overlays really patch the shared Middleware (same name and namespace).
    for patch in ["traefik-config/kind/trusted-proxies.yaml", "traefik-config/eks/trusted-proxies.yaml"] {
        assert_eq!(read_one(patch)["metadata"], base["metadata"], "{patch}");
    }
    let nlb = read_one("traefik-config/eks/nlb/kustomization.yaml");
    assert!(nlb.get("patches").is_none(), "the NLB overlay keeps the base's empty trust list");
}

/// What the Helm values mount and pass exists in the manifests under the
/// names they use; what the chart would ignore is not there.
#[test]
fn helm_values_and_manifests_agree() {
    let maintenance_cm = read_one("traefik-config/manifests/maintenance-flag-configmap.yaml");
    let geo_cm = read_one("traefik-config/kind/geoip-test-configmap.yaml");
    let secret = read_one("traefik-config/kind/maintenance-token-secret.yaml");
    let middleware = read_one("traefik-config/manifests/middleware.yaml");
    for env in ["kind", "eks"] {
        let file = format!("traefik-config/{env}/values.yaml");
        let values = read_one(&file);
        let plugin = &values["experimental"]["localPlugins"]["edgeguard"];
        assert_eq!(
            plugin,
            &serde_json::json!({"moduleName": "edgeguard", "type": "localPath",
                "mountPath": "/plugins-local/src/edgeguard", "volumeName": "edgeguard-plugin"}),
            "{file}: the chart passes only moduleName (settings go in additionalArguments)"
        );
        let volumes = values["deployment"]["additionalVolumes"].as_array().unwrap();
        let volume = |name: &str| {
            volumes.iter().find(|v| v["name"] == name).unwrap_or_else(|| panic!("{file}: no volume {name}"))
        };
        // `cargo xtask k8s-plugin-configmap` names it edgeguard-plugin (xtask/src/k8s.rs).
        assert_eq!(volume("edgeguard-plugin")["configMap"]["name"], "edgeguard-plugin", "{file}");
        let flag_volume = &volume("edgeguard-maintenance")["configMap"];
        assert_eq!(flag_volume["name"], maintenance_cm["metadata"]["name"], "{file}");
        assert_eq!(flag_volume["optional"], true, "{file}: Traefik must start without the flag ConfigMap");
        if env == "kind" {
            assert_eq!(volume("edgeguard-geoip")["configMap"]["name"], geo_cm["metadata"]["name"], "{file}");
        }

        // settings.mounts host side = where additionalVolumeMounts put the volumes.
        let mounts: Vec<(String, String)> = values["additionalVolumeMounts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| (m["name"].as_str().unwrap().into(), m["mountPath"].as_str().unwrap().into()))
            .collect();
        let args = strings(&values["additionalArguments"]);
        let flag = "--experimental.localPlugins.edgeguard.settings.mounts=";
        let settings =
            args.iter().find_map(|a| a.strip_prefix(flag)).unwrap_or_else(|| panic!("{file}: {flag}"));
        for mount in settings.split(',') {
            let host = mount.split(':').next().unwrap();
            assert!(
                mounts.iter().any(|(_, path)| path == host),
                "{file}: `{host}` is not a volume mount: {mounts:?}"
            );
        }
        for (name, _) in &mounts {
            volume(name);
        }

        // Each variable passed to the plugin comes from the Secret's key.
        let envs =
            args.iter().find_map(|a| a.strip_prefix("--experimental.localPlugins.edgeguard.settings.envs="));
        for var in envs.unwrap_or_else(|| panic!("{file}: settings.envs")).split(',') {
            let env_var = values["env"].as_array().unwrap().iter().find(|e| e["name"] == var);
            let key_ref =
                &env_var.unwrap_or_else(|| panic!("{file}: {var} not in env"))["valueFrom"]["secretKeyRef"];
            assert_eq!(key_ref["name"], secret["metadata"]["name"], "{file}: {var}");
            assert!(secret["stringData"].get(key_ref["key"].as_str().unwrap()).is_some(), "{file}: {var}");
        }
    }

    // The kind GeoIP ConfigMap holds the files the Middleware reads from /geo.
    for field in ["database", "asnDatabase"] {
        let path = middleware["spec"]["plugin"]["edgeguard"]["geo"][field].as_str().unwrap();
        let key = path.strip_prefix("/geo/").unwrap();
        assert!(
            geo_cm["binaryData"].get(key).is_some(),
            "geo.{field} = {path}: no key {key} in the kind ConfigMap"
        );
    }

    // kind maps the host ports to the Service's node ports.
    let cluster = read_one("traefik-config/kind/cluster.yaml");
    let values = read_one("traefik-config/kind/values.yaml");
    let mapped: Vec<(i64, i64)> = cluster["nodes"][0]["extraPortMappings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["containerPort"].as_i64().unwrap(), m["hostPort"].as_i64().unwrap()))
        .collect();
    assert_eq!(values["service"]["spec"]["type"], "NodePort");
    assert_eq!(
        values["service"]["spec"]["externalTrafficPolicy"], "Local",
        "keeps the client's source address"
    );
    for (port, host) in [("web", 80), ("websecure", 443)] {
        let node_port = values["ports"][port]["nodePort"].as_i64().unwrap();
        assert!(
            mapped.contains(&(node_port, host)),
            "{port}: nodePort {node_port} not mapped to {host}: {mapped:?}"
        );
    }
}

/// Helm values are not manifests, but a misspelt key is just as silent there
/// (`logs:` instead of chart 41's `log:` fails `helm install`; a misspelt
/// `trustedIPs` is ignored by the chart). Every `values*.yaml` is checked
/// against the hand-written chart-values subset.
#[test]
fn helm_values_match_the_chart_values_schema() {
    let schemas = Schemas::load();
    let mut files = Vec::new();
    yaml_files(&root().join("traefik-config"), &mut files);
    let values: Vec<PathBuf> = files
        .into_iter()
        .filter(|f| f.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("values")))
        .collect();
    assert!(values.len() >= 3, "{values:?}");
    for file in &values {
        let origin = file.strip_prefix(root()).unwrap().display().to_string();
        let doc = read_one(&origin);
        assert!(!is_manifest(&doc), "{origin}");
        let errors = schemas.values_errors(&doc);
        assert!(errors.is_empty(), "{origin}:\n{}", errors.join("\n"));
    }
    type Edit = fn(&mut Value);
    let cases: &[(&str, Edit, &str)] = &[
        (
            "`logs` is `log` in chart 41",
            |v| v["logs"] = serde_json::json!({"general": {"level": "INFO"}}),
            "'logs' was unexpected",
        ),
        (
            "trustedIps",
            |v| v["ports"]["web"]["forwardedHeaders"] = serde_json::json!({"trustedIps": ["10.0.0.0/8"]}),
            "'trustedIps' was unexpected",
        ),
        (
            "plugin settings where the chart ignores them",
            |v| {
                v["experimental"]["localPlugins"]["edgeguard"]["settings"] =
                    serde_json::json!({"envs": ["X"]})
            },
            "'settings' was unexpected",
        ),
        (
            "a volume mount without mountPath",
            |v| v["additionalVolumeMounts"][0] = serde_json::json!({"name": "x", "mountpath": "/x"}),
            "at `/additionalVolumeMounts/0`",
        ),
    ];
    for (desc, edit, want) in cases {
        let mut doc = read_one("traefik-config/kind/values.yaml");
        edit(&mut doc);
        let errors = schemas.values_errors(&doc);
        assert!(errors.iter().any(|e| e.contains(want)), "{desc}: want {want:?} in {errors:#?}");
    }
}
