//! The one error type of the MaxMind DB reader.
//!
//! Every message is lower-case, says what is wrong, and names where: the file
//! offset for anything found in the file, the path for a file that cannot be
//! opened. Offsets are absolute (from the start of the file), so they can be
//! checked with `xxd -s OFFSET`.

use std::io;
use std::path::PathBuf;

/// Why a database cannot be opened or a lookup failed.
///
/// "Not in the database" is not an error: lookups return a
/// [`Lookup`](super::Lookup) whose `record` is `None`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MmdbError {
    /// The database file could not be opened or its size read.
    #[error("cannot open mmdb file `{}`: {}", path.display(), crate::error::io_reason(source))]
    Open {
        /// The path given to [`FileSource::open`](super::FileSource::open).
        path: PathBuf,
        /// What the operating system (or WASI host) said.
        #[source]
        source: io::Error,
    },
    /// A positional read failed (I/O error, or the file shrank after it was opened).
    #[error("read of {len} bytes at offset {offset} failed: {}", crate::error::io_reason(source))]
    Io {
        /// Where the read started.
        offset: u64,
        /// How many bytes were asked for.
        len: usize,
        /// What the operating system (or WASI host) said.
        #[source]
        source: io::Error,
    },
    /// A read would run past the end of the source: the file is truncated or
    /// an offset in it is bogus.
    #[error("read of {len} bytes at offset {offset} runs past the end of the {size}-byte database")]
    OutOfBounds {
        /// Where the read started.
        offset: u64,
        /// How many bytes were asked for.
        len: usize,
        /// The size of the source.
        size: u64,
    },
    /// The metadata section is missing or unusable (marker absent, a required
    /// key missing, a value out of range, a search tree larger than the file).
    #[error("invalid mmdb metadata: {0}")]
    InvalidMetadata(String),
    /// The search tree or the data section is corrupt.
    #[error("invalid mmdb database: {message} at offset {offset}")]
    InvalidDatabase {
        /// What is wrong.
        message: String,
        /// Where in the file.
        offset: u64,
    },
    /// A value exceeds one of the reader's safety limits (nesting depth, entry
    /// count, string length, values per lookup).
    #[error("mmdb limit exceeded: {message} at offset {offset}")]
    LimitExceeded {
        /// Which limit, and by how much.
        message: String,
        /// Where in the file.
        offset: u64,
    },
}

impl MmdbError {
    /// Builds [`MmdbError::InvalidMetadata`].
    pub(crate) fn metadata(reason: impl Into<String>) -> Self {
        Self::InvalidMetadata(reason.into())
    }

    /// Builds [`MmdbError::InvalidDatabase`] for a problem found at `offset`.
    pub(crate) fn corrupt(offset: u64, reason: impl std::fmt::Display) -> Self {
        Self::InvalidDatabase { message: reason.to_string(), offset }
    }

    /// Builds [`MmdbError::LimitExceeded`] for a problem found at `offset`.
    pub(crate) fn limit(offset: u64, reason: impl std::fmt::Display) -> Self {
        Self::LimitExceeded { message: reason.to_string(), offset }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_strings() {
        let not_found = io::Error::new(io::ErrorKind::NotFound, "no such file");
        let cases = [
            (
                MmdbError::Open { path: "geo/City.mmdb".into(), source: not_found },
                "cannot open mmdb file `geo/City.mmdb`: no such file or directory",
            ),
            (
                MmdbError::Io { offset: 4096, len: 7, source: io::Error::other("bad descriptor") },
                "read of 7 bytes at offset 4096 failed: bad descriptor",
            ),
            (
                MmdbError::OutOfBounds { offset: 90, len: 16, size: 100 },
                "read of 16 bytes at offset 90 runs past the end of the 100-byte database",
            ),
            (
                MmdbError::metadata("record_size 27 is not 24, 28 or 32"),
                "invalid mmdb metadata: record_size 27 is not 24, 28 or 32",
            ),
            (
                MmdbError::corrupt(1234, "pointer to a pointer"),
                "invalid mmdb database: pointer to a pointer at offset 1234",
            ),
            (
                MmdbError::limit(77, "string of 9000 bytes exceeds 4096"),
                "mmdb limit exceeded: string of 9000 bytes exceeds 4096 at offset 77",
            ),
        ];
        for (err, want) in cases {
            assert_eq!(err.to_string(), want);
        }
        // The offset is a field, not only text.
        assert!(matches!(MmdbError::corrupt(9, "x"), MmdbError::InvalidDatabase { offset: 9, .. }));
        assert!(matches!(MmdbError::limit(8, "x"), MmdbError::LimitExceeded { offset: 8, .. }));
    }
}
