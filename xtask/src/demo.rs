//! `cargo xtask demo`: real Traefik with the plugin in front of the echo
//! backend, using the configs in `traefik-config/local/`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::{echo, plugin, tools};

/// Default Traefik port (`--port`).
pub const DEFAULT_PORT: u16 = 8080;
/// Default echo backend port (`--backend-port`).
pub const DEFAULT_BACKEND_PORT: u16 = 8081;
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

/// The demo's ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ports {
    /// Traefik's entrypoint.
    pub traefik: u16,
    /// The echo backend.
    pub backend: u16,
}

impl Ports {
    /// `--port N` and `--backend-port N`, in any order.
    pub fn parse(args: &[String]) -> Result<Self> {
        let mut ports = Self { traefik: DEFAULT_PORT, backend: DEFAULT_BACKEND_PORT };
        let mut args = args.iter();
        while let Some(flag) = args.next() {
            let slot = match flag.as_str() {
                "--port" => &mut ports.traefik,
                "--backend-port" => &mut ports.backend,
                other => bail!("unexpected argument {other:?} (demo takes --port N and --backend-port N)"),
            };
            let value = args.next().with_context(|| format!("{flag} needs a port number"))?;
            *slot = value
                .parse()
                .ok()
                .filter(|p| *p != 0)
                .with_context(|| format!("{flag}: `{value}` is not a port"))?;
        }
        if ports.traefik == ports.backend {
            bail!("--port and --backend-port must differ (both {})", ports.traefik);
        }
        Ok(ports)
    }
}

/// Fails with the port that is taken and how to choose others, before
/// anything starts: Traefik itself would only log `bind: address already in
/// use` after the banner.
pub fn check_ports(ports: Ports) -> Result<()> {
    for (port, what, flag) in
        [(ports.traefik, "Traefik", "--port"), (ports.backend, "the echo backend", "--backend-port")]
    {
        if let Err(e) = TcpListener::bind(("127.0.0.1", port)) {
            let other = if flag == "--port" { ports.backend } else { ports.traefik };
            // A nearby free-looking suggestion; never past the last port.
            let next = port.checked_add(10).unwrap_or(port - 10);
            let (t, b) = if flag == "--port" { (next, other) } else { (other, next) };
            bail!(
                "port {port} on 127.0.0.1 ({what}, {flag}) is not available: {e}. Another program \
                 (or another demo) listens there; stop it or choose other ports: \
                 cargo xtask demo --port {t} --backend-port {b}"
            );
        }
    }
    Ok(())
}

