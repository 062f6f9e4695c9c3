//! The http-wasm front-end (Traefik plugin).
//!
//! Every guest instance runs init once: read the config, validate it, keep an
//! immutable [`Plugin`]. Per request it builds a [`RequestView`] over host
//! calls, runs the core pipeline and applies the decision. All host calls go
//! through the small [`Host`] trait so this adapter is tested natively with a
//! mock; the only code touching the real ABI is `guest.rs` (wasm32 only).

use std::cell::{Cell, OnceCell, RefCell};
use std::net::IpAddr;
use std::sync::Arc;

use crate::config::Config;
use crate::log::{Level, Log};
use crate::pipeline::Pipeline;
use crate::request::{Decision, HeaderEdit, Refusal, RequestView, TooLarge};

#[cfg(target_arch = "wasm32")]
mod guest;
#[cfg(target_arch = "wasm32")]
pub use guest::start;

/// Most bytes any one host read may copy into guest memory: the header
/// names, the URI, or the lines of one header. Linear memory never shrinks,
/// so whatever one request makes an instance hold, it holds for good; a
/// request over this answers 431 (414 for the URI) without the value being
/// copied. Forwarding headers have the tighter `clientIp.maxHeaderBytes`.
/// nginx refuses header lines over 8 KiB by default; this leaves room for
/// large cookies and long query strings.
pub const MAX_HOST_READ: usize = 64 * 1024;

/// The host calls the adapter needs. Reads take a limit: a value over it is
/// reported by size (`TooLarge`) and never copied.
pub trait Host {
    /// The TCP peer, parsed from the host's `ip:port` with
    /// [`crate::addr::parse_peer`]; `None` when it is not an address.
    fn source_addr(&self) -> Option<IpAddr>;
    /// The request method.
    fn method(&self) -> Vec<u8>;
    /// The request URI (path and query).
    fn uri(&self, limit: usize) -> Result<Vec<u8>, TooLarge>;
    /// The names of the request headers present (one host call), each
    /// followed by a NUL, as the http-wasm ABI lists them.
    fn header_names(&self, limit: usize) -> Result<Vec<u8>, TooLarge>;
    /// All values of a request header.
    fn header_values(&self, name: &str, limit: usize) -> Result<Vec<Vec<u8>>, TooLarge>;
    /// Replaces a request header.
    fn set_header(&self, name: &str, value: &str);
    /// Removes a request header.
    fn remove_header(&self, name: &str);
    /// Sets a response header (when answering directly).
    fn set_response_header(&self, name: &str, value: &str);
    /// Sets the response status.
    fn set_status(&self, status: u16);
    /// Writes the response body.
    fn write_body(&self, body: &[u8]);
}

/// The guest's state after init.
#[derive(Debug)]
pub enum Plugin {
    /// Config accepted; requests run through the pipeline.
    Ready(Box<Pipeline>),
    /// Config refused; every request gets a generic 500 (fail closed).
    Misconfigured,
}

impl Plugin {
    /// Validates the config the host handed over. A refusal is logged once
    /// per instance with the field path and reason, and the plugin fails closed.
    pub fn init(config: &[u8], log: Arc<dyn Log>) -> Self {
        match Config::from_json(config).and_then(|c| Pipeline::with_log(&c, log.clone())) {
            Ok(pipeline) => Self::Ready(Box::new(pipeline)),
            Err(e) => {
                log.log(Level::Error, &format!("edgeguard: {e}; every request will get a 500"));
                Self::Misconfigured
            }
        }
    }

