//! `cargo xtask plugin`: the release wasm, laid out for Traefik's local
//! plugins and zipped for the plugin catalog.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::{cmd, tools};

/// ConfigMaps (one delivery path into Kubernetes) cap at 1 MiB.
const MAX_WASM_BYTES: u64 = 1024 * 1024;

/// The wasm features rustc's wasm32-wasip1 emits, bulk memory aside.
const FEATURES: [&str; 5] = [
    "--enable-sign-ext",
    "--enable-mutable-globals",
    "--enable-nontrapping-float-to-int",
    "--enable-multivalue",
    "--enable-reference-types",
];

/// Rewrites `memory.copy` and `memory.fill` in `input` as plain loops
/// (binaryen's `--llvm-memory-copy-fill-lowering`), writing `output`, and
/// checks that no bulk-memory instruction is left.
///
/// Why: Traefik 3.7.15's wasm runtime gets them wrong once linear memory
/// has grown. Measured there: `vec![1u8; 300_000]` (one `memory.fill`) left
/// all but 4096 bytes zero, and copying a 2.3 KiB `X-Forwarded-For` into a
/// fresh allocation trapped with "out of bounds memory access", after which
/// the instance answered every request with "unreachable". The same binary
/// is correct in wasmtime, and lowered it is correct in Traefik (issue #13's
/// 260- and 900-hop chains). Rust's std and wasi-libc are prebuilt with bulk
/// memory, so a `target-feature` flag cannot remove them; the lowering can.
pub fn lower_bulk_memory(root: &Path, input: &Path, output: &Path) -> Result<()> {
    let wasm_opt = tools::wasm_opt(root)?;
    let (input, output) =
        (input.to_str().context("non-UTF-8 path")?, output.to_str().context("non-UTF-8 path")?);
    let mut args = vec!["--enable-bulk-memory"];
    args.extend(FEATURES);
    args.extend(["--llvm-memory-copy-fill-lowering", input, "-o", output]);
    cmd::run(root, wasm_opt.to_str().context("non-UTF-8 path")?, &args, &[])?;
    // Validation with bulk memory off fails if any instruction was left.
    let mut check = vec!["--mvp-features"];
    check.extend(FEATURES);
    check.extend([output, "-o", "/dev/null"]);
    cmd::run(root, wasm_opt.to_str().context("non-UTF-8 path")?, &check, &[])
        .context("bulk-memory instructions left after lowering")
}

/// Builds the plugin; returns `target/plugins-local/src/edgeguard`.
pub fn build(root: &Path) -> Result<PathBuf> {
    tools::wasm_target(root)?;
    cmd::run(
        root,
        "cargo",
        &["build", "--quiet", "--profile", "plugin", "--target", tools::WASM_TARGET, "--bin", "edgeguard"],
        &[],
    )?;
    let built = root.join("target").join(tools::WASM_TARGET).join("plugin/edgeguard.wasm");
    let wasm = root.join("target").join(tools::WASM_TARGET).join("plugin/edgeguard.lowered.wasm");
    lower_bulk_memory(root, &built, &wasm)?;
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
