//! The geo stage: looks the resolved client up in a MaxMind database and
//! sets the configured headers (client-sent copies are removed by
//! [`crate::headers::ManagedHeaders`], from [`GeoStage::managed_names`]).
//!
//! The database is read on demand through a bounded page cache
//! ([`crate::mmdb`]): a wasm instance never holds the whole file, so memory
//! per instance stays within `memoryBudget` however many instances Traefik runs.

mod cache;
mod database;
mod values;

use std::net::IpAddr;
use std::path::Path;
use std::sync::Mutex;
use std::time::SystemTime;

pub use cache::NetworkCache;
pub use values::{DbKind, FIELDS, Field, FieldSpec, encode};

use crate::config::{GeoConfig, GeoOnError, ValueEncoding};
use crate::error::ConfigError;
use crate::headers::check_output_name;
use crate::log::{Level, Log};
use crate::mmdb::CityFields;
use crate::request::{EditName, HeaderEdit};
use database::{Db, ReloadingDb};
use values::Values;

/// The smallest page cache per database: one page, so that the nodes of a
/// lookup that share a page cost one read. More pages save little: with the
/// top of the tree and the data head kept by the reader, a GeoLite2-City
/// lookup that misses the lookup cache reads ~8 pages (Zipf mix, simulated:
/// 8.3 with one page, 8.1 with two, 8.0 with three), and every page is paid
/// once per instance Traefik runs (issue #14); the kernel's page cache, shared
/// by all instances, does the rest.
const MIN_PAGE_CACHE: usize = crate::mmdb::PAGE_SIZE;

/// Why geo could not be applied to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GeoFailure {
    /// A database is unavailable or a lookup failed and `onError: fail` is set.
    Unavailable,
}

/// What the geo stage found for one request (for the sidecar's metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GeoStatus {
    /// A database had data for the client.
    Hit,
    /// The databases had no data for the client (or there was no client).
    Miss,
    /// A database was unavailable or a lookup failed (`onError: skip` passed the request on).
    Unavailable,
}

/// One database with its lookup cache.
struct Source {
    db: ReloadingDb,
    cache: Mutex<(u64, NetworkCache<Values>)>,
    kind: DbKind,
}

/// The validated `geo` section.
pub struct GeoStage {
    sources: Vec<Source>,
    /// Header name per field (index = `Field as usize`), `None` when switched
    /// off or when no configured database has the field.
    names: [Option<EditName>; FIELDS.len()],
    language: String,
    encoding: ValueEncoding,
    unknown_value: Option<String>,
    db_info_header: Option<EditName>,
    on_error: GeoOnError,
    /// The City-record fields some header needs: only those are decoded.
    city_fields: CityFields,
}

impl std::fmt::Debug for GeoStage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeoStage").field("databases", &self.sources.len()).finish_non_exhaustive()
    }
}

