//! The MaxMind DB data section format: control bytes, pointers, skipping, and
//! typed reads of the few value kinds EdgeGuard needs.
//!
//! A [`Cursor`] walks one section (the data section, or the metadata) of a
//! [`ByteSource`] at offsets relative to the section start, as pointers are.
//! It reads ahead through a few small windows so a run of headers costs one
//! source read, not one per byte. Values EdgeGuard does not need are skipped without
//! being decoded and without following pointers.
//!
//! Format: <https://maxmind.github.io/MaxMind-DB/#output-data-section>.

use super::MmdbError;
use super::source::{ByteSource, PAGE_SIZE};

/// Type numbers from the spec; 0 marks an extended type (7 + the next byte).
pub(crate) const TYPE_POINTER: u8 = 1;
pub(crate) const TYPE_UTF8: u8 = 2;
pub(crate) const TYPE_DOUBLE: u8 = 3;
pub(crate) const TYPE_BYTES: u8 = 4;
pub(crate) const TYPE_UINT16: u8 = 5;
pub(crate) const TYPE_UINT32: u8 = 6;
pub(crate) const TYPE_MAP: u8 = 7;
pub(crate) const TYPE_INT32: u8 = 8;
pub(crate) const TYPE_UINT64: u8 = 9;
pub(crate) const TYPE_UINT128: u8 = 10;
pub(crate) const TYPE_ARRAY: u8 = 11;
pub(crate) const TYPE_DATA_CACHE: u8 = 12;
pub(crate) const TYPE_END_MARKER: u8 = 13;
pub(crate) const TYPE_BOOL: u8 = 14;
pub(crate) const TYPE_FLOAT: u8 = 15;

/// Pointers followed to reach one value. The spec forbids a pointer to a
/// pointer, so one hop is all valid data needs; a second would be corrupt
/// data, and following it could loop forever.
pub const MAX_POINTER_CHAIN: usize = 1;

/// Maps and arrays nested inside a value being skipped. GeoIP2 records nest
/// four levels deep; the limit only stops corrupt data, and keeps the skip
/// state a fixed-size array.
pub const MAX_NESTING_DEPTH: usize = 32;

/// Entries in one map or array. The largest real container is a `names` map
/// of about ten languages; the format allows 16.8 million, which on corrupt
/// data would turn one lookup into millions of reads.
pub const MAX_CONTAINER_ENTRIES: u32 = 1 << 16;

/// Bytes in one decoded string. Names, codes and time zones are well under
/// 100 bytes; the format allows 16 MiB, which a corrupt length would make us
/// allocate in every wasm instance.
pub const MAX_STRING_LEN: u32 = 4096;

/// Bytes of strings decoded by one cursor (one lookup, or the metadata).
/// Pointers let many map entries share one long string, so a per-string limit
/// alone does not bound what a corrupt record makes us allocate.
pub const MAX_DECODED_BYTES: usize = 64 * 1024;

/// Values (headers) one cursor may read. A GeoLite2-City record has a few
/// hundred; this bounds the work a corrupt record can cause to milliseconds.
pub const MAX_VALUES_PER_CURSOR: u32 = 1 << 18;

/// Read-ahead window size. Large enough for a `names` map and its
/// neighbours, small enough that [`WINDOWS`] of them live on the 64 KiB wasm stack.
const WINDOW: usize = 128;

/// Windows per cursor, reused least recently used first. Records share keys
/// and sub-maps through pointers, so decoding alternates between the record,
/// the shared map and the shared key strings; one window would be refilled on
/// every jump, several keep each region in reach (measured on GeoLite2-City:
/// source reads per found record drop from about 38 to 5, besides the ~22
/// tree node reads).
const WINDOWS: usize = 4;

/// One read-ahead window: `buf[..len]` holds the section bytes from `start`.
#[derive(Clone, Copy)]
struct Window {
    start: u64,
    len: usize,
    /// The cursor's clock when reads last switched to this window, for LRU replacement.
    used: u32,
    buf: [u8; WINDOW],
}

/// The spec's name of a type number, for error messages.
pub(crate) fn type_name(ty: u8) -> &'static str {
    match ty {
        TYPE_POINTER => "pointer",
        TYPE_UTF8 => "utf8_string",
        TYPE_DOUBLE => "double",
        TYPE_BYTES => "bytes",
        TYPE_UINT16 => "uint16",
        TYPE_UINT32 => "uint32",
        TYPE_MAP => "map",
        TYPE_INT32 => "int32",
        TYPE_UINT64 => "uint64",
        TYPE_UINT128 => "uint128",
        TYPE_ARRAY => "array",
        TYPE_DATA_CACHE => "data cache container",
        TYPE_END_MARKER => "end marker",
        TYPE_BOOL => "boolean",
        TYPE_FLOAT => "float",
        _ => "unknown type",
    }
}

