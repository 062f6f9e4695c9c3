//! `cargo xtask dist`: the release artifacts in `target/dist/` (docs/release.md).
//!
//! - `edgeguard-plugin.zip`: the Traefik plugin-catalog zip from
//!   [`plugin::build`](crate::plugin::build), checked to hold exactly
//!   `.traefik.yml` (runtime wasm, a non-empty `testData`) and `plugin.wasm`
//!   at its root;
//! - `edgeguard-plugin-configmap.yaml`: the same plugin as a Kubernetes
//!   ConfigMap ([`k8s::plugin_configmap`]);
//! - `edgeguard-x86_64-linux-musl`: the native CLI, statically linked against
//!   musl; `edgeguard-x86_64-linux-gnu` (glibc, dynamic) only when the musl
//!   target cannot be installed or built, said loudly and in `BUILD-INFO.txt`;
//! - `<artifact>.sha256` next to each artifact and a combined `SHA256SUMS`,
//!   both in `sha256sum` format (`sha256sum -c SHA256SUMS` checks them).

use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, ensure};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use sha2::{Digest, Sha256};

use crate::{cmd, k8s};

const DIST: &str = "target/dist";
/// Written by `plugin::build`.
const PLUGIN_ZIP: &str = "target/edgeguard-plugin.zip";
const ZIP_NAME: &str = "edgeguard-plugin.zip";
const CONFIGMAP_NAME: &str = "edgeguard-plugin-configmap.yaml";
const MUSL_TARGET: &str = "x86_64-unknown-linux-musl";
/// What the catalog zip holds, at its root, and nothing else.
const ZIP_ENTRIES: [&str; 2] = [".traefik.yml", "plugin.wasm"];
const WASM_MAGIC: &[u8] = b"\0asm";

/// How the native binary was built.
struct Native {
    /// The file as built by cargo.
    built: PathBuf,
    /// The artifact name in `target/dist`.
    name: &'static str,
    target: &'static str,
    libc: &'static str,
    /// Why musl was not used, when it was not.
    fallback: Option<String>,
}

/// `cargo xtask dist`.
pub fn run(root: &Path) -> Result<()> {
    ensure!(
        std::env::consts::OS == "linux" && std::env::consts::ARCH == "x86_64",
        "cargo xtask dist builds the x86_64 Linux binary and must run on x86_64 Linux (this is {} {})",
        std::env::consts::ARCH,
        std::env::consts::OS
    );
    let dist = root.join(DIST);
    // A fresh directory: no musl binary left over next to a glibc one.
    match std::fs::remove_dir_all(&dist) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(e).with_context(|| format!("clearing {}", dist.display()));
        }
        _ => {}
    }
    std::fs::create_dir_all(&dist)?;

    println!("==> plugin, catalog zip and ConfigMap");
    // Builds the plugin (plugin::build, which writes the zip) and the ConfigMap from it.
    let configmap = std::fs::read_to_string(k8s::plugin_configmap(root)?)?;
    let zip = std::fs::read(root.join(PLUGIN_ZIP)).with_context(|| format!("{PLUGIN_ZIP} missing"))?;
    let catalog = check_catalog_zip(&zip).context(PLUGIN_ZIP)?;
    ensure!(
        configmap_wasm(&configmap)? == catalog.wasm,
        "the ConfigMap's plugin.wasm differs from the catalog zip's"
    );
    std::fs::write(dist.join(ZIP_NAME), &zip)?;
    std::fs::write(dist.join(CONFIGMAP_NAME), &configmap)?;

    println!("\n==> native edgeguard CLI for x86_64 Linux");
    let native = native_binary(root)?;
    let bin = dist.join(native.name);
    std::fs::copy(&native.built, &bin)?;
    let linkage = verify_native(root, &native, &bin, &catalog.test_data)?;

    let artifacts = [ZIP_NAME, CONFIGMAP_NAME, native.name];
    let mut sums = String::new();
    let mut rows = Vec::new();
    for name in artifacts {
        let bytes = std::fs::read(dist.join(name))?;
        let line = sha256_line(&bytes, name);
        std::fs::write(dist.join(format!("{name}.sha256")), &line)?;
        sums.push_str(&line);
        rows.push((name, bytes.len(), line[..64].to_string()));
    }
    std::fs::write(dist.join("SHA256SUMS"), &sums)?;
    std::fs::write(dist.join("BUILD-INFO.txt"), build_info(root, &native, &linkage))?;

    println!("\n{}", table(&rows));
    println!("in {}: each with a .sha256, plus SHA256SUMS and BUILD-INFO.txt", dist.display());
    if let Some(reason) = &native.fallback {
        println!("\n{}", fallback_banner(reason));
    }
    Ok(())
}

