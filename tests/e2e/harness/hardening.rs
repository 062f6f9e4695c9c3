//! Client identity hardening (issue #13,
//! `issues show 13`) with per-test configs:
//! an unknown client (geo, maintenance bypass, signature), the bypass cookie,
//! config refusals, and memory under huge chains. As in the issue, Traefik's
//! entrypoint runs with `forwardedHeaders.insecure: true`, so nothing but
//! EdgeGuard stands between what a client sends and the backend.
//! Peers: 127.0.0.2 is the trusted proxy, 127.0.0.3 an untrusted client.
//! Shared-Middleware cases: suite/hardening.rs.

use std::path::Path;

use edgeguard::signing::Verified;
use serde_json::{Value, json};

use crate::support::client::Reply;
use crate::support::geo_expected::SE_CLIENT;
use crate::support::managed::{ISSUE_ALIASES, MANAGED, aliases_among};
use crate::support::target::own_traefik_unavailable;
use crate::support::traefik::{Setup, Traefik};

const PROXY: &str = "127.0.0.2";
const STRANGER: &str = "127.0.0.3";
const KEY_ENV: &str = "EDGEGUARD_TEST_SIGNING_KEY";
const KEY: &str = "e2e-signing-key-0123456789abcdefghijklmnopqrstuv";
const TOKEN_ENV: &str = "EDGEGUARD_TEST_BYPASS";
const TOKEN: &str = "correct-horse-battery-staple";
const TESTDATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/geo");
/// The documented test client with geo data (SE).
const CLIENT: &str = "203.0.113.10";
/// An office address in `allow.cidrs`.
const OFFICE: &str = "192.0.2.44";

/// Traefik (entrypoint `insecure`) with the test databases at `/geo` and:
/// - `/`: client IP (the proxy and 203.0.113.0/24 trusted, so a chain can end
///   in a trusted address that has geo data; `maxHops: 2`), geo, signing, trace;
/// - `/maint`: maintenance on; `allow.cidrs` covers the office, 203.0.113.0/24
///   and the load balancer's own 127.0.0.0/8 (as the `private` preset covers a
///   VPC); the bypass token travels in cookie `eg_bypass`.
fn start(dir: &Path) -> Traefik {
    for (from, to) in [("GeoLite2-City-Test.mmdb", "City.mmdb"), ("GeoLite2-ASN-Test.mmdb", "ASN.mmdb")] {
        std::fs::copy(Path::new(TESTDATA).join(from), dir.join(to)).unwrap();
    }
    let client_ip = json!({
        "trustedProxies": ["127.0.0.2/32", "203.0.113.0/24"],
        "maxHops": 2,
        "traceHeader": "X-EdgeGuard-Trace",
    });
    let geo = json!({"database": "/geo/City.mmdb", "asnDatabase": "/geo/ASN.mmdb"});
    let maintenance = json!({
        "enabled": true,
        "allow": {
            "cidrs": ["192.0.2.0/24", "203.0.113.0/24", "127.0.0.0/8"],
            "token": {"cookie": "eg_bypass", "secretEnv": TOKEN_ENV},
        },
    });
    Setup::new()
        .entrypoint_insecure()
        .plugin_settings(json!({"mounts": [format!("{}:/geo", dir.display())], "envs": [KEY_ENV, TOKEN_ENV]}))
        .traefik_env(KEY_ENV, KEY)
        .traefik_env(TOKEN_ENV, TOKEN)
        .router(
            "signed",
            "/",
            Some(json!({"clientIp": client_ip, "geo": geo, "signing": {"secretEnv": KEY_ENV}})),
        )
        .router("maint", "/maint", Some(json!({"clientIp": client_ip, "maintenance": maintenance})))
        .start()
}

/// Verifies the signature the echo backend received.
fn verified(reply: &Reply) -> Verified {
    crate::support::signed::verified(reply, KEY)
}

fn geo_names(reply: &Reply) -> Vec<String> {
    reply.upstream_names().into_iter().filter(|n| n.starts_with("x-geo-")).collect()
}

fn chain_of(bytes: usize, client: &str) -> String {
    let mut chain = String::new();
    while chain.len() < bytes {
        chain.push_str("198.51.100.1, ");
    }
    chain + client
}

