//! The committed signature test vectors (`testdata/signing/vectors.json`,
//! computed by `testdata/signing/generate.py` from docs/signing.md with
//! Python's standard library) against the Rust signer and verifier.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use edgeguard::Config;
use edgeguard::signing::{RequestParts, Signer, canonical, verify};
use serde_json::Value;

fn vectors() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/signing/vectors.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn text(v: &Value, key: &str) -> String {
    v[key].as_str().unwrap_or_else(|| panic!("`{key}` missing in {v}")).to_string()
}

fn headers(v: &Value) -> Vec<(String, String)> {
    v["headers"].as_array().unwrap().iter().map(|pair| (text_at(pair, 0), text_at(pair, 1))).collect()
}

fn text_at(pair: &Value, i: usize) -> String {
    pair[i].as_str().unwrap().to_string()
}

fn at(v: &Value, key: &str) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(v[key].as_u64().unwrap())
}

/// A request's headers as a verifier sees them: case-insensitive, repeated lines joined.
fn lookup(headers: &[(String, String)]) -> impl Fn(&str) -> Option<String> + '_ {
    move |name| {
        let values: Vec<&str> =
            headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()).collect();
        (!values.is_empty()).then(|| values.join(", "))
    }
}

#[test]
fn positive_vectors_sign_and_verify() {
    let doc = vectors();
    let max_skew = Duration::from_secs(doc["maxSkew"].as_u64().unwrap());
    let cases = doc["positive"].as_array().unwrap();
    assert!(cases.len() >= 7, "expected the committed vectors, found {}", cases.len());
    for (i, v) in cases.iter().enumerate() {
        let name = text(v, "name");
        let (secret, kid, expected) = (text(v, "secret"), text(v, "kid"), text(v, "expected"));
        let (method, host, path) = (text(v, "method"), text(v, "host"), text(v, "path"));
        let parts = RequestParts { method: &method, host: &host, path: &path };
        let hs = headers(v);
        let pairs: Vec<(&str, &str)> = hs.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();

        let t = v["timestamp"].as_u64().unwrap().to_string();
        assert_eq!(canonical(parts, &t, &pairs), text(v, "canonical"), "{name}: canonical form");

        let var = format!("EDGEGUARD_TEST_VECTOR_KEY_{i}");
        // SAFETY: this is the only test in this binary that touches the
        // environment, and each vector uses its own variable name.
        unsafe { std::env::set_var(&var, &secret) };
        let cfg = serde_json::json!({"signing": {"secretEnv": var, "keyId": kid}}).to_string();
        let signer = Signer::new(&Config::from_json(cfg.as_bytes()).unwrap()).unwrap().unwrap();
        assert_eq!(signer.sign(parts, at(v, "timestamp"), &pairs), expected, "{name}: signer");

        let keys: &[(&str, &[u8])] = &[(&kid, secret.as_bytes())];
        let ok = verify(&expected, parts, lookup(&hs), keys, at(v, "timestamp"), max_skew)
            .unwrap_or_else(|e| panic!("{name}: verifier refused: {e}"));
        let want: Vec<(String, String)> = hs
            .iter()
            .map(|(n, v)| (n.to_ascii_lowercase(), v.trim_matches([' ', '\t']).to_string()))
            .collect();
        assert_eq!((ok.key_id.as_str(), &ok.headers), (kid.as_str(), &want), "{name}: verified values");
    }
}

#[test]
fn negative_vectors_fail_with_the_stated_error() {
    let doc = vectors();
    let max_skew = Duration::from_secs(doc["maxSkew"].as_u64().unwrap());
    let cases = doc["negative"].as_array().unwrap();
    assert!(cases.len() >= 15, "expected the committed vectors, found {}", cases.len());
    for v in cases {
        let name = text(v, "name");
        let (method, host, path) = (text(v, "method"), text(v, "host"), text(v, "path"));
        let parts = RequestParts { method: &method, host: &host, path: &path };
        let hs = headers(v);
        let keys: Vec<(String, String)> =
            v["keys"].as_array().unwrap().iter().map(|k| (text(k, "kid"), text(k, "secret"))).collect();
        let keys: Vec<(&str, &[u8])> = keys.iter().map(|(k, s)| (k.as_str(), s.as_bytes())).collect();
        let got = verify(&text(v, "header"), parts, lookup(&hs), &keys, at(v, "now"), max_skew);
        let err = got.expect_err(&format!("{name}: accepted"));
        assert_eq!(err.code(), text(v, "error"), "{name}: {err}");
    }
}