/// One decoded control byte (plus its extended-type and size bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    /// The type number (1–15, never 0).
    pub ty: u8,
    /// Payload bytes for strings, bytes and numbers; entries for maps and
    /// arrays; the value for booleans; the target offset for pointers.
    pub value: u32,
    /// Section offset of the control byte.
    pub at: u64,
}

/// A map or array being read. Call [`Cursor::leave`] after reading all of
/// its entries so a container reached through a pointer resumes after it.
#[derive(Debug)]
pub(crate) struct Container {
    pub entries: u32,
    resume: Option<u64>,
}

/// A position in one section of a source, with the read-ahead window and the
/// per-cursor budgets.
pub(crate) struct Cursor<'s, S: ByteSource + ?Sized> {
    src: &'s S,
    /// File offset of the section start; pointers are relative to it.
    base: u64,
    /// Section length; nothing at or past it is read.
    len: u64,
    pos: u64,
    values_left: u32,
    bytes_left: usize,
    windows: [Window; WINDOWS],
    /// The window the last read came from.
    current: usize,
    /// Counts window switches and refills; `Window::used` holds its value at the last one.
    clock: u32,
    /// Section bytes from offset 0 the caller already holds (the reader's
    /// data-section head): reads inside it cost no source read.
    head: &'s [u8],
}

impl<'s, S: ByteSource + ?Sized> Cursor<'s, S> {
    /// A cursor at `pos` in the section `base..base + len` of `src`.
    /// The caller has checked that the section lies inside the source.
    pub(crate) fn new(src: &'s S, base: u64, len: u64, pos: u64) -> Self {
        Self {
            src,
            base,
            len,
            pos,
            values_left: MAX_VALUES_PER_CURSOR,
            bytes_left: MAX_DECODED_BYTES,
            windows: [Window { start: 0, len: 0, used: 0, buf: [0; WINDOW] }; WINDOWS],
            current: 0,
            clock: 0,
            head: &[],
        }
    }

    /// The same cursor, serving reads of section offsets below `head.len()` from `head`.
    pub(crate) fn with_head(self, head: &'s [u8]) -> Self {
        Self { head, ..self }
    }

    /// The file offset of section offset `at`, for error messages.
    fn file_offset(&self, at: u64) -> u64 {
        self.base.saturating_add(at)
    }

    fn corrupt(&self, at: u64, reason: impl std::fmt::Display) -> MmdbError {
        MmdbError::corrupt(self.file_offset(at), reason)
    }

    /// The end of `n` bytes from the current position, if inside the section.
    fn end_of(&self, n: u64) -> Result<u64, MmdbError> {
        self.pos.checked_add(n).filter(|&end| end <= self.len).ok_or_else(|| {
            self.corrupt(self.pos, format_args!("{n}-byte value runs past the end of the section"))
        })
    }

    /// The next `n` (≤ [`WINDOW`]) bytes, refilling a window when needed.
    #[inline]
    fn take(&mut self, n: usize) -> Result<&[u8], MmdbError> {
        // Fast path: most reads continue in the window the last one used.
        // Windows only ever hold section bytes, so `pos + n` stays in the section.
        let pos = self.pos;
        let current = self.current;
        let from = match self.windows.get(current) {
            Some(w) if pos >= w.start && pos - w.start + n as u64 <= w.len as u64 => (pos - w.start) as usize,
            _ => return self.take_slow(n),
        };
        self.pos = pos + n as u64;
        let at = self.file_offset(pos);
        self.windows
            .get(current)
            .and_then(|w| w.buf.get(from..from + n))
            .ok_or_else(|| MmdbError::corrupt(at, "read outside the window"))
    }

