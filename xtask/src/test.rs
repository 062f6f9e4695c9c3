//! `cargo xtask test`: the one command CI and developers run.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};

use crate::{cmd, plugin, rehearsal, tools};

/// Runs every check in order; stops at the first failure.
pub fn run(root: &Path, traefik_version: &str) -> Result<()> {
    let started = Instant::now();
    // The clock time since the start, not the step's duration: "[89s]" read like one.
    let step = |name: &str| {
        let secs = started.elapsed().as_secs();
        println!("\n==> {name} (starting at {}m{:02}s)", secs / 60, secs % 60);
    };

    step("format");
    cmd::run(root, "cargo", &["fmt", "--all", "--check"], &[])?;

    tools::wasm_target(root)?;
    step("clippy (native and wasm32-wasip1)");
    cmd::run(
        root,
        "cargo",
        &[
            "clippy",
            "--quiet",
            "--workspace",
            "--all-targets",
            "--features",
            "edgeguard/schema",
            "--",
            "-D",
            "warnings",
        ],
        &[],
    )?;
    cmd::run(
        root,
        "cargo",
        &["clippy", "--quiet", "--target", tools::WASM_TARGET, "--lib", "--bins", "--", "-D", "warnings"],
        &[],
    )?;

    step("the library without default features (for a service calling signing::verify)");
    let core = ["-p", "edgeguard", "--no-default-features"];
    cmd::run(
        root,
        "cargo",
        &[&["clippy", "--quiet", "--lib"][..], &core, &["--", "-D", "warnings"]].concat(),
        &[],
    )?;
    let tree = [&["tree", "--edges", "normal", "--prefix", "none"][..], &core].concat();
    let tree = cmd::output(root, "cargo", &tree)?;
    front_end_dependencies(&tree)?;

    step("config schema and reference are current (cargo xtask schema regenerates them)");
    cmd::run(root, "cargo", &["test", "--quiet", "--features", "schema", "--test", "config_schema"], &[])?;

    step("native tests");
    cmd::run(root, "cargo", &["test", "--workspace"], &[])?;

    step("signature test vectors, second implementation (examples/verify.py)");
    // A verifier written from docs/signing.md alone, in another language.
    let python = std::process::Command::new("python3").arg("--version").output();
    if python.is_ok_and(|out| out.status.success()) {
        let vectors = "testdata/signing/vectors.json";
        cmd::run(root, "python3", &["examples/verify.py", "--vectors", vectors], &[])?;
    } else {
        println!("python3 is not on PATH: skipped (the Rust tests still check the vectors)");
    }

    step("unit tests on wasm32-wasip1 (wasmtime runner)");
    tools::python_deps(root)?;
    cmd::run(root, "cargo", &["test", "--target", tools::WASM_TARGET, "--lib"], &[])?;

    step("the plugin's memory.copy/fill replacements against a model (xtask/wasm)");
    plugin::check_copy_fill(root)?;

    step("plugin instance memory within budget (wasmtime; sizes only, never a time)");
    plugin::build(root)?;
    crate::instance::check(root)?;

    step(&format!("end-to-end tests against Traefik {traefik_version}"));
    let traefik = tools::traefik(root, traefik_version)?;
    let traefik = traefik.to_str().context("non-UTF-8 path")?;
    cmd::run(
        root,
        "cargo",
        &["test", "--features", "e2e", "--test", "e2e", "--", "--test-threads", "2"],
        &[("EDGEGUARD_TRAEFIK", traefik)],
    )?;
    step("sidecar behind real Traefik (no plugin, Traefik 2.x style)");
    // The native step above ran every sidecar test but skipped this one (no Traefik then).
    cmd::run(
        root,
        "cargo",
        &["test", "--test", "sidecar", "traefik_front", "--", "--nocapture"],
        &[("EDGEGUARD_TRAEFIK", traefik)],
    )?;

    step("cutover rehearsal: the users' topology on separate network hosts (cargo xtask rehearsal)");
    rehearsal::run(root)?;

    println!("\nall checks passed in {:.0?}", started.elapsed());
    Ok(())
}

/// The crates only the native front-ends (sidecar, CLI, YAML files) need:
/// none of them may reach a library user who turned the default features off.
const FRONT_END_ONLY: [&str; 8] =
    ["tokio", "hyper", "hyper-util", "clap", "prometheus-client", "tracing", "serde_norway", "mimalloc"];

/// Fails if `cargo tree --prefix none` output names a [`FRONT_END_ONLY`] crate.
fn front_end_dependencies(tree: &str) -> Result<()> {
    let found: Vec<&str> = tree
        .lines()
        .filter_map(|line| line.split(' ').next())
        .filter(|name| FRONT_END_ONLY.contains(name))
        .collect();
    anyhow::ensure!(
        found.is_empty(),
        "edgeguard with default-features = false depends on {found:?}: gate them behind a feature in Cargo.toml"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn front_end_crates_in_the_core_tree_are_refused() {
        assert!(front_end_dependencies("edgeguard v0.1.0 (/src)\nhmac v0.13.0\nserde v1.0.229\n").is_ok());
        let err =
            front_end_dependencies("edgeguard v0.1.0 (/src)\ntokio v1.48.0\nclap v4.5.0\n").unwrap_err();
        assert!(err.to_string().contains(r#"["tokio", "clap"]"#), "{err}");
    }
}
