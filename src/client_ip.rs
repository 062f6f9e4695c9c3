//! The client-IP stage: reads the one configured chain source from a trusted
//! peer, detects the client and produces the header edits that carry it
//! upstream. Removing client-sent copies of the headers it writes is
//! [`crate::headers::ManagedHeaders`]' job, done between [`ClientIpStage::resolve`]
//! and [`ClientIpStage::write`].

use std::fmt::Write as _;
use std::net::IpAddr;

use crate::addr::{InvalidNode, parse_node, push_ip};
use crate::config::{ClientIpConfig, ForwardedForMode};
use crate::detection::{Detection, Stop, detect};
use crate::error::ConfigError;
use crate::forwarded::{Chain, Hop};
use crate::headers::{self, Arrival};
use crate::request::{EditName, HeaderEdit, RequestView, TooLarge};
use crate::trust::TrustedProxies;

/// Most hops `maxHops` may allow; a bound on per-request work.
const MAX_HOPS_LIMIT: usize = 1024;
/// Largest accepted `maxHeaderBytes`.
const MAX_HEADER_BYTES_LIMIT: usize = 64 * 1024;

/// The header that carries the chain. Exactly one: a proxy appends to the
/// header it writes and passes every other header through untouched, so a
/// second source would be one the client writes (issue #13).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Source {
    Forwarded,
    XForwardedFor,
    /// A single-address header such as `X-Real-IP` or `CF-Connecting-IP`.
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

    fn chain(self, lines: &[Vec<u8>]) -> Chain {
        match self {
            Self::Forwarded => Chain::from_forwarded(lines),
            Self::XForwardedFor => Chain::from_xff(lines),
            Self::Single(_) => single(lines),
        }
    }
}

/// The client as later stages (maintenance bypass, geo, signing) see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientIdentity {
    /// The client, when the trusted proxies named one. `None` means unknown:
    /// no geo, no CIDR bypass, not vouched for by the signature.
    pub client: Option<IpAddr>,
    /// What the client-IP header carries: the client, or when it is unknown
    /// nginx `realip`'s answer (the nearest trusted hop). `None` only when
    /// the host gave an unparsable peer.
    pub address: Option<IpAddr>,
    /// The detection details, when the peer was usable.
    pub detection: Option<Detection>,
    /// The header the chain came from, if one was read.
    pub source: Option<&'static str>,
    /// One line saying how the client was chosen.
    pub trace: String,
}

impl ClientIdentity {
    /// Whether the TCP peer is a trusted proxy.
    pub fn peer_trusted(&self) -> bool {
        self.detection.is_some_and(|d| d.peer_trusted)
    }
}

/// What [`ClientIpStage::resolve`] read, kept for [`ClientIpStage::write`].
#[derive(Debug, Clone)]
pub struct Resolution {
    /// Who the client is.
    pub identity: ClientIdentity,
    chain: Chain,
    /// `X-Forwarded-For` as received, read only from a trusted peer.
    xff_lines: Vec<Vec<u8>>,
}

