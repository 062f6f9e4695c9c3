//! JSON Schema of the configuration (feature `schema`): the shapes behind the
//! `lenient` and `units` decoders, so the schema accepts what EdgeGuard
//! accepts, including Traefik's habit of passing every scalar as a string.
//! `cargo xtask schema` writes `docs/config.schema.json` and
//! `docs/configuration.md` from [`json_schema`]; a test fails when they are stale.

use schemars::JsonSchema;
use serde_json::Value;

/// `true`/`false`, or the same as a string (as Traefik passes it).
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)] // only its schema is used
pub enum BoolOrString {
    /// A boolean.
    Bool(bool),
    /// `"true"` or `"false"`.
    String(#[schemars(regex(pattern = r"^\s*(true|false)\s*$"))] String),
}

/// A non-negative integer, or the same as a string.
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub enum UintOrString {
    /// An integer.
    Int(#[schemars(range(min = 0))] u64),
    /// Digits, e.g. `"32"`.
    String(#[schemars(regex(pattern = r"^\s*[0-9]+\s*$"))] String),
}

/// A Go duration such as `"2s"`, `"1m30s"`, `"500ms"`, or a number of seconds.
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub enum GoDuration {
    /// Seconds.
    Seconds(#[schemars(range(min = 0))] u64),
    /// Go `time.ParseDuration` syntax (units ns, us, ms, s, m, h).
    Text(#[schemars(regex(pattern = r"^\s*([0-9]+|([0-9.]+(ns|us|µs|ms|s|m|h))+)\s*$"))] String),
}

/// A size such as `"2MiB"`, `"512KiB"`, or a number of bytes.
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub enum ByteSize {
    /// Bytes.
    Bytes(#[schemars(range(min = 0))] u64),
    /// A number with a `KiB`, `MiB` or `GiB` suffix.
    Text(#[schemars(regex(pattern = r"^\s*[0-9]+\s*(B|KiB|MiB|GiB)?\s*$"))] String),
}

/// The JSON Schema (draft 2020-12) of [`crate::Config`].
pub fn json_schema() -> serde_json::Value {
    let mut schema = serde_json::to_value(schemars::schema_for!(crate::Config)).unwrap_or_default();
    go_duration_defaults(&mut schema);
    schema
}

/// schemars writes `Duration` defaults as serde's `{secs, nanos}`; the config
/// takes Go durations, so show them that way.
fn go_duration_defaults(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(Value::Object(d)) = map.get("default") {
                if let (Some(secs), Some(0)) =
                    (d.get("secs").and_then(Value::as_u64), d.get("nanos").and_then(Value::as_u64))
                {
                    map.insert("default".into(), Value::String(format!("{secs}s")));
                }
            }
            map.values_mut().for_each(go_duration_defaults);
        }
        Value::Array(items) => items.iter_mut().for_each(go_duration_defaults),
        _ => {}
    }
}

/// Which pipeline stage reads each top-level section.
const STAGES: &[(&str, &str)] = &[
    ("clientIp", "client IP (first: resolves the client every later stage uses)"),
    ("maintenance", "maintenance (after the client is resolved, before geo)"),
    ("geo", "geo (after maintenance; looks up the resolved client)"),
    ("signing", "signing (last: signs the headers the other stages set)"),
];

/// The configuration reference in Markdown, generated from [`json_schema`].
pub fn markdown() -> String {
    let schema = json_schema();
    let mut out = String::from(
        "# Configuration reference\n\n\
         Generated from the config types' doc comments by `cargo xtask schema` (do not edit by hand; \
         `cargo xtask test` fails when this file is stale). The same schema is in \
         [config.schema.json](config.schema.json). Keys are camelCase; unknown keys are an error. \
         Every scalar may also be written as a string (Traefik passes them that way).\n",
    );
    let Some(sections) = schema["properties"].as_object() else { return out };
    for (name, section) in sections {
        let reader = match STAGES.iter().find(|(s, _)| s == name) {
            Some((_, stage)) => format!("Read by the {stage} stage."),
            None => "Read only by the native sidecar (`edgeguard serve`, [sidecar.md](sidecar.md)); \
                     the Traefik plugin refuses this section."
                .to_string(),
        };
        out.push_str(&format!("\n## `{name}`\n\n{}\n\n{reader}\n\n", text(section)));
        out.push_str("| option | type | default | description |\n|---|---|---|---|\n");
        rows(&schema, referenced(&schema, section), name, &mut out);
        let example = serde_json::json!({ name: defaults(&schema, referenced(&schema, section)) });
        let target = if name == "server" { "the sidecar's config file" } else { "a plugin block" };
        out.push_str(&format!(
            "\nExample with every default spelled out (JSON is YAML, so this pastes into {target}):\n\n```yaml\n{}\n```\n",
            serde_json::to_string_pretty(&example).unwrap_or_default()
        ));
    }
    out
}

/// The section's options with their defaults (nested objects included).
fn defaults(schema: &Value, object: &Value) -> Value {
    let mut map = serde_json::Map::new();
    for (key, prop) in object["properties"].as_object().into_iter().flatten() {
        let target = referenced(schema, prop);
        let value = match prop.get("default") {
            Some(d) if !d.is_object() => d.clone(),
            _ if target["properties"].is_object() => defaults(schema, target),
            _ => continue,
        };
        map.insert(key.clone(), value);
    }
    Value::Object(map)
}

fn rows(schema: &Value, object: &Value, prefix: &str, out: &mut String) {
    let Some(props) = object["properties"].as_object() else { return };
    for (key, prop) in props {
        let path = format!("{prefix}.{key}");
        let target = referenced(schema, prop);
        let default = prop.get("default").map_or(String::new(), |d| format!("`{d}`"));
        out.push_str(&format!("| `{path}` | {} | {default} | {} |\n", type_name(schema, prop), text(prop)));
        if target["properties"].is_object() {
            rows(schema, target, &path, out);
        }
    }
}

/// The `$defs` name `prop` refers to (also inside `anyOf`, as schemars writes `Option<T>`).
fn ref_name(prop: &Value) -> Option<&str> {
    let reference =
        prop["$ref"].as_str().or_else(|| prop["anyOf"].as_array()?.iter().find_map(|v| v["$ref"].as_str()));
    reference?.strip_prefix("#/$defs/")
}

/// The definition `prop` refers to, or `prop` itself.
fn referenced<'a>(schema: &'a Value, prop: &'a Value) -> &'a Value {
    ref_name(prop).and_then(|name| schema["$defs"].get(name)).unwrap_or(prop)
}

fn type_name(schema: &Value, prop: &Value) -> String {
    let optional = prop["anyOf"].as_array().is_some_and(|v| v.iter().any(|t| t["type"] == "null"));
    let base = match ref_name(prop) {
        Some("BoolOrString") => "boolean".to_string(),
        Some("UintOrString") => "integer".to_string(),
        Some("GoDuration") => "duration (`\"2s\"`, `\"1m30s\"`)".to_string(),
        Some("ByteSize") => "size (`\"2MiB\"`)".to_string(),
        Some(name) => {
            let def = &schema["$defs"][name];
            let variants: Vec<String> = def["enum"]
                .as_array()
                .into_iter()
                .flatten()
                .chain(
                    def["oneOf"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|v| v.get("const").or_else(|| v["enum"].get(0))),
                )
                .filter_map(Value::as_str)
                .map(|v| format!("`{v}`"))
                .collect();
            if variants.is_empty() { "object".to_string() } else { variants.join(" \\| ") }
        }
        None => match (prop["type"].as_str(), prop["type"].as_array()) {
            (Some("array"), _) => format!("list of {}", prop["items"]["type"].as_str().unwrap_or("value")),
            (Some(t), _) => t.to_string(),
            (None, Some(types)) => {
                types.iter().filter_map(Value::as_str).filter(|t| *t != "null").collect::<Vec<_>>().join(", ")
            }
            _ => "value".to_string(),
        },
    };
    let optional = optional || prop["type"].as_array().is_some_and(|t| t.iter().any(|t| t == "null"));
    if optional { format!("{base}, optional") } else { base }
}

fn text(prop: &Value) -> String {
    prop["description"].as_str().unwrap_or("").replace('\n', " ").replace('|', "\\|")
}
