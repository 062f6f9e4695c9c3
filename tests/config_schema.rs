//! The committed JSON Schema and configuration reference match the config
//! types (issue #8). `cargo xtask schema` regenerates them.

use std::path::PathBuf;

use edgeguard::config::schema::{json_schema, markdown};

fn docs() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs")
}

#[test]
fn committed_schema_and_reference_are_current() {
    let schema = serde_json::to_string_pretty(&json_schema()).unwrap() + "\n";
    let reference = markdown();
    let files = [("config.schema.json", schema), ("configuration.md", reference)];
    if std::env::var_os("EDGEGUARD_BLESS").is_some() {
        for (name, text) in &files {
            std::fs::write(docs().join(name), text).unwrap();
        }
        return;
    }
    for (name, text) in &files {
        let committed = std::fs::read_to_string(docs().join(name)).unwrap_or_default();
        assert!(
            committed == *text,
            "docs/{name} is stale: a config doc comment or field changed; run `cargo xtask schema` and commit the result"
        );
    }
}

#[test]
fn schema_accepts_shipped_shapes_and_names_every_section() {
    let schema = json_schema();
    for section in ["clientIp", "geo", "maintenance", "signing"] {
        assert!(schema["properties"][section].is_object(), "{section} missing from the schema");
    }
    assert_eq!(schema["additionalProperties"], false, "unknown keys must be refused");
    let reference = markdown();
    assert!(reference.contains("| `clientIp.trustedProxies` |"), "{reference}");
    assert!(reference.contains("| `geo.reloadInterval` | duration"), "{reference}");
}