impl GeoStage {
    /// Validates the section and opens the databases (metadata only). `None`
    /// when geo is off (no database configured).
    pub fn new(cfg: &GeoConfig, log: &dyn Log) -> Result<Option<Self>, ConfigError> {
        if cfg.database.is_empty() && cfg.asn_database.is_empty() {
            return Ok(None);
        }
        let paths: Vec<(&str, &str, DbKind)> = [
            ("geo.database", cfg.database.as_str(), DbKind::City),
            ("geo.asnDatabase", cfg.asn_database.as_str(), DbKind::Asn),
        ]
        .into_iter()
        .filter(|(_, p, _)| !p.is_empty())
        .collect();
        let mut names: [Option<EditName>; FIELDS.len()] = Default::default();
        for ((spec, name), slot) in FIELDS.iter().zip(cfg.headers.fields()).zip(&mut names) {
            check_output_name(name, true)
                .map_err(|r| ConfigError::invalid(format_args!("geo.headers.{}", spec.key), r))?;
            // A field no configured database can supply never gets a header
            // (not even `unknownValue`): e.g. ASN headers without `asnDatabase`.
            let supplied = paths.iter().any(|&(_, _, db)| db == spec.db);
            *slot = (!name.is_empty() && supplied).then(|| name.into());
        }
        check_output_name(&cfg.db_info_header, true)
            .map_err(|r| ConfigError::invalid("geo.dbInfoHeader", r))?;
        if cfg.language.is_empty() || !cfg.language.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(ConfigError::invalid(
                "geo.language",
                format!("`{}` is not a language tag like en or pt-BR", cfg.language),
            ));
        }
        if let Some(v) = &cfg.unknown_value {
            if v.is_empty() || v.chars().any(char::is_control) {
                return Err(ConfigError::invalid(
                    "geo.unknownValue",
                    "must be a non-empty value without control characters",
                ));
            }
        }
        if cfg.reload_interval.is_zero() {
            return Err(ConfigError::invalid("geo.reloadInterval", "must be greater than 0"));
        }
        let max_entries = NetworkCache::<Values>::MAX_CAPACITY;
        if cfg.cache_entries > max_entries {
            return Err(ConfigError::invalid(
                "geo.cacheEntries",
                format!("{} is over the most a lookup cache holds, {max_entries}", cfg.cache_entries),
            ));
        }
        let cache_entries = cfg.cache_entries / paths.len();
        let cache_bytes = cfg.cache_entries.saturating_mul(cache::ENTRY_BYTES);
        // Each reader keeps the top of its tree and the head of its data
        // section besides its pages, and a City reader its place memo; what
        // is left is shared out as pages.
        let kept = |db: DbKind| {
            crate::mmdb::HOT_BYTES + if db == DbKind::Asn { 0 } else { crate::mmdb::PLACE_MEMO_BYTES }
        };
        let kept_bytes: usize = paths.iter().map(|&(_, _, db)| kept(db)).sum();
        let page_cache =
            cfg.memory_budget.saturating_sub(cache_bytes.saturating_add(kept_bytes)) / paths.len();
        if page_cache < MIN_PAGE_CACHE {
            let reason = format!(
                "{} bytes leave {page_cache} bytes of page cache per database after {} cache entries (~{} bytes \
                 each) and {kept_bytes} bytes of tree index, data head and place memo; at least \
                 {MIN_PAGE_CACHE} are needed: raise memoryBudget or lower cacheEntries",
                cfg.memory_budget,
                cfg.cache_entries,
                cache::ENTRY_BYTES,
            );
            return Err(ConfigError::invalid("geo.memoryBudget", reason));
        }
        let sources: Vec<Source> = paths
            .into_iter()
            .map(|(_, path, kind)| Source {
                db: ReloadingDb::open(Path::new(path), page_cache, cfg.reload_interval, log),
                cache: Mutex::new((0, NetworkCache::new(cache_entries))),
                kind,
            })
            .collect();
        let on = |f: Field| names[f as usize].is_some();
        let city_fields = CityFields {
            country_iso_code: on(Field::Country),
            country_name: on(Field::CountryName),
            continent_code: on(Field::Continent),
            subdivision_iso_code: on(Field::Region),
            subdivision_name: on(Field::RegionName),
            city_name: on(Field::City),
            postal_code: on(Field::PostalCode),
            location: [Field::Latitude, Field::Longitude, Field::AccuracyRadius, Field::TimeZone]
                .into_iter()
                .any(on),
        };
        Ok(Some(Self {
            city_fields,
            sources,
            names,
            language: cfg.language.clone(),
            encoding: cfg.encoding,
            unknown_value: cfg.unknown_value.as_ref().map(|v| values::encode(v, cfg.encoding)),
            db_info_header: (!cfg.db_info_header.is_empty()).then(|| cfg.db_info_header.as_str().into()),
            on_error: cfg.on_error,
        }))
    }

    /// Each configured database file with the build time (`build_epoch`, Unix
    /// seconds) of the version in use at `now`, `None` when none is loaded.
    /// Like a lookup, this checks the files when `reloadInterval` has passed.
    pub fn databases(&self, now: SystemTime, log: &dyn Log) -> Vec<(&Path, Option<u64>)> {
        self.sources
            .iter()
            .map(|s| (s.db.path(), s.db.current(now, log).0.map(|db| db.reader.metadata().build_epoch)))
            .collect()
    }

    /// The headers this stage can set with the databases it has: what can be
    /// signed, the client-IP header first then these (`signing.headers`).
    pub fn settable(&self) -> impl Iterator<Item = &str> {
        self.names.iter().flatten().map(|n| &**n).chain(self.db_info_header.as_deref())
    }

    /// Every geo header name, configured or usual, and `dbInfoHeader`
    /// (configured or the default `X-Geo-DB`), whether this config sets it
    /// or not: only EdgeGuard sets them, so a client-sent copy never passes.
    pub fn managed_names(cfg: &GeoConfig) -> impl Iterator<Item = &str> {
        let usual = FIELDS.iter().map(|spec| spec.usual_header);
        cfg.headers
            .fields()
            .into_iter()
            .chain(usual)
            .chain([cfg.db_info_header.as_str(), crate::headers::X_GEO_DB])
    }

    /// Looks `client` up and appends the geo headers. `now` drives the
    /// database re-check (`reloadInterval`).
    pub fn run(
        &self,
        client: Option<IpAddr>,
        now: SystemTime,
        edits: &mut Vec<HeaderEdit>,
        log: &dyn Log,
    ) -> Result<GeoStatus, GeoFailure> {
        // One slot per source: `geo.database` and `geo.asnDatabase`.
        let mut found: [Option<Values>; 2] = [None, None];
        let mut info: Vec<String> = Vec::new();
        let mut failed = false;
        for (source, found) in self.sources.iter().zip(&mut found) {
            let (db, generation) = source.db.current(now, log);
            let Some(db) = db else {
                failed = true;
                continue;
            };
            if self.db_info_header.is_some() {
                info.push(db.info().to_string());
            }
            let Some(ip) = client else { continue };
            match self.lookup(source, &db, generation, ip) {
                Ok(values) => *found = Some(values),
                Err(e) => {
                    log.log(Level::Error, &format!("geo lookup of {ip} failed: {e}"));
                    failed = true;
                }
            }
        }
        if failed && self.on_error == GeoOnError::Fail {
            return Err(GeoFailure::Unavailable);
        }
        if let (Some(name), false) = (&self.db_info_header, info.is_empty()) {
            edits.push(HeaderEdit::Set(name.clone(), info.join(", ")));
        }
        let status = if failed {
            GeoStatus::Unavailable
        } else if found.iter().flatten().any(|v| !v.is_empty()) {
            GeoStatus::Hit
        } else {
            GeoStatus::Miss
        };
        if client.is_none() {
            return Ok(status);
        }
        // Sources never supply the same field (city vs ASN), so merging is a fill.
        let mut values = [None; FIELDS.len()];
        for found in found.iter().flatten() {
            for (slot, value) in values.iter_mut().zip(found.fields()) {
                *slot = slot.or(value);
            }
        }
        for (name, value) in self.names.iter().zip(values) {
            let Some(name) = name else { continue };
            if let Some(value) = value.or(self.unknown_value.as_deref()) {
                edits.push(HeaderEdit::Set(name.clone(), value.to_string()));
            }
        }
        Ok(status)
    }

    fn lookup(
        &self,
        source: &Source,
        db: &Db,
        generation: u64,
        ip: IpAddr,
    ) -> Result<Values, crate::mmdb::MmdbError> {
        if let Ok(mut guard) = source.cache.lock() {
            let (cached_gen, cache) = &mut *guard;
            if *cached_gen != generation {
                cache.clear();
                *cached_gen = generation;
            }
            if let Some(values) = cache.get(ip) {
                return Ok(values);
            }
        }
        let (values, prefix_len) = if source.kind == DbKind::Asn {
            let found = db.reader.lookup_asn(ip)?;
            (found.record.map(|r| values::asn_values(&r, self.encoding)), found.prefix_len)
        } else {
            let found = db.reader.lookup_city_fields(ip, &self.language, self.city_fields)?;
            (found.record.map(|r| values::city_values(&r, self.encoding)), found.prefix_len)
        };
        let values = values.unwrap_or_else(Values::empty);
        if let Ok(mut guard) = source.cache.lock() {
            guard.1.insert(ip, prefix_len, values.clone());
        }
        Ok(values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::MemoryLog;

    #[test]
    fn memory_budget_is_shared_out_and_bounded() {
        let d = GeoConfig::default();
        let max = NetworkCache::<Values>::MAX_CAPACITY;
        // (case, with asnDatabase, cacheEntries, memoryBudget, the field refused)
        let cases = [
            ("default, City", false, d.cache_entries, d.memory_budget, None),
            ("default, City + ASN", true, d.cache_entries, d.memory_budget, None),
            ("no page left", true, 64, 16 << 10, Some("geo.memoryBudget")),
            ("cache over the budget", false, 4096, 24 << 10, Some("geo.memoryBudget")),
            ("entries overflowing the sums", false, usize::MAX, 24 << 10, Some("geo.cacheEntries")),
            ("one more than a cache holds", false, max + 1, 1 << 30, Some("geo.cacheEntries")),
        ];
        for (desc, asn, cache_entries, memory_budget, refused_at) in cases {
            let cfg = GeoConfig {
                database: "testdata/geo/GeoLite2-City-Test.mmdb".into(),
                asn_database: if asn { "testdata/geo/GeoLite2-ASN-Test.mmdb".into() } else { String::new() },
                cache_entries,
                memory_budget,
                ..GeoConfig::default()
            };
            let got = GeoStage::new(&cfg, &MemoryLog::default());
            assert_eq!(got.as_ref().err().map(ConfigError::path), refused_at, "case {desc}");
        }
    }
}
