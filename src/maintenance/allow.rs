//! Who is still served during maintenance: health-check paths, operator
//! hosts, operator networks (by resolved client IP) and a bypass token.

use std::net::{IpAddr, Ipv6Addr};

use subtle::{Choice, ConstantTimeEq};

use super::BypassKind;
use crate::config::{MaintenanceAllowConfig, MaintenanceTokenConfig};
use crate::error::ConfigError;
use crate::headers::check_name;
use crate::log::{Level, Log};
use crate::request::{HeaderEdit, RequestView};
use crate::secret::Secret;
use crate::trust::{TrustError, TrustedProxies};

/// Shorter secrets are accepted but logged: a bypass token should not be guessable.
const MIN_SECRET_BYTES: usize = 16;

/// The validated `maintenance.allow` rules.
#[derive(Debug, Clone, Default)]
pub(crate) struct Allow {
    /// Path prefixes without a trailing `/`.
    paths: Vec<String>,
    /// Lower-case host names without port or trailing dot; IPv6 in brackets.
    hosts: Vec<String>,
    cidrs: TrustedProxies,
    token: Option<Token>,
}

/// Where the bypass secret travels.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Carrier {
    Header(String),
    Cookie(String),
}

#[derive(Debug, Clone)]
struct Token {
    carrier: Carrier,
    secret: Secret,
}

impl Allow {
    /// Validates the rules and reads the token secret from the environment.
    pub(crate) fn new(cfg: &MaintenanceAllowConfig, log: &dyn Log) -> Result<Self, ConfigError> {
        let paths = cfg
            .paths
            .iter()
            .enumerate()
            .map(|(i, p)| {
                path_prefix(p)
                    .map_err(|r| ConfigError::invalid(format_args!("maintenance.allow.paths[{i}]"), r))
            })
            .collect::<Result<_, _>>()?;
        let hosts = cfg
            .hosts
            .iter()
            .enumerate()
            .map(|(i, h)| {
                host_name(h)
                    .map_err(|r| ConfigError::invalid(format_args!("maintenance.allow.hosts[{i}]"), r))
            })
            .collect::<Result<_, _>>()?;
        let cidrs = TrustedProxies::new(&cfg.cidrs, false).map_err(|(i, e)| {
            let reason = match e {
                TrustError::TrustAll(entry) | TrustError::TrustAllCombined { entry, .. } => {
                    format!("`{entry}` would let every client bypass maintenance")
                }
                other => other.to_string(),
            };
            ConfigError::invalid(format_args!("maintenance.allow.cidrs[{i}]"), reason)
        })?;
        let token = token(&cfg.token, log)?;
        Ok(Self { paths, hosts, cidrs, token })
    }

    /// The first rule that lets the request through, cheapest first: path, host, cidr, token.
    pub(crate) fn check(&self, req: &impl RequestView, client: Option<IpAddr>) -> Option<BypassKind> {
        if !self.paths.is_empty() && path_allowed(&self.paths, &req.uri()) {
            return Some(BypassKind::Path);
        }
        if !self.hosts.is_empty() && request_host(req).is_some_and(|h| self.hosts.contains(&h)) {
            return Some(BypassKind::Host);
        }
        if client.is_some_and(|ip| self.cidrs.contains(ip)) {
            return Some(BypassKind::Cidr);
        }
        if self.token.as_ref().is_some_and(|t| t.matches(req)) {
            return Some(BypassKind::Token);
        }
        None
    }

    /// The request header carrying the bypass token, if the token travels in a header.
    pub(crate) fn token_header(&self) -> Option<&str> {
        match &self.token.as_ref()?.carrier {
            Carrier::Header(name) => Some(name),
            Carrier::Cookie(_) => None,
        }
    }
}

