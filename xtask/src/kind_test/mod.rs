//! `cargo xtask kind-test [--keep] [--dry-run]`: the shared end-to-end suite
//! (tests/e2e/suite) against a throwaway kind cluster running the pinned
//! Traefik chart with traefik-config/kind.
//!
//! The whole run is a [`Plan`] of steps, so `--dry-run` prints every command
//! without any tool installed, and the unit tests below check those commands
//! against the repository (paths, names, namespaces, JSON patches). The
//! cluster is deleted when the run ends, on failure and on Ctrl-C too.

mod preflight;
#[cfg(test)]
mod tests;

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::{cmd, k8s, kube};

/// The Traefik chart release the kind test installs (Traefik v3.7.11 inside;
/// the values pin the image to v3.7.15).
pub const CHART_VERSION: &str = "41.3.0";
const CHART_REPO: &str = "https://traefik.github.io/charts";
/// The host's way into Traefik: kind's port mapping (traefik-config/kind/cluster.yaml).
const BASE_URL: &str = "http://127.0.0.1:80";
/// Where the suite lists the tests that do not apply to the cluster.
const NOT_APPLICABLE: &str = "target/kind-test/not-applicable.txt";

/// What `cargo xtask kind-test` was asked to do.
#[derive(Debug, Default, Clone, Copy)]
pub struct Options {
    /// Leave the cluster running at the end.
    pub keep: bool,
    /// Print the plan instead of running it.
    pub dry_run: bool,
}

/// Work xtask does itself, between the commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Internal {
    /// `cargo xtask k8s-plugin-configmap`: builds the plugin, writes its ConfigMap.
    PluginConfigMap,
    /// `cargo xtask k8s-geoip-configmap --check`: the committed test GeoIP ConfigMap is current.
    GeoipConfigMapIsCurrent,
}

/// One step of the kind test.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Internal(Internal),
    /// `program args` run in the workspace root, with extra environment.
    Run {
        program: &'static str,
        args: Vec<String>,
        envs: Vec<(&'static str, String)>,
    },
}

fn run_step(program: &'static str, args: &[&str]) -> Step {
    Step::Run { program, args: args.iter().map(|a| a.to_string()).collect(), envs: Vec::new() }
}

/// `kubectl --context kind-<cluster> args...`: never the user's current context.
fn kubectl(cluster: &str, args: &[&str]) -> Step {
    let context = context(cluster);
    let mut all = vec!["--context", context.as_str()];
    all.extend_from_slice(args);
    run_step("kubectl", &all)
}

fn context(cluster: &str) -> String {
    format!("kind-{cluster}")
}

/// Quotes `arg` for a POSIX shell when it needs it, so printed commands can be pasted.
fn shell_quote(arg: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./:=,@%+".contains(c);
    if !arg.is_empty() && arg.chars().all(plain) {
        return arg.to_string();
    }
    format!("'{}'", arg.replace('\'', r"'\''"))
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Internal(Internal::PluginConfigMap) => write!(
                f,
                "# in xtask: cargo xtask k8s-plugin-configmap (builds the plugin, writes {})",
                k8s::PLUGIN_MANIFEST
            ),
            Step::Internal(Internal::GeoipConfigMapIsCurrent) => {
                write!(f, "# in xtask: cargo xtask k8s-geoip-configmap --check")
            }
            Step::Run { program, args, envs } => {
                write!(f, "$ ")?;
                for (name, value) in envs {
                    write!(f, "{name}={} ", shell_quote(value))?;
                }
                write!(f, "{program}")?;
                args.iter().try_for_each(|a| write!(f, " {}", shell_quote(a)))
            }
        }
    }
}

/// Every step of one run, in order.
#[derive(Debug)]
struct Plan {
    cluster: String,
    /// Before the cluster exists: nothing to clean up when they fail.
    prepare: Vec<Step>,
    create: Step,
    /// With the cluster: it is deleted after them, whatever happens.
    deploy: Vec<Step>,
    suite: Step,
    /// Printed when a deploy step or the suite fails.
    diagnostics: Vec<Step>,
    delete: Step,
}

