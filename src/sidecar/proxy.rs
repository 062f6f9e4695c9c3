//! One request through the sidecar, in pingora's phases around one
//! [`RequestCtx`]: accept (hop-by-hop headers removed, the peer known) →
//! request filter (the core decides) → upstream request (edits applied,
//! `X-Forwarded-*` set) → send (timeouts) → response filter → logging.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::http::uri::{self, PathAndQuery, Scheme};
use hyper::upgrade::OnUpgrade;
use hyper::{Method, Request, Response, StatusCode, Uri, Version};
use hyper_util::rt::TokioIo;

use super::metrics::RequestEnd;
use super::{Active, Shared};
use crate::addr::canonical;
use crate::headers::{Arrival, ManagedHeaders};
use crate::request::{Decision, HeaderEdit, Refusal, RequestView};

/// Every response body: streamed from the upstream or built here.
pub type Body = BoxBody<Bytes, hyper::Error>;

/// Why a request ends without the upstream's response; [`Ended::respond`]
/// is the one table of answers and how each is counted (pingora's `fail_to_proxy`).
enum Ended {
    /// The pipeline answers itself.
    Refused(Refusal),
    /// The request's path and query make no upstream URI: 400.
    BadTarget,
    /// The upstream could not be reached or failed: 502.
    UpstreamFailed,
    /// No response head within `server.timeouts.upstreamHeader`: 504.
    UpstreamTimeout,
}

impl Ended {
    fn respond(self) -> (RequestEnd, Response<Body>) {
        let (end, status, body) = match self {
            Self::Refused(refusal) => {
                let end = RequestEnd::from(&refusal);
                let r = refusal.into_response();
                let mut resp = Response::new(full(r.body));
                *resp.status_mut() =
                    StatusCode::from_u16(r.status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
                let header = |(n, v): (String, String)| {
                    Some((HeaderName::from_bytes(n.as_bytes()).ok()?, HeaderValue::from_str(&v).ok()?))
                };
                resp.headers_mut().extend(r.headers.into_iter().filter_map(header));
                return (end, resp);
            }
            Self::BadTarget => (RequestEnd::UpstreamError, StatusCode::BAD_REQUEST, "Bad Request\n"),
            Self::UpstreamFailed => (RequestEnd::UpstreamError, StatusCode::BAD_GATEWAY, "Bad Gateway\n"),
            Self::UpstreamTimeout => {
                (RequestEnd::UpstreamTimeout, StatusCode::GATEWAY_TIMEOUT, "Gateway Timeout\n")
            }
        };
        let mut resp = Response::new(full(body));
        *resp.status_mut() = status;
        let headers = resp.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        (end, resp)
    }
}

/// Hop-by-hop headers (RFC 9110 §7.6.1 and the ones Go's reverse proxy drops).
const HOP_BY_HOP: [HeaderName; 9] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

const X_FORWARDED_FOR_NAME: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// The pipeline's view of a hyper request.
struct View<'a> {
    peer: SocketAddr,
    req: &'a Request<Incoming>,
}

impl RequestView for View<'_> {
    fn peer(&self) -> Option<IpAddr> {
        Some(canonical(self.peer.ip()))
    }
    fn method(&self) -> String {
        self.req.method().to_string()
    }
    fn uri(&self) -> String {
        self.req.uri().path_and_query().map_or_else(|| "/".to_string(), |p| p.as_str().to_string())
    }
    fn header_values(&self, name: &str) -> Vec<Vec<u8>> {
        if name.eq_ignore_ascii_case("host") {
            // The request's authority wins over `Host`: HTTP/2 (h2c included)
            // carries it as `:authority` (RFC 9113 §8.3.1) and an absolute-form
            // HTTP/1.1 target overrides `Host` (RFC 9112 §3.2.2), as Go's
            // `r.Host` does for the plugin. Signing and the host bypass read it.
            if let Some(authority) = self.req.uri().authority() {
                return vec![authority.as_str().as_bytes().to_vec()];
            }
        }
        self.req.headers().get_all(name).iter().map(|v| v.as_bytes().to_vec()).collect()
    }
    fn has_header(&self, name: &str) -> bool {
        self.req.headers().contains_key(name)
            || (name.eq_ignore_ascii_case("host") && self.req.uri().authority().is_some())
    }
    fn visit_header_names(&self, f: &mut dyn FnMut(&str)) {
        self.req.headers().keys().for_each(|k| f(k.as_str()));
    }
}