/// The validated `clientIp` section.
#[derive(Debug, Clone)]
pub struct ClientIpStage {
    trusted: TrustedProxies,
    max_hops: usize,
    source: Source,
    max_header_bytes: usize,
    header: EditName,
    forwarded_for: ForwardedForMode,
    preserve_original_as: EditName,
    forwarded: bool,
    trace_header: EditName,
    /// `X-Forwarded-For` and `Forwarded` as the names of this stage's edits.
    xff_name: EditName,
    forwarded_name: EditName,
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
        let source = match cfg.sources.as_slice() {
            [] => Source::XForwardedFor,
            [name] => Source::parse(name).ok_or_else(|| {
                let reason = format!(
                    "`{name}` is not a supported source (X-Forwarded-For, Forwarded, X-Real-IP, CF-Connecting-IP, True-Client-IP)"
                );
                ConfigError::invalid("clientIp.sources[0]", reason)
            })?,
            [first, second, ..] => {
                let reason = format!(
                    "only one chain source can be listed, `{first}` is already `clientIp.sources[0]`: the proxy \
                     in front writes one header and passes every other through from the client, so `{second}` \
                     would let clients choose their IP (see docs/client-ip.md, \"Threat model\")"
                );
                return Err(ConfigError::invalid("clientIp.sources[1]", reason));
            }
        };
        for (path, name) in [
            ("clientIp.header", &cfg.header),
            ("clientIp.preserveOriginalAs", &cfg.preserve_original_as),
            ("clientIp.traceHeader", &cfg.trace_header),
        ] {
            headers::check_output_name(name, true).map_err(|reason| ConfigError::invalid(path, reason))?;
        }
        for (i, name) in cfg.strip_headers.iter().enumerate() {
            headers::check_output_name(name, false)
                .map_err(|reason| ConfigError::invalid(format_args!("clientIp.stripHeaders[{i}]"), reason))?;
        }
        Ok(Self {
            trusted,
            max_hops: cfg.max_hops,
            source,
            max_header_bytes: cfg.max_header_bytes,
            header: cfg.header.as_str().into(),
            forwarded_for: cfg.forwarded_for,
            preserve_original_as: cfg.preserve_original_as.as_str().into(),
            forwarded: cfg.forwarded,
            trace_header: cfg.trace_header.as_str().into(),
            xff_name: headers::X_FORWARDED_FOR.into(),
            forwarded_name: headers::FORWARDED.into(),
        })
    }

    /// The names this stage manages, for [`crate::headers::ManagedHeaders`]:
    /// its outputs and strip list are removed from every peer; the chain
    /// source and `X-Forwarded-For` survive from a trusted peer (and
    /// `X-Forwarded-For` from any peer with `forwardedFor: off`).
    pub fn managed_names<'a>(
        &'a self,
        cfg: &'a ClientIpConfig,
    ) -> impl Iterator<Item = (&'a str, Arrival)> + 'a {
        // With another source, no trusted proxy vouches for `X-Forwarded-For`:
        // it is the client's, and goes (Traefik's proxy appends the peer).
        let xff = match (self.forwarded_for, self.source) {
            (ForwardedForMode::Off, _) => Arrival::Kept,
            (_, Source::XForwardedFor) => Arrival::KeptFromTrusted,
            _ => Arrival::Removed,
        };
        headers::IDENTITY
            .iter()
            .copied()
            .chain([&*self.header, &self.preserve_original_as, &self.trace_header])
            .chain(cfg.strip_headers.iter().map(String::as_str))
            .map(|n| (n, Arrival::Removed))
            .chain([(headers::X_FORWARDED_FOR, xff), (self.source.name(), Arrival::KeptFromTrusted)])
    }

    /// The headers this stage can set, for signing.
    pub fn settable(&self) -> impl Iterator<Item = &str> {
        [&*self.header, &*self.preserve_original_as, &*self.trace_header]
            .into_iter()
            .chain(self.forwarded.then_some(headers::FORWARDED))
            .filter(|n| !n.is_empty())
    }

    /// The client-IP output header (`clientIp.header`); empty when disabled.
    pub fn header(&self) -> &str {
        &self.header
    }

    /// `clientIp.maxHeaderBytes`: forwarding headers above it are refused.
    pub fn max_header_bytes(&self) -> usize {
        self.max_header_bytes
    }

    /// Resolves the client. A forwarding header that must be read and is
    /// over `maxHeaderBytes` is refused unread (the caller answers 431): a
    /// chain cut or ignored would be read from the wrong end. With `explain`
    /// the trace line is always built (for `edgeguard explain` and tests);
    /// otherwise only when `traceHeader` asks for it.
    pub fn resolve(&self, req: &impl RequestView, explain: bool) -> Result<Resolution, TooLarge> {
        let want_trace = explain || !self.trace_header.is_empty();
        let Some(peer) = req.peer() else {
            let trace = "peer unparsable; client=unknown".to_string();
            let identity =
                ClientIdentity { client: None, address: None, detection: None, source: None, trace };
            return Ok(Resolution { identity, chain: Chain::default(), xff_lines: Vec::new() });
        };
        let peer_trusted = self.trusted.contains(peer);
        let (mut chain, mut xff_lines, mut source) = (Chain::default(), Vec::new(), None);
        if peer_trusted {
            let lines = req.header_values_within(self.source.name(), self.max_header_bytes)?;
            if !lines.iter().all(|l| l.trim_ascii().is_empty()) {
                chain = self.source.chain(&lines);
                source = Some(self.source);
            } else if !lines.is_empty() {
                // Present but empty: the proxy wrote nothing we can read.
                chain = Chain { hops: vec![Err(InvalidNode::Malformed)] };
                source = Some(self.source);
            }
            if self.source == Source::XForwardedFor {
                xff_lines = lines;
            }
        }
        let detection = detect(peer, &chain.hops, &self.trusted, self.max_hops);
        let client = detection.client();
        let mut trace = String::new();
        if want_trace {
            let _ = write!(
                trace,
                "peer={peer} {}; source={}; hops={}; skipped={}; ",
                if peer_trusted { "trusted" } else { "untrusted" },
                source.map_or("none", Source::name),
                chain.hops.len(),
                detection.skipped,
            );
            let _ = match client {
                Some(client) => write!(trace, "client={client}; stop={}", detection.stop),
                None => {
                    write!(trace, "client=unknown; address={}; stop={}", detection.address, detection.stop)
                }
            };
        }
        let identity = ClientIdentity {
            client,
            address: Some(detection.address),
            detection: Some(detection),
            source: source.map(Source::name),
            trace,
        };
        Ok(Resolution { identity, chain, xff_lines })
    }

    /// Appends the header edits for a resolution: the client-IP header, the
    /// rewritten chain, the preserved original and the trace.
    pub fn write(&self, r: &Resolution, edits: &mut Vec<HeaderEdit>) {
        let Some(detection) = r.identity.detection else {
            self.push_trace(&r.identity.trace, edits);
            return;
        };
        if !self.header.is_empty() {
            edits.push(HeaderEdit::Set(self.header.clone(), join_addrs("", [detection.address])));
        }
        // From an untrusted peer nothing it sent is a chain: the strip
        // already removed `X-Forwarded-For` (unless `off`), and the proxy
        // appends the peer afterwards.
        if detection.peer_trusted {
            self.forwarded_for_edit(r, &detection, edits);
            if !self.preserve_original_as.is_empty() && !r.xff_lines.is_empty() {
                edits.push(HeaderEdit::Set(self.preserve_original_as.clone(), join_lines(&r.xff_lines)));
            }
        }
        if self.forwarded {
            let hops = match detection.index {
                Some(i) => &r.chain.hops[i..],
                None if detection.client().is_some() => &[Ok(detection.address)][..],
                None => &[],
            };
            // RFC 7239 §6.2: a client nobody can name is `for=unknown`, never the proxy.
            let unknown = if detection.client().is_none() { "for=unknown" } else { "" };
            edits.push(HeaderEdit::Set(self.forwarded_name.clone(), forwarded_value(unknown, valid(hops))));
        }
        self.push_trace(&r.identity.trace, edits);
    }

    fn forwarded_for_edit(&self, r: &Resolution, d: &Detection, edits: &mut Vec<HeaderEdit>) {
        let name = &self.xff_name;
        let set_or_remove = |joined: String, edits: &mut Vec<HeaderEdit>| {
            if joined.is_empty() {
                edits.push(HeaderEdit::Remove(name.clone()));
            } else {
                edits.push(HeaderEdit::Set(name.clone(), joined));
            }
        };
        let from_xff = self.source == Source::XForwardedFor;
        match self.forwarded_for {
            ForwardedForMode::Off => {}
            ForwardedForMode::Normalize if r.xff_lines.is_empty() => {}
            ForwardedForMode::Normalize if from_xff && d.stop == Stop::InvalidHop => {
                // The hop that made the client unknown stays, as `unknown`: dropping
                // it would hand a downstream realip the client-chosen entry to its left.
                let right = d.index.map_or(&[][..], |i| &r.chain.hops[i..]);
                edits.push(HeaderEdit::Set(name.clone(), join_addrs("unknown", valid(right))));
            }
            ForwardedForMode::Normalize => {
                let canonical = join_addrs("", valid(&r.chain.hops));
                // Already canonical (the common case): leave it, saving a host call.
                if !(r.xff_lines.len() == 1 && r.xff_lines[0] == canonical.as_bytes()) {
                    set_or_remove(canonical, edits);
                }
            }
            ForwardedForMode::Trusted => {
                let right = d.index.map_or(&[][..], |i| &r.chain.hops[i..]);
                set_or_remove(join_addrs("", valid(right)), edits)
            }
            ForwardedForMode::Client => set_or_remove(join_addrs("", d.index.and(d.client())), edits),
        }
    }

    fn push_trace(&self, trace: &str, edits: &mut Vec<HeaderEdit>) {
        if !self.trace_header.is_empty() {
            edits.push(HeaderEdit::Set(self.trace_header.clone(), trace.to_string()));
        }
    }
}

