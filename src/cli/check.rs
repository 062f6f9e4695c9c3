//! `edgeguard check FILE...`: validates every EdgeGuard config in the files
//! operators deploy, like `nginx -t`.
//!
//! Recognised per YAML document: a plugin or sidecar config; a Traefik
//! dynamic file (every `http.middlewares.*.plugin.edgeguard`); a Kubernetes
//! `Middleware` (`spec.plugin.edgeguard`); a `ConfigMap` key holding a
//! sidecar config; Helm values (`extraObjects`); the plugin manifest's
//! `testData`. Traefik static configs and Helm values also declare the
//! plugin's `settings.mounts` / `settings.envs`, which offline checks use.
//!
//! Offline (the default for anything Traefik loads: its paths are guest paths
//! behind `settings.mounts` and its secrets come from Traefik's environment,
//! neither of which exists where `check` runs) files and secrets are not
//! read: each one becomes a warning naming the settings entry it needs,
//! unless a checked file declares it. Online (the default for a plain
//! config, which `edgeguard serve` reads on this host) they are read.

use std::collections::BTreeSet;
use std::io::Read;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::SystemTime;

use edgeguard::config::GeoOnError;
use edgeguard::config::source::{self, Document, Position};
use edgeguard::log::{Level, MemoryLog};
use edgeguard::{ConfigError, Pipeline};
use serde_json::Value;

/// Whether files and secrets are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Paths and secret variables are reported, not read.
    Offline,
    /// Paths and secret variables are read on this machine.
    Online,
}

/// `check`'s options.
pub struct Options {
    /// Files; `-` is stdin.
    pub files: Vec<String>,
    /// Forced mode; by default offline for Traefik inputs, online for plain configs.
    pub mode: Option<Mode>,
    /// Warnings fail the check too.
    pub strict: bool,
}

/// Exit status for a config that is invalid (or has warnings under `--strict`).
const INVALID: u8 = 1;
/// Exit status for a file that cannot be read.
const USAGE: u8 = 2;

/// Secrets read from the environment: field and variable.
const SECRET_FIELDS: [&str; 3] =
    ["signing.secretEnv", "signing.previousSecretEnv", "maintenance.allow.token.secretEnv"];

/// Which front-end loads a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Host {
    /// The Traefik plugin: guest paths, `settings.envs` secrets, no `server`.
    Traefik,
    /// A plain config: the sidecar (or the plugin config on its own).
    Plain,
}

/// One EdgeGuard config inside a document.
struct Block {
    label: String,
    path: String,
    host: Host,
    /// Loaded on another machine (Traefik, a Kubernetes pod): offline by default.
    elsewhere: bool,
}

/// `settings.mounts` guest directories and `settings.envs` names declared
/// by the checked files, with the file that declares them.
#[derive(Default)]
struct Settings {
    mounts: Vec<(String, String)>,
    envs: Vec<(String, String)>,
}

struct Report {
    errors: usize,
    warnings: usize,
}

impl Report {
    fn error(&mut self, file: &str, at: Position, doc: &Document, label: &str, message: &str) {
        self.errors += 1;
        eprintln!("{file}:{at}: error: document {} ({label}): {message}", doc.index);
    }

    fn warning(&mut self, file: &str, at: Position, doc: &Document, label: &str, message: &str) {
        self.warnings += 1;
        eprintln!("{file}:{at}: warning: document {} ({label}): {message}", doc.index);
    }
}

