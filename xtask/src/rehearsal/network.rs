//! The rehearsal's network: one Linux network namespace per host, each with
//! one veth (`eth0`) whose peer sits on a bridge in a namespace of its own.
//! Nothing is configured in the machine's own namespace, so no packet of the
//! rehearsal can leave it, and two runs (different names) never meet.

use std::fs::File;
use std::net::IpAddr;
use std::os::fd::AsRawFd;
use std::process::Command;

use anyhow::{Context, Result, bail};

/// What a host is, which decides its routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// On the internet: reaches only the load balancers' public side.
    Client,
    /// The ALB and the NLB: in the VPC, and reachable from the clients.
    Balancer,
    /// Inside the VPC only: no route to any client.
    Vpc,
}

/// One host of the rehearsal (all addresses are documentation/test ranges).
#[derive(Debug)]
pub struct HostSpec {
    pub name: &'static str,
    pub role: Role,
    /// `address/prefix`.
    pub v4: &'static str,
    pub v6: Option<&'static str>,
}

impl HostSpec {
    pub fn v4_addr(&self) -> IpAddr {
        address(self.v4)
    }

    pub fn v6_addr(&self) -> Option<IpAddr> {
        self.v6.map(address)
    }
}

fn address(cidr: &str) -> IpAddr {
    cidr.split('/').next().and_then(|a| a.parse().ok()).expect("HOSTS holds valid addresses")
}

/// The VPC of the EKS examples (`traefik-config/eks`).
pub const VPC: &str = "10.0.0.0/16";
/// The load balancers' public side, as the clients reach it.
const BALANCERS_V4: &str = "10.0.1.0/24";
const BALANCERS_V6: &str = "2001:db8:a::/64";
/// The client networks the load balancers answer.
const CLIENT_NETS_V4: &[&str] = &["203.0.113.0/24", "198.51.100.0/24"];
const CLIENT_NET_V6: &str = "2001:db8:c::/48";

/// Every host, once.
pub const HOSTS: &[HostSpec] = &[
    // A dual-stack home user (203.0.113.0/24: SE, Linköping in the test City database).
    HostSpec { name: "client-a", role: Role::Client, v4: "203.0.113.10/24", v6: Some("2001:db8:c::10/48") },
    // Another customer (198.51.100.0/25: CH, Zurich).
    HostSpec { name: "client-b", role: Role::Client, v4: "198.51.100.23/24", v6: None },
    // A client the City database does not know (198.51.100.128/25: ASN only).
    HostSpec { name: "client-c", role: Role::Client, v4: "198.51.100.200/24", v6: None },
    // The operator's office egress: maintenance.allow.cidrs lists exactly this address.
    HostSpec { name: "operator", role: Role::Client, v4: "198.51.100.7/24", v6: None },
    HostSpec { name: "alb", role: Role::Balancer, v4: "10.0.1.10/16", v6: Some("2001:db8:a::10/64") },
    HostSpec { name: "nlb", role: Role::Balancer, v4: "10.0.1.20/16", v6: Some("2001:db8:a::20/64") },
    HostSpec { name: "traefik", role: Role::Vpc, v4: "10.0.2.10/16", v6: None },
    // The Traefik 2 user's Traefik: no plugin, in front of the sidecar.
    HostSpec { name: "traefik2", role: Role::Vpc, v4: "10.0.2.11/16", v6: None },
    HostSpec { name: "sidecar", role: Role::Vpc, v4: "10.0.2.20/16", v6: None },
    HostSpec { name: "app", role: Role::Vpc, v4: "10.0.3.10/16", v6: None },
];

/// The host named `name` (a name from [`HOSTS`]).
pub fn host(name: &str) -> &'static HostSpec {
    HOSTS.iter().find(|h| h.name == name).unwrap_or_else(|| panic!("no host {name} in HOSTS"))
}

/// The namespaces of one run, named `<prefix>-<host>`, plus `<prefix>-switch`.
#[derive(Debug, Clone)]
pub struct Network {
    prefix: String,
}

impl Network {
    pub fn new(prefix: &str) -> Self {
        Self { prefix: prefix.to_string() }
    }

    /// The namespace of host `name`.
    pub fn ns(&self, name: &str) -> String {
        format!("{}-{name}", self.prefix)
    }

    fn switch(&self) -> String {
        self.ns("switch")
    }

    /// Every namespace this run creates, switch last (the order to delete them in).
    pub fn namespaces(&self) -> Vec<String> {
        HOSTS.iter().map(|h| self.ns(h.name)).chain([self.switch()]).collect()
    }

