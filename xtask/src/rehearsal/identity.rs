//! Scenarios 1, 3 and 4: who the app thinks the client is, without
//! EdgeGuard (the seed's bug), with the plugin, with the sidecar, and the
//! geo headers for each client host.

use std::collections::BTreeMap;
use std::net::IpAddr;

use anyhow::Result;

use super::client::Reply;
use super::network::{HOSTS, Network, host};
use super::probe::{AppView, Path, Probe, in_host};
use super::verdict::{Checks, Needs};

/// A client address and what the committed test databases say about it
/// (testdata/geo/source.json: City for country and city, ASN for the number).
struct Client {
    host: &'static str,
    v6: bool,
    country: Option<&'static str>,
    /// As EdgeGuard writes it (`geo.encoding: percent`, the default).
    city: Option<&'static str>,
    asn: Option<&'static str>,
}

const CLIENTS: &[Client] = &[
    Client {
        host: "client-a",
        v6: false,
        country: Some("SE"),
        city: Some("Link%C3%B6ping"),
        asn: Some("64496"),
    },
    // 2001:db8:c::/48 is in neither database: no geo header at all.
    Client { host: "client-a", v6: true, country: None, city: None, asn: None },
    Client { host: "client-b", v6: false, country: Some("CH"), city: Some("Zurich"), asn: Some("64497") },
    // 198.51.100.128/25 has no City data; its /24 is in the ASN database.
    Client { host: "client-c", v6: false, country: None, city: None, asn: Some("64497") },
    Client { host: "operator", v6: false, country: Some("CH"), city: Some("Zurich"), asn: Some("64497") },
];

impl Client {
    fn addr(&self) -> IpAddr {
        let spec = host(self.host);
        if self.v6 { spec.v6_addr().expect("a dual-stack client") } else { spec.v4_addr() }
    }

    fn label(&self) -> String {
        format!("{} {}", self.host, self.addr())
    }
}

/// An entry a client puts into X-Forwarded-For itself (the chain keeps it).
const FORGED_HOP: &str = "192.0.2.66";
/// The address every forged identity header claims.
const FORGED_IP: &str = "192.0.2.99";

/// Identity headers a client forges, in their canonical spelling: none of
/// these values may reach the app.
const FORGED: &[(&str, &str)] = &[
    ("X-Real-IP", FORGED_IP),
    ("X-Original-Forwarded-For", FORGED_IP),
    ("X-Geo-Country", "XX"),
    ("X-Geo-City", "Forgedville"),
    ("X-Geo-ASN", "4242"),
    ("X-EdgeGuard-Signature", "v1;kid=k1;t=1;h=x-real-ip;sig=forgedforgedforgedforgedforgedforgedforgeA"),
    ("X-Maintenance-Token", "forged-token"),
];

/// The same headers spelled as other stacks read them ('_' for CGI/WSGI/PHP,
/// '.', other case), and the other single-address identity headers.
/// Issue #13 strips them from every peer.
const FORGED_SPELLINGS: &[(&str, &str)] = &[
    ("X_Real_IP", FORGED_IP),
    ("x.real.ip", FORGED_IP),
    ("X_Original_Forwarded_For", FORGED_IP),
    ("X.Original.Forwarded.For", FORGED_IP),
    ("x_geo_country", "XX"),
    ("X.Geo.City", "Forgedville"),
    ("X_EDGEGUARD_SIGNATURE", "v1;kid=k1;t=1;h=x-real-ip;sig=forgedforgedforgedforgedforgedforgedforgeA"),
    ("X.EdgeGuard.Signature", "v1;kid=k1;t=1;h=x-real-ip;sig=forgedforgedforgedforgedforgedforgedforgeA"),
    ("X_Maintenance_Token", "forged-token"),
    ("X-Client-IP", FORGED_IP),
    ("True-Client-IP", FORGED_IP),
    ("CF-Connecting-IP", FORGED_IP),
];

/// A value a client forged: equal to one above, or holding the forged
/// address or marker words (exact equality for the short ones, which could
/// occur by chance inside a signature).
fn is_forged(value: &str) -> bool {
    FORGED.iter().any(|(_, forged)| value == *forged)
        || value.contains(FORGED_IP)
        || value.contains("Forgedville")
        || value.contains("forged")
}

