//! Client identity hardening (issue #13,
//! `issues show 13`): a client must never
//! choose its IP, geo or bypass, whatever it sends. Each test is one
//! reproduction of the issue against the shared Middleware. The cases that need
//! their own config (trust-all, the bypass cookie, signing, an unknown client
//! with geo data) are in harness/hardening.rs, with Traefik's entrypoint
//! `forwardedHeaders.insecure: true` so EdgeGuard's own stripping is tested.

use crate::support::client::Reply;
use crate::support::geo_expected::SE_CLIENT;
use crate::support::managed::{ISSUE_ALIASES, MANAGED, aliases_among};
use crate::support::target::{Capability::UntrustedPeer, Peer, Target, run};

/// The documented test client with geo data (SE, AS64496).
const CLIENT: &str = "203.0.113.10";
/// What a client would like to be.
const CLAIM: &str = "6.6.6.6";

fn no_claim_anywhere(reply: &Reply, what: &str) {
    assert!(!reply.body.contains(CLAIM), "{what}: the claimed {CLAIM} reached the backend: {}", reply.body);
}

fn se_geo(reply: &Reply, what: &str) {
    for &(name, want) in SE_CLIENT {
        assert_eq!(reply.upstream_one(name).as_deref(), Some(want), "{what}: {name}: {reply:?}");
    }
}

/// The client as `t` sees a trusted proxy without a chain, or any address when
/// the target does not know the proxy's address.
fn is_proxy_or_unknown_address(t: &dyn Target, real_ip: Option<&str>) -> bool {
    t.peer_ip(Peer::TrustedProxy).is_none_or(|peer| real_ip == Some(peer.as_str()))
}

// Issue #13 (1): ALB, nginx and Traefik append to X-Forwarded-For and pass a
// client's `Forwarded` through; with the default sources it must decide nothing.
#[test]
fn issue13_forwarded_from_client_behind_proxy_never_decides() {
    run(&[], |t| {
        for forwarded in
            [format!("for={CLAIM}"), "for=unknown".into(), "proto=https".into(), "for=\"\"".into()]
        {
            let what = format!("Forwarded: {forwarded}");
            let reply =
                t.get(Peer::TrustedProxy, "/", &[("X-Forwarded-For", CLIENT), ("Forwarded", &forwarded)]);
            assert_eq!(reply.status, 200, "{what}: {reply:?}");
            assert_eq!(reply.upstream_one("x-real-ip").as_deref(), Some(CLIENT), "{what}: {reply:?}");
            se_geo(&reply, &what);
            assert_eq!(
                reply.upstream_one("forwarded"),
                None,
                "{what}: the client's Forwarded passed: {reply:?}"
            );
            no_claim_anywhere(&reply, &what);
        }
    });
}

// Issue #13 (2): an overlong chain is refused, not parsed from the wrong end
// (it made the client the proxy, and the proxy is in `allow.cidrs` presets).
#[test]
fn issue13_overlong_chain_is_refused_with_431() {
    run(&[], |t| {
        let mut chain = String::new();
        while chain.len() < 9000 {
            chain.push_str("198.51.100.1, ");
        }
        chain.push_str("203.0.113.9");
        let reply = t.get(Peer::TrustedProxy, "/", &[("X-Forwarded-For", &chain)]);
        assert_eq!(reply.status, 431, "a {}-byte chain: {} {:.300}", chain.len(), reply.status, reply.body);
        assert!(!reply.body.contains("\"headers\""), "the request reached the backend: {:.300}", reply.body);
        // Refusing without reading leaves the instance serving.
        for _ in 0..4 {
            let next = t.get(Peer::TrustedProxy, "/", &[("X-Forwarded-For", CLIENT)]);
            assert_eq!(next.upstream_one("x-real-ip").as_deref(), Some(CLIENT), "after a 431: {next:?}");
        }
    });
}

// Issue #13 (2): a long chain of valid hops under `maxHeaderBytes` is walked
// from the right as usual: 900 hops, the real client last. (On 1a7119d any
// chain over ~2 KiB, e.g. 260 hops, crashed the wasm instance: "out of bounds
// memory access", then "unreachable" for every later request it served.)
#[test]
fn issue13_900_hop_chain_under_the_limit_resolves_the_real_client() {
    run(&[], |t| {
        for hops in [260, 900] {
            let chain = format!("{}{CLIENT}", "1.1.1.1,".repeat(hops));
            assert!(chain.len() < 8192, "{} bytes: must stay under the default maxHeaderBytes", chain.len());
            let reply = t.get(Peer::TrustedProxy, "/", &[("X-Forwarded-For", &chain)]);
            assert_eq!(reply.status, 200, "{hops} hops ({} bytes): {reply:?}", chain.len());
            assert_eq!(
                reply.upstream_one("x-real-ip").as_deref(),
                Some(CLIENT),
                "{hops}: {:.400}",
                reply.body
            );
            assert_eq!(
                reply.upstream_one("x-geo-country").as_deref(),
                Some("SE"),
                "{hops}: {:.400}",
                reply.body
            );
        }
        let after = t.get(Peer::TrustedProxy, "/", &[("X-Forwarded-For", CLIENT)]);
        assert_eq!(after.status, 200, "the instance still serves: {after:?}");
    });
}