/// Runs the check; 0 valid, 1 invalid, 2 a file could not be read.
pub fn run(opts: &Options) -> ExitCode {
    let mut inputs = Vec::new();
    for file in &opts.files {
        let text = if file == "-" {
            let mut text = String::new();
            std::io::stdin().read_to_string(&mut text).map(|_| text)
        } else {
            std::fs::read_to_string(file)
        };
        match text {
            Ok(text) => inputs.push((if file == "-" { "<stdin>".to_string() } else { file.clone() }, text)),
            Err(e) => {
                eprintln!("edgeguard: {file}: {}", edgeguard::error::io_reason(&e));
                return ExitCode::from(USAGE);
            }
        }
    }
    let mut report = Report { errors: 0, warnings: 0 };
    let mut parsed = Vec::new();
    for (file, text) in &inputs {
        match source::documents(text) {
            Ok(docs) => parsed.push((file.as_str(), text.as_str(), docs)),
            Err(e) => {
                report.errors += 1;
                let at = e.position.map_or_else(String::new, |p| format!("{p}:"));
                eprintln!("{file}:{at} error: document {}: not valid YAML: {e}", e.document);
            }
        }
    }
    let mut settings = Settings::default();
    for (file, _, docs) in &parsed {
        for doc in docs {
            collect_settings(&doc.value, file, &mut settings);
        }
    }
    let now = SystemTime::now();
    let mut blocks_seen = 0;
    for (file, text, docs) in &parsed {
        let mut in_file = 0;
        for doc in docs {
            for (doc, block) in blocks(doc, text) {
                in_file += 1;
                check_block(file, &doc, &block, opts, &settings, now, &mut report);
            }
        }
        if in_file == 0 {
            let mounts = settings.mounts.iter().filter(|(_, f)| f == file).count();
            let envs = settings.envs.iter().filter(|(_, f)| f == file).count();
            if mounts + envs > 0 {
                println!(
                    "{file}: no EdgeGuard config; declares the plugin's settings ({mounts} mount(s), {envs} env(s)) used above"
                );
            } else {
                println!("{file}: no EdgeGuard config in it");
            }
        }
        blocks_seen += in_file;
    }
    println!(
        "{} EdgeGuard config(s) in {} file(s): {} error(s), {} warning(s)",
        blocks_seen,
        inputs.len(),
        report.errors,
        report.warnings
    );
    if report.errors > 0 || (opts.strict && report.warnings > 0) {
        ExitCode::from(INVALID)
    } else {
        ExitCode::SUCCESS
    }
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, k| v.get(k)).and_then(Value::as_str)
}

/// `settings` from a Traefik static config (`experimental.localPlugins.edgeguard.settings`)
/// and from Helm values (the same, or `additionalArguments` flags).
fn collect_settings(v: &Value, file: &str, out: &mut Settings) {
    let guest = |mount: &str| {
        // `host:guest` or `host:guest:ro`.
        let mut parts = mount.trim().split(':');
        parts.nth(1).map(|g| g.trim_end_matches('/').to_string())
    };
    let declared = ["experimental", "localPlugins", "edgeguard", "settings"]
        .iter()
        .try_fold(v, |v, k| v.get(k))
        .cloned()
        .unwrap_or_default();
    for m in declared.get("mounts").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str)
    {
        out.mounts.extend(guest(m).map(|g| (g, file.to_string())));
    }
    for e in declared.get("envs").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str) {
        out.envs.push((e.trim().to_string(), file.to_string()));
    }
    let args = v.get("additionalArguments").and_then(Value::as_array).into_iter().flatten();
    for arg in args.filter_map(Value::as_str) {
        let arg = arg.trim().trim_start_matches('-');
        if let Some(list) = arg.strip_prefix("experimental.localPlugins.edgeguard.settings.mounts=") {
            out.mounts.extend(list.split(',').filter_map(guest).map(|g| (g, file.to_string())));
        } else if let Some(list) = arg.strip_prefix("experimental.localPlugins.edgeguard.settings.envs=") {
            out.envs.extend(list.split(',').map(|e| (e.trim().to_string(), file.to_string())));
        }
    }
}

/// Top-level keys of the plugin's schema.
const SECTIONS: [&str; 5] = ["clientIp", "geo", "maintenance", "signing", "server"];
/// Top-level keys that make a document a Traefik static config or Helm values, not a plugin config.
const NOT_PLUGIN: [&str; 10] = [
    "entryPoints",
    "providers",
    "experimental",
    "image",
    "deployment",
    "ports",
    "additionalArguments",
    "env",
    "apiVersion",
    "http",
];