/// One request's state across the phases (pingora's `CTX`), which are its methods.
struct RequestCtx<'a> {
    shared: &'a Shared,
    /// The config the request started with, kept through a reload.
    active: &'a Active,
    started: Instant,
    /// The TCP peer, or the PROXY protocol source.
    peer: SocketAddr,
    method: Method,
    /// The target's path and query, kept only for the access log.
    log_path: Option<PathAndQuery>,
    /// The protocol the client asks to upgrade to, and its side of the upgrade.
    upgrade: Option<(HeaderValue, OnUpgrade)>,
    /// The client, as the request filter resolved it.
    client: Option<IpAddr>,
    peer_trusted: bool,
    /// Headers the pipeline sets on the response.
    response_edits: Vec<(HeaderName, HeaderValue)>,
}

/// Handles one request from `peer` (the TCP peer, or the PROXY protocol source).
pub async fn handle(
    shared: Arc<Shared>,
    peer: SocketAddr,
    mut req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let active = shared.active.load_full();
    let mut ctx = RequestCtx::accept(&shared, &active, peer, &mut req);
    let (end, resp) = match ctx.proxy(req).await {
        Ok(resp) => (RequestEnd::Forwarded, resp),
        Err(ended) => ended.respond(),
    };
    ctx.logging(end, resp.status());
    Ok(resp)
}

impl<'a> RequestCtx<'a> {
    /// Accept: hop-by-hop headers go first, so a client cannot name a header
    /// EdgeGuard sets in `Connection` and have it dropped after the pipeline.
    fn accept(shared: &'a Shared, active: &'a Active, peer: SocketAddr, req: &mut Request<Incoming>) -> Self {
        let started = Instant::now();
        let upgrade = upgrade_protocol(req.headers());
        strip_hop_by_hop(req.headers_mut());
        Self {
            shared,
            active,
            started,
            peer,
            method: req.method().clone(),
            log_path: shared.access_log.then(|| req.uri().path_and_query().cloned()).flatten(),
            upgrade: upgrade.map(|protocol| (protocol, hyper::upgrade::on(req))),
            client: None,
            peer_trusted: false,
            response_edits: Vec::new(),
        }
    }

    /// The phases after accept; `Err` ends the request early with its response.
    async fn proxy(&mut self, req: Request<Incoming>) -> Result<Response<Body>, Ended> {
        let edits = self.request_filter(&req)?;
        let upstream_req = self.upstream_request(req, edits)?;
        let resp = self.send(upstream_req).await?;
        Ok(self.response_filter(resp))
    }

    /// Request filter: the pipeline decides; a refusal ends the request.
    fn request_filter(&mut self, req: &Request<Incoming>) -> Result<Vec<HeaderEdit>, Ended> {
        let outcome = self.active.pipeline.evaluate(&View { peer: self.peer, req });
        self.shared.metrics.pipeline(&outcome);
        self.client = outcome.identity.client;
        self.peer_trusted = outcome.identity.peer_trusted();
        match outcome.decision {
            Decision::Forward(edits) => Ok(edits),
            Decision::Respond(refusal) => Err(Ended::Refused(refusal)),
        }
    }

    /// Upstream request: the edits applied, `X-Forwarded-*` set, the upgrade
    /// asked for again, and the request's path and query (already parsed by
    /// hyper) under the upstream's scheme and authority (parsed once per config).
    fn upstream_request(
        &mut self,
        req: Request<Incoming>,
        edits: Vec<HeaderEdit>,
    ) -> Result<Request<Incoming>, Ended> {
        let (mut parts, body) = req.into_parts();
        apply(&mut parts.headers, edits, &mut self.response_edits);
        forwarded_headers(&mut parts.headers, &parts.uri, self.peer, self.peer_trusted);
        if let Some((protocol, _)) = &self.upgrade {
            parts.headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
            parts.headers.insert(header::UPGRADE, protocol.clone());
        }
        // HTTP/2 carries the host as `:authority` and an absolute-form target
        // overrides `Host`: the upstream gets the host the pipeline judged.
        if let Some(v) = parts.uri.authority().and_then(|a| HeaderValue::from_str(a.as_str()).ok()) {
            parts.headers.insert(header::HOST, v);
        }
        let mut target = uri::Parts::default();
        target.scheme = Some(Scheme::HTTP);
        target.authority = Some(self.active.settings.upstream.authority.clone());
        target.path_and_query =
            Some(parts.uri.path_and_query().cloned().unwrap_or_else(|| PathAndQuery::from_static("/")));
        parts.uri = Uri::from_parts(target).map_err(|_| Ended::BadTarget)?;
        parts.version = Version::HTTP_11;
        parts.extensions = Default::default();
        Ok(Request::from_parts(parts, body))
    }

