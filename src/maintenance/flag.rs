//! The flag file: maintenance is on while a file exists and does not say `off`.
//!
//! The file is read at startup, so a freshly started instance never serves
//! traffic it should have blocked (cold start does not fail open), then at
//! most once per `checkInterval` per instance.

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use crate::error::ConfigError;
use crate::log::{Level, Log};
use crate::watch::WatchedFile;

/// Bytes read from the flag file. Longer content cannot be one of the "off"
/// words, so it means on; the bound keeps a stray large file from costing memory.
const MAX_FLAG_BYTES: u64 = 1024;

/// What the last check found.
#[derive(Debug)]
struct State {
    /// Only its interval is used: the content decides, so it is read at every check.
    watch: WatchedFile,
    on: bool,
    /// An unreadable file was already reported; cleared by the next good read.
    warned: bool,
}

/// A flag file re-read at most once per interval.
#[derive(Debug)]
pub(crate) struct FlagFile {
    path: PathBuf,
    state: Mutex<State>,
}

impl FlagFile {
    /// Checks the directory and reads the flag once. Errors name `maintenance.flagFile`.
    pub(crate) fn new(path: &str, interval: Duration, log: &dyn Log) -> Result<Self, ConfigError> {
        const FIELD: &str = "maintenance.flagFile";
        if interval.is_zero() {
            return Err(ConfigError::invalid("maintenance.checkInterval", "must be greater than 0"));
        }
        let path = PathBuf::from(path);
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        // Reading the directory (not just stat-ing it) proves the plugin can see
        // it: in Traefik a directory outside `settings.mounts` does not exist for the guest.
        if let Err(e) = fs::read_dir(dir) {
            let reason = format!(
                "directory `{}` of `{}` cannot be read: {} (in Traefik, list it in the plugin's settings.mounts)",
                dir.display(),
                path.display(),
                crate::error::io_reason(&e)
            );
            return Err(ConfigError::invalid(FIELD, reason));
        }
        if fs::metadata(&path).is_ok_and(|m| m.is_dir()) {
            return Err(ConfigError::invalid(
                FIELD,
                format!("`{}` is a directory, not a file", path.display()),
            ));
        }
        let on = match read(&path) {
            Ok(on) => on,
            // Fail closed: the file is there, so someone created it, and
            // nothing earlier says it is off.
            Err(e) => {
                let msg = format!(
                    "maintenance flag file {}: {}; treating maintenance as on",
                    path.display(),
                    crate::error::io_reason(&e)
                );
                log.log(Level::Warn, &msg);
                true
            }
        };
        let state = Mutex::new(State { watch: WatchedFile::new(interval), on, warned: false });
        Ok(Self { path, state })
    }

    /// Whether the flag says on at `now`, re-reading the file when the last
    /// check is at least one interval old.
    pub(crate) fn is_on(&self, now: SystemTime, log: &dyn Log) -> bool {
        let mut state = crate::sync::lock(&self.state);
        if !state.watch.due(now) {
            return state.on;
        }
        match read(&self.path) {
            Ok(on) => {
                state.on = on;
                state.warned = false;
            }
            Err(e) => {
                if !state.warned {
                    let kept = if state.on { "on" } else { "off" };
                    let msg = format!(
                        "maintenance flag file {}: {}; keeping maintenance {kept}",
                        self.path.display(),
                        crate::error::io_reason(&e)
                    );
                    log.log(Level::Warn, &msg);
                    state.warned = true;
                }
            }
        }
        state.on
    }

