//! `cargo xtask rehearsal`: the users' topology end to end, with the real
//! components, each on its own network host (issue #15).
//!
//! ```text
//! client-a 203.0.113.10, 2001:db8:c::10 ─┐        ┌─ ALB 10.0.1.10 (HAProxy http, forwardfor) ─┬─ Traefik+EdgeGuard 10.0.2.10 ─┐
//! client-b 198.51.100.23                 ├─ br0 ──┤                                             └─ Traefik 10.0.2.11 ─ sidecar ─┤
//! client-c 198.51.100.200                │        └─ NLB 10.0.1.20 (HAProxy tcp, send-proxy-v2) ─┬─ Traefik+EdgeGuard (nlb) ──────┤
//! operator 198.51.100.7                 ─┘                                                      └─ sidecar 10.0.2.20 ─────────── app 10.0.3.10
//! ```
//!
//! The app is embedded Tomcat 10.1 with the `RemoteIpValve` Spring Boot
//! installs under Kubernetes and `examples/spring`'s signature filter. The
//! scenarios are in [`identity`] (1, 3, 4) and [`drill`] (2); every check is
//! an assertion collected in [`verdict::Checks`].

/// The HTTP/1.1 client of the end-to-end tests (only `send` and `Reply` are used here).
#[allow(dead_code)]
#[path = "../../../tests/support/client.rs"]
mod client;
mod deploy;
mod drill;
mod fleet;
mod identity;
mod network;
mod probe;
mod verdict;

use std::io::Read;
use std::path::{Path as FsPath, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::{cmd, plugin, tools};
use deploy::{Deployment, Dirs, KEY_ID};
use fleet::Fleet;
use network::{Network, host};
use probe::{Path, Probe, in_host};
use verdict::Checks;

/// The Debian jars the app is compiled and run against (no Maven Central).
const JARS: &[(&str, &str)] = &[
    ("/usr/share/java/tomcat10-embed-core.jar", "libtomcat10-embed-java"),
    ("/usr/share/java/jakarta-annotation-api.jar", "libjakarta-annotation-api-java"),
];
/// Commands the rehearsal runs, and the Debian package of each.
const PROGRAMS: &[(&str, &str)] = &[
    ("ip", "iproute2"),
    ("haproxy", "haproxy"),
    ("java", "default-jdk-headless"),
    ("javac", "default-jdk-headless"),
];
/// Longest wait for every path to answer after the processes start (a JVM
/// and two Traefiks compiling the plugin, on 2 busy cores).
const STARTUP_LIMIT: Duration = Duration::from_secs(120);

/// `cargo xtask rehearsal`.
pub fn run(root: &FsPath) -> Result<()> {
    let started = Instant::now();
    preflight()?;
    let traefik = tools::traefik(root, tools::TRAEFIK_VERSION)?;
    let plugin_dir = plugin::build(root)?;
    cmd::run(root, "cargo", &["build", "--quiet", "--bin", "edgeguard"], &[])?;
    let edgeguard = root.join("target/debug/edgeguard");
    let prefix = unique_prefix();
    let dirs = Dirs { root: root.to_path_buf(), run: root.join("target/rehearsal").join(&prefix) };
    let classes = compile_app(root, &dirs.run.join("classes"))?;
    let built = started.elapsed();

    let operator = host("operator").v4_addr();
    let deployment = Deployment::load(root, operator)?;
    write_configs(&dirs, &deployment, &plugin_dir)?;

    let net = Network::new(&prefix);
    println!("\n==> rehearsal {prefix}: {} hosts (network namespaces {prefix}-*)", network::HOSTS.len());
    let fleet = Fleet::create(&net, &dirs.run.join("logs"))?;
    let outcome = rehearse(&net, &fleet, &dirs, &deployment, &traefik, &edgeguard, &classes);
    let (processes, namespaces) = fleet.remove();
    let leftovers = fleet.leftovers();
    println!("\nremoved {processes} processes and {namespaces} namespaces");
    let mut checks = outcome.with_context(|| format!("logs in {}", dirs.run.join("logs").display()))?;
    checks.eq(0, verdict::Needs::Current, "every namespace of the run is gone", leftovers, Vec::new());
    let total = started.elapsed();
    println!(
        "rehearsal: {} checks in {total:.1?} (build {built:.1?}, network and scenarios {:.1?})",
        checks.count(),
        total - built
    );
    if let Some(failures) = checks.failures() {
        bail!("rehearsal failed; logs in {}\n{failures}", dirs.run.join("logs").display());
    }
    let _ = std::fs::remove_dir_all(&dirs.run);
    Ok(())
}

/// Fails at once, naming what is missing, unless the rehearsal can run here.
fn preflight() -> Result<()> {
    let mut missing = Vec::new();
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        missing.push(
            "root (network namespaces and veth pairs need CAP_NET_ADMIN and CAP_SYS_ADMIN)".to_string(),
        );
    }
    for (program, package) in PROGRAMS {
        let found = std::process::Command::new(program)
            .arg(if *program == "ip" { "-V" } else { "-version" })
            .output()
            .is_ok();
        if !found {
            missing.push(format!("`{program}` (Debian package {package})"));
        }
    }
    if missing.is_empty() {
        let netns = std::process::Command::new("ip").args(["netns", "list"]).output();
        if !netns.is_ok_and(|o| o.status.success()) {
            missing.push("a working `ip netns` (iproute2 with network namespace support)".to_string());
        }
    }
    for (jar, package) in JARS {
        if !FsPath::new(jar).exists() {
            missing.push(format!("{jar} (Debian package {package})"));
        }
    }
    if !missing.is_empty() {
        bail!("cargo xtask rehearsal cannot run here; missing:\n  - {}", missing.join("\n  - "));
    }
    Ok(())
}

