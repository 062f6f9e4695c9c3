//! Signed identity headers: an HMAC-SHA256 over the client-IP and geo headers
//! EdgeGuard set, the method, host, path and a timestamp, so a backend can
//! check that they came from the edge and not from any pod that can reach it.
//!
//! EdgeGuard signs ([`Signer`], wired into the pipeline by [`SigningStage`]);
//! downstream Rust services verify with [`verify`]. The format is specified
//! in `docs/signing.md`, with test vectors in `testdata/signing/vectors.json`
//! and verifiers in other languages under `examples/`.
//!
//! ```
//! use std::time::{Duration, UNIX_EPOCH};
//! use edgeguard::signing::{RequestParts, VerifyError, verify};
//!
//! // What the backend received.
//! let sig = "v1;kid=k1;t=1700000000;h=x-real-ip;sig=tbShEFqlucr__iUN7qo1KUv_RCTHH-S6lirUzv3V-94";
//! let req = RequestParts { method: "GET", host: "app.example", path: "/" };
//! let lookup = |name: &str| (name == "x-real-ip").then(|| "203.0.113.10".to_string());
//! let keys: &[(&str, &[u8])] = &[("k1", b"0123456789abcdef0123456789abcdef")];
//! let skew = Duration::from_secs(300);
//!
//! let fresh = UNIX_EPOCH + Duration::from_secs(1_700_000_005);
//! assert_eq!(verify(sig, req, lookup, keys, fresh, skew).unwrap().get("x-real-ip"), Some("203.0.113.10"));
//!
//! let an_hour_later = UNIX_EPOCH + Duration::from_secs(1_700_003_600);
//! let stale = verify(sig, req, lookup, keys, an_hour_later, skew).unwrap_err();
//! assert_eq!(stale, VerifyError::Stale { age: 3600, max_skew: 300 });
//! ```

mod format;
mod signer;

use std::time::SystemTime;

pub use format::{
    MAX_KEY_ID_LEN, MAX_SIGNED_HEADERS, RequestParts, VERSION, Verified, VerifyError, canonical, verify,
};
pub use signer::{MIN_KEY_BYTES, Signer};

use crate::config::Config;
use crate::error::ConfigError;
use crate::headers;
use crate::request::{HeaderEdit, RequestView};

/// The pipeline's signing step: signs when `signing.secretEnv` is set. A
/// client-sent signature header is removed by [`crate::headers::ManagedHeaders`]
/// whether or not signing is on (see [`SigningStage::managed_names`]).
#[derive(Debug, Clone)]
pub struct SigningStage {
    header: String,
    signer: Option<Signer>,
}

impl SigningStage {
    /// Validates the `signing` section against what the built stages can
    /// set (`settable`; `defaults` is what is signed when `signing.headers`
    /// is empty) and reads its keys.
    pub fn new(cfg: &Config, settable: &[&str], defaults: &[&str]) -> Result<Self, ConfigError> {
        let signer = Signer::build(cfg, settable, defaults)?;
        Ok(Self { header: cfg.signing.header.clone(), signer })
    }

    /// The signature header, configured and default: only EdgeGuard writes
    /// it, and a replayed one must never reach a backend.
    pub fn managed_names(&self) -> [&str; 2] {
        [&self.header, headers::X_EDGEGUARD_SIGNATURE]
    }

    /// Appends the signature over the headers set in `edits` (see
    /// [`Signer::sign_edits`]); nothing when signing is off.
    pub fn sign(
        &self,
        req: &impl RequestView,
        edits: &mut Vec<HeaderEdit>,
        now: SystemTime,
        client_known: bool,
    ) {
        if let Some(signer) = &self.signer {
            signer.sign_edits(req, edits, now, client_known);
        }
    }

