//! `cargo xtask compat`: the end-to-end suite against several pinned Traefik
//! releases, as a pass/fail table (printed and written to target/compat.md).

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::{plugin, tools};

/// 3.2.2 is the first release whose `settings.mounts` works; then the latest
/// patch of 3.4 and 3.6 on PyPI, and the release the suite pins.
pub const VERSIONS: &[&str] = &["3.2.2", "3.4.3", "3.6.15", tools::TRAEFIK_VERSION];

/// Runs the end-to-end tests against `version`; returns `(passed, failed, failing test names)`.
pub fn e2e(root: &Path, version: &str) -> Result<(u32, u32, Vec<String>)> {
    let traefik = tools::traefik(root, version)?;
    let traefik = traefik.to_str().context("non-UTF-8 path")?;
    println!("$ EDGEGUARD_TRAEFIK={traefik} cargo test --features e2e --test e2e");
    let out = Command::new("cargo")
        .args(["test", "--quiet", "--features", "e2e", "--test", "e2e", "--", "--test-threads", "2"])
        .env("EDGEGUARD_TRAEFIK", traefik)
        .current_dir(root)
        .output()
        .context("running cargo test")?;
    let text = String::from_utf8_lossy(&out.stdout);
    // "test result: ok. 21 passed; 0 failed; ..." -> the number before the label.
    let count = |label: &str| {
        text.lines()
            .filter(|l| l.starts_with("test result:"))
            .filter_map(|l| {
                let words: Vec<&str> = l.split_whitespace().collect();
                let at = words.iter().position(|w| w.trim_end_matches(';') == label)?;
                words.get(at.checked_sub(1)?)?.parse::<u32>().ok()
            })
            .sum::<u32>()
    };
    let failing = text
        .lines()
        .filter_map(|l| l.strip_prefix("test ").and_then(|l| l.strip_suffix(" ... FAILED")))
        .map(str::to_string)
        .collect();
    if count("passed") + count("failed") == 0 {
        bail!(
            "no test result from the e2e suite against Traefik {version}:\n{text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok((count("passed"), count("failed"), failing))
}

pub fn run(root: &Path) -> Result<()> {
    plugin::build(root)?;
    let mut md = String::from("| Traefik | e2e passed | e2e failed | verdict |\n|---|---|---|---|\n");
    let mut failures = String::new();
    for version in VERSIONS {
        let (passed, failed, failing) = e2e(root, version)?;
        let verdict = if failed == 0 { "pass" } else { "FAIL" };
        writeln!(md, "| {version} | {passed} | {failed} | {verdict} |")?;
        for name in failing {
            writeln!(failures, "- {version}: {name}")?;
        }
    }
    if !failures.is_empty() {
        md.push_str("\nFailing tests:\n");
        md.push_str(&failures);
    }
    print!("\n{md}");
    std::fs::write(root.join("target/compat.md"), &md)?;
    println!("written to {}", root.join("target/compat.md").display());
    Ok(())
}