    /// [`Cursor::take`] from another window, or after refilling the least recently used one.
    #[inline(never)]
    fn take_slow(&mut self, n: usize) -> Result<&[u8], MmdbError> {
        let (pos, end) = (self.pos, self.end_of(n as u64)?);
        let head = self.head;
        if let Some(bytes) =
            usize::try_from(pos).ok().zip(usize::try_from(end).ok()).and_then(|(p, e)| head.get(p..e))
        {
            self.pos = end;
            return Ok(bytes);
        }
        let covers = |w: &Window| pos >= w.start && end <= w.start + w.len as u64;
        let hit = self.windows.iter().position(covers);
        let slot = match hit {
            Some(slot) => slot,
            None => {
                let slot =
                    (0..WINDOWS).min_by_key(|&i| self.windows.get(i).map_or(0, |w| w.used)).unwrap_or(0);
                // Read ahead, but not past the section or into the next page:
                // that page may never be needed and would cost a read.
                let at = self.file_offset(pos);
                let to_page_end = PAGE_SIZE - (at % PAGE_SIZE as u64) as usize;
                let remaining = usize::try_from(self.len - pos).unwrap_or(WINDOW);
                let want = WINDOW.min(remaining).min(to_page_end).max(n);
                let window = self.windows.get_mut(slot).ok_or_else(|| MmdbError::corrupt(at, "no window"))?;
                // Emptied first: a failed read must not leave bytes claiming the old range.
                window.len = 0;
                let buf = window
                    .buf
                    .get_mut(..want)
                    .ok_or_else(|| MmdbError::corrupt(at, "read larger than the window"))?;
                self.src.read_exact_at(at, buf)?;
                window.start = pos;
                window.len = want;
                slot
            }
        };
        self.pos = end;
        let at = self.file_offset(pos);
        let window = self.windows.get_mut(slot).ok_or_else(|| MmdbError::corrupt(at, "no window"))?;
        if slot != self.current || hit.is_none() {
            self.clock = self.clock.wrapping_add(1);
            window.used = self.clock;
            self.current = slot;
        }
        let from = usize::try_from(pos - window.start).unwrap_or(usize::MAX);
        window
            .buf
            .get(from..from.saturating_add(n))
            .ok_or_else(|| MmdbError::corrupt(at, "read outside the window"))
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], MmdbError> {
        let at = self.file_offset(self.pos);
        let bytes = self.take(N)?;
        bytes.try_into().map_err(|_| MmdbError::corrupt(at, "short read"))
    }

    /// The next byte: [`Cursor::take`]'s fast path without the slice, as
    /// every value starts with one of these (a third of a lookup's decoding).
    #[inline]
    fn byte(&mut self) -> Result<u8, MmdbError> {
        let pos = self.pos;
        let hit = self.windows.get(self.current).and_then(|w| {
            let from = usize::try_from(pos.checked_sub(w.start)?).ok()?;
            w.buf.get(..w.len)?.get(from).copied()
        });
        // Then the head, which lies inside the section: the metadata is all
        // head, and each of its bytes through `take_slow` cost every wasm
        // instance's init (issue #14).
        match hit.or_else(|| usize::try_from(pos).ok().and_then(|p| self.head.get(p).copied())) {
            Some(b) => {
                self.pos = pos + 1;
                Ok(b)
            }
            None => Ok(self.array::<1>()?[0]),
        }
    }

    /// Moves past `n` bytes without reading them.
    fn skip_bytes(&mut self, n: u32) -> Result<(), MmdbError> {
        self.pos = self.end_of(u64::from(n))?;
        Ok(())
    }

    /// Charges one value to the budget.
    fn spend(&mut self, at: u64) -> Result<(), MmdbError> {
        self.charge(at, 1)
    }

    /// Charges `n` values to the budget.
    fn charge(&mut self, at: u64, n: u32) -> Result<(), MmdbError> {
        self.values_left = self.values_left.checked_sub(n).ok_or_else(|| {
            MmdbError::limit(
                self.file_offset(at),
                format_args!("more than {MAX_VALUES_PER_CURSOR} values read"),
            )
        })?;
        Ok(())
    }

    /// Values read so far (the budget spent).
    pub(crate) fn values_read(&self) -> u32 {
        MAX_VALUES_PER_CURSOR - self.values_left
    }

    /// Charges the `n` values a remembered decode read, so that a lookup
    /// answered from a memo fails exactly when decoding it would.
    pub(crate) fn charge_remembered(&mut self, n: u32) -> Result<(), MmdbError> {
        self.charge(self.pos, n)
    }

