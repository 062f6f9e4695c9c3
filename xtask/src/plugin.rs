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
///
/// Binaryen's lowering calls two helpers that copy and fill one byte per
/// iteration, which cost the plugin a third of its wasm instructions per
/// request (wasmtime fuel, Zipf mix: 110k, of which the helpers' loops 34k)
/// and 58% of its init. No binaryen option does better, so the helpers are
/// found in the disassembly, by comparing with binaryen's lowering of a probe
/// module, and replaced with `xtask/wasm/memory-copy-fill.wat` (8 bytes per
/// iteration; `cargo xtask test` checks it against a model) before the text
/// is assembled again.
pub fn lower_bulk_memory(root: &Path, input: &Path, output: &Path) -> Result<()> {
    let wasm_opt = tools::wasm_opt(root)?;
    let bin = |name: &str| wasm_opt.with_file_name(name).to_string_lossy().into_owned();
    let (wasm_opt, wasm_dis, wasm_as) = (bin("wasm-opt"), bin("wasm-dis"), bin("wasm-as"));
    let tmp = root.join("target/tmp/lowering");
    std::fs::create_dir_all(&tmp)?;
    let path = |name: &str| tmp.join(name).to_string_lossy().into_owned();
    let input = input.to_str().context("non-UTF-8 path")?;
    let output = output.to_str().context("non-UTF-8 path")?;
    let lower = |from: &str, to: &str| -> Result<()> {
        let mut args = vec!["--enable-bulk-memory"];
        args.extend(FEATURES);
        args.extend(["--llvm-memory-copy-fill-lowering", from, "-o", to]);
        cmd::run(root, &wasm_opt, &args, &[])
    };
    // What binaryen generates, learnt from a probe module: its helpers are
    // what to look for in the plugin (and the check fails loudly if a new
    // binaryen writes them differently).
    std::fs::write(path("probe.wat"), LOWERING_PROBE)?;
    cmd::run(root, &wasm_as, &["--enable-bulk-memory", &path("probe.wat"), "-o", &path("probe.wasm")], &[])?;
    lower(&path("probe.wasm"), &path("probe.lowered.wasm"))?;
    cmd::run(root, &wasm_dis, &[&path("probe.lowered.wasm"), "-o", &path("probe.lowered.wat")], &[])?;
    let probe = std::fs::read_to_string(path("probe.lowered.wat"))?;
    let generated: Vec<&str> = functions(&probe).into_iter().skip(1).map(|(_, body)| body).collect();
    // Told apart by what they do, not by the order binaryen adds them in:
    // only the copy loads.
    let (copy, fill) = match generated[..] {
        [a, b] if a.contains("i32.load8_u") && !b.contains("i32.load8_u") => (a, b),
        [a, b] if b.contains("i32.load8_u") && !a.contains("i32.load8_u") => (b, a),
        _ => bail!(
            "binaryen's lowering of the probe added {} functions, not a copy and a fill",
            generated.len()
        ),
    };
    // Ours, printed by binaryen too so the text has the same layout (`-g` keeps the names).
    let ours_wat = root.join("xtask/wasm/memory-copy-fill.wat").to_string_lossy().into_owned();
    cmd::run(root, &wasm_as, &["-g", &ours_wat, "-o", &path("ours.wasm")], &[])?;
    cmd::run(root, &wasm_dis, &[&path("ours.wasm"), "-o", &path("ours.wat")], &[])?;
    let ours_text = std::fs::read_to_string(path("ours.wat"))?;
    let ours = functions(&ours_text);
    let find = |name: &str| ours.iter().find(|(n, _)| *n == name).map(|(_, body)| *body);
    let (Some(our_copy), Some(our_fill)) = (find("$copy"), find("$fill")) else {
        bail!("xtask/wasm/memory-copy-fill.wat lacks $copy or $fill");
    };

    cmd::run(root, &wasm_dis, &[input, "-o", &path("plugin.wat")], &[])?;
    let before = functions(&std::fs::read_to_string(path("plugin.wat"))?).len();
    lower(input, &path("plugin.lowered.wasm"))?;
    cmd::run(root, &wasm_dis, &[&path("plugin.lowered.wasm"), "-o", &path("plugin.lowered.wat")], &[])?;
    let text = std::fs::read_to_string(path("plugin.lowered.wat"))?;
    let added = functions(&text).len().saturating_sub(before);
    let mut replaced = 0;
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    for (_, body) in functions(&text) {
        let with = match body {
            b if b == copy => our_copy,
            b if b == fill => our_fill,
            _ => continue,
        };
        // `body` is a slice of `text`: copy what precedes it, then the replacement.
        let at = body.as_ptr() as usize - rest.as_ptr() as usize;
        out.push_str(&rest[..at]);
        out.push_str(with);
        rest = &rest[at + body.len()..];
        replaced += 1;
    }
    out.push_str(rest);
    // Every function the lowering added is one of its helpers, and each must
    // have been replaced: a helper left behind would still work, only slowly.
    if replaced != added {
        bail!("the lowering added {added} functions to the plugin and {replaced} matched binaryen's helpers");
    }
    std::fs::write(path("plugin.fast.wat"), out)?;
    let fast = path("plugin.fast.wat");
    let mut args = FEATURES.to_vec();
    args.extend([fast.as_str(), "-o", output]);
    cmd::run(root, &wasm_as, &args, &[])?;
    // Validation with bulk memory off fails if any instruction was left.
    let mut check = vec!["--mvp-features"];
    check.extend(FEATURES);
    check.extend([output, "-o", "/dev/null"]);
    cmd::run(root, &wasm_opt, &check, &[]).context("bulk-memory instructions left after lowering")
}

