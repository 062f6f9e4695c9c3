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
//! - no parser returns an IPv4-mapped IPv6 address, and neither does any chain
//!   hop or resolved address (mapped ones must come back as IPv4);
//! - an untrusted peer is the client, whatever headers it sent: checked for the
//!   fixed peer `192.0.2.1:1234` and for the fuzzed peer whenever it parses
//!   and is outside the trusted list;
//! - an unparsable peer gives no address; a parsable one always gives an
//!   address (`X-Real-IP`) that is the peer or one of the parsed hops of the
//!   configured source, and a known client only if the walk found one;
//! - a refusal (431) happens only for a source over `maxHeaderBytes`;
//! - the upstream request never carries a managed header in any spelling but
//!   the exact `X-Forwarded-For` / configured source from a trusted peer.
#![no_main]

use std::net::IpAddr;
use std::sync::LazyLock;

use edgeguard::addr::{parse_forwarded_node, parse_node, parse_peer};
use edgeguard::forwarded::{Chain, Hop};
use edgeguard::request::Refusal;
use edgeguard::trust::TrustedProxies;
use edgeguard::{Decision, HeaderEdit, OwnedRequest, Pipeline};
use libfuzzer_sys::fuzz_target;

const FORWARDED: &str = "Forwarded";
const XFF: &str = "X-Forwarded-For";
const REAL_IP: &str = "X-Real-IP";

const TRUSTED: [&str; 2] = ["loopback", "10.0.0.0/8"];

/// The default source (X-Forwarded-For), with the RFC 7239 output and the trace.
static PIPELINE: LazyLock<Pipeline> = LazyLock::new(|| {
    Pipeline::from_json(
        br#"{"clientIp": {"trustedProxies": ["loopback", "10.0.0.0/8"], "forwarded": true, "traceHeader": "X-T"}}"#,
    )
    .expect("fuzz pipeline config is valid")
});

/// `Forwarded` as the source, a short `maxHops`, `trusted` rewriting and a small byte cap.
static PIPELINE_FORWARDED: LazyLock<Pipeline> = LazyLock::new(|| {
    Pipeline::from_json(
        br#"{"clientIp": {"trustedProxies": ["loopback", "10.0.0.0/8"], "forwarded": true, "traceHeader": "X-T",
            "sources": ["Forwarded"], "maxHops": 3, "forwardedFor": "trusted", "maxHeaderBytes": 256}}"#,
    )
    .expect("fuzz pipeline config is valid")
});

/// The single-address source X-Real-IP (as behind nginx's `proxy_set_header X-Real-IP`).
static PIPELINE_REAL_IP: LazyLock<Pipeline> = LazyLock::new(|| {
    Pipeline::from_json(
        br#"{"clientIp": {"trustedProxies": ["loopback", "10.0.0.0/8"], "sources": ["X-Real-IP"],
            "header": "X-Client", "forwardedFor": "client", "maxHeaderBytes": 64}}"#,
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
    for parse in [parse_node, parse_forwarded_node, parse_peer] {
        if let Ok(ip) = parse(token) {
            assert_not_mapped(ip, &token);
        }
    }
}

fn check_hops(hops: &[Hop], context: &dyn std::fmt::Debug) {
    for ip in hops.iter().filter_map(|h| h.ok()) {
        assert_not_mapped(ip, context);
    }
}

