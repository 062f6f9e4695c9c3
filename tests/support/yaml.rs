//! Reading the repository's YAML for the config and manifest tests.

use std::path::{Path, PathBuf};

use serde_json::Value;

/// Every `.yml` / `.yaml` file under `dir`, recursively.
pub fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            yaml_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "yml" || e == "yaml") {
            out.push(path);
        }
    }
}

/// The non-empty YAML documents in `text` (a file may hold several, separated by `---`).
pub fn documents(text: &str, origin: &str) -> Vec<Value> {
    use serde::Deserialize;
    serde_norway::Deserializer::from_str(text)
        .map(|doc| Value::deserialize(doc).unwrap_or_else(|e| panic!("{origin}: not valid YAML: {e}")))
        .filter(|doc| !doc.is_null())
        .collect()
}