impl Plan {
    fn new(root: &Path, cluster: &str) -> Self {
        let path = |relative: &str| root.join(relative).display().to_string();
        let context = context(cluster);
        let prepare = vec![
            Step::Internal(Internal::PluginConfigMap),
            Step::Internal(Internal::GeoipConfigMapIsCurrent),
        ];
        let create = run_step(
            "kind",
            &[
                "create",
                "cluster",
                "--name",
                cluster,
                "--config",
                &path("traefik-config/kind/cluster.yaml"),
                "--wait",
                "180s",
            ],
        );
        let deploy = vec![
            run_step(
                "helm",
                &[
                    "install",
                    "traefik",
                    "traefik",
                    "--repo",
                    CHART_REPO,
                    "--version",
                    CHART_VERSION,
                    "--namespace",
                    kube::TRAEFIK_NAMESPACE,
                    "--create-namespace",
                    "--values",
                    &path("traefik-config/kind/values.yaml"),
                    "--kube-context",
                    &context,
                ],
            ),
            // The Traefik pod waits for the ConfigMaps and the Secret below.
            kubectl(cluster, &["apply", "--server-side", "-f", &path(k8s::PLUGIN_MANIFEST)]),
            kubectl(cluster, &["apply", "-k", &path("traefik-config/kind")]),
            kubectl(
                cluster,
                &[
                    "-n",
                    kube::TRAEFIK_NAMESPACE,
                    "rollout",
                    "status",
                    "deployment/traefik",
                    "--timeout",
                    "300s",
                ],
            ),
            kubectl(
                cluster,
                &["-n", kube::APP_NAMESPACE, "rollout", "status", kube::ECHO_DEPLOYMENT, "--timeout", "300s"],
            ),
        ];
        // The e2e binary as `cargo xtask test` runs it, pointed at the cluster:
        // the kind target waits until both routes answer, then runs the suite
        // one test at a time (the switches are cluster-wide).
        let suite = Step::Run {
            program: "cargo",
            args: ["test", "--features", "e2e", "--test", "e2e", "--", "--test-threads", "1", "--nocapture"]
                .map(String::from)
                .to_vec(),
            envs: vec![
                ("EDGEGUARD_E2E_TARGET", "kind".to_string()),
                ("EDGEGUARD_E2E_BASE_URL", BASE_URL.to_string()),
                ("EDGEGUARD_E2E_KUBE_CONTEXT", context.clone()),
                ("EDGEGUARD_E2E_NOT_APPLICABLE", path(NOT_APPLICABLE)),
            ],
        };
        let diagnostics = vec![
            kubectl(cluster, &["get", "pods", "-A", "-o", "wide"]),
            kubectl(cluster, &["-n", kube::TRAEFIK_NAMESPACE, "describe", "pods"]),
            kubectl(
                cluster,
                &[
                    "-n",
                    kube::TRAEFIK_NAMESPACE,
                    "logs",
                    "deployment/traefik",
                    "--all-containers",
                    "--tail",
                    "200",
                ],
            ),
        ];
        let delete = run_step("kind", &["delete", "cluster", "--name", cluster]);
        Self { cluster: cluster.to_string(), prepare, create, deploy, suite, diagnostics, delete }
    }

    /// The plan as `--dry-run` prints it.
    fn render(&self) -> String {
        let context = context(&self.cluster);
        let mut out =
            format!("# cargo xtask kind-test: cluster {}, kubectl context {context}\n", self.cluster);
        let section = |out: &mut String, title: &str, steps: &[&Step]| {
            out.push_str(&format!("\n# {title}\n"));
            for step in steps {
                out.push_str(&format!("{step}\n"));
            }
        };
        section(&mut out, "preflight: docker (with a running engine), kind, kubectl and helm on PATH", &[]);
        section(&mut out, "prepare", &self.prepare.iter().collect::<Vec<_>>());
        section(&mut out, "cluster (deleted at the end, also on failure and Ctrl-C)", &[&self.create]);
        section(&mut out, "deploy", &self.deploy.iter().collect::<Vec<_>>());
        section(&mut out, "the shared end-to-end suite against the cluster", &[&self.suite]);
        let suite_commands = suite_commands(&context);
        let mut commands = String::new();
        section(
            &mut commands,
            "commands the suite runs itself (tests/support/kube.rs)",
            &suite_commands.iter().collect::<Vec<_>>(),
        );
        // The script once, as a variable, instead of inside a command line.
        let script = shell_quote(kube::POD_CLIENT);
        let commands = commands.replace(&script, "\"$POD_CLIENT\"");
        let (title, lines) = commands.split_at(commands.find("\n$ ").map_or(commands.len(), |i| i + 1));
        out.push_str(&format!("{title}POD_CLIENT={script}\n{lines}"));
        section(&mut out, "on failure", &self.diagnostics.iter().collect::<Vec<_>>());
        section(&mut out, "at the end (unless --keep)", &[&self.delete]);
        out
    }
}

