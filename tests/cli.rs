//! The `edgeguard` CLI runs the same pipeline as the plugin.

use std::process::Command;

fn edgeguard(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_edgeguard")).args(args).output().expect("run edgeguard");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

fn config_file(text: &str) -> tempfile::NamedTempFile {
    let file = tempfile::Builder::new().suffix(".yaml").tempfile().unwrap();
    std::fs::write(file.path(), text).unwrap();
    file
}

#[test]
fn explain_prints_client_trace_and_edits() {
    let cfg = config_file("clientIp:\n  trustedProxies: [10.0.0.0/8]\n");
    let path = cfg.path().to_str().unwrap();
    let (ok, out, err) = edgeguard(&[
        "explain",
        "--config",
        path,
        "--peer",
        "10.0.0.1:4000",
        "-H",
        "X-Forwarded-For: 198.51.100.1, 203.0.113.7, 10.0.0.2",
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("client: 203.0.113.7\n"), "{out}");
    assert!(out.contains("stop=untrusted-hop"), "{out}");
    assert!(out.contains("set    X-Real-IP: 203.0.113.7\n"), "{out}");
    assert!(out.contains("set    X-Original-Forwarded-For: 198.51.100.1, 203.0.113.7, 10.0.0.2\n"), "{out}");
}

#[test]
fn explain_untrusted_peer_lists_stripped_headers() {
    let cfg = config_file("{\"clientIp\": {\"trustedProxies\": [\"10.0.0.0/8\"]}}");
    let (ok, out, _) = edgeguard(&[
        "explain",
        "--config",
        cfg.path().to_str().unwrap(),
        "--peer",
        "192.0.2.1",
        "-H",
        "X-Forwarded-For: 203.0.113.7",
        "-H",
        "True-Client-IP: 203.0.113.7",
    ]);
    assert!(ok);
    assert!(out.contains("client: 192.0.2.1\n") && out.contains("remove True-Client-IP\n"), "{out}");
    // Only headers that arrived are removed: the strip list costs nothing otherwise.
    assert!(!out.contains("remove CF-Connecting-IP"), "{out}");
}

#[test]
fn check_names_file_and_field() {
    let cfg = config_file("clientIp:\n  trustedProxies: [10.0.0.0/8]\n  maxHop: 3\n");
    let (ok, _, err) = edgeguard(&["check", cfg.path().to_str().unwrap()]);
    assert!(!ok);
    assert!(err.contains(cfg.path().to_str().unwrap()) && err.contains("`clientIp.maxHop`"), "{err}");
}

#[test]
fn lookup_prints_the_geo_headers_for_each_address() {
    let db = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/geo/GeoLite2-City-Test.mmdb");
    let asn = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/geo/GeoLite2-ASN-Test.mmdb");
    let (ok, out, err) =
        edgeguard(&["lookup", "--db", db, "--asn-db", asn, "203.0.113.10", "[2001:db8:2::1]:443"]);
    assert!(ok, "{err}");
    assert!(out.contains("203.0.113.10\n  X-Geo-DB: GeoLite2-City; build=2025-01-01T00:00:00Z"), "{out}");
    assert!(out.contains("  X-Geo-City: Link%C3%B6ping\n") && out.contains("  X-Geo-ASN: 64496\n"), "{out}");
    assert!(out.contains("2001:db8:2::1\n") && out.contains("  X-Geo-City: S%C3%A3o Paulo\n"), "{out}");
    let (ok, _, err) = edgeguard(&["lookup", "--db", "/does/not/exist.mmdb", "192.0.2.1"]);
    assert!(!ok && err.contains("/does/not/exist.mmdb"), "{err}");
}

/// Runs `edgeguard check` with `stdin` piped in; returns (exit code, stdout, stderr).
fn check(args: &[&str], stdin: &str) -> (i32, String, String) {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_edgeguard"))
        .arg("check")
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run edgeguard");
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

/// 1-based line and column of the first occurrence of `needle` in `text`:
/// the real position, found in the file itself rather than by EdgeGuard's parser.
fn position_of(text: &str, needle: &str) -> (usize, usize) {
    let offset = text.find(needle).unwrap_or_else(|| panic!("{needle:?} not in the file"));
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = offset - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, column)
}

// https://github.com/edgeguard/edgeguard/issues/16: `check` takes the files
// operators deploy, every one under traefik-config/ included.
#[test]
fn check_accepts_every_shipped_file_offline() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/traefik-config");
    let mut files = Vec::new();
    let mut dirs = vec![std::path::PathBuf::from(root)];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml" || e == "json") {
                files.push(path.display().to_string());
            }
        }
    }
    assert!(files.len() > 20, "{files:?}");
    let args: Vec<&str> = std::iter::once("--offline").chain(files.iter().map(String::as_str)).collect();
    let (code, out, err) = check(&args, "");
    assert_eq!(code, 0, "{out}\n{err}");
    for block in [
        "Middleware shop/edgeguard",
        "middleware edgeguard",
        "ConfigMap edgeguard-sidecar",
        "plugin manifest",
    ] {
        assert!(out.contains(block), "{block} not checked:\n{out}");
    }
}

