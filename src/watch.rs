//! Polling a file for changes: the maintenance flag file, the geo databases
//! and the sidecar's config file.
//!
//! The plugin has no timer, so its checks ride on requests, at most once per
//! interval on the wall clock ([`crate::clock`] says why). The sidecar's
//! config check rides on a tokio timer instead. What a change means stays
//! with each user: a database or config file changes with its size or
//! modification time, while the flag file's content decides, so it is read at
//! every due check (a `chmod` that makes it readable changes neither).

use std::io;
use std::path::Path;
use std::time::{Duration, SystemTime};

/// When a file was last checked and the version seen then. Its user keeps
/// the path (outside its lock, for diagnostics) and this under its lock.
#[derive(Debug)]
pub(crate) struct WatchedFile {
    interval: Duration,
    checked_at: SystemTime,
    /// Size and modification time: an in-place write changes the time, a
    /// rename over the file (a ConfigMap update, a new database) either.
    seen: Option<(u64, Option<SystemTime>)>,
}

impl WatchedFile {
    /// Counts the first `interval` from now; no version is seen yet.
    pub(crate) fn new(interval: Duration) -> Self {
        Self { interval, checked_at: SystemTime::now(), seen: None }
    }

    /// True when an interval has passed since the last check (or the clock
    /// stepped back); the next interval then starts at `now`.
    pub(crate) fn due(&mut self, now: SystemTime) -> bool {
        let due = crate::clock::due(self.checked_at, now, self.interval);
        if due {
            self.checked_at = now;
        }
        due
    }

    /// Whether `path`'s version differs from the one seen, which it then
    /// becomes. A file that cannot be stat-ed (missing, most often) is an
    /// error and leaves the version seen as it was.
    pub(crate) fn changed(&mut self, path: &Path) -> io::Result<bool> {
        let meta = std::fs::metadata(path)?;
        let now = Some((meta.len(), meta.modified().ok()));
        Ok(std::mem::replace(&mut self.seen, now) != now)
    }

    /// Forgets the version seen, so the file counts as changed when it is
    /// back even as it was; true when a version was known.
    pub(crate) fn forget(&mut self) -> bool {
        self.seen.take().is_some()
    }

    #[cfg(test)]
    pub(crate) fn checked_at(&self) -> SystemTime {
        self.checked_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Natively only: wasm32-wasip1 test binaries have no temporary directory.
    #[cfg(not(target_arch = "wasm32"))]
    #[test]
    fn changed_by_size_or_time_and_a_missing_file_keeps_the_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("watched");
        let write = |content: &str, secs| {
            std::fs::write(&path, content).unwrap();
            let file = std::fs::File::options().write(true).open(&path).unwrap();
            file.set_modified(crate::testutil::at(secs)).unwrap();
        };
        let mut watch = WatchedFile::new(Duration::ZERO);
        assert!(watch.changed(&path).is_err(), "missing");
        for (content, secs, want) in [("a", 1, true), ("a", 1, false), ("ab", 1, true), ("ab", 2, true)] {
            write(content, secs);
            assert_eq!(watch.changed(&path).unwrap(), want, "{content:?} at {secs}");
        }
        std::fs::remove_file(&path).unwrap();
        assert!(watch.changed(&path).is_err(), "removed");
        write("ab", 2);
        assert!(!watch.changed(&path).unwrap(), "back as it was");
        assert!(watch.forget() && !watch.forget(), "a version was known, then none");
        assert!(watch.changed(&path).unwrap(), "after forget, even as it was");
    }
}