/// A map whose keys are (nearly) the plugin's sections: a typo such as
/// `clientIP` still counts, so it is reported rather than skipped.
fn looks_like_plugin(v: &Value) -> bool {
    let Some(map) = v.as_object() else { return false };
    !map.keys().any(|k| NOT_PLUGIN.contains(&k.as_str()))
        && map
            .keys()
            .any(|k| SECTIONS.iter().any(|s| strsim::levenshtein(&k.to_lowercase(), &s.to_lowercase()) <= 2))
}

/// The EdgeGuard blocks of a document (and of YAML embedded in it).
fn blocks(doc: &Document, text: &str) -> Vec<(Document, Block)> {
    let mut out = Vec::new();
    let v = &doc.value;
    let here = |label: String, path: String, host: Host| {
        (doc.clone(), Block { label, path, host, elsewhere: host == Host::Traefik })
    };
    match (str_at(v, &["apiVersion"]), str_at(v, &["kind"])) {
        (Some(api), Some("Middleware")) if api.starts_with("traefik.") => {
            if v.pointer("/spec/plugin/edgeguard").is_some() {
                let name = str_at(v, &["metadata", "name"]).unwrap_or("?");
                let ns = str_at(v, &["metadata", "namespace"]).map_or(String::new(), |n| format!("{n}/"));
                out.push(here(
                    format!("Middleware {ns}{name}, spec.plugin.edgeguard"),
                    "spec.plugin.edgeguard".into(),
                    Host::Traefik,
                ));
            }
        }
        (Some(_), Some("ConfigMap")) => {
            let name = str_at(v, &["metadata", "name"]).unwrap_or("?");
            for (key, value) in v.get("data").and_then(Value::as_object).into_iter().flatten() {
                let Some(embedded) = value.as_str() else { continue };
                if ![".yaml", ".yml", ".json"].iter().any(|ext| key.ends_with(ext)) {
                    continue;
                }
                let Ok(inner) = source::documents(embedded) else { continue };
                let key_at = doc.position(&format!("data.{key}"));
                // A literal block (`key: |`) starts on the next line, indented.
                let indent = text
                    .lines()
                    .skip(key_at.line)
                    .find(|l| !l.trim().is_empty())
                    .map_or(0, |l| l.len() - l.trim_start().len());
                for d in inner.into_iter().filter(|d| looks_like_plugin(&d.value)) {
                    let d = d.shifted(key_at.line, indent);
                    let label = format!("ConfigMap {name}, data.{key}");
                    out.push((d, Block { label, path: String::new(), host: Host::Plain, elsewhere: true }));
                }
            }
        }
        (Some(_), Some(_)) => {}
        _ => {
            let middlewares = v.pointer("/http/middlewares").and_then(Value::as_object);
            for (name, mw) in middlewares.into_iter().flatten() {
                if mw.pointer("/plugin/edgeguard").is_some() {
                    out.push(here(
                        format!("middleware {name}, http.middlewares.{name}.plugin.edgeguard"),
                        format!("http.middlewares.{name}.plugin.edgeguard"),
                        Host::Traefik,
                    ));
                }
            }
            let extra = v.get("extraObjects").and_then(Value::as_array).into_iter().flatten();
            for (i, obj) in extra.enumerate() {
                if str_at(obj, &["kind"]) == Some("Middleware")
                    && obj.pointer("/spec/plugin/edgeguard").is_some()
                {
                    let name = str_at(obj, &["metadata", "name"]).unwrap_or("?");
                    out.push(here(
                        format!("Helm extraObjects[{i}] Middleware {name}"),
                        format!("extraObjects[{i}].spec.plugin.edgeguard"),
                        Host::Traefik,
                    ));
                }
            }
            if v.get("testData").is_some() && v.get("displayName").is_some() {
                out.push(here("plugin manifest, testData".into(), "testData".into(), Host::Traefik));
            }
            if out.is_empty() && looks_like_plugin(v) {
                out.push(here("EdgeGuard config".into(), String::new(), Host::Plain));
            }
        }
    }
    out
}

