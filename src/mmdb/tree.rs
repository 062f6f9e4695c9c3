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

use super::MmdbError;
use super::decoder::Cursor;
use super::metadata::{self, DATA_SECTION_SEPARATOR, Layout, METADATA_MARKER, Metadata};
use super::records::{self, AsnRecord, CityFields, CityRecord};
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
    /// Node where IPv4 addresses start in an IPv6 tree (after 96 zero bits,
    /// or where that path leaves the tree) and its depth. Found on the first
    /// IPv4 lookup, so opening stays metadata-only.
    ipv4_start: OnceLock<(u32, u8)>,
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
        let start = metadata::find_metadata_start(&src)?;
        let meta = metadata::read_metadata(&src, start)?;
        let layout = Layout::new(&meta, start - METADATA_MARKER.len() as u64, src.len())?;
        Ok(Self { src, metadata: meta, layout, ipv4_start: OnceLock::new() })
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
        self.lookup(ip, |cur| records::city(cur, language, want))
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
        let (offset, prefix_len) = self.find(ip)?;
        let record = match offset {
            Some(offset) => {
                let l = &self.layout;
                Some(decode(&mut Cursor::new(&self.src, l.data_start, l.data_len, offset))?)
            }
            None => None,
        };
        Ok(Lookup { record, prefix_len })
    }

    /// The data-section offset for `ip` (if any) and the prefix length.
    fn find(&self, ip: IpAddr) -> Result<(Option<u64>, u8), MmdbError> {
        match ip {
            IpAddr::V4(v4) => self.find_v4(v4),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => self.find_v4(v4).map(|(offset, len)| (offset, len + 96)),
                None if self.layout.ip_version == 4 => Ok((None, 0)),
                None => self.walk(0, u128::from(v6), 128),
            },
        }
    }

    fn find_v4(&self, ip: Ipv4Addr) -> Result<(Option<u64>, u8), MmdbError> {
        let (start, _) = self.ipv4_start()?;
        self.walk(start, u128::from(u32::from(ip)), 32)
    }

    fn ipv4_start(&self) -> Result<(u32, u8), MmdbError> {
        if self.layout.ip_version == 4 {
            return Ok((0, 0));
        }
        if let Some(&start) = self.ipv4_start.get() {
            return Ok(start);
        }
        let (mut node, mut depth) = (0, 0);
        while depth < 96 && node < self.layout.node_count {
            node = self.read_node(node)?[0];
            depth += 1;
        }
        // Another thread may have got there first; its answer is the same.
        let _ = self.ipv4_start.set((node, depth));
        Ok((node, depth))
    }

    /// Follows the top `bits` bits of `addr` from `node`. Returns the data
    /// offset reached (if any) and how many bits were used.
    fn walk(&self, mut node: u32, addr: u128, bits: u8) -> Result<(Option<u64>, u8), MmdbError> {
        let mut depth = 0;
        let mut from = node;
        while depth < bits && node < self.layout.node_count {
            let bit = (addr >> (bits - 1 - depth)) & 1;
            from = node;
            node = self.read_node(node)?[bit as usize];
            depth += 1;
        }
        Ok((self.resolve(node, from)?, depth))
    }

    /// What a record value means: `None` for no data (the empty marker, or
    /// the bits ran out inside the tree), else a data-section offset.
    fn resolve(&self, record: u32, node: u32) -> Result<Option<u64>, MmdbError> {
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
    use crate::mmdb::testutil::{DbBuilder, V, map, s};

    #[test]
    fn node_layouts() {
        struct Case {
            desc: &'static str,
            record_size: u16,
            bytes: [u8; 8],
            want: [u32; 2],
        }
        let cases = [
            Case {
                desc: "24",
                record_size: 24,
                bytes: [1, 2, 3, 4, 5, 6, 0xff, 0xff],
                want: [0x01_0203, 0x04_0506],
            },
            Case { desc: "24 max", record_size: 24, bytes: [0xff; 8], want: [0xff_ffff, 0xff_ffff] },
            // Spec example layout: [left low 24][left high 4 | right high 4][right low 24].
            Case {
                desc: "28",
                record_size: 28,
                bytes: [0x23, 0x45, 0x67, 0x18, 0x9a, 0xbc, 0xde, 0xff],
                want: [0x0123_4567, 0x089a_bcde],
            },
            Case { desc: "28 max", record_size: 28, bytes: [0xff; 8], want: [0x0fff_ffff, 0x0fff_ffff] },
            Case {
                desc: "32",
                record_size: 32,
                bytes: [0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0],
                want: [0x1234_5678, 0x9abc_def0],
            },
        ];
        for c in cases {
            assert_eq!(decode_node(c.record_size, c.bytes), c.want, "case {}", c.desc);
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