#[test]
fn check_reads_kustomize_output_from_stdin() {
    let Ok(probe) = Command::new("kubectl").arg("version").arg("--client").output() else {
        eprintln!("kubectl not installed: kustomize output not checked here");
        return;
    };
    assert!(probe.status.success());
    let values = concat!(env!("CARGO_MANIFEST_DIR"), "/traefik-config/eks/values.yaml");
    for overlay in ["kind", "eks", "eks/nlb"] {
        let dir = format!("{}/traefik-config/{overlay}", env!("CARGO_MANIFEST_DIR"));
        let out = Command::new("kubectl").args(["kustomize", &dir]).output().unwrap();
        assert!(out.status.success(), "{overlay}: {}", String::from_utf8_lossy(&out.stderr));
        let manifests = String::from_utf8(out.stdout).unwrap();
        let (code, stdout, err) = check(&["-"], &manifests);
        assert_eq!(code, 0, "{overlay}: {stdout}\n{err}");
        assert!(stdout.contains("<stdin>:") && stdout.contains("Middleware shop/edgeguard"), "{stdout}");
        // Offline, the mounts and secrets are named; with the Helm values that
        // declare them, nothing is left to warn about.
        assert!(err.contains("settings.mounts") && err.contains("settings.envs"), "{err}");
        if overlay.starts_with("eks") {
            let (code, stdout, err) = check(&["-", values], &manifests);
            assert_eq!(code, 0, "{stdout}\n{err}");
            assert!(stdout.contains("0 error(s), 0 warning(s)"), "{overlay}: {stdout}\n{err}");
        }
    }
}

#[test]
fn check_errors_name_file_document_field_line_and_column() {
    struct Case {
        desc: &'static str,
        text: &'static str,
        /// Text at the reported position.
        at: &'static str,
        want: &'static [&'static str],
    }
    let cases = [
        Case {
            desc: "typo on line 2 of a plugin config",
            text: "clientIp:\n  maxHop: 3\n",
            at: "maxHop",
            want: &["document 1", "`clientIp.maxHop`", "did you mean `maxHops`?"],
        },
        Case {
            desc: "bad CIDR in the third document of kustomize output",
            text: "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n---\napiVersion: traefik.io/v1alpha1\nkind: Middleware\nmetadata:\n  name: edgeguard\n  namespace: shop\nspec:\n  plugin:\n    edgeguard:\n      clientIp:\n        trustedProxies:\n          - 10.0.0.0/8\n          - 10.0.0.0/40\n",
            at: "10.0.0.0/40",
            want: &["document 3", "Middleware shop/edgeguard", "`clientIp.trustedProxies[1]`"],
        },
        Case {
            desc: "unknown key in a Traefik dynamic file",
            text: "http:\n  middlewares:\n    eg:\n      plugin:\n        edgeguard:\n          maintenance:\n            flagfile: /m/flag\n",
            at: "flagfile",
            want: &["document 1", "middleware eg", "`maintenance.flagfile`", "did you mean `flagFile`?"],
        },
        Case {
            desc: "duration without its last unit",
            text: "{\"maintenance\": {\"enabled\": true, \"retryAfter\": \"1h30\"}}",
            // Positions point at the key of a map entry.
            at: "\"retryAfter\"",
            want: &["`maintenance.retryAfter`", "the number `30` has no unit"],
        },
        Case {
            desc: "a Middleware in Helm values extraObjects",
            text: "image:\n  tag: v3.7.15\nextraObjects:\n  - apiVersion: traefik.io/v1alpha1\n    kind: Middleware\n    metadata: {name: eg}\n    spec:\n      plugin:\n        edgeguard:\n          clientIp: {maxHops: many}\n",
            at: "maxHops",
            want: &["Helm extraObjects[0] Middleware eg", "`clientIp.maxHops`"],
        },
        Case {
            desc: "a sidecar config in a ConfigMap key",
            text: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: sc}\ndata:\n  edgeguard.yaml: |\n    server:\n      upstream: http://127.0.0.1:3000\n    clientIp:\n      trustedProxies: [10.0.0.0/8, nope]\n",
            at: "nope",
            want: &["ConfigMap sc, data.edgeguard.yaml", "`clientIp.trustedProxies[1]`"],
        },
        Case {
            desc: "a server section in a Middleware",
            text: "apiVersion: traefik.io/v1alpha1\nkind: Middleware\nmetadata: {name: m}\nspec:\n  plugin:\n    edgeguard:\n      server:\n        listen: :80\n",
            at: "server",
            want: &["only the sidecar"],
        },
    ];
    for c in cases {
        let file = config_file(c.text);
        let name = file.path().to_str().unwrap();
        let (code, out, err) = check(&["--offline", name], "");
        assert_eq!(code, 1, "{}: {out}\n{err}", c.desc);
        let (line, column) = position_of(c.text, c.at);
        let prefix = format!("{name}:{line}:{column}: error: ");
        assert!(err.starts_with(&prefix), "{}: want {prefix}\n{err}", c.desc);
        for want in c.want {
            assert!(err.contains(want), "{}: {want}\n{err}", c.desc);
        }
        // The same through stdin.
        let (code, _, err) = check(&["--offline", "-"], c.text);
        assert_eq!((code, err.starts_with(&format!("<stdin>:{line}:{column}: error: "))), (1, true), "{err}");
    }
}

