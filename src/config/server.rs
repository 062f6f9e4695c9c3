//! `server`: the native sidecar's listener, upstream and timeouts
//! (`edgeguard serve`). The Traefik plugin has no such section: built for
//! wasm32 the field does not exist, so a plugin config with `server` is
//! refused with `unknown field` like any other typo.

use std::time::Duration;

use serde::Deserialize;

use super::{lenient, units};

/// `server`: read only by the sidecar (`edgeguard serve`); the plugin refuses it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address the proxy listens on (HTTP/1.1 and h2c). Default `0.0.0.0:8080`.
    pub listen: String,
    /// URL of the application, e.g. `http://127.0.0.1:3000` (required; `http` only).
    pub upstream: String,
    /// Address of the admin listener (`/healthz`, `/readyz`, `/metrics`). Default `127.0.0.1:9090`.
    pub admin_listen: String,
    /// Connection and response timeouts.
    #[serde(deserialize_with = "lenient::or_empty")]
    pub timeouts: ServerTimeouts,
    /// Largest request head (request line and headers) accepted. Default `64KiB`; at least `8KiB`.
    #[serde(deserialize_with = "units::bytes")]
    #[cfg_attr(feature = "schema", schemars(with = "crate::config::schema::ByteSize"))]
    pub max_header_bytes: usize,
    /// How long in-flight requests may finish after SIGTERM/SIGINT. Default `30s`.
    #[serde(deserialize_with = "units::duration")]
    #[cfg_attr(feature = "schema", schemars(with = "crate::config::schema::GoDuration"))]
    pub shutdown_timeout: Duration,
    /// PROXY protocol (v1 and v2) from load balancers such as AWS NLB.
    #[serde(deserialize_with = "lenient::or_empty")]
    pub proxy_protocol: ProxyProtocolConfig,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: "0.0.0.0:8080".into(),
            upstream: String::new(),
            admin_listen: "127.0.0.1:9090".into(),
            timeouts: ServerTimeouts::default(),
            max_header_bytes: 64 << 10,
            shutdown_timeout: Duration::from_secs(30),
            proxy_protocol: ProxyProtocolConfig::default(),
        }
    }
}

/// `server.timeouts`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct ServerTimeouts {
    /// Connecting to the upstream; a failure answers 502. Default `5s`.
    #[serde(deserialize_with = "units::duration")]
    #[cfg_attr(feature = "schema", schemars(with = "crate::config::schema::GoDuration"))]
    pub connect: Duration,
    /// From sending the request upstream to its response head; past it the client gets 504. Default `60s`.
    #[serde(deserialize_with = "units::duration")]
    #[cfg_attr(feature = "schema", schemars(with = "crate::config::schema::GoDuration"))]
    pub upstream_header: Duration,
    /// Idle keep-alive connections (client side: time to send the next request head;
    /// upstream pool: how long an unused connection is kept). Default `90s`.
    #[serde(deserialize_with = "units::duration")]
    #[cfg_attr(feature = "schema", schemars(with = "crate::config::schema::GoDuration"))]
    pub idle: Duration,
}

impl Default for ServerTimeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(5),
            upstream_header: Duration::from_secs(60),
            idle: Duration::from_secs(90),
        }
    }
}

/// `server.proxyProtocol`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct ProxyProtocolConfig {
    /// CIDRs or IPs allowed to send a PROXY protocol v1/v2 header; its source
    /// address then replaces the TCP peer. A header from any other peer is
    /// not parsed (the request is refused as malformed). Default: none.
    #[serde(deserialize_with = "lenient::or_empty")]
    pub trusted_ips: Vec<String>,
}
