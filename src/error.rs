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

/// An I/O error in words, for log lines and config errors. On wasm32-wasip1
/// `io::Error`'s own text can be a bare errno (`os error 44`), which says
/// nothing to an operator reading Traefik's log; the kind is decoded on every
/// target, so the common cases are named from it.
pub fn io_reason(e: &std::io::Error) -> String {
    use std::io::ErrorKind as K;
    let words = match e.kind() {
        K::NotFound => "no such file or directory",
        K::PermissionDenied => "permission denied",
        K::IsADirectory => "is a directory",
        K::NotADirectory => "a parent is not a directory",
        K::UnexpectedEof => "file ended early",
        K::InvalidData => "invalid data",
        _ => return e.to_string(),
    };
    words.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_in_words() {
        use std::io::{Error, ErrorKind};
        let cases = [
            (Error::from(ErrorKind::NotFound), "no such file or directory"),
            (Error::from(ErrorKind::PermissionDenied), "permission denied"),
            (Error::other("disk on fire"), "disk on fire"),
        ];
        for (e, want) in cases {
            assert_eq!(io_reason(&e), want, "{e:?}");
        }
    }

    #[test]
    fn display_names_path_and_reason() {
        let e = ConfigError::invalid("clientIp.maxHops", "must be between 1 and 1024, got 0");
        assert_eq!(e.to_string(), "invalid config at `clientIp.maxHops`: must be between 1 and 1024, got 0");
        assert_eq!(e.path(), "clientIp.maxHops");
        let d = ConfigError::Decode { path: ".".into(), reason: "expected value".into() };
        assert_eq!(d.to_string(), "invalid config at `.`: expected value");
    }
}