    /// Handles one request; returns whether the host should call the next handler.
    pub fn handle_request(&self, host: &impl Host) -> bool {
        let request = HostRequest::new(host);
        let decision = match self {
            Self::Ready(pipeline) => pipeline.handle(&request),
            Self::Misconfigured => Decision::Respond(Refusal::Misconfigured),
        };
        // A read the pipeline asked for was over `MAX_HOST_READ`: what it
        // decided without that value does not stand.
        let decision = match request.overflow.get() {
            Some(Overflow::Uri) => Decision::Respond(Refusal::UriTooLong),
            Some(Overflow::Headers) => Decision::Respond(Refusal::HeaderTooLarge),
            None => decision,
        };
        match decision {
            Decision::Forward(edits) => {
                apply(&request, &edits);
                true
            }
            Decision::Respond(refusal) => {
                let resp = refusal.into_response();
                for (name, value) in &resp.headers {
                    host.set_response_header(name, value);
                }
                host.set_status(resp.status);
                if !resp.body.is_empty() {
                    host.write_body(&resp.body);
                }
                false
            }
        }
    }
}

/// Applies request edits through host calls. Most removals target headers
/// that are absent and each host call costs, so only what is there is removed.
fn apply<H: Host>(request: &HostRequest<'_, H>, edits: &[HeaderEdit]) {
    let host = request.host;
    for (i, edit) in edits.iter().enumerate() {
        match edit {
            HeaderEdit::Remove(name) if present(request, &edits[..i], name) => host.remove_header(name),
            HeaderEdit::Remove(_) => {}
            HeaderEdit::Set(name, value) => host.set_header(name, value),
            HeaderEdit::SetResponse(name, value) => host.set_response_header(name, value),
        }
    }
}

/// Whether `name` is on the request once the `earlier` edits are applied:
/// the last of them to set or remove it decides, else the host's list.
fn present<H: Host>(request: &HostRequest<'_, H>, earlier: &[HeaderEdit], name: &str) -> bool {
    let last = earlier.iter().rev().find_map(|edit| match edit {
        HeaderEdit::Set(n, _) if n.eq_ignore_ascii_case(name) => Some(true),
        HeaderEdit::Remove(n) if n.eq_ignore_ascii_case(name) => Some(false),
        _ => None,
    });
    last.unwrap_or_else(|| request.has(name))
}

/// Which bounded read was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Overflow {
    Uri,
    Headers,
}

/// A lazy [`RequestView`] over host calls: the header names are fetched once
/// (one call), and values only for headers that are present.
struct HostRequest<'h, H> {
    host: &'h H,
    /// Names of the headers on the request as it arrived, as the host spells them.
    names: OnceCell<Names>,
    /// Values already fetched (stages may read a header twice).
    values: RefCell<Vec<(String, Vec<Vec<u8>>)>>,
    /// Set when a read was over its bound (the request is then refused).
    overflow: Cell<Option<Overflow>>,
}

impl<'h, H: Host> HostRequest<'h, H> {
    fn new(host: &'h H) -> Self {
        Self { host, names: OnceCell::new(), values: RefCell::new(Vec::new()), overflow: Cell::new(None) }
    }

    fn names(&self) -> &Names {
        self.names.get_or_init(|| {
            Names::new(self.host.header_names(MAX_HOST_READ).unwrap_or_else(|_| {
                self.overflow.set(Some(Overflow::Headers));
                Vec::new()
            }))
        })
    }

    fn has(&self, name: &str) -> bool {
        let Names { text, spans } = self.names();
        spans.iter().any(|&(start, end)| text.as_bytes()[start..end].eq_ignore_ascii_case(name.as_bytes()))
    }

    /// The values of `name`, or its size when over `limit`; kept for a
    /// second read when `keep`.
    fn values(&self, name: &str, limit: usize, keep: bool) -> Result<Vec<Vec<u8>>, TooLarge> {
        if !self.has(name) {
            return Ok(Vec::new());
        }
        if let Some((_, v)) = self.values.borrow().iter().find(|(n, _)| n.eq_ignore_ascii_case(name)) {
            let len = v.iter().map(Vec::len).sum();
            return if len > limit { Err(TooLarge { len }) } else { Ok(v.clone()) };
        }
        let v = self.host.header_values(name, limit.min(MAX_HOST_READ))?;
        if keep {
            self.values.borrow_mut().push((name.to_string(), v.clone()));
        }
        Ok(v)
    }
}

