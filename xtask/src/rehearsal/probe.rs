//! The clients' side: requests sent from inside a host's namespace, and the
//! app's JSON answer read back.
//!
//! Each host's traffic runs on a thread of its own that first enters the
//! host's namespace, then drives a single-threaded tokio runtime: every
//! socket it opens belongs to that host.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use serde::Deserialize;

use super::client::{Reply, send};
use super::deploy::{
    ALB_PORT, NLB_SIDECAR_PORT, NLB_TRAEFIK_PORT, SEED_DEFAULT_HOST, SEED_HOST, SHOP_HOST, SIDECAR_HOST,
};
use super::network::{self, host};

/// Longest wait for one answer.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// A way from the internet to the app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Path {
    /// ALB → Traefik with EdgeGuard → app.
    AlbPlugin,
    /// NLB (proxy protocol) → Traefik with EdgeGuard → app.
    NlbPlugin,
    /// ALB → Traefik without plugin → `edgeguard serve` → app.
    AlbSidecar,
    /// NLB (proxy protocol) → `edgeguard serve` → app.
    NlbSidecar,
    /// Without EdgeGuard: ALB → Traefik (entrypoint trusting the VPC) → app.
    SeedTrusting,
    /// Without EdgeGuard: ALB → Traefik with its default entrypoint → app.
    SeedDefault,
}

impl Path {
    pub const fn name(self) -> &'static str {
        match self {
            Self::AlbPlugin => "ALB → Traefik+EdgeGuard",
            Self::NlbPlugin => "NLB → Traefik+EdgeGuard",
            Self::AlbSidecar => "ALB → Traefik (no plugin) → sidecar",
            Self::NlbSidecar => "NLB → sidecar",
            Self::SeedTrusting => "ALB → Traefik (trusts the VPC), no EdgeGuard",
            Self::SeedDefault => "ALB → Traefik (default entrypoint), no EdgeGuard",
        }
    }

    /// The balancer address and port the client connects to.
    pub fn target(self, v6: bool) -> SocketAddr {
        let (balancer, port) = match self {
            Self::AlbPlugin | Self::AlbSidecar | Self::SeedTrusting | Self::SeedDefault => ("alb", ALB_PORT),
            Self::NlbPlugin => ("nlb", NLB_TRAEFIK_PORT),
            Self::NlbSidecar => ("nlb", NLB_SIDECAR_PORT),
        };
        let spec = host(balancer);
        let ip = if v6 { spec.v6_addr().expect("balancers are dual-stack") } else { spec.v4_addr() };
        SocketAddr::new(ip, port)
    }

    /// The `Host` header (the ALB's listener rules pick the backend by it).
    pub const fn host(self) -> &'static str {
        match self {
            Self::AlbSidecar | Self::NlbSidecar => SIDECAR_HOST,
            Self::SeedTrusting => SEED_HOST,
            Self::SeedDefault => SEED_DEFAULT_HOST,
            Self::AlbPlugin | Self::NlbPlugin => SHOP_HOST,
        }
    }

    /// The app's path prefix: the seed's context has no EdgeGuard filter.
    pub const fn prefix(self) -> &'static str {
        match self {
            Self::SeedTrusting | Self::SeedDefault => "/seed",
            _ => "",
        }
    }
}

/// One request: from which client address, along which path.
#[derive(Debug, Clone)]
pub struct Probe {
    pub from: IpAddr,
    pub path: Path,
    /// Below [`Path::prefix`].
    pub target: String,
    pub headers: Vec<(String, String)>,
}

impl Probe {
    pub fn new(from: IpAddr, path: Path, target: &str) -> Self {
        Self { from, path, target: target.to_string(), headers: Vec::new() }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn headers(mut self, headers: &[(&str, &str)]) -> Self {
        for (name, value) in headers {
            self = self.header(name, value);
        }
        self
    }

    /// Sends it (from inside the client's namespace, see [`in_host`]).
    pub async fn send(&self) -> Result<Reply> {
        let mut headers: Vec<(&str, &str)> = vec![("host", self.path.host())];
        headers.extend(self.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        let target = self.path.target(self.from.is_ipv6());
        let uri = format!("{}{}", self.path.prefix(), self.target);
        tokio::time::timeout(REQUEST_TIMEOUT, send(Some(self.from), target, "GET", &uri, &headers))
            .await
            .map_err(|_| anyhow!("no answer within {REQUEST_TIMEOUT:?}"))?
            .with_context(|| format!("GET {uri} from {} via {}", self.from, self.path.name()))
    }
}

/// What the app saw (RehearsalApp.java's JSON answer).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct AppView {
    pub remote_addr: String,
    /// After RemoteIpValve.
    pub x_forwarded_for: Option<String>,
    /// As it reached Tomcat, before the valve.
    pub x_forwarded_for_arrived: Option<String>,
    /// Every request header after the valve, lower-case name → lines joined with ", ".
    pub headers: BTreeMap<String, Option<String>>,
    pub verified_client_ip: Option<String>,
    pub verified_country: Option<String>,
    pub verified_headers: Option<BTreeMap<String, String>>,
}

impl AppView {
    pub fn parse(reply: &Reply) -> Result<Self> {
        if reply.status != 200 {
            anyhow::bail!("status {} instead of the app's 200: {}", reply.status, reply.body.trim());
        }
        serde_json::from_str(&reply.body).with_context(|| format!("not the app's answer: {}", reply.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.as_deref())
    }

    /// The identity headers EdgeGuard sets: X-Real-IP and every X-Geo-*.
    pub fn identity(&self) -> BTreeMap<&str, &str> {
        self.headers
            .iter()
            .filter(|(name, _)| *name == "x-real-ip" || name.starts_with("x-geo-"))
            .filter_map(|(name, value)| Some((name.as_str(), value.as_deref()?)))
            .collect()
    }
}

/// Runs `work` on a new thread inside host `name`'s namespace and waits for it.
pub fn in_host<F, Fut, T>(ns: &str, work: F) -> Result<T>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = T>,
    T: Send + 'static,
{
    spawn_in_host(ns, work)?.join().map_err(|_| anyhow!("a client thread in {ns} panicked"))?
}

/// Starts `work` on a new thread inside namespace `ns`.
pub fn spawn_in_host<F, Fut, T>(ns: &str, work: F) -> Result<std::thread::JoinHandle<Result<T>>>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = T>,
    T: Send + 'static,
{
    let ns = ns.to_string();
    std::thread::Builder::new()
        .name(format!("client {ns}"))
        .spawn(move || {
            network::enter(&ns)?;
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            Ok(rt.block_on(work()))
        })
        .context("spawning a client thread")
}
