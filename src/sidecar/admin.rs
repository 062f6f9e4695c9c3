//! The admin listener: `/healthz` (the process serves), `/readyz` (a config
//! is loaded and the upstream accepts TCP connections) and `/metrics`
//! (Prometheus text format). Keep it off the public network (default `127.0.0.1:9090`).

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};

use super::Shared;

/// Serves the admin endpoints until the process exits.
pub async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let shared = shared.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| handle(shared.clone(), req));
            let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
    }
}

/// Every answer but `/metrics` is plain text.
const TEXT: &str = "text/plain; charset=utf-8";

async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let (status, content_type, body) = match req.uri().path() {
        "/healthz" => (StatusCode::OK, TEXT, "ok\n".to_string()),
        "/readyz" => {
            let active = shared.active.load_full();
            let target = &active.settings.upstream.connect;
            let unready =
                |reason| (StatusCode::SERVICE_UNAVAILABLE, TEXT, format!("upstream {target}{reason}\n"));
            match tokio::time::timeout(active.settings.connect_timeout, TcpStream::connect(target)).await {
                Ok(Ok(_)) => (StatusCode::OK, TEXT, "ready\n".to_string()),
                Ok(Err(e)) => unready(format!(" unreachable: {e}")),
                Err(_) => unready(": connect timed out".to_string()),
            }
        }
        "/metrics" => {
            let active = shared.active.load_full();
            let text = shared.metrics.encode(&active.pipeline);
            (StatusCode::OK, "application/openmetrics-text; version=1.0.0; charset=utf-8", text)
        }
        _ => (StatusCode::NOT_FOUND, TEXT, "not found\n".to_string()),
    };
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}