/// The request's header names: the host's NUL-terminated list, kept as
/// one string, and where each name is in it.
struct Names {
    text: String,
    spans: Vec<(usize, usize)>,
}

impl Names {
    fn new(list: Vec<u8>) -> Self {
        // Header names are tokens (ASCII); the host never hands out others. One
        // that is not UTF-8 is left out, as the strip always skipped it.
        let text = String::from_utf8(list).unwrap_or_else(|e| {
            let list = e.into_bytes();
            let named = list.split(|&b| b == 0).take(list.iter().filter(|&&b| b == 0).count());
            named.filter_map(|n| std::str::from_utf8(n).ok()).flat_map(|n| [n, "\0"]).collect()
        });
        // Only NUL-terminated items are names; empty ones are none.
        let mut spans = Vec::with_capacity(16);
        let mut start = 0;
        for (i, b) in text.bytes().enumerate() {
            if b == 0 {
                if i > start {
                    spans.push((start, i));
                }
                start = i + 1;
            }
        }
        Self { text, spans }
    }

    fn iter(&self) -> impl Iterator<Item = &str> {
        self.spans.iter().map(|&(start, end)| &self.text[start..end])
    }
}

impl<H: Host> RequestView for HostRequest<'_, H> {
    fn peer(&self) -> Option<IpAddr> {
        self.host.source_addr()
    }
    fn method(&self) -> String {
        text(self.host.method())
    }
    fn uri(&self) -> String {
        match self.host.uri(MAX_HOST_READ) {
            Ok(uri) => text(uri),
            Err(_) => {
                self.overflow.set(Some(Overflow::Uri));
                String::new()
            }
        }
    }
    fn has_header(&self, name: &str) -> bool {
        self.has(name)
    }
    fn visit_header_names(&self, f: &mut dyn FnMut(&str)) {
        self.names().iter().for_each(f);
    }
    fn header_values(&self, name: &str) -> Vec<Vec<u8>> {
        // Stages read `Cookie` and `Host` more than once.
        self.values(name, MAX_HOST_READ, true).unwrap_or_else(|_| {
            self.overflow.set(Some(Overflow::Headers));
            Vec::new()
        })
    }
    fn header_values_within(&self, name: &str, limit: usize) -> Result<Vec<Vec<u8>>, TooLarge> {
        // Only the chain source is read so, once, by the first stage: not kept.
        self.values(name, limit, false)
    }
}