/// `eg` plus 6 hex digits from the pid and the clock: no two runs share a name.
fn unique_prefix() -> String {
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let mixed = (nanos as u64) ^ (u64::from(std::process::id()) << 20);
    format!("eg{:06x}", mixed & 0xff_ffff)
}

fn classpath() -> String {
    JARS.iter().map(|(jar, _)| *jar).collect::<Vec<_>>().join(":")
}

/// Compiles the app with examples/spring's filter as it is (it needs only
/// jakarta.servlet, which tomcat-embed-core carries).
fn compile_app(root: &FsPath, out: &FsPath) -> Result<PathBuf> {
    std::fs::create_dir_all(out)?;
    let out_str = out.to_str().context("non-UTF-8 path")?;
    let cp = classpath();
    cmd::run(
        root,
        "javac",
        &[
            "-Xlint:all",
            "-Werror",
            "-d",
            out_str,
            "-cp",
            &cp,
            "examples/spring/EdgeGuardSignatureFilter.java",
            "xtask/rehearsal/RehearsalApp.java",
        ],
        &[],
    )?;
    Ok(out.to_path_buf())
}

fn random_hex(bytes: usize) -> Result<String> {
    let mut buf = vec![0u8; bytes];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut buf)?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

fn write_json(path: &FsPath, value: &serde_json::Value) -> Result<()> {
    std::fs::create_dir_all(path.parent().context("a parent")?)?;
    // JSON is YAML: Traefik and the sidecar read these as written.
    std::fs::write(path, serde_json::to_string_pretty(value)?)
        .with_context(|| format!("writing {}", path.display()))
}

fn write_configs(dirs: &Dirs, dep: &Deployment, plugin_dir: &FsPath) -> Result<()> {
    std::fs::create_dir_all(dirs.volume(deploy::Volume::Maintenance))?;
    // As the ConfigMap ships it: present and off.
    std::fs::write(dirs.flag_file(), "off\n")?;
    std::fs::write(dirs.run.join("alb.cfg"), deploy::alb_config())?;
    std::fs::write(dirs.run.join("nlb.cfg"), deploy::nlb_config())?;
    write_json(&dirs.run.join("traefik/traefik.yml"), &dep.traefik_static(dirs)?)?;
    write_json(&dirs.run.join("traefik/dynamic.yml"), &dep.traefik_dynamic(&dep.middlewares))?;
    let local_plugin = dirs.run.join("traefik/plugins-local/src/edgeguard");
    std::fs::create_dir_all(&local_plugin)?;
    for file in ["plugin.wasm", ".traefik.yml"] {
        std::fs::copy(plugin_dir.join(file), local_plugin.join(file))?;
    }
    let (static2, dynamic2) = dep.traefik2(dirs);
    write_json(&dirs.run.join("traefik2/traefik.yml"), &static2)?;
    write_json(&dirs.run.join("traefik2/dynamic.yml"), &dynamic2)?;
    write_json(&dirs.run.join("sidecar.yml"), &dep.sidecar(dirs)?)?;
    Ok(())
}

