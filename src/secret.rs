//! Secrets read from the environment (signing keys, the maintenance bypass
//! token): config names the variable, so no value is in a file, log or error.

use std::fmt;

use crate::error::ConfigError;

/// Secret bytes; `Debug` never shows them.
#[derive(Clone)]
pub(crate) struct Secret(Vec<u8>);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl Secret {
    /// Reads the environment variable `var`. Surrounding whitespace is
    /// trimmed: a secret mounted from a file often ends in a newline, and
    /// header parsers strip whitespace around values anyway. An unset or
    /// empty variable is an error at `field` naming the variable.
    pub(crate) fn from_env(field: &str, var: &str) -> Result<Self, ConfigError> {
        let var = var.trim();
        let secret =
            std::env::var_os(var).map(|v| v.into_encoded_bytes().trim_ascii().to_vec()).unwrap_or_default();
        if secret.is_empty() {
            let reason = format!(
                "environment variable `{var}` is not set or empty (in Traefik, pass it with settings.envs)"
            );
            return Err(ConfigError::invalid(field, reason));
        }
        Ok(Self(secret))
    }

    /// The secret itself.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.0
    }
}
