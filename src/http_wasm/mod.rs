//! The http-wasm front-end (Traefik plugin).
//!
//! Every guest instance runs init once: read the config, validate it, keep an
//! immutable [`Plugin`]. Per request it builds a [`RequestView`] over host
//! calls, runs the core pipeline and applies the decision. All host calls go
//! through the small [`Host`] trait so this adapter is tested natively with a
//! mock; the only code touching the real ABI is `guest.rs` (wasm32 only).

use std::cell::{OnceCell, RefCell};
use std::sync::Arc;

use crate::config::Config;
use crate::log::{Level, Log};
use crate::pipeline::Pipeline;
use crate::request::{Decision, HeaderEdit, RequestView, Response};

#[cfg(target_arch = "wasm32")]
mod guest;
#[cfg(target_arch = "wasm32")]
pub use guest::start;

/// The host calls the adapter needs.
pub trait Host {
    /// The TCP peer (`ip:port`).
    fn source_addr(&self) -> Vec<u8>;
    /// The request method.
    fn method(&self) -> Vec<u8>;
    /// The request URI (path and query).
    fn uri(&self) -> Vec<u8>;
    /// The names of the request headers present (one host call).
    fn header_names(&self) -> Vec<Vec<u8>>;
    /// All values of a request header.
    fn header_values(&self, name: &str) -> Vec<Vec<u8>>;
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
            Self::Misconfigured => Decision::Respond(Response::misconfigured()),
        };
        match decision {
            Decision::Forward(edits) => {
                apply(&request, &edits);
                true
            }
            Decision::Respond(resp) => {
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
    // Headers set by an earlier edit: a later removal must reach them.
    let mut set: Vec<&str> = Vec::new();
    for edit in edits {
        match edit {
            HeaderEdit::Remove(name)
                if request.has(name) || set.iter().any(|s| s.eq_ignore_ascii_case(name)) =>
            {
                host.remove_header(name);
                request.forget(name);
                set.retain(|s| !s.eq_ignore_ascii_case(name));
            }
            HeaderEdit::Remove(_) => {}
            HeaderEdit::Set(name, value) => {
                host.set_header(name, value);
                set.push(name);
            }
            HeaderEdit::SetResponse(name, value) => host.set_response_header(name, value),
        }
    }
}

/// A lazy [`RequestView`] over host calls: the header names are fetched once
/// (one call), and values only for headers that are present.
struct HostRequest<'h, H> {
    host: &'h H,
    peer: OnceCell<String>,
    /// Names of the headers currently on the request.
    names: RefCell<Option<HeaderNames>>,
    /// Values already fetched (stages may read a header twice).
    values: RefCell<Vec<(String, Vec<Vec<u8>>)>>,
}

impl<'h, H: Host> HostRequest<'h, H> {
    fn new(host: &'h H) -> Self {
        Self { host, peer: OnceCell::new(), names: RefCell::new(None), values: RefCell::new(Vec::new()) }
    }

    fn with_names<R>(&self, f: impl FnOnce(&mut HeaderNames) -> R) -> R {
        let mut names = self.names.borrow_mut();
        f(names.get_or_insert_with(|| HeaderNames::new(self.host.header_names())))
    }

    fn has(&self, name: &str) -> bool {
        self.with_names(|names| names.contains(name))
    }

    fn forget(&self, name: &str) {
        self.with_names(|names| names.remove(name));
    }
}

/// Header names with a cheap case-insensitive fingerprint each. Strip lists
/// ask "is this header here?" a few dozen times per request, nearly always
/// for absent names; the fingerprint rejects those without comparing bytes.
struct HeaderNames(Vec<(u64, Vec<u8>)>);

impl HeaderNames {
    fn new(names: Vec<Vec<u8>>) -> Self {
        Self(names.into_iter().map(|n| (fingerprint(&n), n)).collect())
    }

    fn contains(&self, name: &str) -> bool {
        let key = fingerprint(name.as_bytes());
        self.0.iter().any(|(k, n)| *k == key && n.eq_ignore_ascii_case(name.as_bytes()))
    }

    fn remove(&mut self, name: &str) {
        self.0.retain(|(_, n)| !n.eq_ignore_ascii_case(name.as_bytes()));
    }
}

