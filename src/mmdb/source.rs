//! Where the database bytes come from: one small trait, implemented by
//! in-memory slices and by [`FileSource`], a file read on demand through a
//! bounded page cache.
//!
//! The decoder only ever asks for a few bytes at a known offset, so a source
//! does not need to hold the file: in Traefik each concurrent request runs in
//! its own wasm instance with its own memory, and loading GeoLite2-City (61 MB)
//! into each one was measured at 3.7 GB RSS. A [`FileSource`] keeps at most
//! `cache_bytes` of the file, allocated only as pages are touched.

use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::hash::{BuildHasherDefault, Hasher};
use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use super::MmdbError;

/// Random access to the bytes of one database.
///
/// Implementations must be deterministic: the same offset yields the same
/// bytes for the lifetime of the source.
pub trait ByteSource {
    /// The size of the database in bytes.
    fn len(&self) -> u64;

    /// Whether the source is empty. Default: `self.len() == 0`.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Fills `buf` with the bytes at `offset..offset + buf.len()`.
    ///
    /// Returns [`MmdbError::OutOfBounds`] when that range is not inside the
    /// source (nothing is read then), [`MmdbError::Io`] when the underlying
    /// read fails.
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), MmdbError>;

    /// [`ByteSource::read_exact_at`] for bytes read once (the metadata at
    /// open), past any cache: caching them would only allocate a page, fill
    /// it, copy out of it and keep it, and each wasm instance pays that at
    /// init (issue #14). Default: `read_exact_at`.
    fn read_once_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), MmdbError> {
        self.read_exact_at(offset, buf)
    }
}

impl ByteSource for [u8] {
    fn len(&self) -> u64 {
        // A slice never holds more than u64::MAX bytes on any supported target.
        self.len() as u64
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), MmdbError> {
        let out_of_bounds = || MmdbError::OutOfBounds { offset, len: buf.len(), size: self.len() as u64 };
        let start = usize::try_from(offset).map_err(|_| out_of_bounds())?;
        let end = start.checked_add(buf.len()).ok_or_else(out_of_bounds)?;
        let bytes = self.get(start..end).ok_or_else(out_of_bounds)?;
        buf.copy_from_slice(bytes);
        Ok(())
    }
}

impl ByteSource for Vec<u8> {
    fn len(&self) -> u64 {
        self.as_slice().len() as u64
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), MmdbError> {
        self.as_slice().read_exact_at(offset, buf)
    }
}

/// A reference or an `Arc` reads like the source it points to.
macro_rules! forward_byte_source {
    ($($pointer:ty),+) => {$(
        impl<T: ByteSource + ?Sized> ByteSource for $pointer {
            fn len(&self) -> u64 {
                (**self).len()
            }
            fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), MmdbError> {
                (**self).read_exact_at(offset, buf)
            }
            fn read_once_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), MmdbError> {
                (**self).read_once_at(offset, buf)
            }
        }
    )+};
}
forward_byte_source!(&T, Arc<T>);

/// Size of one cached page. 4 KiB is the page size of the OS page cache and
/// the usual filesystem block, so one miss is one block read. A lookup touches
/// 20–30 tree nodes of 6–8 bytes scattered over the file plus one record of a
/// few hundred bytes: bigger pages would spend the budget on bytes never read,
/// smaller ones would cost more reads (each a host call in wasm) for a record.
pub const PAGE_SIZE: usize = 4096;

/// A database file read with positional reads through a bounded page cache.
///
/// Pages are allocated on first use, so memory grows only with the part of the
/// file actually read, up to `cache_bytes` rounded down to whole pages. When
/// the cache is full the clock (second-chance) policy picks the page to reuse:
/// recently used pages survive one sweep, and a miss costs O(1) amortised.
/// With `cache_bytes` below one page nothing is cached and every read goes to
/// the file.
///
/// The cache sits behind a [`Mutex`] so the type is `Send + Sync` (the native
/// sidecar shares one reader between threads; the wasm guest is single-threaded
/// and the lock is uncontended).
pub struct FileSource {
    file: File,
    len: u64,
    cache: Mutex<PageCache>,
}

