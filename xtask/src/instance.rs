//! One guest instance of the real plugin binary in wasmtime
//! (`xtask/guest_instance.py`): its linear memory, stack use and init time.
//!
//! Traefik keeps one instance per concurrently executing request and a
//! linear memory never shrinks, so what one instance keeps is multiplied by
//! the concurrency (issue #14). `cargo xtask test` checks the budget below
//! (sizes only, never a time); `cargo xtask bench-instance` prints the figures.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail, ensure};
use serde::Deserialize;

use crate::tools;

/// A fresh instance after init (config parse, database open).
pub const AFTER_INIT_BUDGET: u64 = 256 * 1024;
/// The same instance after [`LOOKUPS`] requests from distinct clients.
pub const AFTER_LOOKUPS_BUDGET: u64 = 512 * 1024;
/// Distinct clients in the check.
pub const LOOKUPS: u32 = 10_000;

#[derive(Debug, Deserialize)]
pub struct Figures {
    pub initial_memory: u64,
    pub memory_after_init: u64,
    pub memory_after_lookups: u64,
    pub stack_size: Option<u64>,
    pub stack_used: Option<u64>,
    pub init_us: f64,
    pub instantiate_us: f64,
    pub init_fuel: u64,
    pub request_fuel: f64,
    pub status: u32,
    pub errors: Vec<String>,
}

/// Runs `wasm` with `config` once in wasmtime; `mount` is `host_dir:guest_dir`.
pub fn measure(
    root: &Path,
    wasm: &Path,
    config: &serde_json::Value,
    mount: &str,
    init_runs: u32,
) -> Result<Figures> {
    measure_with(root, wasm, config, mount, init_runs, None)
}

/// [`measure`] with the requests' clients taken in order from `clients` (a
/// file of addresses, cycled) instead of [`LOOKUPS`] distinct /24s.
pub fn measure_with(
    root: &Path,
    wasm: &Path,
    config: &serde_json::Value,
    mount: &str,
    init_runs: u32,
    clients: Option<&Path>,
) -> Result<Figures> {
    tools::python_deps(root)?;
    let cfg = root.join("target/tmp/guest-instance-config.json");
    std::fs::create_dir_all(cfg.parent().context("config dir")?)?;
    std::fs::write(&cfg, config.to_string())?;
    let mut cmd = std::process::Command::new("python3");
    cmd.arg(root.join("xtask/guest_instance.py")).arg(wasm).arg(&cfg).args([
        "--mount",
        mount,
        "--lookups",
        &LOOKUPS.to_string(),
        "--init-runs",
        &init_runs.to_string(),
    ]);
    if let Some(clients) = clients {
        cmd.arg("--clients").arg(clients);
    }
    let out = cmd.output().context("running xtask/guest_instance.py")?;
    if !out.status.success() {
        bail!("guest_instance.py failed:\n{}", String::from_utf8_lossy(&out.stderr));
    }
    serde_json::from_slice(&out.stdout).context("guest_instance.py output")
}

fn plugin_wasm(root: &Path) -> PathBuf {
    root.join("target/plugins-local/src/edgeguard/plugin.wasm")
}

/// The default config with the committed test databases (City + ASN).
fn test_config() -> serde_json::Value {
    serde_json::json!({
        "clientIp": {"trustedProxies": ["loopback"]},
        "geo": {"database": "/geo/GeoLite2-City-Test.mmdb", "asnDatabase": "/geo/GeoLite2-ASN-Test.mmdb"},
    })
}

/// The non-timing check of `cargo xtask test` (the plugin must be built):
/// memory within budget after init and after [`LOOKUPS`] distinct clients,
/// and the stack at most half used. With real GeoLite2-City present
/// (`cargo xtask geodata`), the same check runs against it too.
pub fn check(root: &Path) -> Result<()> {
    let wasm = plugin_wasm(root);
    let testdata = format!("{}:/geo", root.join("testdata/geo").display());
    let mut runs = vec![("test databases", test_config(), testdata)];
    let real = root.join("target/geodata");
    if real.join("GeoLite2-City.mmdb").exists() {
        let cfg = serde_json::json!({
            "clientIp": {"trustedProxies": ["loopback"]},
            "geo": {"database": "/geo/GeoLite2-City.mmdb"},
        });
        runs.push(("GeoLite2-City", cfg, format!("{}:/geo", real.display())));
    }
    for (label, cfg, mount) in runs {
        let f = measure(root, &wasm, &cfg, &mount, 1)?;
        println!(
            "instance memory ({label}): {} KiB after init (budget {}), {} KiB after {LOOKUPS} distinct clients (budget {}); stack {} of {} bytes",
            f.memory_after_init / 1024,
            AFTER_INIT_BUDGET / 1024,
            f.memory_after_lookups / 1024,
            AFTER_LOOKUPS_BUDGET / 1024,
            f.stack_used.unwrap_or(0),
            f.stack_size.unwrap_or(0),
        );
        ensure!(f.errors.is_empty(), "{label}: the guest logged errors: {:?}", f.errors);
        ensure!(f.status == 0, "{label}: the last request was answered with {}, not passed on", f.status);
        ensure!(
            f.memory_after_init <= AFTER_INIT_BUDGET,
            "{label}: {} bytes after init",
            f.memory_after_init
        );
        ensure!(
            f.memory_after_lookups <= AFTER_LOOKUPS_BUDGET,
            "{label}: {} bytes after {LOOKUPS} lookups",
            f.memory_after_lookups
        );
        // Stricter than the budget: lookups must not grow the memory at all.
        // The caches are bounded by `memoryBudget` and fit the room init
        // leaves; a grown memory is 64 KiB more in every pooled instance.
        ensure!(
            f.memory_after_lookups == f.memory_after_init,
            "{label}: memory grew from {} to {} bytes over {LOOKUPS} lookups",
            f.memory_after_init,
            f.memory_after_lookups
        );
        if let (Some(used), Some(size)) = (f.stack_used, f.stack_size) {
            ensure!(
                used * 2 <= size,
                "{label}: {used} of {size} stack bytes used; raise the stack in build.rs"
            );
        }
    }
    Ok(())
}