/// Starts every process, waits for every path, runs the scenarios.
fn rehearse(
    net: &Network,
    fleet: &Fleet,
    dirs: &Dirs,
    dep: &Deployment,
    traefik: &FsPath,
    edgeguard: &FsPath,
    classes: &FsPath,
) -> Result<Checks> {
    let run = &dirs.run;
    let signing_key = random_hex(32)?;
    let token = random_hex(32)?;
    let secrets =
        [("EDGEGUARD_SIGNING_KEY", signing_key.as_str()), ("EDGEGUARD_MAINTENANCE_TOKEN", token.as_str())];
    let path_of = |p: &FsPath| p.to_str().map(String::from).context("non-UTF-8 path");

    let app_addr = host("app").v4_addr().to_string();
    let classpath = format!("{}:{}", path_of(classes)?, classpath());
    let base = path_of(&run.join("tomcat"))?;
    let port = deploy::APP_PORT.to_string();
    fleet.start(
        &net.ns("app"),
        "app",
        FsPath::new("java"),
        &[
            "-Xmx192m",
            "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1",
            "-cp",
            &classpath,
            "rehearsal.RehearsalApp",
            &app_addr,
            &port,
            &base,
        ],
        &[("EDGEGUARD_SIGNING_KEY_ID", KEY_ID), secrets[0]],
        run,
    )?;
    let sidecar_cfg = path_of(&run.join("sidecar.yml"))?;
    fleet.start(
        &net.ns("sidecar"),
        "sidecar",
        edgeguard,
        &["serve", "--config", &sidecar_cfg],
        &secrets,
        run,
    )?;
    for name in ["traefik", "traefik2"] {
        let config = format!("--configFile={}", path_of(&run.join(name).join("traefik.yml"))?);
        fleet.start(&net.ns(name), name, traefik, &[&config], &secrets, &run.join(name))?;
    }
    for name in ["alb", "nlb"] {
        let config = path_of(&run.join(format!("{name}.cfg")))?;
        fleet.start(&net.ns(name), name, FsPath::new("haproxy"), &["-db", "-f", &config], &[], run)?;
    }

    let client = host("client-a");
    let paths = [
        Path::AlbPlugin,
        Path::NlbPlugin,
        Path::AlbSidecar,
        Path::NlbSidecar,
        Path::SeedTrusting,
        Path::SeedDefault,
    ];
    for path in paths {
        for from in [client.v4_addr(), client.v6_addr().expect("client-a is dual-stack")] {
            let ns = net.ns(client.name);
            fleet::wait_until(fleet, &format!("{} from {from}", path.name()), STARTUP_LIMIT, || {
                let probe = Probe::new(from, path, "/healthz");
                in_host(&ns, move || async move { probe.send().await })
                    .is_ok_and(|r| r.is_ok_and(|r| r.status == 200))
            })?;
        }
    }
    println!("every path answers, IPv4 and IPv6");

    let mut checks = Checks::default();
    identity::seed_bug(net, &mut checks);
    identity::geo(net, &mut checks);
    identity::sidecar_matches_plugin(net, &mut checks);
    let sidecar_file = run.join("sidecar.yml");
    let set_enabled = |on: bool| -> Result<()> {
        let traefik = dep.traefik_dynamic(&dep.middlewares.with_enabled(on));
        drill::write_atomically(&run.join("traefik/dynamic.yml"), &serde_json::to_string_pretty(&traefik)?)?;
        let mut sidecar = dep.sidecar(dirs)?;
        sidecar["maintenance"]["enabled"] = serde_json::json!(on);
        drill::write_atomically(&sidecar_file, &serde_json::to_string_pretty(&sidecar)?)
    };
    let controls = drill::Controls {
        flag_file: &dirs.flag_file(),
        middlewares: &dep.middlewares,
        set_enabled: &set_enabled,
    };
    drill::run(net, &controls, &mut checks)?;
    fleet.check_alive()?;
    Ok(checks)
}
