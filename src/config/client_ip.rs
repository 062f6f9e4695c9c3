//! `clientIp`: which proxies are trusted and what the backend receives.

use serde::Deserialize;

use super::lenient;

/// `clientIp`: which proxies are trusted and what the backend receives.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct ClientIpConfig {
    /// CIDRs, single IPs or presets (`loopback`, `private`, `kind`, `cloudflare`)
    /// whose forwarding headers are believed. Default: none (client = TCP peer).
    #[serde(deserialize_with = "lenient::or_empty")]
    pub trusted_proxies: Vec<String>,
    /// Allow `0.0.0.0/0` or `::/0` in `trustedProxies` (lets any client choose its IP).
    #[serde(deserialize_with = "lenient::bool")]
    #[cfg_attr(feature = "schema", schemars(with = "crate::config::schema::BoolOrString"))]
    pub allow_trust_all: bool,
    /// Most chain entries examined from the right; a longer chain is cut, not refused. Default 32.
    #[serde(deserialize_with = "lenient::unsigned")]
    #[cfg_attr(feature = "schema", schemars(with = "crate::config::schema::UintOrString"))]
    pub max_hops: usize,
    /// The one header that forms the chain: the header your nearest trusted
    /// proxy writes (`X-Forwarded-For` for ALB, nginx, Traefik, Cloudflare;
    /// `Forwarded` only for proxies configured to write RFC 7239; or a
    /// single-address header such as `CF-Connecting-IP`). At most one entry:
    /// a proxy passes every other header through from the client.
    /// Default `["X-Forwarded-For"]`.
    #[serde(deserialize_with = "lenient::or_empty")]
    pub sources: Vec<String>,
    /// A forwarding header (all its lines) longer than this many bytes is
    /// refused with 431, never read. Default 8192, at most 65536.
    #[serde(deserialize_with = "lenient::unsigned")]
    #[cfg_attr(feature = "schema", schemars(with = "crate::config::schema::UintOrString"))]
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
    #[cfg_attr(feature = "schema", schemars(with = "crate::config::schema::BoolOrString"))]
    pub forwarded: bool,
    /// Header that explains how the client was chosen, e.g. `X-EdgeGuard-Trace`; empty (default) disables.
    pub trace_header: String,
    /// Extra headers removed from every request, in every spelling (`-`, `_`, `.`, any case).
    #[serde(deserialize_with = "lenient::or_empty")]
    pub strip_headers: Vec<String>,
}

impl Default for ClientIpConfig {
    fn default() -> Self {
        Self {
            trusted_proxies: Vec::new(),
            allow_trust_all: false,
            max_hops: 32,
            sources: vec!["X-Forwarded-For".into()],
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
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
