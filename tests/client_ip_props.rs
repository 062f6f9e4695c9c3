//! Property tests for client-IP resolution (issue #3) and identity hardening
//! (issue #13, `issues show 13`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::OnceLock;

use edgeguard::{Decision, OwnedRequest, Pipeline, RequestView};
use proptest::prelude::*;

fn pipeline() -> Pipeline {
    Pipeline::from_json(br#"{"clientIp": {"trustedProxies": ["10.0.0.0/8", "loopback"], "forwarded": true}}"#)
        .unwrap()
}

/// [`pipeline`] reading `Forwarded` as its one chain source (issue #13: only when configured).
fn forwarded_pipeline() -> Pipeline {
    Pipeline::from_json(
        br#"{"clientIp": {"trustedProxies": ["10.0.0.0/8", "loopback"], "sources": ["Forwarded"], "forwarded": true}}"#,
    )
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
        client_port in proptest::option::of(1..=u16::MAX),
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
        let outcome = if use_forwarded { forwarded_pipeline() } else { pipeline() }.outcome(&req);
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
            headers: headers.into_iter().map(|(n, v)| (n.to_string(), v)).collect(),
            ..OwnedRequest::new(&String::from_utf8_lossy(&peer))
        };
        let outcome = pipeline().outcome(&req);
        prop_assert!(matches!(outcome.decision, Decision::Forward(_)));
        let _ = req.header_values("x-forwarded-for");
    }
}

// --- Issue #13: a client never chooses its identity ----------------------------

#[path = "support/managed.rs"]
#[allow(dead_code)]
mod managed;

/// `maintenance.allow.cidrs` of [`hardened`]: an office a client would like to be in.
const OFFICE: &str = "198.51.100.0/24";
/// The maintenance token and signing key [`hardened`] reads (set once, see [`env`]).
const SECRET_ENV: &str = "EDGEGUARD_PROPS_SECRET";

/// Sets [`SECRET_ENV`] once, before any pipeline reads it.
fn env() {
    static SET: OnceLock<()> = OnceLock::new();
    SET.get_or_init(|| {
        // SAFETY: std's env functions take one lock, and no code in this test
        // binary reads the environment outside them.
        unsafe { std::env::set_var(SECRET_ENV, "props-secret-0123456789abcdefghijklmnop") }
    });
}

/// Everything on: a chain source (`X-Forwarded-For` by default, or `Forwarded`
/// configured), maintenance
/// on with a CIDR and a token bypass, geo with custom names, signing with its
/// own header: every managed name of issue #13 is in play.
fn hardened(source: &str) -> Pipeline {
    env();
    let city = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/geo/GeoLite2-City-Test.mmdb");
    let mut config = serde_json::json!({
        "clientIp": {
            "trustedProxies": ["10.0.0.0/8", "loopback"],
            "header": "X-Client-Address",
            "preserveOriginalAs": "X-Orig-XFF",
            "traceHeader": "X-EdgeGuard-Trace",
            "stripHeaders": ["X-User-Id"],
        },
        "geo": {"database": city, "dbInfoHeader": "X-Geo-Info", "headers": {"city": "X-City"}},
        "maintenance": {
            "enabled": true,
            "allow": {"cidrs": [OFFICE], "token": {"header": "X-Maintenance-Token", "secretEnv": SECRET_ENV}},
        },
        "signing": {"secretEnv": SECRET_ENV, "header": "X-Signature"},
    });
    // X-Forwarded-For is the default source (issue #13): leave it unset, as most configs do.
    if source != "X-Forwarded-For" {
        config["clientIp"]["sources"] = serde_json::json!([source]);
    }
    Pipeline::from_json(config.to_string().as_bytes()).unwrap_or_else(|e| panic!("{e}"))
}

/// Every name [`hardened`] manages: issue #13's fixed list plus its configured names.
fn hardened_names() -> Vec<&'static str> {
    let configured = [
        "X-Client-Address",
        "X-Orig-XFF",
        "X-User-Id",
        "X-City",
        "X-Geo-Info",
        "X-Maintenance-Token",
        "X-Signature",
    ];
    managed::MANAGED.iter().copied().chain(configured).collect()
}

/// Clients: the office (bypass) and addresses outside it; never trusted.
fn client_ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![any::<u8>().prop_map(|n| IpAddr::V4(Ipv4Addr::new(198, 51, 100, n))), untrusted_ip(),]
}

/// Text built to confuse a chain parser: quotes, escapes, separators,
/// `for=`, ports, zones, and addresses in and out of the office and trusted ranges.
fn tricky_text() -> impl Strategy<Value = String> {
    const TOKENS: &[&str] = &[
        "\"",
        "\\",
        ",",
        ", ",
        ";",
        "=",
        " ",
        "\t",
        "for=",
        "For=",
        "proto=https",
        "by=",
        "[",
        "]",
        ":",
        ":0",
        ":80",
        "%eth0",
        "_x",
        "unknown",
        "198.51.100.44",
        "10.0.0.9",
        "127.0.0.1",
        "::ffff:198.51.100.4",
        "2001:db8::1",
        "203.0.113.7",
    ];
    proptest::collection::vec(proptest::sample::select(TOKENS), 0..16).prop_map(|t| t.concat())
}

fn hostile_text() -> impl Strategy<Value = String> {
    prop_oneof![attacker_text(), tricky_text()]
}

/// A header name a client may send: a managed name in any spelling, or any token.
fn hostile_name() -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::sample::select(hardened_names()).prop_flat_map(respelled),
        proptest::string::string_regex("[A-Za-z][A-Za-z0-9._-]{0,24}").unwrap(),
    ]
}

