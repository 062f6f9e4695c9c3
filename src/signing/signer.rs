//! The signer: built once from the `signing` section (keys read from the
//! environment at init), then used per request.

use std::fmt;
use std::time::{Duration, SystemTime};

use hmac::KeyInit;

use super::format::{self, HmacSha256, MAX_SIGNED_HEADERS, RequestParts, Verified, VerifyError};
use crate::config::{Config, SigningConfig};
use crate::error::ConfigError;
use crate::headers::{self, check_name};
use crate::request::{EditName, HeaderEdit, RequestView};
use crate::secret::Secret;

/// Shortest accepted key: HMAC-SHA256 is only as strong as its key, and 32
/// bytes is its output size (RFC 2104 §3 recommends at least that).
pub const MIN_KEY_BYTES: usize = 32;

/// Bounds of `signing.maxSkew`: the timestamp has one-second resolution, and a
/// window longer than an hour would make a captured header replayable for too long.
const MAX_SKEW_RANGE: (Duration, Duration) = (Duration::from_secs(1), Duration::from_secs(3600));

/// Signs the identity headers of each request with the current key.
///
/// Built once at init by [`Signer::new`]; cheap per request (the HMAC key
/// schedule is computed once and cloned).
#[derive(Clone)]
pub struct Signer {
    key_id: String,
    keyed: HmacSha256,
    /// `(key id, secret)`: the current key, then the previous one if configured.
    keys: Vec<(String, Secret)>,
    header: EditName,
    /// `clientIp.header`: left out of `h=` when the client is unknown.
    client_header: String,
    /// Names considered for signing, in `h=` order (as configured; matched case-insensitively).
    names: Vec<String>,
    max_skew: Duration,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("key_id", &self.key_id)
            .field("keys", &self.keys)
            .field("header", &self.header)
            .field("names", &self.names)
            .field("max_skew", &self.max_skew)
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// Validates the `signing` section (against the rest of `cfg`: only headers
    /// EdgeGuard sets can be signed) and reads the keys from the environment.
    /// `Ok(None)` when `signing.secretEnv` is empty (signing off).
    ///
    /// # Examples
    /// ```
    /// use edgeguard::Config;
    /// use edgeguard::signing::Signer;
    /// let off = Config::from_json(br#"{}"#).unwrap();
    /// assert!(Signer::new(&off).unwrap().is_none());
    ///
    /// let missing = Config::from_json(br#"{"signing": {"secretEnv": "EDGEGUARD_DOC_UNSET"}}"#).unwrap();
    /// let err = Signer::new(&missing).unwrap_err();
    /// assert_eq!(err.path(), "signing.secretEnv");
    /// assert!(err.to_string().contains("`EDGEGUARD_DOC_UNSET` is not set or empty"));
    /// ```
    pub fn new(cfg: &Config) -> Result<Option<Self>, ConfigError> {
        let settable = settable_headers(cfg);
        let defaults = default_headers(cfg);
        Self::build(cfg, &settable, &defaults)
    }

    /// Like [`Signer::new`], with the headers the built pipeline stages can
    /// actually set (e.g. no ASN headers without `geo.asnDatabase`) and the
    /// default signed list drawn from them, so a signed header no stage can
    /// set is an error naming `signing.headers[i]`.
    pub fn build(cfg: &Config, settable: &[&str], defaults: &[&str]) -> Result<Option<Self>, ConfigError> {
        let s = &cfg.signing;
        headers::check_output_name(&s.header, false)
            .map_err(|r| ConfigError::invalid("signing.header", r))?;
        if let Some(clash) = settable.iter().find(|n| n.eq_ignore_ascii_case(&s.header)) {
            let reason =
                format!("`{}` is also a header EdgeGuard sets (`{clash}`); pick another name", s.header);
            return Err(ConfigError::invalid("signing.header", reason));
        }
        if s.secret_env.trim().is_empty() {
            if !s.previous_secret_env.trim().is_empty() {
                return Err(ConfigError::invalid(
                    "signing.previousSecretEnv",
                    "is set but `signing.secretEnv` is not; the current key signs, set it too",
                ));
            }
            return Ok(None);
        }
        if !format::is_key_id(&s.key_id) {
            return Err(ConfigError::invalid("signing.keyId", key_id_reason(&s.key_id)));
        }
        let mut keys = vec![(s.key_id.clone(), read_key("signing.secretEnv", &s.secret_env)?)];
        if let Some(previous) = previous_key(s)? {
            keys.push(previous);
        }
        if !(MAX_SKEW_RANGE.0..=MAX_SKEW_RANGE.1).contains(&s.max_skew) {
            return Err(ConfigError::invalid(
                "signing.maxSkew",
                format!(
                    "must be between 1s and 1h, got {}",
                    crate::config::units::display_duration(s.max_skew)
                ),
            ));
        }
        let names = if s.headers.is_empty() {
            defaults.iter().map(|n| n.to_string()).collect()
        } else {
            explicit_headers(s, settable)?
        };
        let keyed = HmacSha256::new_from_slice(keys[0].1.bytes())
            .map_err(|_| ConfigError::invalid("signing.secretEnv", "key not accepted by HMAC"))?;
        Ok(Some(Self {
            key_id: s.key_id.clone(),
            keyed,
            keys,
            header: s.header.as_str().into(),
            client_header: cfg.client_ip.header.clone(),
            names,
            max_skew: s.max_skew,
        }))
    }

