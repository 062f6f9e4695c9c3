//! The client-IP stage: reads the configured sources, detects the client and
//! produces the header edits that carry it upstream.

use std::fmt::Write as _;
use std::net::IpAddr;

use crate::addr::parse_node;
use crate::config::{ClientIpConfig, ForwardedForMode};
use crate::error::ConfigError;
use crate::forwarded::{Chain, Hop};
use crate::headers;
use crate::request::{HeaderEdit, RequestView};
use crate::resolve::{Detection, detect};
use crate::trust::TrustedProxies;

/// Most hops `maxHops` may allow; a bound on per-request work.
const MAX_HOPS_LIMIT: usize = 1024;
/// Largest accepted `maxHeaderBytes`.
const MAX_HEADER_BYTES_LIMIT: usize = 64 * 1024;

/// A header that can carry the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Source {
    Forwarded,
    XForwardedFor,
    /// A single-address header such as `X-Real-IP`.
    Single(&'static str),
}

impl Source {
    fn parse(name: &str) -> Option<Self> {
        let single = [headers::X_REAL_IP, headers::CF_CONNECTING_IP, headers::TRUE_CLIENT_IP];
        if name.eq_ignore_ascii_case(headers::FORWARDED) {
            Some(Self::Forwarded)
        } else if name.eq_ignore_ascii_case(headers::X_FORWARDED_FOR) {
            Some(Self::XForwardedFor)
        } else {
            single.into_iter().find(|s| s.eq_ignore_ascii_case(name)).map(Self::Single)
        }
    }

    const fn name(self) -> &'static str {
        match self {
            Self::Forwarded => headers::FORWARDED,
            Self::XForwardedFor => headers::X_FORWARDED_FOR,
            Self::Single(name) => name,
        }
    }
}

/// The client as later stages (maintenance bypass, geo) see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientIdentity {
    /// The resolved client; `None` only if the host gave an unparsable peer.
    pub client: Option<IpAddr>,
    /// The detection details, when the peer was usable.
    pub detection: Option<Detection>,
    /// The header the client came from, if any.
    pub source: Option<&'static str>,
    /// One line saying how the client was chosen.
    pub trace: String,
}

/// The validated `clientIp` section.
#[derive(Debug, Clone)]
pub struct ClientIpStage {
    trusted: TrustedProxies,
    max_hops: usize,
    sources: Vec<Source>,
    max_header_bytes: usize,
    header: String,
    forwarded_for: ForwardedForMode,
    preserve_original_as: String,
    forwarded: bool,
    trace_header: String,
    strip: Vec<String>,
}

impl ClientIpStage {
    /// Validates the section; errors name the field under `clientIp`.
    pub fn new(cfg: &ClientIpConfig) -> Result<Self, ConfigError> {
        let trusted = TrustedProxies::new(&cfg.trusted_proxies, cfg.allow_trust_all)
            .map_err(|(i, e)| ConfigError::invalid(format_args!("clientIp.trustedProxies[{i}]"), e))?;
        if !(1..=MAX_HOPS_LIMIT).contains(&cfg.max_hops) {
            let reason = format!("must be between 1 and {MAX_HOPS_LIMIT}, got {}", cfg.max_hops);
            return Err(ConfigError::invalid("clientIp.maxHops", reason));
        }
        if !(64..=MAX_HEADER_BYTES_LIMIT).contains(&cfg.max_header_bytes) {
            let reason =
                format!("must be between 64 and {MAX_HEADER_BYTES_LIMIT}, got {}", cfg.max_header_bytes);
            return Err(ConfigError::invalid("clientIp.maxHeaderBytes", reason));
        }
        let mut sources = Vec::new();
        for (i, name) in cfg.sources.iter().enumerate() {
            let path = format!("clientIp.sources[{i}]");
            let source = Source::parse(name).ok_or_else(|| {
                let reason = format!(
                    "`{name}` is not a supported source (Forwarded, X-Forwarded-For, X-Real-IP, CF-Connecting-IP, True-Client-IP)"
                );
                ConfigError::invalid(&path, reason)
            })?;
            if sources.contains(&source) {
                return Err(ConfigError::invalid(path, format!("`{name}` is listed twice")));
            }
            sources.push(source);
        }
        for (path, name) in [
            ("clientIp.header", &cfg.header),
            ("clientIp.preserveOriginalAs", &cfg.preserve_original_as),
            ("clientIp.traceHeader", &cfg.trace_header),
        ] {
            headers::check_name(name, true).map_err(|reason| ConfigError::invalid(path, reason))?;
        }
        for (i, name) in cfg.strip_headers.iter().enumerate() {
            headers::check_name(name, false)
                .map_err(|reason| ConfigError::invalid(format_args!("clientIp.stripHeaders[{i}]"), reason))?;
        }
        let mut strip: Vec<String> = headers::SPOOFABLE.iter().map(|s| s.to_string()).collect();
        strip.extend(cfg.strip_headers.iter().cloned());
        if !cfg.header.is_empty() {
            strip.push(cfg.header.clone());
        }
        let strip = headers::with_underscore_aliases(strip);
        Ok(Self {
            trusted,
            max_hops: cfg.max_hops,
            sources,
            max_header_bytes: cfg.max_header_bytes,
            header: cfg.header.clone(),
            forwarded_for: cfg.forwarded_for,
            preserve_original_as: cfg.preserve_original_as.clone(),
            forwarded: cfg.forwarded,
            trace_header: cfg.trace_header.clone(),
            strip,
        })
    }

