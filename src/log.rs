//! Where the core's log lines go: each front-end supplies a [`Log`] (Traefik's
//! log through the http-wasm host, `tracing` or stderr natively).

use std::fmt;

/// Severity of a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Diagnostics.
    Debug,
    /// Normal events (a database reloaded).
    Info,
    /// Degraded but working (a database vanished; the old one stays).
    Warn,
    /// Something an operator must fix.
    Error,
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Debug => "debug",
            Self::Info => "info",
            Self::Warn => "warn",
            Self::Error => "error",
        })
    }
}

/// A log sink. Implementations must be cheap: the request path may log.
pub trait Log: Send + Sync {
    /// Writes one line.
    fn log(&self, level: Level, message: &str);
}

/// Writes `edgeguard <level>: <message>` to stderr.
#[derive(Debug, Clone, Copy, Default)]
pub struct StderrLog;

impl Log for StderrLog {
    fn log(&self, level: Level, message: &str) {
        eprintln!("edgeguard {level}: {message}");
    }
}

/// Collects lines in memory, for tests.
#[derive(Debug, Default)]
pub struct MemoryLog(pub std::sync::Mutex<Vec<(Level, String)>>);

impl MemoryLog {
    /// The lines so far.
    pub fn lines(&self) -> Vec<(Level, String)> {
        self.0.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

impl Log for MemoryLog {
    fn log(&self, level: Level, message: &str) {
        if let Ok(mut lines) = self.0.lock() {
            lines.push((level, message.to_string()));
        }
    }
}