#[test]
fn check_warnings_exit_codes_and_strict() {
    let text = "clientIp:\n  trustedProxies: [10.0.1.0/16]\nsigning:\n  maxSkew: 2h\nmaintenance:\n  window: {start: 2025-06-01T02:00:00Z, end: 2025-06-01T04:00:00Z}\n  checkInterval: 100000h\n";
    let file = config_file(text);
    let name = file.path().to_str().unwrap();
    let (code, out, err) = check(&[name], "");
    assert_eq!(code, 0, "{out}\n{err}");
    for (at, want) in [
        ("10.0.1.0/16", "the network actually used is 10.0.0.0/16"),
        ("maxSkew", "signing is off"),
        ("end:", "the window ended at 2025-06-01T04:00:00Z"),
        ("checkInterval", "`flagFile` is not set"),
    ] {
        let (line, column) = position_of(text, at);
        let line_text = err.lines().find(|l| l.contains(want)).unwrap_or_else(|| panic!("{want}\n{err}"));
        assert!(line_text.starts_with(&format!("{name}:{line}:{column}: warning: ")), "{line_text}");
    }
    let (code, _, _) = check(&["--strict", name], "");
    assert_eq!(code, 1);
    let (code, _, err) = check(&["/does/not/exist.yaml"], "");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no such file or directory"), "{err}");
    let (code, _, _) = check(&["--offline", "--online", name], "");
    assert_eq!(code, 2);
}

#[test]
fn check_geo_database_missing_is_an_error_unless_skip_is_explicit() {
    let cases = [
        ("geo:\n  database: /does/not/exist.mmdb\n", 1),
        ("geo:\n  database: /does/not/exist.mmdb\n  onError: fail\n", 1),
        ("geo:\n  database: /does/not/exist.mmdb\n  onError: skip\n", 0),
    ];
    for (text, want) in cases {
        let file = config_file(text);
        let (code, out, err) = check(&[file.path().to_str().unwrap()], "");
        assert_eq!(code, want, "{text}: {out}\n{err}");
        assert!(err.contains("/does/not/exist.mmdb") && err.contains("no such file or directory"), "{err}");
        assert!(!err.contains("os error"), "{err}");
    }
}

#[test]
fn check_offline_names_the_settings_entries() {
    let text = "http:\n  middlewares:\n    eg:\n      plugin:\n        edgeguard:\n          signing: {secretEnv: EG_KEY_UNSET_HERE}\n          maintenance: {flagFile: /maintenance/flag}\n";
    let file = config_file(text);
    let (code, out, err) = check(&[file.path().to_str().unwrap()], "");
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(err.contains("settings.envs entry `EG_KEY_UNSET_HERE`"), "{err}");
    assert!(err.contains("`/host/dir:/maintenance:ro`"), "{err}");
    assert!(out.contains("offline"), "{out}");
    let (code, _, err) = check(&["--online", file.path().to_str().unwrap()], "");
    assert_eq!(code, 1, "{err}");
}

#[test]
fn explain_shows_the_maintenance_response_at_a_chosen_time() {
    let cfg =
        config_file("maintenance:\n  window: {start: 2030-06-01T02:00:00Z, end: 2030-06-01T04:00:00Z}\n");
    let path = cfg.path().to_str().unwrap();
    let (ok, out, err) =
        edgeguard(&["explain", "--config", path, "--peer", "192.0.2.1", "--at", "2030-06-01T03:00:00Z"]);
    assert!(ok, "{err}");
    assert!(out.contains("maintenance: on (window)"), "{out}");
    assert!(out.contains("decision: respond 503") && out.contains("header Retry-After: 3600"), "{out}");
    assert!(out.contains("header Content-Type: text/html"), "{out}");
    let (ok, out, _) =
        edgeguard(&["explain", "--config", path, "--peer", "192.0.2.1", "--at", "2030-06-01T05:00:00Z"]);
    assert!(ok && out.contains("decision: forward"), "{out}");
}

#[test]
fn lookup_says_when_an_address_is_not_in_the_database() {
    let db = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/geo/GeoLite2-City-Test.mmdb");
    let (ok, out, err) = edgeguard(&["lookup", "--db", db, "8.8.8.8"]);
    assert!(ok, "{err}");
    assert!(out.contains("8.8.8.8\n") && out.contains("not found in the database"), "{out}");
}
