//! The native command line: thin wrappers over the library.

mod check;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::SystemTime;

use clap::{Parser, Subcommand};
use edgeguard::{Config, Decision, HeaderEdit, OwnedRequest, Pipeline};

const EXAMPLES: &str = "\
Examples:
  edgeguard check traefik-config/manifests/middleware.yaml
  kubectl kustomize traefik-config/eks | edgeguard check - traefik-config/eks/values.yaml
  edgeguard explain --config traefik-config/local/dynamic.yml --peer 127.0.0.2:4000 -H 'X-Forwarded-For: 203.0.113.10'
  edgeguard lookup --db testdata/geo/GeoLite2-City-Test.mmdb 203.0.113.10
  edgeguard serve --config traefik-config/sidecar/edgeguard.yaml --access-log

Exit status: 0 success, 1 invalid config (or a failed command), 2 usage error or unreadable file.";

#[derive(Parser)]
#[command(name = "edgeguard", version, about = "Trustworthy client identity at the edge", after_help = EXAMPLES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate the files you deploy: plugin or sidecar configs, Traefik dynamic
    /// files, Middleware manifests, `kubectl kustomize` output, Helm values.
    ///
    /// Every EdgeGuard block is reported by file, document, line and column.
    /// Offline (the default for Traefik inputs, whose paths are guest paths
    /// behind settings.mounts) files and secrets are not read; each becomes a
    /// warning naming the settings.mounts / settings.envs entry it needs,
    /// unless a checked Helm values or static config file declares it.
    /// Online (the default for plain configs, read by `edgeguard serve` on
    /// this host) they are read. Exit: 0 valid, 1 invalid, 2 usage.
    #[command(
        after_help = "Examples:\n  edgeguard check traefik-config/local/dynamic.yml\n  kubectl kustomize traefik-config/eks | edgeguard check - traefik-config/eks/values.yaml\n  edgeguard check --online --strict /etc/edgeguard/edgeguard.yaml"
    )]
    Check {
        /// Files to check; `-` reads stdin.
        #[arg(required_unless_present = "config")]
        files: Vec<String>,
        /// A file to check (same as a FILE argument).
        #[arg(long, hide = true)]
        config: Option<String>,
        /// Do not read files or secret variables: report what they need.
        #[arg(long, conflicts_with = "online")]
        offline: bool,
        /// Read files and secret variables on this machine.
        #[arg(long)]
        online: bool,
        /// Warnings fail the check too (exit 1).
        #[arg(long)]
        strict: bool,
    },
    /// Show how a request would be handled: resolved client, trace, header edits.
    Explain {
        /// Config file (JSON or YAML).
        #[arg(long)]
        config: PathBuf,
        /// The TCP peer, `IP` or `IP:PORT`.
        #[arg(long)]
        peer: String,
        /// A request header, `Name: value`; repeatable, order kept.
        #[arg(short = 'H', long = "header")]
        headers: Vec<String>,
        /// Request method.
        #[arg(long, default_value = "GET")]
        method: String,
        /// Request path and query.
        #[arg(long, default_value = "/")]
        path: String,
        /// Evaluate at this time (RFC 3339, e.g. 2026-06-01T02:30:00Z) instead of
        /// now: maintenance windows, signature timestamps.
        #[arg(long, value_parser = parse_time)]
        at: Option<SystemTime>,
    },
    /// Run the edge sidecar: a reverse proxy applying the config to every request.
    Serve {
        /// Config file (JSON or YAML): the plugin's schema plus a `server` section.
        #[arg(long)]
        config: PathBuf,
        /// Write one JSON access-log line per request to stdout.
        #[arg(long)]
        access_log: bool,
    },
    /// Print the geo headers EdgeGuard would set for each address.
    Lookup {
        /// GeoIP2/GeoLite2 City or Country database.
        #[arg(long)]
        db: PathBuf,
        /// GeoLite2-ASN / GeoIP2-ISP database.
        #[arg(long)]
        asn_db: Option<PathBuf>,
        /// Language of the names.
        #[arg(long, default_value = "en")]
        language: String,
        /// Addresses to look up.
        #[arg(required = true)]
        ips: Vec<String>,
    },
}

