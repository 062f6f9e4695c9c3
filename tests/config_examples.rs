//! Every EdgeGuard config shipped in the repository is decoded and validated
//! by EdgeGuard's own config code: plugin blocks (`plugin.edgeguard`) in the
//! Traefik configs under `traefik-config/`, the plugin manifest's `testData`,
//! and the YAML examples in the README.

use std::path::{Path, PathBuf};

use edgeguard::Pipeline;
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            yaml_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "yml" || e == "yaml") {
            out.push(path);
        }
    }
}

/// YAML documents in `text` (a file may hold several, separated by `---`).
fn documents(text: &str, origin: &str) -> Vec<Value> {
    use serde::Deserialize;
    serde_norway::Deserializer::from_str(text)
        .map(|doc| Value::deserialize(doc).unwrap_or_else(|e| panic!("{origin}: not valid YAML: {e}")))
        .collect()
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

/// Validates one config; the panic message names the file, the place and the field.
fn check(origin: &str, place: &str, cfg: &Value) {
    if let Err(e) = Pipeline::from_json(cfg.to_string().as_bytes()) {
        panic!("{origin}: EdgeGuard config at `{place}` is invalid: {e}");
    }
}

#[test]
fn every_shipped_config_validates() {
    let mut files = Vec::new();
    yaml_files(&root().join("traefik-config"), &mut files);
    let mut checked = 0;
    for file in &files {
        let origin = file.strip_prefix(root()).unwrap().display().to_string();
        let text = std::fs::read_to_string(file).unwrap();
        for doc in documents(&text, &origin) {
            if file.file_name().is_some_and(|n| n == ".traefik.yml") {
                check(&origin, "testData", doc.get("testData").expect("plugin manifest has testData"));
                checked += 1;
            }
            let mut blocks = Vec::new();
            plugin_blocks(&doc, "", &mut blocks);
            for (place, cfg) in blocks {
                check(&origin, &place, &cfg);
                checked += 1;
            }
        }
    }
    assert!(checked >= 2, "expected the manifest and the demo config at least, found {checked} configs");
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