// Issue #13 (3): every alias spelling of a managed name is removed, from any
// peer (only all-underscore spellings from untrusted peers were).
#[test]
fn issue13_alias_spellings_never_reach_the_backend() {
    run(&[], |t| {
        let token = t.maintenance_token();
        let mut headers: Vec<(&str, &str)> = ISSUE_ALIASES.iter().map(|n| (*n, CLAIM)).collect();
        headers.push(("X-Forwarded-For", CLIENT));
        // The bypass secret is a managed name too (`maintenance.allow.token.header`).
        headers.push(("X_Maintenance.Token", &token));
        let mut managed = MANAGED.to_vec();
        managed.push(super::TOKEN_HEADER);
        let peers: &[Peer] = if t.lacks(UntrustedPeer).is_none() {
            &[Peer::TrustedProxy, Peer::Untrusted]
        } else {
            &[Peer::TrustedProxy]
        };
        for &peer in peers {
            let reply = t.get(peer, "/", &headers);
            assert_eq!(reply.status, 200, "{peer:?}: {reply:?}");
            let names = reply.upstream_names();
            let aliases = aliases_among(names.iter().map(String::as_str), &managed);
            assert!(aliases.is_empty(), "{peer:?}: aliases reached the backend: {aliases:?}\n{}", reply.body);
            no_claim_anywhere(&reply, &format!("{peer:?}"));
            assert!(!reply.body.contains(&token), "{peer:?}: the bypass secret reached the backend");
        }
    });
}

// Issue #13 (4): from an untrusted peer nothing the client sent is handed on as
// a chain: no X-Original-Forwarded-For, and its X-Forwarded-For is dropped
// (the proxy appends the peer afterwards).
#[test]
fn issue13_untrusted_peer_chain_is_not_handed_on() {
    run(&[UntrustedPeer], |t| {
        for xff in [CLAIM, "<script>alert(1)</script>"] {
            let headers = [("X-Forwarded-For", xff), ("X-Original-Forwarded-For", "<script>")];
            let reply = t.get(Peer::Untrusted, "/", &headers);
            assert_eq!(reply.status, 200, "{reply:?}");
            assert_eq!(reply.upstream_one("x-original-forwarded-for"), None, "{xff}: {reply:?}");
            let forwarded = reply.upstream_header("x-forwarded-for").join(", ");
            assert!(!forwarded.contains(xff), "{xff}: the client's chain was handed on: {forwarded}");
            if let Some(peer) = t.peer_ip(Peer::Untrusted) {
                assert_eq!(reply.upstream_one("x-real-ip"), Some(peer.clone()), "{reply:?}");
                assert_eq!(forwarded, peer, "only the peer, appended by the proxy: {reply:?}");
            }
            assert!(!reply.body.contains("<script>"), "{xff}: {}", reply.body);
            no_claim_anywhere(&reply, xff);
        }
    });
}

// Issue #13 (5): `X-Geo-DB` is EdgeGuard's even when `dbInfoHeader` is off.
#[test]
fn issue13_client_sent_geo_db_header_is_removed_with_db_info_off() {
    run(&[], |t| {
        let trusted = t.get(Peer::TrustedProxy, "/", &[("X-Forwarded-For", CLIENT), ("X-Geo-DB", "fake")]);
        assert_eq!(trusted.upstream_one("x-geo-db"), None, "{trusted:?}");
        if t.lacks(UntrustedPeer).is_none() {
            let direct = t.get(Peer::Untrusted, "/", &[("X-Geo-DB", "fake")]);
            assert_eq!(direct.upstream_one("x-geo-db"), None, "{direct:?}");
        }
    });
}

// Issue #13 (5): IPv4 with a zone, quoted X-Forwarded-For tokens and port 0 are
// invalid hops (nginx, Envoy and Go refuse them): the client is unknown, never
// the spelled address, and gets no geo.
#[test]
fn issue13_zone_quoted_and_port_zero_hops_are_invalid() {
    run(&[], |t| {
        let hop = t.trusted_hop();
        let cases = [
            (format!("{CLIENT}%evil"), None),
            (format!("\"{CLIENT}\""), None),
            (format!("{CLIENT}:0"), None),
            (format!("{CLIENT}%evil, {hop}"), Some(hop)),
            (format!("\"{CLIENT}\", {hop}"), Some(hop)),
            (format!("{CLIENT}:0, {hop}"), Some(hop)),
        ];
        for (chain, nearest_trusted) in cases {
            let reply = t.get(Peer::TrustedProxy, "/", &[("X-Forwarded-For", &chain)]);
            assert_eq!(reply.status, 200, "{chain}: {reply:?}");
            let real_ip = reply.upstream_one("x-real-ip");
            assert_ne!(real_ip.as_deref(), Some(CLIENT), "{chain}: an invalid hop became the client");
            match nearest_trusted {
                // nginx realip's answer: the last valid address right of the invalid one.
                Some(hop) => assert_eq!(real_ip.as_deref(), Some(hop), "{chain}: {reply:?}"),
                None => assert!(is_proxy_or_unknown_address(t, real_ip.as_deref()), "{chain}: {reply:?}"),
            }
            let geo: Vec<String> =
                reply.upstream_names().into_iter().filter(|n| n.starts_with("x-geo-")).collect();
            assert!(geo.is_empty(), "{chain}: an unknown client got geo headers {geo:?}");
        }
        // The control: the same address, well spelled, with the leading-zero port nginx takes.
        let ok = t.get(Peer::TrustedProxy, "/", &[("X-Forwarded-For", &format!("{CLIENT}:0080, {hop}"))]);
        assert_eq!(ok.upstream_one("x-real-ip").as_deref(), Some(CLIENT), "{ok:?}");
    });
}
