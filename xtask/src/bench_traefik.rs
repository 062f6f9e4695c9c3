//! `cargo xtask bench-traefik`: wrk against real Traefik with the real
//! GeoLite2-City mounted, at several concurrencies and client mixes (issue #14).
//! A benchmark, not a test: it prints a table and writes
//! `target/bench/traefik.md` and `target/bench/traefik.svg`.
//!
//! Scenarios, each in its own fresh Traefik process per cell:
//! - (a) no middleware;
//! - (g) the do-nothing wasm guest (`examples/floor_guest.rs`, config `{}`);
//! - (j) the same guest making EdgeGuard's host calls and setting the headers
//!   EdgeGuard's default config sets, with fixed values: what any http-wasm
//!   plugin doing this job pays before doing any work of its own;
//! - (b) EdgeGuard with its default config (client IP + geo).
//!
//! Traefik keeps one guest instance per concurrently executing request, so a
//! plugin's memory is multiplied by the concurrency: the sweep shows it.
//! Peak RSS is the process's VmHWM; "idle RSS" is VmRSS 30 s after the load
//! stopped (the process idles while the next cells run: it costs no time).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::json;

use crate::clients::{self, Mix};
use crate::load::{ensure_wrk, free_port, latency_us, parse, peak_rss, verdict, wait_ready, wrk_run};
use crate::{echo, plugin, tools};

/// Connections per cell, unless `BENCH_CONNS` says otherwise.
const CONCURRENCY: [u32; 3] = [64, 256, 1024];
/// Seconds of load before the measured run (instances created, JIT warm).
const WARMUP_SECS: u32 = 2;
/// Seconds per measured run, unless `BENCH_SECS` says otherwise.
const MEASURE_SECS: u32 = 8;
/// How long a process idles before its idle RSS is read.
const IDLE: Duration = Duration::from_secs(30);

/// Targets of issue #14, for (b) against (j).
const RSS_SLACK_MIB: f64 = 32.0;
const THROUGHPUT_TARGET: [(Mix, f64); 3] = [(Mix::One, 0.95), (Mix::Zipf, 0.95), (Mix::Uniform, 0.90)];

/// What (b) adds for 81.2.69.142 (Gamlingay, GB) with the default config, as
/// fixed values for (j): client IP, the original chain, country, region, city.
const REFERENCE_HEADERS: [(&str, &str); 5] = [
    ("X-Real-IP", "81.2.69.142"),
    ("X-Original-Forwarded-For", "81.2.69.142"),
    ("X-Geo-Country", "GB"),
    ("X-Geo-Region", "ENG"),
    ("X-Geo-City", "Gamlingay"),
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Scenario {
    Bare,
    Floor,
    Reference,
    EdgeGuard,
}

impl Scenario {
    const ALL: [Scenario; 4] = [Scenario::Bare, Scenario::Floor, Scenario::Reference, Scenario::EdgeGuard];

    fn key(self) -> char {
        match self {
            Scenario::Bare => 'a',
            Scenario::Floor => 'g',
            Scenario::Reference => 'j',
            Scenario::EdgeGuard => 'b',
        }
    }

    fn label(self) -> &'static str {
        match self {
            Scenario::Bare => "(a) no middleware",
            Scenario::Floor => "(g) do-nothing guest",
            Scenario::Reference => "(j) reference guest, same headers",
            Scenario::EdgeGuard => "(b) EdgeGuard default",
        }
    }

    fn color(self) -> &'static str {
        match self {
            Scenario::Bare => "#777777",
            Scenario::Floor => "#1f77b4",
            Scenario::Reference => "#2ca02c",
            Scenario::EdgeGuard => "#d62728",
        }
    }
}

/// One measured cell.
struct Cell {
    scenario: Scenario,
    mix: Mix,
    conns: u32,
    rps: f64,
    p50: String,
    p99: String,
    non_2xx: u64,
    peak_rss_kib: u64,
    idle_rss_kib: Option<u64>,
    instances: Option<usize>,
}

/// A Traefik process left idling after its cell, read after [`IDLE`].
struct Idling {
    traefik: Traefik,
    since: Instant,
    cell: usize,
}

fn env_list<T>(var: &str, default: Vec<T>, parse: impl Fn(&str) -> Option<T>) -> Result<Vec<T>> {
    match std::env::var(var) {
        Ok(v) => v
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| parse(s).with_context(|| format!("{var}: `{s}` not understood")))
            .collect(),
        Err(_) => Ok(default),
    }
}