/// `cargo xtask bench-instance`: init cost and memory of one instance, and
/// its wasm instructions per request for the bench's client mixes, the plugin
/// against the reference guests (the floor of any plugin, and the one setting
/// EdgeGuard's headers with fixed values). Instruction counts are wasmtime
/// fuel: exact and repeatable whatever else the machine runs.
pub fn bench(root: &Path, floor: &Path) -> Result<()> {
    let real = root.join("target/geodata");
    let (db, mount) = if real.join("GeoLite2-City.mmdb").exists() {
        ("/geo/GeoLite2-City.mmdb", format!("{}:/geo", real.display()))
    } else {
        ("/geo/GeoLite2-City-Test.mmdb", format!("{}:/geo", root.join("testdata/geo").display()))
    };
    let edgeguard =
        serde_json::json!({"clientIp": {"trustedProxies": ["loopback"]}, "geo": {"database": db}});
    let reference = crate::bench_traefik::reference_config();
    let rows = [
        ("(g) do-nothing guest (examples/floor_guest.rs)", floor.to_path_buf(), serde_json::json!({})),
        ("(j) reference guest, EdgeGuard's headers fixed", floor.to_path_buf(), reference),
        ("(b) EdgeGuard, default config", plugin_wasm(root), edgeguard),
    ];
    // The client mixes of `cargo xtask bench-traefik`, written here first when
    // the real database is there and that bench has not run.
    let out = root.join("target/bench");
    let city = real.join("GeoLite2-City.mmdb");
    if city.exists() && !out.join("clients-uniform.txt").exists() {
        std::fs::create_dir_all(&out)?;
        crate::clients::write_sequences(&city, &out)?;
    }
    let mixes: Vec<(&str, PathBuf)> = [("one client", "one"), ("Zipf", "zipf"), ("uniform", "uniform")]
        .into_iter()
        .map(|(label, key)| (label, out.join(format!("clients-{key}.txt"))))
        .filter(|(_, path)| path.exists())
        .collect();
    println!(
        "wasmtime {} (PyPI), database {db}; times: median of 50 fresh instances, wall clock, shared machine; \
         instructions: wasmtime fuel (about one per wasm instruction), {LOOKUPS} requests per mix",
        tools::WASMTIME_PY
    );
    let mix_columns: String =
        mixes.iter().map(|(label, _)| format!(" instructions/request, {label} |")).collect();
    println!(
        "| guest | declared memory | after init | after {LOOKUPS} distinct clients | stack used | instantiate | init (_start) | init instructions |{mix_columns}"
    );
    println!("|---|---|---|---|---|---|---|---|{}", "---|".repeat(mixes.len()));
    for (label, wasm, cfg) in rows {
        let f = measure(root, &wasm, &cfg, &mount, 50)?;
        let mut per_mix = String::new();
        for (_, clients) in &mixes {
            let m = measure_with(root, &wasm, &cfg, &mount, 1, Some(clients))?;
            per_mix.push_str(&format!(" {:.0} |", m.request_fuel));
        }
        println!(
            "| {label} | {} KiB | {} KiB | {} KiB | {} B | {:.0} µs | {:.0} µs | {} |{per_mix}",
            f.initial_memory / 1024,
            f.memory_after_init / 1024,
            f.memory_after_lookups / 1024,
            f.stack_used.unwrap_or(0),
            f.instantiate_us,
            f.init_us,
            f.init_fuel,
        );
    }
    if mixes.is_empty() {
        println!("(run `cargo xtask bench-traefik` once for the client mixes' columns)");
    }
    println!(
        "init includes the host's get_config and WASI start-up in Python; the do-nothing guest's row is that floor"
    );
    Ok(())
}
