//! What a backend's verifier does with the echo backend's view of a request.

use std::time::{Duration, SystemTime};

use edgeguard::signing::{RequestParts, Verified, verify};
use serde_json::Value;

use crate::support::client::Reply;

/// Verifies, with key id `k1` and `key`, the EdgeGuard signature the echo
/// backend received over the request it saw.
pub fn verified(reply: &Reply, key: &str) -> Verified {
    let echo = reply.echoed();
    let received = |name: &str| -> Option<String> {
        let values = echo["headers"][name].as_array()?;
        Some(values.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", "))
    };
    let signature = received("x-edgeguard-signature").unwrap_or_else(|| panic!("no signature: {reply:?}"));
    let host = received("host").unwrap_or_default();
    let req = RequestParts {
        method: echo["method"].as_str().unwrap_or_default(),
        host: &host,
        path: echo["uri"].as_str().unwrap_or_default(),
    };
    verify(&signature, req, received, &[("k1", key.as_bytes())], SystemTime::now(), Duration::from_secs(300))
        .unwrap_or_else(|e| panic!("{e}: {reply:?}"))
}
