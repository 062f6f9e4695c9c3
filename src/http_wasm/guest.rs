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

use http_wasm_guest::host::{Request, Response, admin, log};
use http_wasm_guest::{Guest, register};

use std::sync::Arc;

use super::{Host, Plugin};
use crate::log::{Level, Log};
use crate::request::TooLarge;

/// `header_kind` of the request headers (http-wasm ABI).
const REQUEST_HEADERS: i32 = 0;

#[link(wasm_import_module = "http_handler")]
unsafe extern "C" {
    fn get_uri(buf: *mut u8, buf_limit: i32) -> i32;
    fn get_header_names(kind: i32, buf: *mut u8, buf_limit: i32) -> i64;
    fn get_header_values(kind: i32, name: *const u8, name_len: i32, buf: *mut u8, buf_limit: i32) -> i64;
}

thread_local! {
    /// One scratch buffer for every bounded read; it grows to the largest
    /// value accepted (at most `MAX_HOST_READ`), never beyond.
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Calls `read(buf, buf_limit)`, which returns the value's full length and
/// writes it only if it fits. Over `limit`: `TooLarge`, nothing copied.
/// Within `limit` but over the scratch buffer: the buffer grows and the host
/// is asked once more (it only copied nothing the first time).
fn bounded(
    limit: usize,
    read: impl Fn(*mut u8, i32) -> usize,
    then: impl FnOnce(&[u8], usize),
) -> Result<(), TooLarge> {
    SCRATCH.with_borrow_mut(|buf| {
        let len = read(buf.as_mut_ptr(), i32::try_from(buf.capacity()).unwrap_or(i32::MAX));
        if len > limit {
            return Err(TooLarge { len });
        }
        if len > buf.capacity() {
            buf.reserve_exact(len);
            let again = read(buf.as_mut_ptr(), i32::try_from(buf.capacity()).unwrap_or(i32::MAX));
            if again > buf.capacity() {
                // The value changed between the calls; refuse rather than loop.
                return Err(TooLarge { len: again });
            }
        }
        // SAFETY: the host wrote `len` bytes (≤ capacity) at the buffer's start.
        let bytes = unsafe { std::slice::from_raw_parts(buf.as_ptr(), len) };
        then(bytes, len);
        Ok(())
    })
}

/// Splits the ABI's NUL-terminated list.
fn nul_list(bytes: &[u8]) -> Vec<Vec<u8>> {
    bytes.split(|&b| b == 0).take(bytes.iter().filter(|&&b| b == 0).count()).map(<[u8]>::to_vec).collect()
}

/// The low 32 bits of a `count << 32 | len` result: the byte length.
fn list_len(packed: i64) -> usize {
    usize::try_from(packed as u32).unwrap_or(usize::MAX)
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
    fn source_addr(&self) -> Vec<u8> {
        Vec::from(self.request.source_addr())
    }
    fn method(&self) -> Vec<u8> {
        Vec::from(self.request.method())
    }
    fn uri(&self, limit: usize) -> Result<Vec<u8>, TooLarge> {
        let mut out = Vec::new();
        // SAFETY: the host writes at most `buf_limit` bytes at `buf`.
        let read = |buf, cap| usize::try_from(unsafe { get_uri(buf, cap) }).unwrap_or(0);
        bounded(limit, read, |bytes, _| out = bytes.to_vec())?;
        Ok(out)
    }
    fn header_names(&self, limit: usize) -> Result<Vec<Vec<u8>>, TooLarge> {
        let mut out = Vec::new();
        // SAFETY: as above.
        let read = |buf, cap| list_len(unsafe { get_header_names(REQUEST_HEADERS, buf, cap) });
        bounded(limit, read, |bytes, _| out = nul_list(bytes))?;
        Ok(out)
    }
    fn header_values(&self, name: &str, limit: usize) -> Result<Vec<Vec<u8>>, TooLarge> {
        let mut out = Vec::new();
        let name_len = i32::try_from(name.len()).unwrap_or(i32::MAX);
        // SAFETY: `name` is valid for `name_len` bytes; the host writes at most `buf_limit` at `buf`.
        let read = |buf, cap| {
            list_len(unsafe { get_header_values(REQUEST_HEADERS, name.as_ptr(), name_len, buf, cap) })
        };
        // The ABI counts one NUL per line; `limit` is about the value bytes.
        let lines_slack = 64;
        bounded(limit.saturating_add(lines_slack), read, |bytes, _| out = nul_list(bytes))?;
        let len: usize = out.iter().map(Vec::len).sum();
        if len > limit { Err(TooLarge { len }) } else { Ok(out) }
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
