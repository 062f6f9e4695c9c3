//! The proxy itself: streaming without buffering, upstream failures, upgrades,
//! forwarded headers, metrics.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::harness::{Sidecar, Zeros, echo, rt, send};

const MIB: u64 = 1 << 20;

/// A backend with `/upload` (counts the body), `/download` (100 MiB),
/// `/slow` (answers after 30 s) and `/ws` (101, then echoes bytes).
fn special_backend() -> SocketAddr {
    let listener = rt().block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = listener.local_addr().unwrap();
    rt().spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            tokio::spawn(async move {
                let service = service_fn(special);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .with_upgrades()
                    .await;
            });
        }
    });
    addr
}

async fn special(mut req: Request<Incoming>) -> Result<Response<BoxBody<Bytes, Infallible>>, Infallible> {
    let text = |s: String| Full::new(Bytes::from(s)).boxed();
    Ok(match req.uri().path() {
        "/upload" => {
            let mut body = req.into_body();
            let mut total = 0u64;
            while let Some(frame) = body.frame().await {
                if let Ok(data) = frame.map(|f| f.into_data()) {
                    total += data.map_or(0, |d| d.len() as u64);
                }
            }
            Response::new(text(total.to_string()))
        }
        "/download" => Response::new(Zeros { remaining: 100 * MIB }.boxed()),
        "/slow" => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            Response::new(text("late".into()))
        }
        "/ws" => {
            let on_upgrade = hyper::upgrade::on(&mut req);
            tokio::spawn(async move {
                if let Ok(upgraded) = on_upgrade.await {
                    let mut io = TokioIo::new(upgraded);
                    let mut buf = [0u8; 1024];
                    while let Ok(n) = io.read(&mut buf).await {
                        if n == 0 || io.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                }
            });
            Response::builder()
                .status(101)
                .header("connection", "upgrade")
                .header("upgrade", "websocket")
                .body(Empty::new().boxed())
                .unwrap()
        }
        _ => Response::builder().status(404).body(Empty::new().boxed()).unwrap(),
    })
}

fn sidecar_for(upstream: SocketAddr, extra: serde_json::Value) -> Sidecar {
    let mut server = json!({"upstream": format!("http://{upstream}")});
    server.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    Sidecar::start(json!({"server": server, "clientIp": {"trustedProxies": ["127.0.0.1/32"]}}))
}

#[test]
fn streams_100_mib_each_way_in_bounded_memory() {
    let sidecar = sidecar_for(special_backend(), json!({}));
    let addr = sidecar.addr;
    let (uploaded, downloaded) = rt().block_on(async move {
        let req = Request::post("/upload").header("host", "t").body(Zeros { remaining: 100 * MIB }).unwrap();
        let resp = send(addr, None, req).await.unwrap();
        assert_eq!(resp.status(), 200);
        let uploaded: u64 =
            String::from_utf8_lossy(&resp.into_body().collect().await.unwrap().to_bytes()).parse().unwrap();
        let req = Request::get("/download").header("host", "t").body(Empty::<Bytes>::new()).unwrap();
        let resp = send(addr, None, req).await.unwrap();
        assert_eq!(resp.status(), 200);
        let mut body = resp.into_body();
        let mut downloaded = 0u64;
        while let Some(frame) = body.frame().await {
            downloaded += frame.unwrap().into_data().map_or(0, |d| d.len() as u64);
        }
        (uploaded, downloaded)
    });
    assert_eq!((uploaded, downloaded), (100 * MIB, 100 * MIB));
    let peak = sidecar.peak_rss_kib();
    println!("sidecar peak RSS (VmHWM) after 100 MiB up and 100 MiB down: {} KiB", peak);
    assert!(peak < 64 * 1024, "peak RSS {peak} KiB is not under 64 MiB");
}

