//! `logward check` (validate a rules file: every error as `file:line:column: message`) and
//! `logward default-config` (print the built-in ruleset).

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The rules file to check [default: the built-in ruleset].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// Exit status: 0 valid, 1 errors (each printed on stderr).
pub fn run(args: CheckArgs) -> anyhow::Result<i32> {
    if let Some(p) = &args.config {
        let text = std::fs::read_to_string(p)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", p.display()))?;
        if !logward_agent::config::is_rules_file(&text) {
            return check_agent(p);
        }
    }
    let (name, text) = match &args.config {
        Some(p) => (
            p.display().to_string(),
            std::fs::read_to_string(p)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", p.display()))?,
        ),
        None => (
            "default.yaml".to_owned(),
            logward_engine::DEFAULT_RULES.to_owned(),
        ),
    };
    match logward_engine::Program::load(&name, &text) {
        Ok(p) => {
            println!(
                "{name}: ok ({} chains, {} rules)",
                p.chain_names().count(),
                p.rule_ids().len()
            );
            Ok(0)
        }
        Err(errors) => Ok(report(&name, &errors)),
    }
}

/// Prints every error (file:line:column: message) and their count; the exit status is 1.
fn report(name: &str, errors: &logward_engine::ConfigErrors) -> i32 {
    for e in &errors.0 {
        eprintln!("{e}");
    }
    let n = errors.0.len();
    eprintln!("{name}: {n} error{}", if n == 1 { "" } else { "s" });
    1
}

/// An agent config, its conf.d fragments and the rules it names.
fn check_agent(path: &std::path::Path) -> anyhow::Result<i32> {
    let name = path.display().to_string();
    match logward_agent::config::load(path) {
        Ok(l) => {
            println!(
                "{name}: ok ({} files, {} sources, {} rules, bans {}{})",
                l.config.files.len(),
                l.config.sources.len(),
                l.program.rule_ids().len(),
                if l.config.bans.enabled {
                    "enabled"
                } else {
                    "disabled"
                },
                match &l.config.forward {
                    Some(f) if f.events == logward_agent::config::ForwardEvents::Alerts => {
                        ", forwarding alerts"
                    }
                    Some(_) => ", forwarding events and alerts",
                    None => "",
                }
            );
            let a = &l.config.anomaly;
            if !a.enabled {
                println!("login anomaly detection off");
                return Ok(0);
            }
            // The databases are opened as `logward run` would: a wrong path fails here.
            let geoip = match &a.geoip {
                Some(p) => match logward_agent::enrich::GeoIp::open(p) {
                    Ok(g) => format!("GeoIP from {} file(s)", g.databases().len()),
                    Err(e) => {
                        eprintln!("{name}: enrich.geoip: {e}");
                        return Ok(1);
                    }
                },
                None => "no GeoIP".into(),
            };
            println!(
                "login anomaly detection on ({geoip}, {} DNSBL zone(s))",
                a.dnsbl.zones.len()
            );
            Ok(0)
        }
        Err(errors) => Ok(report(&name, &errors)),
    }
}

#[derive(Debug, Args)]
pub struct DefaultConfigArgs {
    /// Print the built-in ruleset instead of the agent config.
    #[arg(long, conflicts_with = "fleet_rules")]
    pub rules: bool,
    /// Print the collector's built-in fleet ruleset (a starting point for `rules: FILE`).
    #[arg(long)]
    pub fleet_rules: bool,
}

/// Prints the agent's built-in config, or with `--rules` the built-in ruleset, or with
/// `--fleet-rules` the collector's.
pub fn default_config(args: DefaultConfigArgs) -> anyhow::Result<i32> {
    let mut out = std::io::stdout().lock();
    let text = if args.rules {
        logward_engine::DEFAULT_RULES.to_owned()
    } else if args.fleet_rules {
        logward_engine::FLEET_RULES.to_owned()
    } else {
        logward_agent::config::default_yaml(std::path::Path::new("/"))
    };
    match out.write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(0),
    }
}
