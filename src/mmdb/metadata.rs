//! The metadata section: finding it from the end of the file, decoding it,
//! and validating it once into the [`Layout`] numbers lookups rely on.
//!
//! Format: <https://maxmind.github.io/MaxMind-DB/#database-metadata>.

use super::MmdbError;
use super::decoder::{Cursor, TYPE_MAP, map_keys};
use super::source::ByteSource;

/// Starts the metadata section; the last occurrence in the file counts.
pub(crate) const METADATA_MARKER: &[u8; 14] = b"\xAB\xCD\xEFMaxMind.com";

/// The spec caps the metadata section at 128 KiB, so the marker is within
/// this many bytes of the end.
const MAX_METADATA_SEARCH: u64 = 128 * 1024;

/// Bytes read per step of the backward marker search. Real metadata is a
/// few hundred bytes (GeoLite2-City's: 229), so the first read finds it and
/// holds all of it: init stays one read, of a buffer every instance fills.
const SEARCH_CHUNK: u64 = 1024;

/// Bytes between the search tree and the data section (all zero).
pub(crate) const DATA_SECTION_SEPARATOR: u64 = 16;

/// What the database says about itself: the keys EdgeGuard uses. The
/// others (`languages`, `description`) are skipped undecoded, as unknown keys
/// are: decoding their strings cost every wasm instance's init (issue #14).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Metadata {
    /// The kind of database, e.g. `GeoLite2-City` or `GeoLite2-ASN`.
    pub database_type: String,
    /// When the database was built, in seconds since the Unix epoch.
    pub build_epoch: u64,
    /// 4 (IPv4 addresses only) or 6.
    pub ip_version: u16,
    /// Bits per search tree record: 24, 28 or 32.
    pub record_size: u16,
    /// Nodes in the search tree.
    pub node_count: u32,
    /// Always 2 for the format this reader understands.
    pub binary_format_major_version: u16,
    /// Minor format version; minor versions are backward compatible.
    pub binary_format_minor_version: u16,
}

/// Offsets derived from validated metadata, cached for the hot path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Layout {
    pub ip_version: u16,
    pub record_size: u16,
    /// Bytes per node: two records.
    pub node_bytes: u64,
    pub node_count: u32,
    /// File offset of the data section (after the tree and the separator).
    pub data_start: u64,
    /// Bytes from `data_start` to the metadata marker.
    pub data_len: u64,
}

/// The file offset just after the last metadata marker, and the bytes from
/// there to the end of the chunk the marker was found in (the whole section
/// when it is in the last [`SEARCH_CHUNK`] bytes, as in real databases), so
/// that decoding it costs no more reads. Searches backward from the end in
/// small chunks (each overlapping the next by the marker length minus one, so
/// a marker across a chunk boundary is still seen), read past any page
/// cache: nothing else reads the file's tail.
pub(crate) fn find_metadata<S: ByteSource + ?Sized>(src: &S) -> Result<(u64, Vec<u8>), MmdbError> {
    let len = src.len();
    let floor = len.saturating_sub(MAX_METADATA_SEARCH);
    let overlap = METADATA_MARKER.len() as u64 - 1;
    let mut buf = vec![0; (SEARCH_CHUNK + overlap) as usize];
    let mut end = len;
    while end > floor {
        let start = end.saturating_sub(SEARCH_CHUNK + overlap).max(floor);
        // end - start ≤ SEARCH_CHUNK + overlap, the buffer length.
        let chunk =
            buf.get_mut(..(end - start) as usize).ok_or_else(|| MmdbError::metadata("search chunk"))?;
        src.read_once_at(start, chunk)?;
        // The marker's first byte (0xAB) is rare: compare whole windows only
        // where memchr finds it. Comparing every window cost most of a fresh
        // instance's init in wasm (issue #14: init is paid per instance).
        let (&first, rest) = METADATA_MARKER.split_first().ok_or_else(|| MmdbError::metadata("marker"))?;
        let mut candidates = chunk.len().saturating_sub(rest.len());
        let found = std::iter::from_fn(|| {
            let i = memchr::memrchr(first, chunk.get(..candidates)?)?;
            candidates = i;
            Some(i)
        })
        .find(|&i| chunk.get(i + 1..i + METADATA_MARKER.len()) == Some(rest));
        if let Some(i) = found {
            let (after, read) = (i + METADATA_MARKER.len(), chunk.len());
            buf.truncate(read);
            buf.drain(..after);
            return Ok((start + after as u64, buf));
        }
        if start == floor {
            break;
        }
        end = start + overlap;
    }
    Err(MmdbError::metadata(format!(
        "metadata marker not found in the last {} bytes of the {len}-byte file",
        len - floor
    )))
}