/// The names above, in the form the app reports them (lower case).
fn forged_names(headers: &[(&str, &str)]) -> Vec<String> {
    headers.iter().map(|(n, _)| n.to_ascii_lowercase()).collect()
}

/// Sends `probe` from the host that owns its source address.
pub fn fetch(net: &Network, probe: Probe) -> Result<Reply> {
    let owner = HOSTS
        .iter()
        .find(|h| h.v4_addr() == probe.from || h.v6_addr() == Some(probe.from))
        .map(|h| h.name)
        .ok_or_else(|| anyhow::anyhow!("no host has {}", probe.from))?;
    in_host(&net.ns(owner), move || async move { probe.send().await })?
}

fn view(net: &Network, probe: Probe) -> Result<AppView> {
    AppView::parse(&fetch(net, probe)?)
}

/// Scenario 1: the seed's bug without EdgeGuard, and its fix with it.
pub fn seed_bug(net: &Network, checks: &mut Checks) {
    println!("\n[1] the seed's bug, reproduced without EdgeGuard and fixed with it");
    let alb = host("alb").v4_addr().to_string();
    let a = &CLIENTS[0];
    let a6 = &CLIENTS[1];

    // Without EdgeGuard, Traefik trusting the VPC (as EdgeGuard's docs tell users to).
    for client in [a, a6] {
        let what = format!("no EdgeGuard, {}: RemoteIpValve removes X-Forwarded-For", client.label());
        match view(net, Probe::new(client.addr(), Path::SeedTrusting, "/orders")) {
            Ok(v) => {
                println!(
                    "      {}: arrived X-Forwarded-For {:?}, after the valve {:?}, getRemoteAddr() {}",
                    Path::SeedTrusting.name(),
                    v.x_forwarded_for_arrived,
                    v.x_forwarded_for,
                    v.remote_addr
                );
                let chain = format!("{}, {alb}", client.addr());
                checks.eq(
                    1,
                    Needs::Current,
                    &format!("{what} (it arrived)"),
                    v.x_forwarded_for_arrived,
                    Some(chain),
                );
                checks.eq(1, Needs::Current, &what, v.x_forwarded_for, None);
            }
            Err(e) => checks.error(1, &what, &e),
        }
    }
    let what = format!(
        "no EdgeGuard, {}: the valve rewrites X-Forwarded-For to the client's own entries",
        a.label()
    );
    match view(net, Probe::new(a.addr(), Path::SeedTrusting, "/orders").header("X-Forwarded-For", FORGED_HOP))
    {
        Ok(v) => {
            println!(
                "      client sent X-Forwarded-For {FORGED_HOP}: arrived {:?}, after the valve {:?}",
                v.x_forwarded_for_arrived, v.x_forwarded_for
            );
            checks.eq(1, Needs::Current, &what, v.x_forwarded_for, Some(FORGED_HOP.to_string()));
        }
        Err(e) => checks.error(1, &what, &e),
    }
    // Traefik's default entrypoint: it drops the ALB's chain, so the valve
    // only sees the ALB, a private address it skips as "internal", and
    // settles on it: every client behind the two hops is the ALB.
    for client in [a, &CLIENTS[2]] {
        let what = format!(
            "no EdgeGuard, default entrypoint, {}: getRemoteAddr() is the ALB, not the client",
            client.label()
        );
        match view(net, Probe::new(client.addr(), Path::SeedDefault, "/orders")) {
            Ok(v) => {
                println!(
                    "      {}: getRemoteAddr() {} for client {} (X-Forwarded-For arrived {:?}, after {:?})",
                    Path::SeedDefault.name(),
                    v.remote_addr,
                    client.addr(),
                    v.x_forwarded_for_arrived,
                    v.x_forwarded_for
                );
                checks.eq(1, Needs::Current, &what, v.remote_addr, alb.clone());
            }
            Err(e) => checks.error(1, &what, &e),
        }
    }

    // With EdgeGuard: IPv4 and IPv6, ALB and NLB, a client forging its identity.
    for client in [a, a6, &CLIENTS[2]] {
        for path in [Path::AlbPlugin, Path::NlbPlugin, Path::AlbSidecar, Path::NlbSidecar] {
            with_edgeguard(net, checks, client, path);
        }
    }
    // Issue #13: a client's own `Forwarded` header must not pick its identity
    // through the ALB (default `sources` becomes X-Forwarded-For only).
    for path in [Path::AlbPlugin, Path::AlbSidecar] {
        let what =
            format!("{}, {}: a forged `Forwarded: for=` does not pick the client", a.label(), path.name());
        let probe = Probe::new(a.addr(), path, "/orders").header("Forwarded", &format!("for={FORGED_IP}"));
        match view(net, probe) {
            Ok(v) => checks.eq(
                1,
                Needs::Issue13,
                &what,
                v.header("x-real-ip"),
                Some(a.addr().to_string().as_str()),
            ),
            Err(e) => checks.error(1, &what, &e),
        }
    }
}

