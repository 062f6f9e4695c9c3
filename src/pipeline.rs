//! The request pipeline, in one direction: resolve client → strip spoofable
//! headers → maintenance decision → geo → signature → header edits or a response. Built
//! once from a validated config; `handle` never panics on request data.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::client_ip::{ClientIdentity, ClientIpStage};
use crate::config::Config;
use crate::error::ConfigError;
use crate::geo::{GeoStage, GeoStatus};
use crate::headers::{Arrival, ManagedHeaders};
use crate::log::{Level, Log, StderrLog};
use crate::maintenance::{Action, BYPASS_HEADER, MaintenanceStage, Verdict};
use crate::request::{Decision, HeaderEdit, Refusal, RequestView, TooLarge};
use crate::signing::SigningStage;

/// Refused overlong forwarding headers are logged at most once per this many
/// seconds per instance: a client sending them in a loop must not flood the log.
const REFUSAL_LOG_INTERVAL_SECS: u64 = 60;

/// A validated, ready-to-run pipeline.
pub struct Pipeline {
    client_ip: ClientIpStage,
    /// Every header name EdgeGuard manages, from every stage.
    managed: ManagedHeaders,
    /// `maintenance.allow.token.cookie`: removed from `Cookie` on every
    /// request, maintenance on or off (browsers keep sending it).
    token_cookie: Option<String>,
    /// Wall-clock second of the last refusal logged (Traefik's monotonic clock is fake).
    last_refusal_log: AtomicU64,
    maintenance: Option<MaintenanceStage>,
    geo: Option<GeoStage>,
    signing: SigningStage,
    log: Arc<dyn Log>,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("client_ip", &self.client_ip)
            .field("maintenance", &self.maintenance.is_some())
            .field("geo", &self.geo)
            .field("signing", &self.signing.signer().is_some())
            .finish_non_exhaustive()
    }
}

/// Everything the pipeline decided for one request, for `explain` and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Who the client is and why.
    pub identity: ClientIdentity,
    /// The maintenance verdict, when maintenance is configured.
    pub maintenance: Option<Verdict>,
    /// What geo found, when geo is configured and the request got that far.
    pub geo: Option<GeoStatus>,
    /// What to do with the request.
    pub decision: Decision,
}

impl Pipeline {
    /// Validates `config` and builds the stages, logging to stderr.
    ///
    /// # Examples
    /// ```
    /// use edgeguard::{Config, OwnedRequest, Pipeline};
    /// let cfg = Config::from_json(br#"{"clientIp": {"trustedProxies": ["10.0.0.0/8"]}}"#).unwrap();
    /// let pipeline = Pipeline::new(&cfg).unwrap();
    /// let req = OwnedRequest::new("10.0.0.1:5000").header("X-Forwarded-For", "203.0.113.9");
    /// assert_eq!(pipeline.outcome(&req).identity.client.unwrap().to_string(), "203.0.113.9");
    ///
    /// let bad = Config::from_json(br#"{"clientIp": {"trustedProxies": ["10.0.0.0/33"]}}"#).unwrap();
    /// assert_eq!(Pipeline::new(&bad).unwrap_err().path(), "clientIp.trustedProxies[0]");
    /// ```
    pub fn new(config: &Config) -> Result<Self, ConfigError> {
        Self::with_log(config, Arc::new(StderrLog))
    }

    /// Validates `config` and builds the stages; runtime events (database
    /// reloads, unreadable files) go to `log`.
    pub fn with_log(config: &Config, log: Arc<dyn Log>) -> Result<Self, ConfigError> {
        let client_ip = ClientIpStage::new(&config.client_ip)?;
        let maintenance = MaintenanceStage::new(&config.maintenance, log.as_ref())?;
        let geo = GeoStage::new(&config.geo, log.as_ref())?;
        // Signing is built from the stages as built: only what they can set can be signed.
        let geo_settable: Vec<&str> = geo.iter().flat_map(GeoStage::settable).collect();
        let settable: Vec<&str> = client_ip.settable().chain(geo_settable.iter().copied()).collect();
        let defaults: Vec<&str> =
            [client_ip.header()].into_iter().chain(geo_settable.iter().copied()).collect();
        let signing = SigningStage::new(config, &settable, &defaults)?;
        let removed = GeoStage::managed_names(&config.geo)
            .chain(signing.managed_names())
            // The bypass token header, whether or not maintenance is configured to turn on.
            .chain([config.maintenance.allow.token.header.trim()])
            .map(|n| (n, Arrival::Removed));
        let managed = ManagedHeaders::new(client_ip.managed_names(&config.client_ip).chain(removed));
        // Legal but probably unintended settings: said once per instance.
        for warning in config.warnings(SystemTime::now()) {
            log.log(Level::Warn, &format!("edgeguard: {warning}"));
        }
        let cookie = config.maintenance.allow.token.cookie.trim();
        let token_cookie = (!cookie.is_empty()).then(|| cookie.to_string());
        Ok(Self {
            client_ip,
            managed,
            token_cookie,
            last_refusal_log: AtomicU64::new(0),
            maintenance,
            geo,
            signing,
            log,
        })
    }

    /// Decodes and validates a JSON config in one step, logging to stderr.
    pub fn from_json(doc: &[u8]) -> Result<Self, ConfigError> {
        Self::new(&Config::from_json(doc)?)
    }

