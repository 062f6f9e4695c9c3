//! `cargo xtask kind-test [--keep] [--dry-run]`: the shared end-to-end suite
//! (tests/e2e/suite) against a throwaway kind cluster running the pinned
//! Traefik chart with traefik-config/kind.
//!
//! The whole run is a [`Plan`] of steps, so `--dry-run` prints every command
//! without any tool installed, and the unit tests below check those commands
//! against the repository (paths, names, namespaces, JSON patches). The
//! cluster is deleted when the run ends, on failure and on Ctrl-C too.

use std::ffi::OsStr;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::{cmd, k8s, kube};

/// The Traefik chart release the kind test installs (Traefik v3.7.11 inside;
/// the values pin the image to v3.7.15).
pub const CHART_VERSION: &str = "41.3.0";
const CHART_REPO: &str = "https://traefik.github.io/charts";
/// The kind test's tools; `docker` must also reach a running engine.
const TOOLS: [&str; 4] = ["docker", "kind", "kubectl", "helm"];
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
    preflight(&std::env::var_os("PATH").unwrap_or_default())?;
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

/// The executable `name` in the directories of `path`, if any.
fn find_on(path: &OsStr, name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    std::env::split_paths(path)
        .map(|dir| dir.join(name))
        .find(|p| p.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0))
}

/// What the kind test lacks with this `PATH`, one line per missing tool.
pub fn missing_tools(path: &OsStr) -> Vec<String> {
    let mut missing = Vec::new();
    for tool in TOOLS {
        let Some(exe) = find_on(path, tool) else {
            missing.push(format!("{tool}: not found on PATH"));
            continue;
        };
        if tool == "docker" {
            let out = Command::new(&exe).arg("info").env("PATH", path).output();
            match out {
                Ok(out) if out.status.success() => {}
                Ok(out) => {
                    let err = String::from_utf8_lossy(&out.stderr);
                    let first = err.lines().find(|l| !l.trim().is_empty()).unwrap_or("no output").trim();
                    missing.push(format!("docker: `docker info` failed, no running Docker engine ({first})"));
                }
                Err(e) => missing.push(format!("docker: cannot run {}: {e}", exe.display())),
            }
        }
    }
    missing
}

