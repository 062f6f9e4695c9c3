//! `signing`: an HMAC over the identity headers, so backends can tell they came from the edge.

use std::time::Duration;

use serde::Deserialize;

use super::{lenient, units};
use crate::headers::X_EDGEGUARD_SIGNATURE;

/// `signing`: which key signs the identity headers and where the signature goes.
///
/// Signing is off while `secretEnv` is empty; a client-sent signature header
/// is removed either way. The format is specified in `docs/signing.md`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct SigningConfig {
    /// Environment variable holding the signing key, read at startup (in
    /// Traefik, pass it with the plugin's `settings.envs`). The key is the
    /// variable's bytes, surrounding whitespace trimmed; at least 32 bytes.
    /// Empty (default): signing is off.
    pub secret_env: String,
    /// Key id written in the signature (`kid=`), so verifiers know which key
    /// signed. 1–32 characters from `A-Z a-z 0-9 . _ -`. Default `k1`.
    pub key_id: String,
    /// Environment variable holding the previous key during a rotation. It
    /// never signs; it is validated and offered to verifiers built from the
    /// same config ([`crate::signing::Signer::keys`]). Default: none.
    pub previous_secret_env: String,
    /// Key id of the previous key: the id it signed under. Required with
    /// `previousSecretEnv`, and different from `keyId`.
    pub previous_key_id: String,
    /// Request header carrying the signature. Default `X-EdgeGuard-Signature`.
    pub header: String,
    /// Headers to sign, in this order. Only headers EdgeGuard sets can be
    /// signed, and only those it set on a given request appear in it. Default
    /// (empty): the client-IP header and every geo header EdgeGuard set.
    #[serde(deserialize_with = "lenient::or_empty")]
    pub headers: Vec<String>,
    /// How far a signature's timestamp may be from a verifier's clock, either
    /// way. Used by verifiers reading this config. Default `5m`.
    #[serde(deserialize_with = "units::duration")]
    #[cfg_attr(feature = "schema", schemars(with = "crate::config::schema::GoDuration"))]
    pub max_skew: Duration,
}

impl Default for SigningConfig {
    fn default() -> Self {
        Self {
            secret_env: String::new(),
            key_id: "k1".into(),
            previous_secret_env: String::new(),
            previous_key_id: String::new(),
            header: X_EDGEGUARD_SIGNATURE.into(),
            headers: Vec::new(),
            max_skew: Duration::from_secs(300),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Config;

    fn signing(doc: &str) -> Result<SigningConfig, String> {
        Config::from_json(doc.as_bytes()).map(|c| c.signing).map_err(|e| e.to_string())
    }

    #[test]
    fn typed_and_traefik_stringified_forms_agree() {
        let typed = r#"{"signing": {"secretEnv": "K", "keyId": "k2", "previousSecretEnv": "P",
            "previousKeyId": "k1", "headers": ["X-Real-IP"], "maxSkew": 60}}"#;
        let strings = r#"{"signing": {"secretEnv": "K", "keyId": "k2", "previousSecretEnv": "P",
            "previousKeyId": "k1", "headers": ["X-Real-IP"], "maxSkew": "1m"}}"#;
        let a = signing(typed).unwrap();
        assert_eq!(a, signing(strings).unwrap());
        assert_eq!((a.key_id.as_str(), a.max_skew), ("k2", Duration::from_secs(60)));
    }

    #[test]
    fn defaults_and_empty_values() {
        let d = signing(r#"{"signing": ""}"#).unwrap();
        assert_eq!(d, SigningConfig::default());
        assert_eq!((d.key_id.as_str(), d.header.as_str()), ("k1", "X-EdgeGuard-Signature"));
        assert_eq!(d.max_skew, Duration::from_secs(300));
        assert_eq!(signing(r#"{"signing": {"headers": ""}}"#).unwrap(), SigningConfig::default());
    }

    #[test]
    fn decode_errors_name_the_field() {
        let cases = [
            (r#"{"signing": {"secret": "K"}}"#, "`signing.secret`: unknown field `secret`"),
            (r#"{"signing": {"maxSkew": "soon"}}"#, "`signing.maxSkew`: `soon` is not a duration"),
            (r#"{"signing": {"headers": "X-Real-IP"}}"#, "`signing.headers`: invalid type"),
        ];
        for (doc, want) in cases {
            let err = signing(doc).unwrap_err();
            assert!(err.contains(want), "{doc}: {err}");
        }
    }
}
