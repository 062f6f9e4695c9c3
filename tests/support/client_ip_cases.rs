//! The shared client-IP table (`testdata/client-ip-cases.yaml`, issue #3):
//! one reader for every front-end that replays it (the core in
//! tests/client_ip_table.rs, the sidecar in tests/sidecar/).

use serde::Deserialize;
use serde_json::{Map, Value, json};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Table {
    pub defaults: Map<String, Value>,
    pub cases: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    pub name: String,
    #[serde(default)]
    pub config: Map<String, Value>,
    pub peer: String,
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// The resolved client, or [`UNKNOWN`] (issue #13).
    pub client: String,
    /// The answer when EdgeGuard refuses the request (431 for an overlong
    /// chain); `None`: forwarded.
    #[serde(default)]
    pub status: Option<u16>,
    /// Headers as the backend receives them from EdgeGuard (null = absent),
    /// before any proxy appends the peer to `X-Forwarded-For`.
    #[serde(default)]
    pub upstream: Map<String, Value>,
    #[serde(default)]
    pub trace: Option<String>,
    #[serde(default)]
    pub trace_absent: Option<String>,
}

/// `client: unknown` in the table: EdgeGuard cannot vouch for any client
/// (issue #13). The trace says `client=unknown`; the client header still
/// carries nginx realip's answer, which the case lists under `upstream`.
pub const UNKNOWN: &str = "unknown";

impl Case {
    /// The resolved client, `None` when it is unknown.
    pub fn known_client(&self) -> Option<&str> {
        (self.client != UNKNOWN).then_some(self.client.as_str())
    }

    /// What the trace line says about the client: `client=<ip>;` or `client=unknown`.
    pub fn trace_client(&self) -> String {
        match self.known_client() {
            Some(ip) => format!("client={ip};"),
            None => format!("client={UNKNOWN}"),
        }
    }
}

impl Table {
    /// The `clientIp` section of `case`: its `config` merged over `defaults`.
    pub fn client_ip(&self, case: &Case) -> Value {
        let mut client_ip = self.defaults.clone();
        client_ip.extend(case.config.clone());
        json!(client_ip)
    }
}

/// Reads the table.
pub fn table() -> Table {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/client-ip-cases.yaml");
    serde_norway::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}