fn with_edgeguard(net: &Network, checks: &mut Checks, client: &Client, path: Path) {
    let label = format!("{}, {}", client.label(), path.name());
    let probe = Probe::new(client.addr(), path, "/orders?cart=1")
        .header("X-Forwarded-For", FORGED_HOP)
        .headers(FORGED)
        .headers(FORGED_SPELLINGS);
    let v = match view(net, probe) {
        Ok(v) => v,
        Err(e) => return checks.error(1, &format!("{label}: the filter accepts the request"), &e),
    };
    let addr = client.addr().to_string();
    println!(
        "      {label}: getRemoteAddr() {}, X-Real-IP {:?}, X-Original-Forwarded-For {:?}, X-Forwarded-For after the valve {:?}",
        v.remote_addr,
        v.header("x-real-ip"),
        v.header("x-original-forwarded-for"),
        v.x_forwarded_for
    );
    let now = Needs::Current;
    checks.eq(1, now, &format!("{label}: getRemoteAddr()"), v.remote_addr.as_str(), addr.as_str());
    checks.eq(1, now, &format!("{label}: X-Real-IP"), v.header("x-real-ip"), Some(addr.as_str()));
    checks.eq(
        1,
        now,
        &format!("{label}: the filter verified the client"),
        v.verified_client_ip.as_deref(),
        Some(addr.as_str()),
    );
    checks.eq(
        1,
        now,
        &format!("{label}: the filter verified the country"),
        v.verified_country.as_deref(),
        client.country,
    );
    match path {
        // The ALB appended the client to the line the client wrote; in front
        // of the sidecar, Traefik appended the ALB as well.
        Path::AlbPlugin | Path::AlbSidecar => {
            let chain = if path == Path::AlbPlugin {
                format!("{FORGED_HOP}, {addr}")
            } else {
                format!("{FORGED_HOP}, {addr}, {}", host("alb").v4_addr())
            };
            checks.eq(
                1,
                now,
                &format!("{label}: X-Original-Forwarded-For is the full chain"),
                v.header("x-original-forwarded-for"),
                Some(chain.as_str()),
            );
        }
        // Proxy protocol: the client is the peer, and untrusted: its chain is
        // neither preserved nor passed on (Traefik's `nlb` entrypoint already
        // drops it; in front of the sidecar nothing does).
        _ => {
            checks.eq(
                1,
                Needs::Issue13,
                &format!("{label}: no X-Original-Forwarded-For from an untrusted peer"),
                v.header("x-original-forwarded-for"),
                None,
            );
            let arrived = v.x_forwarded_for_arrived.clone().unwrap_or_default();
            checks.that(
                1,
                Needs::Issue13,
                &format!("{label}: an untrusted peer's X-Forwarded-For is dropped"),
                !arrived.contains(FORGED_HOP),
                format!("X-Forwarded-For at the app {arrived:?}"),
            );
        }
    }
    let leaked: Vec<String> = v
        .headers
        .iter()
        .filter(|(_, value)| value.as_deref().is_some_and(is_forged))
        .map(|(name, value)| format!("{name}: {}", value.as_deref().unwrap_or_default()))
        .filter(|line| !forged_names(FORGED_SPELLINGS).iter().any(|n| line.starts_with(&format!("{n}:"))))
        .collect();
    checks.eq(
        1,
        now,
        &format!("{label}: forged identity headers never reach the app"),
        leaked,
        Vec::<String>::new(),
    );
    let present: Vec<String> =
        forged_names(FORGED_SPELLINGS).into_iter().filter(|n| v.headers.contains_key(n)).collect();
    checks.eq(
        1,
        Needs::Issue13,
        &format!("{label}: no other spelling of a managed header reaches the app"),
        present,
        Vec::new(),
    );
}

