//! Client identity hardening (issue #13,
//! `issues show 13`) through the real
//! sidecar: each test is one reproduction of the issue. The peer is chosen
//! with a PROXY protocol header from 127.0.0.1 (as in client_ip.rs): 10.0.0.1
//! is the trusted proxy that appended the client to `X-Forwarded-For`,
//! 192.0.2.10 an untrusted client. The sidecar appends the peer to
//! `X-Forwarded-For` after EdgeGuard, as Traefik's proxy does.

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use edgeguard::signing::Verified;
use http_body_util::Empty;
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

use crate::harness::{Sidecar, echo, proxy_header, rt};
use crate::support::client::Reply;
use crate::support::geo_expected::SE_CLIENT;
use crate::support::managed::{ISSUE_ALIASES, MANAGED, aliases_among};

const PROXY: &str = "10.0.0.1";
const STRANGER: &str = "192.0.2.10";
/// The documented test client with geo data (SE).
const CLIENT: &str = "203.0.113.10";
const OFFICE: &str = "192.0.2.44";
const CLAIM: &str = "6.6.6.6";
const TESTDATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/geo");
const KEY_ENV: &str = "EDGEGUARD_TEST_SIGNING_KEY";
const KEY: &str = "sidecar-signing-key-0123456789abcdefghijklmnopq";
const TOKEN_ENV: &str = "EDGEGUARD_TEST_BYPASS";
const TOKEN: &str = "correct-horse-battery-staple";

fn city() -> String {
    format!("{TESTDATA}/GeoLite2-City-Test.mmdb")
}

/// A sidecar behind a PROXY-protocol load balancer on 127.0.0.1, with
/// `extra` sections (clientIp defaults to trusting 10.0.0.0/8).
fn start(extra: Value) -> Sidecar {
    let mut config = json!({
        "server": {"upstream": format!("http://{}", echo()), "proxyProtocol": {"trustedIps": ["127.0.0.1/32"]}},
        "clientIp": {"trustedProxies": ["10.0.0.0/8"], "traceHeader": "X-EdgeGuard-Trace"},
    });
    config.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    Sidecar::start_with_env(config, &[(KEY_ENV, KEY), (TOKEN_ENV, TOKEN)])
}

/// `GET path` from `peer` (announced in a PROXY v1 header).
fn get_from(sidecar: &Sidecar, peer: &str, path: &str, headers: &[(&str, &str)]) -> Reply {
    let source = SocketAddr::new(peer.parse().unwrap(), 40000);
    sidecar.request(Some(proxy_header(source, false)), "GET", path, headers)
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

/// Verifies the signature the echo backend received.
fn verified(reply: &Reply) -> Verified {
    crate::support::signed::verified(reply, KEY)
}

/// Runs `edgeguard serve` with `config` and expects it to refuse to start;
/// its stderr.
fn refused(config: Value) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("edgeguard.yaml");
    std::fs::write(&path, serde_json::to_string_pretty(&config).unwrap()).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_edgeguard"))
        .args(["serve", "--config"])
        .arg(&path)
        .env(KEY_ENV, KEY)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("stderr.log")).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("edgeguard serve accepted {config}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stderr = std::fs::read_to_string(dir.path().join("stderr.log")).unwrap_or_default();
    assert!(!status.success(), "{config}: exit {status}, {stderr}");
    stderr
}

/// One h2c (prior knowledge) request without a Host header: the authority
/// travels in the `:authority` pseudo-header only.
fn h2c_get(sidecar: &Sidecar, uri: &str, headers: &[(&str, &str)]) -> Reply {
    let addr = sidecar.addr;
    let mut req = Request::get(uri);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let req = req.body(Empty::<Bytes>::new()).unwrap();
    rt().block_on(async move {
        let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (mut sender, conn) =
            hyper::client::conn::http2::handshake(hyper_util::rt::TokioExecutor::new(), TokioIo::new(stream))
                .await
                .unwrap();
        tokio::spawn(conn);
        crate::support::client::reply(sender.send_request(req).await.unwrap()).await.unwrap()
    })
}