/// `a, b, c` after `first` (if not empty): the canonical list form, built in one string.
fn join_addrs(first: &str, addrs: impl IntoIterator<Item = IpAddr>) -> String {
    join_with(first, addrs, push_ip)
}

/// `first` then each address written by `push`, separated by `, `.
fn join_with(
    first: &str,
    addrs: impl IntoIterator<Item = IpAddr>,
    push: impl Fn(&mut String, IpAddr),
) -> String {
    let mut out = String::with_capacity(64);
    out.push_str(first);
    for addr in addrs {
        if !out.is_empty() {
            out.push_str(", ");
        }
        push(&mut out, addr);
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
            std::str::from_utf8(line).map_err(|_| InvalidNode::Malformed).and_then(parse_node)
        }
        _ => Err(InvalidNode::Malformed),
    };
    Chain { hops: vec![hop] }
}

fn valid(hops: &[Hop]) -> impl Iterator<Item = IpAddr> + '_ {
    hops.iter().filter_map(|h| h.ok())
}

/// RFC 7239 list of `for=` elements, after `first` (if not empty); IPv6 is
/// quoted and bracketed (§6).
fn forwarded_value(first: &str, hops: impl Iterator<Item = IpAddr>) -> String {
    join_with(first, hops, |out, ip| {
        let (open, close) = if ip.is_ipv6() { ("for=\"[", "]\"") } else { ("for=", "") };
        out.push_str(open);
        push_ip(out, ip);
        out.push_str(close);
    })
}