fn join(block: &str, path: &str) -> String {
    let path = path.trim_start_matches('.');
    match (block.is_empty(), path.is_empty()) {
        (true, _) => path.to_string(),
        (false, true) => block.to_string(),
        (false, false) if path.starts_with('[') => format!("{block}{path}"),
        (false, false) => format!("{block}.{path}"),
    }
}

/// A value long enough for every secret check; only ever set in this process.
const PLACEHOLDER_SECRET: &str = "edgeguard-check-offline-placeholder-secret-0123456789";

#[allow(clippy::too_many_lines)]
fn check_block(
    file: &str,
    doc: &Document,
    block: &Block,
    opts: &Options,
    settings: &Settings,
    now: SystemTime,
    report: &mut Report,
) {
    let label = block.label.as_str();
    let at = |path: &str| doc.position(&join(&block.path, path));
    let mut config = match doc.decode(&block.path) {
        Ok(c) => c,
        Err(e) => return report.error(file, at(e.path()), doc, label, &e.to_string()),
    };
    let raw = |path: &str| doc.get(&join(&block.path, path));
    if block.host == Host::Traefik && raw("server").is_some() {
        let msg = "invalid config at `server`: only the sidecar (`edgeguard serve`) reads it; the Traefik plugin refuses it";
        return report.error(file, at("server"), doc, label, msg);
    }
    let mode = opts.mode.unwrap_or(if block.elsewhere { Mode::Offline } else { Mode::Online });
    let (errors_before, warnings_before) = (report.errors, report.warnings);
    let mut saved_env = Vec::new();
    let mut offline_paths = BTreeSet::new();
    if mode == Mode::Offline {
        for field in SECRET_FIELDS {
            let Some(var) = raw(field).and_then(Value::as_str).map(str::trim).filter(|v| !v.is_empty())
            else {
                continue;
            };
            let declared = settings.envs.iter().find(|(e, _)| e == var);
            if declared.is_none() {
                let msg = match block.host {
                    Host::Traefik => format!(
                        "`{field}`: `{var}` comes from Traefik's environment: it needs the settings.envs entry `{var}` (and `{var}` in Traefik's container); not checked offline"
                    ),
                    Host::Plain => format!(
                        "`{field}`: `{var}` must be set in the environment of `edgeguard serve`; not checked offline"
                    ),
                };
                report.warning(file, at(field), doc, label, &msg);
            }
            // Only this process sees it; the previous value is put back below.
            saved_env.push((var.to_string(), std::env::var_os(var)));
            // SAFETY: `check` is single-threaded; nothing else reads the environment meanwhile.
            unsafe { std::env::set_var(var, PLACEHOLDER_SECRET) };
        }
        let files = [
            ("geo.database", config.geo.database.clone()),
            ("geo.asnDatabase", config.geo.asn_database.clone()),
            ("maintenance.flagFile", config.maintenance.flag_file.clone()),
            ("maintenance.page", config.maintenance.page.clone()),
        ];
        for (field, path) in files {
            let path = path.trim().to_string();
            if path.is_empty() {
                continue;
            }
            let dir = std::path::Path::new(&path).parent().map_or(String::new(), |d| d.display().to_string());
            let mounted = settings.mounts.iter().find(|(g, _)| path.starts_with(&format!("{g}/")));
            if mounted.is_none() {
                let msg = match block.host {
                    Host::Traefik => format!(
                        "`{field}`: `{path}` is read through Traefik's settings.mounts: it needs an entry like `/host/dir:{dir}:ro`; not checked offline"
                    ),
                    Host::Plain => {
                        format!("`{field}`: `{path}` is not read offline (use --online on the host)")
                    }
                };
                report.warning(file, at(field), doc, label, &msg);
            }
            offline_paths.insert(path);
        }
        // Stand-ins so the rest is validated: an absent flag file in a
        // directory that exists, an inline page.
        if !config.maintenance.flag_file.trim().is_empty() {
            config.maintenance.flag_file =
                std::env::temp_dir().join(".edgeguard-check-offline-flag").display().to_string();
        }
        if !config.maintenance.page.trim().is_empty() && config.maintenance.page_html.is_empty() {
            config.maintenance.page.clear();
            config.maintenance.page_html = "<p>offline check</p>".into();
        }
    }
    let log = Arc::new(MemoryLog::default());
    let built = Pipeline::with_log(&config, log.clone());
    for (var, value) in saved_env {
        // SAFETY: as above.
        unsafe {
            match value {
                Some(v) => std::env::set_var(&var, v),
                None => std::env::remove_var(&var),
            }
        }
    }
    if let Err(e) = built {
        let read_here = SECRET_FIELDS.contains(&e.path())
            || ["geo.database", "geo.asnDatabase", "maintenance.flagFile", "maintenance.page"]
                .contains(&e.path());
        let hint = if read_here && mode == Mode::Online {
            " (checked online, on this machine; --offline checks a config deployed elsewhere)"
        } else {
            ""
        };
        return report.error(file, at(e.path()), doc, label, &format!("{e}{hint}"));
    }
    if block.host == Host::Plain && config.server != edgeguard::config::ServerConfig::default() {
        if let Err(e) = edgeguard::sidecar::config::Settings::new(&config.server) {
            return report.error(file, at(e.path()), doc, label, &e.to_string());
        }
    }
    let warnings = config.warnings(now);
    let lint_lines: BTreeSet<String> = warnings.iter().map(|w| format!("edgeguard: {w}")).collect();
    for w in &warnings {
        report.warning(file, at(&w.path), doc, label, &w.to_string());
    }
    // What the stages logged while starting: unreadable databases above all.
    let geo_skip = raw("geo.onError").and_then(Value::as_str).is_some_and(|v| v.trim() == "skip")
        && config.geo.on_error == GeoOnError::Skip;
    for (level, line) in log.lines() {
        if level < Level::Warn || lint_lines.contains(&line) {
            continue;
        }
        if offline_paths.iter().any(|p| line.starts_with(&format!("geo database {p}:"))) {
            continue;
        }
        if line.starts_with("geo database ") && level == Level::Error && !geo_skip {
            let e = ConfigError::invalid(
                "geo",
                format!(
                    "{line} (requests would get no geo headers, or a 503 with `onError: fail`; set `onError: skip` explicitly to accept that)"
                ),
            );
            report.error(file, at("geo"), doc, label, &e.to_string());
        } else {
            report.warning(file, at("geo"), doc, label, &line);
        }
    }
    let mode_text = match mode {
        Mode::Offline => "offline: files and secrets not read",
        Mode::Online => "online: files and secrets read",
    };
    if report.errors > errors_before {
        return;
    }
    let warned = report.warnings - warnings_before;
    let start = doc.position(&block.path);
    if warned == 0 {
        println!("{file}:{start}: document {} ({label}): ok ({mode_text})", doc.index);
    } else {
        println!(
            "{file}:{start}: document {} ({label}): ok with {warned} warning(s) ({mode_text})",
            doc.index
        );
    }
}

/// The first EdgeGuard config in `path` (for `explain`); errors name file,
/// line and column.
pub fn first_config(path: &std::path::Path) -> Result<edgeguard::Config, String> {
    let file = path.display();
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("{file}: {}", edgeguard::error::io_reason(&e)))?;
    let docs = source::documents(&text).map_err(|e| match e.position {
        Some(p) => format!("{file}:{p}: {e}"),
        None => format!("{file}: {e}"),
    })?;
    let Some((doc, block)) = docs.iter().flat_map(|d| blocks(d, &text)).next() else {
        return Err(format!("{file}: no EdgeGuard config in it"));
    };
    doc.decode(&block.path).map_err(|e| format!("{file}:{}: {e}", doc.position(&join(&block.path, e.path()))))
}
