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
            match outcome.identity.client {
                Some(ip) => println!("client: {ip}"),
                None => println!("client: (none)"),
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

/// Reads a JSON or YAML config file and validates it.
fn load(path: &Path) -> Result<Pipeline, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let json = yaml_to_json(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let config = Config::from_json(json.as_bytes()).map_err(|e| format!("{}: {e}", path.display()))?;
    Pipeline::new(&config).map_err(|e| format!("{}: {e}", path.display()))
}

/// YAML is a superset of JSON; decode once and re-encode so both go through
/// the one JSON decoder that reports field paths.
fn yaml_to_json(text: &str) -> Result<String, String> {
    let value: serde_json::Value = serde_norway::from_str(text).map_err(|e| e.to_string())?;
    serde_json::to_string(&value).map_err(|e| e.to_string())
}