/// Fails fast, naming every missing tool, before anything is built or created.
pub fn preflight(path: &OsStr) -> Result<()> {
    let missing = missing_tools(path);
    if missing.is_empty() {
        return Ok(());
    }
    bail!(
        "cargo xtask kind-test needs docker (with a running engine), kind, kubectl and helm; missing:\n  {}\n\
         Install them (docs/kubernetes.md) or run the suite without Kubernetes: cargo xtask test",
        missing.join("\n  ")
    )
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;
    use std::time::Duration;

    use serde::Deserialize;
    use serde_json::Value;

    use super::*;

    const CLUSTER: &str = "edgeguard-test";

    fn root() -> PathBuf {
        crate::root()
    }

    /// Every YAML document in `relative`.
    fn yaml(relative: &str) -> Vec<Value> {
        let text = std::fs::read_to_string(root().join(relative)).unwrap();
        serde_norway::Deserializer::from_str(&text)
            .map(|doc| Value::deserialize(doc).unwrap())
            .filter(|doc| !doc.is_null())
            .collect()
    }

    /// The object of `kind` named `name` in `relative`.
    fn object(relative: &str, kind: &str, name: &str) -> Value {
        let docs = yaml(relative);
        docs.into_iter()
            .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("{relative}: no {kind} {name}"))
    }

    fn args(step: &Step) -> &[String] {
        match step {
            Step::Run { args, .. } => args,
            Step::Internal(_) => &[],
        }
    }

    fn value_after<'a>(args: &'a [String], flag: &str) -> &'a str {
        let at = args.iter().position(|a| a == flag).unwrap_or_else(|| panic!("no {flag} in {args:?}"));
        &args[at + 1]
    }

    /// The whole plan, as `--dry-run` prints it: in order, with every command.
    #[test]
    fn dry_run_prints_every_command_in_order() {
        let out = Plan::new(Path::new("/repo"), CLUSTER).render();
        let commands: Vec<&str> =
            out.lines().filter(|l| l.starts_with("$ ") || l.starts_with("# in xtask")).collect();
        let want = [
            "# in xtask: cargo xtask k8s-plugin-configmap (builds the plugin, writes target/k8s/edgeguard-plugin-configmap.yaml)",
            "# in xtask: cargo xtask k8s-geoip-configmap --check",
            "$ kind create cluster --name edgeguard-test --config /repo/traefik-config/kind/cluster.yaml --wait 180s",
            "$ helm install traefik traefik --repo https://traefik.github.io/charts --version 41.3.0 --namespace traefik \
             --create-namespace --values /repo/traefik-config/kind/values.yaml --kube-context kind-edgeguard-test",
            "$ kubectl --context kind-edgeguard-test apply --server-side -f /repo/target/k8s/edgeguard-plugin-configmap.yaml",
            "$ kubectl --context kind-edgeguard-test apply -k /repo/traefik-config/kind",
            "$ kubectl --context kind-edgeguard-test -n traefik rollout status deployment/traefik --timeout 300s",
            "$ kubectl --context kind-edgeguard-test -n shop rollout status deployment/echo --timeout 300s",
            "$ EDGEGUARD_E2E_TARGET=kind EDGEGUARD_E2E_BASE_URL=http://127.0.0.1:80 \
             EDGEGUARD_E2E_KUBE_CONTEXT=kind-edgeguard-test \
             EDGEGUARD_E2E_NOT_APPLICABLE=/repo/target/kind-test/not-applicable.txt \
             cargo test --features e2e --test e2e -- --test-threads 1 --nocapture",
            "$ kubectl --context kind-edgeguard-test -n shop patch middlewares.traefik.io edgeguard --type merge \
             -p '{\"spec\":{\"plugin\":{\"edgeguard\":{\"maintenance\":{\"enabled\":true}}}}}'",
            "$ kubectl --context kind-edgeguard-test -n shop patch middlewares.traefik.io edgeguard --type merge \
             -p '{\"spec\":{\"plugin\":{\"edgeguard\":{\"maintenance\":{\"enabled\":false}}}}}'",
            "$ kubectl --context kind-edgeguard-test -n traefik patch configmap edgeguard-maintenance --type merge \
             -p '{\"data\":{\"flag\":\"on\"}}'",
            "$ kubectl --context kind-edgeguard-test -n traefik patch configmap edgeguard-maintenance --type merge \
             -p '{\"data\":{\"flag\":\"off\"}}'",
            "$ kubectl --context kind-edgeguard-test -n traefik patch configmap edgeguard-maintenance --type merge \
             -p '{\"data\":{\"flag\":null}}'",
            "$ kubectl --context kind-edgeguard-test -n shop get pods -l app.kubernetes.io/name=echo \
             -o 'jsonpath={.items[0].status.podIP}'",
            "$ kubectl --context kind-edgeguard-test -n shop exec deployment/echo -c echo -- node -e \"$POD_CLIENT\" \
             GET http://traefik.traefik.svc.cluster.local/ '[[\"X-Forwarded-For\",\"203.0.113.66\"]]'",
            "$ kubectl --context kind-edgeguard-test -n traefik logs deployment/traefik --tail 100",
            "$ kubectl --context kind-edgeguard-test get pods -A -o wide",
            "$ kubectl --context kind-edgeguard-test -n traefik describe pods",
            "$ kubectl --context kind-edgeguard-test -n traefik logs deployment/traefik --all-containers --tail 200",
            "$ kind delete cluster --name edgeguard-test",
        ];
        assert_eq!(commands, want, "\n{out}");
        assert!(out.contains(&format!("POD_CLIENT={}\n", shell_quote(kube::POD_CLIENT))), "{out}");
    }

    /// The commands name what the repository has: files, chart, objects.
    #[test]
    fn commands_match_the_repository() {
        let root = root();
        let plan = Plan::new(&root, CLUSTER);
        let context = context(CLUSTER);
        for step in plan.deploy.iter().chain(&plan.diagnostics).chain([&plan.create]) {
            for arg in args(step).iter().filter(|a| a.starts_with(root.to_str().unwrap())) {
                let generated = arg.ends_with(k8s::PLUGIN_MANIFEST);
                assert!(generated || Path::new(arg).exists(), "{step}: {arg} does not exist");
            }
            if let Step::Run { program: "kubectl", args, .. } = step {
                assert_eq!(args[..2], ["--context", context.as_str()], "{step}");
            }
        }
        // The chart version the values file documents, and the namespace its
        // ConfigMaps and Secret live in.
        let helm = args(&plan.deploy[0]);
        let values = std::fs::read_to_string(root.join("traefik-config/kind/values.yaml")).unwrap();
        assert!(
            values.contains(&format!("--version {CHART_VERSION} ")),
            "values.yaml documents another chart"
        );
        assert_eq!(value_after(helm, "--namespace"), kube::TRAEFIK_NAMESPACE);
        let flag = object(
            "traefik-config/manifests/maintenance-flag-configmap.yaml",
            "ConfigMap",
            kube::FLAG_CONFIGMAP,
        );
        assert_eq!(flag["metadata"]["namespace"], kube::TRAEFIK_NAMESPACE);
        assert_eq!(flag["data"]["flag"], kube::FLAG_DEFAULT);
        // In-cluster URL: the Service the chart names after the release, in its namespace.
        assert_eq!(
            kube::TRAEFIK_IN_CLUSTER,
            format!("http://{}.{}.svc.cluster.local", helm[1], kube::TRAEFIK_NAMESPACE)
        );
        // The echo Deployment the rollout waits for and the suite execs into.
        let echo = object("traefik-config/manifests/echo.yaml", "Deployment", "echo");
        assert_eq!(echo["metadata"]["namespace"], kube::APP_NAMESPACE);
        assert_eq!(kube::ECHO_DEPLOYMENT, "deployment/echo");
        let pod_ip = kube::echo_pod_ip(&context);
        let (label, value) = value_after(&pod_ip, "-l").split_once('=').unwrap();
        assert_eq!(echo["spec"]["template"]["metadata"]["labels"][label], value);
        let exec = kube::request_from_pod(&context, "GET", "/", "[]");
        let container = value_after(&exec, "-c");
        assert_eq!(echo["spec"]["template"]["spec"]["containers"][0]["name"], container);
    }

    /// The suite's patches are valid JSON and change fields the manifests have.
    #[test]
    fn suite_patches_change_existing_fields() {
        let context = context(CLUSTER);
        let patch = |args: &[String]| -> Value { serde_json::from_str(value_after(args, "-p")).unwrap() };
        let middleware = object("traefik-config/manifests/middleware.yaml", "Middleware", kube::MIDDLEWARE);
        let enabled = kube::patch_maintenance_enabled(&context, true);
        assert_eq!(value_after(&enabled, "-n"), middleware["metadata"]["namespace"]);
        assert_eq!(patch(&enabled)["spec"]["plugin"]["edgeguard"]["maintenance"]["enabled"], true);
        assert_eq!(middleware["spec"]["plugin"]["edgeguard"]["maintenance"]["enabled"], false);
        assert!(enabled.iter().any(|a| a == kube::MIDDLEWARE));
        let flag = kube::patch_maintenance_flag(&context, Some("on\n"));
        assert_eq!(patch(&flag)["data"]["flag"], "on\n");
        assert_eq!(patch(&kube::patch_maintenance_flag(&context, None))["data"]["flag"], Value::Null);
        // The Middleware reads the flag file the ConfigMap key becomes.
        assert_eq!(middleware["spec"]["plugin"]["edgeguard"]["maintenance"]["flagFile"], "/maintenance/flag");
    }

    /// The pod client speaks HTTP as the suite expects (with Node.js, as in the
    /// echo image; where node is not installed this says so and checks nothing).
    #[test]
    fn pod_client_script_sends_repeated_headers_and_prints_the_reply() {
        let Some(node) = find_on(&std::env::var_os("PATH").unwrap_or_default(), "node") else {
            println!("node is not on PATH: the pod client script was not run");
            return;
        };
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/plain?x=1", listener.local_addr().unwrap());
        let server = std::thread::spawn(move || {
            use std::io::{Read, Write};
            let (mut conn, _) = listener.accept().unwrap();
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.ends_with(b"\r\n\r\n") {
                let n = conn.read(&mut buf).unwrap();
                request.extend_from_slice(&buf[..n]);
            }
            conn.write_all(
                b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 600\r\nContent-Length: 4\r\n\r\nbusy",
            )
            .unwrap();
            String::from_utf8(request).unwrap()
        });
        let headers = r#"[["X-Forwarded-For","198.51.100.1"],["X-Forwarded-For","203.0.113.7"]]"#;
        let out = Command::new(node).args(["-e", kube::POD_CLIENT, "GET", &url, headers]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let request = server.join().unwrap();
        assert!(request.starts_with("GET /plain?x=1 HTTP/1.1\r\n"), "{request}");
        assert!(
            request.contains("X-Forwarded-For: 198.51.100.1\r\nX-Forwarded-For: 203.0.113.7\r\n"),
            "{request}"
        );
        assert!(request.to_ascii_lowercase().contains("host: edgeguard.test\r\n"), "{request}");
        let reply: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!((reply["status"].as_u64(), reply["body"].as_str()), (Some(503), Some("busy")), "{reply}");
        assert_eq!(reply["headers"]["retry-after"], "600", "{reply}");
    }

    #[test]
    fn printed_arguments_are_quoted_for_the_shell() {
        assert_eq!(shell_quote("deployment/traefik"), "deployment/traefik");
        assert_eq!(shell_quote("jsonpath={.items[0]}"), "'jsonpath={.items[0]}'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn cluster_names_are_unique_and_valid() {
        let name = unique_cluster_name();
        assert!(name.starts_with("edgeguard-") && name.len() <= 40, "{name}");
        assert!(name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'), "{name}");
    }

    /// kind-test on a machine without the tools names each one (issue 7).
    #[test]
    fn preflight_names_every_missing_tool() {
        let empty = tempfile_dir("no-tools");
        let err = preflight(empty.as_os_str()).unwrap_err().to_string();
        for tool in TOOLS {
            assert!(err.contains(&format!("{tool}: not found on PATH")), "{tool}: {err}");
        }
        assert!(err.contains("cargo xtask kind-test needs docker"), "{err}");
    }

    #[test]
    fn preflight_names_a_docker_client_without_engine() {
        let dir = tempfile_dir("fake-tools");
        let script = |name: &str, body: &str| {
            let path = dir.join(name);
            std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        };
        for tool in ["kind", "kubectl", "helm"] {
            script(tool, "exit 0");
        }
        script(
            "docker",
            "echo 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock.' >&2; exit 1",
        );
        // A process forked by a concurrent test may briefly hold the new
        // scripts open for writing (ETXTBSY); ask again in that case.
        let mut missing = missing_tools(dir.as_os_str());
        for _ in 0..20 {
            if !missing.iter().any(|m| m.contains("busy")) {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
            missing = missing_tools(dir.as_os_str());
        }
        assert_eq!(missing.len(), 1, "{missing:?}");
        assert!(
            missing[0].starts_with("docker: `docker info` failed, no running Docker engine"),
            "{missing:?}"
        );
        assert!(missing[0].contains("Cannot connect to the Docker daemon"), "{missing:?}");
        script("docker", "exit 0");
        let ok = (0..20).any(|_| {
            let ok = preflight(dir.as_os_str()).is_ok();
            if !ok {
                std::thread::sleep(Duration::from_millis(50));
            }
            ok
        });
        assert!(ok, "{:?}", missing_tools(dir.as_os_str()));
    }

    fn tempfile_dir(name: &str) -> PathBuf {
        let dir = root().join("target/tmp/xtask-kind").join(format!("{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
