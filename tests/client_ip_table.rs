//! Runs the shared client-IP table (`testdata/client-ip-cases.yaml`, issue #3)
//! through the core pipeline, as every front-end does.

use std::collections::HashSet;

use edgeguard::{Decision, OwnedRequest, Pipeline};
use serde_json::json;

#[path = "support/client_ip_cases.rs"]
mod cases;
use cases::table;

#[test]
fn client_ip_table() {
    let table = table();
    assert!(table.cases.len() >= 60, "the table must keep at least 60 cases, has {}", table.cases.len());
    let mut names = HashSet::new();
    for case in &table.cases {
        assert!(names.insert(case.name.clone()), "duplicate case name {}", case.name);
    }
    // Every case runs; the failures are listed together at the end.
    let failed: Vec<&str> = table
        .cases
        .iter()
        .filter(|case| std::panic::catch_unwind(|| check(&table, case)).is_err())
        .map(|case| case.name.as_str())
        .collect();
    assert!(failed.is_empty(), "{} of {} cases failed: {failed:?}", failed.len(), table.cases.len());
}

fn check(table: &cases::Table, case: &cases::Case) {
    {
        let config = json!({ "clientIp": table.client_ip(case) });
        let pipeline = Pipeline::from_json(config.to_string().as_bytes())
            .unwrap_or_else(|e| panic!("{}: config refused: {e}", case.name));
        let mut req = OwnedRequest::new(&case.peer);
        for (name, value) in &case.headers {
            req = req.header(name, value);
        }
        let outcome = pipeline.outcome(&req);
        let ctx = format!(
            "case {} (peer {}, headers {:?}): trace {:?}",
            case.name, case.peer, case.headers, outcome.identity.trace
        );
        // `None` is unknown: no geo, no CIDR bypass, not signed.
        let client = outcome.identity.client.map(|c| c.to_string());
        assert_eq!(client.as_deref(), case.known_client(), "{ctx}");
        if let Some(status) = case.status {
            // Refused before any client is resolved (issue #13: 431).
            match &outcome.decision {
                Decision::Respond(refusal) => assert_eq!(refusal.status(), status, "{ctx}: {refusal:?}"),
                other => panic!("{ctx}: want a {status} answer, got {other:?}"),
            }
            return;
        }
        // Issue #13: the trace names the client, or says it is unknown.
        let trace_client = case.trace_client();
        assert!(outcome.identity.trace.contains(&trace_client), "{ctx}: trace lacks {trace_client:?}");
        let Decision::Forward(edits) = &outcome.decision else { panic!("{ctx}: not forwarded") };
        let mut upstream = req.clone();
        upstream.apply(edits);
        for (name, want) in &case.upstream {
            let got = upstream.header_values_joined(name);
            assert_eq!(got.as_deref(), want.as_str(), "{ctx}: upstream {name} (edits {edits:?})");
        }
        if let Some(want) = &case.trace {
            assert!(outcome.identity.trace.contains(want.as_str()), "{ctx}: trace lacks {want:?}");
        }
        if let Some(unwanted) = &case.trace_absent {
            assert!(!outcome.identity.trace.contains(unwanted.as_str()), "{ctx}: trace has {unwanted:?}");
        }
    }
}

trait Joined {
    fn header_values_joined(&self, name: &str) -> Option<String>;
}

impl Joined for OwnedRequest {
    /// All lines of `name`, joined as one list (`None` when absent).
    fn header_values_joined(&self, name: &str) -> Option<String> {
        use edgeguard::RequestView;
        let values: Vec<String> =
            self.header_values(name).iter().map(|v| String::from_utf8_lossy(v).into_owned()).collect();
        (!values.is_empty()).then(|| values.join(", "))
    }
}
