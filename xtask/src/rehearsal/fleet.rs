//! Everything a run creates, and its removal: the processes (each started in
//! its host's namespace with `ip netns exec`, which execs the program, so the
//! child's pid is the program's) and the namespaces. Removal runs once,
//! whichever comes first: the end of the run, an error or panic unwinding
//! through [`Fleet`]'s drop, or SIGINT/SIGTERM (handled on a thread).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::network::{self, Network};

/// What is still to remove.
#[derive(Debug, Default)]
struct Owned {
    children: Vec<(String, Child)>,
    namespaces: Vec<String>,
    removed: bool,
}

/// The run's processes and namespaces; removes them when dropped.
#[derive(Debug)]
pub struct Fleet {
    owned: Arc<Mutex<Owned>>,
    logs: PathBuf,
}

impl Fleet {
    /// Creates `network`'s namespaces (listed for removal before any exists)
    /// and installs the signal handler.
    pub fn create(network: &Network, logs: &Path) -> Result<Self> {
        std::fs::create_dir_all(logs)?;
        // Never take over (and later delete) another run's namespace.
        let taken: Vec<String> =
            network.namespaces().into_iter().filter(|ns| Path::new("/run/netns").join(ns).exists()).collect();
        if !taken.is_empty() {
            bail!("namespaces {taken:?} already exist (another run?); run again for a new name");
        }
        let fleet = Self {
            owned: Arc::new(Mutex::new(Owned { namespaces: network.namespaces(), ..Owned::default() })),
            logs: logs.to_path_buf(),
        };
        fleet.on_signals();
        network.create()?;
        Ok(fleet)
    }

    /// Starts `program args` inside namespace `ns`, output to `<logs>/<name>.log`.
    pub fn start(
        &self,
        ns: &str,
        name: &str,
        program: &Path,
        args: &[&str],
        envs: &[(&str, &str)],
        cwd: &Path,
    ) -> Result<()> {
        let log = self.logs.join(format!("{name}.log"));
        let out = File::create(&log)?;
        let mut owned = self.lock();
        if owned.removed {
            bail!("the rehearsal is being torn down");
        }
        let child = Command::new("ip")
            .args(["netns", "exec", ns])
            .arg(program)
            .args(args)
            .envs(envs.iter().copied())
            .current_dir(cwd)
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .with_context(|| format!("starting {name} ({})", program.display()))?;
        owned.children.push((name.to_string(), child));
        Ok(())
    }

    /// Fails, with the end of its log, if a started process has exited.
    pub fn check_alive(&self) -> Result<()> {
        let mut owned = self.lock();
        for (name, child) in &mut owned.children {
            if let Some(status) = child.try_wait()? {
                let log = self.logs.join(format!("{name}.log"));
                bail!("{name} exited ({status}); end of {}:\n{}", log.display(), tail(&log, 30));
            }
        }
        Ok(())
    }

    fn lock(&self) -> MutexGuard<'_, Owned> {
        lock(&self.owned)
    }

    /// Kills every process, then deletes every namespace; returns what it removed.
    pub fn remove(&self) -> (usize, usize) {
        remove(&self.owned)
    }

    /// Namespaces of this run that still exist (none after [`Fleet::remove`]).
    pub fn leftovers(&self) -> Vec<String> {
        let owned = self.lock();
        owned.namespaces.iter().filter(|ns| Path::new("/run/netns").join(ns).exists()).cloned().collect()
    }

    /// SIGINT (Ctrl-C) or SIGTERM: tear down, then exit 130. Ctrl-C also
    /// reaches the children (same process group); the run's own unwinding
    /// and this thread share [`Fleet::remove`], which acts once.
    fn on_signals(&self) {
        use tokio::signal::unix::{SignalKind, signal};
        let owned = self.owned.clone();
        let (installed, wait) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
            rt.block_on(async move {
                let streams = (signal(SignalKind::interrupt()), signal(SignalKind::terminate()));
                let _ = installed.send(());
                let (Ok(mut int), Ok(mut term)) = streams else { return };
                tokio::select! {
                    _ = int.recv() => {}
                    _ = term.recv() => {}
                }
                eprintln!("\nrehearsal: interrupted; removing its processes and namespaces");
                let (p, n) = remove(&owned);
                eprintln!("rehearsal: removed {p} processes and {n} namespaces");
                std::process::exit(130);
            });
        });
        let _ = wait.recv();
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        self.remove();
    }
}

/// A panic while holding the lock must not stop the teardown.
fn lock(owned: &Mutex<Owned>) -> MutexGuard<'_, Owned> {
    owned.lock().unwrap_or_else(|e| e.into_inner())
}

/// Kills every process, then deletes every namespace, once; returns what it removed.
fn remove(owned: &Mutex<Owned>) -> (usize, usize) {
    let mut owned = lock(owned);
    if owned.removed {
        return (0, 0);
    }
    owned.removed = true;
    let mut processes = 0;
    for (name, child) in &mut owned.children {
        if matches!(child.try_wait(), Ok(None)) {
            let _ = child.kill();
        }
        // SIGKILL cannot be ignored: wait() returns promptly.
        if child.wait().is_ok() {
            processes += 1;
        } else {
            eprintln!("rehearsal: could not reap {name} (pid {})", child.id());
        }
    }
    let mut namespaces = 0;
    for ns in &owned.namespaces {
        match network::delete(ns) {
            Ok(()) => namespaces += 1,
            Err(e) => eprintln!("rehearsal: {e:#}; remove it with `ip netns del {ns}`"),
        }
    }
    (processes, namespaces)
}

/// The last `lines` lines of a log file.
pub fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Polls `ready` every 200 ms until it returns true, a process dies, or `limit` passes.
pub fn wait_until(fleet: &Fleet, what: &str, limit: Duration, mut ready: impl FnMut() -> bool) -> Result<()> {
    let deadline = Instant::now() + limit;
    loop {
        fleet.check_alive()?;
        if ready() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!("{what}: not ready within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}
