//! The search tree and the [`Reader`] that walks it.
//!
//! Each node holds two records (left for a 0 bit, right for a 1 bit). A
//! record below `node_count` is the next node, `node_count` itself means "no
//! data", and anything above points into the data section. A walk reads one
//! node per address bit, so it ends after at most 32 or 128 reads whatever
//! the file contains. Nodes are not required to point forward: IPv4 alias
//! subtrees (`::ffff:0:0/96`, `2002::/16`) legitimately point back to an
//! earlier node.
//!
//! Format: <https://maxmind.github.io/MaxMind-DB/#search-tree-section>.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use super::MmdbError;
use super::decoder::Cursor;
use super::metadata::{self, DATA_SECTION_SEPARATOR, Layout, METADATA_MARKER, Metadata};
use super::records::{self, AsnRecord, CityFields, CityRecord, PlaceMemo};
use super::source::ByteSource;

/// The answer to one lookup.
#[derive(Debug, Clone, PartialEq)]
pub struct Lookup<T> {
    /// The record, or `None` when the database has no data for the address.
    pub record: Option<T>,
    /// Prefix length of the network that contains the address and shares
    /// this answer (also when there is no data), in the address's own family:
    /// 0..=32 for an IPv4 address even in an IPv6 database, 96 + that for an
    /// IPv4-mapped IPv6 address, 0 for an IPv6 address in an IPv4 database.
    pub prefix_len: u8,
}

/// A MaxMind DB opened over a [`ByteSource`].
///
/// Opening reads and validates only the metadata at the end of the file;
/// lookups read the tree nodes on their path and the one record they find.
///
/// # Examples
///
/// ```
/// use edgeguard::mmdb::{MmdbError, Reader};
/// let err = Reader::new(b"not a database".to_vec()).unwrap_err();
/// assert!(matches!(err, MmdbError::InvalidMetadata(_)));
/// ```
pub struct Reader<S: ByteSource> {
    src: S,
    metadata: Metadata,
    layout: Layout,
    /// What every lookup reads, kept from the first lookup on, so opening
    /// stays metadata-only.
    hot: OnceLock<Hot>,
    /// City lookups' recently decoded places.
    places: PlaceMemo,
}

/// Top bits of an IPv4 address whose node [`Hot::ipv4_top`] remembers.
/// 8 bits (1 KiB) saves 8 of a GeoLite2-City lookup's ~25 node reads. The
/// top of the tree is shared by every client, so these were the page-cache
/// misses traffic from many networks kept repeating (measured on a Zipf mix of
/// 100 000 clients with two 4 KiB pages: tree-page misses per request 6.3 →
/// 3.3; 10 bits, four times the memory, gave 2.6).
pub const IPV4_TOP_BITS: u8 = 8;

/// Bytes at the start of the data section kept in memory. MaxMind's writers
/// store each distinct value once, in the order first met, so the map keys
/// every record uses (`country`, `names`, `en`, `iso_code`, ...) sit here and
/// every decoded map jumps back to them (GeoLite2-City: 5 of a record's ~13
/// reads). In any other layout this is merely 2 KiB of data held for good.
pub const DATA_HEAD_BYTES: usize = 2048;

/// Memory a reader keeps besides its source's page cache, once it has
/// served lookups: the IPv4 top-of-tree index and the data-section head
/// (City lookups also fill a [`records::PLACE_MEMO_BYTES`] memo).
pub const HOT_BYTES: usize = (4 << IPV4_TOP_BITS) + DATA_HEAD_BYTES;

/// The parts of the file every lookup reads, learnt as lookups go. In wasm
/// each read is a host call (`fd_pread`) and each instance has its own memory,
/// so these are the reads worth saving with a few KiB.
struct Hot {
    /// Node where IPv4 addresses start in an IPv6 tree (after 96 zero bits,
    /// or where that path leaves the tree) and its depth.
    ipv4_start: (u32, u8),
    /// For each value of an IPv4 address's top [`IPV4_TOP_BITS`] bits, the
    /// node at that depth below `ipv4_start`, or 0 until a lookup has walked
    /// there (node 0 is the root, never at that depth in a tree without loops).
    ipv4_top: Box<[AtomicU32]>,
    /// The first [`DATA_HEAD_BYTES`] of the data section (fewer if it is smaller).
    data_head: Box<[u8]>,
}

