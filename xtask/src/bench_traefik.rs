//! `cargo xtask bench-traefik`: wrk against real Traefik with the real
//! GeoLite2-City mounted, comparing (a) a router without middleware and
//! (b) the same router with EdgeGuard (client IP + geo). A benchmark, not a
//! test: it prints a table and writes `target/bench/traefik.md`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
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

/// What (b) adds for 81.2.69.142 in GeoLite2-City (X-Real-IP, X-Original-Forwarded-For
/// and the geo headers with data), as static values for scenario (h).
const STATIC_GEO_HEADERS: [(&str, &str); 13] = [
    ("X-Real-IP", "81.2.69.142"),
    ("X-Original-Forwarded-For", "81.2.69.142"),
    ("X-Geo-Country", "GB"),
    ("X-Geo-Country-Name", "United Kingdom"),
    ("X-Geo-Continent", "EU"),
    ("X-Geo-Region", "ENG"),
    ("X-Geo-Region-Name", "England"),
    ("X-Geo-City", "Gamlingay"),
    ("X-Geo-Postal-Code", "SG19"),
    ("X-Geo-Latitude", "52.1398"),
    ("X-Geo-Longitude", "-0.2399"),
    ("X-Geo-Accuracy-Radius", "100"),
    ("X-Geo-Time-Zone", "Europe/London"),
];

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
    let floor_dir = floor_guest(root)?;
    let plugin = |cfg: serde_json::Value| Some(json!({"plugin": {"edgeguard": cfg}}));
    // What a wasm plugin setting these headers competes with: Traefik's own
    // `headers` middleware adding the same number of static request headers.
    let static_headers: serde_json::Map<String, serde_json::Value> =
        STATIC_GEO_HEADERS.iter().map(|(name, value)| (name.to_string(), json!(value))).collect();
    let headers = Some(json!({"headers": {"customRequestHeaders": static_headers.clone()}}));
    // (name, Traefik middleware, wrk script, the backend must see geo headers)
    // Only the headers revenue reporting reads: country, region, city.
    let off = json!("");
    let three = json!({"database": format!("/geodata/{db_name}"), "headers": {
        "countryName": off, "continent": off, "regionName": off, "postalCode": off, "latitude": off,
        "longitude": off, "accuracyRadius": off, "timeZone": off}});
    let set = json!({ "set": static_headers });
    let scenarios: [(&'static str, Option<serde_json::Value>, &str, bool); 10] = [
        ("(a) no middleware", None, "one-client.lua", false),
        ("(b) EdgeGuard client IP + geo", plugin(cig.clone()), "one-client.lua", true),
        (
            "(c) as (b) + signing",
            plugin(json!({"clientIp": client_ip, "geo": geo, "signing": signing})),
            "one-client.lua",
            true,
        ),
        ("(d) as (b), 2000 rotating clients", plugin(cig), "clients.lua", true),
        ("(e) EdgeGuard client IP only", plugin(json!({"clientIp": client_ip})), "one-client.lua", false),
        ("(f) EdgeGuard loaded, no header edits", plugin(noop), "one-client.lua", false),
        (
            "(g) smallest possible wasm guest (examples/floor_guest.rs)",
            plugin(json!({})),
            "one-client.lua",
            false,
        ),
        ("(h) no plugin: Traefik `headers` adds the same headers as (b)", headers, "one-client.lua", true),
        (
            "(i) as (b) with 3 geo headers (country, region, city)",
            plugin(json!({"clientIp": client_ip, "geo": three})),
            "one-client.lua",
            true,
        ),
        ("(j) reference wasm guest: (b)'s host calls, fixed values", plugin(set), "one-client.lua", true),
    ];
    std::fs::write(out.join("one-client.lua"), ONE_CLIENT_LUA)?;
    // `BENCH_SCENARIOS=ab` runs a subset (for quick experiments); default: all.
    let only = std::env::var("BENCH_SCENARIOS").unwrap_or_else(|_| "abcdefghij".into());
    let scenarios = scenarios.into_iter().filter(|(name, ..)| only.contains(&name[1..2]));
    for (name, middleware, script, expects_geo) in scenarios {
        let dir = out.join(format!("traefik-{}", runs.len()));
        let _ = std::fs::remove_dir_all(&dir);
        let local = dir.join("plugins-local/src/edgeguard");
        std::fs::create_dir_all(&local)?;
        let is_floor = name.starts_with("(g)") || name.starts_with("(j)");
        for f in ["plugin.wasm", ".traefik.yml"] {
            let from = if is_floor && f == "plugin.wasm" { &floor_dir } else { &plugin_dir };
            std::fs::copy(from.join(f), local.join(f))?;
        }
        let port = free_port()?;
        let pprof_port = std::env::var_os("BENCH_PPROF").map(|_| free_port()).transpose()?;
        write_configs(&dir, port, backend, middleware, &geo_dir, pprof_port)?;
        let mut child = Traefik::start(&traefik, &dir)?;
        wait_ready(port, &mut child.0)?;
        let url = format!("http://127.0.0.1:{port}/");
        // Warm-up: instances created, pages faulted in, JIT settled.
        // The backend counts the geo headers it got: prove EdgeGuard is working.
        let probe = Command::new("curl").args(["-s", "-H", "X-Forwarded-For: 81.2.69.142", &url]).output()?;
        let geo_seen = String::from_utf8_lossy(&probe.stdout).trim().to_string();
        let geo_headers = geo_seen.strip_prefix("geo=").and_then(|n| n.parse::<u32>().ok());
        if geo_headers.is_none() || expects_geo == (geo_headers == Some(0)) {
            bail!("{name}: the backend answered `{geo_seen}`; EdgeGuard is not doing what the scenario says");
        }
        wrk_run(&wrk, &url, &out.join(script), 5)?;
        // `BENCH_PPROF=1`: Traefik's CPU profile of the measured run, for `go tool pprof`.
        let profiler = pprof_port.map(|p| {
            let file = dir.join("cpu.pprof");
            let url = format!("http://127.0.0.1:{p}/debug/pprof/profile?seconds={}", secs - 5);
            Command::new("curl").args(["-s", "-o"]).arg(&file).arg(url).spawn()
        });
        let text = wrk_run(&wrk, &url, &out.join(script), secs)?;
        if let Some(p) = profiler {
            p?.wait()?;
            println!("{name}: CPU profile in {}", dir.join("cpu.pprof").display());
        }
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
         reads) in each of the 64 instances. (e) isolates the client-IP stage; (f) is EdgeGuard loaded with nothing \
         to edit; (g) is a guest that does nothing at all: the floor any http-wasm plugin pays in \
         Traefik (instance pool, guest calls). (h) has no plugin: Traefik's own `headers` middleware \
         adds the headers (b) adds, as static values, i.e. what carrying them costs. (i) is (b) with \
         3 geo headers instead of 11. (j) is a reference guest (examples/floor_guest.rs) making \
         (b)'s host calls with fixed values: what any http-wasm plugin setting these headers pays, \
         before doing any work of its own.\n"
    )?;
    if let Some(a) = find("(a)") {
        for label in ["(b)", "(c)", "(d)", "(e)", "(f)", "(g)", "(h)", "(i)", "(j)"] {
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
    pprof_port: Option<u16>,
) -> Result<()> {
    let mut router = json!({"rule": "PathPrefix(`/`)", "service": "echo"});
    let mut middlewares = json!({});
    if let Some(middleware) = middleware {
        router["middlewares"] = json!(["edgeguard"]);
        middlewares = json!({ "edgeguard": middleware });
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
    let mut static_cfg = static_cfg;
    if let Some(p) = pprof_port {
        static_cfg["entryPoints"]["traefik"] = json!({"address": format!("127.0.0.1:{p}")});
        static_cfg["api"] = json!({"insecure": true, "debug": true});
    }
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

/// Builds `examples/floor_guest.rs` for wasm32-wasip1; returns its directory
/// with the wasm as `plugin.wasm`.
fn floor_guest(root: &Path) -> Result<PathBuf> {
    let args = [
        "build",
        "--quiet",
        "--profile",
        "plugin",
        "--target",
        tools::WASM_TARGET,
        "--example",
        "floor_guest",
    ];
    crate::cmd::run(root, "cargo", &args, &[])?;
    let dir = root.join("target/bench/floor-guest");
    std::fs::create_dir_all(&dir)?;
    let wasm = root.join("target").join(tools::WASM_TARGET).join("plugin/examples/floor_guest.wasm");
    std::fs::copy(wasm, dir.join("plugin.wasm"))?;
    Ok(dir)
}
