//! Signed identity headers through real Traefik (issue #9): the key reaches the
//! plugin through `settings.envs`, the echo backend receives a signature the
//! crate's verifier accepts, and a changed or client-sent one never passes.

use std::path::Path;
use std::time::{Duration, SystemTime};

use edgeguard::signing::{RequestParts, Verified, VerifyError, verify};
use serde_json::{Value, json};

use crate::support::client::Reply;
use crate::support::target::own_traefik_unavailable;
use crate::support::traefik::{Setup, Traefik};

const PROXY: &str = "127.0.0.2";
const KEY_ENV: &str = "EDGEGUARD_TEST_SIGNING_KEY";
const KEY: &str = "e2e-signing-key-0123456789abcdefghijklmnopqrstuv";
const TESTDATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/geo");

/// Traefik with geo mounted and three routers: `/` (signing on; the harness
/// waits for it), `/plain` (EdgeGuard without signing) and `/broken` (signing
/// with a variable the plugin does not get).
fn start(dir: &Path) -> Traefik {
    std::fs::copy(Path::new(TESTDATA).join("GeoLite2-City-Test.mmdb"), dir.join("City.mmdb")).unwrap();
    let base = |signing: Value| {
        json!({
            "clientIp": {"trustedProxies": ["127.0.0.2/32"]},
            "geo": {"database": "/geo/City.mmdb"},
            "signing": signing,
        })
    };
    Setup::new()
        .entrypoint_trusted_ips(&["127.0.0.2/32"])
        .plugin_settings(json!({"mounts": [format!("{}:/geo", dir.display())], "envs": [KEY_ENV]}))
        .traefik_env(KEY_ENV, KEY)
        .router("signed", "/", Some(base(json!({"secretEnv": KEY_ENV}))))
        .router("plain", "/plain", Some(base(json!({}))))
        .router("broken", "/broken", Some(base(json!({"secretEnv": "EDGEGUARD_TEST_SIGNING_NOT_PASSED"}))))
        .start()
}

/// A change made between the edge and the verifier.
#[derive(Debug, Clone, Copy)]
enum Change<'a> {
    None,
    /// A header the backend received has another value.
    Header(&'a str, &'a str),
    /// The backend sees another request target.
    Path(&'a str),
    /// The verifier holds another key under the same id.
    Key(&'a [u8]),
}

/// Verifies what the echo backend received, after `change`.
fn verify_received(reply: &Reply, change: Change<'_>) -> Result<Verified, VerifyError> {
    let echo = reply.echoed();
    let received = |name: &str| -> Option<String> {
        if let Change::Header(changed, value) = change {
            if changed == name {
                return Some(value.to_string());
            }
        }
        let values = echo["headers"][name].as_array()?;
        Some(values.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", "))
    };
    let signature = received("x-edgeguard-signature").expect("a signature header upstream");
    let host = received("host").unwrap_or_default();
    let method = echo["method"].as_str().unwrap();
    let path = if let Change::Path(path) = change { path } else { echo["uri"].as_str().unwrap() };
    let key = if let Change::Key(key) = change { key } else { KEY.as_bytes() };
    let req = RequestParts { method, host: &host, path };
    verify(&signature, req, received, &[("k1", key)], SystemTime::now(), Duration::from_secs(300))
}