// Issue #13 (1): a `Forwarded` header the proxy never wrote picked the client,
// its geo and its CIDR bypass.
#[test]
fn issue13_forwarded_from_client_behind_proxy_never_decides() {
    let sidecar = start(json!({"geo": {"database": city()}}));
    for forwarded in [format!("for={CLAIM}"), "for=unknown".into(), "proto=https".into(), "for=\"\"".into()] {
        let reply = get_from(&sidecar, PROXY, "/", &[("X-Forwarded-For", CLIENT), ("Forwarded", &forwarded)]);
        assert_eq!(reply.status, 200, "{forwarded}: {reply:?}");
        assert_eq!(reply.upstream_one("x-real-ip").as_deref(), Some(CLIENT), "{forwarded}: {reply:?}");
        assert_eq!(reply.upstream_one("x-geo-country").as_deref(), Some("SE"), "{forwarded}: {reply:?}");
        assert_eq!(reply.upstream_one("forwarded"), None, "{forwarded}: {reply:?}");
        assert!(!reply.body.contains(CLAIM), "{forwarded}: {}", reply.body);
    }
    drop(sidecar);

    let maintenance = start(json!({"maintenance": {"enabled": true, "allow": {"cidrs": ["192.0.2.0/24"]}}}));
    let office = get_from(&maintenance, PROXY, "/", &[("X-Forwarded-For", OFFICE)]);
    assert_eq!(office.status, 200, "control: the office passes: {office:?}");
    let headers = [("X-Forwarded-For", "198.51.100.7"), ("Forwarded", "for=192.0.2.44")];
    let spoof = get_from(&maintenance, PROXY, "/", &headers);
    assert_eq!(spoof.status, 503, "a client's Forwarded bypassed maintenance: {spoof:?}");
}

// Issue #13 (2): an overlong chain is refused with 431, not parsed from the
// wrong end; a 900-hop chain under the limit is walked from the right.
#[test]
fn issue13_overlong_chain_is_refused_and_long_chain_walked() {
    let sidecar = start(json!({"geo": {"database": city()}}));
    let overlong = chain_of(9000, "203.0.113.9");
    let reply = get_from(&sidecar, PROXY, "/", &[("X-Forwarded-For", &overlong)]);
    assert_eq!(reply.status, 431, "{} bytes: {} {:.300}", overlong.len(), reply.status, reply.body);
    assert!(!reply.body.contains("\"headers\""), "reached the backend: {:.300}", reply.body);

    let long = format!("{}{CLIENT}", "1.1.1.1,".repeat(900));
    assert!(long.len() < 8192);
    let reply = get_from(&sidecar, PROXY, "/", &[("X-Forwarded-For", &long)]);
    assert_eq!(reply.status, 200, "{:.300}", reply.body);
    assert_eq!(reply.upstream_one("x-real-ip").as_deref(), Some(CLIENT), "{:.400}", reply.body);
    assert_eq!(reply.upstream_one("x-geo-country").as_deref(), Some("SE"), "{:.400}", reply.body);
}

// Issue #13 (3): aliases reached the backend (werkzeug `ProxyFix` behind the
// sidecar read `X.Real.IP` as REMOTE_ADDR). Removed from every peer.
#[test]
fn issue13_alias_spellings_never_reach_the_backend() {
    let sidecar = start(json!({"geo": {"database": city()}, "signing": {"secretEnv": KEY_ENV}}));
    let mixed: Vec<String> =
        MANAGED.iter().map(|n| n.replacen('-', ".", 1).replacen('-', "_", 1).to_ascii_uppercase()).collect();
    let mut headers: Vec<(&str, &str)> = ISSUE_ALIASES.iter().map(|n| (*n, CLAIM)).collect();
    headers.extend(mixed.iter().map(|n| (n.as_str(), CLAIM)));
    headers.push(("X-Forwarded-For", CLIENT));
    for peer in [PROXY, STRANGER] {
        let reply = get_from(&sidecar, peer, "/", &headers);
        assert_eq!(reply.status, 200, "{peer}: {reply:?}");
        let names = reply.upstream_names();
        let aliases = aliases_among(names.iter().map(String::as_str), MANAGED);
        assert!(aliases.is_empty(), "{peer}: aliases reached the backend: {aliases:?}");
        assert!(!reply.body.contains(CLAIM), "{peer}: {}", reply.body);
    }
}