/// One `sha256sum` line: the lowercase hex digest, two spaces (text mode), the name.
pub fn sha256_line(bytes: &[u8], name: &str) -> String {
    format!("{}  {name}\n", sha256_hex(bytes))
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// What dist needs from a checked catalog zip.
#[derive(Debug)]
pub struct CatalogZip {
    pub wasm: Vec<u8>,
    /// `.traefik.yml`'s `testData`, as JSON (the shape `edgeguard check` reads).
    pub test_data: serde_json::Value,
}

/// The catalog's layout: exactly `.traefik.yml` and `plugin.wasm` at the
/// root; the manifest declares `runtime: wasm`, `wasmPath: plugin.wasm` and a
/// non-empty `testData` mapping; the wasm is a wasm module.
pub fn check_catalog_zip(bytes: &[u8]) -> Result<CatalogZip> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).context("not a zip archive")?;
    let mut names: Vec<String> =
        archive.file_names().map(|n| n.map(String::from)).collect::<Result<_, _>>().context("entry names")?;
    names.sort();
    ensure!(
        names == ZIP_ENTRIES,
        "the catalog zip must hold exactly {ZIP_ENTRIES:?} at its root, found {names:?}"
    );
    let mut read = |name: &str| -> Result<Vec<u8>> {
        let mut entry = archive.by_name(name)?;
        ensure!(entry.is_file(), "{name} is not a regular file");
        let mut out = Vec::new();
        entry.read_to_end(&mut out).with_context(|| format!("reading {name}"))?;
        Ok(out)
    };
    let manifest_text = String::from_utf8(read(".traefik.yml")?).context(".traefik.yml is not UTF-8")?;
    let wasm = read("plugin.wasm")?;
    ensure!(wasm.starts_with(WASM_MAGIC), "plugin.wasm is not a wasm module (no \\0asm magic)");

    let manifest: serde_json::Value =
        serde_norway::from_str(&manifest_text).context(".traefik.yml is not valid YAML")?;
    let field = |key: &str| manifest.get(key).and_then(serde_json::Value::as_str);
    ensure!(
        field("runtime") == Some("wasm"),
        ".traefik.yml: `runtime` must be `wasm`, is {:?}",
        field("runtime")
    );
    ensure!(
        field("wasmPath") == Some("plugin.wasm"),
        ".traefik.yml: `wasmPath` must be `plugin.wasm`, is {:?}",
        field("wasmPath")
    );
    let test_data = manifest.get("testData").cloned().unwrap_or_default();
    ensure!(
        test_data.as_object().is_some_and(|m| !m.is_empty()),
        ".traefik.yml: `testData` must be a non-empty mapping (the catalog loads the plugin with it), is {test_data}"
    );
    Ok(CatalogZip { wasm, test_data })
}

/// The `plugin.wasm` bytes in the ConfigMap manifest's `binaryData`.
pub fn configmap_wasm(yaml: &str) -> Result<Vec<u8>> {
    #[derive(serde::Deserialize)]
    struct ConfigMap {
        #[serde(rename = "binaryData")]
        binary_data: std::collections::BTreeMap<String, String>,
    }
    let manifest: ConfigMap =
        serde_norway::from_str(yaml).context("the ConfigMap manifest is not a ConfigMap")?;
    let b64 =
        manifest.binary_data.get("plugin.wasm").context("the ConfigMap has no binaryData plugin.wasm")?;
    BASE64.decode(b64.trim()).context("the ConfigMap's plugin.wasm is not base64")
}