// Issue #13 (1): a client's `Forwarded` behind the proxy chose the client, and
// with it the CIDR maintenance bypass.
#[test]
fn issue13_forwarded_from_client_grants_no_cidr_bypass() {
    if own_traefik_unavailable() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let t = start(dir.path());
    let office = t.get_from(PROXY, "/maint", &[("X-Forwarded-For", OFFICE)]);
    assert_eq!(
        office.status,
        200,
        "the control: the office behind the proxy passes: {office:?}\n{}",
        t.log()
    );
    for forwarded in [format!("for={OFFICE}"), format!("for=\"{OFFICE}:443\"")] {
        let headers = [("X-Forwarded-For", "198.51.100.7"), ("Forwarded", forwarded.as_str())];
        let reply = t.get_from(PROXY, "/maint", &headers);
        assert_eq!(reply.status, 503, "Forwarded: {forwarded} bypassed maintenance: {reply:?}");
    }
}

// Issue #13: unknown is not the proxy. With `allow.cidrs` covering the load
// balancer, a chain EdgeGuard cannot read must not make the client the
// balancer (a bypass, and a hiding place from bans and rate limits).
#[test]
fn issue13_unknown_client_never_matches_allow_cidrs() {
    if own_traefik_unavailable() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let t = start(dir.path());
    let cases: [(&str, Vec<(&str, String)>); 7] = [
        ("no chain from the proxy", vec![]),
        ("unknown rightmost", vec![("X-Forwarded-For", "6.6.6.6, unknown".into())]),
        ("empty elements only", vec![("X-Forwarded-For", ", ,".into())]),
        ("quoted rightmost", vec![("X-Forwarded-For", format!("\"{OFFICE}\""))]),
        ("port zero", vec![("X-Forwarded-For", format!("{OFFICE}:0"))]),
        ("IPv4 with a zone", vec![("X-Forwarded-For", format!("{OFFICE}%evil"))]),
        // 203.0.113.10 is trusted and allowed: nginx realip's answer, not a client.
        ("walk stopped at garbage", vec![("X-Forwarded-For", format!("198.51.100.7, junk, {CLIENT}"))]),
    ];
    for (what, headers) in &cases {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let reply = t.get_from(PROXY, "/maint", &headers);
        assert_eq!(reply.status, 503, "{what} ({headers:?}): an unknown client was let through: {reply:?}");
    }
    // maxHops (2) trusted hops without reaching the client: unknown too.
    let long =
        t.get_from(PROXY, "/maint", &[("X-Forwarded-For", "203.0.113.11, 203.0.113.12, 203.0.113.13")]);
    assert_eq!(long.status, 503, "max-hops: {long:?}");
    // 9000 bytes and the client: refused, not resolved to the balancer.
    let overlong = chain_of(9000, OFFICE);
    assert_eq!(t.get_from(PROXY, "/maint", &[("X-Forwarded-For", &overlong)]).status, 431);
    // The controls: a known client in allow.cidrs passes, fully trusted chains included.
    assert_eq!(t.get_from(PROXY, "/maint", &[("X-Forwarded-For", OFFICE)]).status, 200);
    assert_eq!(t.get_from(PROXY, "/maint", &[("X-Forwarded-For", CLIENT)]).status, 200);
}

// Issue #13: an unknown client gets no geo (the proxy's location is not the
// client's), the signature does not vouch for X-Real-IP, and the trace says why.
#[test]
fn issue13_unknown_client_gets_no_geo_and_no_signed_client_ip() {
    if own_traefik_unavailable() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let t = start(dir.path());
    let known = t.get_from(PROXY, "/", &[("X-Forwarded-For", CLIENT)]);
    assert_eq!(known.status, 200, "{known:?}\n{}", t.log());
    for &(name, want) in SE_CLIENT {
        assert_eq!(known.upstream_one(name).as_deref(), Some(want), "control, {name}: {known:?}");
    }
    assert_eq!(verified(&known).get("x-real-ip"), Some(CLIENT), "control: {known:?}");

    let cases = [
        (format!("198.51.100.7, junk, {CLIENT}"), Some(CLIENT), "stop=invalid-hop"),
        (format!("{CLIENT}, unknown"), Some(PROXY), "stop=invalid-hop"),
        ("203.0.113.11, 203.0.113.12, 203.0.113.13".to_string(), None, "stop=max-hops"),
        (String::new(), Some(PROXY), "stop=no-chain"),
    ];
    for (chain, real_ip, stop) in cases {
        let headers: Vec<(&str, &str)> =
            if chain.is_empty() { vec![] } else { vec![("X-Forwarded-For", chain.as_str())] };
        let reply = t.get_from(PROXY, "/", &headers);
        assert_eq!(reply.status, 200, "{chain:?}: {reply:?}");
        if let Some(real_ip) = real_ip {
            assert_eq!(reply.upstream_one("x-real-ip").as_deref(), Some(real_ip), "{chain:?}: {reply:?}");
        }
        assert_eq!(geo_names(&reply), Vec::<String>::new(), "{chain:?}: geo for an unknown client");
        let trace = reply.upstream_one("x-edgeguard-trace").unwrap_or_default();
        assert!(trace.contains("client=unknown") && trace.contains(stop), "{chain:?}: trace {trace:?}");
        let signed = verified(&reply);
        assert_eq!(
            signed.get("x-real-ip"),
            None,
            "{chain:?}: X-Real-IP signed for an unknown client: {signed:?}"
        );
    }
}

