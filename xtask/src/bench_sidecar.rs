//! `cargo xtask bench-sidecar`: wrk through (a) nginx with the `realip` and
//! `geoip2` modules doing EdgeGuard's default client-IP + geo job and (b) the
//! `edgeguard serve` sidecar with the equivalent config, both on loopback in
//! front of the same fast backend, on the same real GeoLite2-City. A
//! benchmark, not a test: it prints a table and writes `target/bench/sidecar.md`.
//!
//! nginx and its geoip2 module come from Debian packages (installed when
//! missing); nginx runs from `xtask/nginx/bench-sidecar.conf` in a scratch
//! folder under `target/bench`, never from `/etc/nginx`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};

use crate::load::{
    CONNECTIONS, THREADS, apt_install, cpu_secs_with_children, duration_secs, ensure_wrk, free_port,
    latency_us, on_path, parse, peak_rss_with_children, verdict, wait_ready, wrk_run,
};
use crate::{cmd, echo};

/// nginx worker processes; the sidecar's runtime gets as many worker threads.
const WORKERS: u32 = 2;
/// The range both servers trust: wrk connects from 127.0.0.1.
const TRUSTED: &str = "127.0.0.0/8";
/// Public addresses the load generator rotates through, each with city-level
/// data in the database (chosen by `edgeguard lookup` from a fixed sequence).
const CLIENT_POOL: usize = 300;
/// Pool addresses sent through both servers to the echo backend before measuring.
const PROBES: usize = 25;
/// The module shipped by Debian's `libnginx-mod-http-geoip2`.
const GEOIP2_MODULE: &str = "/usr/lib/nginx/modules/ngx_http_geoip2_module.so";
const NGINX_TEMPLATE: &str = include_str!("../nginx/bench-sidecar.conf");

#[derive(Clone, Copy, PartialEq)]
enum Server {
    Nginx,
    Sidecar,
}

impl Server {
    fn name(self) -> &'static str {
        match self {
            Server::Nginx => "(a) nginx realip + geoip2",
            Server::Sidecar => "(b) edgeguard serve",
        }
    }

    fn short(self) -> &'static str {
        match self {
            Server::Nginx => "nginx",
            Server::Sidecar => "sidecar",
        }
    }
}

/// What the benchmark runs, found or installed once.
struct Tools {
    nginx: PathBuf,
    edgeguard: PathBuf,
    city_db: PathBuf,
}