    /// The header value for a request: `v1;kid=..;t=..;h=..;sig=..` over
    /// `request`, `now` (Unix seconds) and `headers` in order. Names are
    /// lower-cased; a name that is not a valid header name, a repeated name
    /// and names beyond the 64th are left out, so the value always parses.
    ///
    /// # Examples
    /// ```
    /// # use std::time::{Duration, UNIX_EPOCH};
    /// # use edgeguard::{Config, signing::{RequestParts, Signer}};
    /// # // SAFETY: doctests run in their own process; nothing else reads the environment.
    /// # unsafe { std::env::set_var("EDGEGUARD_DOC_KEY", "0123456789abcdef0123456789abcdef") };
    /// let cfg = Config::from_json(br#"{"signing": {"secretEnv": "EDGEGUARD_DOC_KEY"}}"#).unwrap();
    /// let signer = Signer::new(&cfg).unwrap().unwrap();
    /// let req = RequestParts { method: "GET", host: "app.example", path: "/" };
    /// let value = signer.sign(req, UNIX_EPOCH + Duration::from_secs(1_700_000_000), &[("X-Real-IP", "203.0.113.10")]);
    /// assert_eq!(value, "v1;kid=k1;t=1700000000;h=x-real-ip;sig=tbShEFqlucr__iUN7qo1KUv_RCTHH-S6lirUzv3V-94");
    /// ```
    pub fn sign(&self, request: RequestParts<'_>, now: SystemTime, headers: &[(&str, &str)]) -> String {
        let mut kept: Vec<(&str, &str)> = Vec::with_capacity(headers.len());
        for &(name, value) in headers {
            let valid =
                check_name(name, false).is_ok() && !kept.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
            if valid && kept.len() < MAX_SIGNED_HEADERS {
                kept.push((name, value));
            }
        }
        format::header_value(&self.keyed, &self.key_id, request, format::unix_seconds(now), &kept)
    }

    /// Signs what EdgeGuard decided for `req`: for each header to sign, the
    /// value the last `Set` in `edits` gives it (a header EdgeGuard did not
    /// set, or removed last, is left out), then appends a `Set` of the
    /// signature header. Call it after every stage that sets headers.
    ///
    /// When `client_known` is false the client-IP header is left out of
    /// `h=`: it then holds the nearest trusted proxy (nginx `realip`'s
    /// answer), which the edge does not vouch for as the client, so a
    /// verifier finds no signed client (docs/signing.md, "Unknown client").
    pub fn sign_edits(
        &self,
        req: &impl RequestView,
        edits: &mut Vec<HeaderEdit>,
        now: SystemTime,
        client_known: bool,
    ) {
        let value = {
            // Names were validated and de-duplicated at init, so this skips `sign`'s checks.
            let mut signed: Vec<(&str, &str)> = Vec::with_capacity(self.names.len());
            for name in &self.names {
                if !client_known && name.eq_ignore_ascii_case(&self.client_header) {
                    continue;
                }
                let last = edits.iter().rev().find_map(|edit| match edit {
                    HeaderEdit::Set(n, v) if n.eq_ignore_ascii_case(name) => Some(Some(v.as_str())),
                    HeaderEdit::Remove(n) if n.eq_ignore_ascii_case(name) => Some(None),
                    _ => None,
                });
                if let Some(Some(value)) = last {
                    signed.push((name, value));
                }
            }
            let host = req.header_values("Host");
            let host = host.first().map(|h| String::from_utf8_lossy(h)).unwrap_or_default();
            let (method, path) = (req.method(), req.uri());
            let request = RequestParts { method: &method, host: host.trim_matches([' ', '\t']), path: &path };
            format::header_value(&self.keyed, &self.key_id, request, format::unix_seconds(now), &signed)
        };
        edits.push(HeaderEdit::Set(self.header.clone(), value));
    }

