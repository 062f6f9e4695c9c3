//! `cargo xtask bench-amplification`: issue #13's memory-amplification case.
//! 256 keep-alive connections send requests that each carry a ~1 MiB
//! `X-Forwarded-For` from a trusted proxy (loopback), through real Traefik:
//! (a) on a route without EdgeGuard, (b) through EdgeGuard. EdgeGuard must
//! answer 431 without copying the value into guest memory, so Traefik's peak
//! RSS stays within 64 MiB of (a) (before the fix it reached 1.78 GB against
//! 0.70 GB). Writes `target/bench/amplification.md`; fails when the bound or
//! the statuses are off. A benchmark, not a test: it is not part of `test`.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Result, bail};
use serde_json::json;

use crate::bench_traefik::Traefik;
use crate::load::{free_port, peak_rss, wait_ready};
use crate::{echo, plugin, tools};

/// Concurrent connections, as in the issue.
const CONNECTIONS: u32 = 256;
/// Bytes of the forged chain: under Go's 1 MiB `MaxHeaderBytes`, so Traefik
/// itself accepts the request and the middleware is what is measured.
const CHAIN_BYTES: usize = 1_000_000;
/// Allowed RSS over the route without EdgeGuard.
const BOUND_MIB: u64 = 64;

/// Status counts from [`load`].
#[derive(Debug, Default)]
struct Counts {
    ok: u64,
    too_large: u64,
    other: u64,
    /// The `other` responses by status (0: unparsable).
    other_statuses: std::collections::BTreeMap<u16, u64>,
    errors: u64,
}

/// `connections` keep-alive clients sending `request` until `secs` pass.
/// wrk cannot be used: it checks its request with an 80 KiB header limit.
async fn load(port: u16, request: std::sync::Arc<Vec<u8>>, connections: u32, secs: u32) -> Counts {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(u64::from(secs));
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let request = request.clone();
        tasks.push(tokio::spawn(async move {
            let mut counts = Counts::default();
            let mut buf = vec![0u8; 64 * 1024];
            'connect: while tokio::time::Instant::now() < deadline {
                let Ok(mut stream) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
                    counts.errors += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                };
                while tokio::time::Instant::now() < deadline {
                    if stream.write_all(&request).await.is_err() {
                        counts.errors += 1;
                        continue 'connect;
                    }
                    // Read one response: head, then Content-Length bytes of body.
                    let mut have = Vec::new();
                    let (status, body_len, head_len, chunked) = loop {
                        match tokio::time::timeout(std::time::Duration::from_secs(10), stream.read(&mut buf))
                            .await
                        {
                            Ok(Ok(n)) if n > 0 => have.extend_from_slice(&buf[..n]),
                            _ => {
                                counts.errors += 1;
                                continue 'connect;
                            }
                        }
                        if let Some(end) = have.windows(4).position(|w| w == b"\r\n\r\n") {
                            let head = String::from_utf8_lossy(&have[..end]).to_ascii_lowercase();
                            let status: u16 = head.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
                            let len = head
                                .lines()
                                .find_map(|l| l.strip_prefix("content-length:"))
                                .and_then(|v| v.trim().parse::<usize>().ok())
                                .unwrap_or(0);
                            let chunked = head.contains("transfer-encoding: chunked");
                            break (status, len, end + 4, chunked);
                        }
                    };
                    // A chunked body (Traefik's answer for a guest's response) ends with an empty chunk.
                    let complete = |have: &[u8]| {
                        if chunked {
                            have[head_len..].ends_with(b"0\r\n\r\n")
                        } else {
                            have.len() >= head_len + body_len
                        }
                    };
                    while !complete(&have) {
                        match stream.read(&mut buf).await {
                            Ok(n) if n > 0 => have.extend_from_slice(&buf[..n]),
                            _ => break,
                        }
                    }
                    match status {
                        200 => counts.ok += 1,
                        431 => counts.too_large += 1,
                        s => {
                            counts.other += 1;
                            *counts.other_statuses.entry(s).or_default() += 1;
                        }
                    }
                }
            }
            counts
        }));
    }
    let mut total = Counts::default();
    for task in tasks {
        if let Ok(c) = task.await {
            total.ok += c.ok;
            total.too_large += c.too_large;
            total.other += c.other;
            for (status, n) in c.other_statuses {
                *total.other_statuses.entry(status).or_default() += n;
            }
            total.errors += c.errors;
        }
    }
    total
}

struct Measured {
    name: &'static str,
    counts: Counts,
    rps: f64,
    peak_mib: u64,
}