    /// Resolves the client and appends the header edits for it.
    /// With `explain` the trace line is always built (for `edgeguard explain`
    /// and tests); otherwise only when `traceHeader` asks for it, so the
    /// plugin's hot path formats nothing it does not send.
    pub fn run(&self, req: &impl RequestView, edits: &mut Vec<HeaderEdit>, explain: bool) -> ClientIdentity {
        let want_trace = explain || !self.trace_header.is_empty();
        let peer = parse_node(&req.peer()).ok();
        let peer_trusted = peer.is_some_and(|p| self.trusted.contains(p));
        if !peer_trusted {
            headers::remove_present(req, &self.strip, edits);
        }
        let xff_lines = req.header_values(headers::X_FORWARDED_FOR);
        let Some(peer) = peer else {
            if !self.header.is_empty() {
                edits.push(HeaderEdit::Remove(self.header.clone()));
            }
            let trace = format!("peer={:?} unparsable; no client", req.peer());
            self.push_trace(&trace, edits);
            return ClientIdentity { client: None, detection: None, source: None, trace };
        };

        let chosen = if peer_trusted { self.first_present(req, None) } else { None };
        let (source, chain) = chosen.map_or((None, Chain::default()), |(s, c)| (Some(s), c));
        let detection = detect(peer, &chain.hops, &self.trusted, self.max_hops);
        let client = detection.client;

        let mut trace = String::new();
        if want_trace {
            trace = format!(
                "peer={peer} {}; source={}; hops={}; skipped={}; client={client}; stop={}",
                if peer_trusted { "trusted" } else { "untrusted" },
                source.map_or("none", Source::name),
                chain.hops.len(),
                detection.skipped,
                detection.stop,
            );
        }
        if let Some(first) = source.filter(|_| want_trace) {
            if let Some((other, other_chain)) = self.first_present(req, Some(first)) {
                let other_client = detect(peer, &other_chain.hops, &self.trusted, self.max_hops).client;
                if other_client != client {
                    let _ = write!(
                        trace,
                        "; disagree={} says {other_client}, {} wins",
                        other.name(),
                        first.name()
                    );
                }
            }
        }

        if !self.header.is_empty() {
            edits.push(HeaderEdit::Set(self.header.clone(), client.to_string()));
        }
        self.forwarded_for_edit(&xff_lines, &chain, &detection, source, edits);
        if !self.preserve_original_as.is_empty() && !xff_lines.is_empty() {
            edits.push(HeaderEdit::Set(self.preserve_original_as.clone(), join_lines(&xff_lines)));
        }
        if self.forwarded {
            let hops: Vec<IpAddr> = match detection.index {
                Some(i) => valid(&chain.hops[i..]).collect(),
                None => vec![client],
            };
            edits.push(HeaderEdit::Set(headers::FORWARDED.into(), forwarded_value(&hops)));
        }
        self.push_trace(&trace, edits);
        ClientIdentity {
            client: Some(client),
            detection: Some(detection),
            source: source.map(Source::name),
            trace,
        }
    }