impl<S: ByteSource> Reader<S> {
    /// Reads and validates the metadata of the database in `src`.
    ///
    /// # Errors
    ///
    /// [`MmdbError::InvalidMetadata`] when the metadata marker is missing or the
    /// metadata is unusable (record size, IP version, node count, a search tree
    /// larger than the file), or a read error from `src`.
    pub fn new(src: S) -> Result<Self, MmdbError> {
        let (start, head) = metadata::find_metadata(&src)?;
        let meta = metadata::read_metadata(&src, start, &head)?;
        let layout = Layout::new(&meta, start - METADATA_MARKER.len() as u64, src.len())?;
        Ok(Self { src, metadata: meta, layout, hot: OnceLock::new(), places: PlaceMemo::default() })
    }

    /// The database's metadata.
    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    /// The byte source the reader was opened over.
    pub fn source(&self) -> &S {
        &self.src
    }

    /// Looks up `ip` in a City or Country database; names are in `language`,
    /// or English when the database has no name in that language.
    ///
    /// # Errors
    ///
    /// [`MmdbError::InvalidDatabase`] or [`MmdbError::LimitExceeded`] when the
    /// tree or the record is corrupt, or a read error from the source.
    pub fn lookup_city(&self, ip: IpAddr, language: &str) -> Result<Lookup<CityRecord>, MmdbError> {
        self.lookup_city_fields(ip, language, CityFields::ALL)
    }

    /// [`Reader::lookup_city`] decoding only the fields in `want`; the others
    /// are `None` and cost no reads.
    ///
    /// # Errors
    ///
    /// As for [`Reader::lookup_city`].
    pub fn lookup_city_fields(
        &self,
        ip: IpAddr,
        language: &str,
        want: CityFields,
    ) -> Result<Lookup<CityRecord>, MmdbError> {
        self.lookup(ip, |cur| records::city(cur, language, want, &self.places))
    }

    /// Looks up `ip` in an ASN or ISP database.
    ///
    /// # Errors
    ///
    /// As for [`Reader::lookup_city`].
    pub fn lookup_asn(&self, ip: IpAddr) -> Result<Lookup<AsnRecord>, MmdbError> {
        self.lookup(ip, records::asn)
    }

    fn lookup<T>(
        &self,
        ip: IpAddr,
        decode: impl FnOnce(&mut Cursor<'_, S>) -> Result<T, MmdbError>,
    ) -> Result<Lookup<T>, MmdbError> {
        let hot = self.hot()?;
        let (offset, prefix_len) = self.find(hot, ip)?;
        let record = match offset {
            Some(offset) => {
                let l = &self.layout;
                let mut cursor =
                    Cursor::new(&self.src, l.data_start, l.data_len, offset).with_head(&hot.data_head);
                Some(decode(&mut cursor)?)
            }
            None => None,
        };
        Ok(Lookup { record, prefix_len })
    }

    /// The data-section offset for `ip` (if any) and the prefix length.
    fn find(&self, hot: &Hot, ip: IpAddr) -> Result<(Option<u64>, u8), MmdbError> {
        match ip {
            IpAddr::V4(v4) => self.find_v4(hot, v4),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => self.find_v4(hot, v4).map(|(offset, len)| (offset, len + 96)),
                None if self.layout.ip_version == 4 => Ok((None, 0)),
                None => self.walk(0, 0, u128::from(v6), 128, None),
            },
        }
    }