/// Scenario 3: each client host gets the geo headers its address maps to, both paths.
pub fn geo(net: &Network, checks: &mut Checks) {
    println!("\n[3] geo through the chain (testdata/geo test databases)");
    for client in CLIENTS {
        for path in [Path::AlbPlugin, Path::NlbPlugin, Path::AlbSidecar, Path::NlbSidecar] {
            let label = format!("{}, {}", client.label(), path.name());
            match view(net, Probe::new(client.addr(), path, "/geo")) {
                Ok(v) => {
                    let got = (v.header("x-geo-country"), v.header("x-geo-city"), v.header("x-geo-asn"));
                    checks.eq(
                        3,
                        Needs::Current,
                        &format!("{label}: country, city, ASN"),
                        got,
                        (client.country, client.city, client.asn),
                    );
                    if client.country.is_none() && client.asn.is_none() {
                        let geo: Vec<&str> =
                            v.identity().into_keys().filter(|n| n.starts_with("x-geo-")).collect();
                        checks.eq(
                            3,
                            Needs::Current,
                            &format!("{label}: no geo header at all"),
                            geo,
                            Vec::new(),
                        );
                    }
                }
                Err(e) => checks.error(3, &label, &e),
            }
        }
    }
}

/// What must be equal between the plugin and the sidecar for one client.
#[derive(Debug, PartialEq, Eq)]
struct Identity<'a> {
    remote_addr: &'a str,
    /// X-Real-IP and every X-Geo-* header.
    headers: BTreeMap<&'a str, &'a str>,
    verified_client_ip: Option<&'a str>,
    verified_country: Option<&'a str>,
    signed: Vec<&'a str>,
}

impl<'a> Identity<'a> {
    fn of(v: &'a AppView) -> Self {
        Self {
            remote_addr: &v.remote_addr,
            headers: v.identity(),
            verified_client_ip: v.verified_client_ip.as_deref(),
            verified_country: v.verified_country.as_deref(),
            signed: v
                .verified_headers
                .as_ref()
                .map(|h| h.keys().map(String::as_str).collect())
                .unwrap_or_default(),
        }
    }
}

/// Scenario 4: the sidecar gives the app the same identity as the plugin.
pub fn sidecar_matches_plugin(net: &Network, checks: &mut Checks) {
    println!("\n[4] the sidecar path gives the app the same headers as the plugin path");
    for client in CLIENTS {
        for (plugin, sidecar) in [(Path::AlbPlugin, Path::AlbSidecar), (Path::NlbPlugin, Path::NlbSidecar)] {
            let label = format!("{}: {} vs {}", client.label(), plugin.name(), sidecar.name());
            let send = |path| {
                view(
                    net,
                    Probe::new(client.addr(), path, "/orders")
                        .header("X-Forwarded-For", FORGED_HOP)
                        .headers(FORGED),
                )
            };
            match (send(plugin), send(sidecar)) {
                (Ok(p), Ok(s)) => {
                    println!(
                        "      {label}: X-Original-Forwarded-For {:?} vs {:?} (the sidecar is one hop further)",
                        p.header("x-original-forwarded-for"),
                        s.header("x-original-forwarded-for")
                    );
                    checks.eq(4, Needs::Current, &format!("{label}: remote address, X-Real-IP, geo, verified client, country, signed headers"), Identity::of(&s), Identity::of(&p));
                }
                (Err(e), _) | (_, Err(e)) => checks.error(4, &label, &e),
            }
        }
    }
}
