//! Maintenance mode (issue #5) through both cutover switches: the flag file
//! and `maintenance.enabled` in the Middleware (on kind: the flag ConfigMap
//! and `kubectl patch middleware`), and who still gets through.

use std::time::Duration;

use serde_json::Value;

use super::{CHECK_INTERVAL, OFFICE, OUTSIDER, RETRY_AFTER, TOKEN_HEADER, outsider_get, wait_for_status};
use crate::support::target::{Capability::UntrustedPeer, Peer, Switch, Target, run};

/// Turns maintenance on with `maintenance.enabled`, runs `body`, turns it off.
fn while_enabled(t: &dyn Target, body: impl FnOnce()) {
    t.set_maintenance_enabled(true);
    let on_after = wait_for_status(t, 503, t.pickup(Switch::Enabled));
    body();
    t.set_maintenance_enabled(false);
    let off_after = wait_for_status(t, 200, t.pickup(Switch::Enabled));
    println!("{}: maintenance.enabled on after {on_after:?}, off after {off_after:?}", t.name());
}

#[test]
fn flag_file_toggles_maintenance_within_check_interval() {
    run(&[], |t| {
        let within = t.pickup(Switch::FlagFile);
        assert_eq!(outsider_get(t, "/").status, 200, "flag off: serving\n{}", t.diagnostics());

        t.set_maintenance_flag(Some("on\n"));
        let on_after = wait_for_status(t, 503, within);
        // Every instance has re-read the flag once checkInterval passed.
        std::thread::sleep(CHECK_INTERVAL + Duration::from_millis(100));
        for _ in 0..20 {
            assert_eq!(outsider_get(t, "/").status, 503);
        }
        assert_eq!(outsider_get(t, "/healthz").status, 200, "health checks stay served");
        assert_eq!(outsider_get(t, "/healthz/live").status, 200);

        t.set_maintenance_flag(Some("off"));
        let off_after = wait_for_status(t, 200, within);
        t.set_maintenance_flag(Some("on"));
        wait_for_status(t, 503, within);
        t.set_maintenance_flag(None);
        wait_for_status(t, 200, within);
        println!(
            "{}: flag on after {on_after:?}, off after {off_after:?} (checkInterval {CHECK_INTERVAL:?})",
            t.name()
        );
    });
}

#[test]
fn middleware_enabled_toggles_maintenance() {
    run(&[], |t| {
        assert_eq!(outsider_get(t, "/").status, 200, "enabled: false: serving\n{}", t.diagnostics());
        while_enabled(t, || {
            for _ in 0..20 {
                assert_eq!(outsider_get(t, "/").status, 503);
            }
            assert_eq!(outsider_get(t, "/readyz").status, 200, "health checks stay served");
        });
    });
}

#[test]
fn response_is_a_proper_503_negotiated_on_accept() {
    run(&[], |t| {
        let get = |accept: &str| t.get(Peer::TrustedProxy, "/", &[OUTSIDER[0], ("Accept", accept)]);
        while_enabled(t, || {
            let html = get("text/html,application/xhtml+xml,*/*;q=0.8");
            assert_eq!(html.status, 503, "{html:?}");
            assert_eq!(html.headers.get("retry-after").map(String::as_str), Some(RETRY_AFTER));
            assert_eq!(html.headers.get("cache-control").map(String::as_str), Some("no-store"));
            assert!(html.headers["content-type"].starts_with("text/html"), "{html:?}");
            assert!(html.body.contains("<html") && html.body.contains("lang=\"en\""), "{}", html.body);

            let json_reply = get("application/json, text/html;q=0.5");
            assert_eq!(json_reply.headers["content-type"], "application/json", "{json_reply:?}");
            let body: Value = serde_json::from_str(&json_reply.body).unwrap();
            assert_eq!(body["status"], 503);
            assert_eq!(body["error"], "maintenance");
            assert_eq!(body["retryAfter"].to_string(), RETRY_AFTER);

            let text = get("text/plain");
            assert!(text.headers["content-type"].starts_with("text/plain"), "{text:?}");

            let head = t.send(Peer::TrustedProxy, "HEAD", "/", &OUTSIDER);
            assert_eq!(head.status, 503);
            assert!(head.body.is_empty());
        });
    });
}

#[test]
fn bypass_by_resolved_client_ip() {
    run(&[], |t| {
        while_enabled(t, || {
            let office = t.get(Peer::TrustedProxy, "/", &[("X-Forwarded-For", OFFICE)]);
            assert_eq!(office.status, 200, "the office behind the trusted proxy is let through: {office:?}");
            assert_eq!(office.upstream_one("x-real-ip").as_deref(), Some(OFFICE), "{office:?}");
        });
    });
}

#[test]
fn bypass_is_not_granted_to_a_claimed_ip() {
    run(&[UntrustedPeer], |t| {
        while_enabled(t, || {
            let claimed = [("X-Forwarded-For", OFFICE), ("X-Real-IP", OFFICE)];
            let spoofer = t.get(Peer::Untrusted, "/", &claimed);
            assert_eq!(spoofer.status, 503, "an untrusted peer claiming the address is not: {spoofer:?}");
        });
    });
}

#[test]
fn bypass_by_token_from_settings_envs() {
    run(&[], |t| {
        let token = t.maintenance_token();
        while_enabled(t, || {
            let with_token = t.get(Peer::TrustedProxy, "/", &[OUTSIDER[0], (TOKEN_HEADER, &token)]);
            assert_eq!(with_token.status, 200, "{with_token:?}");
            assert_eq!(with_token.upstream_one(TOKEN_HEADER), None, "the secret must not reach the backend");
            let guess = t.get(Peer::TrustedProxy, "/", &[OUTSIDER[0], (TOKEN_HEADER, "guess")]);
            assert_eq!(guess.status, 503, "{guess:?}");
        });
    });
}
