//! The real http-wasm ABI, via the `http-wasm-guest` crate. Nothing else in
//! EdgeGuard touches host imports.

use http_wasm_guest::host::{Request, Response, admin, log};
use http_wasm_guest::{Guest, register};

use super::{Host, LogLevel, Plugin};

/// Registers the guest; called from `main`, i.e. once per guest instance.
pub fn start() {
    let plugin = Plugin::init(&InitHost);
    register(Edgeguard(plugin));
}

struct Edgeguard(Plugin);

impl Guest for Edgeguard {
    fn handle_request(&self, request: &Request, response: &Response) -> (bool, i32) {
        (self.0.handle_request(&RequestHost { request, response }), 0)
    }
}

/// During init only the config and the log are available.
struct InitHost;

struct RequestHost<'a> {
    request: &'a Request,
    response: &'a Response,
}

fn write_log(level: LogLevel, message: &str) {
    log::write(level as i32, message.as_bytes());
}

impl Host for InitHost {
    fn config(&self) -> Vec<u8> {
        admin::config().to_vec()
    }
    fn log(&self, level: LogLevel, message: &str) {
        write_log(level, message);
    }
    fn source_addr(&self) -> Vec<u8> {
        Vec::new()
    }
    fn method(&self) -> Vec<u8> {
        Vec::new()
    }
    fn uri(&self) -> Vec<u8> {
        Vec::new()
    }
    fn header_values(&self, _: &str) -> Vec<Vec<u8>> {
        Vec::new()
    }
    fn set_header(&self, _: &str, _: &str) {}
    fn remove_header(&self, _: &str) {}
    fn set_response_header(&self, _: &str, _: &str) {}
    fn set_status(&self, _: u16) {}
    fn write_body(&self, _: &[u8]) {}
}

impl Host for RequestHost<'_> {
    fn config(&self) -> Vec<u8> {
        admin::config().to_vec()
    }
    fn log(&self, level: LogLevel, message: &str) {
        write_log(level, message);
    }
    fn source_addr(&self) -> Vec<u8> {
        self.request.source_addr().to_vec()
    }
    fn method(&self) -> Vec<u8> {
        self.request.method().to_vec()
    }
    fn uri(&self) -> Vec<u8> {
        self.request.uri().to_vec()
    }
    fn header_values(&self, name: &str) -> Vec<Vec<u8>> {
        self.request.header.values_iter(name.as_bytes()).map(|v| v.to_vec()).collect()
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