/// Static musl when the target can be installed and built, glibc otherwise.
fn native_binary(root: &Path) -> Result<Native> {
    match build_musl(root) {
        Ok(built) => Ok(Native {
            built,
            name: "edgeguard-x86_64-linux-musl",
            target: MUSL_TARGET,
            libc: "musl (statically linked)",
            fallback: None,
        }),
        Err(musl_err) => {
            let reason = format!("{musl_err:#}");
            eprintln!("\n{}\n", fallback_banner(&reason));
            cmd::run(root, "cargo", &["build", "--release", "--bin", "edgeguard"], &[]).with_context(
                || format!("the glibc build failed too (the musl build failed first: {reason})"),
            )?;
            Ok(Native {
                built: root.join("target/release/edgeguard"),
                name: "edgeguard-x86_64-linux-gnu",
                target: "x86_64-unknown-linux-gnu",
                libc: "glibc (dynamically linked; needs a glibc at least as new as the build host's)",
                fallback: Some(reason),
            })
        }
    }
}

fn build_musl(root: &Path) -> Result<PathBuf> {
    let installed = cmd::output(root, "rustup", &["target", "list", "--installed"])
        .context("cannot list the installed rustup targets")?;
    if !installed.lines().any(|l| l.trim() == MUSL_TARGET) {
        cmd::run(root, "rustup", &["target", "add", MUSL_TARGET], &[])
            .with_context(|| format!("cannot install the {MUSL_TARGET} target"))?;
    }
    // Rust's musl target brings its own libc and start files and the host `cc`
    // links them; the one C dependency (mimalloc, the native global allocator)
    // is compiled with `musl-gcc` from Debian's `musl-tools`.
    if !crate::load::on_path("musl-gcc") {
        crate::load::apt_install(&["musl-tools"]).context("musl-gcc is missing")?;
    }
    cmd::run(root, "cargo", &["build", "--release", "--target", MUSL_TARGET, "--bin", "edgeguard"], &[])
        .with_context(|| format!("cannot build for {MUSL_TARGET}"))?;
    Ok(root.join("target").join(MUSL_TARGET).join("release/edgeguard"))
}

fn fallback_banner(reason: &str) -> String {
    let bar = "!".repeat(78);
    format!(
        "{bar}\n!! WARNING: NOT A STATIC BINARY. The {MUSL_TARGET} build failed:\n!!   {reason}\n\
         !! Fell back to glibc: edgeguard-x86_64-linux-gnu is dynamically linked and needs a\n\
         !! glibc at least as new as this host's. It will not run on Alpine/musl or distroless-static.\n{bar}"
    )
}

/// Runs the copied binary (`--version`, and `check` on the catalog testData)
/// and, for musl, requires a static ELF. Returns a one-line linkage summary.
fn verify_native(root: &Path, native: &Native, bin: &Path, test_data: &serde_json::Value) -> Result<String> {
    let bin_str = bin.to_str().context("non-UTF-8 path")?;
    let version = cmd::output(root, bin_str, &["--version"])?;
    ensure!(version.starts_with("edgeguard "), "`{} --version` printed {version:?}", native.name);
    println!("{}: {}", native.name, version.trim());

    let config = root.join("target/tmp/dist/testData.json");
    std::fs::create_dir_all(config.parent().context("has a parent")?)?;
    std::fs::write(&config, serde_json::to_string_pretty(test_data)?)?;
    let checked = cmd::output(root, bin_str, &["check", "--config", config.to_str().context("non-UTF-8")?])
        .context("EdgeGuard refuses the .traefik.yml testData")?;
    println!("{}: .traefik.yml testData: {}", native.name, checked.trim());

    let linkage = elf_linkage(&std::fs::read(bin)?)?;
    let summary = match (&linkage.interpreter, linkage.needed) {
        (None, 0) => "static (no PT_INTERP, no DT_NEEDED)".to_string(),
        (interp, needed) => format!(
            "dynamic (interpreter {}, {needed} DT_NEEDED libraries)",
            interp.as_deref().unwrap_or("none")
        ),
    };
    if native.fallback.is_none() {
        ensure!(linkage.is_static(), "the {MUSL_TARGET} build is not static: {summary}");
    }
    println!("{}: {summary}", native.name);
    Ok(summary)
}

