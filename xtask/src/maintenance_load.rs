//! `cargo xtask maintenance-load`: wrk against real Traefik (64 connections,
//! 30 s) while the maintenance flag file is toggled every second. Every
//! response must be the backend's 200 or the 503 page; counts are printed and
//! written to `target/bench/maintenance.md`.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde_json::json;

use crate::bench_traefik::Traefik;
use crate::load::{ensure_wrk, free_port, wait_ready};
use crate::{echo, plugin, tools};

const LUA: &str = r#"-- Counts responses by class, per thread; summed in done().
local threads = {}
function setup(thread) table.insert(threads, thread) end
c200, c503, cother = 0, 0, 0
function response(status, headers, body)
  if status == 200 then c200 = c200 + 1 elseif status == 503 then c503 = c503 + 1 else cother = cother + 1 end
end
function done(summary, latency, requests)
  local a, b, c = 0, 0, 0
  for _, t in ipairs(threads) do a = a + t:get("c200"); b = b + t:get("c503"); c = c + t:get("cother") end
  io.write(string.format("COUNTS 200=%d 503=%d other=%d\n", a, b, c))
  local e = summary.errors
  -- wrk's "status" errors are non-2xx/3xx responses (the 503s), not socket errors.
  io.write(string.format("ERRORS connect=%d read=%d write=%d timeout=%d\n", e.connect, e.read, e.write, e.timeout))
end
"#;

pub fn run(root: &Path) -> Result<()> {
    let wrk = ensure_wrk()?;
    let traefik = tools::traefik(root, tools::TRAEFIK_VERSION)?;
    let plugin_dir = plugin::build(root)?;
    let out = root.join("target/bench");
    let dir = out.join("maintenance-load");
    let _ = std::fs::remove_dir_all(&dir);
    let local = dir.join("plugins-local/src/edgeguard");
    let flags = dir.join("flags");
    std::fs::create_dir_all(&local)?;
    std::fs::create_dir_all(&flags)?;
    for f in ["plugin.wasm", ".traefik.yml"] {
        std::fs::copy(plugin_dir.join(f), local.join(f))?;
    }
    std::fs::write(out.join("count-statuses.lua"), LUA)?;

    let rt = tokio::runtime::Runtime::new()?;
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let backend = listener.local_addr()?;
    rt.spawn(echo::serve(listener));

    let port = free_port()?;
    let dynamic = json!({"http": {
        "routers": {"r": {"rule": "PathPrefix(`/`)", "service": "echo", "middlewares": ["edgeguard"]}},
        "middlewares": {"edgeguard": {"plugin": {"edgeguard": {
            "maintenance": {"flagFile": "/flags/maintenance", "checkInterval": "1s"},
        }}}},
        "services": {"echo": {"loadBalancer": {"servers": [{"url": format!("http://{backend}")}]}}},
    }});
    let static_cfg = json!({
        "global": {"checkNewVersion": false, "sendAnonymousUsage": false},
        "entryPoints": {"web": {"address": format!("127.0.0.1:{port}")}},
        "providers": {"file": {"filename": dir.join("dynamic.yml")}},
        "experimental": {"localPlugins": {"edgeguard": {
            "moduleName": "edgeguard",
            "settings": {"mounts": [format!("{}:/flags", flags.display())]},
        }}},
        "log": {"level": "INFO", "filePath": dir.join("traefik.log")},
    });
    std::fs::write(dir.join("dynamic.yml"), dynamic.to_string())?;
    std::fs::write(dir.join("traefik.yml"), static_cfg.to_string())?;
    let mut child = Traefik::start(&traefik, &dir)?;
    wait_ready(port, &mut child.0)?;

    // Toggle the flag every second for the whole run.
    let stop = Arc::new(AtomicBool::new(false));
    let toggles = Arc::new(AtomicU32::new(0));
    let flag = flags.join("maintenance");
    let toggler = {
        let (stop, toggles) = (stop.clone(), toggles.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let on = toggles.fetch_add(1, Ordering::Relaxed) % 2 == 0;
                let _ = if on { std::fs::write(&flag, "on") } else { std::fs::remove_file(&flag) };
                std::thread::sleep(Duration::from_secs(1));
            }
        })
    };
    let output = Command::new(&wrk)
        .args(["-t2", "-c64", "-d30s", "-s"])
        .arg(out.join("count-statuses.lua"))
        .arg(format!("http://127.0.0.1:{port}/"))
        .output()
        .context("running wrk")?;
    stop.store(true, Ordering::Relaxed);
    let _ = toggler.join();
    let text = String::from_utf8_lossy(&output.stdout);
    let line = |prefix: &str| text.lines().find(|l| l.starts_with(prefix)).map(str::to_string);
    let (Some(counts), Some(errors)) = (line("COUNTS"), line("ERRORS")) else {
        bail!("unexpected wrk output:\n{text}\n{}", String::from_utf8_lossy(&output.stderr));
    };
    let rps =
        text.lines().find_map(|l| l.trim().strip_prefix("Requests/sec:")).unwrap_or("?").trim().to_string();
    let clean = counts.ends_with("other=0") && errors == "ERRORS connect=0 read=0 write=0 timeout=0";
    let mut md = String::new();
    writeln!(md, "# Maintenance toggling under load\n")?;
    writeln!(
        md,
        "wrk 64 connections, 30 s, flag file toggled every second ({} toggles), checkInterval 1s, Traefik {}.\n",
        toggles.load(Ordering::Relaxed),
        tools::TRAEFIK_VERSION
    )?;
    writeln!(md, "- responses: {}", counts.trim_start_matches("COUNTS "))?;
    writeln!(md, "- socket errors: {}", errors.trim_start_matches("ERRORS "))?;
    writeln!(md, "- throughput: {rps} req/s")?;
    writeln!(md, "- verdict: {}", if clean { "only 200 and 503, no socket errors" } else { "FAILED" })?;
    print!("\n{md}");
    std::fs::write(out.join("maintenance.md"), md)?;
    if !clean {
        bail!("responses other than 200/503 or socket errors under load");
    }
    Ok(())
}