/// Examples of what the suite sends through tests/support/kube.rs.
fn suite_commands(context: &str) -> Vec<Step> {
    let pod_headers = r#"[["X-Forwarded-For","203.0.113.66"]]"#;
    [
        kube::patch_maintenance_enabled(context, true),
        kube::patch_maintenance_enabled(context, false),
        kube::patch_maintenance_flag(context, Some("on")),
        kube::patch_maintenance_flag(context, Some(kube::FLAG_DEFAULT)),
        kube::patch_maintenance_flag(context, None),
        kube::echo_pod_ip(context),
        kube::request_from_pod(context, "GET", "/", pod_headers),
        kube::traefik_logs(context),
    ]
    .into_iter()
    .map(|args| Step::Run { program: "kubectl", args, envs: Vec::new() })
    .collect()
}

/// A name no other run uses: `edgeguard-<pid>-<seconds>`.
fn unique_cluster_name() -> String {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() % 1_000_000)
        .unwrap_or_default();
    format!("edgeguard-{}-{seconds}", std::process::id())
}

/// `cargo xtask kind-test`.
pub fn run(root: &Path, options: Options) -> Result<()> {
    let plan = Plan::new(root, &unique_cluster_name());
    if options.dry_run {
        print!("{}", plan.render());
        return Ok(());
    }
    preflight::preflight(&std::env::var_os("PATH").unwrap_or_default())?;
    let interrupted = on_ctrl_c();
    let started = Instant::now();
    let step = |step: &Step| -> Result<()> {
        if interrupted.load(Ordering::SeqCst) {
            bail!("interrupted (Ctrl-C)");
        }
        println!("\n==> [{:.0?}]", started.elapsed());
        execute(root, step)
    };

    plan.prepare.iter().try_for_each(&step)?;
    step(&plan.create)?;
    let _cluster = Cluster { root, plan: &plan, keep: options.keep };
    let not_applicable = root.join(NOT_APPLICABLE);
    std::fs::create_dir_all(not_applicable.parent().context("a parent")?)?;
    let _ = std::fs::remove_file(&not_applicable);
    let result = plan.deploy.iter().chain([&plan.suite]).try_for_each(&step);
    if let Err(e) = &result {
        eprintln!("\nkind-test failed: {e:#}\n--- diagnostics ---");
        for diagnostic in &plan.diagnostics {
            let _ = execute(root, diagnostic);
        }
    }
    result?;
    let listed = std::fs::read_to_string(&not_applicable).unwrap_or_default();
    println!("\nnot applicable on kind ({}):\n{listed}", listed.lines().count());
    println!("kind-test passed in {:.0?}", started.elapsed());
    Ok(())
}

fn execute(root: &Path, step: &Step) -> Result<()> {
    match step {
        Step::Internal(Internal::PluginConfigMap) => k8s::plugin_configmap(root).map(|_| ()),
        Step::Internal(Internal::GeoipConfigMapIsCurrent) => k8s::geoip_configmap(root, true),
        Step::Run { program, args, envs } => {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let envs: Vec<(&str, &str)> = envs.iter().map(|(n, v)| (*n, v.as_str())).collect();
            cmd::run(root, program, &args, &envs)
        }
    }
}

/// Deletes the cluster when the run ends, however it ends (unless `--keep`).
struct Cluster<'a> {
    root: &'a Path,
    plan: &'a Plan,
    keep: bool,
}

impl Drop for Cluster<'_> {
    fn drop(&mut self) {
        let name = &self.plan.cluster;
        if self.keep {
            println!(
                "\nkept cluster {name} (kubectl --context kind-{name}); delete it with: {}",
                self.plan.delete
            );
        } else if execute(self.root, &self.plan.delete).is_err() {
            eprintln!("could not delete cluster {name}: {}", self.plan.delete);
        }
    }
}

/// A flag set by the first Ctrl-C. Ctrl-C also reaches the running child
/// (same process group), which fails its step, so the run unwinds through
/// [`Cluster`]'s drop and deletes the cluster; a second Ctrl-C exits at once.
fn on_ctrl_c() -> Arc<AtomicBool> {
    use tokio::signal::unix::{SignalKind, signal};
    let flag = Arc::new(AtomicBool::new(false));
    let seen = flag.clone();
    let (installed, wait) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
        rt.block_on(async move {
            // Creating the stream installs the handler; the run waits for that.
            let sigint = signal(SignalKind::interrupt());
            let _ = installed.send(());
            let Ok(mut sigint) = sigint else { return };
            sigint.recv().await;
            seen.store(true, Ordering::SeqCst);
            eprintln!("\nCtrl-C: stopping; the cluster is deleted before exit (Ctrl-C again to leave it)");
            sigint.recv().await;
            eprintln!("second Ctrl-C: exiting without deleting the cluster");
            std::process::exit(130);
        });
    });
    let _ = wait.recv();
    flag
}