    /// Send: no response head within `server.timeouts.upstreamHeader` is a
    /// 504, an upstream that cannot be reached or fails a 502.
    async fn send(&self, req: Request<Incoming>) -> Result<Response<Incoming>, Ended> {
        let (sent, settings) = (Instant::now(), &self.active.settings);
        match tokio::time::timeout(settings.upstream_header_timeout, self.active.client().request(req)).await
        {
            Err(_) => {
                tracing::warn!(upstream = %settings.upstream.authority, "no response head within server.timeouts.upstreamHeader");
                Err(Ended::UpstreamTimeout)
            }
            Ok(Err(e)) => {
                let cause = std::error::Error::source(&e).map_or_else(String::new, |s| format!(": {s}"));
                tracing::warn!(upstream = %settings.upstream.authority, "upstream request failed: {e}{cause}");
                Err(Ended::UpstreamFailed)
            }
            Ok(Ok(resp)) => {
                self.shared.metrics.upstream_latency(sent.elapsed());
                Ok(resp)
            }
        }
    }

    /// Response filter: an accepted upgrade is spliced both ways, any other
    /// response loses its hop-by-hop headers; then the pipeline's response edits.
    fn response_filter(&mut self, mut resp: Response<Incoming>) -> Response<Body> {
        if resp.status() == StatusCode::SWITCHING_PROTOCOLS {
            if let Some((_, client_upgrade)) = self.upgrade.take() {
                let upstream_upgrade = hyper::upgrade::on(&mut resp);
                tokio::spawn(async move {
                    match tokio::try_join!(client_upgrade, upstream_upgrade) {
                        Ok((client, upstream)) => {
                            let (mut client, mut upstream) = (TokioIo::new(client), TokioIo::new(upstream));
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                        }
                        Err(e) => tracing::debug!("upgrade failed: {e}"),
                    }
                });
            }
        } else {
            strip_hop_by_hop(resp.headers_mut());
        }
        for (name, value) in self.response_edits.drain(..) {
            resp.headers_mut().insert(name, value);
        }
        resp.map(BodyExt::boxed)
    }

    /// Logging: counts the finished request and writes its access-log line.
    fn logging(&self, end: RequestEnd, status: StatusCode) {
        let status = status.as_u16();
        self.shared.metrics.request(end, status);
        if self.shared.access_log {
            // RFC 3339 in UTC, as Traefik's and most collectors' access logs.
            let time = time::OffsetDateTime::now_utc()
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default();
            let line = serde_json::json!({
                "time": time,
                "method": self.method.as_str(),
                "path": self.log_path.as_ref().map_or("/", PathAndQuery::as_str),
                "status": status,
                "client": self.client.map(|c| c.to_string()),
                "duration_ms": self.started.elapsed().as_secs_f64() * 1000.0,
                "upstream_status": (end == RequestEnd::Forwarded).then_some(status),
                "outcome": end.label(),
            });
            tracing::info!(target: "edgeguard::access", "{line}");
        }
    }
}

/// The protocol a client asks to upgrade to (`Connection: upgrade` + `Upgrade`).
fn upgrade_protocol(headers: &HeaderMap) -> Option<HeaderValue> {
    let asks = connection_tokens(headers).any(|t| t.eq_ignore_ascii_case("upgrade"));
    asks.then(|| headers.get(header::UPGRADE).cloned()).flatten()
}

