//! The request pipeline: resolve client → strip spoofable headers →
//! (maintenance) → geo → header edits or a response. Built once from a
//! validated config; `handle` never panics on request data.

use std::sync::Arc;

use crate::client_ip::{ClientIdentity, ClientIpStage};
use crate::config::Config;
use crate::error::ConfigError;
use crate::log::{Log, StderrLog};
use crate::request::{Decision, RequestView};

/// A validated, ready-to-run pipeline.
pub struct Pipeline {
    client_ip: ClientIpStage,
    log: Arc<dyn Log>,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline").field("client_ip", &self.client_ip).finish_non_exhaustive()
    }
}

/// Everything the pipeline decided for one request, for `explain` and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Who the client is and why.
    pub identity: ClientIdentity,
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
        Ok(Self { client_ip, log })
    }

    /// Decodes and validates a JSON config in one step, logging to stderr.
    pub fn from_json(doc: &[u8]) -> Result<Self, ConfigError> {
        Self::new(&Config::from_json(doc)?)
    }

    /// Runs every stage and returns the decision with its explanation.
    pub fn outcome(&self, req: &impl RequestView) -> Outcome {
        let mut edits = Vec::new();
        let identity = self.client_ip.run(req, &mut edits);
        Outcome { identity, decision: Decision::Forward(edits) }
    }

    /// Runs every stage; the hot path for host adapters.
    pub fn handle(&self, req: &impl RequestView) -> Decision {
        self.outcome(req).decision
    }
}