/// Length and three case-folded bytes: equal for names equal ignoring ASCII
/// case, and different for most names that are not.
fn fingerprint(name: &[u8]) -> u64 {
    let at = |i: usize| u64::from(name.get(i).map_or(0, u8::to_ascii_lowercase));
    let len = name.len();
    (len as u64) | at(0) << 32 | at(len / 2) << 40 | at(len.wrapping_sub(1)) << 48
}

impl<H: Host> RequestView for HostRequest<'_, H> {
    fn peer(&self) -> String {
        self.peer.get_or_init(|| String::from_utf8_lossy(&self.host.source_addr()).into_owned()).clone()
    }
    fn method(&self) -> String {
        String::from_utf8_lossy(&self.host.method()).into_owned()
    }
    fn uri(&self) -> String {
        String::from_utf8_lossy(&self.host.uri()).into_owned()
    }
    fn has_header(&self, name: &str) -> bool {
        self.has(name)
    }
    fn header_values(&self, name: &str) -> Vec<Vec<u8>> {
        if !self.has(name) {
            return Vec::new();
        }
        if let Some((_, v)) = self.values.borrow().iter().find(|(n, _)| n.eq_ignore_ascii_case(name)) {
            return v.clone();
        }
        let v = self.host.header_values(name);
        self.values.borrow_mut().push((name.to_string(), v.clone()));
        v
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;
    use crate::log::MemoryLog;
    use crate::request::OwnedRequest;

    /// A host that serves an [`OwnedRequest`] and records what the guest did.
    struct MockHost {
        /// Header host calls made (names, values, removals).
        calls: std::cell::Cell<usize>,
        req: RefCell<OwnedRequest>,
        status: RefCell<Option<u16>>,
        resp_headers: RefCell<Vec<(String, String)>>,
        body: RefCell<Vec<u8>>,
    }

    impl MockHost {
        fn new(req: OwnedRequest) -> Self {
            Self {
                calls: std::cell::Cell::new(0),
                req: RefCell::new(req),
                status: RefCell::default(),
                resp_headers: RefCell::default(),
                body: RefCell::default(),
            }
        }
    }

    impl Host for MockHost {
        fn source_addr(&self) -> Vec<u8> {
            self.req.borrow().peer.clone().into_bytes()
        }
        fn method(&self) -> Vec<u8> {
            self.req.borrow().method.clone().into_bytes()
        }
        fn uri(&self) -> Vec<u8> {
            self.req.borrow().uri.clone().into_bytes()
        }
        fn header_names(&self) -> Vec<Vec<u8>> {
            self.calls.set(self.calls.get() + 1);
            self.req.borrow().headers.iter().map(|(n, _)| n.as_bytes().to_vec()).collect()
        }
        fn header_values(&self, name: &str) -> Vec<Vec<u8>> {
            self.calls.set(self.calls.get() + 1);
            self.req.borrow().header_values(name)
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
            HeaderEdit::Remove("X-Present".into()),
            HeaderEdit::Remove("X-Present".into()),
            HeaderEdit::Set("X-Kept".into(), "3".into()),
        ];
        apply(&HostRequest::new(&host), &edits);
        let upstream = host.req.borrow();
        assert_eq!(upstream.headers, vec![("X-Kept".to_string(), b"3".to_vec())]);
        assert_eq!(host.calls.get(), 3, "one names call and two removals, none for absent names");
    }

    #[test]
    fn fingerprints_match_ignoring_case_only() {
        let names = HeaderNames::new(vec![b"X-Geo-City".to_vec(), b"x-real-ip".to_vec()]);
        assert!(names.contains("x-geo-city") && names.contains("X-Real-IP"));
        for absent in ["X-Geo-Cityy", "X-Geo-Cit", "X-Geo-Country", "", "X_Real_IP"] {
            assert!(!names.contains(absent), "{absent}");
        }
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
    fn garbage_config_fails_closed() {
        let log = Arc::new(MemoryLog::default());
        assert!(matches!(Plugin::init(b"{not json", log.clone()), Plugin::Misconfigured));
        assert_eq!(log.lines().len(), 1);
    }
}