struct Page {
    /// The page number (`offset / PAGE_SIZE`), or `None` while the slot holds no valid data.
    number: Option<u64>,
    /// Clock bit: set on every hit after the first read, cleared when the hand passes.
    referenced: bool,
    data: Box<[u8]>,
}

struct PageCache {
    max_pages: usize,
    pages: Vec<Page>,
    /// Page number to slot in `pages`.
    index: HashMap<u64, usize, MultiplyHash>,
    /// The clock hand: the next slot considered for eviction.
    hand: usize,
}

/// A hasher of one multiplication per word (the Fibonacci constant), for the
/// small bounded tables on the lookup path: the page index here and the
/// geo lookup cache. SipHash's cost showed in lookup times. Flooding is not a
/// concern: clients choose addresses, hence which keys are used, but the keys
/// are page numbers and the database's own networks, and a table never holds
/// more than its capacity (a few pages; `cacheEntries`, 64 by default, at most
/// 65 535), so colliding keys cost at most a scan of that many.
#[derive(Default)]
pub struct MultiplyHasher(u64);

/// [`MultiplyHasher`] for `HashMap`.
pub type MultiplyHash = BuildHasherDefault<MultiplyHasher>;

impl Hasher for MultiplyHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    // Integers are one word each: the defaults go byte by byte through
    // `write`, and a derived `Hash` (an enum's discriminant, an address, a
    // prefix length) writes several of them per key.
    fn write_u8(&mut self, n: u8) {
        self.write_u64(u64::from(n));
    }

    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }

    fn write_u128(&mut self, n: u128) {
        // Both halves, high then low: truncating on purpose.
        self.write_u64((n >> 64) as u64);
        self.write_u64(n as u64);
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }

    fn write_isize(&mut self, n: isize) {
        self.write_u64(n as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

impl FileSource {
    /// Opens `path` and reads its size; no content is read.
    ///
    /// # Errors
    ///
    /// [`MmdbError::Open`] when the file cannot be opened or its size read.
    ///
    /// # Examples
    ///
    /// ```
    /// use edgeguard::mmdb::{FileSource, MmdbError};
    /// let err = FileSource::open("no/such/file.mmdb".as_ref(), 1 << 20).unwrap_err();
    /// assert!(matches!(err, MmdbError::Open { .. }));
    /// ```
    pub fn open(path: &Path, cache_bytes: usize) -> Result<Self, MmdbError> {
        let open_error = |source| MmdbError::Open { path: path.to_path_buf(), source };
        let file = File::open(path).map_err(open_error)?;
        let len = file.metadata().map_err(open_error)?.len();
        let cache = PageCache {
            max_pages: cache_bytes / PAGE_SIZE,
            pages: Vec::new(),
            index: HashMap::default(),
            hand: 0,
        };
        Ok(Self { file, len, cache: Mutex::new(cache) })
    }

    /// Bytes of page memory allocated so far (a multiple of [`PAGE_SIZE`],
    /// never more than the `cache_bytes` given to [`FileSource::open`]).
    pub fn cached_bytes(&self) -> usize {
        self.lock().pages.len() * PAGE_SIZE
    }

    /// Drops every cached page and frees its memory.
    pub fn clear_cache(&self) {
        let mut cache = self.lock();
        cache.pages = Vec::new();
        cache.index = HashMap::default();
        cache.hand = 0;
    }

    fn lock(&self) -> MutexGuard<'_, PageCache> {
        crate::sync::lock(&self.cache)
    }

    /// Reads one page into `slot` and indexes it. The slot is unindexed
    /// first, so a failed read (or a panic, see [`crate::sync`]) leaves no
    /// stale or half-written page behind.
    fn load(&self, cache: &mut PageCache, slot: usize, number: u64) -> Result<(), MmdbError> {
        let start = number.checked_mul(PAGE_SIZE as u64).ok_or_else(|| self.out_of_bounds(u64::MAX, 1))?;
        // The last page may be short; `start < len` holds for any page a caller asked for.
        let valid = usize::try_from(self.len.saturating_sub(start)).unwrap_or(PAGE_SIZE).min(PAGE_SIZE);
        let page = cache.pages.get_mut(slot).ok_or_else(|| self.out_of_bounds(start, PAGE_SIZE))?;
        if let Some(old) = page.number.take() {
            cache.index.remove(&old);
        }
        let buf = page.data.get_mut(..valid).ok_or_else(|| self.out_of_bounds(start, valid))?;
        read_full_at(&self.file, buf, start)?;
        page.number = Some(number);
        // A page starts unreferenced: only a second use earns it a second
        // chance, so pages read once (a record's tail) go before the top of
        // the search tree, which every lookup walks.
        page.referenced = false;
        cache.index.insert(number, slot);
        Ok(())
    }

    /// The slot holding page `number`, reading it from the file on a miss.
    fn page(&self, cache: &mut PageCache, number: u64) -> Result<usize, MmdbError> {
        if let Some(&slot) = cache.index.get(&number) {
            if let Some(page) = cache.pages.get_mut(slot) {
                page.referenced = true;
            }
            return Ok(slot);
        }
        let slot = if cache.pages.len() < cache.max_pages {
            cache.pages.push(Page {
                number: None,
                referenced: false,
                data: vec![0; PAGE_SIZE].into_boxed_slice(),
            });
            cache.pages.len() - 1
        } else {
            cache.victim()
        };
        self.load(cache, slot, number)?;
        Ok(slot)
    }

    /// `offset..offset + len` must lie inside the file.
    fn check_bounds(&self, offset: u64, len: usize) -> Result<(), MmdbError> {
        match offset.checked_add(len as u64) {
            Some(end) if end <= self.len => Ok(()),
            _ => Err(self.out_of_bounds(offset, len)),
        }
    }

    fn out_of_bounds(&self, offset: u64, len: usize) -> MmdbError {
        MmdbError::OutOfBounds { offset, len, size: self.len }
    }
}

impl PageCache {
    /// Clock sweep: clears reference bits until it finds an unreferenced slot.
    /// Ends within two turns of the hand, since the first turn clears every bit.
    fn victim(&mut self) -> usize {
        let n = self.pages.len();
        if n == 0 {
            return 0;
        }
        for _ in 0..2 * n {
            let slot = self.hand;
            self.hand = (self.hand + 1) % n;
            match self.pages.get_mut(slot) {
                Some(page) if page.referenced => page.referenced = false,
                _ => return slot,
            }
        }
        self.hand
    }
}

impl ByteSource for FileSource {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), MmdbError> {
        self.check_bounds(offset, buf.len())?;
        let mut cache = self.lock();
        if cache.max_pages == 0 {
            drop(cache);
            return read_full_at(&self.file, buf, offset);
        }
        let mut done = 0;
        while done < buf.len() {
            let pos = offset + done as u64; // cannot overflow: checked above
            let number = pos / PAGE_SIZE as u64;
            let in_page = (pos % PAGE_SIZE as u64) as usize;
            let n = (buf.len() - done).min(PAGE_SIZE - in_page);
            let slot = self.page(&mut cache, number)?;
            let src = cache.pages.get(slot).and_then(|p| p.data.get(in_page..in_page + n));
            let dst = buf.get_mut(done..done + n);
            match (src, dst) {
                (Some(src), Some(dst)) => dst.copy_from_slice(src),
                _ => return Err(self.out_of_bounds(pos, n)),
            }
            done += n;
        }
        Ok(())
    }

    fn read_once_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), MmdbError> {
        self.check_bounds(offset, buf.len())?;
        read_full_at(&self.file, buf, offset)
    }
}