fn connection_tokens(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// Removes hop-by-hop headers and every header `Connection` names.
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // Most messages carry none: one pass over the names present decides.
    if !headers.keys().any(|k| HOP_BY_HOP.contains(k)) {
        return;
    }
    let listed: Vec<HeaderName> =
        connection_tokens(headers).filter_map(|t| HeaderName::from_bytes(t.as_bytes()).ok()).collect();
    for name in listed {
        headers.remove(name);
    }
    for name in &HOP_BY_HOP {
        headers.remove(name);
    }
}

/// `name` as a [`HeaderName`]. The pipeline sets the same few headers (from
/// the config) on every request, and a [`HeaderName`] owns its lowercased
/// bytes, so each worker thread keeps the ones it has seen. Removals build
/// none (`HeaderMap` looks a `&str` up on the stack): the names a client
/// spells never reach this cache.
fn header_name(name: &str) -> Option<HeaderName> {
    use std::cell::RefCell;
    use std::collections::HashMap;
    /// Bound on the names kept per thread (a config names a few dozen).
    const MAX_NAMES: usize = 256;
    thread_local! {
        static NAMES: RefCell<HashMap<Box<str>, HeaderName>> = RefCell::new(HashMap::new());
    }
    NAMES.with(|names| {
        let mut names = names.borrow_mut();
        if let Some(n) = names.get(name) {
            return Some(n.clone());
        }
        let parsed = HeaderName::from_bytes(name.as_bytes()).ok()?;
        if names.len() >= MAX_NAMES {
            names.clear();
        }
        names.insert(name.into(), parsed.clone());
        Some(parsed)
    })
}

/// `value` as a [`HeaderValue`], reusing the string's buffer.
fn header_value(value: String) -> Option<HeaderValue> {
    HeaderValue::from_maybe_shared(Bytes::from(value)).ok()
}

/// Applies the pipeline's edits to the upstream request; response edits are
/// collected for the response.
fn apply(headers: &mut HeaderMap, edits: Vec<HeaderEdit>, response: &mut Vec<(HeaderName, HeaderValue)>) {
    for edit in edits {
        match edit {
            HeaderEdit::Remove(name) => {
                headers.remove(&*name);
            }
            HeaderEdit::Set(name, value) => {
                if let (Some(n), Some(v)) = (header_name(&name), header_value(value)) {
                    headers.insert(n, v);
                }
            }
            HeaderEdit::SetResponse(name, value) => {
                if let (Some(n), Some(v)) = (header_name(&name), header_value(value)) {
                    response.push((n, v));
                }
            }
        }
    }
}

/// The `X-Forwarded-*` headers Traefik's entrypoint manages (its
/// `forwardedheaders` set), removed from untrusted peers in every spelling.
static TRAEFIK_X_HEADERS: std::sync::LazyLock<ManagedHeaders> = std::sync::LazyLock::new(|| {
    ManagedHeaders::new(
        [
            "X-Forwarded-Proto",
            "X-Forwarded-Host",
            "X-Forwarded-Port",
            "X-Forwarded-Server",
            "X-Forwarded-Uri",
            "X-Forwarded-Method",
            "X-Forwarded-Prefix",
            "X-Forwarded-Tls-Client-Cert",
            "X-Forwarded-Tls-Client-Cert-Info",
            "X-Forwarded-Scheme",
            "X-Scheme",
        ]
        .map(|n| (n, Arrival::Removed)),
    )
});