pub fn run(root: &Path, city_db: &Path) -> Result<()> {
    if !city_db.exists() {
        bail!("{} missing: run `cargo xtask geodata` first", city_db.display());
    }
    // `BENCH_SCENARIOS=ajb`, `BENCH_CONNS=64,256`, `BENCH_MIXES=one,zipf`: a subset (one cell for a quick check).
    let only = std::env::var("BENCH_SCENARIOS").unwrap_or_else(|_| "agjb".into());
    let scenarios: Vec<Scenario> = Scenario::ALL.into_iter().filter(|s| only.contains(s.key())).collect();
    let conns = env_list("BENCH_CONNS", CONCURRENCY.to_vec(), |s| s.parse().ok())?;
    let mixes = env_list("BENCH_MIXES", Mix::ALL.to_vec(), Mix::parse)?;
    let secs = match std::env::var("BENCH_SECS") {
        Ok(v) => v.parse().with_context(|| format!("BENCH_SECS={v} is not a number of seconds"))?,
        Err(_) => MEASURE_SECS,
    };
    let wrk = ensure_wrk()?;
    let traefik = tools::traefik(root, tools::TRAEFIK_VERSION)?;
    let plugin_dir = plugin::build(root)?;
    let floor_dir = floor_guest(root)?;
    let out = root.join("target/bench");
    std::fs::create_dir_all(&out)?;
    let started = Instant::now();
    clients::write_sequences(city_db, &out)?;
    for mix in Mix::ALL {
        let list = out.join(format!("clients-{}.txt", mix.key()));
        std::fs::write(out.join(format!("clients-{}.lua", mix.key())), clients::lua_script(&list))?;
    }

    let rt = tokio::runtime::Runtime::new()?;
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let backend = listener.local_addr()?;
    rt.spawn(echo::serve_fast(listener));

    let geo_dir = city_db.parent().context("database has a parent dir")?.canonicalize()?;
    let db_name = city_db.file_name().and_then(|n| n.to_str()).context("database file name")?;
    let middleware = |s: Scenario| -> Option<serde_json::Value> {
        let cfg = match s {
            Scenario::Bare => return None,
            Scenario::Floor => json!({}),
            Scenario::Reference => reference_config(),
            Scenario::EdgeGuard => json!({
                "clientIp": {"trustedProxies": ["loopback"]},
                "geo": {"database": format!("/geodata/{db_name}")},
            }),
        };
        Some(json!({"plugin": {"edgeguard": cfg}}))
    };

    let mut cells: Vec<Cell> = Vec::new();
    let mut idling: Vec<Idling> = Vec::new();
    for &c in &conns {
        for &mix in &mixes {
            for &s in &scenarios {
                reap(&mut idling, &mut cells, false)?;
                let dir = out.join(format!("traefik-{}-{}-{c}", s.key(), mix.key()));
                let _ = std::fs::remove_dir_all(&dir);
                let local = dir.join("plugins-local/src/edgeguard");
                std::fs::create_dir_all(&local)?;
                let is_floor = matches!(s, Scenario::Floor | Scenario::Reference);
                for f in ["plugin.wasm", ".traefik.yml"] {
                    let from = if is_floor && f == "plugin.wasm" { &floor_dir } else { &plugin_dir };
                    std::fs::copy(from.join(f), local.join(f))?;
                }
                let port = free_port()?;
                write_configs(&dir, port, backend, middleware(s), &geo_dir)?;
                let mut t = Traefik::start(&traefik, &dir)?;
                wait_ready(port, &mut t.0)?;
                let url = format!("http://127.0.0.1:{port}/");
                probe(s, &url)?;
                let script = out.join(format!("clients-{}.lua", mix.key()));
                wrk_run(&wrk, &url, &script, c, WARMUP_SECS)?;
                let text = wrk_run(&wrk, &url, &script, c, secs)?;
                let run = parse("cell", &text, peak_rss(t.0.id())?)?;
                println!(
                    "{:>4} conns, {:<32} {:<36} {:>8.0} req/s  p99 {:>9}  peak RSS {:>5} MiB",
                    c,
                    mix.label(),
                    s.label(),
                    run.rps,
                    run.p99,
                    run.peak_rss_kib / 1024
                );
                cells.push(Cell {
                    scenario: s,
                    mix,
                    conns: c,
                    rps: run.rps,
                    p50: run.p50,
                    p99: run.p99,
                    non_2xx: run.non_2xx,
                    peak_rss_kib: run.peak_rss_kib,
                    idle_rss_kib: None,
                    instances: None,
                });
                idling.push(Idling { traefik: t, since: Instant::now(), cell: cells.len() - 1 });
            }
        }
    }
    reap(&mut idling, &mut cells, true)?;
    let elapsed = started.elapsed();

    let md = report(&cells, &conns, &mixes, secs, city_db, elapsed)?;
    print!("\n{md}");
    std::fs::write(out.join("traefik.md"), &md)?;
    std::fs::write(out.join("traefik.svg"), svg(&cells, &conns, &mixes))?;
    println!("written to {} and {}", out.join("traefik.md").display(), out.join("traefik.svg").display());
    Ok(())
}