/// Separators backends read as `-` (Traefik's alias set; Apache's `http2env`
/// folds every non-alphanumeric byte).
const SEPARATORS: [char; 15] = ['-', '_', '.', '!', '#', '$', '%', '&', '\'', '*', '+', '^', '`', '|', '~'];

/// `name` with each letter in either case and each `-`, `_` or `.` as any separator.
fn respelled(name: &'static str) -> impl Strategy<Value = String> {
    proptest::collection::vec((any::<bool>(), 0..SEPARATORS.len()), name.len()).prop_map(move |choices| {
        name.bytes()
            .zip(choices)
            .map(|(b, (upper, sep))| match b {
                b'-' | b'_' | b'.' => SEPARATORS[sep],
                _ if upper => b.to_ascii_uppercase() as char,
                _ => b.to_ascii_lowercase() as char,
            })
            .collect()
    })
}

/// How the nearest trusted proxy appends `hops` (the client, then the proxies
/// between) to the chain header `source` a client started with `prefix`.
fn appended(source: &str, prefix: &str, hops: &[String]) -> String {
    let hops: Vec<String> = if source == "Forwarded" {
        hops.iter().map(|h| format!("for=\"{h}\"")).collect()
    } else {
        hops.to_vec()
    };
    if prefix.is_empty() { hops.join(", ") } else { format!("{prefix}, {}", hops.join(", ")) }
}

fn in_office(ip: IpAddr) -> bool {
    OFFICE.parse::<ipnet::IpNet>().unwrap().contains(&ip)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]

    /// Issue #13: for any chain the nearest trusted proxy appended to, no
    /// bytes a client adds in any other header, or left of its own entry (in
    /// the same line or in earlier lines of the chain header), change the
    /// resolved client or grant a CIDR bypass.
    #[test]
    fn issue13_client_bytes_never_change_the_client_or_the_bypass(
        use_forwarded in any::<bool>(),
        client in client_ip(),
        client_port in proptest::option::of(1..=u16::MAX),
        proxies in proptest::collection::vec(trusted_ip(), 0..4),
        peer in trusted_ip(),
        prefix in hostile_text(),
        earlier_lines in proptest::collection::vec(hostile_text(), 0..3),
        extras in proptest::collection::vec((hostile_name(), hostile_text()), 0..8),
        extras_first in any::<bool>(),
    ) {
        let source = if use_forwarded { "Forwarded" } else { "X-Forwarded-For" };
        let mut hops = vec![spelled(client, client_port)];
        hops.extend(proxies.iter().map(|p| p.to_string()));
        // Other headers: anything but the chain header itself, whose lines are
        // the client's up to the proxy's own line.
        let extras: Vec<(String, String)> =
            extras.into_iter().filter(|(n, _)| !n.eq_ignore_ascii_case(source)).collect();
        let mut req = OwnedRequest::new(&spelled(peer, Some(40000)));
        let add = |req: OwnedRequest, list: &[(String, String)]| {
            list.iter().fold(req, |r, (n, v)| r.header(n, v))
        };
        if extras_first {
            req = add(req, &extras);
        }
        for line in &earlier_lines {
            req = req.header(source, line);
        }
        req = req.header(source, &appended(source, &prefix, &hops));
        if !extras_first {
            req = add(req, &extras);
        }
        let outcome = hardened(source).outcome(&req);
        prop_assert_eq!(outcome.identity.client, Some(client), "trace {}", outcome.identity.trace);
        match &outcome.decision {
            Decision::Forward(edits) => {
                prop_assert!(in_office(client), "bypass for {}: {}", client, outcome.identity.trace);
                let mut up = req.clone();
                up.apply(edits);
                prop_assert_eq!(up.get("X-Client-Address"), Some(client.to_string()));
            }
            Decision::Respond(refusal) => {
                prop_assert!(!in_office(client), "office client {} refused: {:?}", client, refusal);
                prop_assert_eq!(refusal.status(), 503);
            }
        }
    }

    /// Issue #13: every managed name, in any mix of case, `-`, `_` and `.`,
    /// is removed from every peer when a backend would read it as that name
    /// (only the dash spelling EdgeGuard sets may arrive).
    #[test]
    fn issue13_alias_spellings_of_managed_names_never_reach_the_backend(
        aliases in proptest::collection::vec(
            proptest::sample::select(hardened_names()).prop_flat_map(respelled)
                .prop_filter("an alias, not the dash spelling", |n| !n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')),
            1..8),
        // A trusted proxy, or an untrusted peer in the office (so maintenance lets both through).
        peer in prop_oneof![trusted_ip(), any::<u8>().prop_map(|n| IpAddr::V4(Ipv4Addr::new(198, 51, 100, n)))],
        use_forwarded in any::<bool>(),
    ) {
        let source = if use_forwarded { "Forwarded" } else { "X-Forwarded-For" };
        let mut req = OwnedRequest::new(&spelled(peer, Some(40000)))
            .header(source, &appended(source, "", &["198.51.100.7".to_string()]));
        for alias in &aliases {
            req = req.header(alias, "6.6.6.6");
        }
        let decision = hardened(source).handle(&req);
        let mut up = req.clone();
        if let Decision::Forward(edits) = &decision {
            up.apply(edits);
        } else {
            prop_assert!(false, "the office client was refused: {:?}", decision);
        }
        let names: Vec<&str> = up.headers.iter().map(|(n, _)| n.as_str()).collect();
        let left = managed::aliases_among(names.iter().copied(), &hardened_names());
        prop_assert!(left.is_empty(), "aliases upstream: {:?} (sent {:?})", left, aliases);
        prop_assert!(up.headers.iter().all(|(_, v)| v != b"6.6.6.6"), "{:?}", up.headers);
    }
}