/// `X-Forwarded-For`, `-Proto` and `-Host` as Traefik's proxy leaves them
/// after its middlewares (EdgeGuard's edits included): the peer is appended
/// to whatever `X-Forwarded-For` EdgeGuard left, in every `forwardedFor`
/// mode, exactly as Go's `httputil.ReverseProxy` does (lines joined with
/// `, `). So a backend sees the same headers behind the sidecar as behind
/// Traefik with the plugin. `-Proto`/`-Host` from a trusted peer are kept
/// (Traefik keeps them from its entrypoint's trusted IPs); otherwise set.
fn forwarded_headers(headers: &mut HeaderMap, uri: &Uri, peer: SocketAddr, peer_trusted: bool) {
    use std::io::Write as _;
    // Traefik's entrypoint deletes its X-headers from untrusted peers (and
    // their alias spellings); so does the sidecar, through the same normaliser.
    let managed: Vec<HeaderName> = headers
        .keys()
        .filter(|k| {
            TRAEFIK_X_HEADERS.lookup(k.as_str().as_bytes()).is_some()
                && (!peer_trusted || !k.as_str().bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        })
        .cloned()
        .collect();
    for name in managed {
        headers.remove(name);
    }
    let mut value: Vec<u8> = Vec::with_capacity(64);
    for (i, line) in headers.get_all(&X_FORWARDED_FOR_NAME).iter().enumerate() {
        if i > 0 {
            value.extend_from_slice(b", ");
        }
        value.extend_from_slice(line.as_bytes());
    }
    if !value.is_empty() {
        value.extend_from_slice(b", ");
    }
    let _ = write!(value, "{}", peer.ip().to_canonical());
    // Lines are joined as received; a line that is not UTF-8 is sent as
    // U+FFFD (the lossy text Go's `Header.Values` join gives).
    let value = match String::from_utf8(value) {
        Ok(text) => text,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    };
    if let Some(v) = header_value(value) {
        headers.insert(X_FORWARDED_FOR_NAME, v);
    }
    if !(peer_trusted && headers.contains_key(&X_FORWARDED_PROTO)) {
        headers.insert(X_FORWARDED_PROTO, HeaderValue::from_static("http"));
    }
    if !(peer_trusted && headers.contains_key(&X_FORWARDED_HOST)) {
        let host = headers
            .get(header::HOST)
            .cloned()
            .or_else(|| uri.authority().and_then(|a| HeaderValue::from_str(a.as_str()).ok()));
        match host {
            Some(host) => {
                headers.insert(X_FORWARDED_HOST, host);
            }
            None => {
                headers.remove(X_FORWARDED_HOST);
            }
        }
    }
}

fn full(body: impl Into<Bytes>) -> Body {
    Full::new(body.into()).map_err(|never: Infallible| match never {}).boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_and_connection_listed_headers_are_removed() {
        let mut h = HeaderMap::new();
        for (n, v) in [
            ("connection", "keep-alive, X-Secret"),
            ("x-secret", "1"),
            ("keep-alive", "timeout=5"),
            ("te", "trailers"),
            ("proxy-authorization", "x"),
            ("accept", "*/*"),
        ] {
            h.append(n, HeaderValue::from_static(v));
        }
        strip_hop_by_hop(&mut h);
        assert_eq!(h.keys().map(HeaderName::as_str).collect::<Vec<_>>(), ["accept"]);
    }

    #[test]
    fn upgrade_is_detected() {
        let mut h = HeaderMap::new();
        h.insert("connection", HeaderValue::from_static("keep-alive, Upgrade"));
        h.insert("upgrade", HeaderValue::from_static("websocket"));
        assert_eq!(upgrade_protocol(&h), Some(HeaderValue::from_static("websocket")));
        h.remove("connection");
        assert_eq!(upgrade_protocol(&h), None);
    }

    #[test]
    fn forwarded_for_appends_the_peer_like_go() {
        let peer: SocketAddr = "[::ffff:192.0.2.7]:80".parse().unwrap();
        let uri = Uri::from_static("/");
        let mut h = HeaderMap::new();
        forwarded_headers(&mut h, &uri, peer, false);
        assert_eq!(h.get(&X_FORWARDED_FOR_NAME).unwrap(), "192.0.2.7");
        let mut h = HeaderMap::new();
        h.append(X_FORWARDED_FOR_NAME.clone(), HeaderValue::from_static("203.0.113.7"));
        h.append(X_FORWARDED_FOR_NAME.clone(), HeaderValue::from_static("10.0.0.2"));
        h.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        h.insert("host", HeaderValue::from_static("app.example"));
        forwarded_headers(&mut h, &uri, "10.0.0.1:5000".parse().unwrap(), true);
        assert_eq!(h.get(&X_FORWARDED_FOR_NAME).unwrap(), "203.0.113.7, 10.0.0.2, 10.0.0.1");
        assert_eq!(h.get("x-forwarded-proto").unwrap(), "https", "kept from a trusted peer");
        assert_eq!(h.get("x-forwarded-host").unwrap(), "app.example");
    }
}