pub fn run(root: &Path) -> Result<()> {
    let traefik = tools::traefik(root, tools::TRAEFIK_VERSION)?;
    let plugin_dir = plugin::build(root)?;
    let out = root.join("target/bench");
    std::fs::create_dir_all(&out)?;
    let chain = format!("{}203.0.113.9", "198.51.100.1, ".repeat(CHAIN_BYTES / 14));
    let request = std::sync::Arc::new(
        format!("GET / HTTP/1.1\r\nHost: bench\r\nX-Forwarded-For: {chain}\r\n\r\n").into_bytes(),
    );
    let secs: u32 = std::env::var("BENCH_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(20);

    let rt = tokio::runtime::Runtime::new()?;
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let backend = listener.local_addr()?;
    rt.spawn(echo::serve(listener));

    let mut runs = Vec::new();
    for (name, with_plugin) in [("(a) route without EdgeGuard", false), ("(b) EdgeGuard", true)] {
        let dir = out.join(if with_plugin { "amplification-b" } else { "amplification-a" });
        let _ = std::fs::remove_dir_all(&dir);
        let local = dir.join("plugins-local/src/edgeguard");
        std::fs::create_dir_all(&local)?;
        for f in ["plugin.wasm", ".traefik.yml"] {
            std::fs::copy(plugin_dir.join(f), local.join(f))?;
        }
        let port = free_port()?;
        let middlewares: Vec<&str> = if with_plugin { vec!["edgeguard"] } else { vec![] };
        let dynamic = json!({"http": {
            "routers": {"r": {"rule": "PathPrefix(`/`)", "service": "echo", "middlewares": middlewares}},
            "middlewares": {"edgeguard": {"plugin": {"edgeguard": {
                "clientIp": {"trustedProxies": ["loopback"]},
            }}}},
            "services": {"echo": {"loadBalancer": {"servers": [{"url": format!("http://{backend}")}]}}},
        }});
        let static_cfg = json!({
            "global": {"checkNewVersion": false, "sendAnonymousUsage": false},
            "entryPoints": {"web": {
                "address": format!("127.0.0.1:{port}"),
                "forwardedHeaders": {"trustedIPs": ["127.0.0.0/8"]},
            }},
            "providers": {"file": {"filename": dir.join("dynamic.yml")}},
            "experimental": {"localPlugins": {"edgeguard": {"moduleName": "edgeguard"}}},
            "log": {"level": "WARN", "filePath": dir.join("traefik.log")},
        });
        std::fs::write(dir.join("dynamic.yml"), dynamic.to_string())?;
        std::fs::write(dir.join("traefik.yml"), static_cfg.to_string())?;
        let mut child = Traefik::start(&traefik, &dir)?;
        wait_ready(port, &mut child.0)?;
        let counts = rt.block_on(load(port, request.clone(), CONNECTIONS, secs));
        let peak_mib = peak_rss(child.0.id())? / 1024;
        let rps = (counts.ok + counts.too_large + counts.other) as f64 / f64::from(secs);
        runs.push(Measured { name, counts, rps, peak_mib });
    }

    let (a, b) = (&runs[0], &runs[1]);
    let statuses_ok =
        b.counts.too_large > 0 && b.counts.ok == 0 && b.counts.other == 0 && b.counts.errors == 0;
    let within = b.peak_mib <= a.peak_mib + BOUND_MIB;
    let mut md = String::new();
    writeln!(md, "# Memory amplification: {CONNECTIONS} connections × {CHAIN_BYTES}-byte X-Forwarded-For\n")?;
    writeln!(
        md,
        "Traefik {}, trusted proxy = loopback, wrk {secs} s. Bound: (b) peak RSS ≤ (a) + {BOUND_MIB} MiB, \
         and every (b) response 431.\n",
        tools::TRAEFIK_VERSION
    )?;
    writeln!(md, "| scenario | 200 | 431 | other | connection errors | req/s | Traefik peak RSS |")?;
    writeln!(md, "|---|---|---|---|---|---|---|")?;
    for r in &runs {
        let c = &r.counts;
        writeln!(
            md,
            "| {} | {} | {} | {} {:?} | {} | {:.0} | {} MiB |",
            r.name, c.ok, c.too_large, c.other, c.other_statuses, c.errors, r.rps, r.peak_mib
        )?;
    }
    writeln!(
        md,
        "\n(a)'s backend (hyper, 400 KiB header buffer) itself answers such requests with 431; what \
         counts there is the memory Traefik needs to carry them. Connection errors are reads that got \
         no response within 10 s or a connection the server closed, counted and retried (a 2-core \
         machine moving 256 MB of headers at a time); they carry no status."
    )?;
    writeln!(
        md,
        "\n(b) − (a): {} MiB; verdict: {}",
        b.peak_mib as i64 - a.peak_mib as i64,
        if within && statuses_ok { "ok" } else { "FAILED" }
    )?;
    print!("\n{md}");
    std::fs::write(out.join("amplification.md"), md)?;
    if !(within && statuses_ok) {
        bail!("amplification bound or statuses not met");
    }
    Ok(())
}
