//! The configuration schema shared by the Traefik plugin and the sidecar.
//!
//! Keys are camelCase, as in every Traefik plugin config; unknown keys are an
//! error so a typo never silently disables a protection. Decoding only checks
//! shape; [`crate::Pipeline::new`] validates values and names the field path.

use serde::Deserialize;

use crate::error::ConfigError;

mod client_ip;
mod geo;
pub(crate) mod lenient;
pub mod lint;
mod maintenance;
#[cfg(feature = "schema")]
pub mod schema;
#[cfg(not(target_arch = "wasm32"))]
mod server;
mod signing;
#[cfg(all(feature = "yaml", not(target_arch = "wasm32")))]
pub mod source;
pub mod units;

pub use client_ip::{ClientIpConfig, ForwardedForMode};
pub use geo::{GeoConfig, GeoHeaderNames, GeoOnError, ValueEncoding};
pub use lint::Warning;
pub use maintenance::{
    MaintenanceAllowConfig, MaintenanceConfig, MaintenanceTokenConfig, MaintenanceWindowConfig,
};
#[cfg(not(target_arch = "wasm32"))]
pub use server::{ProxyProtocolConfig, ServerConfig, ServerTimeouts};
pub use signing::SigningConfig;

/// The whole EdgeGuard configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
// Defaults per section, not for the whole struct: a section given is not
// also built as a default and dropped (every wasm instance decodes this at
// init, issue #14). The same values, as `Default` is derived.
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    /// How the client IP is resolved and passed upstream.
    #[serde(default, deserialize_with = "lenient::or_empty")]
    pub client_ip: ClientIpConfig,
    /// Geolocation headers from a MaxMind database.
    #[serde(default, deserialize_with = "lenient::or_empty")]
    pub geo: GeoConfig,
    /// Maintenance mode: a 503 page switched by config, a flag file or a time window.
    #[serde(default, deserialize_with = "lenient::or_empty")]
    pub maintenance: MaintenanceConfig,
    /// Signed identity headers: an HMAC backends verify to trust client IP and geo.
    #[serde(default, deserialize_with = "lenient::or_empty")]
    pub signing: SigningConfig,
    /// Listener, upstream and timeouts of the native sidecar (`edgeguard serve`).
    /// Only the sidecar reads it; the Traefik plugin (wasm32 build) refuses it.
    #[cfg(not(target_arch = "wasm32"))]
    #[serde(default, deserialize_with = "lenient::or_empty")]
    pub server: ServerConfig,
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
        decoded
            .map_err(|e| ConfigError::Decode { path: e.path().to_string(), reason: reason(&e.into_inner()) })
    }
}

/// The decoder's message without its JSON position, with a suggestion for
/// a misspelt key or value. Traefik hands the plugin one JSON line it made
/// from the operator's YAML, so `line 1 column 413` points at nothing the
/// operator wrote; the field path does (and `edgeguard check` adds the YAML
/// line and column).
pub(crate) fn reason(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let position = format!(" at line {} column {}", e.line(), e.column());
    suggest(text.strip_suffix(&position).unwrap_or(&text))
}

/// Most edits between a misspelt name and the one suggested.
const MAX_SUGGESTION_DISTANCE: usize = 2;

/// For serde's `unknown field `x`, expected one of `a`, `b`` (and `unknown
/// variant`), appends `; did you mean `a`?` when a known name is within
/// [`MAX_SUGGESTION_DISTANCE`] edits (case differences count as one).
pub(crate) fn suggest(message: &str) -> String {
    if !(message.starts_with("unknown field `") || message.starts_with("unknown variant `")) {
        return message.to_string();
    }
    // Backquoted names: the first is what was written, the rest are known.
    let mut names = message.split('`').skip(1).step_by(2);
    let Some(written) = names.next() else { return message.to_string() };
    let best = names
        .map(|known| {
            let exact = strsim::levenshtein(written, known);
            let folded = strsim::levenshtein(&written.to_lowercase(), &known.to_lowercase());
            (exact.min(folded + 1), known)
        })
        .filter(|(distance, _)| *distance <= MAX_SUGGESTION_DISTANCE)
        .min_by_key(|(distance, _)| *distance);
    match best {
        Some((_, known)) => format!("{message}; did you mean `{known}`?"),
        None => message.to_string(),
    }
}

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
        assert_eq!(
            Config::from_json(br#"{"clientIp": "", "geo": "", "signing": ""}"#).unwrap(),
            Config::default()
        );
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
    fn suggestions_and_no_json_position() {
        let cases: &[(&str, &str)] = &[
            (r#"{"clientIp": {"maxHop": 4}}"#, "unknown field `maxHop`, expected one of"),
            (r#"{"clientIp": {"maxHop": 4}}"#, "; did you mean `maxHops`?"),
            (r#"{"clientIP": {}}"#, "; did you mean `clientIp`?"),
            (r#"{"maintenance": {"flagfile": "/f"}}"#, "; did you mean `flagFile`?"),
            (r#"{"clientIp": {"forwardedFor": "normalise"}}"#, "; did you mean `normalize`?"),
        ];
        for (doc, want) in cases {
            let err = Config::from_json(doc.as_bytes()).unwrap_err().to_string();
            assert!(err.contains(want), "{doc}: {err}");
            assert!(!err.contains(" at line "), "{doc}: {err}");
        }
        let far = Config::from_json(br#"{"clientIp": {"bananas": 1}}"#).unwrap_err().to_string();
        assert!(!far.contains("did you mean"), "{far}");
    }

    #[test]
    fn nesting_bomb_is_an_error_not_a_stack_overflow() {
        let doc = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(Config::from_json(doc.as_bytes()).is_err());
    }
}
