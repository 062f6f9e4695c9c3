//! Geo headers through real Traefik with a mounted test database (issue #4).
//! Databases live in a per-test directory mounted into the plugin at `/geo`
//! (Traefik's `settings.mounts`), so tests can replace them while Traefik runs.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;

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

fn city_and_asn() -> serde_json::Value {
    json!({"database": "/geo/GeoLite2-City-Test.mmdb", "asnDatabase": "/geo/GeoLite2-ASN-Test.mmdb"})
}

#[test]
fn ipv4_and_ipv6_clients_through_a_trusted_proxy_get_geo_headers() {
    let dir = tempfile::tempdir().unwrap();
    let t = start_with_geo(dir.path(), city_and_asn());
    let v4 = t.get_from(PROXY, "/", &[("X-Forwarded-For", "203.0.113.10, 10.0.0.9")]);
    assert_eq!(v4.status, 200, "{v4:?}\n{}", t.log());
    for (name, want) in [
        ("x-real-ip", "203.0.113.10"),
        ("x-geo-country", "SE"),
        ("x-geo-continent", "EU"),
        ("x-geo-region", "E"),
        ("x-geo-city", "Link%C3%B6ping"),
        ("x-geo-postal-code", "582 22"),
        ("x-geo-latitude", "58.4109"),
        ("x-geo-longitude", "15.6216"),
        ("x-geo-accuracy-radius", "20"),
        ("x-geo-time-zone", "Europe/Stockholm"),
        ("x-geo-asn", "64496"),
    ] {
        assert_eq!(v4.upstream_one(name).as_deref(), Some(want), "{name}: {v4:?}");
    }
    let v6 = t.get_from(PROXY, "/", &[("X-Forwarded-For", "[2001:db8:2::1]:443")]);
    assert_eq!(v6.upstream_one("x-geo-country").as_deref(), Some("BR"), "{v6:?}");
    assert_eq!(v6.upstream_one("x-geo-city").as_deref(), Some("S%C3%A3o Paulo"), "{v6:?}");
    assert_eq!(v6.upstream_one("x-geo-asn").as_deref(), Some("64499"), "{v6:?}");
}

#[test]
fn client_sent_geo_headers_never_pass() {
    let dir = tempfile::tempdir().unwrap();
    let t = start_with_geo(dir.path(), city_and_asn());
    let spoof = [("X-Geo-Country", "US"), ("X_Geo_City", "Springfield"), ("X-Geo-ASN", "1")];
    // Untrusted peer, not in the database: no geo header at all.
    let direct = t.get_from("127.0.0.3", "/", &spoof);
    for name in ["x-geo-country", "x_geo_city", "x-geo-asn"] {
        assert_eq!(direct.upstream_one(name), None, "{name}: {direct:?}");
    }
    // Trusted chain to an address without data: the spoofed values are gone too.
    let mut headers = spoof.to_vec();
    headers.push(("X-Forwarded-For", "10.1.2.3"));
    let unknown = t.get_from(PROXY, "/", &headers);
    assert_eq!(unknown.upstream_one("x-real-ip").as_deref(), Some("10.1.2.3"), "{unknown:?}");
    assert_eq!(unknown.upstream_one("x-geo-country"), None, "{unknown:?}");
    // Trusted chain to a known address: EdgeGuard's value replaces the spoofed one.
    headers.pop();
    headers.push(("X-Forwarded-For", "203.0.113.10"));
    let known = t.get_from(PROXY, "/", &headers);
    assert_eq!(known.upstream_header("x-geo-country"), vec!["SE".to_string()], "{known:?}");
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
fn database_replaced_while_running_is_reloaded_and_a_broken_one_is_rejected() {
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

    replace(&db, b"this is not a MaxMind database");
    std::thread::sleep(Duration::from_millis(2500));
    for _ in 0..20 {
        assert_eq!(country_now(&t).as_deref(), Some("NO"), "a broken replacement must keep the old database");
    }
    assert!(t.log().contains("rejected new file"), "the rejection is not logged:\n{}", t.log());
}

#[test]
fn missing_database_with_on_error_fail_answers_503_and_logs_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let t = start_with_geo(dir.path(), json!({"database": "/geo/absent.mmdb", "onError": "fail"}));
    let reply = t.get_from(PROXY, "/", &[("X-Forwarded-For", "203.0.113.10")]);
    assert_eq!(reply.status, 503, "{reply:?}");
    assert!(t.log().contains("/geo/absent.mmdb"), "{}", t.log());
}

#[test]
fn missing_database_with_default_on_error_skips_geo_but_still_strips() {
    let dir = tempfile::tempdir().unwrap();
    let t = start_with_geo(dir.path(), json!({"database": "/geo/absent.mmdb"}));
    let reply = t.get_from(PROXY, "/", &[("X-Forwarded-For", "203.0.113.10"), ("X-Geo-Country", "US")]);
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.upstream_one("x-geo-country"), None, "{reply:?}");
    assert_eq!(reply.upstream_one("x-real-ip").as_deref(), Some("203.0.113.10"));
}
