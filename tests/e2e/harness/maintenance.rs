//! Maintenance mode with per-test Traefik configs (issue #5): custom page,
//! host bypass and its debug header, a bypass secret the plugin does not get.
//! The switches, the 503 itself, client and token bypasses: suite/maintenance.rs.

use std::path::Path;

use serde_json::{Value, json};

use crate::support::target::own_traefik_unavailable;
use crate::support::traefik::{Setup, Traefik};

const PROXY: &str = "127.0.0.2";
const SECRET: &str = "correct-horse-battery-staple";

/// Traefik with the flag directory mounted at `/flags` and `maintenance` as given.
fn start(flags: &Path, maintenance: Value) -> Traefik {
    Setup::new()
        .entrypoint_trusted_ips(&["127.0.0.2/32"])
        .plugin_settings(
            json!({"mounts": [format!("{}:/flags", flags.display())], "envs": ["EDGEGUARD_TEST_BYPASS"]}),
        )
        .traefik_env("EDGEGUARD_TEST_BYPASS", SECRET)
        .router(
            "guarded",
            "/",
            Some(json!({"clientIp": {"trustedProxies": ["127.0.0.2/32"]}, "maintenance": maintenance})),
        )
        .start()
}

#[test]
fn custom_page_file_with_placeholders() {
    if own_traefik_unavailable() {
        return;
    }
    let flags = tempfile::tempdir().unwrap();
    std::fs::write(flags.path().join("page.html"), "<p>Back in {{retryAfter}} seconds</p>").unwrap();
    let t = start(flags.path(), json!({"enabled": true, "retryAfter": "90", "page": "/flags/page.html"}));
    let reply = t.get("/", &[("Accept", "text/html")]);
    assert_eq!(reply.status, 503);
    assert_eq!(reply.body, "<p>Back in 90 seconds</p>");
}

#[test]
fn bypass_by_host_and_debug_header_naming_the_reason() {
    if own_traefik_unavailable() {
        return;
    }
    let flags = tempfile::tempdir().unwrap();
    let t = start(
        flags.path(),
        json!({"enabled": true, "allow": {"cidrs": ["203.0.113.0/24"], "hosts": ["ops.example.com"]}, "debugHeaders": true}),
    );
    let operator = t.get_from(PROXY, "/", &[("X-Forwarded-For", "203.0.113.10")]);
    assert_eq!(operator.status, 200, "{operator:?}");
    assert_eq!(operator.headers.get("x-maintenance-bypass").map(String::as_str), Some("cidr"));
    let ops = t.get("/", &[("Host", "ops.example.com:8443")]);
    assert_eq!(ops.status, 200, "{ops:?}");
    assert_eq!(ops.headers.get("x-maintenance-bypass").map(String::as_str), Some("host"));
    assert_eq!(t.get("/", &[("Host", "www.example.com")]).status, 503);
}

#[test]
fn missing_bypass_secret_is_a_config_error_in_traefiks_log() {
    if own_traefik_unavailable() {
        return;
    }
    let flags = tempfile::tempdir().unwrap();
    let maintenance =
        json!({"enabled": true, "allow": {"token": {"header": "X-T", "secretEnv": "EDGEGUARD_NOT_PASSED"}}});
    let t = start(flags.path(), maintenance);
    assert_eq!(t.get("/", &[]).status, 500);
    let log = t.log();
    assert!(
        log.contains("maintenance.allow.token.secretEnv") && log.contains("EDGEGUARD_NOT_PASSED"),
        "{log}"
    );
    assert!(!log.contains(SECRET));
}

/// Waits (bounded) for Traefik to have written `needle` to its log: the line is
/// written during the request, the file may lag behind it.
fn log_shows(t: &Traefik, needle: &str) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::time::Instant::now() < deadline {
        if t.log().contains(needle) {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    false
}

// Issue #16: the instance that sees a flag flip says so in Traefik's log, once,
// at the first request after its checkInterval.
#[test]
fn flag_flip_is_logged_within_check_interval() {
    if own_traefik_unavailable() {
        return;
    }
    let flags = tempfile::tempdir().unwrap();
    let interval = std::time::Duration::from_secs(1);
    let t = start(flags.path(), json!({"flagFile": "/flags/flag", "checkInterval": "1s"}));
    assert_eq!(t.get("/", &[]).status, 200);
    assert!(!t.log().contains("edgeguard: maintenance "), "{}", t.log());
    let flag = flags.path().join("flag");
    for (content, status, line) in [
        ("on", 503, "edgeguard: maintenance on (flag file /flags/flag)"),
        ("off", 200, "edgeguard: maintenance off"),
    ] {
        std::fs::write(&flag, content).unwrap();
        // After one checkInterval every instance re-reads the flag on its next request.
        std::thread::sleep(interval);
        assert_eq!(t.get("/", &[]).status, status, "flag {content}:\n{}", t.log());
        // Every instance that saw "off" logs "on" at its next request. "off" is
        // logged by an instance that saw "on"; Traefik may hand a request to
        // another (pooled) instance, so a few more requests may be needed.
        let mut logged = log_shows(&t, line);
        for _ in 0..20 {
            if logged {
                break;
            }
            assert_eq!(t.get("/", &[]).status, status);
            logged = t.log().contains(line);
        }
        assert!(logged, "no `{line}` after requests one checkInterval after the flip:\n{}", t.log());
    }
}
