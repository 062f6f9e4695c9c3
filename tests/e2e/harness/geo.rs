//! Geo databases replaced or missing while Traefik runs (issue #4); shared
//! cases: suite/geo.rs.
//! Databases live in a per-test directory mounted into the plugin at `/geo`
//! (Traefik's `settings.mounts`), so tests can replace them while Traefik runs.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::target::own_traefik_unavailable;
use crate::support::traefik::{Setup, Traefik};

const PROXY: &str = "127.0.0.2";
const TESTDATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/geo");

fn start_with_geo(dir: &Path, geo: serde_json::Value) -> Traefik {
    for db in ["GeoLite2-City-Test.mmdb", "GeoLite2-ASN-Test.mmdb"] {
        std::fs::copy(Path::new(TESTDATA).join(db), dir.join(db)).unwrap();
    }
    Setup::new()
        .entrypoint_trusted_ips(&["127.0.0.2/32"])
        .plugin_settings(json!({"mounts": [format!("{}:/geo", dir.display())]}))
        .router(
            "guarded",
            "/",
            Some(json!({"clientIp": {"trustedProxies": ["127.0.0.2/32", "10.0.0.0/8"]}, "geo": geo})),
        )
        .start()
}

/// A City-shaped database where 203.0.113.0/24 is in `country`.
fn database_with_country(country: &str) -> Vec<u8> {
    let mut writer = mmdb_writer::Writer::new("GeoLite2-City");
    let record = json!({"country": {"iso_code": country, "names": {"en": country}}});
    writer.insert("203.0.113.0/24".parse::<ipnet::IpNet>().unwrap(), &record).unwrap();
    writer.to_bytes().unwrap()
}

/// Replaces `path` the way deploy tools do: write aside, rename over.
fn replace(path: &Path, bytes: &[u8]) {
    let tmp = path.with_extension("new");
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn country_now(t: &Traefik) -> Option<String> {
    t.get_from(PROXY, "/", &[("X-Forwarded-For", "203.0.113.10")]).upstream_one("x-geo-country")
}

#[test]
fn database_replaced_while_running_is_reloaded_and_a_broken_one_is_dropped_by_every_instance() {
    if own_traefik_unavailable() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let t = start_with_geo(
        dir.path(),
        json!({"database": "/geo/GeoLite2-City-Test.mmdb", "reloadInterval": "1s"}),
    );
    let db = dir.path().join("GeoLite2-City-Test.mmdb");
    assert_eq!(country_now(&t).as_deref(), Some("SE"));

    replace(&db, &database_with_country("NO"));
    let replaced = Instant::now();
    while country_now(&t).as_deref() != Some("NO") {
        // reloadInterval is 1 s; the margin absorbs a loaded CI machine.
        assert!(
            replaced.elapsed() < Duration::from_secs(8),
            "new database not picked up within 8 s\n{}",
            t.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    println!("new database served {:?} after the rename (reloadInterval 1s)", replaced.elapsed());
    // Every instance must have switched after one interval.
    std::thread::sleep(Duration::from_millis(1500));
    for _ in 0..20 {
        assert_eq!(country_now(&t).as_deref(), Some("NO"));
    }

    // Instances started from now on cannot open the old file: after one
    // reloadInterval no instance may still answer from it (issue #14).
    replace(&db, b"this is not a MaxMind database");
    std::thread::sleep(Duration::from_millis(2500));
    for _ in 0..20 {
        assert_eq!(
            country_now(&t),
            None,
            "after a broken replacement every instance must agree: no geo data"
        );
    }
    assert!(t.log().contains("rejected new file"), "the rejection is not logged:\n{}", t.log());
    replace(&db, &database_with_country("SE"));
    std::thread::sleep(Duration::from_millis(2500));
    for _ in 0..20 {
        assert_eq!(country_now(&t).as_deref(), Some("SE"), "the next good file must be picked up again");
    }
}

#[test]
fn missing_database_with_on_error_fail_answers_503_and_logs_the_path() {
    if own_traefik_unavailable() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let t = start_with_geo(dir.path(), json!({"database": "/geo/absent.mmdb", "onError": "fail"}));
    let reply = t.get_from(PROXY, "/", &[("X-Forwarded-For", "203.0.113.10")]);
    assert_eq!(reply.status, 503, "{reply:?}");
    assert!(t.log().contains("/geo/absent.mmdb"), "{}", t.log());
    // Issue #16: the reason in words, not a WASI errno (`os error 44`).
    assert!(t.log().contains("no such file or directory") && !t.log().contains("os error"), "{}", t.log());
}

#[test]
fn missing_database_with_default_on_error_skips_geo_but_still_strips() {
    if own_traefik_unavailable() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let t = start_with_geo(dir.path(), json!({"database": "/geo/absent.mmdb"}));
    let reply = t.get_from(PROXY, "/", &[("X-Forwarded-For", "203.0.113.10"), ("X-Geo-Country", "US")]);
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.upstream_one("x-geo-country"), None, "{reply:?}");
    assert_eq!(reply.upstream_one("x-real-ip").as_deref(), Some("203.0.113.10"));
}