// Issue #13 (4): an untrusted peer's claim was passed on as a chain (raw, even `<script>`).
#[test]
fn issue13_untrusted_peer_chain_is_not_handed_on() {
    let sidecar = start(json!({}));
    for xff in [CLAIM, "<script>alert(1)</script>", "6.6.6.6, 203.0.113.10"] {
        let reply = get_from(
            &sidecar,
            STRANGER,
            "/",
            &[("X-Forwarded-For", xff), ("X-Original-Forwarded-For", "<script>")],
        );
        assert_eq!(reply.status, 200, "{reply:?}");
        assert_eq!(reply.upstream_one("x-real-ip").as_deref(), Some(STRANGER), "{xff}: {reply:?}");
        assert_eq!(reply.upstream_one("x-original-forwarded-for"), None, "{xff}: {reply:?}");
        // Only the peer, appended by the sidecar's proxy after EdgeGuard.
        assert_eq!(reply.upstream_one("x-forwarded-for").as_deref(), Some(STRANGER), "{xff}: {reply:?}");
        assert!(!reply.body.contains(CLAIM) && !reply.body.contains("<script>"), "{xff}: {}", reply.body);
    }
}

// Issue #13 (5): `X-Geo-DB: fake` passed when `dbInfoHeader` is off.
#[test]
fn issue13_client_sent_geo_db_header_is_removed_with_db_info_off() {
    let sidecar = start(json!({"geo": {"database": city()}}));
    for peer in [PROXY, STRANGER] {
        let reply = get_from(&sidecar, peer, "/", &[("X-Forwarded-For", CLIENT), ("X-Geo-DB", "fake")]);
        assert_eq!(reply.upstream_one("x-geo-db"), None, "{peer}: {reply:?}");
    }
}

// Issue #13 (5): the maintenance bypass cookie was forwarded to the backend.
#[test]
fn issue13_bypass_cookie_is_removed_from_cookie() {
    let sidecar = start(json!({"maintenance": {
        "enabled": true,
        "allow": {"token": {"cookie": "eg_bypass", "secretEnv": TOKEN_ENV}},
    }}));
    let cookie = format!("a=1; eg_bypass={TOKEN}; b=2");
    let reply = get_from(&sidecar, PROXY, "/", &[("X-Forwarded-For", "198.51.100.7"), ("Cookie", &cookie)]);
    assert_eq!(reply.status, 200, "the token cookie lets the operator through: {reply:?}\n{}", sidecar.log());
    assert!(!reply.body.contains(TOKEN), "the bypass secret reached the backend: {}", reply.body);
    let cookies = reply.upstream_header("cookie").join("; ");
    let kept: Vec<&str> = cookies.split(';').map(str::trim).filter(|c| !c.is_empty()).collect();
    assert_eq!(kept, ["a=1", "b=2"], "the other cookies are kept: {reply:?}");
}

