//! Fuzzes EdgeGuard's forwarding-header parsers and client-IP resolver.
//!
//! Input format (so seeds stay human-readable): lines separated by `\n`.
//! - line 1 is the TCP peer as the host would report it (`ip:port`, `[v6]:port`, ...);
//! - every further line is one header line; its first byte picks the header
//!   (`F` = Forwarded, `X` = X-Forwarded-For, `R` = X-Real-IP, any other byte
//!   picks by `byte % 3`) and the rest of the line is the raw value (any bytes).
//!
//! Invariants checked (a failure panics, which libFuzzer reports as a crash):
//! - no function panics on any input;
//! - `parse_node` never returns an IPv4-mapped IPv6 address, and neither does
//!   any chain hop or resolved client (mapped ones must come back as IPv4);
//! - an untrusted peer is the client, whatever headers it sent: checked for the
//!   fixed peer `192.0.2.1:1234` and for the fuzzed peer whenever it parses
//!   and is outside the trusted list;
//! - an unparsable peer gives no client; a parsable one always gives a client
//!   that is the peer or one of the parsed chain hops.
#![no_main]

use std::net::IpAddr;
use std::sync::LazyLock;

use edgeguard::addr::parse_node;
use edgeguard::forwarded::{Chain, Hop};
use edgeguard::trust::TrustedProxies;
use edgeguard::{OwnedRequest, Pipeline};
use libfuzzer_sys::fuzz_target;

const FORWARDED: &str = "Forwarded";
const XFF: &str = "X-Forwarded-For";
const REAL_IP: &str = "X-Real-IP";

const TRUSTED: [&str; 2] = ["loopback", "10.0.0.0/8"];

/// The configuration from the brief (default sources: Forwarded, then X-Forwarded-For).
static PIPELINE: LazyLock<Pipeline> = LazyLock::new(|| {
    Pipeline::from_json(
        br#"{"clientIp": {"trustedProxies": ["loopback", "10.0.0.0/8"], "forwarded": true, "traceHeader": "X-T"}}"#,
    )
    .expect("fuzz pipeline config is valid")
});

/// Same trust, but every source (X-Real-IP too, via the single-address path),
/// a short `maxHops`, `trusted` X-Forwarded-For rewriting and a small byte cap.
static PIPELINE_ALL_SOURCES: LazyLock<Pipeline> = LazyLock::new(|| {
    Pipeline::from_json(
        br#"{"clientIp": {"trustedProxies": ["loopback", "10.0.0.0/8"], "forwarded": true, "traceHeader": "X-T",
            "sources": ["X-Real-IP", "Forwarded", "X-Forwarded-For"], "maxHops": 3,
            "forwardedFor": "trusted", "maxHeaderBytes": 256}}"#,
    )
    .expect("fuzz pipeline config is valid")
});

static TRUST: LazyLock<TrustedProxies> =
    LazyLock::new(|| TrustedProxies::new(TRUSTED, false).expect("trusted list is valid"));

fn assert_not_mapped(ip: IpAddr, context: &dyn std::fmt::Debug) {
    if let IpAddr::V6(v6) = ip {
        assert!(v6.to_ipv4_mapped().is_none(), "IPv4-mapped IPv6 {ip} escaped canonicalisation: {context:?}");
    }
}

fn check_node(token: &str) {
    if let Ok(ip) = parse_node(token) {
        assert_not_mapped(ip, &token);
    }
}

fn check_hops(hops: &[Hop], context: &dyn std::fmt::Debug) {
    for ip in hops.iter().filter_map(|h| h.ok()) {
        assert_not_mapped(ip, context);
    }
}

