//! The plugin loads in Traefik and edits requests; issue #2.

use serde_json::json;

use crate::support::traefik::Setup;

#[test]
fn plugin_sets_client_ip_header_on_routed_request() {
    let t = Setup::new().router("guarded", "/", Some(json!({"clientIp": {}}))).start();
    let reply = t.get("/hello", &[("X-Real-IP", "203.0.113.66")]);
    assert_eq!(reply.status, 200, "{reply:?}\n{}", t.log());
    assert_eq!(reply.upstream_one("x-real-ip").as_deref(), Some("127.0.0.1"), "{reply:?}");
}

#[test]
fn router_without_middleware_is_untouched() {
    let t = Setup::new()
        .router("guarded", "/", Some(json!({"clientIp": {"traceHeader": "X-EdgeGuard-Trace"}})))
        .router("plain", "/plain", None)
        .start();
    // X-Client-IP is a spoofable identity header EdgeGuard strips from
    // untrusted peers and Traefik itself leaves alone: it tells the routers apart.
    let spoof = [("X-Client-IP", "203.0.113.66")];
    let plain = t.get("/plain", &spoof);
    assert_eq!(plain.status, 200, "{plain:?}");
    assert_eq!(plain.upstream_one("x-client-ip").as_deref(), Some("203.0.113.66"), "{plain:?}");
    assert_eq!(plain.upstream_one("x-edgeguard-trace"), None, "{plain:?}");
    let guarded = t.get("/", &spoof);
    assert_eq!(guarded.upstream_one("x-client-ip"), None, "{guarded:?}");
    assert!(guarded.upstream_one("x-edgeguard-trace").is_some(), "{guarded:?}");
}

#[test]
fn invalid_config_fails_closed_and_logs_the_field() {
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
    let t = Setup::new()
        .router("broken", "/", Some(json!({"clientIp": {"trustedProxies": ["loopback", "10.0.0.0/40"]}})))
        .start();
    assert_eq!(t.get("/", &[]).status, 500);
    let log = t.log();
    assert!(log.contains("clientIp.trustedProxies[1]"), "{log}");
}