pub fn run(root: &Path, ports: Ports) -> Result<()> {
    check_ports(ports)?;
    let traefik_addr = format!("127.0.0.1:{}", ports.traefik);
    let echo_addr = format!("127.0.0.1:{}", ports.backend);
    let traefik = tools::traefik(root, tools::TRAEFIK_VERSION)?;
    plugin::build(root)?;
    let rt = tokio::runtime::Runtime::new()?;
    let listener = rt.block_on(tokio::net::TcpListener::bind(&echo_addr)).with_context(|| {
        format!("echo backend cannot listen on {echo_addr} (choose another with --backend-port)")
    })?;
    rt.spawn(echo::serve(listener));

    // The maintenance flag lives in a directory mounted into the plugin.
    let flags = root.join("target/demo/flags");
    std::fs::create_dir_all(&flags)?;
    let flag = flags.join("maintenance");
    let _ = std::fs::remove_file(&flag);

    // The committed configs with the chosen ports, in target/demo/ (Traefik
    // takes its static config from one source: a file, or flags, not both).
    let demo = root.join("target/demo");
    let dynamic = std::fs::read_to_string(root.join("traefik-config/local/dynamic.yml"))?
        .replace("127.0.0.1:8081", &echo_addr);
    std::fs::write(demo.join("dynamic.yml"), dynamic)?;
    let static_config = std::fs::read_to_string(root.join("traefik-config/local/traefik.yml"))?
        .replace("127.0.0.1:8080", &traefik_addr)
        .replace("../traefik-config/local/dynamic.yml", "demo/dynamic.yml");
    let config = demo.join("traefik.yml");
    std::fs::write(&config, static_config)?;
    // Traefik resolves ./plugins-local against its working directory: target/.
    let mut child = KillOnDrop(
        Command::new(&traefik)
            .arg(format!("--configFile={}", config.display()))
            .current_dir(root.join("target"))
            .env("EDGEGUARD_SIGNING_KEY", DEMO_SIGNING_KEY)
            .spawn()
            .context("starting traefik")?,
    );
    wait_until_ours(traefik_addr.parse()?, &mut child.0)?;

    println!(
        "\nEdgeGuard demo: Traefik {ver} on http://{traefik_addr} (echo backend on {echo_addr}).
Trusted proxy: 127.0.0.2 (clientIp.trustedProxies and the entrypoint's forwardedHeaders.trustedIPs).

  # 1. a direct client: X-Real-IP is the TCP peer
  curl -s http://{traefik_addr}/
  # 2. a spoofed X-Forwarded-For from an untrusted peer is not believed
  curl -s -H 'X-Forwarded-For: 203.0.113.66' -H 'X-Real-IP: 203.0.113.66' http://{traefik_addr}/
  # 3. through the trusted proxy 127.0.0.2: the client is the rightmost untrusted hop,
  #    with geo headers from the test database (203.0.113.10 is Linköping, SE; AS64496)
  curl -s --interface 127.0.0.2 -H 'X-Forwarded-For: 198.51.100.7, 203.0.113.10' http://{traefik_addr}/

  # the backend can verify those headers came from the edge (X-EdgeGuard-Signature):
  EDGEGUARD_SIGNING_KEY={key} cargo run --example verify -- --url http://{traefik_addr}/

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

/// Waits until Traefik answers on `addr` with our echo backend's reply to a
/// request carrying a nonce: a listener that merely accepts (another program
/// on the port) does not count.
fn wait_until_ours(addr: SocketAddr, child: &mut Child) -> Result<()> {
    let nonce = format!("edgeguard-demo-{}-{}", std::process::id(), Instant::now().elapsed().as_nanos());
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if answers_with(addr, &nonce) {
            return Ok(());
        }
        if let Some(status) = child.try_wait()? {
            bail!("traefik exited before serving on {addr} ({status}); see its log above");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    bail!("traefik did not route http://{addr}/plain to the echo backend within 60 s")
}

fn answers_with(addr: SocketAddr, nonce: &str) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) else { return false };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request =
        format!("GET /plain HTTP/1.1\r\nHost: demo\r\nX-Demo-Nonce: {nonce}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut reply = String::new();
    let _ = stream.read_to_string(&mut reply);
    reply.starts_with("HTTP/1.1 200") && reply.contains(nonce)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_from_flags() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(Ports::parse(&[]).unwrap(), Ports { traefik: 8080, backend: 8081 });
        assert_eq!(
            Ports::parse(&args(&["--backend-port", "9001", "--port", "9000"])).unwrap(),
            Ports { traefik: 9000, backend: 9001 }
        );
        for (bad, want) in [
            (&["--port"][..], "needs a port"),
            (&["--port", "x"], "not a port"),
            (&["--port", "8081"], "must differ"),
            (&["--listen", "1"], "unexpected argument"),
        ] {
            let err = Ports::parse(&args(bad)).unwrap_err().to_string();
            assert!(err.contains(want), "{bad:?}: {err}");
        }
    }

    #[test]
    fn a_taken_port_is_named_with_the_flag_to_change_it() {
        let taken = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = taken.local_addr().unwrap().port();
        let free = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let cases = [
            (Ports { traefik: port, backend: free }, "(Traefik, --port)"),
            (Ports { traefik: free, backend: port }, "(the echo backend, --backend-port)"),
        ];
        for (ports, want) in cases {
            let err = check_ports(ports).unwrap_err().to_string();
            assert!(err.contains(&format!("port {port} on 127.0.0.1 {want}")), "{err}");
            assert!(err.contains("cargo xtask demo --port"), "{err}");
        }
    }
}