/// Reads the idle RSS (and the instance count the guest logged) of every
/// process that has idled for [`IDLE`], then stops it; with `all`, waits for the rest.
fn reap(idling: &mut Vec<Idling>, cells: &mut [Cell], all: bool) -> Result<()> {
    let mut keep = Vec::new();
    for i in idling.drain(..) {
        if !all && i.since.elapsed() < IDLE {
            keep.push(i);
            continue;
        }
        if let Some(wait) = IDLE.checked_sub(i.since.elapsed()) {
            std::thread::sleep(wait);
        }
        let pid = i.traefik.0.id();
        let cell = &mut cells[i.cell];
        cell.idle_rss_kib = rss(pid).ok();
        cell.instances = instances(&i.traefik.1);
        drop(i.traefik);
    }
    *idling = keep;
    Ok(())
}

/// Current resident set size of `pid` (VmRSS), in KiB.
fn rss(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("VmRSS not found")
}

/// Guest instances created: the reference guests log one line at init.
fn instances(dir: &Path) -> Option<usize> {
    let log = std::fs::read_to_string(dir.join("traefik.log")).ok()?;
    let n = log.matches(INSTANCE_LOG).count();
    (n > 0).then_some(n)
}

/// What `examples/floor_guest.rs` logs once per instance.
const INSTANCE_LOG: &str = "floor_guest: instance initialised";

/// One request through the router: the backend counts the geo headers it
/// got, which proves each scenario does what it says.
fn probe(s: Scenario, url: &str) -> Result<()> {
    let out = Command::new("curl").args(["-s", "-H", "X-Forwarded-For: 81.2.69.142", url]).output()?;
    let seen = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let geo = seen.strip_prefix("geo=").and_then(|n| n.parse::<u32>().ok());
    let want_geo = matches!(s, Scenario::Reference | Scenario::EdgeGuard);
    match geo {
        Some(n) if (n > 0) == want_geo => Ok(()),
        _ => bail!("{}: the backend answered `{seen}`; the scenario is not doing what it says", s.label()),
    }
}

