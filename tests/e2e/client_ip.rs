//! Client-IP resolution through real Traefik (issue #3). Clients bind to
//! different 127.0.0.x source addresses to play trusted and untrusted proxies.

use serde_json::{Value, json};

use crate::support::traefik::{Setup, Traefik};

const PROXY: &str = "127.0.0.2";
const STRANGER: &str = "127.0.0.3";

fn paired(client_ip: Value, entrypoint_trusted: &[&str]) -> Traefik {
    Setup::new()
        .entrypoint_trusted_ips(entrypoint_trusted)
        .router("guarded", "/", Some(json!({ "clientIp": client_ip })))
        .start()
}

#[test]
fn spoofed_chain_from_untrusted_peer_never_becomes_the_client() {
    let t = paired(json!({"trustedProxies": ["127.0.0.2/32"]}), &["127.0.0.2/32"]);
    let reply = t.get_from(
        STRANGER,
        "/",
        &[
            ("X-Forwarded-For", "203.0.113.66"),
            ("X-Real-IP", "203.0.113.66"),
            ("Forwarded", "for=203.0.113.66"),
            ("True-Client-IP", "203.0.113.66"),
        ],
    );
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.upstream_one("x-real-ip").as_deref(), Some(STRANGER), "{reply:?}");
    assert!(!reply.body.contains("203.0.113.66"), "a spoofed address reached the backend: {}", reply.body);
}

#[test]
fn chain_from_trusted_proxy_resolves_to_rightmost_untrusted_hop() {
    let t = paired(
        json!({"trustedProxies": ["127.0.0.2/32"], "traceHeader": "X-EdgeGuard-Trace"}),
        &["127.0.0.2/32"],
    );
    let reply = t.get_from(PROXY, "/", &[("X-Forwarded-For", "198.51.100.7, 203.0.113.10")]);
    assert_eq!(reply.upstream_one("x-real-ip").as_deref(), Some("203.0.113.10"), "{reply:?}");
    let trace = reply.upstream_one("x-edgeguard-trace").unwrap_or_default();
    assert!(trace.contains("peer=127.0.0.2 trusted") && trace.contains("stop=untrusted-hop"), "{trace}");
}

#[test]
fn spring_style_client_alb_traefik_chain_survives() {
    // Client → ALB (10.0.0.5, in the VPC) → a proxy at 127.0.0.2 → Traefik.
    let t =
        paired(json!({"trustedProxies": ["127.0.0.2/32", "10.0.0.0/16"]}), &["127.0.0.2/32", "10.0.0.0/16"]);
    let reply = t.get_from(PROXY, "/", &[("X-Forwarded-For", "203.0.113.7:51234, 10.0.0.5")]);
    assert_eq!(reply.upstream_one("x-real-ip").as_deref(), Some("203.0.113.7"), "{reply:?}");
    assert_eq!(
        reply.upstream_one("x-original-forwarded-for").as_deref(),
        Some("203.0.113.7:51234, 10.0.0.5"),
        "the chain as received must be preserved: {reply:?}"
    );
    // Normalized by EdgeGuard, then Traefik's proxy appends the peer.
    assert_eq!(
        reply.upstream_one("x-forwarded-for").as_deref(),
        Some("203.0.113.7, 10.0.0.5, 127.0.0.2"),
        "{reply:?}"
    );
}

#[test]
fn forwarded_header_from_trusted_proxy_is_used() {
    let t = paired(json!({"trustedProxies": ["127.0.0.2/32"], "forwarded": true}), &["127.0.0.2/32"]);
    let reply = t.get_from(PROXY, "/", &[("Forwarded", "for=\"[2001:db8::7]:4711\";proto=https")]);
    assert_eq!(reply.upstream_one("x-real-ip").as_deref(), Some("2001:db8::7"), "{reply:?}");
    assert_eq!(reply.upstream_one("forwarded").as_deref(), Some("for=\"[2001:db8::7]\""), "{reply:?}");
}

#[test]
fn multiple_xff_lines_are_one_chain() {
    let t = paired(json!({"trustedProxies": ["127.0.0.2/32"]}), &["127.0.0.2/32"]);
    let reply =
        t.get_from(PROXY, "/", &[("X-Forwarded-For", "198.51.100.1"), ("X-Forwarded-For", "203.0.113.7")]);
    assert_eq!(reply.upstream_one("x-real-ip").as_deref(), Some("203.0.113.7"), "{reply:?}");
}

/// The documented pairing: Traefik's entrypoint `forwardedHeaders.trustedIPs`
/// must list the same proxies as `clientIp.trustedProxies`.
#[test]
fn entrypoint_trust_must_match_trusted_proxies() {
    let headers = [("X-Forwarded-For", "203.0.113.10")];
    // Paired: the chain survives the entrypoint and EdgeGuard resolves it.
    let ok = paired(json!({"trustedProxies": ["127.0.0.2/32"]}), &["127.0.0.2/32"]);
    assert_eq!(ok.get_from(PROXY, "/", &headers).upstream_one("x-real-ip").as_deref(), Some("203.0.113.10"));
    drop(ok);
    // Entrypoint not told: Traefik deletes the chain before any middleware,
    // so the best EdgeGuard can do is the proxy itself (safe, but not the client).
    let unpaired = paired(json!({"trustedProxies": ["127.0.0.2/32"]}), &[]);
    let reply = unpaired.get_from(PROXY, "/", &headers);
    assert_eq!(reply.upstream_one("x-real-ip").as_deref(), Some(PROXY), "{reply:?}");
    assert_eq!(reply.upstream_one("x-original-forwarded-for"), None, "{reply:?}");
    drop(unpaired);
    // Entrypoint trusts more than EdgeGuard: EdgeGuard still refuses the chain.
    let wider = paired(json!({"trustedProxies": []}), &["127.0.0.0/8"]);
    let reply = wider.get_from(PROXY, "/", &headers);
    assert_eq!(reply.upstream_one("x-real-ip").as_deref(), Some(PROXY), "{reply:?}");
}