    /// Walks from the remembered node at depth [`IPV4_TOP_BITS`] when a
    /// lookup has been there, else from the IPv4 start, remembering it.
    fn find_v4(&self, hot: &Hot, ip: Ipv4Addr) -> Result<(Option<u64>, u8), MmdbError> {
        let addr = u32::from(ip);
        let top = hot.ipv4_top.get((addr >> (32 - IPV4_TOP_BITS)) as usize);
        match top.map(|slot| slot.load(Ordering::Relaxed)) {
            Some(node) if node != 0 => self.walk(node, IPV4_TOP_BITS, addr.into(), 32, None),
            _ => self.walk(hot.ipv4_start.0, 0, addr.into(), 32, top),
        }
    }

    /// Reads what [`Hot`] holds on the first lookup. A failed read is
    /// returned and tried again by the next lookup.
    fn hot(&self) -> Result<&Hot, MmdbError> {
        if let Some(hot) = self.hot.get() {
            return Ok(hot);
        }
        let l = &self.layout;
        let (mut node, mut depth) = (0, 0);
        if l.ip_version == 6 {
            while depth < 96 && node < l.node_count {
                node = self.read_node(node)?[0];
                depth += 1;
            }
        }
        let head_len = usize::try_from(l.data_len).map_or(DATA_HEAD_BYTES, |n| n.min(DATA_HEAD_BYTES));
        let mut data_head = vec![0; head_len].into_boxed_slice();
        self.src.read_exact_at(l.data_start, &mut data_head)?;
        let hot = Hot {
            ipv4_start: (node, depth),
            ipv4_top: (0..1 << IPV4_TOP_BITS).map(|_| AtomicU32::new(0)).collect(),
            data_head,
        };
        // Another thread may have got there first; its answer is the same.
        Ok(self.hot.get_or_init(|| hot))
    }

    /// Follows the bits of `addr` (`bits` wide) from `node`, which is at
    /// `depth`. Returns the data offset reached (if any) and the depth where
    /// the walk ended. `top` receives the node at depth [`IPV4_TOP_BITS`].
    fn walk(
        &self,
        mut node: u32,
        mut depth: u8,
        addr: u128,
        bits: u8,
        top: Option<&AtomicU32>,
    ) -> Result<(Option<u64>, u8), MmdbError> {
        let mut from = node;
        while depth < bits && node < self.layout.node_count {
            if depth == IPV4_TOP_BITS
                && let Some(slot) = top
            {
                slot.store(node, Ordering::Relaxed);
            }
            let bit = (addr >> (bits - 1 - depth)) & 1;
            from = node;
            node = self.read_node(node)?[bit as usize];
            depth += 1;
        }
        Ok((self.data_offset(node, from)?, depth))
    }

    /// What a record value means: `None` for no data (the empty marker, or
    /// the bits ran out inside the tree), else a data-section offset.
    fn data_offset(&self, record: u32, node: u32) -> Result<Option<u64>, MmdbError> {
        let l = &self.layout;
        if record <= l.node_count {
            return Ok(None);
        }
        let at = u64::from(node) * l.node_bytes;
        let offset =
            u64::from(record - l.node_count).checked_sub(DATA_SECTION_SEPARATOR).ok_or_else(|| {
                MmdbError::corrupt(
                    at,
                    format_args!("record {record} of node {node} points into the data section separator"),
                )
            })?;
        if offset >= l.data_len {
            return Err(MmdbError::corrupt(
                at,
                format_args!("record {record} of node {node} points past the end of the data section"),
            ));
        }
        Ok(Some(offset))
    }

    /// Both records of `node` (< node_count, so inside the validated tree).
    fn read_node(&self, node: u32) -> Result<[u32; 2], MmdbError> {
        let l = &self.layout;
        let mut b = [0u8; 8];
        let buf = b.get_mut(..l.node_bytes as usize).ok_or_else(|| MmdbError::metadata("record size"))?;
        self.src.read_exact_at(u64::from(node) * l.node_bytes, buf)?;
        Ok(decode_node(l.record_size, b))
    }
}

