//! Every case of the shared client-IP table (`testdata/client-ip-cases.yaml`)
//! through the real sidecar. The case's `peer` is reproduced exactly with a
//! PROXY protocol header (v1 and v2 alternately) sent from 127.0.0.1, which
//! `server.proxyProtocol.trustedIps` trusts.
//!
//! The table's `upstream` values are what EdgeGuard leaves; like Traefik's
//! proxy after the plugin (tests/e2e/client_ip.rs: "Normalized by EdgeGuard,
//! then Traefik's proxy appends the peer"), the sidecar then appends the peer
//! to `X-Forwarded-For`. So an expected `X-Forwarded-For: v` becomes
//! `v, <peer>` and an expected absence becomes `<peer>`.
//!
//! What the wire changes, and why each case still holds:
//! - a peer's IPv6 zone (`[fe80::1%eth0]:80`) cannot travel in a PROXY header;
//!   the core drops zones anyway, so the sidecar sees `fe80::1` and resolves the same;
//! - HTTP strips leading/trailing whitespace of header values, so
//!   `"  203.0.113.7 ,\t10.0.0.2 "` arrives trimmed; normalization gives the same result.
//!
//! The resolved client (`client`) is read from the trace header the table's
//! defaults enable (`client=<ip>`), in every case that keeps it on.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use serde_json::{Value, json};

use crate::harness::{Sidecar, echo, proxy_header};
use crate::support::client_ip_cases::{Case, table};

/// The peer as a socket address for the PROXY header (zone dropped), and the
/// address a proxy appends to `X-Forwarded-For` (IPv4-mapped shown as IPv4).
fn peer(case: &Case) -> (SocketAddr, String) {
    // `ip:port` or `[v6%zone]:port`; the zone cannot travel in a PROXY header.
    let (host, port) =
        case.peer.rsplit_once(':').unwrap_or_else(|| panic!("{}: peer without port", case.name));
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let host = host.split_once('%').map_or(host, |(addr, _zone)| addr);
    // Keep an IPv4-mapped IPv6 form on the wire, as a dual-stack LB would send it.
    let wire_ip: std::net::IpAddr = host.parse().unwrap_or_else(|e| panic!("{}: peer {e}", case.name));
    let port = port.parse().unwrap_or_else(|e| panic!("{}: peer port {e}", case.name));
    (SocketAddr::new(wire_ip, port), wire_ip.to_canonical().to_string())
}

#[test]
fn every_table_case_gives_the_plugins_headers() {
    let table = table();
    let upstream = echo();
    // One sidecar per distinct clientIp config.
    let mut groups: BTreeMap<String, Vec<&Case>> = BTreeMap::new();
    for case in &table.cases {
        groups.entry(table.client_ip(case).to_string()).or_default().push(case);
    }
    let mut replayed = 0;
    let mut index = 0;
    for (client_ip, cases) in &groups {
        let client_ip: Value = serde_json::from_str(client_ip).unwrap();
        let trace_header = client_ip["traceHeader"].as_str().unwrap_or_default().to_string();
        let sidecar = Sidecar::start(json!({
            "server": {"upstream": format!("http://{upstream}"), "proxyProtocol": {"trustedIps": ["127.0.0.1/32"]}},
            "clientIp": client_ip,
        }));
        for case in cases {
            index += 1;
            let (source, appended) = peer(case);
            let headers: Vec<(&str, &str)> =
                case.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
            let reply = sidecar.request(Some(proxy_header(source, index % 2 == 0)), "GET", "/", &headers);
            let ctx =
                format!("case {} (peer {}, headers {:?}): {reply:?}", case.name, case.peer, case.headers);
            if let Some(status) = case.status {
                assert_eq!(reply.status, status, "{ctx}\n{}", sidecar.log());
                assert!(!reply.body.contains("\"headers\""), "{ctx}: reached the backend");
                replayed += 1;
                continue;
            }
            assert_eq!(reply.status, 200, "{ctx}\n{}", sidecar.log());
            let joined = |name: &str| {
                let values = reply.upstream_header(name);
                (!values.is_empty()).then(|| values.join(", "))
            };
            for (name, want) in &case.upstream {
                let want = want.as_str().map(str::to_string);
                let want = if name.eq_ignore_ascii_case("X-Forwarded-For") {
                    Some(want.map_or(appended.clone(), |v| format!("{v}, {appended}")))
                } else {
                    want
                };
                assert_eq!(joined(name), want, "{ctx}: upstream {name}");
            }
            if !trace_header.is_empty() {
                let trace = joined(&trace_header).unwrap_or_else(|| panic!("{ctx}: no trace header"));
                let client = case.trace_client();
                assert!(trace.contains(&client), "{ctx}: {client:?} not in {trace}");
                if let Some(want) = &case.trace {
                    assert!(trace.contains(want.as_str()), "{ctx}: trace lacks {want:?}");
                }
                if let Some(unwanted) = &case.trace_absent {
                    assert!(!trace.contains(unwanted.as_str()), "{ctx}: trace has {unwanted:?}");
                }
            } else if let Some((header, client)) = client_ip["header"]
                .as_str()
                .or(Some("X-Real-IP"))
                .filter(|h| !h.is_empty())
                .zip(case.known_client())
            {
                assert_eq!(joined(header).as_deref(), Some(client), "{ctx}: {header}");
            }
            replayed += 1;
        }
    }
    assert_eq!(replayed, table.cases.len());
    println!("replayed {replayed} client-IP cases through the sidecar ({} configs)", groups.len());
}
