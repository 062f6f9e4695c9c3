//! Warnings about configs that load but probably do not do what was meant.
//!
//! None of these refuse a config: each is legal, and refusing it would turn a
//! working deployment into a 500 on upgrade. They are written once per
//! instance to the host's log ([`crate::Pipeline::with_log`]) and printed by
//! `edgeguard check`, each naming the field path it is about.

use std::fmt;
use std::time::{Duration, SystemTime};

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::units::display_duration;
use super::{Config, GeoConfig, MaintenanceConfig, SigningConfig};

/// Longest re-check interval that does not draw a warning: beyond it a flag
/// flip or a new database build goes unnoticed for longer than a cutover lasts.
pub const MAX_QUIET_INTERVAL: Duration = Duration::from_secs(3600);

/// One warning: the field path and what is odd about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// Dotted field path, as in [`crate::ConfigError::path`].
    pub path: String,
    /// What is odd, lower-case, naming the value.
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "config at `{}`: {}", self.path, self.message)
    }
}

impl Config {
    /// The warnings for this config at wall-clock time `now` (windows that
    /// have ended depend on it).
    ///
    /// # Examples
    /// ```
    /// use edgeguard::Config;
    /// let cfg = Config::from_json(br#"{"clientIp": {"trustedProxies": ["10.0.1.0/16"]}}"#).unwrap();
    /// let warnings = cfg.warnings(std::time::SystemTime::now());
    /// assert_eq!(warnings[0].path, "clientIp.trustedProxies[0]");
    /// assert!(warnings[0].message.contains("10.0.0.0/16"));
    /// assert!(Config::default().warnings(std::time::SystemTime::now()).is_empty());
    /// ```
    pub fn warnings(&self, now: SystemTime) -> Vec<Warning> {
        let mut out = Vec::new();
        host_bits(&mut out, "clientIp.trustedProxies", &self.client_ip.trusted_proxies);
        host_bits(&mut out, "maintenance.allow.cidrs", &self.maintenance.allow.cidrs);
        #[cfg(not(target_arch = "wasm32"))]
        host_bits(&mut out, "server.proxyProtocol.trustedIps", &self.server.proxy_protocol.trusted_ips);
        maintenance(&mut out, &self.maintenance, now);
        geo(&mut out, &self.geo);
        signing(&mut out, &self.signing);
        out
    }
}

fn warn(out: &mut Vec<Warning>, path: impl fmt::Display, message: impl fmt::Display) {
    out.push(Warning { path: path.to_string(), message: message.to_string() });
}

fn host_bits(out: &mut Vec<Warning>, field: &str, entries: &[String]) {
    for (i, entry) in entries.iter().enumerate() {
        if let Some(net) = crate::trust::masked_network(entry) {
            warn(
                out,
                format_args!("{field}[{i}]"),
                format_args!(
                    "`{}` has host bits set; the network actually used is {net} (write {net}, or a longer prefix if you meant a smaller network)",
                    entry.trim()
                ),
            );
        }
    }
}

fn long_interval(out: &mut Vec<Warning>, field: &str, value: Duration, what: &str) {
    if value > MAX_QUIET_INTERVAL {
        warn(
            out,
            field,
            format_args!(
                "{} is more than an hour: {what} would go unnoticed that long",
                display_duration(value)
            ),
        );
    }
}

/// Names of the fields of a section that differ from their defaults.
fn set_fields<'a>(fields: &[(&'a str, bool)]) -> Vec<&'a str> {
    fields.iter().filter(|(_, differs)| *differs).map(|(name, _)| *name).collect()
}

fn unused(out: &mut Vec<Warning>, section: &str, fields: &[&str], why: &str) {
    for field in fields {
        warn(out, format_args!("{section}.{field}"), format_args!("is set but unused: {why}"));
    }
}

fn maintenance(out: &mut Vec<Warning>, m: &MaintenanceConfig, now: SystemTime) {
    let d = MaintenanceConfig::default();
    let window_set = !m.window.start.trim().is_empty() || !m.window.end.trim().is_empty();
    let flag_set = !m.flag_file.trim().is_empty();
    if !m.enabled && !flag_set && !window_set {
        let set = set_fields(&[
            ("checkInterval", m.check_interval != d.check_interval),
            ("status", m.status != d.status),
            ("retryAfter", m.retry_after != d.retry_after),
            ("page", m.page != d.page),
            ("pageHtml", m.page_html != d.page_html),
            ("allow", m.allow != d.allow),
            ("debugHeaders", m.debug_headers != d.debug_headers),
        ]);
        unused(
            out,
            "maintenance",
            &set,
            "nothing can turn maintenance on (no `enabled`, `flagFile` or `window`)",
        );
        return;
    }
    if !flag_set && m.check_interval != d.check_interval {
        unused(
            out,
            "maintenance",
            &["checkInterval"],
            "only the flag file is re-checked and `flagFile` is not set",
        );
    }
    if flag_set {
        long_interval(out, "maintenance.checkInterval", m.check_interval, "a flag file change");
    }
    if let Ok(end) = OffsetDateTime::parse(m.window.end.trim(), &Rfc3339) {
        if OffsetDateTime::from(now) >= end {
            warn(
                out,
                "maintenance.window.end",
                format_args!(
                    "the window ended at {}: it will never turn maintenance on",
                    m.window.end.trim()
                ),
            );
        }
    }
}

