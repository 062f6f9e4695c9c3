//! A broken EdgeGuard config in Traefik (issue #2): fail closed, name the field.
//! Shared cases: suite/routing.rs.

use serde_json::json;

use crate::support::target::own_traefik_unavailable;
use crate::support::traefik::Setup;

#[test]
fn invalid_config_fails_closed_and_logs_the_field() {
    if own_traefik_unavailable() {
        return;
    }
    let t = Setup::new()
        .router("broken", "/", Some(json!({"clientIp": {"trustedProxys": ["10.0.0.0/8"]}})))
        .start();
    let reply = t.get("/", &[]);
    assert_eq!(reply.status, 500, "{reply:?}");
    assert!(!reply.body.contains("trustedProxys"), "config details leaked to the client: {}", reply.body);
    let log = t.log();
    assert!(log.contains("clientIp.trustedProxys"), "Traefik's log does not name the field:\n{log}");
}

#[test]
fn invalid_value_is_reported_with_its_index() {
    if own_traefik_unavailable() {
        return;
    }
    let t = Setup::new()
        .router("broken", "/", Some(json!({"clientIp": {"trustedProxies": ["loopback", "10.0.0.0/40"]}})))
        .start();
    assert_eq!(t.get("/", &[]).status, 500);
    let log = t.log();
    assert!(log.contains("clientIp.trustedProxies[1]"), "{log}");
}
