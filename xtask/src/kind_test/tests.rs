//! The kind test's plan, checked against the repository without a cluster.

use std::path::PathBuf;
use std::process::Command;

use serde::Deserialize;
use serde_json::Value;

use super::*;
use crate::kind_test::preflight::find_on;

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
    assert!(values.contains(&format!("--version {CHART_VERSION} ")), "values.yaml documents another chart");
    assert_eq!(value_after(helm, "--namespace"), kube::TRAEFIK_NAMESPACE);
    let flag =
        object("traefik-config/manifests/maintenance-flag-configmap.yaml", "ConfigMap", kube::FLAG_CONFIGMAP);
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