    /// Decodes the control byte at the current position, without following pointers.
    pub(crate) fn header(&mut self) -> Result<Header, MmdbError> {
        let at = self.pos;
        self.spend(at)?;
        let ctrl = self.byte()?;
        let mut ty = ctrl >> 5;
        if ty == TYPE_POINTER {
            let high = u32::from(ctrl & 0x07);
            let value = match (ctrl >> 3) & 0x03 {
                0 => high << 8 | u32::from(self.byte()?),
                1 => {
                    let [a, b] = self.array()?;
                    2048 + (high << 16 | u32::from(a) << 8 | u32::from(b))
                }
                2 => {
                    let [a, b, c] = self.array()?;
                    526_336 + (high << 24 | u32::from(a) << 16 | u32::from(b) << 8 | u32::from(c))
                }
                _ => u32::from_be_bytes(self.array()?),
            };
            return Ok(Header { ty, value, at });
        }
        if ty == 0 {
            let ext = self.byte()?;
            ty = match ext.checked_add(7) {
                Some(t @ TYPE_INT32..=TYPE_FLOAT) => t,
                _ => return Err(self.corrupt(at, format_args!("invalid extended type byte {ext}"))),
            };
        }
        let value = match ctrl & 0x1f {
            n @ 0..=28 => u32::from(n),
            29 => 29 + u32::from(self.byte()?),
            30 => 285 + u32::from(u16::from_be_bytes(self.array()?)),
            _ => {
                let [a, b, c] = self.array()?;
                65_821 + u32::from_be_bytes([0, a, b, c])
            }
        };
        let max = match ty {
            TYPE_DOUBLE | TYPE_UINT64 => 8,
            TYPE_FLOAT | TYPE_UINT32 | TYPE_INT32 => 4,
            TYPE_UINT16 => 2,
            TYPE_UINT128 => 16,
            TYPE_BOOL => 1,
            TYPE_MAP | TYPE_ARRAY if value > MAX_CONTAINER_ENTRIES => {
                return Err(MmdbError::limit(
                    self.file_offset(at),
                    format_args!("{} of {value} entries exceeds {MAX_CONTAINER_ENTRIES}", type_name(ty)),
                ));
            }
            TYPE_DATA_CACHE | TYPE_END_MARKER => {
                return Err(self.corrupt(at, format_args!("unexpected {} (type {ty})", type_name(ty))));
            }
            _ => u32::MAX,
        };
        let exact = matches!(ty, TYPE_DOUBLE | TYPE_FLOAT);
        if value > max || (exact && value != max) {
            return Err(self.corrupt(at, format_args!("{} of invalid size {value}", type_name(ty))));
        }
        Ok(Header { ty, value, at })
    }

    /// The header of the next value, following a pointer if there is one.
    /// Returns where to resume after the value when a pointer was followed.
    fn header_past_pointer(&mut self) -> Result<(Header, Option<u64>), MmdbError> {
        let mut header = self.header()?;
        let mut resume = None;
        for _ in 0..MAX_POINTER_CHAIN {
            if header.ty != TYPE_POINTER {
                return Ok((header, resume));
            }
            let target = u64::from(header.value);
            if target >= self.len {
                return Err(self
                    .corrupt(header.at, format_args!("pointer to {target} is past the end of the section")));
            }
            resume = resume.or(Some(self.pos));
            self.pos = target;
            header = self.header()?;
        }
        if header.ty == TYPE_POINTER {
            return Err(self.corrupt(header.at, "pointer to a pointer"));
        }
        Ok((header, resume))
    }

    fn expect(&self, header: Header, ty: u8, what: &str) -> Result<(), MmdbError> {
        if header.ty == ty {
            return Ok(());
        }
        Err(self.mismatch(header, type_name(ty), what))
    }

    fn mismatch(&self, header: Header, want: &str, what: &str) -> MmdbError {
        self.corrupt(header.at, format_args!("expected {want} for `{what}`, found {}", type_name(header.ty)))
    }

    fn finish(&mut self, resume: Option<u64>) {
        if let Some(pos) = resume {
            self.pos = pos;
        }
    }

    /// Enters the map (or array, for `ty` = [`TYPE_ARRAY`]) at the current position.
    pub(crate) fn enter(&mut self, ty: u8, what: &str) -> Result<Container, MmdbError> {
        let (header, resume) = self.header_past_pointer()?;
        self.expect(header, ty, what)?;
        Ok(Container { entries: header.value, resume })
    }

    /// Continues after `container`, all of whose entries have been read.
    pub(crate) fn leave(&mut self, container: Container) {
        self.finish(container.resume);
    }

    /// The target of the pointer at the current position, if the next value
    /// is one, without moving: where a value shared by many records lives.
    pub(crate) fn peek_pointer(&mut self) -> Result<Option<u64>, MmdbError> {
        let (at, left) = (self.pos, self.values_left);
        let header = self.header()?;
        (self.pos, self.values_left) = (at, left);
        Ok((header.ty == TYPE_POINTER).then_some(u64::from(header.value)))
    }

    /// Reads a map key and returns the `K` of the first candidate equal to
    /// it. Keys longer than the window match nothing (no candidate is that long).
    pub(crate) fn key<K: Copy>(&mut self, candidates: &[(&str, K)]) -> Result<Option<K>, MmdbError> {
        let (len, resume) = self.key_header()?;
        let found = match len {
            Some(n) => {
                let key = self.take(n)?;
                candidates.iter().find(|(c, _)| c.as_bytes() == key).map(|&(_, k)| k)
            }
            None => None,
        };
        self.finish(resume);
        Ok(found)
    }

    /// The part of [`Cursor::key`] that does not depend on its key type, so the
    /// plugin holds one copy of it, not one per map (2 KB): the key's length
    /// when it fits the window (else it is skipped), and where to resume.
    fn key_header(&mut self) -> Result<(Option<usize>, Option<u64>), MmdbError> {
        let (header, resume) = self.header_past_pointer()?;
        self.expect(header, TYPE_UTF8, "map key")?;
        match usize::try_from(header.value) {
            Ok(n) if n <= WINDOW => Ok((Some(n), resume)),
            _ => {
                self.skip_bytes(header.value)?;
                Ok((None, resume))
            }
        }
    }

