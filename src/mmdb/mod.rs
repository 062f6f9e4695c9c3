//! A MaxMind DB (`.mmdb`) reader that reads on demand.
//!
//! In Traefik every concurrent request has its own wasm guest instance with
//! its own memory, and each instance runs init. Loading GeoLite2-City (61 MB)
//! into every instance was measured at 3.7 GB RSS, and the `maxminddb` crate
//! needs the whole file as one slice. This reader instead:
//!
//! - reads only the metadata when opened (the file's tail, 1 KiB at a time,
//!   at most the last 128 KiB), validates it once, and caches the derived
//!   offsets;
//! - reads, per lookup, the tree nodes on the address's path and the one
//!   record found, through a [`ByteSource`]: an in-memory slice, or a
//!   [`FileSource`] doing positional reads through a bounded page cache;
//! - decodes only the fields EdgeGuard emits ([`CityRecord`], [`AsnRecord`]),
//!   skipping the rest without following its pointers.
//!
//! Corrupt input never panics or loops: every read is bounds-checked, offset
//! arithmetic is checked, a tree walk ends after the address's 32 or 128
//! bits, and decoding is bounded by named limits ([`MAX_POINTER_CHAIN`],
//! [`MAX_NESTING_DEPTH`], [`MAX_CONTAINER_ENTRIES`], [`MAX_STRING_LEN`],
//! [`MAX_DECODED_BYTES`], [`MAX_VALUES_PER_CURSOR`]).
//!
//! Three outcomes stay apart: found (`record: Some`), not in the database
//! (`record: None`, with the prefix length of the empty network), and an
//! error ([`MmdbError`]).
//!
//! ```
//! use edgeguard::mmdb::{FileSource, MmdbError, Reader};
//! # fn main() -> Result<(), MmdbError> {
//! # let path = std::path::Path::new("target/geodata/GeoLite2-City.mmdb");
//! # if !path.exists() { return Ok(()); }
//! let reader = Reader::new(FileSource::open(path, 2 << 20)?)?;
//! let found = reader.lookup_city("81.2.69.142".parse().unwrap(), "de")?;
//! if let Some(city) = found.record {
//!     println!("{:?} {:?} (/{})", city.country_iso_code, city.city_name, found.prefix_len);
//! }
//! # Ok(())
//! # }
//! ```
//!
//! Format: <https://maxmind.github.io/MaxMind-DB/>.

mod decoder;
mod error;
mod metadata;
mod records;
mod source;
#[cfg(test)]
mod testutil;
mod tree;

pub use decoder::{
    MAX_CONTAINER_ENTRIES, MAX_DECODED_BYTES, MAX_NESTING_DEPTH, MAX_POINTER_CHAIN, MAX_STRING_LEN,
    MAX_VALUES_PER_CURSOR,
};
pub use error::MmdbError;
pub use metadata::Metadata;
pub use records::{AsnRecord, CityFields, CityRecord, PLACE_MEMO_BYTES};
pub use source::{ByteSource, FileSource, MultiplyHash, MultiplyHasher, PAGE_SIZE};
pub use tree::{HOT_BYTES, Lookup, Reader};
