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
    // Issue #16: a suggestion, and no position in the JSON line Traefik made.
    assert!(log.contains("did you mean `trustedProxies`?"), "{log}");
    assert!(!log.contains("line 1 column"), "{log}");
}

// Issue #16: a config that loads but trusts more than written is served, and
// Traefik's log says which network is actually trusted.
#[test]
fn host_bits_warning_in_traefiks_log() {
    if own_traefik_unavailable() {
        return;
    }
    let t = Setup::new()
        .router("wide", "/", Some(json!({"clientIp": {"trustedProxies": ["10.0.1.0/16"]}})))
        .start();
    assert_eq!(t.get("/", &[]).status, 200);
    let log = t.log();
    assert!(
        log.contains("`clientIp.trustedProxies[0]`: `10.0.1.0/16` has host bits set; the network actually used is 10.0.0.0/16"),
        "{log}"
    );
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
