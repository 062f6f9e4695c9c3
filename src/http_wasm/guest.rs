//! The real http-wasm ABI, via the `http-wasm-guest` crate. Nothing else in
//! EdgeGuard touches host imports.
//!
//! Written by hand here: bounded reads of header names, header values and
//! the URI. The crate re-reads any value larger than its 2 KiB buffer into a
//! buffer of whatever size the host reports (up to 16 MiB), so one client
//! header would grow this instance's linear memory for good. The ABI
//! (`buf_limit`: "if the actual value is larger than this, nothing is
//! written") lets us learn the size first and refuse without copying.

use std::cell::RefCell;
use std::net::IpAddr;
use std::sync::Arc;

use http_wasm_guest::host::{Request, Response, admin, log};
use http_wasm_guest::{Guest, register};

use super::{Host, Plugin};
use crate::addr::parse_peer;
use crate::log::{Level, Log};
use crate::request::TooLarge;

/// The longest TCP peer address read from the host.
const MAX_PEER_BYTES: usize = 256;

/// `header_kind` of the request headers (http-wasm ABI).
const REQUEST_HEADERS: i32 = 0;

#[link(wasm_import_module = "http_handler")]
unsafe extern "C" {
    fn get_source_addr(buf: *mut u8, buf_limit: i32) -> i32;
    fn get_uri(buf: *mut u8, buf_limit: i32) -> i32;
    fn get_header_names(kind: i32, buf: *mut u8, buf_limit: i32) -> i64;
    fn get_header_values(kind: i32, name: *const u8, name_len: i32, buf: *mut u8, buf_limit: i32) -> i64;
}

thread_local! {
    /// One scratch buffer for every bounded read, always initialised (its
    /// length is its size); it grows to the largest value accepted (at most
    /// `MAX_HOST_READ` plus one NUL per line), never beyond.
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// What one host read reports: how many NUL-terminated items (0 for a plain
/// value) and the total length, NULs included.
#[derive(Clone, Copy)]
struct Sized {
    count: usize,
    len: usize,
}

/// Calls `read(buf, buf_limit)`, which reports the value's full size and
/// writes it only if it fits in `buf_limit`. More than `limit` value bytes
/// (NULs not counted): `TooLarge`, nothing copied. The host is never offered
/// more room than `limit` plus the NULs, so nothing larger than the bound is
/// ever written into guest memory; a value that fits the bound but not the
/// scratch buffer grows it once and is read again.
fn bounded(
    limit: usize,
    read: impl Fn(*mut u8, i32) -> Sized,
    then: impl FnOnce(&[u8]),
) -> Result<(), TooLarge> {
    SCRATCH.with_borrow_mut(|buf| {
        let room = |n: usize| i32::try_from(n).unwrap_or(i32::MAX);
        let first = read(buf.as_mut_ptr(), room(buf.len().min(limit)));
        let value_len = first.len.saturating_sub(first.count);
        if value_len > limit {
            return Err(TooLarge { len: value_len });
        }
        if first.len > buf.len().min(limit) {
            // Fits the bound (NULs aside) but was not written: make room, read again.
            if buf.len() < first.len {
                buf.resize(first.len, 0);
            }
            let again = read(buf.as_mut_ptr(), room(first.len));
            if again.len > first.len {
                // The value grew between the calls; refuse rather than loop.
                return Err(TooLarge { len: again.len.saturating_sub(again.count) });
            }
            then(&buf[..again.len]);
        } else {
            then(&buf[..first.len]);
        }
        Ok(())
    })
}

/// Splits the ABI's NUL-terminated list.
fn nul_list(bytes: &[u8]) -> Vec<Vec<u8>> {
    bytes.split(|&b| b == 0).take(bytes.iter().filter(|&&b| b == 0).count()).map(<[u8]>::to_vec).collect()
}

/// A `count << 32 | len` result.
fn list_size(packed: i64) -> Sized {
    let part = |bits: u32| usize::try_from(bits).unwrap_or(usize::MAX);
    Sized { count: part((packed >> 32) as u32), len: part(packed as u32) }
}

/// Registers the guest; called from `main`, i.e. once per guest instance.
pub fn start() {
    let plugin = Plugin::init(&admin::config(), Arc::new(HostLog));
    register(Edgeguard(plugin));
}

/// Traefik's log, through the http-wasm `log` import.
struct HostLog;

impl Log for HostLog {
    fn log(&self, level: Level, message: &str) {
        // http-wasm levels: -1 debug, 0 info, 1 warn, 2 error.
        let level = match level {
            Level::Debug => -1,
            Level::Info => 0,
            Level::Warn => 1,
            Level::Error => 2,
        };
        log::write(level, message.as_bytes());
    }
}

struct Edgeguard(Plugin);

impl Guest for Edgeguard {
    fn handle_request(&self, request: &Request, response: &Response) -> (bool, i32) {
        (self.0.handle_request(&RequestHost { request, response }), 0)
    }
}

struct RequestHost<'a> {
    request: &'a Request,
    response: &'a Response,
}