    /// The first configured source present on the request, skipping `after` and those before it.
    fn first_present(&self, req: &impl RequestView, after: Option<Source>) -> Option<(Source, Chain)> {
        let start = after.and_then(|a| self.sources.iter().position(|s| *s == a)).map_or(0, |p| p + 1);
        self.sources[start..].iter().find_map(|&source| {
            let lines = req.header_values(source.name());
            if lines.iter().all(|l| l.trim_ascii().is_empty()) {
                return None;
            }
            let chain = if lines.iter().map(Vec::len).sum::<usize>() > self.max_header_bytes {
                Chain { hops: vec![Err(crate::addr::InvalidNode::Malformed)] }
            } else {
                match source {
                    Source::Forwarded => Chain::from_forwarded(&lines),
                    Source::XForwardedFor => Chain::from_xff(&lines),
                    Source::Single(_) => single(&lines),
                }
            };
            Some((source, chain))
        })
    }

    fn forwarded_for_edit(
        &self,
        xff_lines: &[Vec<u8>],
        chain: &Chain,
        d: &Detection,
        source: Option<Source>,
        edits: &mut Vec<HeaderEdit>,
    ) {
        let name = headers::X_FORWARDED_FOR;
        let set_or_remove = |hops: Vec<IpAddr>, edits: &mut Vec<HeaderEdit>| {
            if hops.is_empty() {
                edits.push(HeaderEdit::Remove(name.into()));
            } else {
                edits.push(HeaderEdit::Set(name.into(), join_addrs(&hops)));
            }
        };
        match self.forwarded_for {
            ForwardedForMode::Off => {}
            ForwardedForMode::Normalize if xff_lines.is_empty() => {}
            ForwardedForMode::Normalize => {
                let total: usize = xff_lines.iter().map(Vec::len).sum();
                let hops: Vec<IpAddr> = if total > self.max_header_bytes {
                    Vec::new()
                } else if source == Some(Source::XForwardedFor) {
                    valid(&chain.hops).collect()
                } else {
                    valid(&Chain::from_xff(xff_lines).hops).collect()
                };
                // Already canonical (the common case): leave it, saving a host call.
                let canonical = join_addrs(&hops);
                if !(xff_lines.len() == 1 && xff_lines[0] == canonical.as_bytes()) {
                    set_or_remove(hops, edits);
                }
            }
            ForwardedForMode::Trusted => {
                set_or_remove(d.index.map_or_else(Vec::new, |i| valid(&chain.hops[i..]).collect()), edits)
            }
            ForwardedForMode::Client => set_or_remove(d.index.map(|_| d.client).into_iter().collect(), edits),
        }
    }

    fn push_trace(&self, trace: &str, edits: &mut Vec<HeaderEdit>) {
        if !self.trace_header.is_empty() {
            edits.push(HeaderEdit::Set(self.trace_header.clone(), trace.to_string()));
        }
    }
}

/// `a, b, c`: the canonical list form, built in one string.
fn join_addrs(addrs: &[IpAddr]) -> String {
    let mut out = String::with_capacity(addrs.len() * 16);
    for (i, addr) in addrs.iter().enumerate() {
        let sep = if i == 0 { "" } else { ", " };
        let _ = write!(out, "{sep}{addr}");
    }
    out
}

/// Header lines joined as one list value, as received (invalid UTF-8 replaced).
fn join_lines(lines: &[Vec<u8>]) -> String {
    let mut out = String::with_capacity(lines.iter().map(|l| l.len() + 2).sum());
    for (i, line) in lines.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(&String::from_utf8_lossy(line));
    }
    out
}

/// A single-address header: exactly one element, else one invalid hop.
fn single(lines: &[Vec<u8>]) -> Chain {
    let hop: Hop = match lines {
        [line] if !line.contains(&b',') => {
            std::str::from_utf8(line).map_err(|_| crate::addr::InvalidNode::Malformed).and_then(parse_node)
        }
        _ => Err(crate::addr::InvalidNode::Malformed),
    };
    Chain { hops: vec![hop] }
}

fn valid(hops: &[Hop]) -> impl Iterator<Item = IpAddr> + '_ {
    hops.iter().filter_map(|h| h.ok())
}

/// RFC 7239 list of `for=` elements; IPv6 is quoted and bracketed (§6).
fn forwarded_value(hops: &[IpAddr]) -> String {
    let parts: Vec<String> = hops
        .iter()
        .map(|ip| match ip {
            IpAddr::V4(v4) => format!("for={v4}"),
            IpAddr::V6(v6) => format!("for=\"[{v6}]\""),
        })
        .collect();
    parts.join(", ")
}