    /// Reads a UTF-8 string; `what` names the field in errors.
    pub(crate) fn string(&mut self, what: &str) -> Result<String, MmdbError> {
        let (header, resume) = self.header_past_pointer()?;
        self.expect(header, TYPE_UTF8, what)?;
        let at = self.file_offset(header.at);
        if header.value > MAX_STRING_LEN {
            return Err(MmdbError::limit(
                at,
                format_args!("`{what}` string of {} bytes exceeds {MAX_STRING_LEN}", header.value),
            ));
        }
        let n = header.value as usize; // ≤ MAX_STRING_LEN
        self.bytes_left = self.bytes_left.checked_sub(n).ok_or_else(|| {
            MmdbError::limit(at, format_args!("more than {MAX_DECODED_BYTES} bytes of strings decoded"))
        })?;
        let buf = if n <= WINDOW {
            // Copied, not zeroed first (memset is a loop in wasm).
            self.take(n)?.to_vec()
        } else {
            let mut buf = vec![0; n];
            let start = self.pos;
            let end = self.end_of(header.value.into())?;
            self.src.read_exact_at(self.file_offset(start), &mut buf)?;
            self.pos = end;
            buf
        };
        let s = String::from_utf8(buf)
            .map_err(|_| MmdbError::corrupt(at, format_args!("`{what}` is not valid utf-8")))?;
        self.finish(resume);
        Ok(s)
    }

    /// Reads an unsigned integer of any width (or a non-negative int32) and
    /// converts it to `T`; `what` names the field in errors.
    pub(crate) fn uint<T: TryFrom<u128>>(&mut self, what: &str) -> Result<T, MmdbError> {
        let (header, resume) = self.header_past_pointer()?;
        let value = match header.ty {
            TYPE_UINT16 | TYPE_UINT32 | TYPE_UINT64 | TYPE_UINT128 | TYPE_INT32 => {
                let mut bytes = [0; 16];
                let n = header.value as usize; // ≤ 16, checked by `header`
                let tail = 16usize
                    .checked_sub(n)
                    .and_then(|start| bytes.get_mut(start..))
                    .ok_or_else(|| self.corrupt(header.at, "integer too wide"))?;
                tail.copy_from_slice(self.take(n)?);
                u128::from_be_bytes(bytes)
            }
            _ => return Err(self.mismatch(header, "an unsigned integer", what)),
        };
        // int32 is stored as the low bytes of its two's complement: only a
        // full four-byte value can be negative.
        if header.ty == TYPE_INT32 && header.value == 4 && value >= 1 << 31 {
            return Err(self.corrupt(header.at, format_args!("negative value for `{what}`")));
        }
        let out = T::try_from(value).map_err(|_| {
            self.corrupt(header.at, format_args!("value {value} for `{what}` is out of range"))
        })?;
        self.finish(resume);
        Ok(out)
    }

    /// Reads a double (or a float, widened); `what` names the field in errors.
    pub(crate) fn float(&mut self, what: &str) -> Result<f64, MmdbError> {
        let (header, resume) = self.header_past_pointer()?;
        let value = match header.ty {
            TYPE_DOUBLE => f64::from_be_bytes(self.array()?),
            TYPE_FLOAT => f64::from(f32::from_be_bytes(self.array()?)),
            _ => return Err(self.mismatch(header, "a double", what)),
        };
        self.finish(resume);
        Ok(value)
    }

    /// Moves past the next value without decoding it. Pointers are not
    /// followed (the value ends with the pointer), so skipping cannot loop;
    /// nested maps and arrays are tracked in a fixed-size stack, not by recursion.
    pub(crate) fn skip(&mut self) -> Result<(), MmdbError> {
        let mut stack = [0u32; MAX_NESTING_DEPTH];
        let mut depth = 0;
        let mut left: u32 = 1;
        loop {
            while left == 0 {
                if depth == 0 {
                    return Ok(());
                }
                depth -= 1;
                left = stack.get(depth).copied().unwrap_or(0);
            }
            left -= 1;
            let header = self.header()?;
            let children = match header.ty {
                TYPE_MAP => header.value * 2, // ≤ 2 * MAX_CONTAINER_ENTRIES, no overflow
                TYPE_ARRAY => header.value,
                TYPE_POINTER | TYPE_BOOL => 0,
                _ => {
                    self.skip_bytes(header.value)?;
                    0
                }
            };
            if children > 0 {
                let slot = stack.get_mut(depth).ok_or_else(|| {
                    MmdbError::limit(
                        self.file_offset(header.at),
                        format_args!("containers nested deeper than {MAX_NESTING_DEPTH}"),
                    )
                })?;
                *slot = left;
                depth += 1;
                left = children;
            }
        }
    }
}

