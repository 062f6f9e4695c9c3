//! The `edgeguard` CLI runs the same pipeline as the plugin.

use std::process::Command;

fn edgeguard(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_edgeguard")).args(args).output().expect("run edgeguard");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

fn config_file(text: &str) -> tempfile::NamedTempFile {
    let file = tempfile::Builder::new().suffix(".yaml").tempfile().unwrap();
    std::fs::write(file.path(), text).unwrap();
    file
}

#[test]
fn explain_prints_client_trace_and_edits() {
    let cfg = config_file("clientIp:\n  trustedProxies: [10.0.0.0/8]\n");
    let path = cfg.path().to_str().unwrap();
    let (ok, out, err) = edgeguard(&[
        "explain",
        "--config",
        path,
        "--peer",
        "10.0.0.1:4000",
        "-H",
        "X-Forwarded-For: 198.51.100.1, 203.0.113.7, 10.0.0.2",
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("client: 203.0.113.7\n"), "{out}");
    assert!(out.contains("stop=untrusted-hop"), "{out}");
    assert!(out.contains("set    X-Real-IP: 203.0.113.7\n"), "{out}");
    assert!(out.contains("set    X-Original-Forwarded-For: 198.51.100.1, 203.0.113.7, 10.0.0.2\n"), "{out}");
}

#[test]
fn explain_untrusted_peer_lists_stripped_headers() {
    let cfg = config_file("{\"clientIp\": {\"trustedProxies\": [\"10.0.0.0/8\"]}}");
    let (ok, out, _) = edgeguard(&[
        "explain",
        "--config",
        cfg.path().to_str().unwrap(),
        "--peer",
        "192.0.2.1",
        "-H",
        "X-Forwarded-For: 203.0.113.7",
        "-H",
        "True-Client-IP: 203.0.113.7",
    ]);
    assert!(ok);
    assert!(out.contains("client: 192.0.2.1\n") && out.contains("remove True-Client-IP\n"), "{out}");
    // Only headers that arrived are removed: the strip list costs nothing otherwise.
    assert!(!out.contains("remove CF-Connecting-IP"), "{out}");
}

#[test]
fn check_names_file_and_field() {
    let cfg = config_file("clientIp:\n  trustedProxies: [10.0.0.0/8]\n  maxHop: 3\n");
    let (ok, _, err) = edgeguard(&["check", "--config", cfg.path().to_str().unwrap()]);
    assert!(!ok);
    assert!(err.contains(cfg.path().to_str().unwrap()) && err.contains("`clientIp.maxHop`"), "{err}");
}

#[test]
fn lookup_prints_the_geo_headers_for_each_address() {
    let db = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/geo/GeoLite2-City-Test.mmdb");
    let asn = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/geo/GeoLite2-ASN-Test.mmdb");
    let (ok, out, err) =
        edgeguard(&["lookup", "--db", db, "--asn-db", asn, "203.0.113.10", "[2001:db8:2::1]:443"]);
    assert!(ok, "{err}");
    assert!(out.contains("203.0.113.10\n  X-Geo-DB: GeoLite2-City; build=2025-01-01T00:00:00Z"), "{out}");
    assert!(out.contains("  X-Geo-City: Link%C3%B6ping\n") && out.contains("  X-Geo-ASN: 64496\n"), "{out}");
    assert!(out.contains("2001:db8:2::1\n") && out.contains("  X-Geo-City: S%C3%A3o Paulo\n"), "{out}");
    let (ok, _, err) = edgeguard(&["lookup", "--db", "/does/not/exist.mmdb", "192.0.2.1"]);
    assert!(!ok && err.contains("/does/not/exist.mmdb"), "{err}");
}
