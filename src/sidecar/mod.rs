//! The native edge sidecar (`edgeguard serve`): the same pipeline as the
//! Traefik plugin, as a small reverse proxy in front of one application, for
//! Traefik 2.x (no wasm plugins), nginx, ALB or any proxy without wasm.
//!
//! A thin adapter like [`crate::http_wasm`]: [`proxy`] turns a hyper request
//! into a [`crate::RequestView`], runs [`crate::Pipeline::evaluate`] and applies
//! the decision; everything about client identity, geo and maintenance is the
//! core's. Around it: the listener (HTTP/1.1 and h2c, PROXY protocol from
//! trusted load balancers), the admin listener ([`admin`]: health, readiness,
//! Prometheus [`metrics`]), config reload ([`reload`]) and graceful shutdown.

mod admin;
pub mod config;
mod metrics;
mod proxy;
mod proxy_protocol;
mod reload;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, TcpStream};

use crate::log::{Level, Log};
use crate::pipeline::Pipeline;
use config::{Loaded, Settings};
use metrics::Metrics;

/// Command-line options of `edgeguard serve`.
#[derive(Debug, Clone)]
pub struct Options {
    /// The config file (YAML or JSON).
    pub config: PathBuf,
    /// Write one JSON access-log line per request to stdout.
    pub access_log: bool,
}

/// The core's log lines, as `tracing` events.
#[derive(Debug, Clone, Copy, Default)]
pub struct TracingLog;

impl Log for TracingLog {
    fn log(&self, level: Level, message: &str) {
        match level {
            Level::Debug => tracing::debug!(target: "edgeguard", "{message}"),
            Level::Info => tracing::info!(target: "edgeguard", "{message}"),
            Level::Warn => tracing::warn!(target: "edgeguard", "{message}"),
            Level::Error => tracing::error!(target: "edgeguard", "{message}"),
        }
    }
}

/// One loaded config with what was built from it; swapped whole on reload.
pub(crate) struct Active {
    pipeline: Pipeline,
    settings: Settings,
    /// Keep-alive pools to the upstream (rebuilt with each config), one per
    /// worker thread: a request goes out on a connection its own thread drives.
    clients: Vec<Client<HttpConnector, Incoming>>,
}

impl Active {
    fn new(loaded: Loaded, workers: usize) -> Self {
        let settings = loaded.settings;
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(settings.connect_timeout));
        connector.set_nodelay(true);
        let clients = (0..workers.max(1))
            .map(|_| {
                Client::builder(TokioExecutor::new())
                    .pool_idle_timeout(settings.idle_timeout)
                    .pool_timer(TokioTimer::new())
                    .timer(TokioTimer::new())
                    .build(connector.clone())
            })
            .collect();
        Self { pipeline: loaded.pipeline, settings, clients }
    }

    /// The calling worker thread's upstream pool.
    fn client(&self) -> &Client<HttpConnector, Incoming> {
        &self.clients[WORKER.get() % self.clients.len()]
    }
}