fn geo(out: &mut Vec<Warning>, g: &GeoConfig) {
    if g.database.trim().is_empty() && g.asn_database.trim().is_empty() {
        let d = GeoConfig::default();
        let set = set_fields(&[
            ("language", g.language != d.language),
            ("encoding", g.encoding != d.encoding),
            ("unknownValue", g.unknown_value != d.unknown_value),
            ("headers", g.headers != d.headers),
            ("dbInfoHeader", g.db_info_header != d.db_info_header),
            ("reloadInterval", g.reload_interval != d.reload_interval),
            ("cacheEntries", g.cache_entries != d.cache_entries),
            ("memoryBudget", g.memory_budget != d.memory_budget),
            ("onError", g.on_error != d.on_error),
        ]);
        unused(out, "geo", &set, "geo is off while neither `database` nor `asnDatabase` is set");
        return;
    }
    long_interval(out, "geo.reloadInterval", g.reload_interval, "a new database build");
}

fn signing(out: &mut Vec<Warning>, s: &SigningConfig) {
    let d = SigningConfig::default();
    if !s.secret_env.trim().is_empty() {
        return;
    }
    let set = set_fields(&[
        ("keyId", s.key_id != d.key_id),
        ("previousSecretEnv", s.previous_secret_env != d.previous_secret_env),
        ("previousKeyId", s.previous_key_id != d.previous_key_id),
        ("header", s.header != d.header),
        ("headers", s.headers != d.headers),
        ("maxSkew", s.max_skew != d.max_skew),
    ]);
    unused(
        out,
        "signing",
        &set,
        "signing is off while `signing.secretEnv` is empty (values are checked only once it is on)",
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(rfc3339: &str) -> SystemTime {
        OffsetDateTime::parse(rfc3339, &Rfc3339).unwrap().into()
    }

    #[test]
    fn each_warning() {
        let now = at("2026-12-01T12:00:00Z");
        // (description, config, [(path, text in the message)])
        type Case<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)]);
        let cases: &[Case] = &[
            ("clean", r#"{"clientIp": {"trustedProxies": ["10.0.0.0/16", "kind", "192.0.2.1"]}}"#, &[]),
            (
                "host bits",
                r#"{"clientIp": {"trustedProxies": ["10.0.0.0/8", "10.0.1.0/16"]}}"#,
                &[("clientIp.trustedProxies[1]", "the network actually used is 10.0.0.0/16")],
            ),
            (
                "host bits in allow.cidrs",
                r#"{"maintenance": {"enabled": true, "allow": {"cidrs": ["2001:db8::1/32"]}}}"#,
                &[("maintenance.allow.cidrs[0]", "2001:db8::/32")],
            ),
            (
                "ended window",
                r#"{"maintenance": {"window": {"start": "2025-06-01T02:00:00Z", "end": "2025-06-01T04:00:00Z"}}}"#,
                &[("maintenance.window.end", "ended at 2025-06-01T04:00:00Z")],
            ),
            (
                "future window",
                r#"{"maintenance": {"window": {"start": "2027-06-01T02:00:00Z", "end": "2027-06-01T04:00:00Z"}}}"#,
                &[],
            ),
            (
                "long check interval",
                r#"{"maintenance": {"flagFile": "/m/flag", "checkInterval": "100000h"}}"#,
                &[("maintenance.checkInterval", "100000h is more than an hour")],
            ),
            ("hourly reload is fine", r#"{"geo": {"database": "/g.mmdb", "reloadInterval": "1h"}}"#, &[]),
            (
                "long reload",
                r#"{"geo": {"database": "/g.mmdb", "reloadInterval": "2h"}}"#,
                &[("geo.reloadInterval", "2h is more than an hour")],
            ),
            (
                "signing off",
                r#"{"signing": {"maxSkew": "2h"}}"#,
                &[("signing.maxSkew", "signing is off while `signing.secretEnv` is empty")],
            ),
            (
                "maintenance without trigger",
                r#"{"maintenance": {"retryAfter": "10m", "allow": {"paths": ["/ping"]}}}"#,
                &[("maintenance.retryAfter", "nothing can turn"), ("maintenance.allow", "nothing can turn")],
            ),
            (
                "check interval without flag file",
                r#"{"maintenance": {"enabled": true, "checkInterval": "5s"}}"#,
                &[("maintenance.checkInterval", "`flagFile` is not set")],
            ),
            (
                "geo off",
                r#"{"geo": {"onError": "fail", "language": "de"}}"#,
                &[("geo.language", "geo is off"), ("geo.onError", "geo is off")],
            ),
        ];
        for (desc, doc, want) in cases {
            let got = Config::from_json(doc.as_bytes()).unwrap().warnings(now);
            assert_eq!(got.len(), want.len(), "{desc}: {got:?}");
            for (w, (path, text)) in got.iter().zip(want.iter()) {
                assert_eq!(w.path, *path, "{desc}: {w}");
                assert!(w.message.contains(text), "{desc}: {w}");
            }
        }
    }

    #[test]
    fn display_names_the_path() {
        let w = Warning { path: "geo.reloadInterval".into(), message: "2h is more than an hour".into() };
        assert_eq!(w.to_string(), "config at `geo.reloadInterval`: 2h is more than an hour");
    }
}
