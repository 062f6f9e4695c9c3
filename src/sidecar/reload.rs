//! Config reload without restart: on `SIGHUP`, and when the config file's
//! modification time or size changes (checked every 2 s, which also catches
//! Kubernetes ConfigMap updates). A new config is validated in full first; a
//! bad one is logged with its field path and the running one stays.
//! Geo databases reload themselves (`geo.reloadInterval`).
//!
//! `listen`, `adminListen` are bound once: a change to them is logged and
//! needs a restart. Everything else (pipeline, upstream, timeouts, PROXY
//! protocol peers) applies to new requests and connections at once.

use std::sync::Arc;
use std::time::Duration;

use tokio::signal::unix::{SignalKind, signal};

use super::{Active, Shared, TracingLog, config};
use crate::watch::WatchedFile;

/// How often the config file is checked for changes.
const POLL: Duration = Duration::from_secs(2);

/// Watches for SIGHUP and file changes until the process exits.
pub async fn watch(shared: Arc<Shared>) {
    let path = shared.config_path.clone();
    // No interval: the timer below paces the checks.
    let mut file = WatchedFile::new(Duration::ZERO);
    let _ = file.changed(&path);
    let mut hup = match signal(SignalKind::hangup()) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!("cannot listen for SIGHUP: {e}");
            None
        }
    };
    let mut tick = tokio::time::interval(POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let trigger = tokio::select! {
            Some(()) = async { match hup.as_mut() { Some(h) => h.recv().await, None => None } } => "SIGHUP",
            _ = tick.tick() => match file.changed(&path) {
                Ok(true) => "config file changed",
                // A missing file is no change: the running config stays.
                Ok(false) | Err(_) => continue,
            },
        };
        // Remember the version tried, good or bad (none when missing), so a
        // broken file is reported once.
        if file.changed(&path).is_err() {
            file.forget();
        }
        reload(&shared, trigger);
    }
}

fn reload(shared: &Shared, trigger: &str) {
    let path = shared.config_path.display();
    match config::load(&shared.config_path, Arc::new(TracingLog)) {
        Ok(loaded) => {
            let old = shared.active.load();
            for (field, before, after) in [
                ("server.listen", old.settings.listen, loaded.settings.listen),
                ("server.adminListen", old.settings.admin_listen, loaded.settings.admin_listen),
            ] {
                if before != after {
                    tracing::warn!(
                        "{path}: {field} changed from {before} to {after}; takes effect after a restart"
                    );
                }
            }
            shared.active.store(Arc::new(Active::new(loaded, shared.workers)));
            shared.metrics.reload(true);
            tracing::info!(trigger, "{path}: config reloaded");
        }
        Err(e) => {
            shared.metrics.reload(false);
            tracing::error!(trigger, "config reload refused, the running config stays: {e}");
        }
    }
}
