//! `cargo xtask demo`: real Traefik with the plugin in front of the echo
//! backend, using the configs in `traefik-config/local/`.

use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::{echo, plugin, tools};

const TRAEFIK_ADDR: &str = "127.0.0.1:8080";
const ECHO_ADDR: &str = "127.0.0.1:8081";
/// The demo's signing key (a demo value, never a real secret).
const DEMO_SIGNING_KEY: &str = "demo-signing-key-0123456789abcdef0123";

/// Kills Traefik when the demo ends, however it ends.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn run(root: &Path) -> Result<()> {
    let traefik = tools::traefik(root, tools::TRAEFIK_VERSION)?;
    plugin::build(root)?;
    let rt = tokio::runtime::Runtime::new()?;
    let listener = rt
        .block_on(tokio::net::TcpListener::bind(ECHO_ADDR))
        .with_context(|| format!("echo backend cannot listen on {ECHO_ADDR}"))?;
    rt.spawn(echo::serve(listener));

    // The maintenance flag lives in a directory mounted into the plugin.
    let flags = root.join("target/demo/flags");
    std::fs::create_dir_all(&flags)?;
    let flag = flags.join("maintenance");
    let _ = std::fs::remove_file(&flag);

    // Traefik resolves ./plugins-local against its working directory: target/.
    let config = root.join("traefik-config/local/traefik.yml");
    let mut child = KillOnDrop(
        Command::new(&traefik)
            .arg(format!("--configFile={}", config.display()))
            .current_dir(root.join("target"))
            .env("EDGEGUARD_SIGNING_KEY", DEMO_SIGNING_KEY)
            .spawn()
            .context("starting traefik")?,
    );
    wait_for_port(TRAEFIK_ADDR.parse()?, &mut child.0)?;

    println!(
        "\nEdgeGuard demo: Traefik {ver} on http://{TRAEFIK_ADDR} (echo backend on {ECHO_ADDR}).
Trusted proxy: 127.0.0.2 (clientIp.trustedProxies and the entrypoint's forwardedHeaders.trustedIPs).

  # 1. a direct client: X-Real-IP is the TCP peer
  curl -s http://{TRAEFIK_ADDR}/
  # 2. a spoofed X-Forwarded-For from an untrusted peer is not believed
  curl -s -H 'X-Forwarded-For: 203.0.113.66' -H 'X-Real-IP: 203.0.113.66' http://{TRAEFIK_ADDR}/
  # 3. through the trusted proxy 127.0.0.2: the client is the rightmost untrusted hop,
  #    with geo headers from the test database (203.0.113.10 is Linköping, SE; AS64496)
  curl -s --interface 127.0.0.2 -H 'X-Forwarded-For: 198.51.100.7, 203.0.113.10' http://{TRAEFIK_ADDR}/

  # the backend can verify those headers came from the edge (X-EdgeGuard-Signature):
  EDGEGUARD_SIGNING_KEY={key} cargo run --example verify -- --url http://{TRAEFIK_ADDR}/

  # maintenance on / off (seen within checkInterval, 2 s; /healthz stays up):
  echo on > {flag}
  rm {flag}

  (/plain is routed without the middleware, for comparison.)
Press Ctrl-C to stop.",
        ver = tools::TRAEFIK_VERSION,
        flag = flag.display(),
        key = DEMO_SIGNING_KEY,
    );
    rt.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => return Ok(()),
                _ = term.recv() => return Ok(()),
                _ = tokio::time::sleep(Duration::from_millis(500)) => {
                    if let Some(status) = child.0.try_wait()? {
                        bail!("traefik exited ({status})");
                    }
                }
            }
        }
    })
}

fn wait_for_port(addr: SocketAddr, child: &mut Child) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        if let Some(status) = child.try_wait()? {
            bail!("traefik exited before listening on {addr} ({status})");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("traefik did not listen on {addr} within 60 s")
}
