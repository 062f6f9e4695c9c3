//! `cargo xtask demo` started where its port is taken (issue #16): it names
//! the port and the flag to change it, exits non-zero, and prints no backtrace.

use std::net::TcpListener;
use std::process::Command;

#[test]
fn demo_on_a_busy_port_names_it_and_exits_non_zero_without_a_backtrace() {
    // What a first demo (or a Spring Boot app on 8080) holds.
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let free = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port().to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["demo", "--port", &port, "--backend-port", &free])
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains(&format!("port {port} on 127.0.0.1 (Traefik, --port) is not available")), "{err}");
    assert!(err.contains("cargo xtask demo --port"), "{err}");
    assert!(!err.contains("backtrace") && !err.contains("panicked"), "{err}");
    assert!(String::from_utf8_lossy(&out.stdout).is_empty(), "no banner before the check");
}
