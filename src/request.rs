//! The pipeline's view of a request and what it asks the host to do.
//!
//! Front-ends (the http-wasm guest, the sidecar, `edgeguard explain`) implement
//! [`RequestView`]; the core never talks to a host directly.

use std::net::IpAddr;

use crate::addr::parse_peer;

/// Read-only access to the request as the host sees it.
pub trait RequestView {
    /// The TCP peer's address, canonical (see [`crate::addr::canonical`]);
    /// `None` when the host reported something that is not one. A host that
    /// reports text parses it once with [`crate::addr::parse_peer`].
    fn peer(&self) -> Option<IpAddr>;
    /// The request method, e.g. `GET`.
    fn method(&self) -> String;
    /// The request target (path and query) as received.
    fn uri(&self) -> String;
    /// Every value of the header `name` (ASCII case-insensitive), one entry per
    /// header line, in arrival order. Non-UTF-8 bytes are kept as received.
    fn header_values(&self, name: &str) -> Vec<Vec<u8>>;

    /// Calls `f` with the name of every header on the request, as the host
    /// spells it (a name may come once per line or once in all).
    fn visit_header_names(&self, f: &mut dyn FnMut(&str));

    /// Like [`RequestView::header_values`], but refuses when the lines of
    /// `name` add up to more than `limit` bytes. Hosts whose memory a value
    /// would grow (the wasm guest, whose linear memory never shrinks)
    /// override it to learn the size without copying the value.
    fn header_values_within(&self, name: &str, limit: usize) -> Result<Vec<Vec<u8>>, TooLarge> {
        let values = self.header_values(name);
        let len: usize = values.iter().map(Vec::len).sum();
        if len > limit { Err(TooLarge { len }) } else { Ok(values) }
    }

    /// Whether the header `name` is present. Hosts that can answer without
    /// fetching values (the http-wasm adapter lists names once) override it.
    fn has_header(&self, name: &str) -> bool {
        !self.header_values(name).is_empty()
    }
}

/// A header whose value is over a configured bound; it was not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooLarge {
    /// Its size as the host reported it (bytes, lines summed).
    pub len: usize,
}

/// A header name in an edit. Stages hold the names they set, prepared once
/// when the pipeline is built, and an edit shares one instead of copying it:
/// in Traefik every request runs in a wasm instance where an allocation and
/// its free cost hundreds of instructions.
pub type EditName = std::sync::Arc<str>;

/// One header change. Request edits shape what goes upstream; response
/// edits are set on the response the client will get. Edits apply in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderEdit {
    /// Remove every line of this request header.
    Remove(EditName),
    /// Replace every line of this request header with one value.
    Set(EditName, String),
    /// Set this header on the response (e.g. a debug header on a forwarded request).
    SetResponse(EditName, String),
}

/// A response the middleware answers with instead of forwarding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// HTTP status code.
    pub status: u16,
    /// Response headers, in order.
    pub headers: Vec<(String, String)>,
    /// Response body.
    pub body: Vec<u8>,
}

/// Why the middleware answers instead of forwarding. Front-ends send
/// [`Refusal::into_response`] and count by the variant: the status for each
/// reason is chosen here only (pingora's `ErrorType` and `fail_to_proxy`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Maintenance is on: the page its stage built (configured status, `Retry-After`).
    Maintenance(Response),
    /// A required dependency (a geo database with `onError: fail`) is unavailable: 503.
    Unavailable,
    /// A forwarding header over `clientIp.maxHeaderBytes`, or a header read
    /// over what the guest copies: 431, as nginx refuses an overlong header
    /// line (RFC 6585 §5).
    HeaderTooLarge,
    /// A URI over what the guest reads: 414 (RFC 9110 §15.5.15).
    UriTooLong,
    /// The config was rejected at init: 500, fail closed. The body is
    /// deliberately generic: the reason goes to the proxy log, not to clients.
    Misconfigured,
}

impl Refusal {
    /// The status the client gets.
    pub const fn status(&self) -> u16 {
        match self {
            Self::Maintenance(page) => page.status,
            Self::Unavailable => 503,
            Self::HeaderTooLarge => 431,
            Self::UriTooLong => 414,
            Self::Misconfigured => 500,
        }
    }

    /// The response the client gets.
    pub fn into_response(self) -> Response {
        let status = self.status();
        let body: &[u8] = match self {
            Self::Maintenance(page) => return page,
            Self::Unavailable => b"Service Unavailable\n",
            Self::HeaderTooLarge => b"Request Header Fields Too Large\n",
            Self::UriTooLong => b"URI Too Long\n",
            Self::Misconfigured => b"Internal Server Error: edge middleware misconfigured\n",
        };
        Response {
            status,
            headers: vec![
                ("Content-Type".into(), "text/plain; charset=utf-8".into()),
                ("Cache-Control".into(), "no-store".into()),
            ],
            body: body.to_vec(),
        }
    }
}

/// What the pipeline decided for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Forward upstream after applying these header edits.
    Forward(Vec<HeaderEdit>),
    /// Answer the client directly; nothing is forwarded.
    Respond(Refusal),
}

/// An owned request, for tests, the CLI and the sidecar.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OwnedRequest {
    /// See [`RequestView::peer`].
    pub peer: Option<IpAddr>,
    /// See [`RequestView::method`].
    pub method: String,
    /// See [`RequestView::uri`].
    pub uri: String,
    /// Header lines in arrival order.
    pub headers: Vec<(String, Vec<u8>)>,
}

impl OwnedRequest {
    /// A `GET /` with no headers from `peer` as a host reports it ([`parse_peer`]).
    pub fn new(peer: &str) -> Self {
        Self { peer: parse_peer(peer).ok(), method: "GET".into(), uri: "/".into(), headers: Vec::new() }
    }

    /// Adds one header line (builder style).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.as_bytes().to_vec()));
        self
    }

    /// Applies edits as a host would, so tests can assert on the upstream request.
    pub fn apply(&mut self, edits: &[HeaderEdit]) {
        for edit in edits {
            match edit {
                HeaderEdit::Remove(name) => self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name)),
                HeaderEdit::Set(name, value) => {
                    self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
                    self.headers.push((name.to_string(), value.as_bytes().to_vec()));
                }
                HeaderEdit::SetResponse(..) => {}
            }
        }
    }

    /// The first value of `name` as text, if present.
    pub fn get(&self, name: &str) -> Option<String> {
        self.header_values(name).first().map(|v| String::from_utf8_lossy(v).into_owned())
    }
}

impl RequestView for OwnedRequest {
    fn peer(&self) -> Option<IpAddr> {
        self.peer
    }
    fn method(&self) -> String {
        self.method.clone()
    }
    fn uri(&self) -> String {
        self.uri.clone()
    }
    fn header_values(&self, name: &str) -> Vec<Vec<u8>> {
        self.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone()).collect()
    }
    fn visit_header_names(&self, f: &mut dyn FnMut(&str)) {
        self.headers.iter().for_each(|(n, _)| f(n));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apply_removes_all_lines_then_sets_one() {
        let mut req = OwnedRequest::new("192.0.2.1:1").header("x-a", "1").header("X-A", "2").header("b", "3");
        req.apply(&[HeaderEdit::Set("X-A".into(), "9".into()), HeaderEdit::Remove("B".into())]);
        assert_eq!(req.header_values("x-a"), vec![b"9".to_vec()]);
        assert_eq!(req.get("b"), None);
    }
}
