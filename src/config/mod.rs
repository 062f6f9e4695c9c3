//! The configuration schema shared by the Traefik plugin and the sidecar.
//!
//! Keys are camelCase, as in every Traefik plugin config; unknown keys are an
//! error so a typo never silently disables a protection. Decoding only checks
//! shape; [`crate::Pipeline::new`] validates values and names the field path.

use serde::Deserialize;

use crate::error::ConfigError;

mod lenient;

/// The whole EdgeGuard configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Config {
    /// How the client IP is resolved and passed upstream.
    #[serde(deserialize_with = "lenient::or_empty")]
    pub client_ip: ClientIpConfig,
    /// Geolocation headers (filled in by the geo stage).
    #[serde(deserialize_with = "lenient::or_empty")]
    pub geo: GeoConfig,
    /// Maintenance mode (filled in by the maintenance stage).
    #[serde(deserialize_with = "lenient::or_empty")]
    pub maintenance: MaintenanceConfig,
}

impl Config {
    /// Decodes a JSON document (what Traefik hands a wasm plugin). An empty
    /// document or `null` means "all defaults".
    ///
    /// # Examples
    /// ```
    /// use edgeguard::Config;
    /// let cfg = Config::from_json(br#"{"clientIp": {"maxHops": 4}}"#).unwrap();
    /// assert_eq!(cfg.client_ip.max_hops, 4);
    /// let err = Config::from_json(br#"{"clientIp": {"maxHop": 4}}"#).unwrap_err();
    /// assert_eq!(err.path(), "clientIp.maxHop");
    /// ```
    pub fn from_json(doc: &[u8]) -> Result<Self, ConfigError> {
        let trimmed = doc.trim_ascii();
        if trimmed.is_empty() || trimmed == b"null" {
            return Ok(Self::default());
        }
        let de = &mut serde_json::Deserializer::from_slice(trimmed);
        let decoded: Result<Self, _> = serde_path_to_error::deserialize(de);
        decoded.map_err(|e| ConfigError::Decode {
            path: e.path().to_string(),
            reason: e.into_inner().to_string(),
        })
    }
}

/// `clientIp`: which proxies are trusted and what the backend receives.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct ClientIpConfig {
    /// CIDRs, single IPs or presets (`loopback`, `private`, `kind`, `cloudflare`)
    /// whose forwarding headers are believed. Default: none (client = TCP peer).
    #[serde(deserialize_with = "lenient::or_empty")]
    pub trusted_proxies: Vec<String>,
    /// Allow `0.0.0.0/0` or `::/0` in `trustedProxies` (lets any client choose its IP).
    #[serde(deserialize_with = "lenient::bool")]
    pub allow_trust_all: bool,
    /// Most chain entries examined from the right; a longer chain is cut, not refused. Default 32.
    #[serde(deserialize_with = "lenient::unsigned")]
    pub max_hops: usize,
    /// Headers that form the chain, in priority order. Default `["Forwarded", "X-Forwarded-For"]`.
    #[serde(deserialize_with = "lenient::or_empty")]
    pub sources: Vec<String>,
    /// Forwarding headers longer than this many bytes are treated as invalid. Default 8192.
    #[serde(deserialize_with = "lenient::unsigned")]
    pub max_header_bytes: usize,
    /// Header that carries the resolved client IP upstream; empty disables. Default `X-Real-IP`.
    pub header: String,
    /// What happens to `X-Forwarded-For`: `normalize` (default), `trusted`, `client` or `off`.
    pub forwarded_for: ForwardedForMode,
    /// Header that receives `X-Forwarded-For` exactly as it arrived; empty disables.
    /// Default `X-Original-Forwarded-For`.
    pub preserve_original_as: String,
    /// Also emit a normalized RFC 7239 `Forwarded` header. Default false.
    #[serde(deserialize_with = "lenient::bool")]
    pub forwarded: bool,
    /// Header that explains how the client was chosen, e.g. `X-EdgeGuard-Trace`; empty (default) disables.
    pub trace_header: String,
    /// Extra headers removed when the peer is not trusted.
    #[serde(deserialize_with = "lenient::or_empty")]
    pub strip_headers: Vec<String>,
}

impl Default for ClientIpConfig {
    fn default() -> Self {
        Self {
            trusted_proxies: Vec::new(),
            allow_trust_all: false,
            max_hops: 32,
            sources: vec!["Forwarded".into(), "X-Forwarded-For".into()],
            max_header_bytes: 8 * 1024,
            header: "X-Real-IP".into(),
            forwarded_for: ForwardedForMode::Normalize,
            preserve_original_as: "X-Original-Forwarded-For".into(),
            forwarded: false,
            trace_header: String::new(),
            strip_headers: Vec::new(),
        }
    }
}

/// How `X-Forwarded-For` is rewritten for the backend. Traefik's proxy then
/// appends the TCP peer to whatever EdgeGuard leaves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ForwardedForMode {
    /// The chain in canonical form, invalid entries dropped, order kept.
    #[default]
    Normalize,
    /// Only the client and the trusted hops to its right.
    Trusted,
    /// Only the client.
    Client,
    /// Left exactly as received.
    Off,
}

/// `geo`: reserved for the geolocation stage.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct GeoConfig {}

/// `maintenance`: reserved for the maintenance stage.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct MaintenanceConfig {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_null_are_defaults() {
        for doc in [&b""[..], b"  ", b"null", b"{}"] {
            assert_eq!(Config::from_json(doc).unwrap(), Config::default(), "{doc:?}");
        }
    }

    #[test]
    fn traefik_stringified_scalars_decode() {
        let doc = br#"{"clientIp": {"maxHops": "5", "forwarded": "true", "allowTrustAll": "false", "stripHeaders": ""}}"#;
        let cfg = Config::from_json(doc).unwrap().client_ip;
        assert_eq!((cfg.max_hops, cfg.forwarded, cfg.allow_trust_all), (5, true, false));
        assert_eq!(Config::from_json(br#"{"clientIp": "", "geo": ""}"#).unwrap(), Config::default());
    }

    #[test]
    fn decode_errors_name_the_field() {
        let cases: &[(&str, &str, &str)] = &[
            (r#"{"clientIP": {}}"#, "clientIP", "unknown field `clientIP`"),
            (
                r#"{"clientIp": {"trustedProxy": []}}"#,
                "clientIp.trustedProxy",
                "unknown field `trustedProxy`",
            ),
            (r#"{"clientIp": {"maxHops": "many"}}"#, "clientIp.maxHops", "expected a non-negative integer"),
            (r#"{"clientIp": {"forwardedFor": "all"}}"#, "clientIp.forwardedFor", "unknown variant `all`"),
            (r#"{"clientIp": {"trustedProxies": ["a", 3]}}"#, "clientIp.trustedProxies[1]", "invalid type"),
            (r#"{"clientIp": "#, "clientIp", "EOF"),
        ];
        for (doc, path, reason) in cases {
            let err = Config::from_json(doc.as_bytes()).unwrap_err();
            assert_eq!(err.path(), *path, "{doc}");
            assert!(err.to_string().contains(reason), "{doc}: {err}");
        }
    }

    #[test]
    fn nesting_bomb_is_an_error_not_a_stack_overflow() {
        let doc = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(Config::from_json(doc.as_bytes()).is_err());
    }
}
