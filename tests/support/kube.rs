//! The kubectl commands the shared end-to-end suite runs against the kind
//! cluster (maintenance switches, requests from an untrusted pod, logs) and
//! the names of the objects they touch, as traefik-config/manifests and
//! traefik-config/kind define them. Shared with xtask: `cargo xtask kind-test
//! --dry-run` lists these commands and xtask's unit tests check them.

/// Namespace of the app: the echo backend, its IngressRoutes, the Middleware.
pub const APP_NAMESPACE: &str = "shop";
/// Namespace of Traefik and the ConfigMaps/Secret mounted into it.
pub const TRAEFIK_NAMESPACE: &str = "traefik";
/// The shared EdgeGuard Middleware (traefik-config/manifests/middleware.yaml).
pub const MIDDLEWARE: &str = "edgeguard";
/// The maintenance flag ConfigMap (traefik-config/manifests/maintenance-flag-configmap.yaml).
pub const FLAG_CONFIGMAP: &str = "edgeguard-maintenance";
/// The flag's value in the committed ConfigMap: what the suite restores.
pub const FLAG_DEFAULT: &str = "off";
/// The echo backend: the suite's untrusted peer is a process in its pod.
pub const ECHO_DEPLOYMENT: &str = "deployment/echo";
const ECHO_CONTAINER: &str = "echo";
const ECHO_SELECTOR: &str = "app.kubernetes.io/name=echo";
/// Traefik's Service as pods reach it; its port 80 is the `web` entrypoint.
pub const TRAEFIK_IN_CLUSTER: &str = "http://traefik.traefik.svc.cluster.local";

/// A Node.js HTTP client (the echo image runs Node.js, so the pod needs
/// nothing else). Arguments: method, URL, headers as JSON `[[name, value]...]`
/// (a name given twice is sent as two lines). Prints `{status, headers, body}`.
pub const POD_CLIENT: &str = r#"const http = require("http");
const [method, url, pairs] = process.argv.slice(-3);
const req = http.request(url, { method });
const lines = {};
for (const [name, value] of JSON.parse(pairs)) (lines[name] = lines[name] || []).push(value);
if (!Object.keys(lines).some((n) => n.toLowerCase() === "host")) lines.host = ["edgeguard.test"];
for (const [name, values] of Object.entries(lines)) req.setHeader(name, values.length === 1 ? values[0] : values);
req.on("response", (res) => {
  let body = "";
  res.setEncoding("utf8");
  res.on("data", (chunk) => (body += chunk));
  res.on("end", () => process.stdout.write(JSON.stringify({ status: res.statusCode, headers: res.headers, body })));
});
req.on("error", (e) => { console.error(e.message); process.exit(1); });
req.end();"#;

fn kubectl(context: &str, args: &[&str]) -> Vec<String> {
    ["--context", context].iter().chain(args).map(|s| s.to_string()).collect()
}

/// Cutover switch 1: `maintenance.enabled` of the shared Middleware.
pub fn patch_maintenance_enabled(context: &str, on: bool) -> Vec<String> {
    let patch = format!(r#"{{"spec":{{"plugin":{{"edgeguard":{{"maintenance":{{"enabled":{on}}}}}}}}}}}"#);
    kubectl(
        context,
        &[
            "-n",
            APP_NAMESPACE,
            "patch",
            "middlewares.traefik.io",
            MIDDLEWARE,
            "--type",
            "merge",
            "-p",
            &patch,
        ],
    )
}

/// Cutover switch 2: the `flag` key of the flag ConfigMap, i.e. the content
/// of the flag file; `None` removes the key, so the file disappears.
pub fn patch_maintenance_flag(context: &str, value: Option<&str>) -> Vec<String> {
    let value = serde_json::to_string(&value).expect("a string or null");
    let patch = format!(r#"{{"data":{{"flag":{value}}}}}"#);
    kubectl(
        context,
        &["-n", TRAEFIK_NAMESPACE, "patch", "configmap", FLAG_CONFIGMAP, "--type", "merge", "-p", &patch],
    )
}

/// The echo pod's IP: the address Traefik sees for requests from [`request_from_pod`].
pub fn echo_pod_ip(context: &str) -> Vec<String> {
    kubectl(
        context,
        &["-n", APP_NAMESPACE, "get", "pods", "-l", ECHO_SELECTOR, "-o", "jsonpath={.items[0].status.podIP}"],
    )
}

/// One request to Traefik from inside the echo pod: pod addresses are not
/// trusted proxies on kind, so this is the untrusted peer.
pub fn request_from_pod(context: &str, method: &str, path: &str, headers_json: &str) -> Vec<String> {
    let url = format!("{TRAEFIK_IN_CLUSTER}{path}");
    kubectl(
        context,
        &[
            "-n",
            APP_NAMESPACE,
            "exec",
            ECHO_DEPLOYMENT,
            "-c",
            ECHO_CONTAINER,
            "--",
            "node",
            "-e",
            POD_CLIENT,
            method,
            &url,
            headers_json,
        ],
    )
}

/// The end of Traefik's log, for failure messages.
pub fn traefik_logs(context: &str) -> Vec<String> {
    kubectl(context, &["-n", TRAEFIK_NAMESPACE, "logs", "deployment/traefik", "--tail", "100"])
}