#[test]
fn backend_receives_a_signature_the_verifier_accepts() {
    if own_traefik_unavailable() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let t = start(dir.path());
    let path = "/signed/orders/42?expand=items&q=a%20b";
    let reply = t.get_from(PROXY, path, &[("X-Forwarded-For", "203.0.113.10"), ("Host", "app.example:8443")]);
    assert_eq!(reply.status, 200, "{reply:?}\n{}", t.log());
    assert_eq!(reply.echoed()["uri"], path, "the backend sees the target EdgeGuard signed");
    let ok = verify_received(&reply, Change::None).unwrap_or_else(|e| panic!("{e}: {reply:?}"));
    assert_eq!(ok.key_id, "k1");
    assert_eq!(ok.get("x-real-ip"), Some("203.0.113.10"));
    assert_eq!(ok.get("x-geo-country"), Some("SE"));
    assert_eq!(ok.get("x-geo-city"), Some("Link%C3%B6ping"));
    let names: Vec<&str> = ok.headers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names[..2], ["x-real-ip", "x-geo-country"], "{names:?}");
    assert!(!names.contains(&"x-forwarded-for"), "{names:?}");

    // IPv6 client, the harness's default Host, POST; and a direct (untrusted) client.
    let v6 = t.request("POST", PROXY, "/signed", &[("X-Forwarded-For", "2001:db8:2::1")]);
    let ok = verify_received(&v6, Change::None).unwrap_or_else(|e| panic!("{e}: {v6:?}"));
    assert_eq!((ok.get("x-real-ip"), ok.get("x-geo-country")), (Some("2001:db8:2::1"), Some("BR")));
    let direct = t.get_from("127.0.0.3", "/signed/x", &[]);
    assert_eq!(verify_received(&direct, Change::None).unwrap().get("x-real-ip"), Some("127.0.0.3"));
}

#[test]
fn altering_a_signed_header_or_the_path_fails_verification() {
    if own_traefik_unavailable() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let t = start(dir.path());
    let reply = t.get_from(PROXY, "/signed/a", &[("X-Forwarded-For", "203.0.113.10")]);
    assert!(verify_received(&reply, Change::None).is_ok(), "{reply:?}");
    let cases = [
        Change::Header("x-real-ip", "198.51.100.1"),
        Change::Header("x-geo-country", "US"),
        Change::Header("x-geo-city", "Springfield"),
        Change::Header("host", "evil.example"),
        Change::Path("/signed/admin"),
        Change::Path("/signed/a?debug=1"),
        Change::Key(b"not-the-key-not-the-key-not-the-key!"),
    ];
    for change in cases {
        assert_eq!(verify_received(&reply, change), Err(VerifyError::BadSignature), "{change:?}");
    }
}

#[test]
fn client_sent_signature_never_reaches_the_backend_unchanged() {
    if own_traefik_unavailable() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let t = start(dir.path());
    let replayed = "v1;kid=k1;t=1700000000;h=x-real-ip;sig=tbShEFqlucr__iUN7qo1KUv_RCTHH-S6lirUzv3V-94";
    for (source, path) in
        [(PROXY, "/signed"), ("127.0.0.3", "/signed"), (PROXY, "/plain"), ("127.0.0.3", "/plain")]
    {
        let reply = t.get_from(
            source,
            path,
            &[
                ("X-EdgeGuard-Signature", replayed),
                ("X_EdgeGuard_Signature", replayed),
                ("X-Forwarded-For", "203.0.113.10"),
            ],
        );
        assert_eq!(reply.status, 200, "{reply:?}");
        let upstream = reply.upstream_header("x-edgeguard-signature");
        assert!(!upstream.iter().any(|v| v == replayed), "{source} {path}: {upstream:?}");
        assert!(reply.upstream_header("x_edgeguard_signature").is_empty(), "{source} {path}: {reply:?}");
        if path == "/signed" {
            assert_eq!(upstream.len(), 1, "exactly EdgeGuard's own: {upstream:?}");
            assert!(verify_received(&reply, Change::None).is_ok());
        } else {
            assert!(upstream.is_empty(), "signing off: removed, not replaced: {upstream:?}");
        }
    }
}

#[test]
fn key_not_passed_to_the_plugin_is_a_config_error_naming_the_variable() {
    if own_traefik_unavailable() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let t = start(dir.path());
    assert_eq!(t.get("/broken", &[]).status, 500);
    let log = t.log();
    assert!(
        log.contains("signing.secretEnv") && log.contains("EDGEGUARD_TEST_SIGNING_NOT_PASSED"),
        "the log must name the field and the variable:\n{log}"
    );
    assert!(!log.contains(KEY), "the key must never be logged");
    assert_eq!(t.get("/signed", &[]).status, 200, "other routers keep working");
}
