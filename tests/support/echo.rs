//! The echo backend used by the end-to-end tests and `cargo xtask demo`: it
//! answers every request with the request it received, as JSON:
//! `{"method", "uri", "peer", "headers": {"lower-case-name": ["value", ...]}}`.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// Serves forever on `listener`; each connection gets its own task.
pub async fn serve(listener: TcpListener) {
    loop {
        let Ok((stream, peer)) = listener.accept().await else { continue };
        tokio::spawn(async move {
            let service = service_fn(move |req| echo(req, peer));
            let _ =
                http1::Builder::new().keep_alive(true).serve_connection(TokioIo::new(stream), service).await;
        });
    }
}

async fn echo(req: Request<Incoming>, peer: SocketAddr) -> Result<Response<Full<Bytes>>, Infallible> {
    let mut headers: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in req.headers() {
        headers
            .entry(name.as_str().to_string())
            .or_default()
            .push(String::from_utf8_lossy(value.as_bytes()).into());
    }
    let body = serde_json::json!({
        "method": req.method().as_str(),
        "uri": req.uri().to_string(),
        "peer": peer.to_string(),
        "headers": headers,
    });
    let mut bytes = serde_json::to_vec_pretty(&body).unwrap_or_default();
    bytes.push(b'\n');
    Ok(Response::builder()
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(bytes)))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new()))))
}

/// A fast backend for load benchmarks: answers `geo=<n>` (how many `x-geo-*`
/// headers arrived, so a run can check EdgeGuard was active) without echoing.
pub async fn serve_fast(listener: TcpListener) {
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        tokio::spawn(async move {
            let service = service_fn(|req: Request<Incoming>| async move {
                let geo = req.headers().keys().filter(|n| n.as_str().starts_with("x-geo-")).count();
                Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(format!("geo={geo}\n")))))
            });
            let _ =
                http1::Builder::new().keep_alive(true).serve_connection(TokioIo::new(stream), service).await;
        });
    }
}
