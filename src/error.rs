//! Configuration errors: one enum, each variant naming the field path and the reason.

use std::fmt;

/// A configuration that cannot be used. Its `Display` names the field path
/// (`clientIp.trustedProxies[2]`) and the reason, so the host log tells an
/// operator exactly what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The document could not be decoded (syntax, unknown field, wrong type).
    #[error("invalid config at `{path}`: {reason}")]
    Decode {
        /// Dotted path to the offending field, `.` for the root.
        path: String,
        /// What the decoder said.
        reason: String,
    },
    /// A field decoded but its value is not acceptable.
    #[error("invalid config at `{path}`: {reason}")]
    Invalid {
        /// Dotted path to the offending field.
        path: String,
        /// Why the value is refused.
        reason: String,
    },
}

impl ConfigError {
    /// Builds an [`ConfigError::Invalid`] for `path` with a reason.
    pub fn invalid(path: impl fmt::Display, reason: impl fmt::Display) -> Self {
        Self::Invalid { path: path.to_string(), reason: reason.to_string() }
    }

    /// The dotted field path the error is about.
    pub fn path(&self) -> &str {
        match self {
            Self::Decode { path, .. } | Self::Invalid { path, .. } => path,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_path_and_reason() {
        let e = ConfigError::invalid("clientIp.maxHops", "must be between 1 and 1024, got 0");
        assert_eq!(e.to_string(), "invalid config at `clientIp.maxHops`: must be between 1 and 1024, got 0");
        assert_eq!(e.path(), "clientIp.maxHops");
        let d = ConfigError::Decode { path: ".".into(), reason: "expected value".into() };
        assert_eq!(d.to_string(), "invalid config at `.`: expected value");
    }
}
