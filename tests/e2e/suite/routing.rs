//! The plugin loads in Traefik and edits requests on its routers only (issue #2).

use crate::support::target::{Capability::UntrustedPeer, Peer, run};

#[test]
fn plugin_sets_client_ip_header_on_routed_request() {
    run(&[UntrustedPeer], |t| {
        let reply = t.get(Peer::Untrusted, "/hello", &[("X-Real-IP", "203.0.113.66")]);
        assert_eq!(reply.status, 200, "{reply:?}\n{}", t.diagnostics());
        assert_eq!(reply.upstream_one("x-real-ip"), t.peer_ip(Peer::Untrusted), "{reply:?}");
    });
}

#[test]
fn router_without_middleware_is_untouched() {
    run(&[UntrustedPeer], |t| {
        // X-Client-IP is a spoofable identity header EdgeGuard strips from
        // untrusted peers and Traefik itself leaves alone, and client-sent
        // geo headers never pass EdgeGuard: both tell the routers apart.
        let spoof = [("X-Client-IP", "203.0.113.66"), ("X-Geo-Country", "US")];
        let plain = t.get(Peer::Untrusted, "/plain", &spoof);
        assert_eq!(plain.status, 200, "{plain:?}");
        assert_eq!(plain.upstream_one("x-client-ip").as_deref(), Some("203.0.113.66"), "{plain:?}");
        assert_eq!(plain.upstream_one("x-geo-country").as_deref(), Some("US"), "{plain:?}");
        let guarded = t.get(Peer::Untrusted, "/", &spoof);
        assert_eq!(guarded.status, 200, "{guarded:?}");
        assert_eq!(guarded.upstream_one("x-client-ip"), None, "{guarded:?}");
        assert_eq!(guarded.upstream_one("x-geo-country"), None, "{guarded:?}");
    });
}