/// Declares the keys of one map as an enum and its `KEYS` for [`Cursor::key`]:
/// one list, so a key's name and its variant cannot drift apart.
macro_rules! map_keys {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $key:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        enum $name { $($variant),+ }
        impl $name {
            const KEYS: &'static [(&'static str, $name)] = &[$(($key, $name::$variant)),+];
            /// The key as the database spells it.
            #[allow(dead_code)] // only some maps' errors name their keys
            fn name(self) -> &'static str {
                Self::KEYS[self as usize].0
            }
        }
    };
}
pub(crate) use map_keys;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mmdb::testutil::{V, encode, header_bytes, pointer_bytes};

    fn cursor(bytes: &[u8]) -> Cursor<'_, [u8]> {
        Cursor::new(bytes, 0, bytes.len() as u64, 0)
    }

    #[test]
    fn control_bytes() {
        struct Case {
            desc: &'static str,
            bytes: &'static [u8],
            want: Result<(u8, u32), &'static str>,
        }
        let cases = [
            Case { desc: "empty string", bytes: &[0x40], want: Ok((TYPE_UTF8, 0)) },
            Case { desc: "string of 28", bytes: &[0x5c], want: Ok((TYPE_UTF8, 28)) },
            Case { desc: "size 29 form", bytes: &[0x5d, 0x00], want: Ok((TYPE_UTF8, 29)) },
            Case { desc: "size 29 form max", bytes: &[0x5d, 0xff], want: Ok((TYPE_UTF8, 284)) },
            Case { desc: "size 30 form", bytes: &[0x5e, 0x00, 0x00], want: Ok((TYPE_UTF8, 285)) },
            Case { desc: "size 30 form max", bytes: &[0x5e, 0xff, 0xff], want: Ok((TYPE_UTF8, 65_820)) },
            Case { desc: "size 31 form", bytes: &[0x5f, 0x00, 0x00, 0x00], want: Ok((TYPE_UTF8, 65_821)) },
            Case {
                desc: "size 31 form max",
                bytes: &[0x5f, 0xff, 0xff, 0xff],
                want: Ok((TYPE_UTF8, 16_843_036)),
            },
            Case { desc: "double", bytes: &[0x68], want: Ok((TYPE_DOUBLE, 8)) },
            Case { desc: "double wrong size", bytes: &[0x67], want: Err("double of invalid size 7") },
            Case { desc: "bytes", bytes: &[0x83], want: Ok((TYPE_BYTES, 3)) },
            Case { desc: "uint16", bytes: &[0xa2], want: Ok((TYPE_UINT16, 2)) },
            Case { desc: "uint16 too wide", bytes: &[0xa3], want: Err("uint16 of invalid size 3") },
            Case { desc: "uint32", bytes: &[0xc4], want: Ok((TYPE_UINT32, 4)) },
            Case { desc: "map", bytes: &[0xe3], want: Ok((TYPE_MAP, 3)) },
            Case { desc: "map too big", bytes: &[0xff, 0xff, 0xff, 0xff], want: Err("exceeds 65536") },
            Case { desc: "int32", bytes: &[0x04, 0x01], want: Ok((TYPE_INT32, 4)) },
            Case { desc: "uint64", bytes: &[0x08, 0x02], want: Ok((TYPE_UINT64, 8)) },
            Case { desc: "uint128", bytes: &[0x10, 0x03], want: Ok((TYPE_UINT128, 16)) },
            Case { desc: "uint128 too wide", bytes: &[0x11, 0x03], want: Err("uint128 of invalid size 17") },
            Case { desc: "array", bytes: &[0x02, 0x04], want: Ok((TYPE_ARRAY, 2)) },
            Case { desc: "data cache", bytes: &[0x00, 0x05], want: Err("unexpected data cache container") },
            Case { desc: "end marker", bytes: &[0x00, 0x06], want: Err("unexpected end marker") },
            Case { desc: "bool true", bytes: &[0x01, 0x07], want: Ok((TYPE_BOOL, 1)) },
            Case { desc: "bool 2", bytes: &[0x02, 0x07], want: Err("boolean of invalid size 2") },
            Case { desc: "float", bytes: &[0x04, 0x08], want: Ok((TYPE_FLOAT, 4)) },
            Case {
                desc: "extended 0 (type 7)",
                bytes: &[0x00, 0x00],
                want: Err("invalid extended type byte 0"),
            },
            Case {
                desc: "extended 9 (type 16)",
                bytes: &[0x00, 0x09],
                want: Err("invalid extended type byte 9"),
            },
            Case { desc: "truncated extended", bytes: &[0x00], want: Err("runs past the end") },
            Case { desc: "truncated size", bytes: &[0x5e, 0x01], want: Err("runs past the end") },
        ];
        for c in cases {
            let got = cursor(c.bytes).header().map(|h| (h.ty, h.value)).map_err(|e| e.to_string());
            match (got, c.want) {
                (Ok(got), Ok(want)) => assert_eq!(got, want, "case {}", c.desc),
                (Err(got), Err(want)) => assert!(got.contains(want), "case {}: {got}", c.desc),
                (got, want) => panic!("case {}: got {got:?}, want {want:?}", c.desc),
            }
        }
    }

    #[test]
    fn pointer_sizes() {
        struct Case {
            desc: &'static str,
            bytes: &'static [u8],
            want: u32,
        }
        let cases = [
            Case { desc: "size 0 min", bytes: &[0x20, 0x00], want: 0 },
            Case { desc: "size 0 max", bytes: &[0x27, 0xff], want: 2047 },
            Case { desc: "size 1 min", bytes: &[0x28, 0x00, 0x00], want: 2048 },
            Case { desc: "size 1 max", bytes: &[0x2f, 0xff, 0xff], want: 526_335 },
            Case { desc: "size 2 min", bytes: &[0x30, 0x00, 0x00, 0x00], want: 526_336 },
            Case { desc: "size 2 max", bytes: &[0x37, 0xff, 0xff, 0xff], want: 134_744_063 },
            Case {
                desc: "size 3 ignores low bits",
                bytes: &[0x3f, 0x12, 0x34, 0x56, 0x78],
                want: 0x1234_5678,
            },
        ];
        for c in cases {
            let mut cur = cursor(c.bytes);
            let h = cur.header().unwrap();
            assert_eq!((h.ty, h.value), (TYPE_POINTER, c.want), "case {}", c.desc);
            assert_eq!(cur.pos, c.bytes.len() as u64, "case {}: consumed", c.desc);
            // The encoder picks the same sizes.
            assert_eq!(pointer_bytes(c.want).len(), c.bytes.len().min(5), "case {}: encoder size", c.desc);
        }
    }

    #[test]
    fn typed_reads() {
        struct Case {
            desc: &'static str,
            value: V,
            want: Result<&'static str, &'static str>,
        }
        let cases = [
            Case { desc: "ascii", value: V::Str("DE".into()), want: Ok("str DE") },
            Case { desc: "non-ascii", value: V::Str("Linköping".into()), want: Ok("str Linköping") },
            Case { desc: "long string", value: V::Str("x".repeat(300)), want: Ok("len 300") },
            Case { desc: "too long", value: V::Str("x".repeat(5000)), want: Err("exceeds 4096") },
            Case { desc: "u16", value: V::U16(64_512), want: Ok("uint 64512") },
            Case { desc: "u32", value: V::U32(4_200_000_000), want: Ok("uint 4200000000") },
            Case { desc: "u64 small", value: V::U64(7), want: Ok("uint 7") },
            Case { desc: "u128 small", value: V::U128(9), want: Ok("uint 9") },
            Case { desc: "i32 positive", value: V::I32(1000), want: Ok("uint 1000") },
            Case { desc: "i32 negative", value: V::I32(-1), want: Err("negative value") },
            Case { desc: "u64 too big for u32", value: V::U64(1 << 40), want: Err("out of range") },
            Case { desc: "double", value: V::F64(58.4167), want: Ok("float 58.4167") },
            Case { desc: "float", value: V::F32(1.5), want: Ok("float 1.5") },
            Case {
                desc: "bool as string",
                value: V::Bool(true),
                want: Err("expected utf8_string for `f`, found boolean"),
            },
        ];
        for c in cases {
            let mut bytes = Vec::new();
            encode(&c.value, &mut bytes);
            let mut cur = cursor(&bytes);
            let got = match &c.value {
                V::Str(s) if s.len() > 100 => cur.string("f").map(|s| format!("len {}", s.len())),
                V::Str(_) | V::Bool(_) => cur.string("f").map(|s| format!("str {s}")),
                V::F64(_) | V::F32(_) => cur.float("f").map(|f| format!("float {f}")),
                _ => cur.uint::<u32>("f").map(|n| format!("uint {n}")),
            };
            match (got.map_err(|e| e.to_string()), c.want) {
                (Ok(got), Ok(want)) => {
                    assert_eq!(got, want, "case {}", c.desc);
                    assert_eq!(cur.pos, bytes.len() as u64, "case {}: consumed", c.desc);
                }
                (Err(got), Err(want)) => assert!(got.contains(want), "case {}: {got}", c.desc),
                (got, want) => panic!("case {}: got {got:?}, want {want:?}", c.desc),
            }
        }
    }

    #[test]
    fn pointers_are_followed_once_and_resume_after() {
        // 0: "target"; 7: pointer to 0; 9: pointer to 7 (a pointer to a pointer); 11: pointer past the end.
        let mut bytes = Vec::new();
        encode(&V::Str("target".into()), &mut bytes);
        bytes.extend(pointer_bytes(0));
        bytes.extend(pointer_bytes(7));
        bytes.extend(pointer_bytes(500));
        let mut cur = cursor(&bytes);
        cur.pos = 7;
        assert_eq!(cur.string("f").unwrap(), "target");
        assert_eq!(cur.pos, 9, "resumes after the pointer");
        let err = cur.string("f").unwrap_err().to_string();
        assert!(err.contains("pointer to a pointer at offset 7"), "{err}");
        cur.pos = 11;
        let err = cur.string("f").unwrap_err().to_string();
        assert!(err.contains("pointer to 500 is past the end of the section at offset 11"), "{err}");
    }

    #[test]
    fn skip_moves_past_whole_values() {
        let nested = V::Map(vec![
            ("a".into(), V::Arr(vec![V::U16(1), V::Bool(true), V::Bytes(vec![1, 2, 3]), V::Ptr(0)])),
            ("b".into(), V::Map(vec![("c".into(), V::F64(1.0)), ("d".into(), V::U128(u128::MAX))])),
            ("e".into(), V::Arr(vec![])),
        ]);
        for value in [V::Str("x".into()), V::Ptr(3), V::Bool(false), V::F32(2.0), nested] {
            let mut bytes = Vec::new();
            encode(&value, &mut bytes);
            bytes.push(0x40); // a marker value after it
            let mut cur = cursor(&bytes);
            cur.skip().unwrap();
            assert_eq!(cur.pos, bytes.len() as u64 - 1, "{value:?}");
        }
    }

    #[test]
    fn skip_limits_nesting() {
        for (depth, ok) in [(MAX_NESTING_DEPTH, true), (MAX_NESTING_DEPTH + 1, false)] {
            let mut bytes = Vec::new();
            for _ in 0..depth {
                header_bytes(TYPE_ARRAY, 1, &mut bytes);
            }
            bytes.push(0x40);
            let got = cursor(&bytes).skip();
            assert_eq!(got.is_ok(), ok, "depth {depth}: {got:?}");
        }
    }

    #[test]
    fn value_budget_bounds_work() {
        // An array claiming more entries than the section holds ends in an error.
        let mut bytes = Vec::new();
        header_bytes(TYPE_ARRAY, 60_000, &mut bytes);
        bytes.extend([0x40; 100]);
        let err = cursor(&bytes).skip().unwrap_err().to_string();
        assert!(err.contains("runs past the end of the section"), "{err}");
        // A pointer-heavy map cannot decode more than MAX_DECODED_BYTES of strings.
        let mut bytes = Vec::new();
        encode(&V::Str("y".repeat(4000)), &mut bytes);
        let mut cur = cursor(&bytes);
        let mut err = None;
        for _ in 0..100 {
            cur.pos = 0;
            if let Err(e) = cur.string("f") {
                err = Some(e.to_string());
                break;
            }
        }
        assert!(err.is_some_and(|e| e.contains("bytes of strings decoded")));
        // Every header counts against the value budget.
        let mut bytes = Vec::new();
        encode(&V::Arr(vec![V::U16(1), V::U16(2), V::U16(3), V::U16(4)]), &mut bytes);
        let mut cur = cursor(&bytes);
        cur.values_left = 4;
        let err = cur.skip().unwrap_err().to_string();
        assert!(err.contains("more than 262144 values read at offset 8"), "{err}");
    }

    #[test]
    fn keys_match_candidates() {
        let map = V::Map(vec![
            ("en".into(), V::Str("Tokyo".into())),
            ("ja".into(), V::Str("東京".into())),
            ("k".repeat(300), V::U16(1)),
        ]);
        let mut bytes = Vec::new();
        encode(&map, &mut bytes);
        let mut cur = cursor(&bytes);
        let c = cur.enter(TYPE_MAP, "names").unwrap();
        assert_eq!(c.entries, 3);
        let mut got = Vec::new();
        for _ in 0..c.entries {
            match cur.key(&[("ja", 0), ("en", 1)]).unwrap() {
                Some(i) => got.push((i, cur.string("names").unwrap())),
                None => cur.skip().unwrap(),
            }
        }
        cur.leave(c);
        assert_eq!(got, [(1, "Tokyo".to_string()), (0, "東京".to_string())]);
        assert_eq!(cur.pos, bytes.len() as u64);
        let err = cursor(&bytes).enter(TYPE_ARRAY, "subdivisions").unwrap_err().to_string();
        assert!(err.contains("expected array for `subdivisions`, found map at offset 0"), "{err}");
    }
}