    /// Verifies a header value with this config's keys and `maxSkew`: what a
    /// Rust service sharing EdgeGuard's `signing` section (and its environment) calls.
    pub fn verify(
        &self,
        header_value: &str,
        request: RequestParts<'_>,
        lookup_header: impl Fn(&str) -> Option<String>,
        now: SystemTime,
    ) -> Result<Verified, VerifyError> {
        format::verify(header_value, request, lookup_header, &self.keys(), now, self.max_skew)
    }

    /// The keys a verifier should accept, `(key id, secret)`: the current key,
    /// then the previous one during a rotation.
    pub fn keys(&self) -> Vec<(&str, &[u8])> {
        self.keys.iter().map(|(kid, secret)| (kid.as_str(), secret.bytes())).collect()
    }

    /// The key id that signs.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The header the signature is written to.
    pub fn header(&self) -> &str {
        &self.header
    }

    /// Headers considered for signing, in order (those set on a request are signed).
    pub fn headers(&self) -> &[String] {
        &self.names
    }

    /// `signing.maxSkew`.
    pub fn max_skew(&self) -> Duration {
        self.max_skew
    }
}

fn key_id_reason(kid: &str) -> String {
    format!("`{kid}` is not a key id: use 1-32 of A-Z a-z 0-9 . _ -")
}

/// Reads a key from the environment variable `var`; the error names the
/// variable, never its value.
fn read_key(field: &str, var: &str) -> Result<Secret, ConfigError> {
    let key = Secret::from_env(field, var)?;
    if key.bytes().len() < MIN_KEY_BYTES {
        let reason = format!(
            "the key in `{}` has {} bytes; at least {MIN_KEY_BYTES} are needed (e.g. `openssl rand -base64 32`)",
            var.trim(),
            key.bytes().len()
        );
        return Err(ConfigError::invalid(field, reason));
    }
    Ok(key)
}

fn previous_key(s: &SigningConfig) -> Result<Option<(String, Secret)>, ConfigError> {
    if s.previous_secret_env.trim().is_empty() {
        if !s.previous_key_id.is_empty() {
            return Err(ConfigError::invalid(
                "signing.previousKeyId",
                "is set but `signing.previousSecretEnv` is not; set both or neither",
            ));
        }
        return Ok(None);
    }
    // No default: the previous key must keep the id it signed under, which a
    // default could silently get wrong.
    if s.previous_key_id.is_empty() {
        return Err(ConfigError::invalid(
            "signing.previousKeyId",
            "is required with `signing.previousSecretEnv`: the key id the previous key signed under",
        ));
    }
    if !format::is_key_id(&s.previous_key_id) {
        return Err(ConfigError::invalid("signing.previousKeyId", key_id_reason(&s.previous_key_id)));
    }
    if s.previous_key_id == s.key_id {
        let reason = format!("`{}` is also `signing.keyId`; each key needs its own id", s.previous_key_id);
        return Err(ConfigError::invalid("signing.previousKeyId", reason));
    }
    let secret = read_key("signing.previousSecretEnv", &s.previous_secret_env)?;
    Ok(Some((s.previous_key_id.clone(), secret)))
}

/// Every request header EdgeGuard may set with this config.
fn settable_headers(cfg: &Config) -> Vec<&str> {
    let c = &cfg.client_ip;
    let mut names = vec![c.header.as_str(), c.preserve_original_as.as_str(), c.trace_header.as_str()];
    if c.forwarded {
        names.push(headers::FORWARDED);
    }
    names.extend(geo_headers(cfg));
    names.retain(|n| !n.is_empty());
    names
}