/// Decodes the metadata map that starts at file offset `start`; `head`
/// holds the section's first bytes (from [`find_metadata`]), read from
/// memory instead of `src`.
pub(crate) fn read_metadata<S: ByteSource + ?Sized>(
    src: &S,
    start: u64,
    head: &[u8],
) -> Result<Metadata, MmdbError> {
    map_keys! {
        /// The metadata keys EdgeGuard reads.
        Key { DatabaseType = "database_type", BuildEpoch = "build_epoch", IpVersion = "ip_version",
            RecordSize = "record_size", NodeCount = "node_count", Major = "binary_format_major_version",
            Minor = "binary_format_minor_version" }
    }
    use Key::*;
    const REQUIRED: [Key; 5] = [BuildEpoch, IpVersion, RecordSize, NodeCount, Major];
    let len = src.len().checked_sub(start).ok_or_else(|| MmdbError::metadata("marker past the end"))?;
    let mut cur = Cursor::new(src, start, len, 0).with_head(head);
    let mut meta = Metadata::default();
    let mut seen = [false; Key::KEYS.len()];
    let map = cur.enter(TYPE_MAP, "metadata")?;
    for _ in 0..map.entries {
        let Some(key) = cur.key(Key::KEYS)? else {
            cur.skip()?;
            continue;
        };
        let what = key.name();
        match seen.get_mut(key as usize) {
            Some(seen) if !*seen => *seen = true,
            // A repeated key: the first one counts.
            _ => {
                cur.skip()?;
                continue;
            }
        }
        match key {
            DatabaseType => meta.database_type = cur.string(what)?,
            BuildEpoch => meta.build_epoch = cur.uint(what)?,
            IpVersion => meta.ip_version = cur.uint(what)?,
            RecordSize => meta.record_size = cur.uint(what)?,
            NodeCount => meta.node_count = cur.uint(what)?,
            Major => meta.binary_format_major_version = cur.uint(what)?,
            Minor => meta.binary_format_minor_version = cur.uint(what)?,
        }
    }
    cur.leave(map);
    if let Some(missing) = REQUIRED.into_iter().find(|&k| !seen.get(k as usize).copied().unwrap_or(false)) {
        return Err(MmdbError::metadata(format!("required key `{}` is missing", missing.name())));
    }
    Ok(meta)
}

