//! `maintenance`: answer a 503 page while keeping health checks and operators served.

use std::fmt;
use std::time::Duration;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer};

use super::{lenient, units};

/// `maintenance`: when the site answers a maintenance page, what it says and who still gets through.
///
/// Maintenance is on while any trigger is: `enabled`, the flag file, or the
/// window. With none of them configured the stage is not built at all.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct MaintenanceConfig {
    /// Maintenance is on from the config itself. Default false.
    #[serde(deserialize_with = "lenient::bool")]
    #[cfg_attr(feature = "schema", schemars(with = "crate::config::schema::BoolOrString"))]
    pub enabled: bool,
    /// Path of a flag file: maintenance is on while it exists and its trimmed
    /// content is not `off`, `0` or `false` (case-insensitive; an empty file
    /// means on). Its directory must exist at startup (in Traefik, mount it
    /// with `settings.mounts`); the file itself may be absent. Default: none.
    pub flag_file: String,
    /// How often each instance re-reads the flag file. Default `2s`.
    #[serde(deserialize_with = "units::duration")]
    #[cfg_attr(feature = "schema", schemars(with = "crate::config::schema::GoDuration"))]
    pub check_interval: Duration,
    /// A scheduled window (RFC 3339 timestamps); maintenance is on from
    /// `start` (inclusive) to `end` (exclusive).
    #[serde(deserialize_with = "lenient::or_empty")]
    pub window: MaintenanceWindowConfig,
    /// Response status, 500–599. Default 503.
    #[serde(deserialize_with = "lenient::unsigned")]
    #[cfg_attr(feature = "schema", schemars(with = "crate::config::schema::UintOrString"))]
    pub status: u16,
    /// `Retry-After` value (a duration such as `"10m"` or a number of
    /// seconds). Default: the time left in the window, else 300 seconds.
    #[serde(deserialize_with = "optional_duration")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<crate::config::schema::GoDuration>"))]
    pub retry_after: Option<Duration>,
    /// Path of an HTML page read at startup; `{{retryAfter}}` (seconds) and
    /// `{{until}}` (window end, RFC 3339, or empty) are substituted per response.
    pub page: String,
    /// The HTML page inline, with the same placeholders; exclusive with `page`.
    pub page_html: String,
    /// Requests that are still served during maintenance.
    #[serde(deserialize_with = "lenient::or_empty")]
    pub allow: MaintenanceAllowConfig,
    /// Add `X-Maintenance-Bypass: cidr|path|host|token` to the response of
    /// requests let through during maintenance. Default false.
    #[serde(deserialize_with = "lenient::bool")]
    #[cfg_attr(feature = "schema", schemars(with = "crate::config::schema::BoolOrString"))]
    pub debug_headers: bool,
}

impl Default for MaintenanceConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            flag_file: String::new(),
            check_interval: Duration::from_secs(2),
            window: MaintenanceWindowConfig::default(),
            status: 503,
            retry_after: None,
            page: String::new(),
            page_html: String::new(),
            allow: MaintenanceAllowConfig::default(),
            debug_headers: false,
        }
    }
}

/// `maintenance.window`: both bounds or neither.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct MaintenanceWindowConfig {
    /// First instant of maintenance, e.g. `2025-06-01T02:00:00Z` (inclusive).
    pub start: String,
    /// First instant after maintenance, e.g. `2025-06-01T04:00:00+02:00` (exclusive).
    pub end: String,
}

/// `maintenance.allow`: requests served normally while maintenance is on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct MaintenanceAllowConfig {
    /// CIDRs, single IPs or presets (`loopback`, `private`, ...) matched
    /// against the resolved client IP (see `clientIp`), never the TCP peer.
    #[serde(deserialize_with = "lenient::or_empty")]
    pub cidrs: Vec<String>,
    /// Path prefixes, matched per segment: `/healthz` covers `/healthz` and
    /// `/healthz/live`, not `/healthzX`. Paths with dot segments or encoded
    /// dots/slashes are never let through.
    #[serde(deserialize_with = "lenient::or_empty")]
    pub paths: Vec<String>,
    /// Host names (case-insensitive, port ignored) matched against `Host`.
    #[serde(deserialize_with = "lenient::or_empty")]
    pub hosts: Vec<String>,
    /// A shared secret that lets operators through.
    #[serde(deserialize_with = "lenient::or_empty")]
    pub token: MaintenanceTokenConfig,
}