impl Host for RequestHost<'_> {
    fn source_addr(&self) -> Option<IpAddr> {
        // Read like the others and parsed in the scratch buffer: the crate's
        // own read copies it twice, and it is read on every request. Real
        // addresses are under 64 bytes (`[v6%zone]:port`); one over
        // MAX_PEER_BYTES or unparsable is an unknown peer: untrusted, client unknown.
        let mut peer = None;
        // SAFETY: the host writes at most `buf_limit` bytes at `buf`.
        let read = |buf, cap| Sized {
            count: 0,
            len: usize::try_from(unsafe { get_source_addr(buf, cap) }).unwrap_or(0),
        };
        let parse = |bytes: &[u8]| peer = std::str::from_utf8(bytes).ok().and_then(|t| parse_peer(t).ok());
        let _ = bounded(MAX_PEER_BYTES, read, parse);
        peer
    }
    fn method(&self) -> Vec<u8> {
        Vec::from(self.request.method())
    }
    fn uri(&self, limit: usize) -> Result<Vec<u8>, TooLarge> {
        let mut out = Vec::new();
        // SAFETY: the host writes at most `buf_limit` bytes at `buf`.
        let read =
            |buf, cap| Sized { count: 0, len: usize::try_from(unsafe { get_uri(buf, cap) }).unwrap_or(0) };
        bounded(limit, read, |bytes| out = bytes.to_vec())?;
        Ok(out)
    }
    fn header_names(&self, limit: usize) -> Result<Vec<u8>, TooLarge> {
        let mut out = Vec::new();
        // SAFETY: as above.
        let read = |buf, cap| list_size(unsafe { get_header_names(REQUEST_HEADERS, buf, cap) });
        bounded(limit, read, |bytes| out = bytes.to_vec())?;
        Ok(out)
    }
    fn header_values(&self, name: &str, limit: usize) -> Result<Vec<Vec<u8>>, TooLarge> {
        let mut out = Vec::new();
        let name_len = i32::try_from(name.len()).unwrap_or(i32::MAX);
        // SAFETY: `name` is valid for `name_len` bytes; the host writes at most `buf_limit` at `buf`.
        let read = |buf, cap| {
            list_size(unsafe { get_header_values(REQUEST_HEADERS, name.as_ptr(), name_len, buf, cap) })
        };
        bounded(limit, read, |bytes| out = nul_list(bytes))?;
        Ok(out)
    }
    fn set_header(&self, name: &str, value: &str) {
        self.request.header.set(name.as_bytes(), value.as_bytes());
    }
    fn remove_header(&self, name: &str) {
        self.request.header.remove(name.as_bytes());
    }
    fn set_response_header(&self, name: &str, value: &str) {
        self.response.header.set(name.as_bytes(), value.as_bytes());
    }
    fn set_status(&self, status: u16) {
        self.response.set_status(i32::from(status));
    }
    fn write_body(&self, body: &[u8]) {
        self.response.body.write(body);
    }
}