// Issue #13 (5): a split trust-all, two chain sources, and a signed header no
// stage can set were accepted; the sidecar refuses to start, naming the field.
#[test]
fn issue13_config_refusals_name_the_field() {
    let upstream = format!("http://{}", echo());
    let cases = [
        (json!({"clientIp": {"trustedProxies": ["0.0.0.0/2", "64.0.0.0/2"]}}), "clientIp.trustedProxies[1]"),
        (json!({"clientIp": {"trustedProxies": ["2000::/4", "3000::/4"]}}), "clientIp.trustedProxies[1]"),
        (json!({"clientIp": {"sources": ["X-Forwarded-For", "Forwarded"]}}), "clientIp.sources[1]"),
        (
            json!({"geo": {"database": city()}, "signing": {"secretEnv": KEY_ENV, "headers": ["X-Geo-ASN"]}}),
            "signing.headers[0]",
        ),
    ];
    for (mut config, field) in cases {
        config["server"] =
            json!({"upstream": upstream, "listen": "127.0.0.1:0", "adminListen": "127.0.0.1:0"});
        let stderr = refused(config.clone());
        assert!(stderr.contains(field), "{config}: the error does not name {field}: {stderr}");
    }
    // allowTrustAll: true is the explicit opt-in.
    let allowed = Sidecar::start(json!({
        "server": {"upstream": upstream},
        "clientIp": {"trustedProxies": ["0.0.0.0/1", "128.0.0.0/1"], "allowTrustAll": true},
    }));
    assert_eq!(allowed.get("/", &[]).status, 200);
}

