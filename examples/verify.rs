//! A downstream verifier for EdgeGuard's signed identity headers, using the
//! crate's public [`edgeguard::signing::verify`].
//!
//! ```sh
//! cargo run --example verify                      # check testdata/signing/vectors.json
//! EDGEGUARD_SIGNING_KEY=... cargo run --example verify -- --url   # and a live request to the demo
//! cargo run --example verify -- --url http://127.0.0.1:8080/some/path?x=1 --key-env MY_KEY --kid k1
//! ```
//!
//! Vectors: every positive vector must verify and every negative one must
//! fail with the error code it names (see docs/signing.md).
//!
//! Live (`--url`, default `http://127.0.0.1:8080/`, i.e. `cargo xtask demo`
//! with signing on): sends one plain HTTP/1.1 GET through Traefik + EdgeGuard
//! to the echo backend, which answers with what it received as JSON:
//! `{"method", "uri", "headers": {"lower-case-name": ["value", ...]}}`. That is
//! exactly what a backend sees, so the example verifies the signature against
//! it (method, `Host`, request target, signed headers) with the key from the
//! environment, then shows that changing one signed header is detected.
//!
//! In a real service, call `verify` with the request's own method, `Host`,
//! raw path-and-query and a header lookup, and trust only `Verified::get`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use edgeguard::signing::{RequestParts, verify};
use serde_json::Value;

const DEFAULT_URL: &str = "http://127.0.0.1:8080/";
const MAX_SKEW: Duration = Duration::from_secs(300);

struct Args {
    vectors: String,
    url: Option<String>,
    key_env: String,
    kid: String,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        vectors: concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/signing/vectors.json").into(),
        url: None,
        key_env: "EDGEGUARD_SIGNING_KEY".into(),
        kid: "k1".into(),
    };
    let mut it = std::env::args().skip(1).peekable();
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--vectors" => args.vectors = value("--vectors")?,
            "--key-env" => args.key_env = value("--key-env")?,
            "--kid" => args.kid = value("--kid")?,
            "--url" => {
                let explicit = it.next_if(|next| !next.starts_with("--"));
                args.url = Some(explicit.unwrap_or_else(|| DEFAULT_URL.into()));
            }
            "-h" | "--help" => {
                return Err("usage: verify [--vectors FILE] [--url [URL]] [--key-env VAR] [--kid ID]".into());
            }
            other => return Err(format!("unknown argument `{other}` (try --help)")),
        }
    }
    Ok(args)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(msg) => {
            eprintln!("{msg}");
            return ExitCode::from(2);
        }
    };
    let mut ok = match check_vectors(&args.vectors) {
        Ok(ok) => ok,
        Err(e) => {
            eprintln!("cannot check {}: {e}", args.vectors);
            false
        }
    };
    if let Some(url) = &args.url {
        if let Err(e) = check_live(url, &args.key_env, &args.kid) {
            eprintln!("live check against {url} failed: {e}");
            ok = false;
        }
    }
    if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_default()
}

/// Header lookup over `[name, value]` pairs: case-insensitive, repeated lines joined.
fn pair_lookup(pairs: &Value) -> impl Fn(&str) -> Option<String> + '_ {
    move |name| {
        let values: Vec<&str> = pairs
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p[0].as_str().is_some_and(|n| n.eq_ignore_ascii_case(name)))
            .filter_map(|p| p[1].as_str())
            .collect();
        (!values.is_empty()).then(|| values.join(", "))
    }
}

fn secs(v: &Value) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(v.as_u64().unwrap_or_default())
}

