//! Shared pieces of the wrk load benchmarks (`bench-traefik`, `bench-sidecar`,
//! `maintenance-load`): ports, readiness, wrk itself, its output, peak RSS.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// wrk connections in every load benchmark.
pub const CONNECTIONS: u32 = 64;
/// wrk threads.
pub const THREADS: u32 = 2;

/// Seconds per measured run: 30, or `BENCH_SECS` (for quick experiments).
pub fn duration_secs() -> Result<u32> {
    match std::env::var("BENCH_SECS") {
        Ok(v) => v.parse().with_context(|| format!("BENCH_SECS={v} is not a number of seconds")),
        Err(_) => Ok(30),
    }
}

/// One measured scenario.
pub struct Run {
    pub name: &'static str,
    pub rps: f64,
    pub p50: String,
    pub p99: String,
    pub non_2xx: u64,
    pub socket_errors: String,
    pub peak_rss_kib: u64,
}

pub fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Waits until `port` answers `/` with something other than a 404 (a proxy
/// with no route yet) or no connection, failing early if `child` exits.
pub fn wait_ready(port: u16, child: &mut Child) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let ok = Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", &format!("http://127.0.0.1:{port}/")])
            .output()
            .map(|o| o.stdout != b"404" && o.stdout != b"000")
            .unwrap_or(false);
        if ok {
            return Ok(());
        }
        if let Some(status) = child.try_wait()? {
            bail!("the server under test exited ({status})");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    bail!("nothing ready on port {port} within 60 s")
}

/// True when `program` is on PATH.
pub fn on_path(program: &str) -> bool {
    Command::new("which").arg(program).output().is_ok_and(|o| o.status.success())
}

/// `apt-get install -y packages...`, printed first; needs root.
pub fn apt_install(packages: &[&str]) -> Result<()> {
    println!("installing {} from Debian packages", packages.join(", "));
    let mut args = vec!["install", "-y", "-q", "--no-install-recommends"];
    args.extend_from_slice(packages);
    crate::cmd::run(Path::new("."), "apt-get", &args, &[("DEBIAN_FRONTEND", "noninteractive")])
        .with_context(|| format!("`apt-get install {}` failed (needs root)", packages.join(" ")))
}

pub fn ensure_wrk() -> Result<PathBuf> {
    if !on_path("wrk") {
        apt_install(&["wrk"]).context("wrk is missing")?;
    }
    Ok(PathBuf::from("wrk"))
}

/// `wrk` with [`THREADS`] threads, `conns` connections, the Lua `script`,
/// for `secs` seconds (a response later than 10 s counts as a timeout); its
/// standard output.
pub fn wrk_run(wrk: &Path, url: &str, script: &Path, conns: u32, secs: u32) -> Result<String> {
    let output = Command::new(wrk)
        .args([&format!("-t{THREADS}"), &format!("-c{conns}"), &format!("-d{secs}s")])
        .args(["--timeout", "10s", "--latency", "-s"])
        .arg(script)
        .arg(url)
        .output()
        .context("running wrk")?;
    if !output.status.success() {
        bail!("wrk failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Peak resident set size of `pid` (VmHWM), in KiB.
pub fn peak_rss(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("VmHWM not found")
}

/// The direct children of `pid` (nginx's workers).
fn children(pid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()))
        .filter(|child| {
            // `pid (comm) state ppid ...`; comm may contain spaces, so split after the last ')'.
            let stat = std::fs::read_to_string(format!("/proc/{child}/stat")).unwrap_or_default();
            let ppid = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(1));
            ppid.and_then(|p| p.parse::<u32>().ok()) == Some(pid)
        })
        .collect()
}

/// Peak RSS of `pid` plus that of its direct children (nginx's master and
/// workers), in KiB. Pages shared between them (the mapped database, the
/// binary) are counted once per process, so this is an upper bound.
pub fn peak_rss_with_children(pid: u32) -> Result<u64> {
    let mut total = peak_rss(pid)?;
    for child in children(pid) {
        total += peak_rss(child).unwrap_or(0);
    }
    Ok(total)
}

/// CPU time (user + system) used so far by `pid` and its live direct
/// children, in seconds.
pub fn cpu_secs_with_children(pid: u32) -> Result<f64> {
    let ticks = |pid: u32| -> Option<u64> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // After `comm)`: state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime.
        let mut rest = stat.rsplit_once(')')?.1.split_whitespace().skip(11);
        Some(rest.next()?.parse::<u64>().ok()? + rest.next()?.parse::<u64>().ok()?)
    };
    let mut total = ticks(pid).context("no /proc/PID/stat for the server")?;
    for child in children(pid) {
        total += ticks(child).unwrap_or(0);
    }
    // USER_HZ, 100 on every Linux the benchmark runs on.
    Ok(total as f64 / 100.0)
}

/// A wrk latency (`850.00us`, `1.23ms`, `1.02s`, `2.00m`) in microseconds.
pub fn latency_us(text: &str) -> Option<f64> {
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = text.split_at(split);
    let factor = match unit {
        "us" => 1.0,
        "ms" => 1e3,
        "s" => 1e6,
        "m" => 60e6,
        "h" => 3600e6,
        _ => return None,
    };
    number.parse::<f64>().ok().map(|n| n * factor)
}

/// The figures of one wrk `--latency` run.
pub fn parse(name: &'static str, text: &str, peak_rss_kib: u64) -> Result<Run> {
    let field =
        |prefix: &str| text.lines().find_map(|l| l.trim().strip_prefix(prefix).map(|v| v.trim().to_string()));
    let rps = field("Requests/sec:")
        .and_then(|v| v.parse().ok())
        .context(format!("no Requests/sec in wrk output:\n{text}"))?;
    let percentile = |p: &str| {
        text.lines()
            .map(str::trim)
            .find(|l| l.starts_with(p))
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap_or("?")
            .to_string()
    };
    let non_2xx = field("Non-2xx or 3xx responses:").and_then(|v| v.parse().ok()).unwrap_or(0);
    let socket_errors = field("Socket errors:").unwrap_or_else(|| "none".into());
    Ok(Run {
        name,
        rps,
        p50: percentile("50%"),
        p99: percentile("99%"),
        non_2xx,
        socket_errors,
        peak_rss_kib,
    })
}

pub fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "NOT met" }
}