    /// Creates the switch and every host. On error, what was created is
    /// still listed by [`Network::namespaces`], so the caller's teardown removes it.
    pub fn create(&self) -> Result<()> {
        let sw = self.switch();
        ip(&["netns", "add", &sw])?;
        // No multicast snooping: without a querier it can swallow IPv6 neighbour discovery.
        ip(&["-n", &sw, "link", "add", "br0", "type", "bridge", "mcast_snooping", "0"])?;
        ip(&["-n", &sw, "link", "set", "br0", "up"])?;
        for (i, spec) in HOSTS.iter().enumerate() {
            let ns = self.ns(spec.name);
            let port = format!("p{i}");
            ip(&["netns", "add", &ns])?;
            ip(&["-n", &sw, "link", "add", &port, "type", "veth", "peer", "name", "eth0", "netns", &ns])?;
            ip(&["-n", &sw, "link", "set", &port, "master", "br0", "up"])?;
            ip(&["-n", &ns, "link", "set", "lo", "up"])?;
            ip(&["-n", &ns, "addr", "add", spec.v4, "dev", "eth0"])?;
            if let Some(v6) = spec.v6 {
                // nodad: usable at once, not after duplicate address detection.
                ip(&["-n", &ns, "-6", "addr", "add", v6, "dev", "eth0", "nodad"])?;
            }
            ip(&["-n", &ns, "link", "set", "eth0", "up"])?;
            for route in routes(spec) {
                let family = if route.contains(':') { "-6" } else { "-4" };
                ip(&["-n", &ns, family, "route", "add", route, "dev", "eth0"])?;
            }
        }
        Ok(())
    }
}

/// On-link routes beyond the host's own prefix: clients see only the
/// balancers, balancers answer the clients, VPC hosts see only the VPC.
fn routes(spec: &HostSpec) -> Vec<&'static str> {
    match spec.role {
        Role::Client => {
            let mut routes = vec![BALANCERS_V4];
            if spec.v6.is_some() {
                routes.push(BALANCERS_V6);
            }
            routes
        }
        Role::Balancer => CLIENT_NETS_V4.iter().copied().chain([CLIENT_NET_V6]).collect(),
        Role::Vpc => Vec::new(),
    }
}

/// Deletes namespace `ns` (with its veth, whose peer on the bridge goes too);
/// a namespace that does not exist is not an error.
pub fn delete(ns: &str) -> Result<()> {
    if !std::path::Path::new("/run/netns").join(ns).exists() {
        return Ok(());
    }
    ip(&["netns", "del", ns])
}

/// Moves the calling thread into namespace `ns`: every socket it opens from
/// then on lives there. Only for threads started for that purpose.
pub fn enter(ns: &str) -> Result<()> {
    let file = File::open(format!("/run/netns/{ns}")).with_context(|| format!("namespace {ns}"))?;
    // SAFETY: setns only reads the descriptor, which `file` keeps open for the call.
    let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
    if rc != 0 {
        bail!("setns({ns}): {}", std::io::Error::last_os_error());
    }
    Ok(())
}

fn ip(args: &[&str]) -> Result<()> {
    let out = Command::new("ip").args(args).output().context("cannot run `ip` (Debian package iproute2)")?;
    if !out.status.success() {
        bail!("`ip {}` failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_test_ranges_and_the_named_ones() {
        let want = [
            ("alb", "10.0.1.10"),
            ("nlb", "10.0.1.20"),
            ("traefik", "10.0.2.10"),
            ("sidecar", "10.0.2.20"),
            ("app", "10.0.3.10"),
        ];
        for (name, addr) in want {
            assert_eq!(host(name).v4_addr().to_string(), addr, "{name}");
        }
        for spec in HOSTS {
            let v4 = spec.v4;
            let ok = match spec.role {
                Role::Client => v4.starts_with("203.0.113.") || v4.starts_with("198.51.100."),
                Role::Balancer | Role::Vpc => v4.starts_with("10.0."),
            };
            assert!(ok, "{}: {v4} is outside its test range", spec.name);
            if let Some(v6) = spec.v6 {
                assert!(v6.starts_with("2001:db8:"), "{}: {v6}", spec.name);
            }
        }
    }

    #[test]
    fn clients_reach_only_the_balancers() {
        for spec in HOSTS.iter().filter(|h| h.role == Role::Client) {
            for route in routes(spec) {
                assert!(route == BALANCERS_V4 || route == BALANCERS_V6, "{}: {route}", spec.name);
            }
        }
        for spec in HOSTS.iter().filter(|h| h.role == Role::Vpc) {
            assert!(routes(spec).is_empty(), "{} must not reach the clients", spec.name);
        }
    }
}
