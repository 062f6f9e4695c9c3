//! Reference http-wasm guests for `cargo xtask bench-traefik`: the cost of any
//! wasm plugin in Traefik, whatever it does.
//!
//! - Config `{}`: forwards every request untouched (scenario (g), the floor).
//! - Config `{"set": {"Name": "value", ...}}`: per request, the host calls
//!   EdgeGuard's client IP + geo path makes (peer, header names, the
//!   `X-Forwarded-For` values, the clock), then sets those fixed headers
//!   (scenario (j): the floor of any plugin that sets the same headers).
//!
//! Build: `cargo build --profile plugin --target wasm32-wasip1 --example floor_guest`.

#[cfg(target_arch = "wasm32")]
fn main() {
    use http_wasm_guest::host::{Request, Response, admin};
    use http_wasm_guest::{Guest, register};

    struct Floor {
        set: Vec<(String, String)>,
    }
    impl Guest for Floor {
        fn handle_request(&self, request: &Request, _response: &Response) -> (bool, i32) {
            if self.set.is_empty() {
                return (true, 0);
            }
            let peer = request.source_addr();
            let names = request.header.names_iter().count();
            let xff = request.header.values_iter(b"X-Forwarded-For").count();
            std::hint::black_box((peer, names, xff, std::time::SystemTime::now()));
            for (name, value) in &self.set {
                request.header.set(name.as_bytes(), value.as_bytes());
            }
            (true, 0)
        }
    }

    // One line per instance: `cargo xtask bench-traefik` counts them in Traefik's log.
    http_wasm_guest::host::log::write(0, b"floor_guest: instance initialised");
    let config: serde_json::Value = serde_json::from_slice(&admin::config()).unwrap_or_default();
    let set = config["set"]
        .as_object()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect())
        .unwrap_or_default();
    register(Floor { set });
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("floor_guest is an http-wasm guest: build it for wasm32-wasip1");
}
