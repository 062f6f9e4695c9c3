//! `cargo xtask bench-amplification`: issue #13's memory-amplification case.
//! wrk with 256 connections sends requests that each carry a ~1 MiB
//! `X-Forwarded-For` from a trusted proxy (loopback), through real Traefik:
//! (a) on a route without EdgeGuard, (b) through EdgeGuard. EdgeGuard must
//! answer 431 without copying the value into guest memory, so Traefik's peak
//! RSS stays within 64 MiB of (a) (before the fix it reached 1.78 GB against
//! 0.70 GB). Writes `target/bench/amplification.md`; fails when the bound or
//! the statuses are off. A benchmark, not a test: it is not part of `test`.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde_json::json;

use crate::bench_traefik::Traefik;
use crate::load::{ensure_wrk, free_port, peak_rss, wait_ready};
use crate::{echo, plugin, tools};

/// Concurrent connections, as in the issue.
const CONNECTIONS: u32 = 256;
/// Bytes of the forged chain: under Go's 1 MiB `MaxHeaderBytes`, so Traefik
/// itself accepts the request and the middleware is what is measured.
const CHAIN_BYTES: usize = 1_000_000;
/// Allowed RSS over the route without EdgeGuard.
const BOUND_MIB: u64 = 64;

const LUA: &str = r#"-- A ~1 MiB X-Forwarded-For ending in a client; counts statuses.
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args)
  local n = tonumber(args[1])
  wrk.headers["X-Forwarded-For"] = string.rep("198.51.100.1, ", math.floor(n / 14)) .. "203.0.113.9"
end
c200, c431, cother = 0, 0, 0
function response(status, headers, body)
  if status == 200 then c200 = c200 + 1 elseif status == 431 then c431 = c431 + 1 else cother = cother + 1 end
end
function done(summary, latency, requests)
  local a, b, c = 0, 0, 0
  for _, t in ipairs(threads) do a = a + t:get("c200"); b = b + t:get("c431"); c = c + t:get("cother") end
  io.write(string.format("COUNTS 200=%d 431=%d other=%d\n", a, b, c))
end
"#;

struct Measured {
    name: &'static str,
    counts: String,
    rps: String,
    peak_mib: u64,
}

pub fn run(root: &Path) -> Result<()> {
    let wrk = ensure_wrk()?;
    let traefik = tools::traefik(root, tools::TRAEFIK_VERSION)?;
    let plugin_dir = plugin::build(root)?;
    let out = root.join("target/bench");
    std::fs::create_dir_all(&out)?;
    let lua = out.join("amplification.lua");
    std::fs::write(&lua, LUA)?;
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
        let output = Command::new(&wrk)
            .args(["-t2", &format!("-c{CONNECTIONS}"), &format!("-d{secs}s"), "-s"])
            .arg(&lua)
            .arg(format!("http://127.0.0.1:{port}/"))
            .arg("--")
            .arg(CHAIN_BYTES.to_string())
            .output()
            .context("running wrk")?;
        let peak_mib = peak_rss(child.0.id())? / 1024;
        let text = String::from_utf8_lossy(&output.stdout);
        let counts = text.lines().find(|l| l.starts_with("COUNTS")).map(str::to_string);
        let Some(counts) = counts else {
            bail!("unexpected wrk output:\n{text}\n{}", String::from_utf8_lossy(&output.stderr));
        };
        let rps = text.lines().find_map(|l| l.trim().strip_prefix("Requests/sec:")).unwrap_or("?").trim();
        runs.push(Measured {
            name,
            counts: counts.trim_start_matches("COUNTS ").to_string(),
            rps: rps.to_string(),
            peak_mib,
        });
    }

    let (a, b) = (&runs[0], &runs[1]);
    let statuses_ok = a.counts.contains("431=0") && b.counts.starts_with("200=0 ") && b.counts.ends_with("other=0");
    let within = b.peak_mib <= a.peak_mib + BOUND_MIB;
    let mut md = String::new();
    writeln!(md, "# Memory amplification: {CONNECTIONS} connections × {CHAIN_BYTES}-byte X-Forwarded-For\n")?;
    writeln!(
        md,
        "Traefik {}, trusted proxy = loopback, wrk {secs} s. Bound: (b) peak RSS ≤ (a) + {BOUND_MIB} MiB, \
         and every (b) response 431.\n",
        tools::TRAEFIK_VERSION
    )?;
    writeln!(md, "| scenario | responses | req/s | Traefik peak RSS |")?;
    writeln!(md, "|---|---|---|---|")?;
    for r in &runs {
        writeln!(md, "| {} | {} | {} | {} MiB |", r.name, r.counts, r.rps, r.peak_mib)?;
    }
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
