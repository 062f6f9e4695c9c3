//! Property tests for client-IP resolution (issue #3).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use edgeguard::{Decision, OwnedRequest, Pipeline, RequestView};
use proptest::prelude::*;

fn pipeline() -> Pipeline {
    Pipeline::from_json(br#"{"clientIp": {"trustedProxies": ["10.0.0.0/8", "loopback"], "forwarded": true}}"#)
        .unwrap()
}

/// Clients from the documentation ranges: never trusted by `pipeline()`.
fn untrusted_ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<u8>().prop_map(|n| IpAddr::V4(Ipv4Addr::new(192, 0, 2, n))),
        any::<u8>().prop_map(|n| IpAddr::V4(Ipv4Addr::new(203, 0, 113, n))),
        any::<u16>().prop_map(|n| IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, n))),
    ]
}

fn trusted_ip() -> impl Strategy<Value = IpAddr> {
    any::<[u8; 3]>().prop_map(|[a, b, c]| IpAddr::V4(Ipv4Addr::new(10, a, b, c)))
}

/// How a proxy writes an address into a chain (optionally with a port).
fn spelled(ip: IpAddr, port: Option<u16>) -> String {
    match (ip, port) {
        (IpAddr::V4(v4), Some(p)) => format!("{v4}:{p}"),
        (IpAddr::V6(v6), Some(p)) => format!("[{v6}]:{p}"),
        (ip, None) => ip.to_string(),
    }
}

/// What a client can put in a header value: printable ASCII, quotes and commas included.
fn attacker_text() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[ -~]{0,120}").unwrap()
}

fn upstream(req: &OwnedRequest, decision: &Decision) -> OwnedRequest {
    let Decision::Forward(edits) = decision else { panic!("not forwarded: {decision:?}") };
    let mut up = req.clone();
    up.apply(edits);
    up
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// From an untrusted peer, nothing in any header changes the client.
    #[test]
    fn untrusted_peer_is_always_the_client(
        peer in untrusted_ip(),
        port in any::<u16>(),
        xff in attacker_text(),
        fwd in attacker_text(),
        real in attacker_text(),
    ) {
        let req = OwnedRequest::new(&spelled(peer, Some(port)))
            .header("X-Forwarded-For", &xff)
            .header("Forwarded", &fwd)
            .header("X-Real-IP", &real);
        let outcome = pipeline().outcome(&req);
        prop_assert_eq!(outcome.identity.client, Some(peer));
        let up = upstream(&req, &outcome.decision);
        prop_assert_eq!(up.get("X-Real-IP"), Some(peer.to_string()));
    }

    /// An attacker who writes only the left part of a chain whose right part
    /// was appended by trusted proxies cannot choose the resolved address.
    #[test]
    fn attacker_prefix_cannot_choose_the_client(
        prefix in attacker_text(),
        client in untrusted_ip(),
        client_port in proptest::option::of(any::<u16>()),
        proxies in proptest::collection::vec(trusted_ip(), 0..5),
        peer in trusted_ip(),
        use_forwarded in any::<bool>(),
    ) {
        let mut hops = vec![spelled(client, client_port)];
        hops.extend(proxies.iter().map(|p| p.to_string()));
        let (name, value) = if use_forwarded {
            let appended: Vec<String> = hops.iter().map(|h| format!("for=\"{h}\"")).collect();
            ("Forwarded", format!("{prefix}, {}", appended.join(", ")))
        } else {
            ("X-Forwarded-For", format!("{prefix}, {}", hops.join(", ")))
        };
        let req = OwnedRequest::new(&spelled(peer, Some(40000))).header(name, &value);
        let outcome = pipeline().outcome(&req);
        prop_assert_eq!(outcome.identity.client, Some(client), "{}: {}", name, value);
    }

    /// Normalizing an already normalized chain changes nothing.
    #[test]
    fn normalization_is_idempotent(
        tokens in proptest::collection::vec(prop_oneof![
            untrusted_ip().prop_map(|ip| spelled(ip, None)),
            (untrusted_ip(), any::<u16>()).prop_map(|(ip, p)| spelled(ip, Some(p))),
            trusted_ip().prop_map(|ip| spelled(ip, None)),
            Just("unknown".to_string()),
            Just("_obf".to_string()),
            Just(String::new()),
            attacker_text(),
        ], 0..12),
        peer in prop_oneof![trusted_ip(), untrusted_ip()],
    ) {
        let req = OwnedRequest::new(&spelled(peer, Some(1))).header("X-Forwarded-For", &tokens.join(","));
        let once = upstream(&req, &pipeline().handle(&req));
        if let Some(normalized) = once.get("X-Forwarded-For") {
            let again_req = OwnedRequest::new(&spelled(peer, Some(1))).header("X-Forwarded-For", &normalized);
            let twice = upstream(&again_req, &pipeline().handle(&again_req));
            prop_assert_eq!(twice.get("X-Forwarded-For"), Some(normalized));
        }
    }

    /// Arbitrary bytes anywhere never panic and always yield a decision.
    #[test]
    fn never_panics_on_arbitrary_bytes(
        peer in proptest::collection::vec(any::<u8>(), 0..64),
        headers in proptest::collection::vec(
            (prop_oneof![Just("X-Forwarded-For"), Just("Forwarded"), Just("X-Real-IP"), Just("True-Client-IP")],
             proptest::collection::vec(any::<u8>(), 0..300)),
            0..6),
    ) {
        let req = OwnedRequest {
            peer: String::from_utf8_lossy(&peer).into_owned(),
            method: "GET".into(),
            uri: "/".into(),
            headers: headers.into_iter().map(|(n, v)| (n.to_string(), v)).collect(),
        };
        let outcome = pipeline().outcome(&req);
        prop_assert!(matches!(outcome.decision, Decision::Forward(_)));
        let _ = req.header_values("x-forwarded-for");
    }
}
