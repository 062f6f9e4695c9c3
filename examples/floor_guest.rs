//! The smallest possible http-wasm guest: it forwards every request untouched.
//! `cargo xtask bench-traefik` loads it as scenario (g) to measure what any
//! wasm plugin costs in Traefik (instance pool, guest calls), whatever it does.
//! Build: `cargo build --profile plugin --target wasm32-wasip1 --example floor_guest`.

#[cfg(target_arch = "wasm32")]
fn main() {
    use http_wasm_guest::host::{Request, Response};
    use http_wasm_guest::{Guest, register};

    struct Floor;
    impl Guest for Floor {
        fn handle_request(&self, _request: &Request, _response: &Response) -> (bool, i32) {
            (true, 0)
        }
    }
    register(Floor);
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("floor_guest is an http-wasm guest: build it for wasm32-wasip1");
}