    /// The configured path, for diagnostics.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

/// Reads the flag once: whether it is on (a missing file is off), or why
/// the file that is there cannot be read.
fn read(path: &Path) -> io::Result<bool> {
    let mut content = Vec::new();
    let result = fs::File::open(path).and_then(|f| f.take(MAX_FLAG_BYTES + 1).read_to_end(&mut content));
    match result {
        Ok(_) => Ok(content.len() as u64 > MAX_FLAG_BYTES || says_on(&content)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// Content of an existing flag file: anything but `off`, `0` or `false`
/// (trimmed, case-insensitive) means on, an empty file included.
pub(crate) fn says_on(content: &[u8]) -> bool {
    let word = content.trim_ascii();
    !(word.eq_ignore_ascii_case(b"off") || word == b"0" || word.eq_ignore_ascii_case(b"false"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_variants() {
        let cases: &[(&str, &[u8], bool)] = &[
            ("empty file", b"", true),
            ("whitespace only", b" \n", true),
            ("on", b"on", true),
            ("padded OFF", b" OFF\n", false),
            ("off", b"off", false),
            ("zero", b"0", false),
            ("false", b"false", false),
            ("False CRLF", b"False\r\n", false),
            ("anything", b"anything", true),
            ("off with words", b"off please", true),
            ("non-UTF-8", b"\xff\xfe", true),
        ];
        for (desc, content, want) in cases {
            assert_eq!(says_on(content), *want, "{desc}: {content:?}");
        }
    }

    #[test]
    fn zero_interval_is_refused() {
        let err = FlagFile::new("flag", Duration::ZERO, &crate::log::MemoryLog::default()).unwrap_err();
        assert_eq!(err.to_string(), "invalid config at `maintenance.checkInterval`: must be greater than 0");
    }

    /// File-based tests run natively only: wasm32-wasip1 test binaries have
    /// no temporary directory to write to.
    #[cfg(not(target_arch = "wasm32"))]
    mod files {
        use super::super::*;
        use crate::log::MemoryLog;

        #[test]
        fn read_at_init_each_state() {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("maintenance");
            let cases: &[(&str, Option<&[u8]>, bool)] = &[
                ("absent", None, false),
                ("empty", Some(b""), true),
                ("on", Some(b"on"), true),
                ("OFF", Some(b" OFF\n"), false),
                ("0", Some(b"0"), false),
                ("false", Some(b"false"), false),
                ("anything", Some(b"anything"), true),
                ("oversized off", Some(&[b' '; 2048]), true),
            ];
            for (desc, content, want) in cases {
                let _ = fs::remove_file(&path);
                if let Some(content) = content {
                    fs::write(&path, content).unwrap();
                }
                let flag =
                    FlagFile::new(path.to_str().unwrap(), Duration::from_secs(2), &MemoryLog::default());
                assert_eq!(flag.unwrap().is_on(SystemTime::now(), &MemoryLog::default()), *want, "{desc}");
            }
        }

        #[test]
        fn changes_are_seen_only_after_the_interval() {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("flag");
            let log = MemoryLog::default();
            for interval in [Duration::from_millis(1), Duration::from_secs(3600)] {
                let _ = fs::remove_file(&path);
                let flag = FlagFile::new(path.to_str().unwrap(), interval, &log).unwrap();
                let t0 = flag.state.lock().unwrap().watch.checked_at();
                assert!(!flag.is_on(t0, &log), "{interval:?}: absent at init");
                fs::write(&path, "").unwrap();
                let just_before = t0 + interval - Duration::from_nanos(1);
                assert!(!flag.is_on(just_before, &log), "{interval:?}: cached before the interval");
                assert!(flag.is_on(t0 + interval, &log), "{interval:?}: seen once the interval passed");
                fs::write(&path, "off").unwrap();
                assert!(flag.is_on(t0 + interval, &log), "{interval:?}: cached again");
                assert!(!flag.is_on(t0 + interval * 2, &log), "{interval:?}: off after the next interval");
                fs::write(&path, "on").unwrap();
                assert!(flag.is_on(t0 + interval * 3, &log), "{interval:?}: on again");
                fs::remove_file(&path).unwrap();
                assert!(!flag.is_on(t0 + interval * 4, &log), "{interval:?}: a vanished file is off");
            }
            assert!(log.lines().is_empty(), "{:?}", log.lines());
        }

        #[test]
        fn missing_directory_is_a_config_error_naming_the_path() {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("missing").join("flag");
            let err = FlagFile::new(path.to_str().unwrap(), Duration::from_secs(2), &MemoryLog::default())
                .unwrap_err();
            assert_eq!(err.path(), "maintenance.flagFile");
            let msg = err.to_string();
            assert!(msg.contains(&path.display().to_string()) && msg.contains("settings.mounts"), "{msg}");
        }

        #[test]
        fn a_directory_is_not_a_flag_file() {
            let dir = tempfile::tempdir().unwrap();
            let err =
                FlagFile::new(dir.path().to_str().unwrap(), Duration::from_secs(2), &MemoryLog::default());
            assert!(err.unwrap_err().to_string().contains("is a directory"));
        }

        #[test]
        fn unreadable_file_keeps_the_previous_state_and_warns_once() {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("flag");
            for (initial, want) in [(Some("on"), true), (None, false)] {
                let _ = fs::remove_dir(&path);
                if let Some(content) = initial {
                    fs::write(&path, content).unwrap();
                }
                let log = MemoryLog::default();
                let flag = FlagFile::new(path.to_str().unwrap(), Duration::from_millis(1), &log).unwrap();
                let t0 = flag.state.lock().unwrap().watch.checked_at();
                // A directory in place of the file opens but cannot be read,
                // even for root (which ignores permission bits).
                let _ = fs::remove_file(&path);
                fs::create_dir(&path).unwrap();
                for i in 1..=3 {
                    assert_eq!(
                        flag.is_on(t0 + Duration::from_millis(i), &log),
                        want,
                        "{initial:?}: check {i}"
                    );
                }
                let lines = log.lines();
                assert_eq!(lines.len(), 1, "{initial:?}: warned once: {lines:?}");
                assert_eq!(lines[0].0, Level::Warn);
                let kept = if want { "keeping maintenance on" } else { "keeping maintenance off" };
                assert!(
                    lines[0].1.contains(kept) && lines[0].1.contains(&*path.to_string_lossy()),
                    "{lines:?}"
                );
                // A good read clears the warning; the next failure is reported again.
                fs::remove_dir(&path).unwrap();
                fs::write(&path, "on").unwrap();
                assert!(flag.is_on(t0 + Duration::from_millis(10), &log));
                fs::remove_file(&path).unwrap();
                fs::create_dir(&path).unwrap();
                assert!(flag.is_on(t0 + Duration::from_millis(20), &log), "kept on");
                assert_eq!(log.lines().len(), 2, "{:?}", log.lines());
            }
        }

        #[cfg(unix)]
        #[test]
        fn unreadable_at_startup_fails_closed() {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("flag");
            // A symlink loop exists but cannot be opened, even by root.
            std::os::unix::fs::symlink(&path, &path).unwrap();
            let log = MemoryLog::default();
            let flag = FlagFile::new(path.to_str().unwrap(), Duration::from_secs(2), &log).unwrap();
            assert!(flag.is_on(SystemTime::now(), &log));
            let lines = log.lines();
            assert_eq!(lines.len(), 1, "{lines:?}");
            assert!(lines[0].1.contains("treating maintenance as on"), "{lines:?}");
        }
    }
}