pub fn run(root: &Path, city_db: &Path) -> Result<()> {
    if !city_db.exists() {
        bail!("{} missing: run `cargo xtask geodata` first", city_db.display());
    }
    // `BENCH_SCENARIOS=a` measures nginx only (b: the sidecar only); default both.
    let only = std::env::var("BENCH_SCENARIOS").unwrap_or_else(|_| "ab".into());
    let servers: Vec<Server> =
        [Server::Nginx, Server::Sidecar].into_iter().filter(|s| only.contains(&s.name()[1..2])).collect();
    ensure!(!servers.is_empty(), "BENCH_SCENARIOS={only} selects neither (a) nor (b)");
    let secs = duration_secs()?;
    let wrk = ensure_wrk()?;
    let nginx = ensure_nginx()?;
    cmd::run(root, "cargo", &["build", "--release", "--bin", "edgeguard"], &[])?;
    let tools =
        Tools { nginx, edgeguard: root.join("target/release/edgeguard"), city_db: city_db.canonicalize()? };
    let out = root.join("target/bench");
    std::fs::create_dir_all(&out)?;

    let pool = client_pool(&tools)?;
    let script = out.join("sidecar-clients.lua");
    std::fs::write(&script, lua_script(&pool))?;

    let rt = tokio::runtime::Runtime::new()?;
    let echo_listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let echo_backend = echo_listener.local_addr()?;
    rt.spawn(echo::serve(echo_listener));
    let fast_listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let fast_backend = fast_listener.local_addr()?;
    rt.spawn(echo::serve_fast(fast_listener));

    let mut runs = Vec::new();
    // Server CPU time (µs) per request: comparable even when wrk and the servers compete for cores.
    let mut cpu_per_request = Vec::new();
    let mut probes = BTreeMap::new();
    for server in servers {
        let dir = out.join(format!("sidecar-{}", server.short()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;

        // First against the echo backend: what does the application receive?
        let (port, mut proc) = start(server, &tools, &dir, echo_backend)?;
        wait_ready(port, &mut proc.0).with_context(|| logs_hint(server, &dir))?;
        probes.insert(server.short(), probe(server, port, &pool[..PROBES])?);
        drop(proc);

        // Then the measured run, same config, against the fast backend.
        let (port, mut proc) = start(server, &tools, &dir, fast_backend)?;
        wait_ready(port, &mut proc.0).with_context(|| logs_hint(server, &dir))?;
        let url = format!("http://127.0.0.1:{port}/");
        let answer =
            cmd::output(root, "curl", &["-s", "-H", &format!("X-Forwarded-For: {}", pool[0]), &url])?;
        let geo_headers = answer.trim().strip_prefix("geo=").and_then(|n| n.parse::<u32>().ok());
        ensure!(
            geo_headers.is_some_and(|n| n > 0),
            "{}: the fast backend answered `{}`; no geo headers arrived",
            server.name(),
            answer.trim()
        );
        println!("{}: warm-up 5 s, then {secs} s", server.name());
        wrk_run(&wrk, &url, &script, crate::load::CONNECTIONS, 5)?;
        let cpu_before = cpu_secs_with_children(proc.0.id())?;
        let text = wrk_run(&wrk, &url, &script, crate::load::CONNECTIONS, secs)?;
        let cpu = cpu_secs_with_children(proc.0.id())? - cpu_before;
        let requests = text
            .lines()
            .find_map(|l| l.trim().split_once(" requests in "))
            .and_then(|(n, _)| n.parse::<f64>().ok())
            .context(format!("no request count in wrk output:\n{text}"))?;
        cpu_per_request.push(cpu * 1e6 / requests);
        runs.push(parse(server.name(), &text, peak_rss_with_children(proc.0.id())?)?);
    }
    let agreement = compare(&probes)?;

    let mut md = String::new();
    writeln!(md, "# Sidecar vs nginx load benchmark\n")?;
    writeln!(
        md,
        "wrk {THREADS} threads, {CONNECTIONS} connections, {secs} s (after 5 s warm-up), from 127.0.0.1 (trusted: \
         `{TRUSTED}`) with `X-Forwarded-For: <client>` rotating over {CLIENT_POOL} public addresses that have \
         city data; GeoLite2-City `{}` ({} MB); both in front of the same minimal backend (fixed 2-line body), \
         keep-alive upstream. nginx: {WORKERS} worker processes, `realip` + `geoip2` setting X-Real-IP, \
         X-Forwarded-*, and EdgeGuard's 11 default City headers (`xtask/nginx/bench-sidecar.conf`). \
         Sidecar: `clientIp.trustedProxies` + `geo.database`, everything else default, \
         TOKIO_WORKER_THREADS={WORKERS}. Load generator, servers and backend share the machine's {} cores.\n",
        tools.city_db.display(),
        std::fs::metadata(&tools.city_db)?.len() / 1_000_000,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
    )?;
    writeln!(md, "Versions: {}.\n", versions(root, &tools))?;
    writeln!(
        md,
        "| server | req/s | vs nginx | p50 | p99 | server CPU / request | peak RSS | non-2xx | socket errors |"
    )?;
    writeln!(md, "|---|---|---|---|---|---|---|---|---|")?;
    let nginx_run = runs.iter().find(|r| r.name == Server::Nginx.name());
    for (r, cpu_us) in runs.iter().zip(&cpu_per_request) {
        let ratio = nginx_run.map_or("?".to_string(), |a| format!("{:.2}", r.rps / a.rps));
        writeln!(
            md,
            "| {} | {:.0} | {ratio} | {} | {} | {cpu_us:.1} µs | {} MiB | {} | {} |",
            r.name,
            r.rps,
            r.p50,
            r.p99,
            r.peak_rss_kib / 1024,
            r.non_2xx,
            r.socket_errors
        )?;
    }
    writeln!(
        md,
        "\nServer CPU / request: user + system time of the server's processes during the measured run \
         divided by the requests served. Peak RSS: VmHWM of the sidecar process; for nginx the sum over \
         master and workers (the mapped database is counted in each).\n"
    )?;
    writeln!(md, "{agreement}")?;
    let sidecar_run = runs.iter().find(|r| r.name == Server::Sidecar.name());
    if let (Some(a), Some(b)) = (nginx_run, sidecar_run) {
        if a.non_2xx > 0 || b.non_2xx > 0 {
            writeln!(
                md,
                "Verdict: INVALID RUN (non-2xx responses; see target/bench/sidecar-*/ for the logs)"
            )?;
        } else {
            let ratio = b.rps / a.rps;
            let p99 = latency_us(&b.p99).zip(latency_us(&a.p99)).map(|(b, a)| b <= a);
            writeln!(
                md,
                "Verdict: throughput {ratio:.2} × nginx (target ≥ 1.0): {}; p99 {} vs nginx {} (target ≤): {}",
                verdict(ratio >= 1.0),
                b.p99,
                a.p99,
                p99.map_or("unknown (unparsed latency)", verdict)
            )?;
        }
    }
    print!("\n{md}");
    std::fs::write(out.join("sidecar.md"), md)?;
    println!("written to {}", out.join("sidecar.md").display());
    Ok(())
}

/// The nginx binary, installing `nginx` and `libnginx-mod-http-geoip2` from
/// Debian when the binary or the module is missing; checks for `realip`.
fn ensure_nginx() -> Result<PathBuf> {
    let find = || {
        if on_path("nginx") {
            Some(PathBuf::from("nginx"))
        } else {
            Some(PathBuf::from("/usr/sbin/nginx")).filter(|p| p.exists())
        }
    };
    let mut missing = Vec::new();
    // Debian bookworm's `nginx` is the server itself (nginx-light/-core are
    // metapackages adding modules the benchmark does not need); on older
    // releases it depends on one of them.
    if find().is_none() {
        missing.push("nginx");
    }
    if !Path::new(GEOIP2_MODULE).exists() {
        missing.push("libnginx-mod-http-geoip2");
    }
    if !missing.is_empty() {
        apt_install(&missing)?;
    }
    let nginx = find().context("nginx still missing after apt-get install")?;
    ensure!(Path::new(GEOIP2_MODULE).exists(), "{GEOIP2_MODULE} still missing after apt-get install");
    let configure = Command::new(&nginx).arg("-V").output().context("nginx -V")?;
    let configure = String::from_utf8_lossy(&configure.stderr);
    ensure!(
        configure.contains("--with-http_realip_module"),
        "{} was built without the realip module:\n{configure}",
        nginx.display()
    );
    Ok(nginx)
}

/// A running server; stopped (SIGTERM, then SIGKILL) when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        // SIGTERM lets nginx's master stop its workers (SIGKILL would orphan them).
        let _ = Command::new("kill").args(["-TERM", &self.0.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(server: Server, tools: &Tools, dir: &Path, upstream: std::net::SocketAddr) -> Result<(u16, Proc)> {
    let port = free_port()?;
    let log = std::fs::File::create(dir.join(format!("{}.out", server.short())))?;
    let child = match server {
        Server::Nginx => {
            let config = nginx_config(dir, port, upstream, &tools.city_db);
            for t in ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"] {
                std::fs::create_dir_all(dir.join("tmp").join(t))?;
            }
            std::fs::write(dir.join("nginx.conf"), config)?;
            let (prefix, conf, error_log) = (dir.display(), dir.join("nginx.conf"), dir.join("error.log"));
            cmd::output(
                dir,
                &tools.nginx.to_string_lossy(),
                &[
                    "-t",
                    "-q",
                    "-p",
                    &prefix.to_string(),
                    "-e",
                    &error_log.to_string_lossy(),
                    "-c",
                    &conf.to_string_lossy(),
                ],
            )
            .context("nginx rejected the generated config")?;
            Command::new(&tools.nginx)
                .arg("-p")
                .arg(dir)
                .arg("-e")
                .arg(&error_log)
                .arg("-c")
                .arg(&conf)
                .stdout(log.try_clone()?)
                .stderr(log)
                .spawn()
                .context("starting nginx")?
        }
        Server::Sidecar => {
            let config = dir.join("sidecar.yaml");
            std::fs::write(&config, sidecar_config(port, free_port()?, upstream, &tools.city_db))?;
            Command::new(&tools.edgeguard)
                .args(["serve", "--config"])
                .arg(&config)
                .env("TOKIO_WORKER_THREADS", WORKERS.to_string())
                .stdout(log.try_clone()?)
                .stderr(log)
                .spawn()
                .context("starting edgeguard serve")?
        }
    };
    Ok((port, Proc(child)))
}

fn logs_hint(server: Server, dir: &Path) -> String {
    format!("{} did not come up; see {}", server.name(), dir.display())
}

fn nginx_config(dir: &Path, port: u16, upstream: std::net::SocketAddr, city_db: &Path) -> String {
    NGINX_TEMPLATE
        .replace("@GEOIP2_MODULE@", GEOIP2_MODULE)
        .replace("@WORKERS@", &WORKERS.to_string())
        .replace("@DIR@", &dir.display().to_string())
        .replace("@TRUSTED@", TRUSTED)
        .replace("@CITY_DB@", &city_db.display().to_string())
        .replace("@UPSTREAM@", &upstream.to_string())
        .replace("@LISTEN@", &format!("127.0.0.1:{port}"))
}

/// The sidecar doing what the nginx config does: EdgeGuard's defaults plus
/// the trusted range and the database.
fn sidecar_config(port: u16, admin: u16, upstream: std::net::SocketAddr, city_db: &Path) -> String {
    let config = serde_json::json!({
        "server": {
            "listen": format!("127.0.0.1:{port}"),
            "upstream": format!("http://{upstream}"),
            "adminListen": format!("127.0.0.1:{admin}"),
        },
        "clientIp": {"trustedProxies": [TRUSTED]},
        // nginx sets every City header (xtask/nginx/bench-sidecar.conf): so
        // does the sidecar, opting in to the ones off by default (issue #14),
        // with the per-process budget the sidecar example uses.
        "geo": {
            "database": city_db,
            "memoryBudget": "2MiB",
            "cacheEntries": 4096,
            "headers": {
                "countryName": "X-Geo-Country-Name",
                "continent": "X-Geo-Continent",
                "regionName": "X-Geo-Region-Name",
                "postalCode": "X-Geo-Postal-Code",
                "latitude": "X-Geo-Latitude",
                "longitude": "X-Geo-Longitude",
                "accuracyRadius": "X-Geo-Accuracy-Radius",
                "timeZone": "X-Geo-Time-Zone",
            },
        },
    });
    // JSON is YAML; pretty-printed so the file reads like a config.
    format!(
        "# Written by `cargo xtask bench-sidecar`: the sidecar side of target/bench/sidecar-nginx/nginx.conf.\n{}\n",
        serde_json::to_string_pretty(&config).unwrap_or_default()
    )
}

/// [`CLIENT_POOL`] public IPv4 addresses with city-level data: a fixed
/// pseudo-random sequence filtered by `edgeguard lookup`.
fn client_pool(tools: &Tools) -> Result<Vec<String>> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        // xorshift64*: deterministic, no dependency.
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        (state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32) as u32
    };
    let mut pool = Vec::new();
    for _round in 0..10 {
        let candidates: Vec<String> = (0..2000)
            .map(|_| {
                let n = next();
                let first = 1 + (n >> 24) % 223;
                format!("{first}.{}.{}.{}", (n >> 16) & 255, (n >> 8) & 255, 1 + (n & 255) % 254)
            })
            .collect();
        let mut args = vec!["lookup".to_string(), "--db".into(), tools.city_db.display().to_string()];
        args.extend(candidates);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let text = cmd::output(Path::new("."), &tools.edgeguard.to_string_lossy(), &args)?;
        let mut current = None;
        for line in text.lines() {
            if !line.starts_with(' ') {
                current = Some(line.trim().to_string());
            } else if line.trim_start().starts_with("X-Geo-City:")
                && let Some(ip) = current.take()
                && !pool.contains(&ip)
            {
                pool.push(ip);
            }
        }
        if pool.len() >= CLIENT_POOL {
            pool.truncate(CLIENT_POOL);
            return Ok(pool);
        }
    }
    bail!("only {} of 20000 candidate addresses have city data in {}", pool.len(), tools.city_db.display())
}

fn lua_script(pool: &[String]) -> String {
    let list: Vec<String> = pool.iter().map(|ip| format!("\"{ip}\"")).collect();
    format!(
        r#"-- Written by `cargo xtask bench-sidecar`: each request comes from the trusted
-- loopback peer on behalf of a public client, rotating over {} addresses with city data.
local pool = {{{}}}
local n = 0
request = function()
  n = n % #pool + 1
  return wrk.format("GET", "/", {{["X-Forwarded-For"] = pool[n]}})
end
"#,
        pool.len(),
        list.join(", ")
    )
}

/// The identity and geo headers the echo backend received for each probe
/// address, plus one request carrying forged geo and X-Real-IP headers.
fn probe(server: Server, port: u16, ips: &[String]) -> Result<Vec<(String, BTreeMap<String, String>)>> {
    let url = format!("http://127.0.0.1:{port}/");
    let mut seen = Vec::new();
    let forged = ["X-Geo-Country: ZZ", "X-Geo-City: Forged", "X-Real-IP: 192.0.2.1", "X-Geo-ASN: 1"];
    for (i, ip) in ips.iter().enumerate() {
        let mut args = vec!["-s".to_string(), "-H".into(), format!("X-Forwarded-For: {ip}")];
        if i == 0 {
            for h in forged {
                args.extend(["-H".to_string(), h.to_string()]);
            }
        }
        args.push(url.clone());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let body = cmd::output(Path::new("."), "curl", &args)?;
        let echoed: serde_json::Value = serde_json::from_str(&body)
            .with_context(|| format!("{}: the echo backend's answer is not JSON: {body}", server.name()))?;
        let mut headers = BTreeMap::new();
        for (name, values) in echoed["headers"].as_object().context("echo answer without headers")? {
            if name == "x-real-ip"
                || ["x-geo-", "x-forwarded-", "x-original-"].iter().any(|p| name.starts_with(p))
            {
                let values: Vec<&str> =
                    values.as_array().into_iter().flatten().filter_map(|v| v.as_str()).collect();
                // The listening port differs between the servers; the host does not.
                let value = values.join(" | ").replace(&format!(":{port}"), ":PORT");
                headers.insert(name.clone(), value);
            }
        }
        ensure!(
            headers.get("x-real-ip") == Some(ip),
            "{}: X-Forwarded-For {ip} from a trusted peer gave X-Real-IP {:?}",
            server.name(),
            headers.get("x-real-ip")
        );
        let country = headers.get("x-geo-country").map(String::as_str).unwrap_or_default();
        ensure!(
            country.len() == 2 && country != "ZZ",
            "{}: {ip} gave X-Geo-Country {country:?}; expected one real country code",
            server.name()
        );
        ensure!(
            headers.get("x-geo-city").is_none_or(|c| c != "Forged") && !headers.contains_key("x-geo-asn"),
            "{}: client-sent geo headers reached the backend: {headers:?}",
            server.name()
        );
        seen.push((ip.clone(), headers));
    }
    Ok(seen)
}

type Probes = Vec<(String, BTreeMap<String, String>)>;

/// A paragraph on how the two servers' headers compare, with one example
/// request; fails when they disagree on X-Real-IP or X-Geo-Country.
fn compare(probes: &BTreeMap<&str, Probes>) -> Result<String> {
    let mut text = String::new();
    let count = probes.values().next().map_or(0, Vec::len);
    let names: Vec<&str> = probes.keys().copied().collect();
    write!(
        text,
        "Probe before measuring: {count} pool addresses through {} to an echo backend: X-Real-IP is the client, \
         one real X-Geo-Country, client-sent geo headers and X-Real-IP replaced or removed",
        names.join(" and ")
    )?;
    if let (Some(nginx), Some(sidecar)) = (probes.get("nginx"), probes.get("sidecar")) {
        // Per header: how many probes differ, and the first example.
        let mut differences: BTreeMap<&String, (usize, String)> = BTreeMap::new();
        for ((ip, a), (_, b)) in nginx.iter().zip(sidecar) {
            for key in ["x-real-ip", "x-geo-country"] {
                ensure!(
                    a.get(key) == b.get(key),
                    "{ip}: {key} differs: nginx {:?}, sidecar {:?}",
                    a.get(key),
                    b.get(key)
                );
            }
            let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for key in keys {
                if a.get(key) != b.get(key) {
                    let show = |v: Option<&String>| v.map_or("(absent)".to_string(), |v| format!("`{v}`"));
                    let example = format!("{ip}: nginx {}, sidecar {}", show(a.get(key)), show(b.get(key)));
                    differences.entry(key).or_insert((0, example)).0 += 1;
                }
            }
        }
        write!(text, "; X-Real-IP and X-Geo-Country identical in both")?;
        if differences.is_empty() {
            writeln!(text, ", and so are all other identity and geo headers.")?;
        } else {
            writeln!(text, "; other headers differ:\n")?;
            for (key, (n, example)) in &differences {
                writeln!(text, "- `{key}` in {n} of {count}, e.g. {example}")?;
            }
        }
    } else {
        writeln!(text, ".")?;
    }
    // One request as the application saw it (the first probe carried forged headers).
    for (server, seen) in probes {
        if let Some((ip, headers)) = seen.get(1) {
            let list: Vec<String> = headers.iter().map(|(k, v)| format!("`{k}: {v}`")).collect();
            writeln!(text, "\nExample, {server}, client {ip}: {}", list.join(", "))?;
        }
    }
    Ok(text)
}

/// nginx, its geoip2 module and the EdgeGuard commit, for the report.
fn versions(root: &Path, tools: &Tools) -> String {
    let nginx = Command::new(&tools.nginx)
        .arg("-v")
        .stderr(Stdio::piped())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stderr).trim().trim_start_matches("nginx version: ").to_string())
        .unwrap_or_else(|_| "nginx ?".into());
    let module = cmd::output(root, "dpkg-query", &["-W", "-f", "${Version}", "libnginx-mod-http-geoip2"])
        .unwrap_or_else(|_| "?".into());
    let commit =
        cmd::output(root, "git", &["describe", "--always", "--dirty"]).unwrap_or_else(|_| "?".into());
    format!("{nginx}, libnginx-mod-http-geoip2 {module}, edgeguard {}", commit.trim())
}