/// A host value as text, copied only when not UTF-8 (invalid bytes replaced).
fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;
    use crate::log::MemoryLog;
    use crate::request::OwnedRequest;

    /// A host that serves an [`OwnedRequest`] and records what the guest did.
    #[derive(Default)]
    struct MockHost {
        /// Header host calls made (names, values, removals).
        calls: std::cell::Cell<usize>,
        /// Value reads refused for size, and the largest value copied.
        oversized: std::cell::Cell<usize>,
        copied: std::cell::Cell<usize>,
        req: RefCell<OwnedRequest>,
        status: RefCell<Option<u16>>,
        resp_headers: RefCell<Vec<(String, String)>>,
        body: RefCell<Vec<u8>>,
    }

    impl MockHost {
        fn new(req: OwnedRequest) -> Self {
            Self { req: RefCell::new(req), ..Self::default() }
        }
    }

    impl Host for MockHost {
        fn source_addr(&self) -> Option<IpAddr> {
            self.req.borrow().peer
        }
        fn method(&self) -> Vec<u8> {
            self.req.borrow().method.clone().into_bytes()
        }
        fn uri(&self, limit: usize) -> Result<Vec<u8>, TooLarge> {
            let uri = self.req.borrow().uri.clone().into_bytes();
            if uri.len() > limit { Err(TooLarge { len: uri.len() }) } else { Ok(uri) }
        }
        fn header_names(&self, limit: usize) -> Result<Vec<u8>, TooLarge> {
            self.calls.set(self.calls.get() + 1);
            let req = self.req.borrow();
            let list: Vec<u8> = req.headers.iter().flat_map(|(n, _)| n.bytes().chain([0])).collect();
            // Like the guest's bounded read: the names' bytes, NULs not counted.
            let len = list.len() - req.headers.len();
            if len > limit { Err(TooLarge { len }) } else { Ok(list) }
        }
        fn header_values(&self, name: &str, limit: usize) -> Result<Vec<Vec<u8>>, TooLarge> {
            self.calls.set(self.calls.get() + 1);
            let values = self.req.borrow().header_values(name);
            let len = values.iter().map(Vec::len).sum();
            if len > limit {
                self.oversized.set(self.oversized.get() + 1);
                Err(TooLarge { len })
            } else {
                self.copied.set(self.copied.get().max(len));
                Ok(values)
            }
        }
        fn set_header(&self, name: &str, value: &str) {
            self.req.borrow_mut().apply(&[HeaderEdit::Set(name.into(), value.into())]);
        }
        fn remove_header(&self, name: &str) {
            self.calls.set(self.calls.get() + 1);
            self.req.borrow_mut().apply(&[HeaderEdit::Remove(name.into())]);
        }
        fn set_response_header(&self, name: &str, value: &str) {
            self.resp_headers.borrow_mut().push((name.into(), value.into()));
        }
        fn set_status(&self, status: u16) {
            *self.status.borrow_mut() = Some(status);
        }
        fn write_body(&self, body: &[u8]) {
            self.body.borrow_mut().extend_from_slice(body);
        }
    }

    #[test]
    fn valid_config_edits_request_and_continues() {
        let req = OwnedRequest::new("192.0.2.10:5555").header("X-Real-IP", "6.6.6.6");
        let host = MockHost::new(req);
        let log = Arc::new(MemoryLog::default());
        let plugin = Plugin::init(br#"{"clientIp": {}}"#, log.clone());
        assert!(matches!(plugin, Plugin::Ready(_)));
        assert!(plugin.handle_request(&host));
        assert_eq!(host.req.borrow().get("x-real-ip").as_deref(), Some("192.0.2.10"));
        assert!(log.lines().is_empty());
        assert_eq!(*host.status.borrow(), None);
    }

    #[test]
    fn absent_headers_cost_no_host_calls() {
        // An untrusted peer triggers a dozen removals; only the one present header is removed.
        let req =
            OwnedRequest::new("192.0.2.10:5555").header("True-Client-IP", "6.6.6.6").header("Accept", "*/*");
        let host = MockHost::new(req);
        let plugin = Plugin::init(br#"{"clientIp": {}}"#, Arc::new(MemoryLog::default()));
        assert!(plugin.handle_request(&host));
        assert_eq!(host.calls.get(), 2, "one names call and one removal");
        let upstream = host.req.borrow();
        assert_eq!(upstream.get("true-client-ip"), None);
        assert_eq!(upstream.get("accept").as_deref(), Some("*/*"));
    }

    #[test]
    fn removals_reach_headers_present_or_set_earlier_only() {
        let req = OwnedRequest::new("192.0.2.10:5555").header("x-present", "1");
        let host = MockHost::new(req);
        let edits = [
            HeaderEdit::Remove("X-Absent".into()),
            HeaderEdit::Set("X-New".into(), "2".into()),
            HeaderEdit::Remove("x-new".into()),
            HeaderEdit::Remove("X-New".into()),
            HeaderEdit::Set("X-New".into(), "4".into()),
            HeaderEdit::Remove("X-NEW".into()),
            HeaderEdit::Remove("X-Present".into()),
            HeaderEdit::Remove("X-Present".into()),
            HeaderEdit::Set("X-Kept".into(), "3".into()),
        ];
        apply(&HostRequest::new(&host), &edits);
        let upstream = host.req.borrow();
        assert_eq!(upstream.headers, vec![("X-Kept".to_string(), b"3".to_vec())]);
        assert_eq!(host.calls.get(), 4, "one names call and three removals, none for absent names");
    }

    /// Issue #13: an overlong forwarding header from a trusted proxy is
    /// refused with 431 by size alone; its value never enters guest memory.
    #[test]
    fn overlong_chain_is_refused_without_copying_it() {
        let chain = format!("{}, 203.0.113.9", "198.51.100.1, ".repeat(700));
        let req = OwnedRequest::new("10.0.0.1:5555").header("X-Forwarded-For", &chain);
        let host = MockHost::new(req);
        let plugin = Plugin::init(
            br#"{"clientIp": {"trustedProxies": ["10.0.0.0/8"]}}"#,
            Arc::new(MemoryLog::default()),
        );
        assert!(!plugin.handle_request(&host));
        assert_eq!(*host.status.borrow(), Some(431));
        assert_eq!((host.oversized.get(), host.copied.get()), (1, 0), "read once, by size only");

        // Just under the limit: walked from the right as usual.
        let chain = format!("{}203.0.113.9", "198.51.100.1, ".repeat(500));
        let req = OwnedRequest::new("10.0.0.1:5555").header("X-Forwarded-For", &chain);
        let host = MockHost::new(req);
        assert!(plugin.handle_request(&host));
        assert_eq!(host.req.borrow().get("x-real-ip").as_deref(), Some("203.0.113.9"));
    }

    #[test]
    fn overlong_header_names_or_uri_are_refused() {
        let plugin = Plugin::init(
            br#"{"maintenance": {"allow": {"paths": ["/healthz"]}}}"#,
            Arc::new(MemoryLog::default()),
        );
        let long_name = "X-".to_string() + &"a".repeat(MAX_HOST_READ);
        let host = MockHost::new(OwnedRequest::new("192.0.2.1:1").header(&long_name, "1"));
        assert!(!plugin.handle_request(&host));
        assert_eq!(*host.status.borrow(), Some(431));
        let uri = "/".to_string() + &"a".repeat(MAX_HOST_READ);
        let enabled = Plugin::init(
            br#"{"maintenance": {"enabled": true, "allow": {"paths": ["/healthz"]}}}"#,
            Arc::new(MemoryLog::default()),
        );
        let host = MockHost::new(OwnedRequest { uri, ..OwnedRequest::new("192.0.2.1:1") });
        assert!(!enabled.handle_request(&host));
        assert_eq!(*host.status.borrow(), Some(414));
    }

    #[test]
    fn invalid_config_logs_field_and_fails_closed() {
        let host = MockHost::new(OwnedRequest::new("192.0.2.1:1"));
        let log = Arc::new(MemoryLog::default());
        let plugin = Plugin::init(br#"{"clientIp": {"trustedProxies": ["10.0.0.0/99"]}}"#, log.clone());
        let logs = log.lines();
        assert_eq!(logs.len(), 1, "{logs:?}");
        assert_eq!(logs[0].0, Level::Error);
        assert!(logs[0].1.contains("clientIp.trustedProxies[0]"), "{logs:?}");
        assert!(!plugin.handle_request(&host), "a misconfigured plugin must not pass requests through");
        assert_eq!(*host.status.borrow(), Some(500));
        let body = String::from_utf8(host.body.borrow().clone()).unwrap();
        assert!(!body.contains("trustedProxies"), "config details must not reach clients: {body}");
    }

    #[test]
    fn names_are_the_utf8_nul_terminated_items() {
        let names = Names::new(b"Accept\0\0X-\xffA\0x-real-ip\0tail".to_vec());
        assert_eq!(names.iter().collect::<Vec<_>>(), ["Accept", "x-real-ip"]);
        assert_eq!(Names::new(b"A\0B\0".to_vec()).iter().collect::<Vec<_>>(), ["A", "B"]);
    }

    #[test]
    fn garbage_config_fails_closed() {
        let log = Arc::new(MemoryLog::default());
        assert!(matches!(Plugin::init(b"{not json", log.clone()), Plugin::Misconfigured));
        assert_eq!(log.lines().len(), 1);
    }
}