/// What makes an ELF executable depend on a dynamic loader.
#[derive(Debug, PartialEq)]
pub struct ElfLinkage {
    /// The `PT_INTERP` path (the dynamic loader), if any.
    pub interpreter: Option<String>,
    /// How many `DT_NEEDED` (shared library) entries `PT_DYNAMIC` has. A
    /// static-pie keeps a `PT_DYNAMIC` for self-relocation, but needs none.
    pub needed: usize,
}

impl ElfLinkage {
    pub fn is_static(&self) -> bool {
        self.interpreter.is_none() && self.needed == 0
    }
}

/// Reads the program headers of a 64-bit ELF file.
pub fn elf_linkage(elf: &[u8]) -> Result<ElfLinkage> {
    use object::elf::{DT_NEEDED, DT_NULL, FileHeader64};
    use object::read::elf::{Dyn as _, FileHeader as _, ProgramHeader as _};

    let header = FileHeader64::<object::Endianness>::parse(elf).context("not a 64-bit ELF file")?;
    let endian = header.endian()?;
    let mut linkage = ElfLinkage { interpreter: None, needed: 0 };
    for segment in header.program_headers(endian, elf)? {
        if let Some(path) = segment.interpreter(endian, elf)? {
            linkage.interpreter = Some(String::from_utf8_lossy(path).into_owned());
        }
        if let Some(entries) = segment.dynamic(endian, elf)? {
            let tags = entries.iter().map(|entry| entry.d_tag(endian)).take_while(|&tag| tag != DT_NULL);
            linkage.needed += tags.filter(|&tag| tag == DT_NEEDED).count();
        }
    }
    Ok(linkage)
}

fn build_info(root: &Path, native: &Native, linkage: &str) -> String {
    let probe = |program: &str, args: &[&str]| {
        cmd::output(root, program, args)
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|e| format!("unknown ({e})"))
    };
    let mut out = String::new();
    if let Some(reason) = &native.fallback {
        out.push_str(&fallback_banner(reason));
        out.push_str("\n\n");
    }
    out.push_str(&format!(
        "EdgeGuard release artifacts, written by `cargo xtask dist` (docs/release.md).\n\n\
         commit:  {}\n\
         rustc:   {}\n\
         binary:  {}\n\
         target:  {}\n\
         libc:    {}\n\
         linkage: {linkage}\n",
        probe("git", &["describe", "--always", "--dirty", "--abbrev=12"]),
        probe("rustc", &["--version"]),
        native.name,
        native.target,
        native.libc,
    ));
    if native.fallback.is_some() {
        let ldd = probe("ldd", &["--version"]);
        out.push_str(&format!("build host glibc: {}\n", ldd.lines().next().unwrap_or_default()));
    } else {
        out.push_str(
            "\nStatic musl: one file that runs on any x86_64 Linux (glibc or musl distributions,\n\
             scratch and distroless-static images), with no dependency on the host's libc.\n",
        );
    }
    out.push_str(
        "\nedgeguard-plugin.zip: the Traefik plugin-catalog asset (.traefik.yml + plugin.wasm).\n\
         edgeguard-plugin-configmap.yaml: kubectl apply --server-side -f edgeguard-plugin-configmap.yaml\n\
         Check the files: sha256sum -c SHA256SUMS\n",
    );
    out
}