// Issue #13 (5) and "unknown is not the proxy": IPv4 with a zone, a quoted
// token and port 0 are invalid hops; the client is unknown, gets no geo, the
// trace says why and the metrics count it.
#[test]
fn issue13_invalid_hops_leave_the_client_unknown() {
    let sidecar = start(json!({"geo": {"database": city()}}));
    let chains = [
        format!("{CLIENT}%evil"),
        format!("\"{CLIENT}\""),
        format!("{CLIENT}:0"),
        format!("{CLIENT}, unknown"),
    ];
    for chain in &chains {
        let reply = get_from(&sidecar, PROXY, "/", &[("X-Forwarded-For", chain)]);
        assert_eq!(reply.status, 200, "{chain}: {reply:?}");
        // nginx realip's answer: the nearest trusted hop, here the peer.
        assert_eq!(reply.upstream_one("x-real-ip").as_deref(), Some(PROXY), "{chain}: {reply:?}");
        assert_eq!(geo_names(&reply), Vec::<String>::new(), "{chain}: geo for an unknown client");
        let trace = reply.upstream_one("x-edgeguard-trace").unwrap_or_default();
        assert!(trace.contains("client=unknown") && trace.contains("stop=invalid-hop"), "{chain}: {trace}");
    }
    let control = get_from(&sidecar, PROXY, "/", &[("X-Forwarded-For", &format!("{CLIENT}:0080"))]);
    assert_eq!(control.upstream_one("x-real-ip").as_deref(), Some(CLIENT), "{control:?}");
    let unknown = sidecar.metric(r#"edgeguard_client_ip_resolutions_total{resolution="unknown"}"#);
    assert_eq!(unknown, chains.len() as f64, "{}", sidecar.admin_get("/metrics").1);
}

// Issue #13: an unknown client never matches `allow.cidrs` (the load balancer's
// own range included), gets no geo, and X-Real-IP is not in the signature's `h=`.
#[test]
fn issue13_unknown_client_gets_no_geo_no_bypass_and_no_signed_client_ip() {
    // 203.0.113.0/24 is trusted, so nginx realip's answer can be an address with geo data.
    let client_ip = json!({"trustedProxies": ["10.0.0.0/8", "203.0.113.0/24"], "maxHops": 2, "traceHeader": "X-EdgeGuard-Trace"});
    let unknown_chains = [
        (format!("198.51.100.7, junk, {CLIENT}"), Some(CLIENT)),
        (format!("{OFFICE}, unknown"), Some(PROXY)),
        ("203.0.113.11, 203.0.113.12, 203.0.113.13".to_string(), None),
        (String::new(), Some(PROXY)),
    ];
    let headers_for = |chain: &str| -> Vec<(&'static str, String)> {
        if chain.is_empty() { vec![] } else { vec![("X-Forwarded-For", chain.to_string())] }
    };

    let signed =
        start(json!({"clientIp": client_ip, "geo": {"database": city()}, "signing": {"secretEnv": KEY_ENV}}));
    let known = get_from(&signed, PROXY, "/", &[("X-Forwarded-For", CLIENT)]);
    for &(name, want) in SE_CLIENT.iter().filter(|(n, _)| *n != "x-geo-asn") {
        assert_eq!(known.upstream_one(name).as_deref(), Some(want), "control, {name}: {known:?}");
    }
    assert_eq!(verified(&known).get("x-real-ip"), Some(CLIENT), "control: {known:?}");
    for (chain, real_ip) in &unknown_chains {
        let headers = headers_for(chain);
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let reply = get_from(&signed, PROXY, "/", &headers);
        assert_eq!(reply.status, 200, "{chain:?}: {reply:?}");
        if let Some(real_ip) = real_ip {
            assert_eq!(reply.upstream_one("x-real-ip").as_deref(), Some(*real_ip), "{chain:?}: {reply:?}");
        }
        assert_eq!(geo_names(&reply), Vec::<String>::new(), "{chain:?}: geo for an unknown client");
        let trace = reply.upstream_one("x-edgeguard-trace").unwrap_or_default();
        assert!(trace.contains("client=unknown"), "{chain:?}: {trace}");
        assert_eq!(
            verified(&reply).get("x-real-ip"),
            None,
            "{chain:?}: X-Real-IP signed for an unknown client"
        );
    }
    drop(signed);

    let maintenance = start(json!({"clientIp": client_ip, "maintenance": {
        "enabled": true,
        "allow": {"cidrs": ["192.0.2.0/24", "203.0.113.0/24", "10.0.0.0/8"]},
    }}));
    assert_eq!(get_from(&maintenance, PROXY, "/", &[("X-Forwarded-For", OFFICE)]).status, 200, "control");
    assert_eq!(get_from(&maintenance, PROXY, "/", &[("X-Forwarded-For", CLIENT)]).status, 200, "control");
    for (chain, _) in &unknown_chains {
        let headers = headers_for(chain);
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let reply = get_from(&maintenance, PROXY, "/", &headers);
        assert_eq!(reply.status, 503, "{chain:?}: an unknown client matched allow.cidrs: {reply:?}");
    }
}

// Issue #13 (5): the sidecar signed an empty host for h2c requests (there is no
// Host header, only `:authority`), so the signature never verified; the host
// bypass missed them too.
#[test]
fn issue13_h2c_requests_are_signed_and_host_bypassed_with_their_authority() {
    let upstream = format!("http://{}", echo());
    let signed = Sidecar::start_with_env(
        json!({
            "server": {"upstream": upstream},
            "clientIp": {"trustedProxies": ["127.0.0.1/32"]},
            "signing": {"secretEnv": KEY_ENV},
        }),
        &[(KEY_ENV, KEY)],
    );
    let reply = h2c_get(&signed, "http://app.example/h2?x=1", &[("x-forwarded-for", CLIENT)]);
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.upstream_one("host").as_deref(), Some("app.example"), "{reply:?}");
    let ok = verified(&reply);
    assert_eq!(ok.get("x-real-ip"), Some(CLIENT), "{ok:?}");

    let maintenance = Sidecar::start(json!({
        "server": {"upstream": upstream},
        "clientIp": {"trustedProxies": ["127.0.0.1/32"]},
        "maintenance": {"enabled": true, "allow": {"hosts": ["ops.example"]}},
    }));
    assert_eq!(h2c_get(&maintenance, "http://www.example/", &[]).status, 503, "control");
    let ops = h2c_get(&maintenance, "http://ops.example/", &[]);
    assert_eq!(ops.status, 200, "the host bypass must see the h2c authority: {ops:?}");
}
