//! A minimal MaxMind DB writer for unit tests, so they run on wasm32-wasip1
//! too (the `mmdb-writer` dev-dependency is native-only) and can build
//! deliberately odd files (any record size, hand-placed pointers, bad metadata).

use std::net::IpAddr;

use super::decoder::{
    TYPE_ARRAY, TYPE_BOOL, TYPE_BYTES, TYPE_DOUBLE, TYPE_FLOAT, TYPE_INT32, TYPE_MAP, TYPE_UINT16,
    TYPE_UINT32, TYPE_UINT64, TYPE_UINT128, TYPE_UTF8,
};
use super::metadata::METADATA_MARKER;

/// A value to encode.
#[derive(Debug, Clone)]
pub(crate) enum V {
    Str(String),
    Map(Vec<(String, V)>),
    Arr(Vec<V>),
    U16(u16),
    U32(u32),
    U64(u64),
    U128(u128),
    I32(i32),
    F64(f64),
    F32(f32),
    Bool(bool),
    Bytes(Vec<u8>),
    /// A pointer to this data-section offset.
    Ptr(u32),
}

/// `V::Map` from string keys.
pub(crate) fn map<const N: usize>(entries: [(&str, V); N]) -> V {
    V::Map(entries.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

/// `V::Str` from a `&str`.
pub(crate) fn s(text: &str) -> V {
    V::Str(text.to_string())
}

/// A control byte (plus extended-type and size bytes) for a non-pointer type.
pub(crate) fn header_bytes(ty: u8, size: usize, out: &mut Vec<u8>) {
    let (size5, extra): (u8, Vec<u8>) = match size {
        0..=28 => (size as u8, vec![]),
        29..=284 => (29, vec![(size - 29) as u8]),
        285..=65_820 => (30, ((size - 285) as u16).to_be_bytes().to_vec()),
        _ => (31, ((size - 65_821) as u32).to_be_bytes()[1..].to_vec()),
    };
    if ty <= 7 {
        out.push(ty << 5 | size5);
    } else {
        out.push(size5);
        out.push(ty - 7);
    }
    out.extend(extra);
}

/// The shortest pointer encoding for `target`.
pub(crate) fn pointer_bytes(target: u32) -> Vec<u8> {
    match target {
        0..=2047 => vec![0x20 | (target >> 8) as u8, target as u8],
        2048..=526_335 => {
            let v = target - 2048;
            vec![0x28 | (v >> 16) as u8, (v >> 8) as u8, v as u8]
        }
        526_336..=134_744_063 => {
            let v = target - 526_336;
            vec![0x30 | (v >> 24) as u8, (v >> 16) as u8, (v >> 8) as u8, v as u8]
        }
        _ => {
            let mut b = vec![0x38];
            b.extend(target.to_be_bytes());
            b
        }
    }
}

fn uint_bytes(ty: u8, value: u128, out: &mut Vec<u8>) {
    let bytes = value.to_be_bytes();
    let skip = bytes.iter().take_while(|&&b| b == 0).count();
    header_bytes(ty, 16 - skip, out);
    out.extend(&bytes[skip..]);
}

/// Appends the encoding of `value` to `out`.
pub(crate) fn encode(value: &V, out: &mut Vec<u8>) {
    match value {
        V::Str(text) => {
            header_bytes(TYPE_UTF8, text.len(), out);
            out.extend(text.as_bytes());
        }
        V::Map(entries) => {
            header_bytes(TYPE_MAP, entries.len(), out);
            for (k, v) in entries {
                encode(&V::Str(k.clone()), out);
                encode(v, out);
            }
        }
        V::Arr(items) => {
            header_bytes(TYPE_ARRAY, items.len(), out);
            items.iter().for_each(|v| encode(v, out));
        }
        V::U16(n) => uint_bytes(TYPE_UINT16, (*n).into(), out),
        V::U32(n) => uint_bytes(TYPE_UINT32, (*n).into(), out),
        V::U64(n) => uint_bytes(TYPE_UINT64, (*n).into(), out),
        V::U128(n) => uint_bytes(TYPE_UINT128, *n, out),
        V::I32(n) => uint_bytes(TYPE_INT32, (*n as u32).into(), out),
        V::F64(f) => {
            header_bytes(TYPE_DOUBLE, 8, out);
            out.extend(f.to_be_bytes());
        }
        V::F32(f) => {
            header_bytes(TYPE_FLOAT, 4, out);
            out.extend(f.to_be_bytes());
        }
        V::Bool(b) => header_bytes(TYPE_BOOL, usize::from(*b), out),
        V::Bytes(b) => {
            header_bytes(TYPE_BYTES, b.len(), out);
            out.extend(b);
        }
        V::Ptr(target) => out.extend(pointer_bytes(*target)),
    }
}

#[derive(Debug, Clone, Copy)]
enum Rec {
    Empty,
    Node(usize),
    Data(u32),
}

/// Builds a database: a search tree from inserted networks (broader networks
/// first), the data section, and the metadata.
pub(crate) struct DbBuilder {
    pub ip_version: u16,
    pub record_size: u16,
    nodes: Vec<[Rec; 2]>,
    pub data: Vec<u8>,
}

impl DbBuilder {
    pub(crate) fn new(ip_version: u16, record_size: u16) -> Self {
        Self { ip_version, record_size, nodes: vec![[Rec::Empty; 2]], data: Vec::new() }
    }

    /// Appends `value` to the data section and returns its offset.
    pub(crate) fn push_data(&mut self, value: &V) -> u32 {
        let at = self.data.len() as u32;
        encode(value, &mut self.data);
        at
    }

    /// Points `network`/`prefix_len` at the data at `offset`. IPv4 networks go
    /// to `::a.b.c.d` in an IPv6 tree (no aliases).
    pub(crate) fn insert_at(&mut self, network: IpAddr, prefix_len: u8, offset: u32) {
        let (bits, width, prefix_len) = match (network, self.ip_version) {
            (IpAddr::V4(v4), 4) => (u128::from(u32::from(v4)), 32, prefix_len),
            (IpAddr::V4(v4), _) => (u128::from(u32::from(v4)), 128, prefix_len + 96),
            (IpAddr::V6(v6), _) => (u128::from(v6), 128, prefix_len),
        };
        let mut node = 0;
        for i in 0..prefix_len {
            let bit = ((bits >> (width - 1 - i)) & 1) as usize;
            if i + 1 == prefix_len {
                self.nodes[node][bit] = Rec::Data(offset);
                return;
            }
            node = match self.nodes[node][bit] {
                Rec::Node(next) => next,
                inherited => {
                    self.nodes.push([inherited; 2]);
                    let next = self.nodes.len() - 1;
                    self.nodes[node][bit] = Rec::Node(next);
                    next
                }
            };
        }
    }

    /// Encodes `value` and inserts it for `network`.
    pub(crate) fn insert(&mut self, network: &str, value: &V) {
        let (addr, len) = network.split_once('/').unwrap();
        let offset = self.push_data(value);
        self.insert_at(addr.parse().unwrap(), len.parse().unwrap(), offset);
    }

    pub(crate) fn node_count(&self) -> u32 {
        self.nodes.len() as u32
    }

    /// The standard metadata map for this tree.
    pub(crate) fn metadata(&self) -> Vec<(String, V)> {
        let V::Map(entries) = map([
            ("binary_format_major_version", V::U16(2)),
            ("binary_format_minor_version", V::U16(0)),
            ("build_epoch", V::U64(1_700_000_000)),
            ("database_type", s("EdgeGuard-Test")),
            ("description", map([("en", s("unit test database"))])),
            ("ip_version", V::U16(self.ip_version)),
            ("languages", V::Arr(vec![s("en"), s("de")])),
            ("node_count", V::U32(self.node_count())),
            ("record_size", V::U16(self.record_size)),
        ]) else {
            unreachable!()
        };
        entries
    }

    /// The search tree bytes.
    pub(crate) fn tree(&self) -> Vec<u8> {
        let n = self.node_count();
        let value = |r: Rec| match r {
            Rec::Empty => n,
            Rec::Node(i) => i as u32,
            Rec::Data(off) => n + 16 + off,
        };
        let mut out = Vec::new();
        for [l, r] in &self.nodes {
            let (l, r) = (value(*l), value(*r));
            match self.record_size {
                24 => {
                    out.extend(&l.to_be_bytes()[1..]);
                    out.extend(&r.to_be_bytes()[1..]);
                }
                28 => {
                    out.extend(&l.to_be_bytes()[1..]);
                    out.push(((l >> 24) as u8) << 4 | (r >> 24) as u8);
                    out.extend(&r.to_be_bytes()[1..]);
                }
                _ => {
                    out.extend(l.to_be_bytes());
                    out.extend(r.to_be_bytes());
                }
            }
        }
        out
    }

    /// The whole file with `metadata` as the metadata map.
    pub(crate) fn build_with(&self, metadata: Vec<(String, V)>) -> Vec<u8> {
        let mut out = self.tree();
        out.extend([0; 16]);
        out.extend(&self.data);
        out.extend(METADATA_MARKER);
        encode(&V::Map(metadata), &mut out);
        out
    }

    pub(crate) fn build(&self) -> Vec<u8> {
        self.build_with(self.metadata())
    }
}

/// Replaces (or adds) `key` in a metadata map.
pub(crate) fn with_meta(mut meta: Vec<(String, V)>, key: &str, value: Option<V>) -> Vec<(String, V)> {
    meta.retain(|(k, _)| k != key);
    if let Some(v) = value {
        meta.push((key.to_string(), v));
    }
    meta
}
