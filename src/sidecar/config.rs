//! Loading the sidecar's config file: YAML or JSON, the plugin's schema plus
//! `server`, validated in full (every error names its field path) before
//! anything is served or swapped in.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use hyper::Uri;
use hyper::http::uri::Authority;

use crate::config::source::Document;
use crate::config::{Config, ServerConfig};
use crate::error::ConfigError;
use crate::log::Log;
use crate::pipeline::Pipeline;
use crate::trust::TrustedProxies;

/// The validated `server` section.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Proxy listener.
    pub listen: SocketAddr,
    /// Admin listener.
    pub admin_listen: SocketAddr,
    /// The application: `http://host:port`.
    pub upstream: Upstream,
    /// `server.timeouts.connect`.
    pub connect_timeout: Duration,
    /// `server.timeouts.upstreamHeader`.
    pub upstream_header_timeout: Duration,
    /// `server.timeouts.idle`.
    pub idle_timeout: Duration,
    /// `server.maxHeaderBytes`.
    pub max_header_bytes: usize,
    /// `server.shutdownTimeout`.
    pub shutdown_timeout: Duration,
    /// `server.proxyProtocol.trustedIps`.
    pub proxy_protocol: TrustedProxies,
}

/// Where requests go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    /// `host:port` as written, parsed once: the authority of every upstream
    /// request URI (and what logs name).
    pub authority: Authority,
    /// `host:port` with the default port filled in (for readiness probes).
    pub connect: String,
}

/// A config that passed every check: what a reload swaps in.
pub struct Loaded {
    /// The decoded document.
    pub config: Config,
    /// The validated `server` section.
    pub settings: Settings,
    /// The pipeline built from it.
    pub pipeline: Pipeline,
}

/// Smallest `maxHeaderBytes` hyper accepts for HTTP/1.1.
const MIN_HEADER_BYTES: usize = 8 << 10;
/// Largest accepted `maxHeaderBytes`.
const MAX_HEADER_BYTES: usize = 1 << 20;

/// Reads a JSON or YAML config file into [`Config`]; errors name the file,
/// the line and column, and the field path.
pub fn read(path: &Path) -> Result<Config, String> {
    read_document(path).map(|(config, _)| config)
}

/// [`read`], keeping the document so later (validation) errors can be placed too.
fn read_document(path: &Path) -> Result<(Config, Option<Document>), String> {
    let prefix = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    let text = std::fs::read_to_string(path).map_err(|e| prefix(&crate::error::io_reason(&e)))?;
    // YAML is a superset of JSON: one reader, with the line and column of
    // each field for errors.
    let mut docs = crate::config::source::documents(&text).map_err(|e| match e.position {
        Some(p) => format!("{}:{p}: {e}", path.display()),
        None => prefix(&e),
    })?;
    if docs.len() > 1 {
        let at = docs[1].start;
        return Err(format!("{}:{at}: {} YAML documents; the sidecar reads one", path.display(), docs.len()));
    }
    let Some(doc) = docs.pop() else { return Ok((Config::default(), None)) };
    let config = doc.decode("").map_err(|e| located(path, Some(&doc), &e))?;
    Ok((config, Some(doc)))
}

/// `file:line:column: error`, or `file: error` without a document.
fn located(path: &Path, doc: Option<&Document>, e: &ConfigError) -> String {
    match doc {
        Some(doc) => format!("{}:{}: {e}", path.display(), doc.position(e.path())),
        None => format!("{}: {e}", path.display()),
    }
}

/// Reads, decodes and validates the whole file, building the pipeline.
pub fn load(path: &Path, log: Arc<dyn Log>) -> Result<Loaded, String> {
    let (config, doc) = read_document(path)?;
    let settings = Settings::new(&config.server).map_err(|e| located(path, doc.as_ref(), &e))?;
    let pipeline = Pipeline::with_log(&config, log).map_err(|e| located(path, doc.as_ref(), &e))?;
    Ok(Loaded { config, settings, pipeline })
}

impl Settings {
    /// Validates `server`; errors name the field under `server`.
    pub fn new(cfg: &ServerConfig) -> Result<Self, ConfigError> {
        let addr = |path: &str, text: &str| {
            text.parse::<SocketAddr>().map_err(|_| {
                ConfigError::invalid(
                    path,
                    format!("`{text}` is not an address like 0.0.0.0:8080 or [::]:8080"),
                )
            })
        };
        let listen = addr("server.listen", &cfg.listen)?;
        let admin_listen = addr("server.adminListen", &cfg.admin_listen)?;
        let upstream = upstream(&cfg.upstream)?;
        for (path, value) in [
            ("server.timeouts.connect", cfg.timeouts.connect),
            ("server.timeouts.upstreamHeader", cfg.timeouts.upstream_header),
            ("server.timeouts.idle", cfg.timeouts.idle),
        ] {
            if value.is_zero() {
                return Err(ConfigError::invalid(path, "must be greater than 0"));
            }
        }
        if !(MIN_HEADER_BYTES..=MAX_HEADER_BYTES).contains(&cfg.max_header_bytes) {
            let reason = format!(
                "must be between {MIN_HEADER_BYTES} (8KiB) and {MAX_HEADER_BYTES} (1MiB), got {}",
                cfg.max_header_bytes
            );
            return Err(ConfigError::invalid("server.maxHeaderBytes", reason));
        }
        let proxy_protocol =
            TrustedProxies::new(&cfg.proxy_protocol.trusted_ips, false).map_err(|(i, e)| {
                ConfigError::invalid(format_args!("server.proxyProtocol.trustedIps[{i}]"), e)
            })?;
        Ok(Self {
            listen,
            admin_listen,
            upstream,
            connect_timeout: cfg.timeouts.connect,
            upstream_header_timeout: cfg.timeouts.upstream_header,
            idle_timeout: cfg.timeouts.idle,
            max_header_bytes: cfg.max_header_bytes,
            shutdown_timeout: cfg.shutdown_timeout,
            proxy_protocol,
        })
    }
}

