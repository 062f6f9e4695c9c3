//! The request pipeline, in one direction: resolve client → strip spoofable
//! headers → maintenance decision → geo → signature → header edits or a response. Built
//! once from a validated config; `handle` never panics on request data.

use std::sync::Arc;
use std::time::SystemTime;

use crate::client_ip::{ClientIdentity, ClientIpStage};
use crate::config::Config;
use crate::error::ConfigError;
use crate::geo::{GeoStage, GeoStatus};
use crate::log::{Log, StderrLog};
use crate::maintenance::{Action, BYPASS_HEADER, MaintenanceStage, Verdict};
use crate::request::{Decision, HeaderEdit, RequestView, Response};
use crate::signing::SigningStage;

/// A validated, ready-to-run pipeline.
pub struct Pipeline {
    client_ip: ClientIpStage,
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
        let signing = SigningStage::new(config)?;
        // Legal but probably unintended settings: said once per instance.
        for warning in config.warnings(SystemTime::now()) {
            log.log(crate::log::Level::Warn, &format!("edgeguard: {warning}"));
        }
        Ok(Self { client_ip, maintenance, geo, signing, log })
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
        // Room for a typical request's edits (client IP, strips, ~12 geo headers).
        let mut edits = Vec::with_capacity(16);
        let identity = self.client_ip.run(req, &mut edits, explain);
        self.signing.strip(req, &mut edits);
        if let Some(geo) = &self.geo {
            geo.strip(req, &mut edits);
        }
        let maintenance = self.maintenance.as_ref().map(|m| (m, m.decide(req, identity.client, now, log)));
        if let Some((stage, verdict)) = &maintenance {
            // The bypass secret is for EdgeGuard, not for the backends.
            if let Some(name) = stage.token_header().filter(|n| req.has_header(n)) {
                edits.push(HeaderEdit::Remove(name.to_string()));
            }
            match &verdict.action {
                Action::Block(response) => {
                    let decision = Decision::Respond(response.clone());
                    return Outcome { identity, maintenance: Some(verdict.clone()), geo: None, decision };
                }
                Action::Bypass(kind) if stage.debug_headers() => {
                    edits.push(HeaderEdit::SetResponse(BYPASS_HEADER.into(), kind.to_string()));
                }
                Action::Bypass(_) | Action::Pass => {}
            }
        }
        let maintenance = maintenance.map(|(_, v)| v);
        let mut geo_status = None;
        if let Some(geo) = &self.geo {
            match geo.run(identity.client, now, &mut edits, log) {
                Ok(status) => geo_status = Some(status),
                Err(_) => {
                    return Outcome {
                        identity,
                        maintenance,
                        geo: Some(GeoStatus::Unavailable),
                        decision: Decision::Respond(Response::unavailable()),
                    };
                }
            }
        }
        // Last: the signature covers the headers every stage above set.
        self.signing.sign(req, &mut edits, now);
        Outcome { identity, maintenance, geo: geo_status, decision: Decision::Forward(edits) }
    }
}
