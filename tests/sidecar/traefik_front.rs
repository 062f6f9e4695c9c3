//! Real Traefik in front of the sidecar, configured as a Traefik 2.x user
//! would (no plugin; the entrypoint's `forwardedHeaders.trustedIPs` names the
//! load balancer in front). Traefik appends its peer to `X-Forwarded-For`;
//! the sidecar trusts Traefik (127.0.0.1) and the load balancer (127.0.0.2)
//! and hands the application the client's `X-Real-IP` and geo headers.
//!
//! Needs `EDGEGUARD_TRAEFIK` (`cargo xtask test` sets it); without it the
//! test prints a notice and passes.

use std::net::{IpAddr, SocketAddr};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::harness::{Sidecar, echo, rt};
use crate::support::client::{Reply, send};

const LOAD_BALANCER: &str = "127.0.0.2";
const STRANGER: &str = "127.0.0.3";
const TESTDATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/geo");

#[test]
fn traefik_without_plugin_in_front_of_the_sidecar() {
    let Ok(traefik) = std::env::var("EDGEGUARD_TRAEFIK") else {
        println!(
            "EDGEGUARD_TRAEFIK is not set: skipped (run `cargo xtask test` for the Traefik-in-front test)"
        );
        return;
    };
    let sidecar = Sidecar::start(json!({
        "server": {"upstream": format!("http://{}", echo())},
        "clientIp": {"trustedProxies": ["127.0.0.1/32", "127.0.0.2/32"]},
        "geo": {"database": format!("{TESTDATA}/GeoLite2-City-Test.mmdb")},
    }));

    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dynamic = json!({"http": {
        "routers": {"app": {"rule": "PathPrefix(`/`)", "service": "app"}},
        "services": {"app": {"loadBalancer": {"servers": [{"url": format!("http://{}", sidecar.addr)}]}}},
    }});
    let static_cfg = json!({
        "global": {"checkNewVersion": false, "sendAnonymousUsage": false},
        "entryPoints": {"web": {
            "address": format!("127.0.0.1:{port}"),
            "forwardedHeaders": {"trustedIPs": [format!("{LOAD_BALANCER}/32")]},
        }},
        "providers": {"file": {"filename": dir.path().join("dynamic.yml")}},
        "log": {"level": "INFO", "noColor": true, "filePath": dir.path().join("traefik.log")},
    });
    std::fs::write(dir.path().join("dynamic.yml"), dynamic.to_string()).unwrap();
    std::fs::write(dir.path().join("traefik.yml"), static_cfg.to_string()).unwrap();
    let mut child = Command::new(&traefik)
        .arg(format!("--configFile={}", dir.path().join("traefik.yml").display()))
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {traefik}: {e}"));
    let entry = SocketAddr::from(([127, 0, 0, 1], port));
    let get = |source: &str, headers: &[(&str, &str)]| -> std::io::Result<Reply> {
        rt().block_on(send(Some(source.parse::<IpAddr>().unwrap()), entry, "GET", "/", headers))
    };
    let log = || std::fs::read_to_string(dir.path().join("traefik.log")).unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !get("127.0.0.1", &[]).is_ok_and(|r| r.status == 200) {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("traefik exited ({status}):\n{}", log());
        }
        assert!(Instant::now() < deadline, "traefik not routing to the sidecar within 60 s:\n{}", log());
        std::thread::sleep(Duration::from_millis(100));
    }

    // The load balancer forwards a client: Traefik keeps the chain and appends
    // the balancer; the sidecar walks it back to the client.
    let reply = get(LOAD_BALANCER, &[("X-Forwarded-For", "203.0.113.10")]).unwrap();
    let context = format!("{reply:?}\n{}", sidecar.log());
    assert_eq!(reply.status, 200, "{context}");
    assert_eq!(reply.upstream_one("x-real-ip").as_deref(), Some("203.0.113.10"), "{context}");
    assert_eq!(reply.upstream_one("x-geo-country").as_deref(), Some("SE"), "{context}");
    assert_eq!(reply.upstream_one("x-geo-city").as_deref(), Some("Link%C3%B6ping"), "{context}");
    assert_eq!(
        reply.upstream_one("x-forwarded-for").as_deref(),
        Some("203.0.113.10, 127.0.0.2, 127.0.0.1"),
        "{context}"
    );

    // A stranger's spoof: Traefik drops it at the entrypoint, the sidecar
    // resolves the stranger, and its geo (none) is not the spoofed country.
    let spoof = get(STRANGER, &[("X-Forwarded-For", "203.0.113.10"), ("X-Real-IP", "203.0.113.10")]).unwrap();
    assert_eq!(spoof.upstream_one("x-real-ip").as_deref(), Some(STRANGER), "{spoof:?}");
    assert_eq!(spoof.upstream_one("x-geo-country"), None, "{spoof:?}");

    let _ = child.kill();
    let _ = child.wait();
}