// Issue #13 (5): the bypass cookie is a secret for EdgeGuard, not for the backend.
#[test]
fn issue13_bypass_cookie_is_removed_from_cookie() {
    if own_traefik_unavailable() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let t = start(dir.path());
    let cookie = format!("a=1; eg_bypass={TOKEN}; b=2");
    let reply = t.get_from(PROXY, "/maint", &[("X-Forwarded-For", "198.51.100.7"), ("Cookie", &cookie)]);
    assert_eq!(reply.status, 200, "the token cookie lets the operator through: {reply:?}\n{}", t.log());
    assert!(!reply.body.contains(TOKEN), "the bypass secret reached the backend: {}", reply.body);
    let cookies = reply.upstream_header("cookie").join("; ");
    let kept: Vec<&str> = cookies.split(';').map(str::trim).filter(|c| !c.is_empty()).collect();
    assert_eq!(kept, ["a=1", "b=2"], "the other cookies are kept: {reply:?}");
    let wrong =
        t.get_from(PROXY, "/maint", &[("X-Forwarded-For", "198.51.100.7"), ("Cookie", "eg_bypass=guess")]);
    assert_eq!(wrong.status, 503);
}

// Issue #13 (3): aliases pass from any peer when nothing but EdgeGuard strips.
#[test]
fn issue13_alias_spellings_removed_from_every_peer_with_insecure_entrypoint() {
    if own_traefik_unavailable() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let t = start(dir.path());
    // The issue's spellings and one mixed alias of every managed name.
    let mixed: Vec<String> =
        MANAGED.iter().map(|n| n.replacen('-', "_", 1).replacen('-', ".", 1).to_ascii_lowercase()).collect();
    let mut headers: Vec<(&str, &str)> = ISSUE_ALIASES.iter().map(|n| (*n, "6.6.6.6")).collect();
    headers.extend(mixed.iter().map(|n| (n.as_str(), "6.6.6.6")));
    headers.push(("X-Forwarded-For", CLIENT));
    for source in [PROXY, STRANGER] {
        let reply = t.get_from(source, "/", &headers);
        assert_eq!(reply.status, 200, "{source}: {reply:?}");
        let names = reply.upstream_names();
        let aliases = aliases_among(names.iter().map(String::as_str), MANAGED);
        assert!(aliases.is_empty(), "{source}: aliases reached the backend: {aliases:?}");
        assert!(!reply.body.contains("6.6.6.6"), "{source}: {}", reply.body);
        verified(&reply);
    }
}

// Issue #13 (4): with Traefik keeping every header, an untrusted peer's chain
// still never reaches the backend; Traefik appends the peer afterwards.
#[test]
fn issue13_untrusted_peer_chain_dropped_with_insecure_entrypoint() {
    if own_traefik_unavailable() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let t = start(dir.path());
    for xff in ["6.6.6.6", "<script>alert(1)</script>", "6.6.6.6, 203.0.113.10"] {
        let headers = [("X-Forwarded-For", xff), ("X-Original-Forwarded-For", "<script>")];
        let reply = t.get_from(STRANGER, "/", &headers);
        assert_eq!(reply.status, 200, "{reply:?}");
        assert_eq!(reply.upstream_one("x-real-ip").as_deref(), Some(STRANGER), "{xff}: {reply:?}");
        assert_eq!(reply.upstream_one("x-original-forwarded-for"), None, "{xff}: {reply:?}");
        assert_eq!(reply.upstream_one("x-forwarded-for").as_deref(), Some(STRANGER), "{xff}: {reply:?}");
        assert!(!reply.body.contains("6.6.6.6") && !reply.body.contains("<script>"), "{xff}: {}", reply.body);
    }
}

