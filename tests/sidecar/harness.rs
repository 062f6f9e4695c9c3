//! Starts the real `edgeguard serve` binary with a config in a temporary
//! directory and talks to it: optionally as a load balancer sending a PROXY
//! protocol header first, so a test can choose the peer the sidecar sees.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::body::{Body, Frame, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::support::client::{Reply, reply};

/// One runtime for the whole test binary (backends, clients).
pub fn rt() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
    })
}

/// The echo backend (tests/support/echo.rs) on a loopback port.
pub fn echo() -> SocketAddr {
    let listener = rt().block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = listener.local_addr().unwrap();
    rt().spawn(crate::support::echo::serve(listener));
    addr
}

/// A running sidecar; killed on drop.
pub struct Sidecar {
    child: Child,
    dir: tempfile::TempDir,
    pub addr: SocketAddr,
    pub admin: SocketAddr,
}

impl Sidecar {
    /// Starts `edgeguard serve --access-log` with `config`; `server.listen`
    /// and `server.adminListen` default to free loopback ports.
    pub fn start(config: Value) -> Self {
        Self::start_with_env(config, &[])
    }

    /// [`Sidecar::start`] with extra environment variables (a signing key).
    pub fn start_with_env(mut config: Value, envs: &[(&str, &str)]) -> Self {
        let server = config["server"].as_object_mut().expect("config.server");
        server.entry("listen").or_insert(json!("127.0.0.1:0"));
        server.entry("adminListen").or_insert(json!("127.0.0.1:0"));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("edgeguard.yaml");
        // JSON is YAML: the file goes through the YAML reader.
        std::fs::write(&path, serde_json::to_string_pretty(&config).unwrap()).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_edgeguard"))
            .args(["serve", "--access-log", "--config"])
            .arg(&path)
            .env("EDGEGUARD_LOG", "debug")
            .envs(envs.iter().copied())
            .stdout(std::fs::File::create(dir.path().join("stdout.log")).unwrap())
            .stderr(std::fs::File::create(dir.path().join("stderr.log")).unwrap())
            .stdin(Stdio::null())
            .spawn()
            .expect("start edgeguard serve");
        let mut sidecar =
            Self { child, dir, addr: ([0, 0, 0, 0], 0).into(), admin: ([0, 0, 0, 0], 0).into() };
        sidecar.wait_started();
        sidecar
    }

    /// Reads the bound addresses from the startup log line.
    fn wait_started(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("edgeguard serve exited early ({status}):\n{}", self.log());
            }
            let log = self.log();
            let started = log
                .lines()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                .find(|l| l["message"] == "edgeguard sidecar started");
            if let Some(line) = started {
                self.addr = line["listen"].as_str().unwrap().parse().unwrap();
                self.admin = line["admin"].as_str().unwrap().parse().unwrap();
                return;
            }
            assert!(Instant::now() < deadline, "sidecar not started within 30 s:\n{log}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The structured log (stderr).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default()
    }

    /// The access log (stdout).
    pub fn access_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stdout.log")).unwrap_or_default()
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("edgeguard.yaml")
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal (`HUP`, `TERM`) with kill(1).
    pub fn signal(&self, name: &str) {
        let status =
            Command::new("kill").arg(format!("-{name}")).arg(self.pid().to_string()).status().unwrap();
        assert!(status.success(), "kill -{name} failed");
    }

    /// Peak resident memory (VmHWM) in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        let line = status.lines().find(|l| l.starts_with("VmHWM:")).expect("VmHWM in /proc/PID/status");
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    /// `GET path` from 127.0.0.1, no PROXY header.
    pub fn get(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        self.request(None, "GET", path, headers)
    }

    /// Sends a request, after `preface` (a PROXY protocol header) if given.
    pub fn request(
        &self,
        preface: Option<Vec<u8>>,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut req = Request::builder().method(method).uri(path);
        if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
            req = req.header("host", "edgeguard.test");
        }
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        let req = req.body(Empty::<Bytes>::new()).unwrap();
        rt().block_on(async {
            let resp = send(self.addr, preface, req).await.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
            reply(resp).await
        })
        .unwrap_or_else(|e| panic!("{method} {path}: {e}\n{}", self.log()))
    }

    /// `GET` on the admin listener: status and body.
    pub fn admin_get(&self, path: &str) -> (u16, String) {
        let req = Request::builder().uri(path).header("host", "admin").body(Empty::<Bytes>::new()).unwrap();
        rt().block_on(async {
            let resp = send(self.admin, None, req).await.unwrap();
            let status = resp.status().as_u16();
            let body = resp.into_body().collect().await.unwrap().to_bytes();
            (status, String::from_utf8_lossy(&body).into_owned())
        })
    }

    /// The value of one metric sample line (`name{labels}`) on `/metrics`, 0 when absent.
    pub fn metric(&self, sample: &str) -> f64 {
        let (_, text) = self.admin_get("/metrics");
        text.lines()
            .find_map(|l| l.strip_prefix(sample).and_then(|rest| rest.strip_prefix(' ')))
            .map_or(0.0, |v| v.trim().parse().unwrap())
    }
}

impl Drop for Sidecar {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends one HTTP/1.1 request on a new connection, after `preface`.
pub async fn send<B>(
    target: SocketAddr,
    preface: Option<Vec<u8>>,
    req: Request<B>,
) -> std::io::Result<Response<Incoming>>
where
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut stream = TcpStream::connect(target).await?;
    if let Some(preface) = preface {
        stream.write_all(&preface).await?;
    }
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(std::io::Error::other)?;
    tokio::spawn(conn);
    sender.send_request(req).await.map_err(std::io::Error::other)
}

/// A PROXY protocol header announcing `source` (v1 text or v2 binary).
pub fn proxy_header(source: SocketAddr, v2: bool) -> Vec<u8> {
    let destination: SocketAddr =
        if source.is_ipv4() { "127.0.0.1:8080" } else { "[::1]:8080" }.parse().unwrap();
    if v2 {
        ppp::v2::Builder::with_addresses(0x21, ppp::v2::Protocol::Stream, (source, destination))
            .build()
            .unwrap()
    } else {
        let family = if source.is_ipv4() { "TCP4" } else { "TCP6" };
        format!(
            "PROXY {family} {} {} {} {}\r\n",
            source.ip(),
            destination.ip(),
            source.port(),
            destination.port()
        )
        .into_bytes()
    }
}

/// A body of `remaining` zero bytes, produced in 64 KiB chunks as it is sent.
pub struct Zeros {
    pub remaining: u64,
}

static ZEROS: [u8; 64 * 1024] = [0; 64 * 1024];

impl Body for Zeros {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if self.remaining == 0 {
            return Poll::Ready(None);
        }
        let n = self.remaining.min(ZEROS.len() as u64);
        self.remaining -= n;
        Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(&ZEROS[..n as usize])))))
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        hyper::body::SizeHint::with_exact(self.remaining)
    }
}