/// The two records of a node from its bytes (the first `record_size / 4` of `b`).
fn decode_node(record_size: u16, b: [u8; 8]) -> [u32; 2] {
    match record_size {
        24 => [u32::from_be_bytes([0, b[0], b[1], b[2]]), u32::from_be_bytes([0, b[3], b[4], b[5]])],
        // The middle byte holds the high nibble of each record, left first.
        28 => [
            u32::from_be_bytes([b[3] >> 4, b[0], b[1], b[2]]),
            u32::from_be_bytes([b[3] & 0x0f, b[4], b[5], b[6]]),
        ],
        _ => [u32::from_be_bytes([b[0], b[1], b[2], b[3]]), u32::from_be_bytes([b[4], b[5], b[6], b[7]])],
    }
}

impl<S: ByteSource + fmt::Debug> fmt::Debug for Reader<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reader")
            .field("database_type", &self.metadata.database_type)
            .field("build_epoch", &self.metadata.build_epoch)
            .field("src", &self.src)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mmdb::records::CityFields;
    use crate::mmdb::testutil::{DbBuilder, V, map, s};

    #[test]
    fn node_layouts() {
        // (record size, node bytes, left and right records)
        let cases = [
            (24, [1, 2, 3, 4, 5, 6, 0xff, 0xff], [0x01_0203, 0x04_0506]),
            (24, [0xff; 8], [0xff_ffff, 0xff_ffff]),
            // Spec example layout: [left low 24][left high 4 | right high 4][right low 24].
            (28, [0x23, 0x45, 0x67, 0x18, 0x9a, 0xbc, 0xde, 0xff], [0x0123_4567, 0x089a_bcde]),
            (28, [0xff; 8], [0x0fff_ffff, 0x0fff_ffff]),
            (32, [0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0], [0x1234_5678, 0x9abc_def0]),
        ];
        for (record_size, bytes, want) in cases {
            assert_eq!(decode_node(record_size, bytes), want, "{record_size}-bit records {bytes:x?}");
        }
    }

    fn city(code: &str) -> V {
        map([("country", map([("iso_code", s(code))]))])
    }

    fn code(r: &Lookup<CityRecord>) -> Option<&str> {
        r.record.as_ref().and_then(|r| r.country_iso_code.as_deref())
    }

    #[test]
    fn lookups_per_record_size_and_ip_version() {
        struct Case {
            ip: &'static str,
            want: Option<&'static str>,
            prefix_len: u8,
            v6_only: bool,
        }
        let cases = [
            // The /25 split the /24: its lower half is a /25 of its own.
            Case { ip: "192.0.2.1", want: Some("A"), prefix_len: 25, v6_only: false },
            Case { ip: "192.0.2.200", want: Some("B"), prefix_len: 25, v6_only: false },
            Case { ip: "192.0.3.0", want: None, prefix_len: 24, v6_only: false },
            Case { ip: "10.0.0.1", want: None, prefix_len: 1, v6_only: false },
            Case { ip: "::ffff:192.0.2.1", want: Some("A"), prefix_len: 121, v6_only: false },
            Case { ip: "2001:db8::1", want: Some("C"), prefix_len: 32, v6_only: true },
            Case { ip: "2001:db9::1", want: None, prefix_len: 32, v6_only: true },
        ];
        for ip_version in [4, 6] {
            for record_size in [24, 28, 32] {
                let mut db = DbBuilder::new(ip_version, record_size);
                db.insert("192.0.2.0/24", &city("A"));
                db.insert("192.0.2.128/25", &city("B"));
                if ip_version == 6 {
                    db.insert("2001:db8::/32", &city("C"));
                }
                let reader = Reader::new(db.build()).unwrap();
                assert_eq!(reader.metadata().record_size, record_size);
                for c in &cases {
                    let ip: IpAddr = c.ip.parse().unwrap();
                    let got = reader.lookup_city(ip, "en").unwrap();
                    let desc = format!("{} in v{ip_version}/{record_size}", c.ip);
                    if c.v6_only && ip_version == 4 {
                        assert_eq!((code(&got), got.prefix_len), (None, 0), "{desc}");
                        continue;
                    }
                    assert_eq!((code(&got), got.prefix_len), (c.want, c.prefix_len), "{desc}");
                }
            }
        }
    }

    #[test]
    fn ipv4_in_v6_tree_without_ipv4_subtree() {
        // Data at ::/64 covers every IPv4 address: found, with prefix 0 relative to IPv4.
        let mut db = DbBuilder::new(6, 28);
        db.insert("::/64", &city("Z"));
        let reader = Reader::new(db.build()).unwrap();
        let got = reader.lookup_city("198.51.100.7".parse().unwrap(), "en").unwrap();
        assert_eq!((code(&got), got.prefix_len), (Some("Z"), 0));
        let got = reader.lookup_city(IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED), "en").unwrap();
        assert_eq!((code(&got), got.prefix_len), (Some("Z"), 64));
        let got = reader.lookup_city("8000::".parse().unwrap(), "en").unwrap();
        assert_eq!((code(&got), got.prefix_len), (None, 1));
    }

    #[test]
    fn bad_records_are_errors() {
        struct Case {
            desc: &'static str,
            record: u32,
            want: &'static str,
        }
        let cases = [
            Case {
                desc: "into separator",
                record: 1 + 5,
                want: "record 6 of node 0 points into the data section separator",
            },
            Case {
                desc: "past data",
                record: 1 + 16 + 1000,
                want: "record 1017 of node 0 points past the end of the data section",
            },
        ];
        for c in cases {
            let mut db = DbBuilder::new(4, 32);
            db.push_data(&city("A"));
            let mut bytes = db.build();
            bytes[0..4].copy_from_slice(&c.record.to_be_bytes()); // left record of node 0
            let reader = Reader::new(bytes).unwrap();
            let err = reader.lookup_city("1.2.3.4".parse().unwrap(), "en").unwrap_err().to_string();
            assert!(err.contains(c.want), "case {}: {err}", c.desc);
        }
    }

    /// A source that counts its reads.
    struct Counted(Vec<u8>, std::cell::Cell<u32>);

    impl ByteSource for Counted {
        fn len(&self) -> u64 {
            self.0.len() as u64
        }

        fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), MmdbError> {
            self.1.set(self.1.get() + 1);
            self.0.as_slice().read_exact_at(offset, buf)
        }
    }

    #[test]
    fn top_of_tree_and_data_head_are_read_once() {
        // Networks deeper than IPV4_TOP_BITS, sharing their top.
        for ip_version in [4, 6] {
            let mut db = DbBuilder::new(ip_version, 28);
            db.insert("203.0.113.0/24", &city("A"));
            db.insert("203.0.112.0/24", &city("B"));
            db.insert("203.0.114.0/25", &city("C"));
            let bytes = db.build();
            let reader = Reader::new(Counted(bytes.clone(), Default::default())).unwrap();
            // Issue #14: opening (every instance's init) is one read of the file's tail.
            assert_eq!(reader.source().1.get(), 1, "v{ip_version}: reads to open");
            let plain = Reader::new(bytes).unwrap();
            let reads = |ip: &str| {
                let before = reader.source().1.get();
                let got = reader.lookup_city(ip.parse().unwrap(), "en").unwrap();
                assert_eq!(got, plain.lookup_city(ip.parse().unwrap(), "en").unwrap(), "{ip} v{ip_version}");
                reader.source().1.get() - before
            };
            // First lookup: the path to the IPv4 subtree (v6), the data head
            // (the whole data section here), then one read per node of the /24.
            let to_ipv4 = if ip_version == 6 { 96 } else { 0 };
            assert_eq!(reads("203.0.113.9"), to_ipv4 + 1 + 24, "v{ip_version}");
            // Again: the walk starts at depth IPV4_TOP_BITS, the record is in the head.
            let below_top = |depth: u8| u32::from(depth - IPV4_TOP_BITS);
            assert_eq!(reads("203.0.113.9"), below_top(24), "v{ip_version}");
            // Other networks under the same top: as cheap; no data is found one level deeper.
            assert_eq!(reads("203.0.112.1"), below_top(24), "v{ip_version}");
            assert_eq!(reads("203.0.114.200"), below_top(25), "v{ip_version}");
        }
    }

    #[test]
    fn shared_places_are_decoded_once_per_query() {
        // Two cities of one country and region, which both records point to,
        // past the data head; a third record with neither.
        let mut db = DbBuilder::new(6, 28);
        db.push_data(&s(&"filler ".repeat(DATA_HEAD_BYTES / 4)));
        let names = |en: &str, de: &str| map([("en", s(en)), ("de", s(de))]);
        let country = db.push_data(&map([("iso_code", s("SE")), ("names", names("Sweden", "Schweden"))]));
        db.push_data(&s(&"filler ".repeat(40))); // apart: one read each
        let region = db.push_data(&V::Arr(vec![map([
            ("iso_code", s("E")),
            ("names", names("Östergötland", "Östergötland")),
        ])]));
        for (net, city) in [("198.51.100.0/24", "Linköping"), ("203.0.113.0/24", "Norrköping")] {
            let record = map([
                ("city", map([("names", names(city, city))])),
                ("country", V::Ptr(country)),
                ("subdivisions", V::Ptr(region)),
            ]);
            db.insert(net, &record);
        }
        db.insert("192.0.2.0/24", &map([("city", map([("names", names("Nowhere", "Nirgendwo"))]))]));
        let bytes = db.build();
        let plain = |ip: &str, language: &str, want: CityFields| {
            Reader::new(bytes.clone())
                .unwrap()
                .lookup_city_fields(ip.parse().unwrap(), language, want)
                .unwrap()
        };
        let reads_of_second = |first: &str| {
            let reader = Reader::new(Counted(bytes.clone(), Default::default())).unwrap();
            reader.lookup_city(first.parse().unwrap(), "en").unwrap();
            let before = reader.source().1.get();
            let got = reader.lookup_city("203.0.113.5".parse().unwrap(), "en").unwrap();
            assert_eq!(got, plain("203.0.113.5", "en", CityFields::ALL));
            (reader.source().1.get() - before, reader)
        };
        // After a lookup in the same country, the country map and the
        // subdivisions array cost no read.
        let (cold, _) = reads_of_second("192.0.2.1");
        let (warm, reader) = reads_of_second("198.51.100.1");
        assert!(warm + 2 <= cold, "{warm} reads after the same country, {cold} after another");
        // The memo answers only the same question: another language, fewer fields.
        let only_code = CityFields { country_name: false, ..CityFields::ALL };
        for (language, want) in [("de", CityFields::ALL), ("en", only_code), ("de", only_code)] {
            let got = reader.lookup_city_fields("203.0.113.5".parse().unwrap(), language, want).unwrap();
            assert_eq!(got, plain("203.0.113.5", language, want), "{language} {want:?}");
        }
        let got = reader.lookup_city("203.0.113.5".parse().unwrap(), "de").unwrap();
        assert_eq!(got.record.and_then(|r| r.country_name).as_deref(), Some("Schweden"));
    }

    #[test]
    fn self_loop_ends_after_the_address_bits() {
        // Node 0 points to itself on both sides: the walk stops after 32/128 bits.
        for ip_version in [4, 6] {
            let db = DbBuilder::new(ip_version, 24);
            let mut bytes = db.build();
            bytes[0..6].fill(0);
            let reader = Reader::new(bytes).unwrap();
            let got = reader.lookup_asn("203.0.113.9".parse().unwrap()).unwrap();
            assert_eq!((got.record, got.prefix_len), (None, 32), "v{ip_version}");
        }
    }
}