/// `maintenance.allow.token`: where the bypass secret is sent and where it is kept.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct MaintenanceTokenConfig {
    /// Request header carrying the secret, e.g. `X-Maintenance-Token`; exclusive with `cookie`.
    pub header: String,
    /// Cookie carrying the secret; exclusive with `header`.
    pub cookie: String,
    /// Environment variable holding the secret, read at startup (in Traefik,
    /// pass it with the plugin's `settings.envs`).
    pub secret_env: String,
}

/// `null`, `""` (Traefik's empty value) or absent: `None`; otherwise a
/// duration as [`units::duration`] reads it.
fn optional_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    struct V;
    impl Visitor<'_> for V {
        type Value = Option<Duration>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a duration such as \"2s\", \"1m30s\" or a number of seconds")
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(Duration::from_secs(v)))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            if v.trim().is_empty() { Ok(None) } else { units::parse_duration(v).map(Some).map_err(E::custom) }
        }
    }
    d.deserialize_any(V)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Config;

    fn maintenance(doc: &str) -> Result<MaintenanceConfig, String> {
        Config::from_json(doc.as_bytes()).map(|c| c.maintenance).map_err(|e| e.to_string())
    }

    #[test]
    fn typed_and_traefik_stringified_forms_agree() {
        let typed = r#"{"maintenance": {"enabled": true, "checkInterval": 5, "status": 502, "retryAfter": 120,
            "allow": {"cidrs": ["192.0.2.0/24"], "token": {"header": "X-T", "secretEnv": "V"}},
            "debugHeaders": true}}"#;
        let strings = r#"{"maintenance": {"enabled": "true", "checkInterval": "5s", "status": "502", "retryAfter": "2m",
            "allow": {"cidrs": ["192.0.2.0/24"], "paths": "", "hosts": "", "token": {"header": "X-T", "secretEnv": "V"}},
            "window": "", "debugHeaders": "true"}}"#;
        let a = maintenance(typed).unwrap();
        assert_eq!(a, maintenance(strings).unwrap());
        assert_eq!((a.enabled, a.status, a.retry_after), (true, 502, Some(Duration::from_secs(120))));
        assert_eq!(a.check_interval, Duration::from_secs(5));
    }

    #[test]
    fn defaults_and_empty_values() {
        let d = maintenance(r#"{"maintenance": ""}"#).unwrap();
        assert_eq!(d, MaintenanceConfig::default());
        assert_eq!((d.status, d.check_interval, d.retry_after), (503, Duration::from_secs(2), None));
        let empty = maintenance(r#"{"maintenance": {"retryAfter": "", "allow": {"token": ""}}}"#).unwrap();
        assert_eq!(empty, MaintenanceConfig::default());
    }

    #[test]
    fn decode_errors_name_the_field() {
        let cases = [
            (r#"{"maintenance": {"enable": true}}"#, "`maintenance.enable`: unknown field `enable`"),
            (r#"{"maintenance": {"status": "abc"}}"#, "`maintenance.status`: invalid value"),
            (
                r#"{"maintenance": {"retryAfter": "soon"}}"#,
                "`maintenance.retryAfter`: `soon` is not a duration",
            ),
            (r#"{"maintenance": {"window": {"begin": "x"}}}"#, "`maintenance.window.begin`: unknown field"),
            (
                r#"{"maintenance": {"allow": {"token": {"env": "X"}}}}"#,
                "`maintenance.allow.token.env`: unknown",
            ),
        ];
        for (doc, want) in cases {
            let err = maintenance(doc).unwrap_err();
            assert!(err.contains(want), "{doc}: {err}");
        }
    }
}
