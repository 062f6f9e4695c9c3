//! Geo headers from the test databases (issue #4), mounted at guest `/geo`
//! under the names the shared Middleware reads.

use crate::support::geo_expected::{SE_CLIENT, SE_CLIENT_OPT_IN};
use crate::support::target::{Capability::UntrustedPeer, Peer, run};

const SPOOF: [(&str, &str); 3] = [("X-Geo-Country", "US"), ("X_Geo_City", "Springfield"), ("X-Geo-ASN", "1")];

#[test]
fn ipv4_and_ipv6_clients_through_a_trusted_proxy_get_geo_headers() {
    run(&[], |t| {
        let chain = format!("203.0.113.10, {}", t.trusted_hop());
        let v4 = t.get(Peer::TrustedProxy, "/", &[("X-Forwarded-For", &chain)]);
        assert_eq!(v4.status, 200, "{v4:?}\n{}", t.diagnostics());
        for &(name, want) in SE_CLIENT {
            assert_eq!(v4.upstream_one(name).as_deref(), Some(want), "{name}: {v4:?}");
        }
        // The shared Middleware keeps the default header set: opt-in fields stay off.
        for &(_, name, _) in SE_CLIENT_OPT_IN {
            assert_eq!(v4.upstream_one(name), None, "{name} is opt-in: {v4:?}");
        }
        let v6 = t.get(Peer::TrustedProxy, "/", &[("X-Forwarded-For", "[2001:db8:2::1]:443")]);
        assert_eq!(v6.upstream_one("x-real-ip").as_deref(), Some("2001:db8:2::1"), "{v6:?}");
        assert_eq!(v6.upstream_one("x-geo-country").as_deref(), Some("BR"), "{v6:?}");
        assert_eq!(v6.upstream_one("x-geo-city").as_deref(), Some("S%C3%A3o Paulo"), "{v6:?}");
        assert_eq!(v6.upstream_one("x-geo-asn").as_deref(), Some("64499"), "{v6:?}");
    });
}

#[test]
fn client_sent_geo_headers_never_pass_from_an_untrusted_peer() {
    run(&[UntrustedPeer], |t| {
        // Untrusted peer, not in the database: no geo header at all.
        let direct = t.get(Peer::Untrusted, "/", &SPOOF);
        assert_eq!(direct.status, 200, "{direct:?}");
        for name in ["x-geo-country", "x_geo_city", "x-geo-asn"] {
            assert_eq!(direct.upstream_one(name), None, "{name}: {direct:?}");
        }
    });
}

#[test]
fn client_sent_geo_headers_are_replaced_behind_a_trusted_proxy() {
    run(&[], |t| {
        // Trusted chain to an address without data: the spoofed values are gone.
        let mut headers = SPOOF.to_vec();
        headers.push(("X-Forwarded-For", "10.1.2.3"));
        let unknown = t.get(Peer::TrustedProxy, "/", &headers);
        assert_eq!(unknown.upstream_one("x-real-ip").as_deref(), Some("10.1.2.3"), "{unknown:?}");
        for name in ["x-geo-country", "x_geo_city", "x-geo-asn"] {
            assert_eq!(unknown.upstream_one(name), None, "{name}: {unknown:?}");
        }
        // Trusted chain to a known address: EdgeGuard's value replaces the spoofed one.
        headers.pop();
        headers.push(("X-Forwarded-For", "203.0.113.10"));
        let known = t.get(Peer::TrustedProxy, "/", &headers);
        assert_eq!(known.upstream_header("x-geo-country"), vec!["SE".to_string()], "{known:?}");
        assert_eq!(known.upstream_header("x-geo-asn"), vec!["64496".to_string()], "{known:?}");
    });
}
