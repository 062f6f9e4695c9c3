//! `cargo xtask bench-traefik`: wrk against real Traefik with the real
//! GeoLite2-City mounted, comparing (a) a router without middleware and
//! (b) the same router with EdgeGuard (client IP + geo). A benchmark, not a
//! test: it prints a table and writes `target/bench/traefik.md`.

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use anyhow::{Context, Result, bail};
use serde_json::json;

use crate::load::{
    CONNECTIONS, duration_secs, ensure_wrk, free_port, parse, peak_rss, verdict, wait_ready, wrk_run,
};
use crate::{echo, plugin, tools};

/// Distinct client addresses the load generator rotates through: enough to
/// defeat a per-address cache, about what one edge sees per minute.
const CLIENT_POOL: u32 = 2000;

pub fn run(root: &Path, city_db: &Path) -> Result<()> {
    if !city_db.exists() {
        bail!("{} missing: run `cargo xtask geodata` first", city_db.display());
    }
    let wrk = ensure_wrk()?;
    let secs = duration_secs()?;
    let traefik = tools::traefik(root, tools::TRAEFIK_VERSION)?;
    let plugin_dir = plugin::build(root)?;
    let out = root.join("target/bench");
    std::fs::create_dir_all(&out)?;
    std::fs::write(out.join("clients.lua"), lua_script())?;

    let rt = tokio::runtime::Runtime::new()?;
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let backend = listener.local_addr()?;
    rt.spawn(echo::serve_fast(listener));

    let geo_dir = city_db.parent().context("database has a parent dir")?.canonicalize()?;
    let db_name = city_db.file_name().and_then(|n| n.to_str()).context("database file name")?;
    let mut runs = Vec::new();
    let client_ip = json!({"trustedProxies": ["loopback"]});
    let geo = json!({"database": format!("/geodata/{db_name}")});
    let signing = json!({"secretEnv": SIGNING_ENV});
    let cig = json!({"clientIp": client_ip, "geo": geo});
    let noop = json!({"clientIp": {"header": "", "forwardedFor": "off", "preserveOriginalAs": ""}});
    let scenarios: [(&'static str, Option<serde_json::Value>, &str); 6] = [
        ("(a) no middleware", None, "one-client.lua"),
        ("(b) EdgeGuard client IP + geo", Some(cig.clone()), "one-client.lua"),
        (
            "(c) as (b) + signing",
            Some(json!({"clientIp": client_ip, "geo": geo, "signing": signing})),
            "one-client.lua",
        ),
        ("(d) as (b), 2000 rotating clients", Some(cig), "clients.lua"),
        ("(e) EdgeGuard client IP only", Some(json!({"clientIp": client_ip})), "one-client.lua"),
        ("(f) EdgeGuard loaded, no header edits", Some(noop), "one-client.lua"),
    ];
    std::fs::write(out.join("one-client.lua"), ONE_CLIENT_LUA)?;
    // `BENCH_SCENARIOS=ab` runs a subset (for quick experiments); default: all.
    let only = std::env::var("BENCH_SCENARIOS").unwrap_or_else(|_| "abcdef".into());
    let scenarios = scenarios.into_iter().filter(|(name, ..)| only.contains(&name[1..2]));
    for (name, middleware, script) in scenarios {
        let middleware_has_geo = middleware.as_ref().is_some_and(|m| m.get("geo").is_some());
        let dir = out.join(format!("traefik-{}", runs.len()));
        let _ = std::fs::remove_dir_all(&dir);
        let local = dir.join("plugins-local/src/edgeguard");
        std::fs::create_dir_all(&local)?;
        for f in ["plugin.wasm", ".traefik.yml"] {
            std::fs::copy(plugin_dir.join(f), local.join(f))?;
        }
        let port = free_port()?;
        write_configs(&dir, port, backend, middleware, &geo_dir)?;
        let mut child = Traefik::start(&traefik, &dir)?;
        wait_ready(port, &mut child.0)?;
        let url = format!("http://127.0.0.1:{port}/");
        // Warm-up: instances created, pages faulted in, JIT settled.
        // The backend counts the geo headers it got: prove EdgeGuard is working.
        let probe = Command::new("curl").args(["-s", "-H", "X-Forwarded-For: 81.2.69.142", &url]).output()?;
        let geo_seen = String::from_utf8_lossy(&probe.stdout).trim().to_string();
        let geo_headers = geo_seen.strip_prefix("geo=").and_then(|n| n.parse::<u32>().ok());
        if geo_headers.is_none() || middleware_has_geo == (geo_headers == Some(0)) {
            bail!("{name}: the backend answered `{geo_seen}`; EdgeGuard is not doing what the scenario says");
        }
        wrk_run(&wrk, &url, &out.join(script), 5)?;
        let text = wrk_run(&wrk, &url, &out.join(script), secs)?;
        let peak_rss_kib = peak_rss(child.0.id())?;
        runs.push(parse(name, &text, peak_rss_kib)?);
    }

    let find = |prefix: &str| runs.iter().find(|r| r.name.starts_with(prefix));
    let mut md = String::new();
    writeln!(md, "# Traefik {} load benchmark\n", tools::TRAEFIK_VERSION)?;
    writeln!(
        md,
        "wrk, {CONNECTIONS} connections, {secs} s, requests from a trusted loopback peer with X-Forwarded-For \
         (one client, or {CLIENT_POOL} rotating ones in (d)); GeoLite2-City `{}` ({} MB) mounted; a minimal backend (fixed 2-line body).\n",
        city_db.display(),
        std::fs::metadata(city_db)?.len() / 1_000_000
    )?;
    writeln!(md, "| scenario | req/s | p50 | p99 | non-2xx | socket errors | Traefik peak RSS |")?;
    writeln!(md, "|---|---|---|---|---|---|---|")?;
    for r in &runs {
        writeln!(
            md,
            "| {} | {:.0} | {} | {} | {} | {} | {} MiB |",
            r.name,
            r.rps,
            r.p50,
            r.p99,
            r.non_2xx,
            r.socket_errors,
            r.peak_rss_kib / 1024
        )?;
    }
    writeln!(
        md,
        "\nTargets (throughput ≥ 0.85 × (a), peak RSS ≤ (a) + 64 MiB) apply to (b) and (c): wrk's one \
         repeated request, one client behind the trusted proxy. (d) is a stress case with no target: \
         every instance keeps its own caches, so 2000 distinct clients mean cold lookups (positional \
         reads) in each of the 64 instances. (e) isolates the client-IP stage; (f) is the floor any \
         http-wasm plugin pays in Traefik (instance pool, calls across the ABI, no edits).\n"
    )?;
    if let Some(a) = find("(a)") {
        for label in ["(b)", "(c)", "(d)", "(e)", "(f)"] {
            let Some(x) = find(label) else { continue };
            let ratio = x.rps / a.rps;
            let extra_mib = (x.peak_rss_kib as f64 - a.peak_rss_kib as f64) / 1024.0;
            let target = if x.non_2xx > 0 {
                format!(
                    ": INVALID RUN ({} non-2xx responses; see target/bench/traefik-*/traefik.log)",
                    x.non_2xx
                )
            } else if matches!(label, "(b)" | "(c)") {
                format!(": {} / {}", verdict(ratio >= 0.85), verdict(extra_mib <= 64.0))
            } else {
                String::new()
            };
            writeln!(md, "- {label}/(a) throughput {ratio:.2}, peak RSS {extra_mib:+.1} MiB{target}")?;
        }
    }
    print!("\n{md}");
    std::fs::write(out.join("traefik.md"), md)?;
    println!("written to {}", out.join("traefik.md").display());
    Ok(())
}

/// The environment variable carrying the signing key in scenario (c).
const SIGNING_ENV: &str = "EDGEGUARD_BENCH_SIGNING_KEY";

/// One fixed client behind the trusted proxy: wrk's usual repeated request.
const ONE_CLIENT_LUA: &str = r#"wrk.headers["X-Forwarded-For"] = "81.2.69.142"
"#;

fn lua_script() -> String {
    format!(
        r#"-- Rotates the client address a trusted proxy reports, deterministically.
local n = 0
local pool = {{}}
math.randomseed(42)
for i = 1, {CLIENT_POOL} do
  pool[i] = math.random(1, 223) .. "." .. math.random(0, 255) .. "." .. math.random(0, 255) .. "." .. math.random(1, 254)
end
request = function()
  n = n % {CLIENT_POOL} + 1
  return wrk.format("GET", "/", {{["X-Forwarded-For"] = pool[n]}})
end
"#
    )
}

fn write_configs(
    dir: &Path,
    port: u16,
    backend: std::net::SocketAddr,
    middleware: Option<serde_json::Value>,
    geo_dir: &Path,
) -> Result<()> {
    let mut router = json!({"rule": "PathPrefix(`/`)", "service": "echo"});
    let mut middlewares = json!({});
    if let Some(cfg) = middleware {
        router["middlewares"] = json!(["edgeguard"]);
        middlewares = json!({"edgeguard": {"plugin": {"edgeguard": cfg}}});
    }
    let mut dynamic = json!({"http": {
        "routers": {"bench": router},
        "services": {"echo": {"loadBalancer": {"servers": [{"url": format!("http://{backend}")}]}}},
    }});
    // Traefik refuses an empty `middlewares` element.
    if middlewares.as_object().is_some_and(|m| !m.is_empty()) {
        dynamic["http"]["middlewares"] = middlewares;
    }
    let static_cfg = json!({
        "global": {"checkNewVersion": false, "sendAnonymousUsage": false},
        "entryPoints": {"web": {"address": format!("127.0.0.1:{port}"), "forwardedHeaders": {"trustedIPs": ["127.0.0.1/32"]}}},
        "providers": {"file": {"filename": dir.join("dynamic.yml")}},
        "experimental": {"localPlugins": {"edgeguard": {
            "moduleName": "edgeguard",
            "settings": {"mounts": [format!("{}:/geodata", geo_dir.display())], "envs": [SIGNING_ENV]},
        }}},
        "log": {"level": "INFO", "filePath": dir.join("traefik.log")},
    });
    std::fs::write(dir.join("dynamic.yml"), dynamic.to_string())?;
    std::fs::write(dir.join("traefik.yml"), static_cfg.to_string())?;
    Ok(())
}

pub(crate) struct Traefik(pub(crate) Child);

impl Traefik {
    pub(crate) fn start(bin: &Path, dir: &Path) -> Result<Self> {
        let child = Command::new(bin)
            .arg(format!("--configFile={}", dir.join("traefik.yml").display()))
            .current_dir(dir)
            .env(SIGNING_ENV, "bench-signing-key-0123456789abcdef0123456789")
            .stdout(Stdio::null())
            .spawn()
            .context("starting traefik")?;
        Ok(Self(child))
    }
}

impl Drop for Traefik {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
