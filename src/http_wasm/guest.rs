//! The real http-wasm ABI, via the `http-wasm-guest` crate. Nothing else in
//! EdgeGuard touches host imports.

use http_wasm_guest::host::{Request, Response, admin, log};
use http_wasm_guest::{Guest, register};

use std::sync::Arc;

use super::{Host, Plugin};
use crate::log::{Level, Log};

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
    fn uri(&self) -> Vec<u8> {
        Vec::from(self.request.uri())
    }
    fn header_names(&self) -> Vec<Vec<u8>> {
        self.request.header.names_iter().map(Vec::from).collect()
    }
    fn header_values(&self, name: &str) -> Vec<Vec<u8>> {
        self.request.header.values_iter(name.as_bytes()).map(Vec::from).collect()
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
