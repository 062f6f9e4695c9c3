//! Reload: SIGHUP with a broken config keeps the running one (and says why,
//! with the field path); a good config is applied, by SIGHUP or by the file
//! changing. SIGTERM stops the process cleanly.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::harness::{Sidecar, echo};

fn wait_until(what: &str, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < Duration::from_secs(20), "{what} not seen within 20 s");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn sighup_with_a_broken_config_keeps_serving_the_old_one() {
    let upstream = format!("http://{}", echo());
    let sidecar =
        Sidecar::start(json!({"server": {"upstream": upstream}, "clientIp": {"header": "X-Real-IP"}}));
    let listen = sidecar.addr.to_string();
    let admin = sidecar.admin.to_string();
    assert_eq!(sidecar.get("/", &[]).upstream_one("x-real-ip").as_deref(), Some("127.0.0.1"));

    // Broken: an out-of-range value. YAML this time.
    let broken = format!(
        "server:\n  upstream: {upstream}\n  listen: {listen}\n  adminListen: {admin}\nclientIp:\n  header: X-Client\n  maxHops: 0\n"
    );
    std::fs::write(sidecar.config_path(), broken).unwrap();
    sidecar.signal("HUP");
    wait_until("the refusal in the log", || sidecar.log().contains("clientIp.maxHops"));
    let log = sidecar.log();
    let line = log.lines().find(|l| l.contains("clientIp.maxHops")).unwrap();
    assert!(line.contains("\"level\":\"ERROR\"") && line.contains("running config stays"), "{line}");
    let reply = sidecar.get("/", &[]);
    assert_eq!(reply.status, 200);
    assert_eq!(reply.upstream_one("x-real-ip").as_deref(), Some("127.0.0.1"), "old config still in use");
    assert_eq!(reply.upstream_one("x-client"), None);
    assert!(sidecar.metric(r#"edgeguard_config_reloads_total{result="failure"}"#) >= 1.0);

    // Good: applied by SIGHUP.
    let good = json!({
        "server": {"upstream": upstream, "listen": listen, "adminListen": admin},
        "clientIp": {"header": "X-Client"},
    });
    std::fs::write(sidecar.config_path(), good.to_string()).unwrap();
    sidecar.signal("HUP");
    wait_until("the new header", || sidecar.get("/", &[]).upstream_one("x-client").is_some());
    assert!(sidecar.metric(r#"edgeguard_config_reloads_total{result="success"}"#) >= 1.0);

    // Good again, picked up from the file change alone (no signal).
    let polled = json!({
        "server": {"upstream": upstream, "listen": listen, "adminListen": admin},
        "clientIp": {"header": "X-Polled-Client"},
    });
    std::fs::write(sidecar.config_path(), polled.to_string()).unwrap();
    wait_until("the polled header", || sidecar.get("/", &[]).upstream_one("x-polled-client").is_some());

    sidecar.signal("TERM");
    wait_until("the shutdown line", || sidecar.log().contains("all connections closed"));
}
