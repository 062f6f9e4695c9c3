//! `cargo xtask plugin`: the release wasm, laid out for Traefik's local
//! plugins and zipped for the plugin catalog.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::{cmd, tools};

/// ConfigMaps (one delivery path into Kubernetes) cap at 1 MiB.
const MAX_WASM_BYTES: u64 = 1024 * 1024;

/// Builds the plugin; returns `target/plugins-local/src/edgeguard`.
pub fn build(root: &Path) -> Result<PathBuf> {
    tools::wasm_target(root)?;
    cmd::run(
        root,
        "cargo",
        &["build", "--quiet", "--profile", "plugin", "--target", tools::WASM_TARGET, "--bin", "edgeguard"],
        &[],
    )?;
    let wasm = root.join("target").join(tools::WASM_TARGET).join("plugin/edgeguard.wasm");
    let size = std::fs::metadata(&wasm).with_context(|| format!("{} missing", wasm.display()))?.len();
    if size > MAX_WASM_BYTES {
        bail!("plugin.wasm is {size} bytes, over the 1 MiB budget");
    }
    let manifest = root.join("traefik-config/plugin/.traefik.yml");
    let dir = root.join("target/plugins-local/src/edgeguard");
    std::fs::create_dir_all(&dir)?;
    std::fs::copy(&wasm, dir.join("plugin.wasm"))?;
    std::fs::copy(&manifest, dir.join(".traefik.yml"))?;

    // The catalog expects a zip with `.traefik.yml` and the wasm at its root.
    let zip_path = root.join("target/edgeguard-plugin.zip");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&zip_path)?);
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for name in [".traefik.yml", "plugin.wasm"] {
        zip.start_file(name, options)?;
        zip.write_all(&std::fs::read(dir.join(name))?)?;
    }
    zip.finish()?;
    println!("plugin: {} ({size} bytes), {}", dir.display(), zip_path.display());
    Ok(dir)
}