fn request(peer: &str, headers: &[(&'static str, &[u8])]) -> OwnedRequest {
    OwnedRequest {
        peer: peer.to_owned(),
        method: "GET".into(),
        uri: "/".into(),
        headers: headers.iter().map(|(n, v)| ((*n).to_owned(), v.to_vec())).collect(),
    }
}

fuzz_target!(|data: &[u8]| {
    let mut lines = data.split(|&b| b == b'\n');
    let peer_bytes = lines.next().unwrap_or_default();
    let peer = String::from_utf8_lossy(peer_bytes);

    let mut headers: Vec<(&'static str, &[u8])> = Vec::new();
    for line in lines.take(16) {
        let Some((&selector, value)) = line.split_first() else { continue };
        let name = match selector {
            b'F' => FORWARDED,
            b'X' => XFF,
            b'R' => REAL_IP,
            other => [FORWARDED, XFF, REAL_IP][usize::from(other) % 3],
        };
        headers.push((name, value));
    }

    // Raw parsers: parse_node on the peer and on every value; both chain
    // parsers on each header's lines and on all values at once.
    check_node(&peer);
    for (_, value) in &headers {
        if let Ok(text) = std::str::from_utf8(value) {
            check_node(text);
        }
    }
    let values = |name: &str| -> Vec<&[u8]> {
        headers.iter().filter(|(n, _)| *n == name).map(|(_, v)| *v).collect()
    };
    let all: Vec<&[u8]> = headers.iter().map(|(_, v)| *v).collect();
    for set in [values(FORWARDED), values(XFF), all] {
        let xff = Chain::from_xff(&set);
        check_hops(&xff.hops, &("from_xff", &set));
        let fwd = Chain::from_forwarded(&set);
        check_hops(&fwd.hops, &("from_forwarded", &set));
    }

    let peer_ip = parse_node(&peer).ok();
    // Every address a pipeline may choose: the peer or a hop of any source.
    let mut candidates: Vec<IpAddr> = peer_ip.into_iter().collect();
    candidates.extend(Chain::from_xff(&values(XFF)).hops.into_iter().filter_map(Result::ok));
    candidates.extend(Chain::from_forwarded(&values(FORWARDED)).hops.into_iter().filter_map(Result::ok));
    candidates.extend(Chain::from_xff(&values(REAL_IP)).hops.into_iter().filter_map(Result::ok));

    for pipeline in [&*PIPELINE, &*PIPELINE_ALL_SOURCES] {
        // The fuzzed peer.
        let req = request(&peer, &headers);
        let _ = pipeline.handle(&req);
        let outcome = pipeline.outcome(&req);
        match (peer_ip, outcome.identity.client) {
            (None, None) => {}
            (None, Some(client)) => panic!("unparsable peer {peer:?} produced client {client}"),
            (Some(_), None) => panic!("parsable peer {peer:?} produced no client"),
            (Some(p), Some(client)) => {
                assert_not_mapped(client, &req);
                if !TRUST.contains(p) {
                    assert_eq!(client, p, "untrusted peer {peer:?} must be the client: {req:?}");
                }
                assert!(
                    candidates.contains(&client),
                    "client {client} is neither the peer nor a hop: {req:?} -> {outcome:?}"
                );
            }
        }

        // A fixed untrusted peer with the same headers: nothing it sent is believed.
        let req = request("192.0.2.1:1234", &headers);
        let _ = pipeline.handle(&req);
        let outcome = pipeline.outcome(&req);
        assert_eq!(
            outcome.identity.client,
            Some(IpAddr::from([192, 0, 2, 1])),
            "untrusted peer 192.0.2.1 must be the client: {req:?} -> {outcome:?}"
        );

        // A fixed trusted peer, so the chain walk itself runs on the fuzzed headers.
        let req = request("10.0.0.1:5000", &headers);
        let outcome = pipeline.outcome(&req);
        let client = outcome.identity.client.expect("trusted peer parses");
        assert_not_mapped(client, &req);
        assert!(
            client == IpAddr::from([10, 0, 0, 1]) || candidates.contains(&client),
            "client {client} is neither the peer nor a hop: {req:?} -> {outcome:?}"
        );
    }
});