impl Layout {
    /// Checks `meta` against a file of `file_len` bytes whose metadata marker
    /// starts at `marker_start`. All arithmetic is checked: these numbers come
    /// from the file.
    pub(crate) fn new(meta: &Metadata, marker_start: u64, file_len: u64) -> Result<Self, MmdbError> {
        if meta.binary_format_major_version != 2 {
            return Err(MmdbError::metadata(format!(
                "binary_format_major_version {} is not 2",
                meta.binary_format_major_version
            )));
        }
        if !matches!(meta.ip_version, 4 | 6) {
            return Err(MmdbError::metadata(format!("ip_version {} is not 4 or 6", meta.ip_version)));
        }
        if !matches!(meta.record_size, 24 | 28 | 32) {
            return Err(MmdbError::metadata(format!("record_size {} is not 24, 28 or 32", meta.record_size)));
        }
        if meta.node_count == 0 {
            return Err(MmdbError::metadata("node_count is 0"));
        }
        if marker_start > file_len {
            return Err(MmdbError::metadata("marker past the end of the file"));
        }
        let node_bytes = u64::from(meta.record_size) / 4;
        let too_big = || {
            MmdbError::metadata(format!(
                "search tree of {} nodes of {node_bytes} bytes does not fit before the metadata at offset {marker_start}",
                meta.node_count
            ))
        };
        let data_start = u64::from(meta.node_count)
            .checked_mul(node_bytes)
            .and_then(|tree| tree.checked_add(DATA_SECTION_SEPARATOR))
            .filter(|&start| start <= marker_start)
            .ok_or_else(too_big)?;
        Ok(Self {
            ip_version: meta.ip_version,
            record_size: meta.record_size,
            node_bytes,
            node_count: meta.node_count,
            data_start,
            data_len: marker_start - data_start,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mmdb::testutil::{DbBuilder, V, encode, s, with_meta};

    fn parse(bytes: &[u8]) -> Result<(Metadata, Layout), MmdbError> {
        let (start, head) = find_metadata(bytes)?;
        let meta = read_metadata(bytes, start, &head)?;
        let layout = Layout::new(&meta, start - METADATA_MARKER.len() as u64, bytes.len() as u64)?;
        Ok((meta, layout))
    }

    #[test]
    fn reads_standard_metadata() {
        let db = DbBuilder::new(6, 28);
        let (meta, layout) = parse(&db.build()).unwrap();
        assert_eq!(meta.database_type, "EdgeGuard-Test");
        assert_eq!(meta.build_epoch, 1_700_000_000);
        assert_eq!((meta.ip_version, meta.record_size, meta.node_count), (6, 28, 1));
        assert_eq!(
            layout,
            Layout {
                ip_version: 6,
                record_size: 28,
                node_bytes: 7,
                node_count: 1,
                data_start: 23,
                data_len: 0
            }
        );
    }

    #[test]
    fn marker_search() {
        struct Case {
            desc: &'static str,
            prefix: usize,
            suffix: usize,
            want: Result<u64, &'static str>,
        }
        let cases = [
            Case { desc: "at start", prefix: 0, suffix: 10, want: Ok(14) },
            Case {
                desc: "across the first chunk boundary",
                prefix: 10_000,
                suffix: SEARCH_CHUNK as usize + 6,
                want: Ok(10_014),
            },
            Case { desc: "deep", prefix: 10, suffix: 100_000, want: Ok(24) },
            Case {
                desc: "beyond 128 KiB",
                prefix: 10,
                suffix: 128 * 1024,
                want: Err("metadata marker not found in the last 131072 bytes of the 131096-byte file"),
            },
        ];
        for c in cases {
            let mut bytes = vec![0u8; c.prefix];
            bytes.extend(METADATA_MARKER);
            bytes.extend(vec![0xAB; c.suffix]);
            let got = find_metadata(bytes.as_slice()).map_err(|e| e.to_string());
            match (got, c.want) {
                (Ok((got, head)), Ok(want)) => {
                    assert_eq!(got, want, "case {}", c.desc);
                    // What the search read of the section: all of it from the last chunk.
                    let section = &bytes[got as usize..];
                    assert!(section.starts_with(&head), "case {}", c.desc);
                    assert!(c.suffix > SEARCH_CHUNK as usize || head == section, "case {}", c.desc);
                }
                (Err(got), Err(want)) => assert!(got.contains(want), "case {}: {got}", c.desc),
                (got, want) => panic!("case {}: got {got:?}, want {want:?}", c.desc),
            }
        }
        // The last marker wins.
        let mut bytes = METADATA_MARKER.to_vec();
        bytes.extend(METADATA_MARKER);
        assert_eq!(find_metadata(bytes.as_slice()).unwrap(), (28, vec![]));
        assert!(find_metadata(&[][..]).is_err());
    }

    #[test]
    fn rejects_bad_metadata() {
        // (the key set to the value, or removed, and the reason the database is refused)
        let cases = [
            ("record_size", Some(V::U16(27)), "record_size 27 is not 24, 28 or 32"),
            ("ip_version", Some(V::U16(5)), "ip_version 5 is not 4 or 6"),
            ("node_count", Some(V::U32(0)), "node_count is 0"),
            (
                "node_count",
                Some(V::U32(u32::MAX)),
                "search tree of 4294967295 nodes of 7 bytes does not fit before the metadata at offset 23",
            ),
            ("binary_format_major_version", Some(V::U16(3)), "is not 2"),
            ("node_count", None, "required key `node_count` is missing"),
            (
                "record_size",
                Some(s("28")),
                "expected an unsigned integer for `record_size`, found utf8_string",
            ),
            ("record_size", Some(V::U32(70_000)), "value 70000 for `record_size` is out of range"),
        ];
        let db = DbBuilder::new(6, 28);
        for (key, value, want) in cases {
            let bytes = db.build_with(with_meta(db.metadata(), key, value));
            let err = parse(&bytes).unwrap_err().to_string();
            assert!(err.contains(want), "{key}: {err}");
        }
        // Metadata that is not a map at all.
        let mut bytes = db.tree();
        bytes.extend([0; 16]);
        bytes.extend(METADATA_MARKER);
        encode(&V::Arr(vec![]), &mut bytes);
        let err = parse(&bytes).unwrap_err().to_string();
        assert!(err.contains("expected map for `metadata`, found array"), "{err}");
    }
}
