//! Client-IP resolution with per-test Traefik configs (issue #3): trace header,
//! `Forwarded`, entrypoint pairing. Clients bind to different 127.0.0.x source
//! addresses to play trusted and untrusted proxies. Shared cases: suite/client_ip.rs.

use serde_json::{Value, json};

use crate::support::target::own_traefik_unavailable;
use crate::support::traefik::{Setup, Traefik};

const PROXY: &str = "127.0.0.2";

fn paired(client_ip: Value, entrypoint_trusted: &[&str]) -> Traefik {
    Setup::new()
        .entrypoint_trusted_ips(entrypoint_trusted)
        .router("guarded", "/", Some(json!({ "clientIp": client_ip })))
        .start()
}

#[test]
fn trace_header_names_the_trusted_peer_and_the_stop_reason() {
    if own_traefik_unavailable() {
        return;
    }
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
fn forwarded_header_from_trusted_proxy_is_used() {
    if own_traefik_unavailable() {
        return;
    }
    // Read only when configured (issue #13: the default source is X-Forwarded-For).
    let t = paired(
        json!({"trustedProxies": ["127.0.0.2/32"], "sources": ["Forwarded"], "forwarded": true}),
        &["127.0.0.2/32"],
    );
    let reply = t.get_from(PROXY, "/", &[("Forwarded", "for=\"[2001:db8::7]:4711\";proto=https")]);
    assert_eq!(reply.upstream_one("x-real-ip").as_deref(), Some("2001:db8::7"), "{reply:?}");
    assert_eq!(reply.upstream_one("forwarded").as_deref(), Some("for=\"[2001:db8::7]\""), "{reply:?}");
}

/// The documented pairing: Traefik's entrypoint `forwardedHeaders.trustedIPs`
/// must list the same proxies as `clientIp.trustedProxies`.
#[test]
fn entrypoint_trust_must_match_trusted_proxies() {
    if own_traefik_unavailable() {
        return;
    }
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