fn request(peer: &str, headers: &[(&'static str, &[u8])]) -> OwnedRequest {
    OwnedRequest {
        headers: headers.iter().map(|(n, v)| ((*n).to_owned(), v.to_vec())).collect(),
        ..OwnedRequest::new(peer)
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

    let peer_ip = parse_peer(&peer).ok();
    let lines_len = |name: &str| values(name).iter().map(|v| v.len()).sum::<usize>();
    // (pipeline, its source, the hops that source gives, maxHeaderBytes, client-IP header)
    let cases: [(&Pipeline, &str, Vec<IpAddr>, usize, &str); 3] = [
        (&PIPELINE, XFF, hops(Chain::from_xff(&values(XFF))), 8192, REAL_IP),
        (&PIPELINE_FORWARDED, FORWARDED, hops(Chain::from_forwarded(&values(FORWARDED))), 256, REAL_IP),
        // A single-address header is one node, parsed as a whole line.
        (&PIPELINE_REAL_IP, REAL_IP, single_hops(&values(REAL_IP)), 64, "X-Client"),
    ];
    for (pipeline, source, source_hops, max_bytes, header) in cases {
        let mut candidates: Vec<IpAddr> = peer_ip.into_iter().collect();
        candidates.extend(&source_hops);
        // The fuzzed peer.
        let req = request(&peer, &headers);
        let _ = pipeline.handle(&req);
        let outcome = pipeline.outcome(&req);
        let refused = matches!(outcome.decision, Decision::Respond(Refusal::HeaderTooLarge));
        if refused {
            assert!(lines_len(source) > max_bytes, "431 without an overlong {source}: {req:?}");
            assert!(peer_ip.is_some_and(|p| TRUST.contains(p)), "431 for an untrusted peer: {req:?}");
            continue;
        }
        let id = &outcome.identity;
        match (peer_ip, id.address) {
            (None, None) => assert_eq!(id.client, None),
            (None, Some(a)) => panic!("unparsable peer {peer:?} produced address {a}"),
            (Some(_), None) => panic!("parsable peer {peer:?} produced no address"),
            (Some(p), Some(address)) => {
                assert_not_mapped(address, &req);
                if !TRUST.contains(p) {
                    assert_eq!(id.client, Some(p), "untrusted peer {peer:?} must be the client: {req:?}");
                }
                assert!(
                    candidates.contains(&address),
                    "address {address} is neither the peer nor a hop of {source}: {req:?} -> {outcome:?}"
                );
                assert!(id.client.is_none_or(|c| c == address), "{outcome:?}");
            }
        }
        if let Decision::Forward(edits) = &outcome.decision {
            let mut upstream = req.clone();
            upstream.apply(edits);
            let trusted = peer_ip.is_some_and(|p| TRUST.contains(p));
            for (name, _) in &upstream.headers {
                let folded: String = name
                    .bytes()
                    .map(|b| if b.is_ascii_alphanumeric() { char::from(b.to_ascii_lowercase()) } else { '-' })
                    .collect();
                let managed = [FORWARDED, XFF, REAL_IP, "x-client", "x-t", "x-edgeguard-signature", "x-geo-country"]
                    .iter()
                    .any(|m| m.eq_ignore_ascii_case(&folded));
                let exact_ok = (name.eq_ignore_ascii_case(XFF) && trusted)
                    || (name.eq_ignore_ascii_case(source) && trusted)
                    || edits.iter().any(|e| matches!(e, HeaderEdit::Set(n, _) if **n == **name));
                assert!(!managed || exact_ok, "managed header {name:?} reached the backend: {req:?} -> {edits:?}");
            }
        }

        // A fixed untrusted peer with the same headers: nothing it sent is believed.
        let req = request("192.0.2.1:1234", &headers);
        let outcome = pipeline.outcome(&req);
        assert_eq!(
            outcome.identity.client,
            Some(IpAddr::from([192, 0, 2, 1])),
            "untrusted peer 192.0.2.1 must be the client: {req:?} -> {outcome:?}"
        );

        // A fixed trusted peer, so the chain walk itself runs on the fuzzed headers.
        let req = request("10.0.0.1:5000", &headers);
        let outcome = pipeline.outcome(&req);
        if let Some(address) = outcome.identity.address {
            assert_not_mapped(address, &req);
            assert!(
                address == IpAddr::from([10, 0, 0, 1]) || source_hops.contains(&address),
                "address {address} is neither the peer nor a hop: {req:?} -> {outcome:?}"
            );
        }
    }
});

fn single_hops(lines: &[&[u8]]) -> Vec<IpAddr> {
    lines.iter().filter_map(|l| std::str::from_utf8(l).ok()).filter_map(|l| parse_node(l).ok()).collect()
}

fn hops(chain: Chain) -> Vec<IpAddr> {
    chain.hops.into_iter().filter_map(Result::ok).collect()
}
