//! What `cargo xtask kind-test` needs on this machine, checked before
//! anything is built or created.

use std::ffi::OsStr;
use std::path::PathBuf;
use std::process::Command;

use anyhow::{Result, bail};

/// The kind test's tools; `docker` must also reach a running engine.
const TOOLS: [&str; 4] = ["docker", "kind", "kubectl", "helm"];

/// The executable `name` in the directories of `path`, if any.
pub fn find_on(path: &OsStr, name: &str) -> Option<PathBuf> {
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

    use super::*;

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
        let dir = crate::root().join("target/tmp/xtask-kind").join(format!("{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
