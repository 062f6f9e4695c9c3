//! The native command line: thin wrappers over the library.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use edgeguard::{Config, Decision, HeaderEdit, OwnedRequest, Pipeline};

#[derive(Parser)]
#[command(name = "edgeguard", version, about = "Trustworthy client identity at the edge")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate a config file (JSON or YAML, the plugin's schema).
    Check {
        /// Config file.
        #[arg(long)]
        config: PathBuf,
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

pub fn main() -> ExitCode {
    match run(Cli::parse()) {
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
        Command::Check { config } => {
            load(&config)?;
            println!("{}: ok", config.display());
            Ok(())
        }
        Command::Explain { config, peer, headers, method, path } => {
            let pipeline = load(&config)?;
            let mut req = OwnedRequest { peer, method, uri: path, headers: Vec::new() };
            for h in &headers {
                let (name, value) =
                    h.split_once(':').ok_or_else(|| format!("header `{h}` is not `Name: value`"))?;
                req = req.header(name.trim(), value.trim());
            }
            let outcome = pipeline.outcome(&req);
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
                Decision::Respond(resp) => println!("decision: respond {}", resp.status),
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
        if let Decision::Forward(edits) = pipeline.handle(&req) {
            for edit in edits {
                if let HeaderEdit::Set(name, value) = edit {
                    if name.starts_with("X-Geo") {
                        println!("  {name}: {value}");
                    }
                }
            }
        }
    }
    Ok(())
}

/// Reads a JSON or YAML config file and validates it; a `server` section
/// (the sidecar's) is validated too.
fn load(path: &Path) -> Result<Pipeline, String> {
    let config = edgeguard::sidecar::config::read(path)?;
    if config.server != edgeguard::config::ServerConfig::default() {
        edgeguard::sidecar::config::Settings::new(&config.server)
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Pipeline::new(&config).map_err(|e| format!("{}: {e}", path.display()))
}