/// Removes cookie `name` from `Cookie`, keeping every other cookie: the
/// bypass secret is for EdgeGuard, not for the backends, and browsers keep
/// sending it long after a cutover. Several `Cookie` lines (HTTP/2 splits
/// them) become one, joined with `; ` (RFC 9113 §8.2.3).
pub fn strip_cookie(req: &impl RequestView, name: &str, edits: &mut Vec<HeaderEdit>) {
    let lines = req.header_values("Cookie");
    let is_token = |pair: &[u8]| {
        pair.iter().position(|&b| b == b'=').is_some_and(|eq| pair[..eq].trim_ascii() == name.as_bytes())
    };
    if !lines.iter().any(|line| line.split(|&b| b == b';').any(is_token)) {
        return;
    }
    let kept: Vec<&[u8]> = lines
        .iter()
        .flat_map(|line| line.split(|&b| b == b';'))
        .map(<[u8]>::trim_ascii)
        .filter(|pair| !pair.is_empty() && !is_token(pair))
        .collect();
    if kept.is_empty() {
        edits.push(HeaderEdit::Remove("Cookie".into()));
    } else {
        edits.push(HeaderEdit::Set(
            "Cookie".into(),
            String::from_utf8_lossy(&kept.join(&b"; "[..])).into_owned(),
        ));
    }
}

/// Validates a configured prefix and drops trailing slashes (`/hooks/` = `/hooks`).
fn path_prefix(prefix: &str) -> Result<String, String> {
    let p = prefix.trim();
    if !p.starts_with('/') {
        return Err(format!("`{prefix}` must start with `/`"));
    }
    if p.contains(['?', '#']) || p.bytes().any(|b| b.is_ascii_whitespace() || b.is_ascii_control()) {
        return Err(format!("`{prefix}` must be a path without query, fragment or spaces"));
    }
    if is_ambiguous(p) {
        return Err(format!("`{prefix}` contains a dot segment or an encoded dot, slash or backslash"));
    }
    let p = p.trim_end_matches('/');
    if p.is_empty() {
        return Err(format!("`{prefix}` would keep every path served; leave maintenance off instead"));
    }
    Ok(p.to_string())
}

/// True when the path part of `uri` is one of `prefixes` or below one, per segment.
fn path_allowed(prefixes: &[String], uri: &str) -> bool {
    let path = &uri[..uri.find(['?', '#']).unwrap_or(uri.len())];
    // Origin-form only: `*` and absolute-form targets never bypass.
    if !path.starts_with('/') || is_ambiguous(path) {
        return false;
    }
    prefixes
        .iter()
        .any(|p| path.strip_prefix(p.as_str()).is_some_and(|rest| rest.is_empty() || rest.starts_with('/')))
}

/// Paths the backend may resolve differently from how they read here.
///
/// The prefix check sees the path as received, but the backend (or a proxy
/// behind Traefik) may normalise dot segments (RFC 3986 §5.2.4), decode
/// `%2e`/`%2f`, treat `\` as `/`, drop `;params` (Tomcat turns `/..;/` into
/// `/../`) or decode twice (`%252e`). Any of those would turn
/// `/healthz/../admin` into `/admin` *after* the bypass was granted, so such
/// paths are never let through; health checks and webhooks never need them.
fn is_ambiguous(path: &str) -> bool {
    let dot_segment = path.split('/').any(|seg| {
        let seg = seg.split(';').next().unwrap_or(seg);
        seg == "." || seg == ".."
    });
    let encoded = path.as_bytes().windows(3).any(|w| {
        w[0] == b'%'
            && matches!([w[1], w[2].to_ascii_lowercase()], [b'2', b'e' | b'f'] | [b'5', b'c'] | [b'2', b'5'])
    });
    dot_segment || encoded || path.contains('\\')
}