/// The geo headers, when geo is on: every field's name, then `dbInfoHeader`.
fn geo_headers(cfg: &Config) -> Vec<&str> {
    let g = &cfg.geo;
    if g.database.is_empty() && g.asn_database.is_empty() {
        return Vec::new();
    }
    let mut names: Vec<&str> = g.headers.fields().to_vec();
    names.push(&g.db_info_header);
    names.retain(|n| !n.is_empty());
    names
}

/// The default: the client-IP header, then the geo headers, each once.
fn default_headers(cfg: &Config) -> Vec<&str> {
    let mut names: Vec<&str> = Vec::new();
    for name in std::iter::once(cfg.client_ip.header.as_str()).chain(geo_headers(cfg)) {
        if !name.is_empty() && !names.iter().any(|n| n.eq_ignore_ascii_case(name)) {
            names.push(name);
        }
    }
    names
}

fn explicit_headers(s: &SigningConfig, settable: &[&str]) -> Result<Vec<String>, ConfigError> {
    if s.headers.len() > MAX_SIGNED_HEADERS {
        let reason = format!("lists {} headers; at most {MAX_SIGNED_HEADERS}", s.headers.len());
        return Err(ConfigError::invalid("signing.headers", reason));
    }
    for (i, name) in s.headers.iter().enumerate() {
        let field = format!("signing.headers[{i}]");
        check_name(name, false).map_err(|r| ConfigError::invalid(&field, r))?;
        if s.headers[..i].iter().any(|n| n.eq_ignore_ascii_case(name)) {
            return Err(ConfigError::invalid(field, format!("`{name}` is listed twice")));
        }
        if name.eq_ignore_ascii_case(headers::X_FORWARDED_FOR) {
            let reason = "`X-Forwarded-For` cannot be signed: Traefik appends the peer to it after \
                          every middleware; sign the client-IP header instead";
            return Err(ConfigError::invalid(field, reason));
        }
        if !settable.iter().any(|n| n.eq_ignore_ascii_case(name)) {
            let reason = format!(
                "`{name}` is not a header EdgeGuard sets with this config; only those can be signed ({})",
                settable.join(", ")
            );
            return Err(ConfigError::invalid(field, reason));
        }
    }
    Ok(s.headers.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::OwnedRequest;
    use crate::testutil::{KEY, at, set_env};

    const GEO: &str = r#""geo": {"database": "/nonexistent/City.mmdb", "dbInfoHeader": "X-Geo-DB"}"#;

    fn signer(doc: &str) -> Result<Option<Signer>, ConfigError> {
        Signer::new(&Config::from_json(doc.as_bytes()).unwrap())
    }

    #[test]
    fn off_without_secret_env() {
        assert!(signer("{}").unwrap().is_none());
        assert!(signer(r#"{"signing": {"keyId": "k7", "headers": ["X-Real-IP"]}}"#).unwrap().is_none());
    }

    #[test]
    fn default_headers_are_client_ip_then_geo() {
        set_env("EDGEGUARD_TEST_SIGNING_DEFAULTS", KEY);
        let on = r#""signing": {"secretEnv": "EDGEGUARD_TEST_SIGNING_DEFAULTS"}"#;
        let plain = signer(&format!("{{{on}}}")).unwrap().unwrap();
        assert_eq!(plain.headers(), ["X-Real-IP"]);
        let with_geo = signer(&format!("{{{on}, {GEO}}}")).unwrap().unwrap();
        // The default geo headers: country, region, city, ASN, ASN organisation.
        assert_eq!(with_geo.headers().len(), 1 + 5 + 1);
        assert_eq!(&with_geo.headers()[..3], ["X-Real-IP", "X-Geo-Country", "X-Geo-Region"]);
        assert_eq!(with_geo.headers().last().map(String::as_str), Some("X-Geo-DB"));
        let renamed = signer(&format!(
            r#"{{"clientIp": {{"header": "X-Client"}}, "geo": {{"database": "/x", "headers": {{"country": "", "city": "X-City"}}}}, {on}}}"#
        ))
        .unwrap()
        .unwrap();
        assert!(renamed.headers().starts_with(&["X-Client".to_string()]), "{:?}", renamed.headers());
        assert!(renamed.headers().contains(&"X-City".to_string()));
        assert!(!renamed.headers().iter().any(|n| n == "X-Geo-Country" || n.is_empty()));
        assert_eq!(
            (plain.header(), plain.key_id(), plain.max_skew()),
            ("X-EdgeGuard-Signature", "k1", Duration::from_secs(300))
        );
    }

    #[test]
    fn sign_edits_signs_the_last_set_value_of_each_header() {
        set_env("EDGEGUARD_TEST_SIGNING_EDITS", KEY);
        // Continent is opt-in: switched on so that edit order and configured order differ.
        let geo =
            r#""geo": {"database": "/nonexistent/City.mmdb", "headers": {"continent": "X-Geo-Continent"}}"#;
        let s = signer(&format!(r#"{{"signing": {{"secretEnv": "EDGEGUARD_TEST_SIGNING_EDITS"}}, {geo}}}"#))
            .unwrap()
            .unwrap();
        let req =
            OwnedRequest { method: "PUT".into(), uri: "/p?q".into(), ..OwnedRequest::new("192.0.2.1:1") }
                .header("Host", " app.example ")
                .header("X-Geo-City", "Springfield");
        let mut edits = vec![
            HeaderEdit::Remove("X-Real-IP".into()),
            HeaderEdit::Remove("X-Geo-City".into()),
            HeaderEdit::Set("x-real-ip".into(), "192.0.2.9".into()),
            HeaderEdit::Set("X-Forwarded-For".into(), "192.0.2.9".into()),
            HeaderEdit::Set("X-Real-IP".into(), "192.0.2.1".into()),
            HeaderEdit::Set("X-Geo-Continent".into(), "EU".into()),
            HeaderEdit::Set("X-Geo-Country".into(), "SE".into()),
            HeaderEdit::Set("X-Geo-Region".into(), "E".into()),
            HeaderEdit::Remove("X-Geo-Region".into()),
        ];
        s.sign_edits(&req, &mut edits, at(1_700_000_000), true);
        let Some(HeaderEdit::Set(name, value)) = edits.last() else { panic!("{edits:?}") };
        assert_eq!(&**name, "X-EdgeGuard-Signature");
        // Configured order (country before continent), not edit order; removed and unset headers left out.
        assert!(
            value.starts_with("v1;kid=k1;t=1700000000;h=x-real-ip,x-geo-country,x-geo-continent;sig="),
            "{value}"
        );
        let mut upstream = req.clone();
        upstream.apply(&edits);
        let parts = RequestParts { method: "PUT", host: "app.example", path: "/p?q" };
        let ok = s.verify(value, parts, |n| upstream.get(n), at(1_700_000_000)).unwrap();
        assert_eq!(ok.get("x-real-ip"), Some("192.0.2.1"));
        assert_eq!(ok.get("x-geo-city"), None, "client-sent, removed, and not signed");
    }

    #[test]
    fn explicit_headers_keep_their_order() {
        set_env("EDGEGUARD_TEST_SIGNING_EXPLICIT", KEY);
        let s = signer(&format!(
            r#"{{"signing": {{"secretEnv": "EDGEGUARD_TEST_SIGNING_EXPLICIT", "headers": ["X-Geo-Country", "x-real-ip", "X-Original-Forwarded-For"]}}, {GEO}}}"#
        ))
        .unwrap()
        .unwrap();
        let mut edits = vec![
            HeaderEdit::Set("X-Real-IP".into(), "192.0.2.1".into()),
            HeaderEdit::Set("X-Geo-Country".into(), "SE".into()),
            HeaderEdit::Set("X-Geo-City".into(), "Link%C3%B6ping".into()),
        ];
        s.sign_edits(&OwnedRequest::new("192.0.2.1:1"), &mut edits, at(1_700_000_000), true);
        let Some(HeaderEdit::Set(_, value)) = edits.last() else { panic!() };
        assert!(value.contains(";h=x-geo-country,x-real-ip;"), "{value}");
    }

    #[test]
    fn sign_drops_invalid_and_repeated_names() {
        set_env("EDGEGUARD_TEST_SIGNING_NAMES", KEY);
        let s = signer(r#"{"signing": {"secretEnv": "EDGEGUARD_TEST_SIGNING_NAMES"}}"#).unwrap().unwrap();
        let parts = RequestParts { method: "GET", host: "h", path: "/" };
        let value =
            s.sign(parts, at(5), &[("X-A", "1"), ("x-a", "2"), ("bad name", "3"), ("", "4"), ("X-B", "5")]);
        assert!(value.starts_with("v1;kid=k1;t=5;h=x-a,x-b;sig="), "{value}");
        let lookup = |n: &str| Some(if n == "x-a" { "1" } else { "5" }.to_string());
        assert!(s.verify(&value, parts, lookup, at(5)).is_ok());
        let many: Vec<(String, String)> = (0..70).map(|i| (format!("x-{i}"), i.to_string())).collect();
        let many: Vec<(&str, &str)> = many.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        let value = s.sign(parts, at(5), &many);
        let lookup = |n: &str| n.strip_prefix("x-").map(str::to_string);
        assert_eq!(s.verify(&value, parts, lookup, at(5)).unwrap().headers.len(), MAX_SIGNED_HEADERS);
    }

    #[test]
    fn rotation_signs_with_current_and_verifies_both() {
        const OLD: &str = "the-previous-key-the-previous-key-!";
        set_env("EDGEGUARD_TEST_SIGNING_ROT_NEW", KEY);
        set_env("EDGEGUARD_TEST_SIGNING_ROT_OLD", OLD);
        let before =
            signer(r#"{"signing": {"secretEnv": "EDGEGUARD_TEST_SIGNING_ROT_OLD", "keyId": "2024-01"}}"#)
                .unwrap()
                .unwrap();
        let during = signer(
            r#"{"signing": {"secretEnv": "EDGEGUARD_TEST_SIGNING_ROT_NEW", "keyId": "2025-06",
                "previousSecretEnv": "EDGEGUARD_TEST_SIGNING_ROT_OLD", "previousKeyId": "2024-01"}}"#,
        )
        .unwrap()
        .unwrap();
        assert_eq!(during.keys(), vec![("2025-06", KEY.as_bytes()), ("2024-01", OLD.as_bytes())]);
        let parts = RequestParts { method: "GET", host: "h", path: "/" };
        let headers = [("X-Real-IP", "192.0.2.1")];
        let lookup = |_: &str| Some("192.0.2.1".to_string());
        let old_sig = before.sign(parts, at(100), &headers);
        let new_sig = during.sign(parts, at(100), &headers);
        assert!(new_sig.starts_with("v1;kid=2025-06;"), "{new_sig}");
        assert_eq!(during.verify(&old_sig, parts, lookup, at(100)).unwrap().key_id, "2024-01");
        assert_eq!(during.verify(&new_sig, parts, lookup, at(100)).unwrap().key_id, "2025-06");
        assert_eq!(
            before.verify(&new_sig, parts, lookup, at(100)),
            Err(VerifyError::UnknownKeyId("2025-06".into()))
        );
    }

    #[test]
    fn secrets_never_appear_in_debug_or_errors() {
        set_env("EDGEGUARD_TEST_SIGNING_DEBUG", KEY);
        set_env("EDGEGUARD_TEST_SIGNING_SHORTKEY", "hunter2");
        let s = signer(r#"{"signing": {"secretEnv": "EDGEGUARD_TEST_SIGNING_DEBUG"}}"#).unwrap().unwrap();
        let debug = format!("{s:?}");
        assert!(!debug.contains(KEY) && debug.contains("<redacted>"), "{debug}");
        let err = signer(r#"{"signing": {"secretEnv": "EDGEGUARD_TEST_SIGNING_SHORTKEY"}}"#).unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    #[test]
    fn config_errors_name_the_field() {
        set_env("EDGEGUARD_TEST_SIGNING_CFG", KEY);
        set_env("EDGEGUARD_TEST_SIGNING_CFG_SHORT", "  0123456789abcdef0123456789abcde\n");
        set_env("EDGEGUARD_TEST_SIGNING_CFG_BLANK", " \n");
        let on = r#""secretEnv": "EDGEGUARD_TEST_SIGNING_CFG""#;
        let cases: &[(&str, String, &str, &str)] = &[
            (
                "missing variable",
                r#""secretEnv": "EDGEGUARD_TEST_SIGNING_UNSET""#.into(),
                "signing.secretEnv",
                "environment variable `EDGEGUARD_TEST_SIGNING_UNSET` is not set or empty (in Traefik, pass it with settings.envs)",
            ),
            (
                "blank variable",
                r#""secretEnv": "EDGEGUARD_TEST_SIGNING_CFG_BLANK""#.into(),
                "signing.secretEnv",
                "`EDGEGUARD_TEST_SIGNING_CFG_BLANK` is not set or empty",
            ),
            (
                "short key",
                r#""secretEnv": "EDGEGUARD_TEST_SIGNING_CFG_SHORT""#.into(),
                "signing.secretEnv",
                "the key in `EDGEGUARD_TEST_SIGNING_CFG_SHORT` has 31 bytes; at least 32 are needed",
            ),
            (
                "bad key id",
                format!(r#"{on}, "keyId": "key 1""#),
                "signing.keyId",
                "`key 1` is not a key id: use 1-32 of A-Z a-z 0-9 . _ -",
            ),
            ("empty key id", format!(r#"{on}, "keyId": """#), "signing.keyId", "`` is not a key id"),
            (
                "previous without current",
                r#""previousSecretEnv": "EDGEGUARD_TEST_SIGNING_CFG""#.into(),
                "signing.previousSecretEnv",
                "is set but `signing.secretEnv` is not",
            ),
            (
                "previous without id",
                format!(r#"{on}, "previousSecretEnv": "EDGEGUARD_TEST_SIGNING_CFG""#),
                "signing.previousKeyId",
                "is required with `signing.previousSecretEnv`",
            ),
            (
                "previous id without key",
                format!(r#"{on}, "previousKeyId": "k0""#),
                "signing.previousKeyId",
                "set both or neither",
            ),
            (
                "same ids",
                format!(r#"{on}, "previousSecretEnv": "EDGEGUARD_TEST_SIGNING_CFG", "previousKeyId": "k1""#),
                "signing.previousKeyId",
                "`k1` is also `signing.keyId`",
            ),
            (
                "missing previous variable",
                format!(
                    r#"{on}, "previousSecretEnv": "EDGEGUARD_TEST_SIGNING_UNSET_OLD", "previousKeyId": "k0""#
                ),
                "signing.previousSecretEnv",
                "`EDGEGUARD_TEST_SIGNING_UNSET_OLD` is not set or empty",
            ),
            (
                "zero skew",
                format!(r#"{on}, "maxSkew": "0s""#),
                "signing.maxSkew",
                "must be between 1s and 1h, got 0s",
            ),
            (
                "huge skew",
                format!(r#"{on}, "maxSkew": "2h""#),
                "signing.maxSkew",
                "must be between 1s and 1h, got 2h",
            ),
            ("empty header", r#""header": """#.into(), "signing.header", "header name is empty"),
            (
                "bad header",
                r#""header": "X Sig""#.into(),
                "signing.header",
                "`X Sig` is not a valid header name",
            ),
            (
                "header clash",
                r#""header": "x-real-ip""#.into(),
                "signing.header",
                "`x-real-ip` is also a header EdgeGuard sets (`X-Real-IP`)",
            ),
            (
                "bad name",
                format!(r#"{on}, "headers": ["X-Real-IP", "a b"]"#),
                "signing.headers[1]",
                "`a b` is not a valid header name",
            ),
            (
                "twice",
                format!(r#"{on}, "headers": ["X-Real-IP", "x-real-ip"]"#),
                "signing.headers[1]",
                "`x-real-ip` is listed twice",
            ),
            (
                "xff",
                format!(r#"{on}, "headers": ["X-Forwarded-For"]"#),
                "signing.headers[0]",
                "Traefik appends the peer to it",
            ),
            (
                "not set by EdgeGuard",
                format!(r#"{on}, "headers": ["Authorization"]"#),
                "signing.headers[0]",
                "`Authorization` is not a header EdgeGuard sets with this config; only those can be signed (X-Real-IP, X-Original-Forwarded-For)",
            ),
            (
                "geo off",
                format!(r#"{on}, "headers": ["X-Geo-Country"]"#),
                "signing.headers[0]",
                "`X-Geo-Country` is not a header EdgeGuard sets",
            ),
        ];
        for (desc, fields, path, reason) in cases {
            let err = signer(&format!(r#"{{"signing": {{{fields}}}}}"#)).unwrap_err();
            assert_eq!(err.path(), *path, "{desc}: {err}");
            assert!(err.to_string().contains(reason), "{desc}: {err}");
        }
    }
}
