//! Maintenance mode through real Traefik (issue #5): flag file toggled while
//! Traefik runs, bypasses by resolved client, path, host and token.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::traefik::{Setup, Traefik};

const PROXY: &str = "127.0.0.2";
const STRANGER: &str = "127.0.0.3";
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

fn flag_config(interval: &str) -> Value {
    json!({"flagFile": "/flags/maintenance", "checkInterval": interval, "allow": {"paths": ["/healthz"]}})
}

/// Polls until `want` comes back; every response on the way must be 200 or 503.
fn wait_for_status(t: &Traefik, want: u16, within: Duration) -> Duration {
    let start = Instant::now();
    loop {
        let status = t.get("/", &[]).status;
        assert!(status == 200 || status == 503, "unexpected status {status} while toggling");
        if status == want {
            return start.elapsed();
        }
        assert!(start.elapsed() < within, "status {want} not seen within {within:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn flag_file_toggles_maintenance_within_check_interval() {
    let flags = tempfile::tempdir().unwrap();
    let flag = flags.path().join("maintenance");
    let t = start(flags.path(), flag_config("1s"));
    assert_eq!(t.get("/", &[]).status, 200, "no flag file: serving");

    std::fs::write(&flag, "on\n").unwrap();
    let on_after = wait_for_status(&t, 503, Duration::from_secs(2));
    // Every instance has re-read the flag once checkInterval passed.
    std::thread::sleep(Duration::from_millis(1100));
    for _ in 0..20 {
        assert_eq!(t.get("/", &[]).status, 503);
    }
    assert_eq!(t.get("/healthz", &[]).status, 200, "health checks stay served");
    assert_eq!(t.get("/healthz/live", &[]).status, 200);

    std::fs::write(&flag, "off").unwrap();
    let off_after = wait_for_status(&t, 200, Duration::from_secs(2));
    std::fs::write(&flag, "on").unwrap();
    wait_for_status(&t, 503, Duration::from_secs(2));
    std::fs::remove_file(&flag).unwrap();
    wait_for_status(&t, 200, Duration::from_secs(2));
    println!("maintenance on after {on_after:?}, off after {off_after:?} (checkInterval 1s)");
}

#[test]
fn response_is_a_proper_503_negotiated_on_accept() {
    let flags = tempfile::tempdir().unwrap();
    let t = start(flags.path(), json!({"enabled": true, "retryAfter": "120"}));
    let html = t.get("/", &[("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")]);
    assert_eq!(html.status, 503, "{html:?}");
    assert_eq!(html.headers.get("retry-after").map(String::as_str), Some("120"));
    assert_eq!(html.headers.get("cache-control").map(String::as_str), Some("no-store"));
    assert!(html.headers["content-type"].starts_with("text/html"), "{html:?}");
    assert!(html.body.contains("<html") && html.body.contains("lang=\"en\""), "{}", html.body);

    let json_reply = t.get("/", &[("Accept", "application/json, text/html;q=0.5")]);
    assert_eq!(json_reply.headers["content-type"], "application/json", "{json_reply:?}");
    let body: Value = serde_json::from_str(&json_reply.body).unwrap();
    assert_eq!(body["status"], 503);
    assert_eq!(body["error"], "maintenance");
    assert_eq!(body["retryAfter"], 120);

    let text = t.get("/", &[("Accept", "text/plain")]);
    assert!(text.headers["content-type"].starts_with("text/plain"), "{text:?}");

    let head = t.request("HEAD", "127.0.0.1", "/", &[]);
    assert_eq!(head.status, 503);
    assert!(head.body.is_empty());
}

#[test]
fn custom_page_file_with_placeholders() {
    let flags = tempfile::tempdir().unwrap();
    std::fs::write(flags.path().join("page.html"), "<p>Back in {{retryAfter}} seconds</p>").unwrap();
    let t = start(flags.path(), json!({"enabled": true, "retryAfter": "90", "page": "/flags/page.html"}));
    let reply = t.get("/", &[("Accept", "text/html")]);
    assert_eq!(reply.status, 503);
    assert_eq!(reply.body, "<p>Back in 90 seconds</p>");
}

#[test]
fn bypass_by_resolved_client_ip_not_by_claimed_ip() {
    let flags = tempfile::tempdir().unwrap();
    let t = start(
        flags.path(),
        json!({"enabled": true, "allow": {"cidrs": ["203.0.113.0/24"]}, "debugHeaders": true}),
    );
    let operator = t.get_from(PROXY, "/", &[("X-Forwarded-For", "203.0.113.10")]);
    assert_eq!(operator.status, 200, "operator behind the trusted proxy is let through: {operator:?}");
    assert_eq!(operator.headers.get("x-maintenance-bypass").map(String::as_str), Some("cidr"));
    let spoofer =
        t.get_from(STRANGER, "/", &[("X-Forwarded-For", "203.0.113.10"), ("X-Real-IP", "203.0.113.10")]);
    assert_eq!(spoofer.status, 503, "an untrusted peer claiming the address is not: {spoofer:?}");
}

#[test]
fn bypass_by_host_and_by_token_from_settings_envs() {
    let flags = tempfile::tempdir().unwrap();
    let maintenance = json!({
        "enabled": true,
        "allow": {"hosts": ["ops.example.com"], "token": {"header": "X-Maintenance-Token", "secretEnv": "EDGEGUARD_TEST_BYPASS"}},
    });
    let t = start(flags.path(), maintenance);
    assert_eq!(t.get("/", &[("Host", "ops.example.com:8443")]).status, 200);
    assert_eq!(t.get("/", &[("Host", "www.example.com")]).status, 503);
    let with_token = t.get("/", &[("X-Maintenance-Token", SECRET)]);
    assert_eq!(with_token.status, 200, "{with_token:?}");
    assert_eq!(with_token.upstream_one("x-maintenance-token"), None, "the secret must not reach the backend");
    assert_eq!(t.get("/", &[("X-Maintenance-Token", "guess")]).status, 503);
}

#[test]
fn missing_bypass_secret_is_a_config_error_in_traefiks_log() {
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