fn find(cells: &[Cell], s: Scenario, mix: Mix, conns: u32) -> Option<&Cell> {
    cells.iter().find(|c| c.scenario == s && c.mix == mix && c.conns == conns)
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn report(
    cells: &[Cell],
    conns: &[u32],
    mixes: &[Mix],
    secs: u32,
    db: &Path,
    elapsed: Duration,
) -> Result<String> {
    let mut md = String::new();
    writeln!(md, "# Traefik {} under concurrency and client diversity\n", tools::TRAEFIK_VERSION)?;
    writeln!(
        md,
        "wrk ({} threads, {WARMUP_SECS} s warm-up + {secs} s measured per cell), every cell in a fresh Traefik \
         process; requests from a trusted loopback peer with `X-Forwarded-For` from the mix; GeoLite2-City \
         `{}` mounted; a minimal backend (fixed 2-line body) in the same process as wrk's driver. \
         Sweep time: {:.1} min. Idle RSS: VmRSS 30 s after the load stopped.\n",
        crate::load::THREADS,
        db.display(),
        elapsed.as_secs_f64() / 60.0
    )?;
    writeln!(
        md,
        "| conns | mix | scenario | req/s | p50 | p99 | peak RSS | idle RSS | instances | non-2xx |"
    )?;
    writeln!(md, "|---|---|---|---|---|---|---|---|---|---|")?;
    for &c in conns {
        for &mix in mixes {
            for s in Scenario::ALL {
                let Some(x) = find(cells, s, mix, c) else { continue };
                writeln!(
                    md,
                    "| {c} | {} | {} | {:.0} | {} | {} | {:.0} MiB | {} | {} | {} |",
                    mix.label(),
                    s.label(),
                    x.rps,
                    x.p50,
                    x.p99,
                    mib(x.peak_rss_kib),
                    x.idle_rss_kib.map_or("?".into(), |k| format!("{:.0} MiB", mib(k))),
                    x.instances.map_or("–".into(), |n| n.to_string()),
                    x.non_2xx
                )?;
            }
        }
    }
    writeln!(md, "\n## (b) against (a) and (j)\n")?;
    writeln!(
        md,
        "Targets (issue #14): peak RSS (b) ≤ (j) + {RSS_SLACK_MIB} MiB at every cell; throughput (b)/(j) ≥ 0.95 \
         (one client, Zipf), ≥ 0.90 (uniform) at 64 connections.\n"
    )?;
    writeln!(
        md,
        "| conns | mix | (b)/(a) req/s | (b)/(j) req/s | throughput target | (b)−(j) peak RSS | memory target | (b) p99 − (j) p99 |"
    )?;
    writeln!(md, "|---|---|---|---|---|---|---|---|")?;
    for &c in conns {
        for &mix in mixes {
            let (Some(b), Some(j)) =
                (find(cells, Scenario::EdgeGuard, mix, c), find(cells, Scenario::Reference, mix, c))
            else {
                continue;
            };
            let a = find(cells, Scenario::Bare, mix, c);
            let invalid = b.non_2xx > 0 || j.non_2xx > 0;
            let ratio = b.rps / j.rps;
            let extra = mib(b.peak_rss_kib) - mib(j.peak_rss_kib);
            let target = THROUGHPUT_TARGET.iter().find(|(m, _)| *m == mix).map_or(0.0, |t| t.1);
            let cpu =
                if c == 64 { format!("≥ {target:.2}: {}", verdict(ratio >= target)) } else { "–".into() };
            let p99 = match (latency_us(&b.p99), latency_us(&j.p99)) {
                (Some(x), Some(y)) => format!("{:+.2} ms", (x - y) / 1000.0),
                _ => "?".into(),
            };
            writeln!(
                md,
                "| {c} | {} | {} | {ratio:.2} | {cpu} | {extra:+.0} MiB | {}{} | {p99} |",
                mix.label(),
                a.map_or("?".into(), |a| format!("{:.2}", b.rps / a.rps)),
                verdict(extra <= RSS_SLACK_MIB),
                if invalid { " (INVALID: non-2xx responses)" } else { "" },
            )?;
        }
    }
    writeln!(
        md,
        "\nOne cell: `BENCH_SCENARIOS=b BENCH_CONNS=256 BENCH_MIXES=zipf cargo xtask bench-traefik` \
         (scenarios a g j b; mixes one zipf uniform; `BENCH_SECS` for the measured seconds)."
    )?;
    Ok(md)
}

/// A plotted figure of a cell.
type Metric = fn(&Cell) -> f64;

/// RSS and req/s against concurrency, one line per scenario, one column per mix.
fn svg(cells: &[Cell], conns: &[u32], mixes: &[Mix]) -> String {
    let (w, h, pad) = (300.0, 220.0, 50.0);
    let width = pad + mixes.len() as f64 * (w + pad);
    let height = 2.0 * (h + pad) + 60.0;
    let mut s = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="11">"#
    );
    s.push_str(r#"<rect width="100%" height="100%" fill="white"/>"#);
    let metrics: [(&str, Metric); 2] =
        [("Traefik peak RSS (MiB)", |c| mib(c.peak_rss_kib)), ("throughput (req/s)", |c| c.rps)];
    let x_of = |i: usize| if conns.len() > 1 { i as f64 / (conns.len() - 1) as f64 * w } else { w / 2.0 };
    for (row, (title, value)) in metrics.iter().enumerate() {
        let max = cells.iter().map(value).fold(1.0, f64::max) * 1.1;
        for (col, mix) in mixes.iter().enumerate() {
            let (x0, y0) = (pad + col as f64 * (w + pad), 30.0 + row as f64 * (h + pad));
            let _ = write!(
                s,
                r##"<text x="{}" y="{}" font-weight="bold">{} — {}</text><rect x="{x0}" y="{y0}" width="{w}" height="{h}" fill="none" stroke="#ccc"/>"##,
                x0,
                y0 - 6.0,
                title,
                mix.label()
            );
            for k in 0..=4 {
                let v = max * k as f64 / 4.0;
                let y = y0 + h - h * k as f64 / 4.0;
                let _ =
                    write!(s, r#"<text x="{}" y="{}" text-anchor="end">{v:.0}</text>"#, x0 - 4.0, y + 4.0);
            }
            for (i, c) in conns.iter().enumerate() {
                let _ = write!(
                    s,
                    r#"<text x="{}" y="{}" text-anchor="middle">{c}</text>"#,
                    x0 + x_of(i),
                    y0 + h + 14.0
                );
            }
            for sc in Scenario::ALL {
                let points: Vec<String> = conns
                    .iter()
                    .enumerate()
                    .filter_map(|(i, &c)| find(cells, sc, *mix, c).map(|cell| (i, value(cell))))
                    .map(|(i, v)| format!("{:.1},{:.1}", x0 + x_of(i), y0 + h - v / max * h))
                    .collect();
                if points.is_empty() {
                    continue;
                }
                let _ = write!(
                    s,
                    r#"<polyline points="{}" fill="none" stroke="{}" stroke-width="2"/>"#,
                    points.join(" "),
                    sc.color()
                );
                for p in &points {
                    let (px, py) = p.split_once(',').unwrap_or(("0", "0"));
                    let _ = write!(s, r#"<circle cx="{px}" cy="{py}" r="3" fill="{}"/>"#, sc.color());
                }
            }
        }
    }
    let legend_y = height - 20.0;
    for (i, sc) in Scenario::ALL.iter().enumerate() {
        let x = pad + i as f64 * 220.0;
        let _ = write!(
            s,
            r#"<rect x="{x}" y="{}" width="14" height="4" fill="{}"/><text x="{}" y="{legend_y}">{}</text>"#,
            legend_y - 4.0,
            sc.color(),
            x + 18.0,
            sc.label()
        );
    }
    let _ = write!(
        s,
        r##"<text x="{pad}" y="{}" fill="#555">x axis: concurrent connections (wrk)</text></svg>"##,
        height - 4.0
    );
    s
}

fn write_configs(
    dir: &Path,
    port: u16,
    backend: std::net::SocketAddr,
    middleware: Option<serde_json::Value>,
    geo_dir: &Path,
) -> Result<()> {
    let mut router = json!({"rule": "PathPrefix(`/`)", "service": "echo"});
    let mut dynamic = json!({"http": {
        "routers": {"bench": router.clone()},
        "services": {"echo": {"loadBalancer": {"servers": [{"url": format!("http://{backend}")}]}}},
    }});
    // Traefik refuses an empty `middlewares` element.
    if let Some(middleware) = middleware {
        router["middlewares"] = json!(["edgeguard"]);
        dynamic["http"]["routers"]["bench"] = router;
        dynamic["http"]["middlewares"] = json!({ "edgeguard": middleware });
    }
    let static_cfg = json!({
        "global": {"checkNewVersion": false, "sendAnonymousUsage": false},
        "entryPoints": {"web": {"address": format!("127.0.0.1:{port}"), "forwardedHeaders": {"trustedIPs": ["127.0.0.1/32"]}}},
        "providers": {"file": {"filename": dir.join("dynamic.yml")}},
        "experimental": {"localPlugins": {"edgeguard": {
            "moduleName": "edgeguard",
            "settings": {"mounts": [format!("{}:/geodata", geo_dir.display())]},
        }}},
        "log": {"level": "INFO", "filePath": dir.join("traefik.log")},
    });
    std::fs::write(dir.join("dynamic.yml"), dynamic.to_string())?;
    std::fs::write(dir.join("traefik.yml"), static_cfg.to_string())?;
    Ok(())
}

/// The reference guest's config for (j): set [`REFERENCE_HEADERS`].
pub(crate) fn reference_config() -> serde_json::Value {
    let set: serde_json::Map<String, serde_json::Value> =
        REFERENCE_HEADERS.iter().map(|(n, v)| (n.to_string(), json!(v))).collect();
    json!({ "set": set })
}

/// A Traefik process and its directory; stopped on drop.
pub(crate) struct Traefik(pub(crate) Child, PathBuf);

impl Traefik {
    pub(crate) fn start(bin: &Path, dir: &Path) -> Result<Self> {
        let child = Command::new(bin)
            .arg(format!("--configFile={}", dir.join("traefik.yml").display()))
            .current_dir(dir)
            .stdout(Stdio::null())
            .spawn()
            .context("starting traefik")?;
        Ok(Self(child, dir.to_path_buf()))
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
pub(crate) fn floor_guest(root: &Path) -> Result<PathBuf> {
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
    // Built like the plugin, bulk-memory lowering included, so the baseline is fair.
    crate::plugin::lower_bulk_memory(root, &wasm, &dir.join("plugin.wasm"))?;
    Ok(dir)
}