fn check_vectors(path: &str) -> Result<bool, Box<dyn std::error::Error>> {
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path)?)?;
    let skew = Duration::from_secs(doc["maxSkew"].as_u64().ok_or("maxSkew missing")?);
    let (mut passed, mut failed) = (0, 0);
    for v in doc["positive"].as_array().ok_or("no positive vectors")? {
        let req = RequestParts { method: s(v, "method"), host: s(v, "host"), path: s(v, "path") };
        let keys: &[(&str, &[u8])] = &[(s(v, "kid"), s(v, "secret").as_bytes())];
        match verify(s(v, "expected"), req, pair_lookup(&v["headers"]), keys, secs(&v["timestamp"]), skew) {
            Ok(_) => passed += 1,
            Err(e) => {
                failed += 1;
                println!("FAIL {}: refused: {e}", s(v, "name"));
            }
        }
    }
    for v in doc["negative"].as_array().ok_or("no negative vectors")? {
        let req = RequestParts { method: s(v, "method"), host: s(v, "host"), path: s(v, "path") };
        let keys: Vec<(&str, &[u8])> = v["keys"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|k| (s(k, "kid"), s(k, "secret").as_bytes()))
            .collect();
        let got = verify(s(v, "header"), req, pair_lookup(&v["headers"]), &keys, secs(&v["now"]), skew);
        let code = got.as_ref().map_or_else(|e| e.code(), |_| "accepted");
        if code == s(v, "error") {
            passed += 1;
        } else {
            failed += 1;
            println!("FAIL {}: want {}, got {code}", s(v, "name"), s(v, "error"));
        }
    }
    println!("vectors: {passed}/{} pass ({path})", passed + failed);
    Ok(failed == 0 && passed > 0)
}

fn check_live(url: &str, key_env: &str, kid: &str) -> Result<(), Box<dyn std::error::Error>> {
    let key = std::env::var(key_env).map_err(|_| format!("set {key_env} to the key EdgeGuard signs with"))?;
    let key = key.trim().as_bytes();
    let echo = http_get(url)?;
    let received = |name: &str| -> Option<String> {
        let values = echo["headers"][name].as_array()?;
        Some(values.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", "))
    };
    let signature = received("x-edgeguard-signature")
        .ok_or("the backend received no x-edgeguard-signature: is `signing.secretEnv` set in the demo?")?;
    let host = received("host").unwrap_or_default();
    let req = RequestParts { method: s(&echo, "method"), host: &host, path: s(&echo, "uri") };
    let keys: &[(&str, &[u8])] = &[(kid, key)];
    println!("backend received {signature}");
    let verified = verify(&signature, req, received, keys, SystemTime::now(), MAX_SKEW)?;
    println!("valid, key {}; signed headers:", verified.key_id);
    for (name, value) in &verified.headers {
        println!("  {name}: {value}");
    }
    // What a pod sending its own X-Real-IP next to a captured signature gets.
    if let Some((name, _)) = verified.headers.first() {
        let forged = |n: &str| if n == name { Some("192.0.2.66".to_string()) } else { received(n) };
        match verify(&signature, req, forged, keys, SystemTime::now(), MAX_SKEW) {
            Err(e) => println!("with {name} changed to 192.0.2.66: refused ({e})"),
            Ok(_) => return Err("a changed signed header was accepted".into()),
        }
    }
    Ok(())
}

/// One HTTP/1.1 GET over a plain TCP connection (`http://host[:port]/path`);
/// returns the JSON body.
fn http_get(url: &str) -> Result<Value, Box<dyn std::error::Error>> {
    let rest = url.strip_prefix("http://").ok_or("only http:// URLs are supported")?;
    let (authority, path) = rest.find('/').map_or((rest, "/"), |i| (&rest[..i], &rest[i..]));
    let addr = if authority.contains(':') { authority.to_string() } else { format!("{authority}:80") };
    let mut stream = TcpStream::connect(&addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nAccept: application/json\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").ok_or("no HTTP header end")?;
    let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
    let mut body = raw[split + 4..].to_vec();
    let status = head.split_whitespace().nth(1).unwrap_or_default();
    if status != "200" {
        return Err(format!("HTTP status {status}: {}", String::from_utf8_lossy(&body)).into());
    }
    if head.lines().any(|l| l.starts_with("transfer-encoding:") && l.contains("chunked")) {
        body = dechunk(&body).ok_or("bad chunked body")?;
    }
    Ok(serde_json::from_slice(&body)?)
}

/// Decodes an HTTP/1.1 chunked body (RFC 9112 §7.1), ignoring extensions and trailers.
fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&data[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}