impl fmt::Debug for FileSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cache = self.lock();
        f.debug_struct("FileSource")
            .field("len", &self.len)
            .field("cached_pages", &cache.pages.len())
            .field("max_pages", &cache.max_pages)
            .finish_non_exhaustive()
    }
}

/// Fills `buf` from `offset`, retrying short reads; a read of 0 bytes means
/// the file shrank under us.
fn read_full_at(file: &File, buf: &mut [u8], offset: u64) -> Result<(), MmdbError> {
    let len = buf.len();
    let io_error = |source| MmdbError::Io { offset, len, source };
    let mut done = 0;
    while let Some(rest) = buf.get_mut(done..).filter(|rest| !rest.is_empty()) {
        let at =
            offset.checked_add(done as u64).ok_or_else(|| io_error(io::ErrorKind::InvalidInput.into()))?;
        match pread(file, rest, at) {
            Ok(0) => return Err(io_error(io::ErrorKind::UnexpectedEof.into())),
            // A host claiming more than it was asked for is treated as the end.
            Ok(n) => done = done.checked_add(n).filter(|&d| d <= len).unwrap_or(len),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io_error(e)),
        }
    }
    Ok(())
}

/// One positional read, without moving a file cursor (so readers sharing the
/// file never race on a seek). std has no stable positional read on WASI
/// (`std::os::wasi::fs::FileExt` is unstable), so there it is WASI's own
/// `fd_pread`.
fn pread(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    #[cfg(unix)]
    {
        std::os::unix::fs::FileExt::read_at(file, buf, offset)
    }
    #[cfg(target_os = "wasi")]
    {
        use std::os::fd::AsRawFd;
        let fd = u32::try_from(file.as_raw_fd()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        let iov = wasi::Iovec { buf: buf.as_mut_ptr(), buf_len: buf.len() };
        // SAFETY: `iov` describes `buf`, which is valid for writes of
        // `buf.len()` bytes and exclusively borrowed for the whole call; `fd`
        // is the open descriptor owned by `file`, which outlives the call.
        unsafe { wasi::fd_pread(fd, &[iov], offset) }
            .map_err(|e| io::Error::from_raw_os_error(i32::from(e.raw())))
    }
    #[cfg(windows)]
    {
        std::os::windows::fs::FileExt::seek_read(file, buf, offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slice_reads_are_bounds_checked() {
        struct Case {
            desc: &'static str,
            offset: u64,
            len: usize,
            want: Option<&'static [u8]>,
        }
        let data: &[u8] = b"0123456789";
        let cases = [
            Case { desc: "start", offset: 0, len: 3, want: Some(b"012") },
            Case { desc: "end", offset: 7, len: 3, want: Some(b"789") },
            Case { desc: "empty at end", offset: 10, len: 0, want: Some(b"") },
            Case { desc: "one past end", offset: 8, len: 3, want: None },
            Case { desc: "start past end", offset: 11, len: 0, want: None },
            Case { desc: "overflowing offset", offset: u64::MAX, len: 2, want: None },
        ];
        for c in cases {
            let mut buf = vec![0; c.len];
            let got = data.read_exact_at(c.offset, &mut buf);
            match c.want {
                Some(want) => {
                    assert!(got.is_ok(), "case {}: {got:?}", c.desc);
                    assert_eq!(buf, want, "case {}", c.desc);
                }
                None => {
                    assert!(matches!(got, Err(MmdbError::OutOfBounds { .. })), "case {}: {got:?}", c.desc)
                }
            }
            let vec = data.to_vec();
            assert_eq!(
                vec.read_exact_at(c.offset, &mut buf).is_ok(),
                c.want.is_some(),
                "case {} (vec)",
                c.desc
            );
        }
    }

    /// A file under the crate's `target/tmp`, reachable from both native and
    /// wasm test runs (the WASI runner pre-opens the crate directory).
    fn temp_file(name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let dir = Path::new("target/tmp");
        std::fs::create_dir_all(dir).unwrap();
        // No process id on WASI; the clock keeps concurrent runs apart.
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        let path = dir.join(format!("mmdb-source-{name}-{nanos}.bin"));
        std::fs::write(&path, bytes).unwrap();
        path
    }

    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
    }

    #[test]
    fn file_source_matches_slice_and_stays_bounded() {
        struct Case {
            desc: &'static str,
            cache_bytes: usize,
            max_cached: usize,
        }
        let data = pattern(5 * PAGE_SIZE + 123);
        let path = temp_file("bounded", &data);
        let cases = [
            Case { desc: "no cache", cache_bytes: 100, max_cached: 0 },
            Case { desc: "one page", cache_bytes: PAGE_SIZE, max_cached: PAGE_SIZE },
            Case { desc: "two pages and a bit", cache_bytes: 2 * PAGE_SIZE + 10, max_cached: 2 * PAGE_SIZE },
            Case { desc: "whole file", cache_bytes: 1 << 20, max_cached: 6 * PAGE_SIZE },
        ];
        for c in cases {
            let src = FileSource::open(&path, c.cache_bytes).unwrap();
            assert_eq!(src.len(), data.len() as u64, "case {}", c.desc);
            assert_eq!(src.cached_bytes(), 0, "case {}: pages are allocated lazily", c.desc);
            // Reads past the cache return the same bytes and leave nothing cached.
            let mut once = vec![0; 2 * PAGE_SIZE];
            src.read_once_at(100, &mut once).unwrap();
            assert!(once == data[100..100 + 2 * PAGE_SIZE], "case {}: read once", c.desc);
            let past = src.read_once_at(data.len() as u64 - 5, &mut [0; 6]);
            assert!(matches!(past, Err(MmdbError::OutOfBounds { .. })), "case {}: {past:?}", c.desc);
            assert_eq!(src.cached_bytes(), 0, "case {}: read once, not cached", c.desc);
            // Reads within a page, across page boundaries, the short last page, and repeats.
            let p = PAGE_SIZE;
            let reads =
                [(0, 10), (p - 6, 20), (3 * p - 1, p + 2), (data.len() - 5, 5), (0, 10), (100, 2 * p - 50)];
            for (offset, len) in reads {
                let mut buf = vec![0; len];
                src.read_exact_at(offset as u64, &mut buf).unwrap();
                assert_eq!(buf, data[offset..offset + len], "case {}: read {offset}+{len}", c.desc);
                assert!(src.cached_bytes() <= c.max_cached, "case {}: {} cached", c.desc, src.cached_bytes());
            }
            let mut buf = [0; 6];
            let past = src.read_exact_at(data.len() as u64 - 5, &mut buf);
            assert!(matches!(past, Err(MmdbError::OutOfBounds { .. })), "case {}: {past:?}", c.desc);
            src.clear_cache();
            assert_eq!(src.cached_bytes(), 0, "case {}", c.desc);
        }
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn clock_keeps_hot_page() {
        let data = pattern(8 * PAGE_SIZE);
        let path = temp_file("clock", &data);
        let src = FileSource::open(&path, 3 * PAGE_SIZE).unwrap();
        let mut byte = [0];
        // Page 0 is touched between every miss, so the clock never evicts it.
        for page in 1..8u64 {
            src.read_exact_at(0, &mut byte).unwrap();
            src.read_exact_at(page * PAGE_SIZE as u64, &mut byte).unwrap();
            assert_eq!(byte[0], data[page as usize * PAGE_SIZE]);
        }
        assert!(src.lock().index.contains_key(&0));
        assert_eq!(src.cached_bytes(), 3 * PAGE_SIZE);
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn missing_file_is_open_error() {
        let err = FileSource::open(Path::new("target/tmp/no-such-dir/x.mmdb"), 4096).unwrap_err();
        assert!(
            matches!(&err, MmdbError::Open { path, .. } if path == Path::new("target/tmp/no-such-dir/x.mmdb"))
        );
    }
}