fn table(rows: &[(&str, usize, String)]) -> String {
    let width = rows.iter().map(|(name, ..)| name.len()).max().unwrap_or(0).max("artifact".len());
    let mut out = format!("{:<width$}  {:>21}  sha256\n", "artifact", "size");
    for (name, size, hex) in rows {
        let human = if *size >= 1024 * 1024 {
            format!("{:.1} MiB", *size as f64 / (1024.0 * 1024.0))
        } else {
            format!("{:.1} KiB", *size as f64 / 1024.0)
        };
        let size = format!("{size} ({human})");
        out.push_str(&format!("{name:<width$}  {size:>21}  {}…\n", &hex[..16]));
    }
    out
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    const WASM: &[u8] = b"\0asm\x01\0\0\0";
    const MANIFEST: &str = "displayName: X\ntype: middleware\nruntime: wasm\nwasmPath: plugin.wasm\n\
                            testData:\n  clientIp:\n    trustedProxies: [private]\n";

    fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options =
            zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        for (name, bytes) in entries {
            if let Some(dir) = name.strip_suffix('/') {
                zip.add_directory(dir, options).unwrap();
            } else {
                zip.start_file(*name, options).unwrap();
                zip.write_all(bytes).unwrap();
            }
        }
        zip.finish().unwrap().into_inner()
    }

    fn check_err(entries: &[(&str, &[u8])]) -> String {
        format!("{:#}", check_catalog_zip(&zip_of(entries)).unwrap_err())
    }

    #[test]
    fn sha256_file_is_in_sha256sum_format() {
        assert_eq!(
            sha256_line(b"abc", "edgeguard-plugin.zip"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  edgeguard-plugin.zip\n"
        );
        assert_eq!(
            sha256_line(b"", "empty"),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855  empty\n"
        );
        // Lowercase hex, exactly two spaces (text mode), one trailing newline:
        // the combined SHA256SUMS is the lines concatenated.
        let line = sha256_line(&[0xff; 1000], "edgeguard-x86_64-linux-musl");
        let (hex, rest) = line.split_at(64);
        assert!(hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)), "{line}");
        assert_eq!(rest, "  edgeguard-x86_64-linux-musl\n");
    }

    #[test]
    fn catalog_zip_with_the_two_root_entries_passes() {
        // Order inside the zip does not matter.
        for entries in [
            [(".traefik.yml", MANIFEST.as_bytes()), ("plugin.wasm", WASM)],
            [("plugin.wasm", WASM), (".traefik.yml", MANIFEST.as_bytes())],
        ] {
            let zip = check_catalog_zip(&zip_of(&entries)).unwrap();
            assert_eq!(zip.wasm, WASM);
            assert_eq!(zip.test_data, serde_json::json!({"clientIp": {"trustedProxies": ["private"]}}));
        }
    }

    #[test]
    fn committed_manifest_passes_the_catalog_check() {
        let manifest = std::fs::read(crate::root().join("traefik-config/plugin/.traefik.yml")).unwrap();
        let zip = check_catalog_zip(&zip_of(&[(".traefik.yml", &manifest), ("plugin.wasm", WASM)])).unwrap();
        assert!(zip.test_data.get("clientIp").is_some(), "{}", zip.test_data);
    }

    #[test]
    fn catalog_zip_with_other_entries_is_refused() {
        let m = MANIFEST.as_bytes();
        for entries in [
            &[(".traefik.yml", m)][..],
            &[("plugin.wasm", WASM)],
            &[(".traefik.yml", m), ("plugin.wasm", WASM), ("README.md", b"x")],
            &[("edgeguard/.traefik.yml", m), ("edgeguard/plugin.wasm", WASM)],
            &[("edgeguard/", b""), (".traefik.yml", m), ("plugin.wasm", WASM)],
            &[(".traefik.yml", m), ("edgeguard.wasm", WASM)],
        ] {
            let err = check_err(entries);
            assert!(
                err.contains("must hold exactly [\".traefik.yml\", \"plugin.wasm\"] at its root"),
                "{err}"
            );
        }
        assert!(check_catalog_zip(b"not a zip").is_err());
    }

    #[test]
    fn catalog_manifest_needs_wasm_runtime_and_test_data() {
        let with =
            |manifest: &str| check_err(&[(".traefik.yml", manifest.as_bytes()), ("plugin.wasm", WASM)]);
        let err = with(&MANIFEST.replace("runtime: wasm", "runtime: yaegi"));
        assert!(err.contains("`runtime` must be `wasm`"), "{err}");
        let err = with(&MANIFEST.replace("runtime: wasm\n", ""));
        assert!(err.contains("`runtime` must be `wasm`, is None"), "{err}");
        let err = with(&MANIFEST.replace("wasmPath: plugin.wasm", "wasmPath: other.wasm"));
        assert!(err.contains("`wasmPath` must be `plugin.wasm`"), "{err}");
        let no_test_data = MANIFEST.split("testData:").next().unwrap();
        for manifest in [
            no_test_data.to_string(),
            format!("{no_test_data}testData:\n"),
            format!("{no_test_data}testData: {{}}\n"),
        ] {
            let err = with(&manifest);
            assert!(err.contains("`testData` must be a non-empty mapping"), "{manifest}: {err}");
        }
        let err = check_err(&[(".traefik.yml", MANIFEST.as_bytes()), ("plugin.wasm", b"MZ not wasm")]);
        assert!(err.contains("not a wasm module"), "{err}");
    }

    #[test]
    fn configmap_wasm_decodes_binary_data() {
        let yaml = k8s::configmap_yaml("x", "h", &[(".traefik.yml", b"m"), ("plugin.wasm", WASM)]);
        assert_eq!(configmap_wasm(&yaml).unwrap(), WASM);
    }

    /// A minimal ELF64 LE image: header, program headers, then their payloads.
    fn elf(segments: &[(u32, Vec<u8>)]) -> Vec<u8> {
        let mut out = vec![0u8; 64];
        out[..7].copy_from_slice(b"\x7fELF\x02\x01\x01"); // ELF64, little-endian, version 1
        out[0x20..0x28].copy_from_slice(&64u64.to_le_bytes());
        out[0x36..0x38].copy_from_slice(&56u16.to_le_bytes());
        out[0x38..0x3a].copy_from_slice(&(segments.len() as u16).to_le_bytes());
        let mut payload_at = 64 + 56 * segments.len();
        let mut payloads = Vec::new();
        for (kind, payload) in segments {
            let mut ph = vec![0u8; 56];
            ph[..4].copy_from_slice(&kind.to_le_bytes());
            ph[8..16].copy_from_slice(&(payload_at as u64).to_le_bytes());
            ph[32..40].copy_from_slice(&(payload.len() as u64).to_le_bytes());
            out.extend(ph);
            payloads.extend_from_slice(payload);
            payload_at += payload.len();
        }
        out.extend(payloads);
        out
    }

    fn dynamic(tags: &[u64]) -> Vec<u8> {
        tags.iter().flat_map(|t| [t.to_le_bytes(), 7u64.to_le_bytes()].concat()).collect()
    }

    #[test]
    fn elf_linkage_finds_interpreter_and_needed_libraries() {
        // A static-pie: PT_DYNAMIC for relocations, no DT_NEEDED, no PT_INTERP.
        let static_pie = elf_linkage(&elf(&[(1, vec![]), (2, dynamic(&[7, 0x6fff_fffb, 0, 1]))])).unwrap();
        assert_eq!(static_pie, ElfLinkage { interpreter: None, needed: 0 });
        assert!(static_pie.is_static());
        assert!(elf_linkage(&elf(&[])).unwrap().is_static());

        let dynamic_exe =
            elf_linkage(&elf(&[(3, b"/lib64/ld-linux-x86-64.so.2\0".to_vec()), (2, dynamic(&[1, 1, 5, 0]))]))
                .unwrap();
        assert_eq!(dynamic_exe.interpreter.as_deref(), Some("/lib64/ld-linux-x86-64.so.2"));
        assert_eq!(dynamic_exe.needed, 2);
        assert!(!dynamic_exe.is_static());

        // This test binary itself: a glibc executable with a loader.
        let own = elf_linkage(&std::fs::read(std::env::current_exe().unwrap()).unwrap()).unwrap();
        assert!(!own.is_static(), "{own:?}");

        assert!(elf_linkage(b"#!/bin/sh\n").is_err());
        assert!(elf_linkage(&elf(&[(3, b"/lib/ld.so".to_vec())])[..100]).is_err(), "truncated");
    }

    #[test]
    fn table_lists_size_and_hash_prefix() {
        let hex = sha256_hex(b"abc");
        let out = table(&[("edgeguard-plugin.zip", 450_000, hex), ("b", 2_300_000, "0".repeat(64))]);
        assert!(out.contains("edgeguard-plugin.zip     450000 (439.5 KiB)  ba7816bf8f01cfea…\n"), "{out}");
        assert!(out.contains("2300000 (2.2 MiB)"), "{out}");
    }
}
