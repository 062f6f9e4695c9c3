//! One database file that can change under us: opened at init (metadata
//! only), re-checked at most every `reloadInterval`, reopened when its
//! size or modification time changes (an in-place write or a rename over it).
//!
//! What the file on disk is decides, not what an instance opened earlier: a
//! broken replacement, or a missing file, is logged once and the database in
//! use is dropped too. In Traefik each concurrent request has its own
//! instance, and instances start all the time; one started now can only open
//! what is on disk, so an older instance keeping the old database would
//! answer a client's country differently from its neighbours for as long as
//! the broken file stays. Dropping it makes every instance agree (no geo
//! data, then `onError`) within one `reloadInterval` of the change, and the
//! next good file is picked up by all of them the same way.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use crate::log::{Level, Log};
use crate::mmdb::{FileSource, MmdbError, Reader};
use crate::watch::WatchedFile;

/// An open database with its `dbInfoHeader` text, computed once per open
/// when first asked for: `dbInfoHeader` is off by default, and formatting the
/// date cost every wasm instance's init more than reading the metadata (issue #14).
#[derive(Debug)]
pub struct OpenDb {
    /// The reader.
    pub reader: Reader<FileSource>,
    info: OnceLock<String>,
}

impl OpenDb {
    /// `<database type>; build=<RFC 3339 build date>`.
    pub fn info(&self) -> &str {
        self.info.get_or_init(|| {
            let meta = self.reader.metadata();
            format!("{}; build={}", meta.database_type, build_date(meta.build_epoch))
        })
    }
}

/// A shared open database.
pub type Db = Arc<OpenDb>;

#[derive(Debug)]
struct State {
    db: Option<Db>,
    /// Its version is the one `db` was opened from, or the last one that failed.
    watch: WatchedFile,
    /// Bumped on every successful (re)open, so caches know to drop old answers.
    generation: u64,
}

/// A database file with its reload policy.
#[derive(Debug)]
pub struct ReloadingDb {
    path: PathBuf,
    page_cache: usize,
    state: Mutex<State>,
}

fn open(path: &Path, page_cache: usize) -> Result<Db, MmdbError> {
    let reader = Reader::new(FileSource::open(path, page_cache)?)?;
    Ok(Arc::new(OpenDb { reader, info: OnceLock::new() }))
}

/// `YYYY-MM-DDTHH:MM:SSZ` for a database's `build_epoch`.
fn build_date(epoch: u64) -> String {
    let fmt = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    i64::try_from(epoch)
        .ok()
        .and_then(|e| time::OffsetDateTime::from_unix_timestamp(e).ok())
        .and_then(|t| t.format(&fmt).ok())
        .unwrap_or_else(|| epoch.to_string())
}

impl ReloadingDb {
    /// Opens `path` now; a failure is logged with the path and the reason and
    /// leaves the database unavailable until a later check succeeds.
    pub fn open(path: &Path, page_cache: usize, interval: Duration, log: &dyn Log) -> Self {
        let mut watch = WatchedFile::new(interval);
        let _ = watch.changed(path);
        let db = match open(path, page_cache) {
            Ok(db) => Some(db),
            Err(e) => {
                // Outside Traefik's `settings.mounts` (or on Traefik < 3.2.2,
                // which has no mounts) the file simply does not exist for the guest.
                let hint = if matches!(e, MmdbError::Open { .. }) {
                    "; in Traefik the directory must be listed in the plugin's settings.mounts (Traefik >= 3.2.2)"
                } else {
                    ""
                };
                log.log(Level::Error, &format!("geo database {}: {e}{hint}", path.display()));
                None
            }
        };
        let state = State { db, watch, generation: 0 };
        Self { path: path.to_path_buf(), page_cache, state: Mutex::new(state) }
    }

    /// The file this database is read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The database to use at `now`, and its generation. Checks the file when
    /// `reloadInterval` has passed since the last check.
    pub fn current(&self, now: SystemTime, log: &dyn Log) -> (Option<Db>, u64) {
        let mut state = crate::sync::lock(&self.state);
        if state.watch.due(now) {
            self.check(&mut state, log);
        }
        (state.db.clone(), state.generation)
    }

    fn check(&self, state: &mut State, log: &dyn Log) {
        let path = self.path.display();
        match state.watch.changed(&self.path) {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => {
                // Both dropped (`|`, not `||`); the version is forgotten so
                // the file counts as new when it is back.
                if state.watch.forget() | state.db.take().is_some() {
                    let e = crate::error::io_reason(&e);
                    log.log(Level::Error, &format!("geo database {path}: {e}; no database in use"));
                }
                return;
            }
        }
        match open(&self.path, self.page_cache) {
            Ok(db) => {
                let meta = db.reader.metadata();
                log.log(
                    Level::Info,
                    &format!("geo database {path}: loaded {} built {}", meta.database_type, meta.build_epoch),
                );
                state.db = Some(db);
                state.generation += 1;
            }
            Err(e) => {
                // Instances starting now cannot open the old file any more;
                // keeping it here would make this one disagree with them.
                state.db = None;
                log.log(
                    Level::Error,
                    &format!("geo database {path}: rejected new file: {e}; no database in use"),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::MemoryLog;

    /// Issue #14: an instance that opened the old file must not outlive, by
    /// more than one `reloadInterval`, what a fresh instance can open now.
    #[test]
    fn fresh_and_old_instances_agree_within_one_interval() {
        struct Case<'a> {
            desc: &'static str,
            replacement: Option<&'a [u8]>,
            old_keeps_db: bool,
        }
        let good = std::fs::read("testdata/geo/GeoLite2-City-Test.mmdb").unwrap();
        let cases = [
            Case {
                desc: "broken replacement",
                replacement: Some(b"not a MaxMind database"),
                old_keeps_db: false,
            },
            Case { desc: "file removed", replacement: None, old_keeps_db: false },
            Case { desc: "good replacement", replacement: Some(&good), old_keeps_db: true },
        ];
        let dir = Path::new("target/tmp");
        std::fs::create_dir_all(dir).unwrap();
        for (i, c) in cases.iter().enumerate() {
            let nanos = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_nanos();
            let path = dir.join(format!("reloading-{i}-{nanos}.mmdb"));
            std::fs::write(&path, &good).unwrap();
            let log = MemoryLog::default();
            let interval = Duration::from_secs(60);
            let old = ReloadingDb::open(&path, 8192, interval, &log);
            let t0 = SystemTime::now();
            assert!(old.current(t0, &log).0.is_some(), "{}: the first file opens", c.desc);
            // A replacement of another size, so the version check sees it.
            let _ = std::fs::remove_file(&path);
            if let Some(bytes) = c.replacement {
                std::fs::write(&path, [bytes, b"\n"].concat()).unwrap();
            }
            let fresh = ReloadingDb::open(&path, 8192, interval, &log);
            let later = t0 + interval + Duration::from_secs(1);
            let (old_db, fresh_db) = (old.current(later, &log).0, fresh.current(later, &log).0);
            assert_eq!(old_db.is_some(), c.old_keeps_db, "{}: old instance after one interval", c.desc);
            assert_eq!(fresh_db.is_some(), old_db.is_some(), "{}: fresh and old instances disagree", c.desc);
            let _ = std::fs::remove_file(&path);
        }
    }
}
