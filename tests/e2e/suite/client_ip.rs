//! Client-IP resolution (issue #3): a chain counts only from a trusted proxy.

use crate::support::target::{Capability::UntrustedPeer, Peer, run};

#[test]
fn spoofed_chain_from_untrusted_peer_never_becomes_the_client() {
    run(&[UntrustedPeer], |t| {
        let reply = t.get(
            Peer::Untrusted,
            "/",
            &[
                ("X-Forwarded-For", "203.0.113.66"),
                ("X-Real-IP", "203.0.113.66"),
                ("Forwarded", "for=203.0.113.66"),
                ("True-Client-IP", "203.0.113.66"),
            ],
        );
        assert_eq!(reply.status, 200, "{reply:?}");
        assert_eq!(reply.upstream_one("x-real-ip"), t.peer_ip(Peer::Untrusted), "{reply:?}");
        assert!(
            !reply.body.contains("203.0.113.66"),
            "a spoofed address reached the backend: {}",
            reply.body
        );
    });
}

#[test]
fn chain_from_trusted_proxy_resolves_to_rightmost_untrusted_hop() {
    run(&[], |t| {
        let reply = t.get(Peer::TrustedProxy, "/", &[("X-Forwarded-For", "198.51.100.7, 203.0.113.10")]);
        assert_eq!(reply.upstream_one("x-real-ip").as_deref(), Some("203.0.113.10"), "{reply:?}");
        assert_eq!(
            reply.upstream_one("x-original-forwarded-for").as_deref(),
            Some("198.51.100.7, 203.0.113.10"),
            "{reply:?}"
        );
    });
}

#[test]
fn spring_style_client_alb_traefik_chain_survives() {
    run(&[], |t| {
        // Client → ALB (a second trusted hop) → the trusted proxy → Traefik.
        let hop = t.trusted_hop();
        let chain = format!("203.0.113.7:51234, {hop}");
        let reply = t.get(Peer::TrustedProxy, "/", &[("X-Forwarded-For", &chain)]);
        assert_eq!(reply.upstream_one("x-real-ip").as_deref(), Some("203.0.113.7"), "{reply:?}");
        assert_eq!(
            reply.upstream_one("x-original-forwarded-for").as_deref(),
            Some(chain.as_str()),
            "the chain as received must be preserved: {reply:?}"
        );
        // Normalized by EdgeGuard, then Traefik's proxy appends the peer.
        let forwarded = reply.upstream_one("x-forwarded-for").unwrap_or_default();
        let hops: Vec<&str> = forwarded.split(", ").collect();
        assert_eq!(hops.len(), 3, "{reply:?}");
        assert_eq!(hops[..2], ["203.0.113.7", hop], "{reply:?}");
        if let Some(peer) = t.peer_ip(Peer::TrustedProxy) {
            assert_eq!(hops[2], peer, "{reply:?}");
        }
    });
}

#[test]
fn multiple_xff_lines_are_one_chain() {
    run(&[], |t| {
        let lines = [("X-Forwarded-For", "198.51.100.1"), ("X-Forwarded-For", "203.0.113.7")];
        let reply = t.get(Peer::TrustedProxy, "/", &lines);
        assert_eq!(reply.upstream_one("x-real-ip").as_deref(), Some("203.0.113.7"), "{reply:?}");
    });
}