thread_local! {
    /// This worker thread's index (0 on threads that are not workers).
    static WORKER: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// State shared by every connection.
pub(crate) struct Shared {
    active: ArcSwap<Active>,
    metrics: Metrics,
    access_log: bool,
    config_path: PathBuf,
    /// Worker threads serving the proxy listener.
    workers: usize,
}

/// Runs the sidecar until SIGTERM/SIGINT. Errors are for startup only
/// (config refused, address in use).
///
/// Threads: one per core (or `TOKIO_WORKER_THREADS`) serving the proxy
/// listener, each with its own single-threaded runtime and upstream pool,
/// the way nginx runs worker processes: a request never leaves the thread
/// that accepted its connection, so no thread wakes another for it (a
/// work-stealing runtime cost ~1 futex call and 1 extra context switch per
/// proxied request). The main thread runs signals, reload and the admin
/// listener.
pub fn run(options: &Options) -> Result<(), String> {
    init_tracing(options.access_log);
    let loaded = config::load(&options.config, Arc::new(TracingLog))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    runtime.block_on(serve(loaded, options, worker_threads()))
}

/// `TOKIO_WORKER_THREADS` when set to a positive number (as for a tokio
/// multi-thread runtime), else the available cores.
fn worker_threads() -> usize {
    std::env::var("TOKIO_WORKER_THREADS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, std::num::NonZero::get))
}

fn init_tracing(access_log: bool) {
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let is_access = |m: &tracing::Metadata<'_>| m.target() == "edgeguard::access";
    let filter = tracing_subscriber::EnvFilter::try_from_env("EDGEGUARD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Access lines are already JSON objects: printed bare (the message, no
    // time, level or target), one per line, on stdout.
    let access = access_log.then(|| {
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stdout)
            .without_time()
            .with_level(false)
            .with_target(false)
            .with_ansi(false)
            .with_filter(tracing_subscriber::filter::filter_fn(is_access))
    });
    let logs = tracing_subscriber::fmt::layer()
        .json()
        .flatten_event(true)
        .with_writer(std::io::stderr)
        .with_filter(tracing_subscriber::filter::filter_fn(move |m| !is_access(m)))
        .with_filter(filter);
    let _ = tracing_subscriber::registry().with(access).with(logs).try_init();
}

async fn serve(loaded: Loaded, options: &Options, workers: usize) -> Result<(), String> {
    let settings = loaded.settings.clone();
    let listener = std::net::TcpListener::bind(settings.listen)
        .and_then(|l| l.set_nonblocking(true).map(|()| l))
        .map_err(|e| format!("server.listen {}: {e}", settings.listen))?;
    let admin_listener = TcpListener::bind(settings.admin_listen)
        .await
        .map_err(|e| format!("server.adminListen {}: {e}", settings.admin_listen))?;
    let shared = Arc::new(Shared {
        active: ArcSwap::from_pointee(Active::new(loaded, workers)),
        metrics: Metrics::new(),
        access_log: options.access_log,
        config_path: options.config.clone(),
        workers,
    });
    tracing::info!(
        listen = %listener.local_addr().map_or(settings.listen, |a| a),
        admin = %admin_listener.local_addr().map_or(settings.admin_listen, |a| a),
        upstream = %settings.upstream.authority,
        config = %options.config.display(),
        workers,
        "edgeguard sidecar started"
    );
    tokio::spawn(admin::serve(admin_listener, shared.clone()));
    tokio::spawn(reload::watch(shared.clone()));

    // Every worker accepts on the same socket: whichever is free takes the connection.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut threads = Vec::with_capacity(workers);
    for index in 0..workers {
        let listener = listener.try_clone().map_err(|e| format!("server.listen {}: {e}", settings.listen))?;
        let (shared, stopped) = (shared.clone(), stopped.clone());
        let thread = std::thread::Builder::new()
            .name(format!("edgeguard-worker-{index}"))
            .spawn(move || worker(index, listener, shared, stopped))
            .map_err(|e| format!("cannot start worker thread {index}: {e}"))?;
        threads.push(thread);
    }
    drop(listener);

    let signal = shutdown_signal().await;
    tracing::info!("{signal}: stopping; in-flight requests have server.shutdownTimeout");
    let _ = stop.send(true);
    let drained = tokio::task::spawn_blocking(move || {
        // Join every worker (no short-circuit): each drains its own connections.
        let mut all = true;
        for thread in threads {
            all &= thread.join().unwrap_or(false);
        }
        all
    });
    if drained.await.unwrap_or(false) {
        tracing::info!("all connections closed");
    }
    Ok(())
}

/// One worker thread: its own runtime, accepting and serving connections
/// until `stopped`, then draining them within `server.shutdownTimeout`.
/// Returns whether every connection closed in time.
fn worker(
    index: usize,
    listener: std::net::TcpListener,
    shared: Arc<Shared>,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) -> bool {
    WORKER.set(index);
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            tracing::error!("worker {index}: cannot start its runtime: {e}");
            return false;
        }
    };
    runtime.block_on(async move {
        let listener = match TcpListener::from_std(listener) {
            Ok(listener) => listener,
            Err(e) => {
                tracing::error!("worker {index}: cannot listen: {e}");
                return false;
            }
        };
        let graceful = GracefulShutdown::new();
        loop {
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        let watcher = graceful.watcher();
                        tokio::spawn(connection(stream, peer, shared.clone(), watcher));
                    }
                    Err(e) => {
                        tracing::warn!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
                _ = stopped.wait_for(|stop| *stop) => break,
            }
        }
        drop(listener);
        let timeout = shared.active.load().settings.shutdown_timeout;
        match tokio::time::timeout(timeout, graceful.shutdown()).await {
            Ok(()) => true,
            Err(_) => {
                tracing::warn!(
                    "worker {index}: server.shutdownTimeout ({timeout:?}) passed; closing remaining connections"
                );
                false
            }
        }
    })
}

async fn shutdown_signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut term) = signal(SignalKind::terminate()) else {
        let _ = tokio::signal::ctrl_c().await;
        return "SIGINT";
    };
    tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = tokio::signal::ctrl_c() => "SIGINT",
    }
}

/// Serves one client connection: PROXY header (trusted peers only), then HTTP/1.1 or h2c.
async fn connection(
    stream: TcpStream,
    tcp_peer: SocketAddr,
    shared: Arc<Shared>,
    watcher: hyper_util::server::graceful::Watcher,
) {
    let _ = stream.set_nodelay(true);
    let settings = shared.active.load().settings.clone();
    let (peer, io) = if settings.proxy_protocol.contains(tcp_peer.ip()) {
        match tokio::time::timeout(settings.idle_timeout, proxy_protocol::accept(stream)).await {
            Ok(Ok((source, io))) => (source.unwrap_or(tcp_peer), io),
            Ok(Err(e)) => {
                tracing::debug!(peer = %tcp_peer, "connection refused: {e}");
                return;
            }
            Err(_) => return,
        }
    } else {
        (tcp_peer, proxy_protocol::Prefixed::new(bytes::Bytes::new(), stream))
    };
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(settings.idle_timeout)
        .max_buf_size(settings.max_header_bytes)
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(settings.max_header_bytes).unwrap_or(u32::MAX));
    let service = service_fn(move |req| proxy::handle(shared.clone(), peer, req));
    let conn = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
    if let Err(e) = watcher.watch(conn.into_owned()).await {
        tracing::debug!(peer = %peer, "connection ended: {e}");
    }
}