/// Normalises a configured host: lower case, no port, no trailing dot, IPv6 bracketed.
fn host_name(host: &str) -> Result<String, String> {
    let trimmed = host.trim();
    if let Ok(v6) = trimmed.parse::<Ipv6Addr>() {
        return Ok(format!("[{v6}]"));
    }
    let name = normalise_host(trimmed);
    let valid = !name.is_empty()
        && (name.starts_with('[')
            && name.ends_with(']')
            && name[1..name.len() - 1].parse::<Ipv6Addr>().is_ok()
            || name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_'));
    if valid {
        Ok(name)
    } else {
        Err(format!("`{host}` is not a host name (exact names only, no wildcards)"))
    }
}

/// The request's host, normalised like the configured ones. A missing or
/// repeated `Host` (invalid, RFC 9112 §3.2) gives no host bypass.
fn request_host(req: &impl RequestView) -> Option<String> {
    let values = req.header_values("Host");
    let [value] = values.as_slice() else { return None };
    let host = std::str::from_utf8(value).ok()?;
    let host = normalise_host(host.trim());
    (!host.is_empty()).then_some(host)
}

fn normalise_host(host: &str) -> String {
    let without_port = if host.starts_with('[') {
        host.find(']').map_or(host, |end| &host[..=end])
    } else {
        match host.rfind(':') {
            Some(colon) if !host[..colon].contains(':') => &host[..colon],
            _ => host,
        }
    };
    let mut name = without_port.to_ascii_lowercase();
    if name.ends_with('.') && !name.starts_with('[') {
        name.pop();
    }
    name
}

/// Validates `allow.token` and reads its secret.
fn token(cfg: &MaintenanceTokenConfig, log: &dyn Log) -> Result<Option<Token>, ConfigError> {
    const FIELD: &str = "maintenance.allow.token";
    let carrier = match (cfg.header.trim(), cfg.cookie.trim()) {
        ("", "") if cfg.secret_env.is_empty() => return Ok(None),
        ("", "") => {
            return Err(ConfigError::invalid(FIELD, "set one of `header` or `cookie` to carry the token"));
        }
        (h, c) if !h.is_empty() && !c.is_empty() => {
            return Err(ConfigError::invalid(FIELD, "`header` and `cookie` are exclusive; set one"));
        }
        (h, "") => {
            check_name(h, false).map_err(|r| ConfigError::invalid("maintenance.allow.token.header", r))?;
            Carrier::Header(h.to_string())
        }
        (_, c) => {
            check_name(c, false).map_err(|_| {
                ConfigError::invalid(
                    "maintenance.allow.token.cookie",
                    format!("`{c}` is not a valid cookie name"),
                )
            })?;
            Carrier::Cookie(c.to_string())
        }
    };
    let var = cfg.secret_env.trim();
    let env_field = "maintenance.allow.token.secretEnv";
    if var.is_empty() {
        return Err(ConfigError::invalid(
            env_field,
            "is required: the environment variable holding the secret",
        ));
    }
    let secret = Secret::from_env(env_field, var)?;
    if secret.bytes().len() < MIN_SECRET_BYTES {
        let msg = format!(
            "maintenance bypass secret in `{var}` is shorter than {MIN_SECRET_BYTES} bytes; use a long random value"
        );
        log.log(Level::Warn, &msg);
    }
    Ok(Some(Token { carrier, secret }))
}

impl Token {
    /// True when the request carries the secret.
    ///
    /// Each candidate is compared with `subtle::ConstantTimeEq`, whose time
    /// does not depend on where the bytes differ, so response timing cannot
    /// reveal the secret byte by byte. Only its length can leak, which does
    /// not help to guess a long random secret.
    fn matches(&self, req: &impl RequestView) -> bool {
        let secret = self.secret.bytes();
        let mut found = Choice::from(0);
        match &self.carrier {
            Carrier::Header(name) => {
                for value in req.header_values(name) {
                    found |= value.trim_ascii().ct_eq(secret);
                }
            }
            Carrier::Cookie(name) => {
                for line in req.header_values("Cookie") {
                    for value in cookie_values(&line, name.as_bytes()) {
                        found |= value.ct_eq(secret);
                    }
                }
            }
        }
        found.into()
    }
}

/// The values of cookie `name` in one `Cookie` line (`a=1; name=secret`, RFC 6265 §5.4).
fn cookie_values<'a>(line: &'a [u8], name: &'a [u8]) -> impl Iterator<Item = &'a [u8]> + 'a {
    line.split(|&b| b == b';').filter_map(move |pair| {
        let eq = pair.iter().position(|&b| b == b'=')?;
        let value = pair[eq + 1..].trim_ascii();
        let value = match value {
            [b'"', inner @ .., b'"'] => inner,
            v => v,
        };
        (pair[..eq].trim_ascii() == name).then_some(value)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::MaintenanceTokenConfig;
    use crate::log::MemoryLog;
    use crate::request::OwnedRequest;
    use crate::testutil::set_env;

    const SECRET: &str = "correct-horse-battery-staple-42";

    fn allow(cfg: MaintenanceAllowConfig) -> Result<Allow, ConfigError> {
        Allow::new(&cfg, &MemoryLog::default())
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn paths_are_matched_per_segment_and_refuse_ambiguity() {
        let rules = allow(MaintenanceAllowConfig {
            paths: vec!["/healthz".into(), "/hooks/".into(), "/ping".into()],
            ..Default::default()
        })
        .unwrap();
        let cases = [
            ("/healthz", true),
            ("/healthz/", true),
            ("/healthz/live", true),
            ("/healthz?verbose=1", true),
            ("/healthz#frag", true),
            ("/hooks", true),
            ("/hooks/github", true),
            ("/ping", true),
            ("/healthzX", false),
            ("/healthz.json", false),
            ("/HEALTHZ", false),
            ("/", false),
            ("/admin?next=/healthz", false),
            ("/api/healthz", false),
            ("http://example.com/healthz", false),
            ("*", false),
            ("", false),
            ("/healthz/../admin", false),
            ("/healthz/./live", false),
            ("/healthz/..", false),
            ("/healthz/..;/admin", false),
            ("/healthz/%2e%2e/admin", false),
            ("/healthz/%2E%2E/admin", false),
            ("/healthz%2f..%2fadmin", false),
            ("/healthz/%2F", false),
            ("/healthz/%5c..%5cadmin", false),
            ("/healthz\\..\\admin", false),
            ("/healthz/%252e%252e/admin", false),
            ("/healthz/...", true),
            ("/healthz/.well-known", true),
        ];
        for (uri, want) in cases {
            let req = OwnedRequest { uri: uri.into(), ..OwnedRequest::new("192.0.2.1:1") };
            let got = rules.check(&req, None);
            assert_eq!(got == Some(BypassKind::Path), want, "{uri:?}: {got:?}");
        }
    }

    #[test]
    fn hosts_ignore_case_port_and_trailing_dot() {
        let rules = allow(MaintenanceAllowConfig {
            hosts: vec![
                "Ops.Example.com".into(),
                "2001:db8::1".into(),
                "[2001:db8::2]:8443".into(),
                "admin.example.com:443".into(),
            ],
            ..Default::default()
        })
        .unwrap();
        let cases: &[(&[&str], bool)] = &[
            (&["ops.example.com"], true),
            (&["OPS.EXAMPLE.COM"], true),
            (&["ops.example.com:8443"], true),
            (&["ops.example.com."], true),
            (&["admin.example.com"], true),
            (&["[2001:db8::1]:443"], true),
            (&["[2001:db8::2]"], true),
            (&["www.example.com"], false),
            (&["ops.example.com.evil.test"], false),
            (&["evil.test:ops.example.com"], false),
            (&[], false),
            (&["ops.example.com", "ops.example.com"], false),
        ];
        for (host, want) in cases {
            let req = host.iter().fold(OwnedRequest::new("192.0.2.1:1"), |r, h| r.header("Host", h));
            assert_eq!(rules.check(&req, None) == Some(BypassKind::Host), *want, "{host:?}");
        }
    }

    #[test]
    fn cidrs_match_the_resolved_client_not_the_peer() {
        let rules = allow(MaintenanceAllowConfig {
            cidrs: vec!["198.51.100.0/24".into(), "2001:db8:1::/48".into(), "203.0.113.7".into()],
            ..Default::default()
        })
        .unwrap();
        // The peer is inside an allowed range in every case: it must not matter.
        let req = OwnedRequest::new("198.51.100.10:443");
        let cases = [
            ("client in range", ip("198.51.100.77"), true),
            ("single address", ip("203.0.113.7"), true),
            ("neighbour of single address", ip("203.0.113.8"), false),
            ("IPv4-mapped client", ip("::ffff:198.51.100.1"), true),
            ("IPv6 client", ip("2001:db8:1::9"), true),
            ("client outside, peer inside", ip("192.0.2.1"), false),
            ("no resolved client", None, false),
        ];
        for (desc, client, want) in cases {
            assert_eq!(rules.check(&req, client) == Some(BypassKind::Cidr), want, "{desc}");
        }
    }

    #[test]
    fn token_via_header_and_cookie() {
        set_env("EDGEGUARD_TEST_ALLOW_TOKEN", &format!(" {SECRET}\n"));
        let header = allow(MaintenanceAllowConfig {
            token: MaintenanceTokenConfig {
                header: "X-Maintenance-Token".into(),
                secret_env: "EDGEGUARD_TEST_ALLOW_TOKEN".into(),
                ..Default::default()
            },
            ..Default::default()
        })
        .unwrap();
        let cookie = allow(MaintenanceAllowConfig {
            token: MaintenanceTokenConfig {
                cookie: "mt".into(),
                secret_env: "EDGEGUARD_TEST_ALLOW_TOKEN".into(),
                ..Default::default()
            },
            ..Default::default()
        })
        .unwrap();
        assert_eq!(header.token_header(), Some("X-Maintenance-Token"));
        assert_eq!(cookie.token_header(), None);
        let wrong = "correct-horse-battery-staple-43";
        type Headers<'a> = &'a [(&'a str, &'a str)];
        let cases: &[(&str, &Allow, Headers, bool)] = &[
            ("right header", &header, &[("x-maintenance-token", SECRET)], true),
            ("right header, spaces", &header, &[("X-Maintenance-Token", &format!("  {SECRET} "))], true),
            (
                "second line right",
                &header,
                &[("X-Maintenance-Token", wrong), ("X-Maintenance-Token", SECRET)],
                true,
            ),
            ("wrong header", &header, &[("X-Maintenance-Token", wrong)], false),
            ("prefix of secret", &header, &[("X-Maintenance-Token", &SECRET[..10])], false),
            ("empty header", &header, &[("X-Maintenance-Token", "")], false),
            (
                "secret in a cookie instead",
                &header,
                &[("Cookie", &format!("X-Maintenance-Token={SECRET}"))],
                false,
            ),
            ("no token", &header, &[], false),
            ("cookie", &cookie, &[("Cookie", &format!("a=1; mt={SECRET}"))], true),
            ("cookie first", &cookie, &[("Cookie", &format!("mt={SECRET};b=2"))], true),
            ("quoted cookie", &cookie, &[("Cookie", &format!("mt=\"{SECRET}\""))], true),
            ("second Cookie line", &cookie, &[("Cookie", "a=1"), ("Cookie", &format!("mt={SECRET}"))], true),
            ("wrong cookie", &cookie, &[("Cookie", &format!("a=1; mt={wrong}"))], false),
            ("cookie name is case-sensitive", &cookie, &[("Cookie", &format!("MT={SECRET}"))], false),
            ("similar cookie name", &cookie, &[("Cookie", &format!("xmt={SECRET}"))], false),
            ("secret as cookie name", &cookie, &[("Cookie", &format!("{SECRET}=mt"))], false),
            ("secret in a header instead", &cookie, &[("mt", SECRET)], false),
            ("malformed cookie", &cookie, &[("Cookie", ";;=;mt")], false),
        ];
        for (desc, rules, headers, want) in cases {
            let req = headers.iter().fold(OwnedRequest::new("192.0.2.1:1"), |r, (n, v)| r.header(n, v));
            assert_eq!(rules.check(&req, None) == Some(BypassKind::Token), *want, "{desc}");
        }
    }

    #[test]
    fn order_is_path_host_cidr_token() {
        set_env("EDGEGUARD_TEST_ALLOW_ORDER", SECRET);
        let rules = allow(MaintenanceAllowConfig {
            paths: vec!["/healthz".into()],
            hosts: vec!["ops.example.com".into()],
            cidrs: vec!["192.0.2.0/24".into()],
            token: MaintenanceTokenConfig {
                header: "X-T".into(),
                secret_env: "EDGEGUARD_TEST_ALLOW_ORDER".into(),
                ..Default::default()
            },
        })
        .unwrap();
        let all = OwnedRequest { uri: "/healthz".into(), ..OwnedRequest::new("192.0.2.1:1") }
            .header("Host", "ops.example.com")
            .header("X-T", SECRET);
        let client = ip("192.0.2.9");
        assert_eq!(rules.check(&all, client), Some(BypassKind::Path));
        let no_path = OwnedRequest { uri: "/".into(), ..all.clone() };
        assert_eq!(rules.check(&no_path, client), Some(BypassKind::Host));
        let no_host = OwnedRequest { headers: vec![("X-T".into(), SECRET.into())], ..no_path.clone() };
        assert_eq!(rules.check(&no_host, client), Some(BypassKind::Cidr));
        assert_eq!(rules.check(&no_host, ip("203.0.113.1")), Some(BypassKind::Token));
        assert_eq!(rules.check(&OwnedRequest::new("192.0.2.1:1"), ip("203.0.113.1")), None);
    }

    #[test]
    fn config_errors_name_the_field() {
        set_env("EDGEGUARD_TEST_ALLOW_EMPTY", "  ");
        let list = |items: &[&str]| items.iter().map(|&i| i.into()).collect::<Vec<String>>();
        let paths = |p: &[&str]| MaintenanceAllowConfig { paths: list(p), ..Default::default() };
        let hosts = |h: &[&str]| MaintenanceAllowConfig { hosts: list(h), ..Default::default() };
        let cidrs = |c: &[&str]| MaintenanceAllowConfig { cidrs: list(c), ..Default::default() };
        let tok = |header: &str, cookie: &str, env: &str| MaintenanceAllowConfig {
            token: MaintenanceTokenConfig {
                header: header.into(),
                cookie: cookie.into(),
                secret_env: env.into(),
            },
            ..Default::default()
        };
        // (case, config, field under `maintenance.allow.`, part of the reason)
        let cases = [
            ("relative path", paths(&["/ok", "healthz"]), "paths[1]", "`healthz` must start with `/`"),
            ("root path", paths(&["/"]), "paths[0]", "would keep every path served"),
            ("path with query", paths(&["/a?b"]), "paths[0]", "without query"),
            ("dot segment", paths(&["/a/../b"]), "paths[0]", "dot segment"),
            ("wildcard host", hosts(&["*.example.com"]), "hosts[0]", "no wildcards"),
            ("empty host", hosts(&[" "]), "hosts[0]", "is not a host name"),
            (
                "bad cidr",
                cidrs(&["192.0.2.0/24", "192.0.2.0/33"]),
                "cidrs[1]",
                "`192.0.2.0/33` is not a CIDR",
            ),
            ("every address", cidrs(&["::/0"]), "cidrs[0]", "would let every client bypass"),
            ("header and cookie", tok("X-T", "t", "V"), "token", "`header` and `cookie` are exclusive"),
            ("neither header nor cookie", tok("", "", "V"), "token", "set one of `header` or `cookie`"),
            ("bad header name", tok("X T", "", "V"), "token.header", "`X T` is not a valid header name"),
            ("bad cookie name", tok("", "a=b", "V"), "token.cookie", "`a=b` is not a valid cookie name"),
            ("no secretEnv", tok("X-T", "", ""), "token.secretEnv", "is required"),
            (
                "missing variable",
                tok("X-T", "", "EDGEGUARD_TEST_ALLOW_MISSING"),
                "token.secretEnv",
                "environment variable `EDGEGUARD_TEST_ALLOW_MISSING` is not set or empty",
            ),
            (
                "blank variable",
                tok("", "c", "EDGEGUARD_TEST_ALLOW_EMPTY"),
                "token.secretEnv",
                "`EDGEGUARD_TEST_ALLOW_EMPTY` is not set or empty",
            ),
        ];
        for (desc, cfg, field, reason) in cases {
            let err = allow(cfg).unwrap_err();
            assert_eq!(err.path(), format!("maintenance.allow.{field}"), "{desc}");
            assert!(err.to_string().contains(reason), "{desc}: {err}");
        }
    }

    #[test]
    fn short_secret_is_logged_and_never_printed() {
        set_env("EDGEGUARD_TEST_ALLOW_SHORT", "hunter2");
        let log = MemoryLog::default();
        let cfg = MaintenanceAllowConfig {
            token: MaintenanceTokenConfig {
                header: "X-T".into(),
                secret_env: "EDGEGUARD_TEST_ALLOW_SHORT".into(),
                ..Default::default()
            },
            ..Default::default()
        };
        let rules = Allow::new(&cfg, &log).unwrap();
        let lines = log.lines();
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].0, Level::Warn);
        assert!(lines[0].1.contains("shorter than 16 bytes") && !lines[0].1.contains("hunter2"), "{lines:?}");
        let debug = format!("{rules:?}");
        assert!(!debug.contains("hunter2") && debug.contains("<redacted>"), "{debug}");
    }

    #[test]
    fn empty_rules_let_nothing_through() {
        let rules = allow(MaintenanceAllowConfig::default()).unwrap();
        let req = OwnedRequest::new("192.0.2.1:1").header("Host", "example.com");
        assert_eq!(rules.check(&req, ip("192.0.2.1")), None);
    }
}