fn upstream(text: &str) -> Result<Upstream, ConfigError> {
    let path = "server.upstream";
    if text.is_empty() {
        return Err(ConfigError::invalid(
            path,
            "required: the application's URL, e.g. http://127.0.0.1:3000",
        ));
    }
    let uri: Uri =
        text.parse().map_err(|e| ConfigError::invalid(path, format!("`{text}` is not a URL: {e}")))?;
    if uri.scheme_str() != Some("http") {
        return Err(ConfigError::invalid(path, format!("`{text}`: only http:// upstreams are supported")));
    }
    let Some(authority) = uri.authority() else {
        return Err(ConfigError::invalid(path, format!("`{text}` has no host")));
    };
    if uri.path_and_query().is_some_and(|p| p.as_str() != "/") {
        return Err(ConfigError::invalid(path, format!("`{text}`: a path or query is not supported")));
    }
    if authority.as_str().contains('@') {
        return Err(ConfigError::invalid(
            path,
            format!("`{text}`: credentials in the URL are not supported"),
        ));
    }
    let connect = match authority.port_u16() {
        Some(_) => authority.as_str().to_string(),
        None => format!("{}:80", authority.host()),
    };
    Ok(Upstream { authority: authority.clone(), connect })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(server: serde_json::Value) -> Result<Settings, ConfigError> {
        let doc = serde_json::json!({ "server": server }).to_string();
        Settings::new(&Config::from_json(doc.as_bytes())?.server)
    }

    #[test]
    fn defaults_and_units() {
        let s = settings(
            serde_json::json!({"upstream": "http://app:3000", "timeouts": {"upstreamHeader": "1m30s"}}),
        )
        .unwrap();
        assert_eq!(s.listen.to_string(), "0.0.0.0:8080");
        assert_eq!(s.admin_listen.to_string(), "127.0.0.1:9090");
        assert_eq!((s.upstream.authority.as_str(), s.upstream.connect.as_str()), ("app:3000", "app:3000"));
        assert_eq!(s.upstream_header_timeout, Duration::from_secs(90));
        assert_eq!(s.connect_timeout, Duration::from_secs(5));
        assert_eq!(s.max_header_bytes, 64 << 10);
        let s = settings(serde_json::json!({"upstream": "http://app/", "maxHeaderBytes": "16KiB"})).unwrap();
        assert_eq!((s.upstream.connect.as_str(), s.max_header_bytes), ("app:80", 16 << 10));
    }

    #[test]
    fn errors_name_the_field() {
        let cases = [
            (serde_json::json!({}), "server.upstream", "required"),
            (serde_json::json!({"upstream": "https://app"}), "server.upstream", "only http://"),
            (serde_json::json!({"upstream": "http://app/api"}), "server.upstream", "path"),
            (
                serde_json::json!({"upstream": "http://app", "listen": "8080"}),
                "server.listen",
                "not an address",
            ),
            (
                serde_json::json!({"upstream": "http://app", "adminListen": "x"}),
                "server.adminListen",
                "address",
            ),
            (
                serde_json::json!({"upstream": "http://app", "timeouts": {"connect": "0s"}}),
                "server.timeouts.connect",
                "greater than 0",
            ),
            (
                serde_json::json!({"upstream": "http://app", "timeouts": {"idle": "soon"}}),
                "server.timeouts.idle",
                "duration",
            ),
            (
                serde_json::json!({"upstream": "http://app", "maxHeaderBytes": 100}),
                "server.maxHeaderBytes",
                "8192",
            ),
            (
                serde_json::json!({"upstream": "http://app", "proxyProtocol": {"trustedIps": ["10.0.0.0/8", "x"]}}),
                "server.proxyProtocol.trustedIps[1]",
                "",
            ),
            (serde_json::json!({"upstream": "http://app", "listn": ":80"}), "server.listn", "unknown field"),
        ];
        for (server, path, reason) in cases {
            let err = settings(server.clone()).unwrap_err();
            assert_eq!(err.path(), path, "{server}: {err}");
            assert!(err.to_string().contains(reason), "{server}: {err}");
        }
    }
}