/// Runs `xtask/wasm/check_memory_copy_fill.py` on the replacements (wasmtime must be installed).
pub fn check_copy_fill(root: &Path) -> Result<()> {
    let wasm_as = tools::wasm_opt(root)?.with_file_name("wasm-as");
    let wasm = root.join("target/tmp/lowering/memory-copy-fill.wasm");
    std::fs::create_dir_all(wasm.parent().context("dir")?)?;
    let args = [root.join("xtask/wasm/memory-copy-fill.wat"), "-o".into(), wasm.clone()];
    let args: Vec<&str> = args.iter().map(|p| p.to_str().unwrap_or_default()).collect();
    cmd::run(root, wasm_as.to_str().context("non-UTF-8 path")?, &args, &[])?;
    let check = root.join("xtask/wasm/check_memory_copy_fill.py");
    cmd::run(root, "python3", &[check.to_str().context("path")?, wasm.to_str().context("path")?], &[])
}

/// A module with one `memory.copy` and one `memory.fill`, in that order.
const LOWERING_PROBE: &str = r#"(module
 (memory 1)
 (func (export "f") (param i32 i32 i32)
  (memory.copy (local.get 0) (local.get 1) (local.get 2))
  (memory.fill (local.get 0) (local.get 1) (local.get 2))))
"#;

/// The functions of a module printed by `wasm-dis` (or written like it: one
/// top-level item per line at one space of indentation): each one's name and
/// its text after the name, up to its closing parenthesis.
fn functions(wat: &str) -> Vec<(&str, &str)> {
    let mut out = Vec::new();
    let mut offset = 0;
    let mut start: Option<(&str, usize)> = None;
    for line in wat.split_inclusive('\n') {
        let top_level = line.starts_with(" (") || line.starts_with(" )") || line == ")\n" || line == ")";
        if top_level && let Some((name, from)) = start.take() {
            out.push((name, wat[from..offset].trim_end()));
        }
        if let Some(after) = line.strip_prefix(" (func ") {
            let name = after.split_whitespace().next().unwrap_or("");
            start = Some((name, offset + " (func ".len() + name.len()));
        }
        offset += line.len();
    }
    out
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
