//! Geo and maintenance through the sidecar behave as in the plugin
//! (tests/e2e/geo.rs, tests/e2e/maintenance.rs: same addresses, same values).

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::{Sidecar, echo};
use crate::support::geo_expected::{SE_CLIENT, SE_CLIENT_OPT_IN};

const TESTDATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/geo");

fn start(extra: Value) -> Sidecar {
    let mut config = json!({
        "server": {"upstream": format!("http://{}", echo())},
        "clientIp": {"trustedProxies": ["127.0.0.1/32", "10.0.0.0/8"]},
    });
    config.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    Sidecar::start(config)
}

#[test]
fn geo_headers_for_ipv4_and_ipv6_clients_and_spoofs_removed() {
    // Every opt-in field switched on too (issue #14: off by default).
    let opt_in: serde_json::Map<String, Value> =
        SE_CLIENT_OPT_IN.iter().map(|&(key, name, _)| (key.to_string(), json!(name))).collect();
    let sidecar = start(json!({"geo": {
        "database": format!("{TESTDATA}/GeoLite2-City-Test.mmdb"),
        "asnDatabase": format!("{TESTDATA}/GeoLite2-ASN-Test.mmdb"),
        "headers": opt_in,
    }}));
    let v4 = sidecar.get("/", &[("X-Forwarded-For", "203.0.113.10, 10.0.0.9"), ("X-Geo-Country", "US")]);
    assert_eq!(v4.status, 200, "{v4:?}");
    for (name, want) in SE_CLIENT.iter().copied().chain(SE_CLIENT_OPT_IN.iter().map(|&(_, n, v)| (n, v))) {
        assert_eq!(v4.upstream_one(name).as_deref(), Some(want), "{name}: {v4:?}");
    }
    let v6 = sidecar.get("/", &[("X-Forwarded-For", "[2001:db8:2::1]:443")]);
    assert_eq!(v6.upstream_one("x-geo-country").as_deref(), Some("BR"), "{v6:?}");
    assert_eq!(v6.upstream_one("x-geo-city").as_deref(), Some("S%C3%A3o Paulo"), "{v6:?}");
    assert_eq!(v6.upstream_one("x-geo-asn").as_deref(), Some("64499"), "{v6:?}");
    let unknown = sidecar.get("/", &[("X-Forwarded-For", "10.1.2.3"), ("X_Geo_City", "Springfield")]);
    assert_eq!(unknown.upstream_one("x-geo-country"), None, "{unknown:?}");
    assert_eq!(unknown.upstream_one("x_geo_city"), None, "{unknown:?}");

    assert_eq!(sidecar.metric(r#"edgeguard_geo_lookups_total{result="hit"}"#), 2.0);
    assert_eq!(sidecar.metric(r#"edgeguard_geo_lookups_total{result="miss"}"#), 1.0);
    let (_, metrics) = sidecar.admin_get("/metrics");
    assert!(metrics.contains("edgeguard_geo_database_build_epoch_seconds{database="), "{metrics}");
    assert!(metrics.contains("edgeguard_geo_database_age_seconds{database="), "{metrics}");
}

fn wait_for_status(sidecar: &Sidecar, want: u16) {
    let start = Instant::now();
    loop {
        let status = sidecar.get("/", &[]).status;
        assert!(status == 200 || status == 503, "unexpected status {status} while toggling");
        if status == want {
            return;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "status {want} not seen within 10 s");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn maintenance_flag_file_bypasses_and_health_paths() {
    let flags = tempfile::tempdir().unwrap();
    let flag = flags.path().join("maintenance");
    let sidecar = start(json!({"maintenance": {
        "flagFile": flag.display().to_string(),
        "checkInterval": "1s",
        "retryAfter": "120",
        "debugHeaders": true,
        "allow": {"paths": ["/healthz"], "cidrs": ["203.0.113.0/24"]},
    }}));
    assert_eq!(sidecar.get("/", &[]).status, 200, "no flag file: serving");
    std::fs::write(&flag, "on\n").unwrap();
    wait_for_status(&sidecar, 503);
    let page = sidecar.get("/", &[("Accept", "application/json")]);
    assert_eq!(page.status, 503);
    assert_eq!(page.headers.get("retry-after").map(String::as_str), Some("120"));
    assert_eq!(serde_json::from_str::<Value>(&page.body).unwrap()["error"], "maintenance");
    assert_eq!(sidecar.get("/healthz", &[]).status, 200, "health checks stay served");
    let operator = sidecar.get("/", &[("X-Forwarded-For", "203.0.113.10")]);
    assert_eq!(operator.status, 200, "operator bypass by resolved client: {operator:?}");
    assert_eq!(operator.headers.get("x-maintenance-bypass").map(String::as_str), Some("cidr"));
    assert!(sidecar.metric("edgeguard_maintenance_responses_total") >= 1.0);
    // Issue #16: the state as a gauge, and the change in the log.
    assert_eq!(sidecar.metric(r#"edgeguard_maintenance_active{trigger="flag_file"}"#), 1.0);
    assert_eq!(sidecar.metric(r#"edgeguard_maintenance_active{trigger="config"}"#), 0.0);
    let on = format!("edgeguard: maintenance on (flag file {})", flag.display());
    assert!(sidecar.log().contains(&on), "{}", sidecar.log());
    assert!(sidecar.metric(r#"edgeguard_requests_total{outcome="maintenance",status="503"}"#) >= 1.0);
    std::fs::remove_file(&flag).unwrap();
    wait_for_status(&sidecar, 200);
    assert_eq!(sidecar.metric(r#"edgeguard_maintenance_active{trigger="flag_file"}"#), 0.0);
    assert!(sidecar.log().contains("edgeguard: maintenance off"), "{}", sidecar.log());
}