// Issue #13 (5): configs that silently trusted everything or signed nothing
// are refused at init, naming the field (fail closed: 500).
#[test]
fn issue13_config_refusals_name_the_field() {
    if own_traefik_unavailable() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(Path::new(TESTDATA).join("GeoLite2-City-Test.mmdb"), dir.path().join("City.mmdb")).unwrap();
    let cases = [
        (
            "split4",
            json!({"clientIp": {"trustedProxies": ["0.0.0.0/2", "64.0.0.0/2"]}}),
            "clientIp.trustedProxies[1]",
        ),
        (
            "split6",
            json!({"clientIp": {"trustedProxies": ["10.0.0.0/8", "2000::/4", "3000::/4"]}}),
            "clientIp.trustedProxies[2]",
        ),
        (
            "sources",
            json!({"clientIp": {"sources": ["X-Forwarded-For", "Forwarded"]}}),
            "clientIp.sources[1]",
        ),
        (
            "asn",
            json!({"geo": {"database": "/geo/City.mmdb"},
                   "signing": {"secretEnv": KEY_ENV, "headers": ["X-Real-IP", "X-Geo-ASN"]}}),
            "signing.headers[1]",
        ),
    ];
    let mut setup = Setup::new()
        .entrypoint_insecure()
        .plugin_settings(json!({"mounts": [format!("{}:/geo", dir.path().display())], "envs": [KEY_ENV]}))
        .traefik_env(KEY_ENV, KEY)
        .router(
            "allowed",
            "/",
            Some(
                json!({"clientIp": {"trustedProxies": ["0.0.0.0/1", "128.0.0.0/1"], "allowTrustAll": true}}),
            ),
        );
    for (name, config, _) in &cases {
        setup = setup.router(name, &format!("/{name}"), Some(config.clone()));
    }
    let t = setup.start();
    assert_eq!(t.get("/", &[]).status, 200, "allowTrustAll: true permits the split: {}", t.log());
    for (name, _, field) in &cases {
        let reply = t.get(&format!("/{name}"), &[]);
        assert_eq!(reply.status, 500, "{name}: accepted: {reply:?}");
        assert!(t.log().contains(field), "{name}: Traefik's log does not name {field}:\n{}", t.log());
    }
}

/// VmRSS of `pid` in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).expect("VmRSS");
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Sends `n` concurrent requests from the proxy, each with a 1 MiB chain;
/// Traefik's resident memory afterwards and the statuses seen.
fn flood(t: &Traefik, path: &str, n: usize) -> (u64, Vec<u16>) {
    let chain = std::sync::Arc::new(chain_of(1 << 20, CLIENT));
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let statuses = rt.block_on(async {
        let tasks: Vec<_> = (0..n)
            .map(|_| {
                let (chain, addr, path) = (std::sync::Arc::clone(&chain), t.addr, path.to_string());
                tokio::spawn(async move {
                    let source = Some(PROXY.parse().unwrap());
                    let headers = [("X-Forwarded-For", chain.as_str())];
                    let reply = crate::support::client::send(source, addr, "GET", &path, &headers);
                    reply.await.map_or(0, |r| r.status)
                })
            })
            .collect();
        let mut statuses = Vec::new();
        for task in tasks {
            statuses.push(task.await.unwrap_or(0));
        }
        statuses
    });
    (rss_kib(t.pid()), statuses)
}

// Issue #13 (6): 256 concurrent 1 MiB chains took Traefik from 0.70 GB (no
// EdgeGuard) to 1.78 GB, for good: a wasm instance's memory never shrinks.
// Now the value is never copied into the guest: Traefik's RSS stays within
// 64 MiB of the same flood on a route without EdgeGuard, and every request gets 431.
#[test]
fn issue13_huge_chains_do_not_grow_traefik_memory() {
    if own_traefik_unavailable() {
        return;
    }
    const N: usize = 256;
    let start = |config: Option<Value>| Setup::new().entrypoint_insecure().router("r", "/", config).start();
    let plain = start(None);
    let (plain_rss, _) = flood(&plain, "/", N);
    drop(plain);
    let guarded = start(Some(json!({"clientIp": {"trustedProxies": ["127.0.0.2/32"]}})));
    let (guarded_rss, statuses) = flood(&guarded, "/", N);
    println!(
        "Traefik RSS after {N} x 1 MiB X-Forwarded-For: {plain_rss} KiB without EdgeGuard, {guarded_rss} KiB with"
    );
    let refused = statuses.iter().filter(|s| **s == 431).count();
    assert_eq!(refused, N, "every overlong chain gets 431: {statuses:?}");
    assert!(
        guarded_rss <= plain_rss + 64 * 1024,
        "EdgeGuard's route: {guarded_rss} KiB, more than 64 MiB above the plain route's {plain_rss} KiB"
    );
}