    /// Runs every stage and returns the decision with its explanation.
    pub fn outcome(&self, req: &impl RequestView) -> Outcome {
        self.outcome_at(req, SystemTime::now())
    }

    /// [`Pipeline::outcome`] at a given wall-clock time (maintenance windows,
    /// the signature's timestamp).
    pub fn outcome_at(&self, req: &impl RequestView, now: SystemTime) -> Outcome {
        self.run(req, now, true)
    }

    /// Runs every stage; the hot path for host adapters (no explanation built).
    pub fn handle(&self, req: &impl RequestView) -> Decision {
        self.evaluate(req).decision
    }

    /// Like [`Pipeline::handle`], keeping the identity, maintenance verdict and
    /// geo status for hosts that report them (the sidecar's metrics and access
    /// log). The trace line is only built when `traceHeader` asks for it.
    pub fn evaluate(&self, req: &impl RequestView) -> Outcome {
        self.run(req, SystemTime::now(), false)
    }

    /// The geo database files with the build time (Unix seconds) of the
    /// version in use; empty when geo is off. For the sidecar's metrics.
    pub fn geo_databases(&self) -> Vec<(std::path::PathBuf, Option<u64>)> {
        self.geo.as_ref().map_or_else(Vec::new, |geo| {
            geo.databases(SystemTime::now(), self.log.as_ref())
                .into_iter()
                .map(|(p, e)| (p.to_path_buf(), e))
                .collect()
        })
    }

    fn run(&self, req: &impl RequestView, now: SystemTime, explain: bool) -> Outcome {
        let log = self.log.as_ref();
        // Room for a typical request's edits (client IP, strips, geo headers).
        let mut edits = Vec::with_capacity(16);
        // Resolve the client.
        let resolution = match self.client_ip.resolve(req, explain) {
            Ok(resolution) => resolution,
            Err(too_large) => return self.refuse_too_large(too_large, now),
        };
        // Strip every managed header the backend must not get from the client,
        // then write the client-IP headers.
        self.managed.strip(req, resolution.identity.peer_trusted(), &mut edits);
        self.client_ip.write(&resolution, &mut edits);
        let identity = resolution.identity;
        // The bypass secret is for EdgeGuard, not for the backends.
        if let Some(cookie) = &self.token_cookie {
            crate::maintenance::strip_cookie(req, cookie, &mut edits);
        }
        // Maintenance: an unknown client (`None`) never matches an allowed CIDR.
        let maintenance = self.maintenance.as_ref().map(|m| (m, m.decide(req, identity.client, now, log)));
        if let Some((stage, verdict)) = &maintenance {
            match &verdict.action {
                Action::Block(response) => {
                    let decision = Decision::Respond(Refusal::Maintenance(response.clone()));
                    return Outcome { identity, maintenance: Some(verdict.clone()), geo: None, decision };
                }
                Action::Bypass(kind) if stage.debug_headers() => {
                    edits.push(HeaderEdit::SetResponse(BYPASS_HEADER.into(), kind.to_string()));
                }
                Action::Bypass(_) | Action::Pass => {}
            }
        }
        let maintenance = maintenance.map(|(_, v)| v);
        // Geo: an unknown client is not looked up (a proxy's location is not the client's).
        let mut geo_status = None;
        if let Some(geo) = &self.geo {
            match geo.run(identity.client, now, &mut edits, log) {
                Ok(status) => geo_status = Some(status),
                Err(_) => {
                    return Outcome {
                        identity,
                        maintenance,
                        geo: Some(GeoStatus::Unavailable),
                        decision: Decision::Respond(Refusal::Unavailable),
                    };
                }
            }
        }
        // Last: the signature covers the headers every stage above set.
        self.signing.sign(req, &mut edits, now, identity.client.is_some());
        Outcome { identity, maintenance, geo: geo_status, decision: Decision::Forward(edits) }
    }

    /// 431 for a forwarding header over `clientIp.maxHeaderBytes`, logged
    /// once per [`REFUSAL_LOG_INTERVAL_SECS`] per instance.
    fn refuse_too_large(&self, too_large: TooLarge, now: SystemTime) -> Outcome {
        let limit = self.client_ip.max_header_bytes();
        let second = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let last = self.last_refusal_log.load(Ordering::Relaxed);
        if (last == 0 || second.saturating_sub(last) >= REFUSAL_LOG_INTERVAL_SECS)
            && self
                .last_refusal_log
                .compare_exchange(last, second.max(1), Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            self.log.log(
                Level::Warn,
                &format!(
                    "edgeguard: refused a request with a {}-byte forwarding header (clientIp.maxHeaderBytes {limit}) with 431; \
                     further refusals in the next {REFUSAL_LOG_INTERVAL_SECS}s are not logged",
                    too_large.len
                ),
            );
        }
        let trace =
            format!("refused: forwarding header of {} bytes over maxHeaderBytes {limit}", too_large.len);
        let identity = ClientIdentity { client: None, address: None, detection: None, source: None, trace };
        Outcome {
            identity,
            maintenance: None,
            geo: None,
            decision: Decision::Respond(Refusal::HeaderTooLarge),
        }
    }
}