fn parse_time(text: &str) -> Result<SystemTime, String> {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map(SystemTime::from)
        .map_err(|e| format!("`{text}` is not an RFC 3339 time like 2026-06-01T02:30:00Z: {e}"))
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Check { files, config, offline, online, strict } = &cli.command {
        let mode = match (offline, online) {
            (true, _) => Some(check::Mode::Offline),
            (_, true) => Some(check::Mode::Online),
            _ => None,
        };
        let files = config.iter().chain(files).cloned().collect();
        return check::run(&check::Options { files, mode, strict: *strict });
    }
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("edgeguard: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Lookup { db, asn_db, language, ips } => lookup(&db, asn_db.as_deref(), &language, &ips),
        Command::Serve { config, access_log } => {
            edgeguard::sidecar::run(&edgeguard::sidecar::Options { config, access_log })
        }
        Command::Check { .. } => unreachable!("handled in main"),
        Command::Explain { config, peer, headers, method, path, at } => {
            let pipeline = load(&config)?;
            let mut req = OwnedRequest { method, uri: path, ..OwnedRequest::new(&peer) };
            for h in &headers {
                let (name, value) =
                    h.split_once(':').ok_or_else(|| format!("header `{h}` is not `Name: value`"))?;
                req = req.header(name.trim(), value.trim());
            }
            let outcome = pipeline.outcome_at(&req, at.unwrap_or_else(SystemTime::now));
            match (outcome.identity.client, outcome.identity.address) {
                (Some(ip), _) => println!("client: {ip}"),
                (None, Some(address)) => {
                    println!(
                        "client: unknown (X-Real-IP gets the nearest trusted hop {address}; no geo, no CIDR bypass, not signed)"
                    )
                }
                (None, None) => println!("client: unknown"),
            }
            println!("trace:  {}", outcome.identity.trace);
            if let Some(verdict) = &outcome.maintenance {
                let trigger = verdict.trigger.map_or("off".to_string(), |t| format!("on ({t})"));
                let action = match &verdict.action {
                    edgeguard::maintenance::Action::Pass => "pass".to_string(),
                    edgeguard::maintenance::Action::Bypass(kind) => format!("bypass by {kind}"),
                    edgeguard::maintenance::Action::Block(r) => format!("block with {}", r.status),
                };
                println!("maintenance: {trigger}; {action}");
            }
            match outcome.decision {
                Decision::Forward(edits) => {
                    println!("decision: forward");
                    for edit in edits {
                        match edit {
                            HeaderEdit::Remove(name) => println!("  remove {name}"),
                            HeaderEdit::Set(name, value) => println!("  set    {name}: {value}"),
                            HeaderEdit::SetResponse(name, value) => println!("  response {name}: {value}"),
                        }
                    }
                }
                Decision::Respond(refusal) => {
                    let resp = refusal.into_response();
                    println!("decision: respond {}", resp.status);
                    for (name, value) in &resp.headers {
                        println!("  header {name}: {value}");
                    }
                    if !resp.body.is_empty() {
                        println!("  body   {} bytes", resp.body.len());
                    }
                }
            }
            Ok(())
        }
    }
}

/// Looks addresses up through the same geo stage the plugin runs.
fn lookup(db: &Path, asn_db: Option<&Path>, language: &str, ips: &[String]) -> Result<(), String> {
    let geo = serde_json::json!({
        "database": db,
        "asnDatabase": asn_db.map_or(String::new(), |p| p.display().to_string()),
        "language": language,
        "dbInfoHeader": "X-Geo-DB",
    });
    let log = std::sync::Arc::new(edgeguard::log::MemoryLog::default());
    let config = Config::from_json(serde_json::json!({ "geo": geo }).to_string().as_bytes())
        .map_err(|e| e.to_string())?;
    let pipeline = Pipeline::with_log(&config, log.clone()).map_err(|e| e.to_string())?;
    if let Some((_, message)) =
        log.lines().into_iter().find(|(level, _)| *level >= edgeguard::log::Level::Warn)
    {
        return Err(message);
    }
    for ip in ips {
        let addr =
            edgeguard::addr::parse_node(ip).map_err(|e| format!("`{ip}` is not an IP address ({e})"))?;
        // A trusted-less pipeline resolves the client to the peer: the address itself.
        let req = OwnedRequest::new(&addr.to_string());
        println!("{addr}");
        let mut found = false;
        if let Decision::Forward(edits) = pipeline.handle(&req) {
            for edit in edits {
                if let HeaderEdit::Set(name, value) = edit {
                    if name.starts_with("X-Geo") {
                        found |= *name != *"X-Geo-DB";
                        println!("  {name}: {value}");
                    }
                }
            }
        }
        if !found {
            println!("  not found in the database: EdgeGuard sets no geo headers for it");
        }
    }
    Ok(())
}

/// Reads a config (a plugin or sidecar config, or the first EdgeGuard block
/// of a Traefik dynamic file or Middleware) and validates it; a `server`
/// section (the sidecar's) is validated too.
fn load(path: &Path) -> Result<Pipeline, String> {
    let config = check::first_config(path)?;
    if config.server != edgeguard::config::ServerConfig::default() {
        edgeguard::sidecar::config::Settings::new(&config.server)
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Pipeline::new(&config).map_err(|e| format!("{}: {e}", path.display()))
}
