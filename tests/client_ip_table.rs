//! Runs the shared client-IP table (`testdata/client-ip-cases.yaml`, issue #3)
//! through the core pipeline, as every front-end does.

use std::collections::HashSet;

use edgeguard::{Decision, OwnedRequest, Pipeline};
use serde::Deserialize;
use serde_json::{Map, Value, json};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Table {
    defaults: Map<String, Value>,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    #[serde(default)]
    config: Map<String, Value>,
    peer: String,
    #[serde(default)]
    headers: Vec<(String, String)>,
    client: String,
    #[serde(default)]
    upstream: Map<String, Value>,
    #[serde(default)]
    trace: Option<String>,
    #[serde(default)]
    trace_absent: Option<String>,
}

fn table() -> Table {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/client-ip-cases.yaml");
    serde_norway::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn client_ip_table() {
    let table = table();
    assert!(table.cases.len() >= 60, "the table must keep at least 60 cases, has {}", table.cases.len());
    let mut names = HashSet::new();
    for case in &table.cases {
        assert!(names.insert(case.name.clone()), "duplicate case name {}", case.name);
        let mut client_ip = table.defaults.clone();
        client_ip.extend(case.config.clone());
        let config = json!({ "clientIp": client_ip });
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
        let client = outcome.identity.client.map(|c| c.to_string());
        assert_eq!(client.as_deref(), Some(case.client.as_str()), "{ctx}");
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