    /// The signer, when signing is on.
    pub fn signer(&self) -> Option<&Signer> {
        self.signer.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{KEY, at, set_env};
    use crate::{Decision, OwnedRequest, Pipeline};

    fn forwarded(pipeline: &Pipeline, req: &OwnedRequest) -> OwnedRequest {
        let now = at(1_700_000_000);
        let Decision::Forward(edits) = pipeline.outcome_at(req, now).decision else {
            panic!("not forwarded")
        };
        let mut upstream = req.clone();
        upstream.apply(&edits);
        upstream
    }

    #[test]
    fn pipeline_signs_what_the_backend_receives() {
        set_env("EDGEGUARD_TEST_SIGNING_PIPELINE", KEY);
        // Relative to the package root: cargo's working directory for tests, and
        // the directory the wasm runner preopens as `.`.
        let geo = "testdata/geo/GeoLite2-City-Test.mmdb";
        let doc = format!(
            r#"{{"clientIp": {{"trustedProxies": ["10.0.0.0/8"]}}, "geo": {{"database": "{geo}"}},
                "signing": {{"secretEnv": "EDGEGUARD_TEST_SIGNING_PIPELINE"}}}}"#
        );
        let pipeline = Pipeline::from_json(doc.as_bytes()).unwrap();
        let req = OwnedRequest { uri: "/orders/42?x=1".into(), ..OwnedRequest::new("10.0.0.1:4000") }
            .header("Host", "app.example")
            .header("X-Forwarded-For", "203.0.113.10")
            .header("X-Geo-Country", "US")
            .header("X-EdgeGuard-Signature", "v1;kid=k1;t=1;h=;sig=forged")
            .header("X_EdgeGuard_Signature", "forged");
        let up = forwarded(&pipeline, &req);
        assert_eq!(up.get("x_edgeguard_signature"), None);
        let sig = up.get("x-edgeguard-signature").unwrap();
        assert!(sig.starts_with("v1;kid=k1;t=1700000000;h=x-real-ip,x-geo-country,"), "{sig}");
        assert!(!sig.contains("x-forwarded-for") && !sig.contains("x-original-forwarded-for"), "{sig}");
        let signer = pipeline_signer(&doc);
        let parts = RequestParts { method: "GET", host: "app.example", path: "/orders/42?x=1" };
        let now = at(1_700_000_030);
        let ok = signer.verify(&sig, parts, |n| up.get(n), now).unwrap();
        assert_eq!(ok.get("x-real-ip"), Some("203.0.113.10"));
        assert_eq!(ok.get("x-geo-country"), Some("SE"));
        let moved = RequestParts { path: "/admin", ..parts };
        assert_eq!(signer.verify(&sig, moved, |n| up.get(n), now), Err(VerifyError::BadSignature));
    }

    fn pipeline_signer(doc: &str) -> Signer {
        Signer::new(&Config::from_json(doc.as_bytes()).unwrap()).unwrap().unwrap()
    }

    #[test]
    fn client_sent_signature_is_removed_even_with_signing_off() {
        let pipeline = Pipeline::from_json(br#"{"clientIp": {"trustedProxies": ["10.0.0.0/8"]}}"#).unwrap();
        let req = OwnedRequest::new("10.0.0.1:4000")
            .header("X-EdgeGuard-Signature", "v1;kid=k1;t=1;h=;sig=replayed")
            .header("x_edgeguard_signature", "replayed");
        let up = forwarded(&pipeline, &req);
        assert_eq!(up.get("x-edgeguard-signature"), None);
        assert_eq!(up.get("x_edgeguard_signature"), None);
    }

    #[test]
    fn responses_are_not_signed() {
        set_env("EDGEGUARD_TEST_SIGNING_RESPOND", KEY);
        let doc = br#"{"maintenance": {"enabled": true}, "signing": {"secretEnv": "EDGEGUARD_TEST_SIGNING_RESPOND"}}"#;
        let pipeline = Pipeline::from_json(doc).unwrap();
        let decision = pipeline.outcome(&OwnedRequest::new("192.0.2.1:1")).decision;
        assert!(matches!(decision, Decision::Respond(ref r) if r.status() == 503), "{decision:?}");
    }
}
