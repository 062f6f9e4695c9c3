//! Prometheus metrics (`prometheus-client`), served as text on the admin
//! listener's `/metrics`. Everything is counted from the one [`Outcome`] the
//! pipeline already produced for the request: no second pass.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Metric, Registry};

use crate::geo::GeoStatus;
use crate::maintenance::Trigger;
use crate::pipeline::{Outcome, Pipeline};
use crate::request::{Decision, Refusal};

/// How a request ended, for `edgeguard_requests_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestEnd {
    /// Forwarded; the upstream answered.
    Forwarded,
    /// Answered with the maintenance page.
    Maintenance,
    /// Answered by the pipeline otherwise (geo `onError: fail` → 503).
    Unavailable,
    /// Refused: a forwarding header over `clientIp.maxHeaderBytes` (431).
    Refused,
    /// The upstream could not be reached or failed (502).
    UpstreamError,
    /// No response head within `server.timeouts.upstreamHeader` (504).
    UpstreamTimeout,
}

/// How a request the pipeline answered itself ended.
impl From<&Refusal> for RequestEnd {
    fn from(refusal: &Refusal) -> Self {
        match refusal {
            Refusal::Maintenance(_) => Self::Maintenance,
            Refusal::HeaderTooLarge | Refusal::UriTooLong => Self::Refused,
            Refusal::Unavailable | Refusal::Misconfigured => Self::Unavailable,
        }
    }
}

impl RequestEnd {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Forwarded => "forwarded",
            Self::Maintenance => "maintenance",
            Self::Unavailable => "unavailable",
            Self::Refused => "refused",
            Self::UpstreamError => "upstream_error",
            Self::UpstreamTimeout => "upstream_timeout",
        }
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    outcome: &'static str,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResolutionLabels {
    resolution: &'static str,
}

/// A geo lookup's or a reload's result.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TriggerLabels {
    trigger: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DatabaseLabels {
    database: String,
}

/// The sidecar's metrics.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    client_ip: Family<ResolutionLabels, Counter>,
    geo: Family<ResultLabels, Counter>,
    maintenance: Counter,
    maintenance_on: Family<TriggerLabels, Gauge>,
    reloads: Family<ResultLabels, Counter>,
    upstream_latency: Histogram,
    db_build: Family<DatabaseLabels, Gauge>,
    db_age: Family<DatabaseLabels, Gauge>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

/// A new metric, registered under `name`.
fn registered<M: Metric + Clone + Default>(registry: &mut Registry, name: &str, help: &str) -> M {
    let metric = M::default();
    registry.register(name, help, metric.clone());
    metric
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("edgeguard");
        let r = &mut registry;
        Self {
            requests: registered(r, "requests", "Requests by outcome and status sent to the client"),
            client_ip: registered(
                r,
                "client_ip_resolutions",
                "Client-IP resolution: trusted (chain believed), untrusted (peer is the client), unknown (a trusted proxy named no readable client: no geo, no CIDR bypass, not signed), refused (forwarding header over maxHeaderBytes, 431)",
            ),
            geo: registered(r, "geo_lookups", "Geo lookups: hit, miss or unavailable"),
            maintenance: registered(r, "maintenance_responses", "Maintenance pages served"),
            maintenance_on: registered(
                r,
                "maintenance_active",
                "1 for the trigger holding maintenance on (config, flag_file, window), 0 for the others; \
                 all 0 while maintenance is off (evaluated at scrape time)",
            ),
            reloads: registered(r, "config_reloads", "Config reloads: success or failure"),
            upstream_latency: {
                let histogram = Histogram::new(exponential_buckets(0.001, 2.0, 16));
                let help = "Time from sending a request upstream to its response head";
                r.register("upstream_response_seconds", help, histogram.clone());
                histogram
            },
            db_build: registered(
                r,
                "geo_database_build_epoch_seconds",
                "Build time of the geo database in use (Unix seconds)",
            ),
            db_age: registered(r, "geo_database_age_seconds", "Age of the geo database in use"),
            registry,
        }
    }

    /// Counts what the pipeline found for one request.
    pub fn pipeline(&self, outcome: &Outcome) {
        let resolution = match &outcome.identity.detection {
            None if matches!(outcome.decision, Decision::Respond(Refusal::HeaderTooLarge)) => "refused",
            None => "unknown",
            Some(d) if !d.peer_trusted => "untrusted",
            Some(d) if d.client().is_none() => "unknown",
            Some(_) => "trusted",
        };
        self.client_ip.get_or_create(&ResolutionLabels { resolution }).inc();
        if let Some(status) = outcome.geo {
            let result = match status {
                GeoStatus::Hit => "hit",
                GeoStatus::Miss => "miss",
                GeoStatus::Unavailable => "unavailable",
            };
            self.geo.get_or_create(&ResultLabels { result }).inc();
        }
        if matches!(outcome.decision, Decision::Respond(Refusal::Maintenance(_))) {
            self.maintenance.inc();
        }
    }

    /// Counts a finished request.
    pub fn request(&self, end: RequestEnd, status: u16) {
        self.requests.get_or_create(&RequestLabels { outcome: end.label(), status }).inc();
    }

    /// Records the upstream's time to response head.
    pub fn upstream_latency(&self, elapsed: Duration) {
        self.upstream_latency.observe(elapsed.as_secs_f64());
    }

    /// Counts a config reload.
    pub fn reload(&self, ok: bool) {
        self.reloads.get_or_create(&ResultLabels { result: if ok { "success" } else { "failure" } }).inc();
    }

    /// The text exposition, with the database gauges read from `pipeline` now.
    pub fn encode(&self, pipeline: &Pipeline) -> String {
        self.db_build.clear();
        self.db_age.clear();
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        for (path, epoch) in pipeline.geo_databases() {
            let Some(epoch) = epoch else { continue };
            let labels = DatabaseLabels { database: path.display().to_string() };
            let epoch = i64::try_from(epoch).unwrap_or(i64::MAX);
            self.db_build.get_or_create(&labels).set(epoch);
            self.db_age
                .get_or_create(&labels)
                .set(i64::try_from(now).unwrap_or(i64::MAX).saturating_sub(epoch));
        }
        // Maintenance as the pipeline sees it now (the flag file re-read when
        // due), not as of the last request: a scrape during a quiet cutover
        // still shows the switch. A probe request from nowhere is cheap and
        // counted nowhere; a state change it finds is logged like any other.
        let probe = crate::request::OwnedRequest::new("0.0.0.0:0");
        let trigger = pipeline.evaluate(&probe).maintenance.and_then(|v| v.trigger);
        for (t, label) in
            [(Trigger::Config, "config"), (Trigger::FlagFile, "flag_file"), (Trigger::Window, "window")]
        {
            self.maintenance_on
                .get_or_create(&TriggerLabels { trigger: label })
                .set(i64::from(trigger == Some(t)));
        }
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}