#[test]
fn upstream_down_is_502_and_slow_upstream_is_504() {
    // A port that was just free: nothing listens there.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let down = sidecar_for(closed, json!({}));
    let reply = down.get("/", &[]);
    assert_eq!(reply.status, 502, "{reply:?}");
    assert_eq!(reply.body, "Bad Gateway\n");
    assert_eq!(down.admin_get("/readyz").0, 503, "not ready while the upstream is down");
    assert_eq!(down.admin_get("/healthz").0, 200, "but alive");
    drop(down);

    let slow = sidecar_for(special_backend(), json!({"timeouts": {"upstreamHeader": "300ms"}}));
    let started = Instant::now();
    let reply = slow.get("/slow", &[]);
    assert_eq!(reply.status, 504, "{reply:?}");
    assert!(started.elapsed() < Duration::from_secs(20), "504 must come long before the upstream's 30 s");
    assert_eq!(slow.admin_get("/readyz").0, 200);
    assert_eq!(slow.metric(r#"edgeguard_requests_total{outcome="upstream_timeout",status="504"}"#), 1.0);
}

#[test]
fn websocket_upgrade_is_passed_through() {
    let sidecar = sidecar_for(special_backend(), json!({}));
    let addr = sidecar.addr;
    let echoed = rt().block_on(async move {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"GET /ws HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
            .await
            .unwrap();
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let mut byte = [0u8; 1];
            assert_eq!(stream.read(&mut byte).await.unwrap(), 1, "connection closed in the response head");
            head.push(byte[0]);
        }
        let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
        assert!(head.starts_with("http/1.1 101"), "{head}");
        assert!(head.contains("upgrade: websocket"), "{head}");
        stream.write_all(b"ping through the tunnel").await.unwrap();
        let mut buf = vec![0u8; 23];
        tokio::time::timeout(Duration::from_secs(10), stream.read_exact(&mut buf)).await.unwrap().unwrap();
        String::from_utf8(buf).unwrap()
    });
    assert_eq!(echoed, "ping through the tunnel");
}

#[test]
fn hop_by_hop_removed_forwarded_headers_set_and_metrics_counted() {
    let sidecar = sidecar_for(echo(), json!({}));
    let reply = sidecar.get(
        "/path?q=1",
        &[
            ("Connection", "X-Drop-Me"),
            ("X-Drop-Me", "1"),
            ("Keep-Alive", "timeout=5"),
            ("X-Forwarded-For", "203.0.113.10"),
            ("X-Forwarded-Proto", "https"),
        ],
    );
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.echoed()["uri"], "/path?q=1");
    assert_eq!(reply.upstream_one("x-drop-me"), None);
    assert_eq!(reply.upstream_one("keep-alive"), None);
    assert_eq!(reply.upstream_one("x-real-ip").as_deref(), Some("203.0.113.10"));
    assert_eq!(reply.upstream_one("x-forwarded-for").as_deref(), Some("203.0.113.10, 127.0.0.1"));
    assert_eq!(reply.upstream_one("x-forwarded-proto").as_deref(), Some("https"), "kept from a trusted peer");
    assert_eq!(reply.upstream_one("x-forwarded-host").as_deref(), Some("edgeguard.test"));

    for _ in 0..3 {
        assert_eq!(sidecar.get("/", &[]).status, 200);
    }
    assert_eq!(sidecar.metric(r#"edgeguard_requests_total{outcome="forwarded",status="200"}"#), 4.0);
    assert_eq!(sidecar.metric(r#"edgeguard_client_ip_resolutions_total{resolution="trusted"}"#), 1.0);
    // Issue #13: a trusted peer that names no client leaves it unknown.
    assert_eq!(sidecar.metric(r#"edgeguard_client_ip_resolutions_total{resolution="unknown"}"#), 3.0);
    assert_eq!(sidecar.metric("edgeguard_upstream_response_seconds_count"), 4.0);
    let access: Vec<serde_json::Value> =
        sidecar.access_log().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(access.len(), 4, "one access-log line per request");
    assert_eq!(access[0]["client"], "203.0.113.10");
    assert_eq!(access[0]["path"], "/path?q=1");
    assert_eq!(access[0]["upstream_status"], 200);
    // Issue #16: every line has an RFC 3339 timestamp.
    for line in &access {
        let t = line["time"].as_str().unwrap_or_default();
        assert!(
            time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).is_ok(),
            "{line}"
        );
    }
}

#[test]
fn h2c_clients_are_served() {
    let sidecar = sidecar_for(echo(), json!({}));
    let addr = sidecar.addr;
    let reply = rt().block_on(async move {
        let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (mut sender, conn) =
            hyper::client::conn::http2::handshake(hyper_util::rt::TokioExecutor::new(), TokioIo::new(stream))
                .await
                .unwrap();
        tokio::spawn(conn);
        let req = Request::get("http://app.example/h2").body(Empty::<Bytes>::new()).unwrap();
        crate::support::client::reply(sender.send_request(req).await.unwrap()).await.unwrap()
    });
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.echoed()["uri"], "/h2");
    assert_eq!(reply.upstream_one("host").as_deref(), Some("app.example"));
    assert_eq!(reply.upstream_one("x-real-ip").as_deref(), Some("127.0.0.1"));
}
